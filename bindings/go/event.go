package zeekagent

import (
	"encoding/json"
	"strings"
)

// Kind is the channel an event came out on (see docs/c-api.md).
type Kind int

const (
	// Response is an answer to a controller request (*_response events).
	Response Kind = iota
	// Notification is a notify_* event for the controller.
	Notification
	// Publish is everything else the agent sends: node dispatches,
	// SupervisorControl requests in host-supervisor mode.
	Publish
)

func (k Kind) String() string {
	switch k {
	case Response:
		return "response"
	case Notification:
		return "notification"
	case Publish:
		return "publish"
	}
	return "unknown"
}

// Event is one event the agent sent: its channel, its Broker topic and its
// JSON text (Broker JSON or plain JSON, following the "encoding" option).
type Event struct {
	Kind  Kind
	Topic string
	JSON  []byte
}

// eventShape covers both encodings just far enough to find the name and
// the request id.
type eventShape struct {
	Event    string          `json:"event"`      // plain
	Args     json.RawMessage `json:"args"`       // plain
	DataType string          `json:"@data-type"` // Broker
	Data     json.RawMessage `json:"data"`       // Broker
}

type brokerValue struct {
	DataType string          `json:"@data-type"`
	Data     json.RawMessage `json:"data"`
}

// broker returns the event's name and its argument values when the event
// is Broker JSON: [count 1, count 1, vector [string name, vector [args]]].
func (s *eventShape) broker() (string, []brokerValue, bool) {
	var outer []brokerValue
	if s.DataType != "vector" || json.Unmarshal(s.Data, &outer) != nil || len(outer) < 3 {
		return "", nil, false
	}
	var inner []brokerValue
	if json.Unmarshal(outer[2].Data, &inner) != nil || len(inner) < 2 {
		return "", nil, false
	}
	var name string
	if json.Unmarshal(inner[0].Data, &name) != nil {
		return "", nil, false
	}
	var args []brokerValue
	if json.Unmarshal(inner[1].Data, &args) != nil {
		return "", nil, false
	}
	return name, args, true
}

func (e Event) shape() (eventShape, bool) {
	var s eventShape
	return s, json.Unmarshal(e.JSON, &s) == nil
}

// IsBroker tells whether the event is Broker JSON (else plain JSON).
func (e Event) IsBroker() bool {
	s, ok := e.shape()
	return ok && s.DataType != ""
}

// Name is the event's full Zeek name, e.g.
// "Management::Agent::API::deploy_response" ("" if the JSON is not an event).
func (e Event) Name() string {
	s, ok := e.shape()
	if !ok {
		return ""
	}
	if s.DataType == "" {
		return s.Event
	}
	name, _, _ := s.broker()
	return name
}

// ReqID is the request id of a request or response event ("" for the
// others, such as notifications).
func (e Event) ReqID() string {
	s, ok := e.shape()
	if !ok {
		return ""
	}
	if s.DataType == "" {
		var args struct {
			ReqID string `json:"reqid"`
		}
		if json.Unmarshal(s.Args, &args) != nil {
			return ""
		}
		return args.ReqID
	}
	name, args, ok := s.broker()
	if !ok || len(args) == 0 || args[0].DataType != "string" {
		return ""
	}
	if !strings.HasSuffix(name, "_request") && !strings.HasSuffix(name, "_response") {
		return ""
	}
	var reqid string
	if json.Unmarshal(args[0].Data, &reqid) != nil {
		return ""
	}
	return reqid
}

// LogLevel is the level of a LogRecord (the ZMA_LOG_* values).
type LogLevel int

const (
	LogDebug   LogLevel = 10
	LogInfo    LogLevel = 20
	LogWarning LogLevel = 30
	LogError   LogLevel = 40
)

func (l LogLevel) String() string {
	switch {
	case l >= LogError:
		return "error"
	case l >= LogWarning:
		return "warning"
	case l >= LogInfo:
		return "info"
	}
	return "debug"
}

// LogRecord is a log message of the agent.
type LogRecord struct {
	Level   LogLevel
	Message string
}
