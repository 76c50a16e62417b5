package wasm

import (
	"bytes"
	"context"
	"testing"

	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// oneInstance is a chaincode.Runtime that runs every invocation on one
// given instance and leaves it unreset, so a test can inspect it.
type oneInstance struct {
	rt   *Runtime
	inst *instance
}

func (o *oneInstance) Invoke(ctx context.Context, stub contract.Stub, name, function string, args [][]byte) (*pb.Response, error) {
	resp, _, err := o.inst.run(ctx, stub, name, function, args, o.rt.defs[name].limits)
	return resp, err
}

// TestDirtyTrackingIsComplete runs transactions that exercise the heap,
// goroutines, timers, maps and the host calls, and checks after each
// that every byte outside the granules marked dirty still equals the
// snapshot (nothing escaped the marks), then that a reset restores the
// snapshot exactly.
func TestDirtyTrackingIsComplete(t *testing.T) {
	rt := newTestRuntime(t, Config{}, "kvtest", "probe")
	e := newTxEnv(t)
	seedState(e.state)
	txs := []struct {
		cc, fn string
		args   []string
	}{
		{"kvtest", "kv:Put", []string{"k", "v"}},
		{"kvtest", "kv:Range", []string{"", ""}},
		{"kvtest", "kv:History", []string{"h"}},
		{"kvtest", "kv:PutPrivate", []string{"c1", "k"}},
		{"kvtest", "kv:Whoami", nil},
		{"kvtest", "kv:Partial", []string{"t"}},
		{"kvtest", "kv:Fail", []string{"no"}},
		{"kvtest", "kv:Panic", nil},
		{"probe", "p:Env", nil},
		{"probe", "p:Alloc", []string{"100000"}},
		{"probe", "p:Print", []string{"hello"}},
		{"probe", "p:ReadFile", []string{"/etc/hosts"}},
	}
	for _, tx := range txs {
		t.Run(tx.fn, func(t *testing.T) {
			m := rt.defs[tx.cc].pkg.module
			inst, err := m.acquire(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer m.release(inst, false)
			simulate(t, &oneInstance{rt: rt, inst: inst}, e.state, e.tx("tx", tx.cc, tx.fn, tx.args...))
			snap := m.snap.memory
			if len(inst.mem.buf) != len(snap) {
				t.Fatalf("the invocation grew the memory (%d -> %d bytes): choose one that does not", len(snap), len(inst.mem.buf))
			}
			dirtyMap := inst.mem.buf[:DirtyMapSize]
			granule := 1 << m.snap.shift
			covered := make([]bool, len(snap))
			marked := 0
			for j := range dirtyMap {
				if dirtyMap[j] == 0 && j != 0 { // the map's own granule is cleared by reset
					continue
				}
				if dirtyMap[j] != 0 {
					marked++
				}
				for b := j * granule; b < min((j+1)*granule+8, len(snap)); b++ {
					covered[b] = true
				}
			}
			if dirtyMap[0] != 0 {
				t.Fatal("the map's own granule was written: every reset would copy all memory")
			}
			for b := range snap {
				if !covered[b] && snap[b] != inst.mem.buf[b] {
					t.Fatalf("byte %#x changed outside the dirty granules (granule %d bytes)", b, granule)
				}
			}
			t.Logf("%d of %d granules of %d KiB dirty", marked, (len(snap)+granule-1)/granule, granule>>10)
			inst.reset()
			if !bytes.Equal(inst.mem.buf, snap) {
				t.Fatal("reset does not restore the snapshot")
			}
			for i, g := range inst.globals {
				if g.Get() != m.snap.globals[i] {
					t.Fatalf("global %d not restored", i)
				}
			}
		})
	}
}

// TestGrownInstanceDiscarded: an instance whose memory grew is not kept.
func TestGrownInstanceDiscarded(t *testing.T) {
	rt := newTestRuntime(t, Config{}, "probe")
	e := newTxEnv(t)
	m := rt.defs["probe"].pkg.module
	inst, err := m.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	simulate(t, &oneInstance{rt: rt, inst: inst}, e.state, e.tx("tx", "probe", "p:Alloc", "16777216"))
	if len(inst.mem.buf) == len(m.snap.memory) {
		t.Fatal("a 16 MiB allocation did not grow the memory")
	}
	m.release(inst, true)
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, idle := range m.idle {
		if idle == inst {
			t.Fatal("the grown instance was kept")
		}
	}
}

// TestGranuleShift pins the granule choice.
func TestGranuleShift(t *testing.T) {
	for _, tt := range []struct {
		size  uint64
		shift uint32
	}{{0, 12}, {16 << 20, 12}, {16<<20 + 1, 13}, {5 << 20, 12}, {4 << 30, 20}} {
		if got := granuleShift(tt.size); got != tt.shift {
			t.Fatalf("granuleShift(%d) = %d, want %d", tt.size, got, tt.shift)
		}
	}
}
