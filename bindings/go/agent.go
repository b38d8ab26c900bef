package zeekagent

/*
#include <stdint.h>
#include <stdlib.h>
#include "zeek_mgmt_agent.h"

int zeekagent_register_callbacks(zma_agent *agent, uintptr_t handle, int with_log);
*/
import "C"

import (
	"bytes"
	"encoding/json"
	"runtime"
	"runtime/cgo"
	"strconv"
	"sync"
	"time"
)

// Agent is one agent of Zeek's cluster management framework. Its methods
// are safe for concurrent use. Close it when done; a finalizer closes an
// unreachable agent as a last resort.
type Agent struct {
	mu        sync.RWMutex // calls hold it for reading, Close for writing
	ptr       *C.zma_agent // nil once closed
	closeOnce sync.Once
	handle    cgo.Handle // reaches state from the C callbacks
	state     *state
	mode      Mode
	epoch     time.Time // Now's zero in polled mode
	name      string
	wakers    wakers // Run loops to wake on Close
}

// New creates an agent (zma_agent_create). A failure is an *Error with the
// status code zma_agent_create returned and the library's message:
// ErrOptions for a refused option (the message names the key), ErrIO for
// what the operating system refused (a state directory that cannot be
// created or that another agent holds), ErrPanic for a caught panic.
func New(opts Options) (*Agent, error) {
	text, err := opts.optionsJSON()
	if err != nil {
		return nil, err
	}
	return create(opts, text)
}

// create makes the agent of opts from its options JSON.
func create(opts Options, text []byte) (*Agent, error) {
	cOptions := cString(string(text))
	defer freeCString(cOptions)
	var ptr *C.zma_agent
	gcStressPoint()
	err := call(func() C.int { return C.zma_agent_create(cOptions, &ptr) })
	gcStressPoint()
	if err != nil {
		return nil, err
	}
	mode := opts.Mode
	if mode == "" {
		mode = Threaded
	}
	a := &Agent{ptr: ptr, state: newState(&opts), mode: mode, epoch: time.Now()}
	a.handle = cgo.NewHandle(a.state)
	withLog := C.int(0)
	if opts.OnLog != nil {
		withLog = 1
	}
	if err := call(func() C.int { return C.zeekagent_register_callbacks(ptr, C.uintptr_t(a.handle), withLog) }); err != nil {
		a.Close()
		return nil, err
	}
	if st, err := a.State(); err == nil {
		if name, ok := st["name"].(string); ok {
			a.name = name
		}
	}
	// Last resort for an agent nobody closed. Close can take up to the
	// stop grace period, so it runs on its own goroutine, not on the
	// runtime's single finalizer goroutine.
	runtime.SetFinalizer(a, func(a *Agent) { go a.Close() })
	return a, nil
}

// Close stops the agent (zma_agent_free): it stops the nodes it runs unless
// Options.StopNodesOnFree is false. No callback reaches Go once Close
// returns; waiting helpers return ErrClosed and Run loops return. Events
// queued before Close are still delivered: the Events channel closes once
// every one has been received (see Done). Close is idempotent, safe to call
// concurrently (every call returns once the agent is closed) and from a
// callback, and always returns nil.
func (a *Agent) Close() error {
	a.closeOnce.Do(func() {
		a.mu.Lock()
		ptr := a.ptr
		a.ptr = nil
		if ptr != nil {
			gcStressPoint()
			C.zma_agent_free(ptr)
			gcStressPoint()
			a.handle.Delete()
		}
		a.mu.Unlock()
		runtime.SetFinalizer(a, nil)
		a.state.close()
		a.wakers.wakeAll()
	})
	return nil
}

// Done is closed once the agent is closed and every queued event has been
// delivered.
func (a *Agent) Done() <-chan struct{} { return a.state.done }

