//go:build zma_gcstress

package zeekagent

import "runtime"

// gcStressPoint runs a full garbage collection: built with -tags
// zma_gcstress, every C call is preceded and followed by one, so that a Go
// object the C side still needed would be collected and caught.
func gcStressPoint() { runtime.GC() }
