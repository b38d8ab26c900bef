package zeekagent

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// Threaded mode, several producers and several consumers of Events: every
// request id is answered exactly once.
func TestThreadedEventsConsumedBySeveralGoroutines(t *testing.T) {
	const producers, perProducer, consumers = 4, 250, 3
	a := newAgent(t, Options{Supervisor: hostSupervisor(), EventBuffer: 8})
	var mu sync.Mutex
	answers := map[string]int{}
	var consumed sync.WaitGroup
	for i := 0; i < consumers; i++ {
		consumed.Add(1)
		go func() {
			defer consumed.Done()
			for e := range a.Events() {
				if e.Kind != Response || e.Name() != "Management::Agent::API::agent_welcome_response" {
					continue
				}
				mu.Lock()
				answers[e.ReqID()]++
				mu.Unlock()
			}
		}()
	}
	var produced sync.WaitGroup
	for p := 0; p < producers; p++ {
		produced.Add(1)
		go func(p int) {
			defer produced.Done()
			for i := 0; i < perProducer; i++ {
				reqid := fmt.Sprintf("w-%d-%d", p, i)
				if err := a.HandleRequest(plainEvent(t, "agent_welcome_request", map[string]any{"reqid": reqid})); err != nil {
					t.Error(err)
					return
				}
			}
		}(p)
	}
	produced.Wait()
	// Answers are queued before HandleRequest returns or on the agent's
	// thread right after; Close delivers what is queued, then ends Events.
	waitAnswered(t, &mu, answers, producers*perProducer)
	_ = a.Close()
	consumed.Wait()
	for p := 0; p < producers; p++ {
		for i := 0; i < perProducer; i++ {
			if n := answers[fmt.Sprintf("w-%d-%d", p, i)]; n != 1 {
				t.Fatalf("w-%d-%d answered %d times", p, i, n)
			}
		}
	}
	if len(answers) != producers*perProducer {
		t.Fatalf("%d distinct answers", len(answers))
	}
}

func waitAnswered(t *testing.T, mu *sync.Mutex, answers map[string]int, want int) {
	t.Helper()
	for i := 0; i < 500; i++ {
		mu.Lock()
		n := len(answers)
		mu.Unlock()
		if n >= want {
			return
		}
		sleepMillis(10)
	}
	t.Fatalf("only %d of %d requests answered", len(answers), want)
}

// Callbacks take their kind off the Events channel, run in order, and
// may call back into the agent.
func TestCallbacksRunInOrderAndMayReenter(t *testing.T) {
	answered := make(chan string, 64)
	var a *Agent
	reentered := make(chan error, 1)
	a = newAgent(t, Options{
		Supervisor: hostSupervisor(),
		OnResponse: func(e Event) {
			answered <- e.ReqID()
			if e.ReqID() == "r-0" {
				reentered <- a.HandleRequest(plainEvent(t, "agent_welcome_request", map[string]any{"reqid": "from-callback"}))
			}
		},
	})
	for i := 0; i < 20; i++ {
		if err := a.HandleRequest(plainEvent(t, "agent_welcome_request", map[string]any{"reqid": fmt.Sprintf("r-%d", i)})); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-reentered; err != nil {
		t.Fatalf("HandleRequest from a callback: %v", err)
	}
	var order []string
	for len(order) < 21 {
		select {
		case reqid := <-answered:
			order = append(order, reqid)
		case <-time.After(5 * time.Second):
			t.Fatalf("%d responses within 5 s: %v", len(order), order)
		}
	}
	_ = a.Close()
	waitDone(t, a)
	if len(answered) != 0 {
		t.Fatalf("more answers than requests: %v", <-answered)
	}
	// The r-* answers keep their order; the callback's own request is
	// answered once, after the answer it was sent from.
	next, fromCallback := 0, 0
	for _, reqid := range order {
		if reqid == "from-callback" {
			fromCallback++
			if next == 0 {
				t.Fatalf("answered before the request was sent: %v", order)
			}
			continue
		}
		if reqid != fmt.Sprintf("r-%d", next) {
			t.Fatalf("out of order: %v", order)
		}
		next++
	}
	if fromCallback != 1 {
		t.Fatalf("from-callback answered %d times", fromCallback)
	}
	for e := range a.Events() {
		if e.Kind == Response {
			t.Fatalf("a response reached Events although OnResponse is set: %s", e.JSON)
		}
	}
}

// A panicking callback is recovered and reported; later events still come.
func TestCallbackPanicIsRecoveredAndReported(t *testing.T) {
	reports := make(chan *CallbackPanic, 4)
	seen := make(chan string, 4)
	a := newAgent(t, Options{
		Supervisor: hostSupervisor(),
		OnResponse: func(e Event) {
			if e.ReqID() == "boom" {
				panic("callback exploded")
			}
			seen <- e.ReqID()
		},
		OnPanic: func(p *CallbackPanic) { reports <- p },
	})
	for _, reqid := range []string{"boom", "after"} {
		if err := a.HandleRequest(plainEvent(t, "agent_welcome_request", map[string]any{"reqid": reqid})); err != nil {
			t.Fatal(err)
		}
	}
	report := <-reports
	if report.Value != "callback exploded" || len(report.Stack) == 0 {
		t.Fatalf("report %v", report)
	}
	if got := <-seen; got != "after" {
		t.Fatalf("next delivery %q", got)
	}
	if _, err := a.State(); err != nil {
		t.Fatalf("agent unusable after a callback panic: %v", err)
	}
}

// A log callback gets the agent's log records.
func TestLogCallback(t *testing.T) {
	logs := make(chan LogRecord, 64)
	a := newAgent(t, Options{Mode: Polled, Supervisor: hostSupervisor(), OnLog: func(r LogRecord) { logs <- r }})
	if err := a.HandleRequest(plainEvent(t, "deploy_request", map[string]any{"reqid": "d", "config": Configuration{ID: "c", Instances: []Instance{}, Nodes: []Node{}}})); err != nil {
		t.Fatal(err)
	}
	r := <-logs
	if r.Message == "" || r.Level < LogDebug {
		t.Fatalf("log record %+v", r)
	}
}
