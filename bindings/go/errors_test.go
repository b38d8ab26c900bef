package zeekagent

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTypedErrorsForBadInput(t *testing.T) {
	a := newAgent(t, Options{Mode: Polled, Supervisor: hostSupervisor(), Extra: map[string]any{"max_json_depth": 16, "max_event_bytes": 4096}})
	deep := strings.Repeat("[", 40) + strings.Repeat("]", 40)
	cases := []struct {
		name    string
		input   []byte
		want    error
		mention string
	}{
		{"not JSON", []byte(`{"event": `), ErrJSON, "JSON"},
		{"NUL byte", []byte("{\"event\": \"get_nodes_request\x00\"}"), ErrJSON, "NUL"},
		{"invalid UTF-8", []byte("{\"event\": \"\xff\xfe\"}"), ErrUTF8, "UTF-8"},
		{"too deep", []byte(deep), ErrLimit, "depth"},
		{"too big", []byte(`{"event":"get_nodes_request","args":{"reqid":"` + strings.Repeat("x", 5000) + `"}}`), ErrLimit, "4096"},
		{"unknown event", []byte(`{"event": "launch_missiles", "args": {}}`), ErrEvent, "launch_missiles"},
		{"missing reqid", []byte(`{"event": "get_nodes_request", "args": {}}`), ErrEvent, "reqid"},
		{"wrong type", []byte(`{"event": "get_nodes_request", "args": {"reqid": 7}}`), ErrEvent, "reqid"},
		{"port out of range", []byte(`{"event": "deploy_request", "args": {"reqid": "r", "config": {"id": "c", "instances": [], "nodes": [{"name": "w", "instance": "instance-1", "role": "WORKER", "p": 70000}]}}}`), ErrEvent, "70000"},
	}
	before, err := a.StateJSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := a.HandleRequest(c.input)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			var typed *Error
			if !errors.As(err, &typed) || typed.Code >= 0 {
				t.Fatalf("not an *Error with a status code: %#v", err)
			}
			for _, other := range []error{ErrNull, ErrUTF8, ErrJSON, ErrEvent, ErrState, ErrOptions, ErrIO, ErrPanic, ErrLimit} {
				if other != c.want && errors.Is(err, other) {
					t.Fatalf("%v also matches %v", err, other)
				}
			}
			if !strings.Contains(err.Error(), c.mention) {
				t.Fatalf("message %q does not mention %q", err, c.mention)
			}
			after, err := a.StateJSON()
			if err != nil || after != before {
				t.Fatalf("state changed by a refused event:\n%s\n%s", before, after)
			}
		})
	}
}

func TestPollingAThreadedAgentIsAStateError(t *testing.T) {
	a := newAgent(t, Options{Supervisor: hostSupervisor()})
	err := a.Poll(time.Second)
	if !errors.Is(err, ErrState) || errors.Is(err, ErrClosed) || !strings.Contains(err.Error(), "threaded") {
		t.Fatalf("Poll on a threaded agent: %v", err)
	}
	if err := a.Poll(-time.Second); !errors.Is(err, ErrState) {
		t.Fatalf("Poll with negative time: %v", err)
	}
}

func TestRefusedOptions(t *testing.T) {
	cases := []struct {
		name    string
		opts    Options
		mention string
	}{
		{"bad mode", Options{Mode: "sideways"}, "mode"},
		{"bad dialect", Options{Dialect: "zeek99"}, "dialect"},
		{"negative timeout", Options{RequestTimeout: -time.Second}, "request_timeout_ms"},
		{"not whole milliseconds", Options{RequestTimeout: 1500 * time.Microsecond}, "request_timeout_ms"},
		{"unknown key", Options{Extra: map[string]any{"colour": "blue"}}, "colour"},
		{"key given twice", Options{Name: "a", Extra: map[string]any{"name": "b"}}, "name"},
		{"unknown supervisor key", Options{Supervisor: &SupervisorOptions{Kind: "host", Zeek: "/bin/zeek"}}, "zeek"},
		{"hostile name", Options{Name: "../../etc"}, "name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.opts.StateDir = t.TempDir()
			a, err := New(c.opts)
			if err == nil {
				a.Close()
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrOptions) || !strings.Contains(err.Error(), c.mention) {
				t.Fatalf("got %v, want ErrOptions naming %q", err, c.mention)
			}
		})
	}
}

// expectCreationError checks that err is the *Error of the status code
// want stands for, matching no other sentinel, with the library's message.
func expectCreationError(t *testing.T, err error, want error, code int, mention string) {
	t.Helper()
	var typed *Error
	if !errors.As(err, &typed) {
		t.Fatalf("not an *Error: %#v", err)
	}
	if typed.Code != code || !errors.Is(err, want) {
		t.Fatalf("got code %d (%v), want %d (%v)", typed.Code, err, code, want)
	}
	for _, other := range []error{ErrNull, ErrUTF8, ErrJSON, ErrEvent, ErrState, ErrOptions, ErrIO, ErrPanic, ErrLimit} {
		if other != want && errors.Is(err, other) {
			t.Fatalf("%v also matches %v", err, other)
		}
	}
	if typed.Message != err.Error() || !strings.Contains(typed.Message, mention) {
		t.Fatalf("message %q does not mention %q", typed.Message, mention)
	}
}

// New maps the status of zma_agent_create, not words of its message: the
// state directories are named so that their messages would pass for an
// option or a panic.
func TestCreationErrorsByStatus(t *testing.T) {
	t.Run("bad option", func(t *testing.T) {
		_, err := New(Options{Mode: "sideways", StateDir: t.TempDir()})
		expectCreationError(t, err, ErrOptions, statusOptions, "option 'mode': 'sideways' is not one of threaded, polled")
	})
	t.Run("bad JSON", func(t *testing.T) {
		for _, text := range []string{`{"mode": `, `[1, 2]`, `nonsense`} {
			_, err := create(Options{}, []byte(text))
			expectCreationError(t, err, ErrOptions, statusOptions, "options")
		}
	})
	t.Run("state directory cannot be created", func(t *testing.T) {
		blocker := filepath.Join(t.TempDir(), "option-panic")
		if err := os.WriteFile(blocker, []byte("a file, not a directory"), 0o644); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(blocker, "state")
		_, err := New(Options{Mode: Polled, StateDir: dir})
		expectCreationError(t, err, ErrIO, statusIO, dir)
		if !strings.HasPrefix(err.Error(), "cannot create the agent's process supervisor") {
			t.Fatalf("message %q", err)
		}
	})
	t.Run("state directory in use by another agent", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "options-panic")
		holder, err := New(Options{Mode: Polled, StateDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(Options{Mode: Polled, StateDir: dir})
		expectCreationError(t, err, ErrIO, statusIO, "is in use by another agent")
		if !strings.Contains(err.Error(), dir) {
			t.Fatalf("message %q does not name %s", err, dir)
		}
		if err := holder.Close(); err != nil {
			t.Fatal(err)
		}
		again, err := New(Options{Mode: Polled, StateDir: dir})
		if err != nil {
			t.Fatalf("after the holder closed: %v", err)
		}
		_ = again.Close()
	})
}
