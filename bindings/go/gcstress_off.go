//go:build !zma_gcstress

package zeekagent

// gcStressPoint does nothing; built with -tags zma_gcstress it runs the
// garbage collector around every C call (see gcstress_on.go).
func gcStressPoint() {}
