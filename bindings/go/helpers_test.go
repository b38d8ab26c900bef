package zeekagent

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// repoRoot is the repository, two levels up from this package.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// fixture reads one of the repository's event fixtures.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "tests", "fixtures", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// standin is the stand-in node program: $ZMA_STANDIN, else the one cargo
// builds. Tests that run nodes fail, never skip, without it.
func standin(t testing.TB) string {
	t.Helper()
	path := os.Getenv("ZMA_STANDIN")
	if path == "" {
		path = filepath.Join(repoRoot(t), "target", "release", "zma-standin-node")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("stand-in node missing (%v): run `cargo build --release --bin zma-standin-node` or set $ZMA_STANDIN", err)
	}
	return path
}

// newAgent creates an agent with a temporary state directory, closed when
// the test ends.
func newAgent(t testing.TB, opts Options) *Agent {
	t.Helper()
	if opts.StateDir == "" {
		opts.StateDir = t.TempDir()
	}
	if opts.Name == "" {
		opts.Name = "instance-1"
	}
	a, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// hostSupervisor is the delegated supervisor: no processes are started.
func hostSupervisor() *SupervisorOptions { return &SupervisorOptions{Kind: "host"} }

func plainEvent(t testing.TB, name string, args map[string]any) []byte {
	t.Helper()
	data, err := json.Marshal(map[string]any{"event": name, "args": args})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// receive takes the next event from the Events channel within a second.
func receive(t testing.TB, a *Agent) Event {
	t.Helper()
	select {
	case e, ok := <-a.Events():
		if !ok {
			t.Fatal("Events channel closed")
		}
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5 s")
	}
	return Event{}
}

// receiveNamed skips events until one whose name ends with suffix.
func receiveNamed(t testing.TB, a *Agent, suffix string) Event {
	t.Helper()
	for {
		e := receive(t, a)
		if strings.HasSuffix(e.Name(), suffix) {
			return e
		}
	}
}

func withTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitDone waits for the agent's delivery goroutine to end.
func waitDone(t testing.TB, a *Agent) {
	t.Helper()
	select {
	case <-a.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("delivery goroutine still running 5 s after Close")
	}
}
