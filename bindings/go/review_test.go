package zeekagent

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

// A host that reads no Events still gets its callbacks: the channel and
// the callbacks are fed separately.
func TestUnreadEventsDoNotHoldUpCallbacks(t *testing.T) {
	answered := make(chan string, 1)
	a := newAgent(t, Options{Mode: Polled, Supervisor: hostSupervisor(), EventBuffer: 1,
		OnResponse: func(e Event) { answered <- e.ReqID() }})
	// A deploy in host mode publishes creates and notifies: more than the
	// channel holds, and nobody reads it.
	cfg := Configuration{ID: "c1", Instances: []Instance{{Name: "instance-1", Host: "127.0.0.1"}}, Nodes: []Node{
		{Name: "w1", Instance: "instance-1", Role: RoleWorker}, {Name: "w2", Instance: "instance-1", Role: RoleWorker},
		{Name: "w3", Instance: "instance-1", Role: RoleWorker},
	}}
	if err := a.HandleRequest(plainEvent(t, "deploy_request", map[string]any{"reqid": "d", "config": cfg})); err != nil {
		t.Fatal(err)
	}
	if err := a.HandleRequest(plainEvent(t, "agent_welcome_request", map[string]any{"reqid": "w"})); err != nil {
		t.Fatal(err)
	}
	select {
	case reqid := <-answered:
		if reqid != "w" {
			t.Fatalf("answer to %q", reqid)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnResponse held up by an unread Events channel")
	}
	go func() {
		for range a.Events() {
		}
	}()
}

// Close drops nothing: every event queued before it can still be received.
func TestCloseKeepsQueuedEvents(t *testing.T) {
	a := newAgent(t, Options{Supervisor: hostSupervisor(), EventBuffer: 2})
	for i := 0; i < 10; i++ {
		if err := a.HandleRequest(plainEvent(t, "agent_welcome_request", map[string]any{"reqid": fmt.Sprint(i)})); err != nil {
			t.Fatal(err)
		}
	}
	// Answers are queued on the agent's thread or in the call; wait until
	// the state says none is pending, then close.
	deadline := time.Now().Add(5 * time.Second)
	for len(a.Events()) < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	_ = a.Close()
	var got []string
	for e := range a.Events() {
		got = append(got, e.ReqID())
	}
	if len(got) != 10 {
		t.Fatalf("%d of 10 answers after Close: %v", len(got), got)
	}
	for i, reqid := range got {
		if reqid != fmt.Sprint(i) {
			t.Fatalf("out of order: %v", got)
		}
	}
	waitDone(t, a)
}

// A helper whose context ends as its response arrives returns the response
// or the context's error, and the response is never lost between the two.
func TestRequestNeverLosesAResponseToItsContext(t *testing.T) {
	a := newAgent(t, Options{Supervisor: hostSupervisor()})
	var lost sync.WaitGroup
	received := make(chan Event, 4096)
	go func() {
		for e := range a.Events() {
			received <- e
		}
	}()
	answeredToCaller, canceled := 0, 0
	const n = 2000
	for i := 0; i < n; i++ {
		reqid := fmt.Sprintf("race-%d", i)
		ctx, cancel := context.WithCancel(context.Background())
		lost.Add(1)
		go func() { defer lost.Done(); runtime.Gosched(); cancel() }()
		_, err := a.Request(ctx, plainEvent(t, "agent_welcome_request", map[string]any{"reqid": reqid}), reqid)
		switch {
		case err == nil:
			answeredToCaller++
		case errors.Is(err, context.Canceled):
			canceled++
		default:
			t.Fatal(err)
		}
		cancel()
	}
	lost.Wait()
	// A canceled request's answer, if it came after the cancel, goes to
	// Events; every request is answered exactly once, one way or the other.
	deadline := time.After(5 * time.Second)
	for answeredToCaller+len(received) < n {
		select {
		case <-deadline:
			t.Fatalf("%d answered to the caller + %d on Events, of %d (%d canceled)", answeredToCaller, len(received), n, canceled)
		case <-time.After(time.Millisecond):
		}
	}
	if answeredToCaller+len(received) != n {
		t.Fatalf("%d + %d answers for %d requests", answeredToCaller, len(received), n)
	}
}

// A callback calling runtime.Goexit (as t.Fatal does) is reported, and
// deliveries go on.
func TestGoexitInACallbackIsReportedAndDeliveriesGoOn(t *testing.T) {
	reports := make(chan *CallbackPanic, 2)
	seen := make(chan string, 2)
	a := newAgent(t, Options{Supervisor: hostSupervisor(),
		OnResponse: func(e Event) {
			if e.ReqID() == "exit" {
				runtime.Goexit()
			}
			seen <- e.ReqID()
		},
		OnPanic: func(p *CallbackPanic) { reports <- p }})
	for _, reqid := range []string{"exit", "after"} {
		if err := a.HandleRequest(plainEvent(t, "agent_welcome_request", map[string]any{"reqid": reqid})); err != nil {
			t.Fatal(err)
		}
	}
	if report := <-reports; report.Value != "runtime.Goexit called in a callback" {
		t.Fatalf("report %v", report.Value)
	}
	select {
	case reqid := <-seen:
		if reqid != "after" {
			t.Fatalf("next answer %q", reqid)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("deliveries stopped after a Goexit")
	}
	select {
	case <-a.Done():
		t.Fatal("Done closed while the agent is open")
	default:
	}
}

// Every concurrent Close returns only once the agent is closed.
func TestConcurrentCloseReturnsWhenClosed(t *testing.T) {
	a := newAgent(t, Options{Supervisor: hostSupervisor()})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = a.Close()
			if err := a.HandleRequest([]byte(`{}`)); !errors.Is(err, ErrClosed) {
				t.Errorf("after Close returned: %v", err)
			}
			select {
			case <-a.Done():
			case <-time.After(5 * time.Second):
				t.Error("not done 5 s after Close")
			}
		}()
	}
	wg.Wait()
	var typed *Error
	if !errors.As(ErrClosed, &typed) || typed.Code != statusState || !errors.Is(ErrClosed, ErrState) {
		t.Fatalf("ErrClosed is %#v", ErrClosed)
	}
}
