package zeekagent

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Port is a Zeek port: a number and a protocol ("tcp", "udp", "icmp",
// "unknown"). In plain JSON it is {"port": 2151, "proto": "tcp"}; "2151/tcp"
// and a bare number (tcp) are read too.
type Port struct {
	Number uint16
	Proto  string
}

// TCP is the TCP port n.
func TCP(n uint16) *Port { return &Port{Number: n, Proto: "tcp"} }

func (p Port) String() string { return fmt.Sprintf("%d/%s", p.Number, p.Proto) }

func (p Port) MarshalJSON() ([]byte, error) {
	proto := p.Proto
	if proto == "" {
		proto = "tcp"
	}
	return json.Marshal(struct {
		Port  uint16 `json:"port"`
		Proto string `json:"proto"`
	}{p.Number, proto})
}

func (p *Port) UnmarshalJSON(data []byte) error {
	var object struct {
		Port  *uint16 `json:"port"`
		Proto string  `json:"proto"`
	}
	if err := json.Unmarshal(data, &object); err == nil && object.Port != nil {
		*p = Port{Number: *object.Port, Proto: object.Proto}
		return nil
	}
	var number uint16
	if err := json.Unmarshal(data, &number); err == nil {
		*p = Port{Number: number, Proto: "tcp"}
		return nil
	}
	var text string
	if err := json.Unmarshal(data, &text); err == nil {
		number, proto, _ := strings.Cut(text, "/")
		n, err := strconv.ParseUint(number, 10, 16)
		if err == nil {
			*p = Port{Number: uint16(n), Proto: proto}
			return nil
		}
	}
	return fmt.Errorf("zeekagent: not a port: %s", data)
}

// Cluster roles of Supervisor::ClusterRole; the bare names ("WORKER") are
// accepted too.
const (
	RoleManager = "Supervisor::MANAGER"
	RoleLogger  = "Supervisor::LOGGER"
	RoleProxy   = "Supervisor::PROXY"
	RoleWorker  = "Supervisor::WORKER"
)

// Instance is Management::Instance. Host is an IP address; left empty it
// is not sent, and the agent reads the instance as listening on 0.0.0.0
// (as zeek-client's JSON leaves it out).
type Instance struct {
	Name       string `json:"name"`
	Host       string `json:"host,omitempty"`
	ListenPort *Port  `json:"listen_port,omitempty"`
}

// NodeOption is Management::Option.
type NodeOption struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Node is Management::Node.
type Node struct {
	Name        string            `json:"name"`
	Instance    string            `json:"instance"`
	Role        string            `json:"role"`
	State       string            `json:"state,omitempty"` // default Management::RUNNING
	Port        *Port             `json:"p,omitempty"`
	Scripts     []string          `json:"scripts,omitempty"`
	Options     []NodeOption      `json:"options,omitempty"`
	Interface   string            `json:"interface,omitempty"`
	CPUAffinity *int              `json:"cpu_affinity,omitempty"`
	Env         map[string]string `json:"env,omitempty"`
	MetricsPort *Port             `json:"metrics_port,omitempty"`
}

// Configuration is Management::Configuration: what Deploy deploys. No
// instances or no nodes are sent as absent, which means empty.
type Configuration struct {
	ID        string     `json:"id"`
	Instances []Instance `json:"instances,omitempty"`
	Nodes     []Node     `json:"nodes,omitempty"`
}

// Result is Management::Result: the outcome of a request for one node or
// instance. Data is the result's data as plain JSON (nil when absent).
// Encoded, the optional Instance, Node, Error and Data are left out when
// empty; Success is always written, since an absent success means true.
type Result struct {
	ReqID    string          `json:"reqid"`
	Success  bool            `json:"success"`
	Instance string          `json:"instance,omitempty"`
	Node     string          `json:"node,omitempty"`
	Error    string          `json:"error,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
}

// NodeStatus is Management::NodeStatus: one node as GetNodes reports it.
// State and the roles are bare names ("RUNNING", "WORKER", "NONE").
// Encoded, it is the plain JSON record the agent reads and writes, the
// enums scoped ("Management::RUNNING"); an empty role (default NONE) and
// a nil PID or port are left out, an empty State is written as UNKNOWN
// (state is a required field).
type NodeStatus struct {
	Node        string
	State       string
	MgmtRole    string
	ClusterRole string
	PID         *int
	Port        *Port
	MetricsPort *Port
}

func (n *NodeStatus) UnmarshalJSON(data []byte) error {
	var plain struct {
		Node        string `json:"node"`
		State       string `json:"state"`
		MgmtRole    string `json:"mgmt_role"`
		ClusterRole string `json:"cluster_role"`
		PID         *int   `json:"pid"`
		Port        *Port  `json:"p"`
		MetricsPort *Port  `json:"metrics_port"`
	}
	if err := json.Unmarshal(data, &plain); err != nil {
		return err
	}
	*n = NodeStatus{
		Node:        plain.Node,
		State:       bare(plain.State, "UNKNOWN"),
		MgmtRole:    bare(plain.MgmtRole, "NONE"),
		ClusterRole: bare(plain.ClusterRole, "NONE"),
		PID:         plain.PID,
		Port:        plain.Port,
		MetricsPort: plain.MetricsPort,
	}
	return nil
}

func (n NodeStatus) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Node        string `json:"node"`
		State       string `json:"state"`
		MgmtRole    string `json:"mgmt_role,omitempty"`
		ClusterRole string `json:"cluster_role,omitempty"`
		PID         *int   `json:"pid,omitempty"`
		Port        *Port  `json:"p,omitempty"`
		MetricsPort *Port  `json:"metrics_port,omitempty"`
	}{
		Node:        n.Node,
		State:       scoped("Management", n.State, "UNKNOWN"),
		MgmtRole:    scoped("Management", n.MgmtRole, ""),
		ClusterRole: scoped("Supervisor", n.ClusterRole, ""),
		PID:         n.PID,
		Port:        n.Port,
		MetricsPort: n.MetricsPort,
	})
}

// scoped turns "RUNNING" into "Management::RUNNING" ("" into fallback,
// scoped unless empty); a name with a scope is kept as it is.
func scoped(scope, enum, fallback string) string {
	if enum == "" {
		enum = fallback
	}
	if enum == "" || strings.Contains(enum, "::") {
		return enum
	}
	return scope + "::" + enum
}

// bare turns "Management::RUNNING" into "RUNNING" ("" into fallback).
func bare(enum, fallback string) string {
	if enum == "" {
		return fallback
	}
	if i := strings.LastIndex(enum, "::"); i >= 0 {
		return enum[i+2:]
	}
	return enum
}
