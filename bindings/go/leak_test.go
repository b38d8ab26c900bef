package zeekagent

import (
	"context"
	"os"
	"runtime"
	"testing"
	"time"
)

func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// Agents created, run, used and closed leave no goroutine and no
// descriptor behind.
func TestNoGoroutineOrDescriptorLeaks(t *testing.T) {
	// Warm up what the runtime creates once (timers, signal handling).
	warm := newAgent(t, Options{Mode: Polled, Supervisor: hostSupervisor()})
	_ = warm.Run(withTimeout(t, 10*time.Millisecond))
	_ = warm.Close()
	waitDone(t, warm)
	goroutines, fds := runtime.NumGoroutine(), openFDs(t)
	for i := 0; i < 20; i++ {
		mode := Polled
		if i%2 == 1 {
			mode = Threaded
		}
		a, err := New(Options{Name: "leak", Mode: mode, StateDir: t.TempDir(), Supervisor: hostSupervisor()})
		if err != nil {
			t.Fatal(err)
		}
		go func() { // nothing is dropped at Close: a reader takes what is queued
			for range a.Events() {
			}
		}()
		ctx, cancel := context.WithCancel(context.Background())
		ran := make(chan error, 1)
		go func() { ran <- a.Run(ctx) }()
		if err := a.HandleRequest(plainEvent(t, "agent_welcome_request", map[string]any{"reqid": "w"})); err != nil {
			t.Fatal(err)
		}
		if i%4 == 0 { // Run ends by its context, else by Close
			cancel()
		}
		<-time.After(time.Millisecond)
		_ = a.Close()
		<-ran
		cancel()
		waitDone(t, a)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if now := runtime.NumGoroutine(); now > goroutines {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines before, %d after:\n%s", goroutines, now, buf[:runtime.Stack(buf, true)])
	}
	if now := openFDs(t); now != fds {
		t.Fatalf("%d descriptors before, %d after", fds, now)
	}
}
