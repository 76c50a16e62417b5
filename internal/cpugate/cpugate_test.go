package cpugate

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestNewSize(t *testing.T) {
	for _, tc := range []struct {
		n, want int
	}{
		{n: 3, want: 3},
		{n: 1, want: 1},
		{n: 0, want: runtime.GOMAXPROCS(0)},
		{n: -5, want: runtime.GOMAXPROCS(0)},
	} {
		if got := New(tc.n).Size(); got != tc.want {
			t.Errorf("New(%d).Size() = %d, want %d", tc.n, got, tc.want)
		}
	}
}

// TestGateBoundsConcurrency: however many goroutines enter, no more than
// the gate's size are inside at once, and every one gets in.
func TestGateBoundsConcurrency(t *testing.T) {
	for _, size := range []int{1, 2, 5} {
		g := New(size)
		var inside, peak, done atomic.Int64
		var wg sync.WaitGroup
		for range 200 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := g.Enter(context.Background()); err != nil {
					t.Error(err)
					return
				}
				n := inside.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				runtime.Gosched()
				inside.Add(-1)
				done.Add(1)
				g.Leave()
			}()
		}
		wg.Wait()
		if p := peak.Load(); p > int64(size) || p < 1 {
			t.Errorf("size %d: peak %d inside at once", size, p)
		}
		if done.Load() != 200 {
			t.Errorf("size %d: %d of 200 got in", size, done.Load())
		}
	}
}

// TestEnterCancelled: a full gate makes Enter wait until its context ends,
// and a freed slot admits the next waiter.
func TestEnterCancelled(t *testing.T) {
	g := New(1)
	if err := g.Enter(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := g.Enter(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Enter on a full gate: %v, want deadline exceeded", err)
	}
	entered := make(chan error, 1)
	go func() { entered <- g.Enter(context.Background()) }()
	g.Leave()
	if err := <-entered; err != nil {
		t.Fatalf("Enter after Leave: %v", err)
	}
	g.Leave()
}
