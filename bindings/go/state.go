package zeekagent

import (
	"log"
	"runtime/debug"
	"sync"
)

// state is what the C callbacks reach through the agent's cgo.Handle: the
// events and log records not yet delivered, and the requests waiting for
// their response. It holds no reference to the Agent, so that an Agent
// nobody holds can still be finalized.
//
// Deliveries go two ways, each with its own queue and goroutine: to the
// callbacks, and to the Events channel. A host that never reads Events
// therefore never holds up its callbacks.
type state struct {
	mu       sync.Mutex
	waiters  map[string]chan Event // reqid -> the waiting helper
	closed   bool                  // no more deliveries will be queued
	toCall   queue                 // for the callbacks
	toSend   queue                 // for the Events channel
	finished sync.WaitGroup        // the two delivery goroutines

	callbacks callbacks
	events    chan Event    // closed once every queued event was received
	done      chan struct{} // closed once both delivery goroutines ended
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

// queue is a FIFO guarded by state.mu, with a condition to wait on.
type queue struct {
	items []delivery
	wake  *sync.Cond
}

// take waits for items or close and takes them all; nil once closed and
// empty. Called with s.mu held.
func (q *queue) take(s *state) []delivery {
	for len(q.items) == 0 && !s.closed {
		q.wake.Wait()
	}
	batch := q.items
	q.items = nil
	return batch
}

// pop is take for one item; false once closed and empty.
func (q *queue) pop(s *state) (delivery, bool) {
	for len(q.items) == 0 && !s.closed {
		q.wake.Wait()
	}
	if len(q.items) == 0 {
		return delivery{}, false
	}
	item := q.items[0]
	q.items[0] = delivery{}
	q.items = q.items[1:]
	return item, true
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
		events: make(chan Event, buffer),
		done:   make(chan struct{}),
	}
	s.toCall.wake = sync.NewCond(&s.mu)
	s.toSend.wake = sync.NewCond(&s.mu)
	s.finished.Add(2)
	go s.callLoop()
	go s.sendLoop()
	go func() {
		s.finished.Wait()
		close(s.done)
	}()
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
	q := &s.toSend
	if e.Kind >= 0 && int(e.Kind) < len(s.callbacks.onEvent) && s.callbacks.onEvent[e.Kind] != nil {
		q = &s.toCall
	}
	q.items = append(q.items, delivery{event: e})
	q.wake.Signal()
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
	s.toCall.items = append(s.toCall.items, delivery{log: &record})
	s.toCall.wake.Signal()
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

// forget drops a waiter that gave up (its context ended). Afterwards the
// waiter's channel holds the response if it came first, else nothing will
// ever arrive on it.
func (s *state) forget(reqid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.waiters, reqid)
}

// close ends deliveries: waiters are released (their channels closed);
// what is queued is still delivered, then the Events channel closes.
func (s *state) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	for reqid, waiter := range s.waiters {
		close(waiter)
		delete(s.waiters, reqid)
	}
	s.toCall.wake.Broadcast()
	s.toSend.wake.Broadcast()
}

// callLoop hands queued items to the callbacks, one at a time, in order.
// A callback that calls runtime.Goexit (t.Fatal does) ends this goroutine
// past any recover; the loop then reports it and goes on in a new one.
func (s *state) callLoop() {
	ended := false
	defer func() {
		if !ended {
			s.report(&CallbackPanic{Value: "runtime.Goexit called in a callback", Stack: debug.Stack()})
			go s.callLoop()
			return
		}
		s.finished.Done()
	}()
	for {
		s.mu.Lock()
		item, ok := s.toCall.pop(s)
		s.mu.Unlock()
		if !ok {
			ended = true
			return
		}
		if item.log != nil {
			s.guard(func() { s.callbacks.onLog(*item.log) })
		} else {
			s.guard(func() { s.callbacks.onEvent[item.event.Kind](item.event) })
		}
	}
}

// sendLoop puts queued events on the Events channel, in order, waiting
// for readers when it is full. Nothing is dropped: after Close the channel
// closes once every queued event has been received.
func (s *state) sendLoop() {
	defer s.finished.Done()
	defer close(s.events)
	for {
		s.mu.Lock()
		batch := s.toSend.take(s)
		s.mu.Unlock()
		if batch == nil {
			return
		}
		for _, item := range batch {
			s.events <- item.event
		}
	}
}

// guard runs a user callback; a panic is recovered and reported.
func (s *state) guard(f func()) {
	defer func() {
		if value := recover(); value != nil {
			s.report(&CallbackPanic{Value: value, Stack: debug.Stack()})
		}
	}()
	f()
}

// report hands a recovered callback failure to OnPanic, or logs it.
func (s *state) report(p *CallbackPanic) {
	if s.callbacks.onPanic != nil {
		defer func() { _ = recover() }() // a panicking OnPanic is dropped
		s.callbacks.onPanic(p)
		return
	}
	log.Printf("%v\n%s", p, p.Stack)
}
