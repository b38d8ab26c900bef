package zeekagent

import "testing"

// The welcome round trip, the C_API benchmark's event: a broker
// agent_welcome_request in, its agent_welcome_response out, polled mode.
//
//	go test -run '^$' -bench WelcomeRoundTrip -count 5
//
// BenchmarkWelcomeRoundTripC is the C-level figure measured in the same
// run (a C loop, one cgo call for all iterations); the package's cost is
// the difference.

func benchAgent(b *testing.B, opts Options) *Agent {
	opts.Mode = Polled
	opts.Supervisor = hostSupervisor()
	return newAgent(b, opts)
}

func BenchmarkWelcomeRoundTripC(b *testing.B) {
	a := benchAgent(b, Options{})
	welcome := fixture(b, "Management.Agent.API.agent_welcome_request.broker.json")
	b.ResetTimer()
	answers, err := baselineRoundTrips(a, welcome, b.N)
	b.StopTimer()
	if err != nil || answers != int64(b.N) {
		b.Fatalf("%d answers for %d requests: %v", answers, b.N, err)
	}
}

// Through the package: HandleRequest, then the response from Events.
func BenchmarkWelcomeRoundTripEvents(b *testing.B) {
	a := benchAgent(b, Options{})
	welcome := fixture(b, "Management.Agent.API.agent_welcome_request.broker.json")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := a.HandleRequest(welcome); err != nil {
			b.Fatal(err)
		}
		if e := <-a.Events(); e.Kind != Response {
			b.Fatalf("got %v", e.Kind)
		}
	}
}

// Through the package: HandleRequest, then the response in OnResponse.
func BenchmarkWelcomeRoundTripCallback(b *testing.B) {
	answered := make(chan struct{}, 1)
	a := benchAgent(b, Options{OnResponse: func(Event) { answered <- struct{}{} }})
	welcome := fixture(b, "Management.Agent.API.agent_welcome_request.broker.json")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := a.HandleRequest(welcome); err != nil {
			b.Fatal(err)
		}
		<-answered
	}
}
