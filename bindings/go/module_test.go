package zeekagent

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// userProgram is a program of another module: it creates an agent, asks
// for the welcome and the nodes, and prints the welcome response, then
// "nodes <n>".
const userProgram = `package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/zeek-mgmt-agent/zeek-mgmt-agent/zeekagent"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	stateDir, err := os.MkdirTemp("", "hello-agent-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stateDir)
	agent, err := zeekagent.New(zeekagent.Options{Name: "hello", Mode: zeekagent.Polled, StateDir: stateDir})
	if err != nil {
		return err
	}
	defer agent.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	welcome, err := agent.Request(ctx, []byte(` + "`" + `{"event": "agent_welcome_request", "args": {"reqid": "w1"}}` + "`" + `), "w1")
	if err != nil {
		return err
	}
	nodes, err := agent.GetNodes(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("%s\nnodes %d\n", welcome.JSON, len(nodes))
	return nil
}
`

// goCommand runs the go command in dir, with the module proxy off: using
// the package from a checkout must need no network.
func goCommand(t *testing.T, dir string, args ...string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on PATH: %v", err)
	}
	cmd := exec.Command(goTool, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOWORK=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s (in %s): %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

// The package used from a new module outside the checkout, in both ways
// README.md documents, with its commands: a replace directive, and a
// workspace. The program builds, links the library and gets its answers.
func TestUseFromAnotherModule(t *testing.T) {
	const path = "github.com/zeek-mgmt-agent/zeek-mgmt-agent/zeekagent"
	checkout, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	// README: build the C library in the checkout first (cargo: a no-op
	// when it is up to date).
	goCommand(t, checkout, "generate", "./...")

	for _, way := range []struct {
		name     string
		commands [][]string
	}{
		{"replace", [][]string{
			{"mod", "init", "example.com/hello"},
			{"mod", "edit", "-require=" + path + "@v0.0.0", "-replace=" + path + "=" + checkout},
			{"mod", "tidy"},
			{"build", "./..."},
		}},
		{"workspace", [][]string{
			{"mod", "init", "example.com/hello"},
			{"work", "init", "."},
			{"work", "use", checkout},
			{"build", "./..."},
		}},
	} {
		t.Run(way.name, func(t *testing.T) {
			dir := t.TempDir()
			if rel, err := filepath.Rel(filepath.Dir(filepath.Dir(checkout)), dir); err != nil || !strings.HasPrefix(rel, "..") {
				t.Fatalf("%s is inside the checkout", dir)
			}
			if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(userProgram), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, args := range way.commands {
				goCommand(t, dir, args...)
			}
			if way.name == "workspace" {
				if mod, _ := os.ReadFile(filepath.Join(dir, "go.mod")); strings.Contains(string(mod), path) {
					t.Fatalf("the workspace way edited go.mod:\n%s", mod)
				}
			}
			out := goCommand(t, dir, "run", ".")
			welcomeJSON, nodes, _ := strings.Cut(strings.TrimSpace(out), "\n")
			var welcome struct {
				Event string `json:"event"`
				Args  struct {
					ReqID  string `json:"reqid"`
					Result Result `json:"result"`
				} `json:"args"`
			}
			if err := json.Unmarshal([]byte(welcomeJSON), &welcome); err != nil {
				t.Fatalf("output %q: %v", out, err)
			}
			if welcome.Event != "Management::Agent::API::agent_welcome_response" || welcome.Args.ReqID != "w1" ||
				!welcome.Args.Result.Success || welcome.Args.Result.Instance != "hello" {
				t.Fatalf("welcome response %s", welcomeJSON)
			}
			if nodes != "nodes 0" {
				t.Fatalf("output %q", out)
			}
		})
	}
}
