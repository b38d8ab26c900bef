package zeekagent

import (
	"encoding/json"
	"fmt"
	"time"
)

// Mode is the agent's run mode.
type Mode string

const (
	// Threaded (the default): the library runs its own thread for timers
	// and process supervision.
	Threaded Mode = "threaded"
	// Polled: nothing runs behind the host's back; drive the agent with
	// Run, or with Poll and FD/NextTimeout in your own loop.
	Polled Mode = "polled"
)

// Options configure New. The zero value of a field means the library's
// default (docs/options.md); Extra passes any other option key as is.
type Options struct {
	Name              string        // this agent's instance name
	Dialect           string        // "seed" (default), "zeek5", "zeek6", "zeek7"
	Encoding          string        // "auto" (default), "broker", "plain"
	TopicPrefix       string        // default "zeek/management/agent"
	Mode              Mode          // Threaded (default) or Polled
	StateDir          string        // node directories live in <StateDir>/nodes/<node>
	RequestTimeout    time.Duration // per-request timeout, whole milliseconds
	NodeReady         string        // "hello" (default) or "spawn"
	ReadyAfter        time.Duration // with NodeReady "spawn", whole milliseconds
	ListenAddress     string
	ListenPort        uint16
	ControllerAddress string
	ControllerPort    uint16
	BrokerID          string
	// StopNodesOnFree: whether Close stops every node the agent runs
	// (nil: the library's default, true).
	StopNodesOnFree *bool
	// Supervisor chooses and tunes the supervisor (nil: the built-in
	// process supervisor with its defaults).
	Supervisor *SupervisorOptions
	// Extra holds further option keys, added to the options JSON as is; a
	// key that is also set above is refused.
	Extra map[string]any

	// Callbacks. Each runs on the agent's delivery goroutine, one at a
	// time and in the order the agent sent the events; an event kind with
	// a callback does not go to the Events channel.
	OnResponse     func(Event)
	OnNotification func(Event)
	OnPublish      func(Event)
	OnLog          func(LogRecord) // nil: log records are dropped
	// OnPanic receives a recovered panic of any callback above (nil:
	// reported with log.Printf). The agent goes on.
	OnPanic func(*CallbackPanic)
	// EventBuffer is the capacity of the Events channel (0: 256).
	EventBuffer int
}

// SupervisorOptions are the "supervisor" option object.
type SupervisorOptions struct {
	Kind string // "process" (default) or "host"

	// Process supervisor.
	Zeek             string   // the program started for each node (default zeek on PATH)
	ArgsPrefix       []string // arguments placed first on every node's command line
	StopGrace        time.Duration
	RestartDelay     time.Duration
	RestartDelayMax  time.Duration
	MaxStartFailures int
	OutputMaxLines   int

	// Host supervisor: the endpoint whose peering makes the Supervisor reachable.
	Address string
	Port    uint16
}

// optionsJSON renders the options object for zma_agent_create.
func (o *Options) optionsJSON() ([]byte, error) {
	m := map[string]any{}
	put := func(key string, value any, set bool) {
		if set {
			m[key] = value
		}
	}
	put("name", o.Name, o.Name != "")
	put("dialect", o.Dialect, o.Dialect != "")
	put("encoding", o.Encoding, o.Encoding != "")
	put("topic_prefix", o.TopicPrefix, o.TopicPrefix != "")
	put("mode", string(o.Mode), o.Mode != "")
	put("state_dir", o.StateDir, o.StateDir != "")
	put("node_ready", o.NodeReady, o.NodeReady != "")
	put("listen_address", o.ListenAddress, o.ListenAddress != "")
	put("listen_port", o.ListenPort, o.ListenPort != 0)
	put("controller_address", o.ControllerAddress, o.ControllerAddress != "")
	put("controller_port", o.ControllerPort, o.ControllerPort != 0)
	put("broker_id", o.BrokerID, o.BrokerID != "")
	if o.StopNodesOnFree != nil {
		m["stop_nodes_on_free"] = *o.StopNodesOnFree
	}
	if err := putMillis(m, "request_timeout_ms", o.RequestTimeout); err != nil {
		return nil, err
	}
	if err := putMillis(m, "ready_after_ms", o.ReadyAfter); err != nil {
		return nil, err
	}
	if s := o.Supervisor; s != nil {
		sup, err := s.object()
		if err != nil {
			return nil, err
		}
		m["supervisor"] = sup
	}
	for key, value := range o.Extra {
		if _, taken := m[key]; taken {
			return nil, newError(statusOptions, fmt.Sprintf("option '%s' is given both as a field and in Extra", key))
		}
		m[key] = value
	}
	out, err := json.Marshal(m)
	if err != nil {
		return nil, newError(statusOptions, "options cannot be encoded as JSON: "+err.Error())
	}
	return out, nil
}

func (s *SupervisorOptions) object() (map[string]any, error) {
	m := map[string]any{}
	if s.Kind != "" {
		m["kind"] = s.Kind
	}
	if s.Zeek != "" {
		m["zeek"] = s.Zeek
	}
	if s.ArgsPrefix != nil {
		m["args_prefix"] = s.ArgsPrefix
	}
	for _, d := range []struct {
		key   string
		value time.Duration
	}{
		{"stop_grace_ms", s.StopGrace},
		{"restart_delay_ms", s.RestartDelay},
		{"restart_delay_max_ms", s.RestartDelayMax},
	} {
		if err := putMillis(m, d.key, d.value); err != nil {
			return nil, err
		}
	}
	if s.MaxStartFailures != 0 {
		m["max_start_failures"] = s.MaxStartFailures
	}
	if s.OutputMaxLines != 0 {
		m["output_max_lines"] = s.OutputMaxLines
	}
	if s.Address != "" {
		m["address"] = s.Address
	}
	if s.Port != 0 {
		m["port"] = s.Port
	}
	return m, nil
}

// putMillis sets key to d in milliseconds; d must be whole milliseconds
// (0 leaves the key out: the library's default).
func putMillis(m map[string]any, key string, d time.Duration) error {
	if d == 0 {
		return nil
	}
	if d%time.Millisecond != 0 {
		return newError(statusOptions, fmt.Sprintf("option '%s': %v is not a whole number of milliseconds", key, d))
	}
	m[key] = d.Milliseconds()
	return nil
}
