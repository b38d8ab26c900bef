package zeekagent

import (
	"log"
	"runtime/debug"
	"sync"
)

// state is what the C callbacks reach through the agent's cgo.Handle: the
// queue of events and log records not yet delivered, and the requests
// waiting for their response. It holds no reference to the Agent, so that
// an Agent nobody holds can still be finalized.
type state struct {
	mu      sync.Mutex
	wake    *sync.Cond
	queue   []delivery
	waiters map[string]chan Event // reqid -> the waiting helper
	closed  bool                  // no more deliveries will be queued
	// closedCh is closed with closed set: a delivery blocked on a full
	// Events channel gives up on it.
	closedCh chan struct{}

	callbacks callbacks
	events    chan Event    // closed once the delivery goroutine ends
	done      chan struct{} // closed once the delivery goroutine ends
}

type callbacks struct {
	onEvent [3]func(Event) // by Kind
	onLog   func(LogRecord)
	onPanic func(*CallbackPanic)
}

// delivery is one queued event or log record.
type delivery struct {
	event Event
	log   *LogRecord
}

func newState(opts *Options) *state {
	buffer := opts.EventBuffer
	if buffer <= 0 {
		buffer = 256
	}
	s := &state{
		waiters: map[string]chan Event{},
		callbacks: callbacks{
			onEvent: [3]func(Event){opts.OnResponse, opts.OnNotification, opts.OnPublish},
			onLog:   opts.OnLog,
			onPanic: opts.OnPanic,
		},
		events:   make(chan Event, buffer),
		done:     make(chan struct{}),
		closedCh: make(chan struct{}),
	}
	s.wake = sync.NewCond(&s.mu)
	go s.deliverLoop()
	return s
}

// event queues an event, or hands a response to the helper waiting for it.
func (s *state) event(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if e.Kind == Response && len(s.waiters) > 0 {
		reqid := e.ReqID()
		if waiter, ok := s.waiters[reqid]; ok {
			delete(s.waiters, reqid)
			waiter <- e // buffered, one response per waiter
			return
		}
	}
	s.queue = append(s.queue, delivery{event: e})
	s.wake.Signal()
}

func (s *state) log(record LogRecord) {
	if s.callbacks.onLog == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.queue = append(s.queue, delivery{log: &record})
	s.wake.Signal()
}

// await registers a helper waiting for the response to reqid.
func (s *state) await(reqid string) (<-chan Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if _, taken := s.waiters[reqid]; taken {
		return nil, newError(statusState, "request id '"+reqid+"' is already awaited")
	}
	waiter := make(chan Event, 1)
	s.waiters[reqid] = waiter
	return waiter, nil
}

// forget drops a waiter that gave up (its context ended).
func (s *state) forget(reqid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.waiters, reqid)
}

// close ends deliveries: waiters are released (their channels closed), what
// is queued is still delivered, then the Events channel closes.
func (s *state) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	close(s.closedCh)
	for reqid, waiter := range s.waiters {
		close(waiter)
		delete(s.waiters, reqid)
	}
	s.wake.Broadcast()
}

// deliverLoop is the agent's delivery goroutine: it hands queued items to
// the callbacks, or events without a callback to the Events channel, in
// order. Once closed it delivers what is left without blocking on a full
// channel (those events are dropped), then closes the channel and done.
func (s *state) deliverLoop() {
	defer close(s.done)
	defer close(s.events)
	for {
		s.mu.Lock()
		for len(s.queue) == 0 && !s.closed {
			s.wake.Wait()
		}
		batch, closed := s.queue, s.closed
		s.queue = nil
		s.mu.Unlock()
		for _, item := range batch {
			s.deliver(item, closed)
		}
		if closed {
			s.mu.Lock()
			left := len(s.queue)
			s.mu.Unlock()
			if left == 0 {
				return
			}
		}
	}
}

func (s *state) deliver(item delivery, closed bool) {
	if item.log != nil {
		s.guard(func() { s.callbacks.onLog(*item.log) })
		return
	}
	kind := item.event.Kind
	if kind >= 0 && int(kind) < len(s.callbacks.onEvent) && s.callbacks.onEvent[kind] != nil {
		s.guard(func() { s.callbacks.onEvent[kind](item.event) })
		return
	}
	if closed {
		select {
		case s.events <- item.event:
		default: // nobody reads any more; the agent is gone
		}
		return
	}
	select {
	case s.events <- item.event:
	case <-s.closedCh:
		s.deliver(item, true)
	}
}

// guard runs a user callback; a panic is recovered and reported.
func (s *state) guard(f func()) {
	defer func() {
		if value := recover(); value != nil {
			report := &CallbackPanic{Value: value, Stack: debug.Stack()}
			if s.callbacks.onPanic != nil {
				func() {
					defer func() { _ = recover() }() // a panicking OnPanic is dropped
					s.callbacks.onPanic(report)
				}()
				return
			}
			log.Printf("%v\n%s", report, report.Stack)
		}
	}()
	f()
}
