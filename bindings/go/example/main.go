// Command example hosts a zeek-mgmt-agent in a Go program: it deploys a
// small Zeek cluster on this machine with the built-in process supervisor,
// prints the status of its nodes, and stops them on SIGINT or SIGTERM.
//
//	go run ./example -zeek /usr/local/zeek/bin/zeek
//	go run ./example -zeek ../../target/release/zma-standin-node   # no Zeek needed
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/zeek-mgmt-agent/zeek-mgmt-agent/zeekagent"
)

func main() {
	zeek := flag.String("zeek", "zeek", "the program started for each node: zeek, or the stand-in node")
	stateDir := flag.String("state-dir", "", "the agent's state directory (default: a temporary one)")
	workers := flag.Int("workers", 2, "how many workers to run")
	flag.Parse()
	if err := run(*zeek, *stateDir, *workers); err != nil {
		log.Fatal(err)
	}
}

func run(zeek, stateDir string, workers int) error {
	if stateDir == "" {
		dir, err := os.MkdirTemp("", "zeek-agent-example-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		stateDir = dir
	}
	// SIGINT or SIGTERM ends ctx; everything below winds down from there.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	agent, err := zeekagent.New(zeekagent.Options{
		Name:     "instance-1",
		Dialect:  "zeek7",
		Mode:     zeekagent.Polled,
		StateDir: stateDir,
		// No controller here to receive the nodes' hellos: a node counts
		// as running once its process has stayed up ReadyAfter.
		NodeReady: "spawn",
		Supervisor: &zeekagent.SupervisorOptions{
			Kind:      "process",
			Zeek:      zeek,
			StopGrace: 5 * time.Second,
		},
		ReadyAfter:     200 * time.Millisecond,
		OnNotification: logNotification,
	})
	if err != nil {
		return fmt.Errorf("creating the agent: %w", err)
	}
	defer agent.Close() // stops the nodes

	running := make(chan error, 1)
	go func() { running <- agent.Run(ctx) }()

	cfg, err := cluster(workers)
	if err != nil {
		return err
	}
	deployCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	results, err := agent.Deploy(deployCtx, cfg)
	if err != nil {
		return fmt.Errorf("deploying: %w", err)
	}
	for _, r := range results {
		if !r.Success {
			return fmt.Errorf("deploying %s: %s", r.Node, r.Error)
		}
	}
	nodes, err := agent.GetNodes(deployCtx)
	if err != nil {
		return fmt.Errorf("node status: %w", err)
	}
	printNodes(nodes)
	fmt.Println("cluster running; SIGINT (Ctrl-C) stops it")

	if err := <-running; !errors.Is(err, context.Canceled) {
		return fmt.Errorf("agent loop: %w", err)
	}
	fmt.Println("stopping the cluster")
	if err := agent.Close(); err != nil {
		return err
	}
	fmt.Println("stopped")
	return nil
}

// cluster is a manager, a logger, a proxy and the workers, on free ports.
func cluster(workers int) (zeekagent.Configuration, error) {
	cfg := zeekagent.Configuration{
		ID:        fmt.Sprintf("example-%d", time.Now().Unix()),
		Instances: []zeekagent.Instance{{Name: "instance-1", Host: "127.0.0.1"}},
	}
	add := func(name, role string) error {
		port, err := freePort()
		if err != nil {
			return err
		}
		cfg.Nodes = append(cfg.Nodes, zeekagent.Node{Name: name, Instance: "instance-1", Role: role, Port: zeekagent.TCP(port)})
		return nil
	}
	for _, node := range []struct{ name, role string }{
		{"manager", zeekagent.RoleManager}, {"logger", zeekagent.RoleLogger}, {"proxy", zeekagent.RoleProxy},
	} {
		if err := add(node.name, node.role); err != nil {
			return cfg, err
		}
	}
	for i := 1; i <= workers; i++ {
		cfg.Nodes = append(cfg.Nodes, zeekagent.Node{Name: fmt.Sprintf("worker-%d", i), Instance: "instance-1", Role: zeekagent.RoleWorker})
	}
	return cfg, nil
}

func freePort() (uint16, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer listener.Close()
	return uint16(listener.Addr().(*net.TCPAddr).Port), nil
}

func printNodes(nodes []zeekagent.NodeStatus) {
	var out bytes.Buffer // one write, so that log lines do not cut into it
	table := tabwriter.NewWriter(&out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(table, "NODE\tROLE\tSTATE\tPID\tPORT")
	for _, n := range nodes {
		pid, port := "-", "-"
		if n.PID != nil {
			pid = fmt.Sprint(*n.PID)
		}
		if n.Port != nil {
			port = n.Port.String()
		}
		fmt.Fprintf(table, "%s\t%s\t%s\t%s\t%s\n", n.Node, n.ClusterRole, n.State, pid, port)
	}
	table.Flush()
	os.Stdout.Write(out.Bytes())
}

// logNotification prints node state changes and the agent's log messages
// (notifications are plain JSON here: the requests were).
func logNotification(e zeekagent.Event) {
	var plain struct {
		Args struct {
			Msg string `json:"msg"`
			N   struct {
				Name string `json:"name"`
			} `json:"n"`
			Old string `json:"old"`
			New string `json:"new"`
		} `json:"args"`
	}
	if err := json.Unmarshal(e.JSON, &plain); err != nil {
		log.Printf("%s", e.JSON)
		return
	}
	switch {
	case plain.Args.N.Name != "":
		log.Printf("node %s: %s -> %s", plain.Args.N.Name, plain.Args.Old, plain.Args.New)
	case plain.Args.Msg != "":
		log.Printf("agent: %s", plain.Args.Msg)
	default:
		log.Printf("%s", e.JSON)
	}
}
