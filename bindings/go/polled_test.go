package zeekagent

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func sleepMillis(n int) { time.Sleep(time.Duration(n) * time.Millisecond) }

// Polled mode on an explicit clock: a deploy the (delegated) Supervisor
// never answers times out exactly at its deadline, not a millisecond early.
func TestPolledModeWithExplicitTime(t *testing.T) {
	a := newAgent(t, Options{Mode: Polled, Encoding: "plain", RequestTimeout: 2 * time.Second, Supervisor: hostSupervisor()})
	if a.FD() < 0 {
		t.Fatal("polled agent without fd")
	}
	if _, ok := a.NextTimeout(); ok {
		t.Fatal("deadline before any request")
	}
	if err := a.Poll(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	cfg := Configuration{ID: "c1", Instances: []Instance{{Name: "instance-1", Host: "127.0.0.1"}}, Nodes: []Node{{Name: "w1", Instance: "instance-1", Role: RoleWorker}}}
	if err := a.HandleRequest(plainEvent(t, "deploy_request", map[string]any{"reqid": "r1", "config": cfg})); err != nil {
		t.Fatal(err)
	}
	if create := receiveNamed(t, a, "SupervisorControl::create_request"); create.Kind != Publish || create.Topic != "zeek/supervisor" {
		t.Fatalf("create_request on %v %q", create.Kind, create.Topic)
	}
	next, ok := a.NextTimeout()
	if !ok || next != 12*time.Second {
		t.Fatalf("next deadline %v %v, want 12s", next, ok)
	}
	if err := a.Poll(12*time.Second - time.Millisecond); err != nil {
		t.Fatal(err)
	}
	state, _ := a.State()
	if pending := state["pending_requests"].([]any); len(pending) != 1 {
		t.Fatalf("request gone before its deadline: %v", state)
	}
	if err := a.Poll(12 * time.Second); err != nil {
		t.Fatal(err)
	}
	response := receiveNamed(t, a, "deploy_response")
	results, err := responseResults(response)
	if err != nil {
		t.Fatal(err)
	}
	if response.ReqID() != "r1" || results[0].Success || results[0].Error != "request timed out" {
		t.Fatalf("response %s", response.JSON)
	}
}

func TestRunReturnsWhenContextEnds(t *testing.T) {
	for _, mode := range []Mode{Polled, Threaded} {
		t.Run(string(mode), func(t *testing.T) {
			a := newAgent(t, Options{Mode: mode, Supervisor: hostSupervisor()})
			ctx, cancel := context.WithCancel(context.Background())
			returned := make(chan error, 1)
			go func() { returned <- a.Run(ctx) }()
			sleepMillis(20)
			cancel()
			select {
			case err := <-returned:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("Run returned %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Run still running 5 s after cancel")
			}
			// A deadline ends it the same way.
			ctx, cancel = context.WithTimeout(context.Background(), 30*time.Millisecond)
			defer cancel()
			if err := a.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Run with a deadline returned %v", err)
			}
		})
	}
}

func TestRunReturnsWhenAgentCloses(t *testing.T) {
	a := newAgent(t, Options{Mode: Polled, Supervisor: hostSupervisor()})
	returned := make(chan error, 1)
	go func() { returned <- a.Run(context.Background()) }()
	sleepMillis(20)
	_ = a.Close()
	select {
	case err := <-returned:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run still running 5 s after Close")
	}
	if err := a.Run(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Run on a closed agent: %v", err)
	}
}

// Run fires timers on the real clock: the same unanswered deploy times out
// with nobody calling Poll.
func TestRunFiresDeadlines(t *testing.T) {
	a := newAgent(t, Options{Mode: Polled, Encoding: "plain", RequestTimeout: 200 * time.Millisecond, Supervisor: hostSupervisor()})
	go func() { _ = a.Run(withTimeout(t, 10*time.Second)) }()
	cfg := Configuration{ID: "c1", Instances: []Instance{{Name: "instance-1", Host: "127.0.0.1"}}, Nodes: []Node{{Name: "w1", Instance: "instance-1", Role: RoleWorker}}}
	results, err := a.Deploy(withTimeout(t, 10*time.Second), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) == 0 || results[0].Success || results[0].Error != "request timed out" {
		t.Fatalf("results %+v", results)
	}
}

// A helper waiting for an answer returns ctx's error when ctx ends first,
// and ErrClosed when the agent closes.
func TestRequestHelpersEndWithContextOrClose(t *testing.T) {
	a := newAgent(t, Options{Mode: Polled, Supervisor: hostSupervisor()})
	cfg := Configuration{ID: "c1", Instances: []Instance{{Name: "instance-1", Host: "127.0.0.1"}}, Nodes: []Node{{Name: "w1", Instance: "instance-1", Role: RoleWorker}}}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := a.Deploy(ctx, cfg); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Deploy past its context: %v", err)
	}
	go func() { sleepMillis(50); _ = a.Close() }()
	if _, err := a.Redeploy(context.Background(), cfg); !errors.Is(err, ErrClosed) {
		t.Fatalf("Deploy across Close: %v", err)
	}
}

func TestEventAccessors(t *testing.T) {
	broker := Event{JSON: fixture(t, "Management.Agent.API.agent_welcome_request.broker.json")}
	plain := Event{JSON: fixture(t, "Management.Agent.API.agent_welcome_request.plain.json")}
	for _, e := range []Event{broker, plain} {
		if e.Name() != "Management::Agent::API::agent_welcome_request" || e.ReqID() == "" {
			t.Fatalf("name %q reqid %q of %s", e.Name(), e.ReqID(), e.JSON)
		}
	}
	if !broker.IsBroker() || plain.IsBroker() {
		t.Fatal("IsBroker")
	}
	notify := Event{JSON: fixture(t, "Management.Node.API.notify_node_hello.broker.json")}
	if notify.ReqID() != "" {
		t.Fatalf("a notification has reqid %q", notify.ReqID())
	}
	if (Event{JSON: []byte("not json")}).Name() != "" {
		t.Fatal("name of non-JSON")
	}
	var p Port
	for _, text := range []string{`{"port": 2151, "proto": "tcp"}`, `"2151/tcp"`, `2151`} {
		if err := json.Unmarshal([]byte(text), &p); err != nil || p != (Port{2151, "tcp"}) {
			t.Fatalf("%s -> %v %v", text, p, err)
		}
	}
	if err := json.Unmarshal([]byte(`"x/tcp"`), &p); err == nil {
		t.Fatal("accepted a bad port")
	}
}
