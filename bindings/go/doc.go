// Package zeekagent hosts the agent of Zeek's cluster management framework
// in a Go program: a thin cgo layer over the zeek-mgmt-agent C library.
//
// Hand the agent the controller's request events with HandleRequest; its
// responses, notifications and publications come back on the Events channel
// or through callbacks. With the built-in process supervisor the agent runs
// the Zeek cluster nodes of its instance itself.
//
//	agent, err := zeekagent.New(zeekagent.Options{Name: "instance-1", Mode: zeekagent.Polled, NodeReady: "spawn"})
//	if err != nil { ... }
//	defer agent.Close()
//	go agent.Run(ctx)                       // polled mode: timers, node exits and output
//	results, err := agent.Deploy(ctx, cfg)  // waits for the deploy_response
//	nodes, err := agent.GetNodes(ctx)
//
// # Building
//
// The package links libzeek_mgmt_agent statically by default, from the
// repository's target/release directory; build it first:
//
//	go generate github.com/zeek-mgmt-agent/zeek-mgmt-agent/zeekagent  # runs cargo build --release --lib
//
// The build tag zma_dynamic links the shared library instead (with an rpath
// to target/release).
//
// # Design
//
// No Go pointer is ever handed to C: callbacks find their agent through a
// runtime/cgo.Handle. The C callbacks only queue what they receive; a
// goroutine per agent delivers it, in order, to the callbacks or the Events
// channel, so user code never runs inside a C call and a panic in a callback
// is recovered and reported (Options.OnPanic) without ever unwinding through
// C. Errors are values: every failure is an *Error that errors.Is matches
// against the sentinel for its status code (ErrJSON, ErrEvent, ...), with
// the library's message read on the same OS thread as the failed call.
package zeekagent

//go:generate cargo build --release --lib --manifest-path ../../Cargo.toml

// The shared library's SONAME carries the ABI version (build.rs); the
// zma_dynamic build finds it through this link, as the Makefile makes it.
//go:generate ln -sf libzeek_mgmt_agent.so ../../target/release/libzeek_mgmt_agent.so.1
