package zeekagent

import (
	"errors"
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
