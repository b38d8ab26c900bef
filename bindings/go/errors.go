package zeekagent

import (
	"errors"
	"fmt"
)

// Sentinel errors, one per status code of the C ABI; errors.Is matches an
// *Error against the one for its code.
var (
	ErrNull    = errors.New("zeekagent: a required pointer was NULL")
	ErrUTF8    = errors.New("zeekagent: input is not valid UTF-8")
	ErrJSON    = errors.New("zeekagent: input is not JSON")
	ErrEvent   = errors.New("zeekagent: not a valid event")
	ErrState   = errors.New("zeekagent: not allowed now")
	ErrOptions = errors.New("zeekagent: an option was refused")
	ErrIO      = errors.New("zeekagent: the operating system refused")
	ErrPanic   = errors.New("zeekagent: internal error caught; the agent is poisoned")
	ErrLimit   = errors.New("zeekagent: input over a configured limit")
	// ErrClosed is returned by every method of a closed agent; it is an
	// *Error with ErrState's code, so errors.Is(err, ErrState) holds too.
	ErrClosed error = &Error{Code: statusState, Message: "zeekagent: the agent is closed"}
)

// Status codes of the C ABI.
const (
	statusNull    = -1
	statusUTF8    = -2
	statusJSON    = -3
	statusEvent   = -4
	statusState   = -5
	statusOptions = -6
	statusIO      = -7
	statusPanic   = -8
	statusLimit   = -9
)

var sentinels = map[int]error{
	statusNull:    ErrNull,
	statusUTF8:    ErrUTF8,
	statusJSON:    ErrJSON,
	statusEvent:   ErrEvent,
	statusState:   ErrState,
	statusOptions: ErrOptions,
	statusIO:      ErrIO,
	statusPanic:   ErrPanic,
	statusLimit:   ErrLimit,
}

// Error is a failed call: the C status code and the library's message.
type Error struct {
	Code    int
	Message string
}

func newError(code int, message string) *Error { return &Error{Code: code, Message: message} }

func (e *Error) Error() string { return e.Message }

// Is matches the sentinel error of the status code.
func (e *Error) Is(target error) bool {
	sentinel, ok := sentinels[e.Code]
	return ok && target == sentinel
}

// Unwrap gives the sentinel error of the status code.
func (e *Error) Unwrap() error { return sentinels[e.Code] }

// CallbackPanic is what a recovered panic of a user callback is reported
// as (see Options.OnPanic).
type CallbackPanic struct {
	Value any    // what the callback panicked with
	Stack []byte // the callback's stack at the panic
}

func (p *CallbackPanic) Error() string {
	return fmt.Sprintf("zeekagent: a callback panicked: %v", p.Value)
}
