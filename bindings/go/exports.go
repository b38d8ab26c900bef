package zeekagent

/*
#include <stdint.h>
*/
import "C"

import "runtime/cgo"

// The C library calls these through the shims in cgo.go, on its own thread
// or inside a call of ours. They only copy what they are given and queue
// it: user code never runs here, so nothing can panic or block through C.

//export zmaGoEvent
func zmaGoEvent(handle C.uintptr_t, kind C.int, topic *C.char, eventJSON *C.char) {
	s := lookup(handle)
	if s == nil {
		return
	}
	s.event(Event{Kind: Kind(kind), Topic: C.GoString(topic), JSON: []byte(C.GoString(eventJSON))})
}

//export zmaGoLog
func zmaGoLog(handle C.uintptr_t, level C.int, message *C.char) {
	s := lookup(handle)
	if s == nil {
		return
	}
	s.log(LogRecord{Level: LogLevel(level), Message: C.GoString(message)})
}

// lookup finds the agent state behind a handle; nil if the handle is gone
// (a callback racing Close) or not ours, which must not panic here.
func lookup(handle C.uintptr_t) (s *state) {
	defer func() {
		if recover() != nil {
			s = nil
		}
	}()
	s, _ = cgo.Handle(handle).Value().(*state)
	return s
}
