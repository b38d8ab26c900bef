package zeekagent

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// marshalled is v as JSON text.
func marshalled(t testing.TB, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// Every record type encodes its unset optional fields as absent, never as
// an empty string, 0 or null the library would read as a value.
func TestRecordsLeaveUnsetOptionalFieldsOut(t *testing.T) {
	for _, c := range []struct {
		value any
		want  string
	}{
		{Instance{Name: "instance-1"}, `{"name":"instance-1"}`},
		{Instance{Name: "i", Host: "::1", ListenPort: &Port{Number: 2151}},
			`{"name":"i","host":"::1","listen_port":{"port":2151,"proto":"tcp"}}`},
		{Node{Name: "w1", Instance: "instance-1", Role: RoleWorker},
			`{"name":"w1","instance":"instance-1","role":"Supervisor::WORKER"}`},
		{NodeOption{Name: "n", Value: ""}, `{"name":"n","value":""}`},
		{Configuration{ID: "c"}, `{"id":"c"}`},
		{Configuration{ID: "c", Instances: []Instance{}, Nodes: []Node{}}, `{"id":"c"}`},
		{Result{ReqID: "r"}, `{"reqid":"r","success":false}`},
		{Result{ReqID: "r", Success: true, Node: "w1", Data: json.RawMessage(`"x"`)},
			`{"reqid":"r","success":true,"node":"w1","data":"x"}`},
		{NodeStatus{Node: "w1", State: "RUNNING"}, `{"node":"w1","state":"Management::RUNNING"}`},
		{NodeStatus{Node: "w1"}, `{"node":"w1","state":"Management::UNKNOWN"}`},
		{Port{Number: 47000}, `{"port":47000,"proto":"tcp"}`},
	} {
		if got := marshalled(t, c.value); got != c.want {
			t.Errorf("%T %+v encodes as\n%s, want\n%s", c.value, c.value, got, c.want)
		}
	}
}

// NodeStatus encodes to what it decodes from (the agent's plain JSON).
func TestNodeStatusRoundTrip(t *testing.T) {
	pid := 4242
	for _, status := range []NodeStatus{
		{Node: "w1", State: "RUNNING", MgmtRole: "NONE", ClusterRole: "WORKER"},
		{Node: "m", State: "CRASHED", MgmtRole: "NODE", ClusterRole: "MANAGER", PID: &pid,
			Port: &Port{Number: 2152, Proto: "tcp"}, MetricsPort: &Port{Number: 9911, Proto: "tcp"}},
	} {
		var back NodeStatus
		if err := json.Unmarshal([]byte(marshalled(t, status)), &back); err != nil {
			t.Fatal(err)
		}
		if marshalled(t, back) != marshalled(t, status) {
			t.Fatalf("%+v came back as %+v", status, back)
		}
	}
}

// The case: an instance without a host, and a node with only its
// required fields, deploy (the agent reads the host as 0.0.0.0).
func TestDeployInstanceWithoutHostAndMinimalNode(t *testing.T) {
	a := newAgent(t, processOptions(t, Threaded))
	ctx := withTimeout(t, 30*time.Second)
	cfg := Configuration{
		ID:        "no-host",
		Instances: []Instance{{Name: "instance-1"}},
		Nodes:     []Node{{Name: "w1", Instance: "instance-1", Role: RoleWorker}},
	}
	results, err := a.Deploy(ctx, cfg)
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	if len(results) != 1 || !results[0].Success || results[0].Node != "w1" {
		t.Fatalf("results %+v", results)
	}
	nodes, err := a.GetNodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 1 || nodes[0].Node != "w1" || nodes[0].State != "RUNNING" || nodes[0].ClusterRole != "WORKER" {
		t.Fatalf("nodes %+v", nodes)
	}
}

// A configuration with neither instances nor nodes is a valid event (the
// library would refuse a malformed one with ErrEvent).
func TestDeployConfigurationWithoutInstancesOrNodes(t *testing.T) {
	a := newAgent(t, Options{Supervisor: hostSupervisor()})
	results, err := a.Deploy(withTimeout(t, 10*time.Second), Configuration{ID: "empty"})
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	for _, r := range results {
		if !r.Success {
			t.Fatalf("result %+v", r)
		}
	}
}

// A Result and NodeStatus records encoded by this package, as a node's
// node_dispatch_response, are read by the agent as those records: it
// matches the Result to its node and passes the data on decoded as a
// NodeStatus vector (it fills in the default roles, which an undecoded
// value would not get).
func TestNodeDispatchResponseFromGoRecords(t *testing.T) {
	a := newAgent(t, processOptions(t, Threaded))
	ctx := withTimeout(t, 30*time.Second)
	cfg := Configuration{
		ID:        "dispatch",
		Instances: []Instance{{Name: "instance-1", Host: "127.0.0.1"}},
		Nodes:     []Node{{Name: "w1", Instance: "instance-1", Role: RoleWorker}},
	}
	if results, err := a.Deploy(ctx, cfg); err != nil || len(results) != 1 || !results[0].Success {
		t.Fatalf("Deploy: %+v %v", results, err)
	}
	request := plainEvent(t, "node_dispatch_request", map[string]any{
		"reqid": "dispatch-1", "action": []string{"get_id_value", "Cluster::node"},
	})
	if err := a.HandleRequest(request); err != nil {
		t.Fatal(err)
	}
	fanout := receiveNamed(t, a, "Node::API::node_dispatch_request")
	if fanout.Kind != Publish {
		t.Fatalf("fan-out came as a %v", fanout.Kind)
	}
	status := []NodeStatus{{Node: "w1", State: "RUNNING"}}
	result := Result{ReqID: fanout.ReqID(), Success: true, Node: "w1", Data: json.RawMessage(marshalled(t, status))}
	if strings.Contains(marshalled(t, result), `"instance"`) || strings.Contains(marshalled(t, result), `"error"`) {
		t.Fatalf("unset fields encoded: %s", marshalled(t, result))
	}
	answer := plainEvent(t, "Management::Node::API::node_dispatch_response", map[string]any{
		"reqid": fanout.ReqID(), "result": result,
	})
	if err := a.HandleRequest(answer); err != nil {
		t.Fatalf("the agent refused %s: %v", answer, err)
	}
	response := receiveNamed(t, a, "Agent::API::node_dispatch_response")
	if response.ReqID() != "dispatch-1" {
		t.Fatalf("response %s", response.JSON)
	}
	results, err := responseResults(response)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || !results[0].Success || results[0].Node != "w1" || results[0].Instance != "instance-1" {
		t.Fatalf("results %+v (%s)", results, response.JSON)
	}
	var data []map[string]any
	if err := json.Unmarshal(results[0].Data, &data); err != nil {
		t.Fatalf("data %s: %v", results[0].Data, err)
	}
	if len(data) != 1 || data[0]["node"] != "w1" || data[0]["state"] != "Management::RUNNING" ||
		data[0]["mgmt_role"] != "Management::NONE" || data[0]["cluster_role"] != "Supervisor::NONE" {
		t.Fatalf("data not read as a NodeStatus vector: %s", results[0].Data)
	}
}
