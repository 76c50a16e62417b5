// Package cpugate bounds how many goroutines run CPU-bound work, such as
// signature checks, at the same time.
//
// A node serves every request on its own goroutine. When requests arrive
// faster than the CPUs can check their signatures, thousands of goroutines
// become runnable at once, and the Go scheduler serves them in turn: a
// latency-sensitive goroutine that wakes up (a Raft heartbeat, a leader's
// lease check) waits behind the whole queue. Past a few hundred
// milliseconds of such waiting Raft leaders step down, in-flight envelopes
// are re-routed and re-checked, and throughput collapses instead of
// levelling off. A Gate keeps the goroutines that wait for CPU work blocked
// (not runnable) until a slot is free, so the run queue stays about as
// long as there are CPUs.
package cpugate

import (
	"context"
	"runtime"
)

// Gate is a counting semaphore for CPU-bound work.
type Gate struct {
	slots chan struct{}
}

// New returns a gate admitting n goroutines at a time (n < 1: GOMAXPROCS).
func New(n int) *Gate {
	if n < 1 {
		n = runtime.GOMAXPROCS(0)
	}
	return &Gate{slots: make(chan struct{}, n)}
}

// Enter waits for a slot, or returns ctx's error if ctx ends first. A
// successful Enter must be followed by one Leave.
func (g *Gate) Enter(ctx context.Context) error {
	select {
	case g.slots <- struct{}{}:
		return nil
	default:
	}
	select {
	case g.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Leave frees the slot taken by Enter.
func (g *Gate) Leave() {
	<-g.slots
}

// Size is how many goroutines the gate admits at a time.
func (g *Gate) Size() int {
	return cap(g.slots)
}