// Events is the channel of events that have no callback (Options.OnResponse
// and friends), in the order the agent sent them. Several goroutines may
// receive from it. Its events are kept until received, Close included:
// read it until it closes unless every kind has a callback.
func (a *Agent) Events() <-chan Event { return a.state.events }

// Name is the agent's instance name.
func (a *Agent) Name() string { return a.name }

// Mode is the agent's run mode.
func (a *Agent) Mode() Mode { return a.mode }

// with runs f with the live C agent, or returns ErrClosed.
func (a *Agent) with(f func(ptr *C.zma_agent) error) error {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.ptr == nil {
		return ErrClosed
	}
	gcStressPoint()
	err := f(a.ptr)
	gcStressPoint()
	runtime.KeepAlive(a)
	return err
}

// HandleRequest hands the agent one event from the controller (or, in
// host-supervisor mode, from the Supervisor or a node): Broker JSON or
// plain JSON. Answers come later, on the Events channel or the callbacks.
// A refused event is an *Error matching ErrJSON, ErrEvent, ErrLimit, ...;
// nothing changed then.
func (a *Agent) HandleRequest(event []byte) error {
	if i := bytes.IndexByte(event, 0); i >= 0 {
		return newError(statusJSON, "event JSON contains a NUL byte at offset "+strconv.Itoa(i))
	}
	return a.with(func(ptr *C.zma_agent) error {
		text := cBytes(event)
		defer freeCString(text)
		return call(func() C.int { return C.zma_agent_handle_request(ptr, text) })
	})
}

// Poll advances a polled agent's clock to now, fires timers and collects
// node exits and output. ErrState in threaded mode. now is a monotonic
// time of your choosing, but Run and the request helpers poll with Now:
// the library keeps the latest time it was given, so do not mix another
// clock with them.
func (a *Agent) Poll(now time.Duration) error {
	if now < 0 {
		return newError(statusState, "Poll: negative time "+now.String())
	}
	return a.with(func(ptr *C.zma_agent) error {
		return call(func() C.int { return C.zma_agent_poll(ptr, C.uint64_t(now.Milliseconds())) })
	})
}

// Now is the time since the agent was created: the clock Run and the
// request helpers poll with.
func (a *Agent) Now() time.Duration { return time.Since(a.epoch) }

// NextTimeout is the absolute time, in the Poll clock, of the next
// deadline of a polled agent; false when there is none (always in
// threaded mode, and once closed).
func (a *Agent) NextTimeout() (time.Duration, bool) {
	var next C.int64_t = -1
	_ = a.with(func(ptr *C.zma_agent) error {
		next = C.zma_agent_next_timeout_ms(ptr)
		return nil
	})
	if next < 0 {
		return 0, false
	}
	return time.Duration(next) * time.Millisecond, true
}

// FD is a descriptor that is readable exactly when Poll has work (a node
// exited, output arrived); -1 in threaded mode or once closed. It belongs
// to the agent: wait on it, never read or close it.
func (a *Agent) FD() int {
	fd := -1
	_ = a.with(func(ptr *C.zma_agent) error {
		fd = int(C.zma_agent_fd(ptr))
		return nil
	})
	return fd
}

// State is a snapshot of the agent for diagnostics and tests
// (zma_agent_state_json): name, dialect, config_id, nodes, pending_requests.
func (a *Agent) State() (map[string]any, error) {
	text, err := a.StateJSON()
	if err != nil {
		return nil, err
	}
	var value map[string]any
	if err := json.Unmarshal([]byte(text), &value); err != nil {
		return nil, newError(statusJSON, "state JSON: "+err.Error())
	}
	return value, nil
}

// StateJSON is State's JSON text, unparsed.
func (a *Agent) StateJSON() (string, error) {
	var text string
	err := a.with(func(ptr *C.zma_agent) error {
		var out *C.char
		if err := call(func() C.int { return C.zma_agent_state_json(ptr, &out) }); err != nil {
			return err
		}
		text = C.GoString(out)
		C.zma_string_free(out)
		return nil
	})
	return text, err
}
