package zeekagent

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestVersion(t *testing.T) {
	if ABIVersion() != 1 {
		t.Fatalf("ABI version %d, this package speaks 1", ABIVersion())
	}
	if !strings.HasPrefix(Version(), "0.") {
		t.Fatalf("version %q", Version())
	}
}

func TestLifecycleAndDoubleClose(t *testing.T) {
	a := newAgent(t, Options{Name: "lifecycle", Supervisor: hostSupervisor()})
	if a.Name() != "lifecycle" || a.Mode() != Threaded {
		t.Fatalf("name %q mode %q", a.Name(), a.Mode())
	}
	if a.FD() != -1 {
		t.Fatalf("threaded agent has fd %d", a.FD())
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	waitDone(t, a)
	if _, ok := <-a.Events(); ok {
		t.Fatal("Events channel still open after Close")
	}
	err := a.HandleRequest(fixture(t, "Management.Agent.API.agent_welcome_request.plain.json"))
	if !errors.Is(err, ErrClosed) || !errors.Is(err, ErrState) {
		t.Fatalf("HandleRequest after Close: %v", err)
	}
	if _, err := a.State(); !errors.Is(err, ErrClosed) {
		t.Fatalf("State after Close: %v", err)
	}
	if err := a.Poll(0); !errors.Is(err, ErrClosed) {
		t.Fatalf("Poll after Close: %v", err)
	}
	if _, ok := a.NextTimeout(); ok {
		t.Fatal("NextTimeout after Close")
	}
	if a.FD() != -1 {
		t.Fatal("FD after Close")
	}
}

func TestCloseConcurrentWithCalls(t *testing.T) {
	a := newAgent(t, Options{Supervisor: hostSupervisor()})
	welcome := fixture(t, "Management.Agent.API.agent_welcome_request.plain.json")
	done := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			for {
				if err := a.HandleRequest(welcome); err != nil {
					done <- err
					return
				}
			}
		}()
	}
	go func() {
		for range a.Events() {
		}
	}()
	time.Sleep(20 * time.Millisecond)
	_ = a.Close()
	for i := 0; i < 4; i++ {
		if err := <-done; !errors.Is(err, ErrClosed) {
			t.Fatalf("a caller racing Close got %v, want ErrClosed", err)
		}
	}
	waitDone(t, a)
}

func TestFinalizerClosesUnreachableAgent(t *testing.T) {
	a, err := New(Options{Name: "finalized", StateDir: t.TempDir(), Supervisor: hostSupervisor()})
	if err != nil {
		t.Fatal(err)
	}
	done := a.Done()
	a = nil
	for i := 0; i < 100; i++ {
		runtime.GC()
		select {
		case <-done:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatal("an unreachable agent was not closed by its finalizer")
}
