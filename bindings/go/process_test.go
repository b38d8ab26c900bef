package zeekagent

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// freePort is a TCP port nobody listens on now (stand-in nodes bind theirs).
func freePort(t testing.TB) uint16 {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	return uint16(listener.Addr().(*net.TCPAddr).Port)
}

func processOptions(t testing.TB, mode Mode) Options {
	return Options{
		Name:       "instance-1",
		Dialect:    "zeek7",
		Mode:       mode,
		StateDir:   t.TempDir(),
		NodeReady:  "spawn",
		ReadyAfter: 50 * time.Millisecond,
		Supervisor: &SupervisorOptions{Kind: "process", Zeek: standin(t), StopGrace: 2 * time.Second},
	}
}

func twoNodes(t testing.TB, id string) Configuration {
	return Configuration{
		ID:        id,
		Instances: []Instance{{Name: "instance-1", Host: "127.0.0.1"}},
		Nodes: []Node{
			{Name: "manager", Instance: "instance-1", Role: RoleManager, Port: TCP(freePort(t))},
			{Name: "w1", Instance: "instance-1", Role: "WORKER", Env: map[string]string{"GO_TEST": "1"}},
		},
	}
}

// alive tells whether pid is a live process whose argv[0] ends in the
// path component name (nodes run as <node dir>/zeek.<node>).
func alive(pid int, name string) bool {
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return false
	}
	argv0, _, _ := strings.Cut(string(cmdline), "\x00")
	return filepath.Base(argv0) == name
}

// A deploy through the typed helpers runs real processes (the stand-in),
// GetNodes reports them, Standby and Close stop them.
func TestProcessSupervisorDeploy(t *testing.T) {
	for _, mode := range []Mode{Polled, Threaded} {
		t.Run(string(mode), func(t *testing.T) {
			a := newAgent(t, processOptions(t, mode))
			ctx := withTimeout(t, 30*time.Second)
			results, err := a.Deploy(ctx, twoNodes(t, "c1"))
			if err != nil {
				t.Fatal(err)
			}
			if len(results) != 2 {
				t.Fatalf("results %+v", results)
			}
			for _, r := range results {
				if !r.Success || r.Instance != "instance-1" || r.Node == "" {
					t.Fatalf("result %+v", r)
				}
			}
			nodes, err := a.GetNodes(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(nodes) != 2 {
				t.Fatalf("nodes %+v", nodes)
			}
			pids := map[string]int{}
			for _, n := range nodes {
				if n.State != "RUNNING" || n.PID == nil || n.MgmtRole != "NONE" {
					t.Fatalf("node %+v", n)
				}
				if !alive(*n.PID, "zeek."+n.Node) {
					t.Fatalf("node %s: pid %d is not zeek.%s", n.Node, *n.PID, n.Node)
				}
				pids[n.Node] = *n.PID
			}
			if role := nodeByName(nodes, "manager").ClusterRole; role != "MANAGER" {
				t.Fatalf("manager's cluster role %q", role)
			}
			// The same id again is answered at once, nodes untouched.
			if _, err := a.Deploy(ctx, twoNodes(t, "c1")); err != nil {
				t.Fatal(err)
			}
			if again, _ := a.GetNodes(ctx); *nodeByName(again, "w1").PID != pids["w1"] {
				t.Fatal("same-id deploy restarted a node")
			}
			result, err := a.Standby(ctx)
			if err != nil || !result.Success {
				t.Fatalf("standby %+v %v", result, err)
			}
			for name, pid := range pids {
				if alive(pid, "zeek."+name) {
					t.Fatalf("node %s (pid %d) still running after standby", name, pid)
				}
			}
			if nodes, _ := a.GetNodes(ctx); len(nodes) != 0 {
				t.Fatalf("nodes after standby: %+v", nodes)
			}
		})
	}
}

// Close stops the nodes (StopNodesOnFree defaults to true).
func TestCloseStopsNodes(t *testing.T) {
	a := newAgent(t, processOptions(t, Polled))
	ctx := withTimeout(t, 30*time.Second)
	if _, err := a.Deploy(ctx, twoNodes(t, "c1")); err != nil {
		t.Fatal(err)
	}
	nodes, err := a.GetNodes(ctx)
	if err != nil || len(nodes) != 2 {
		t.Fatalf("%+v %v", nodes, err)
	}
	_ = a.Close()
	for _, n := range nodes {
		if err := syscall.Kill(*n.PID, 0); err == nil && alive(*n.PID, "zeek."+n.Node) {
			t.Fatalf("node %s still running after Close", n.Node)
		}
	}
}

func nodeByName(nodes []NodeStatus, name string) NodeStatus {
	for _, n := range nodes {
		if n.Node == name {
			return n
		}
	}
	return NodeStatus{}
}
