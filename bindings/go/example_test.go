package zeekagent_test

// The Go snippets of README.md, each a declaration below, verbatim
// (TestReadmeSnippetsCompile checks that), so that go test compiles them;
// the examples with an Output comment also run.

import (
	"context"
	"fmt"
	"log"

	"github.com/zeek-mgmt-agent/zeek-mgmt-agent/zeekagent"
)

func deployAndList(ctx context.Context) error {
	agent, err := zeekagent.New(zeekagent.Options{
		Name:       "instance-1",
		Mode:       zeekagent.Polled,
		StateDir:   "/var/lib/zeek-agent",
		NodeReady:  "spawn",
		Supervisor: &zeekagent.SupervisorOptions{Zeek: "/usr/local/zeek/bin/zeek"},
	})
	if err != nil {
		return err // an *zeekagent.Error: errors.Is(err, zeekagent.ErrOptions) ...
	}
	defer agent.Close()
	go agent.Run(ctx) // polled mode: waits on agent.FD(), the next deadline and ctx

	results, err := agent.Deploy(ctx, zeekagent.Configuration{
		ID:        "c1",
		Instances: []zeekagent.Instance{{Name: "instance-1"}}, // no Host: 0.0.0.0
		Nodes: []zeekagent.Node{
			{Name: "manager", Instance: "instance-1", Role: zeekagent.RoleManager, Port: zeekagent.TCP(2200)},
			{Name: "worker-1", Instance: "instance-1", Role: zeekagent.RoleWorker, Interface: "eth0"},
		},
	})
	if err != nil {
		return err
	}
	for _, r := range results {
		fmt.Println(r.Node, r.Success, r.Error)
	}
	nodes, err := agent.GetNodes(ctx)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		fmt.Println(n.Node, n.State, n.ClusterRole)
	}
	return nil
}

func ExampleAgent_HandleRequest() {
	agent, err := zeekagent.New(zeekagent.Options{
		Name:       "instance-1",
		Dialect:    "zeek7",
		Supervisor: &zeekagent.SupervisorOptions{Kind: "host"}, // a Zeek Supervisor runs the nodes: no state_dir here
	})
	if err != nil {
		log.Fatal(err)
	}
	defer agent.Close()

	// A request event from the controller, as it came in: a []byte of
	// Broker JSON or plain JSON.
	request := []byte(`{"event": "agent_welcome_request", "args": {"reqid": "r1"}}`)
	if err := agent.HandleRequest(request); err != nil {
		log.Fatal(err) // errors.Is(err, zeekagent.ErrJSON), ErrEvent, ErrLimit, ...
	}
	for event := range agent.Events() {
		if event.Kind == zeekagent.Response {
			fmt.Println(event.Name(), event.ReqID())
			break
		}
	}
	// Output: Management::Agent::API::agent_welcome_response r1
}
