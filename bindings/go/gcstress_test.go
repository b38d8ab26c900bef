//go:build zma_gcstress

package zeekagent

import (
	"runtime"
	"testing"
)

// The stress build really collects around C calls: without this check a
// build that lost the tag's effect would pass for a stress run.
func TestGCStressCollectsAroundEveryCCall(t *testing.T) {
	a := newAgent(t, Options{Mode: Polled, Supervisor: hostSupervisor()})
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	before := stats.NumGC
	if err := a.Poll(0); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&stats)
	if stats.NumGC < before+2 {
		t.Fatalf("%d collections around one C call, want 2", stats.NumGC-before)
	}
}
