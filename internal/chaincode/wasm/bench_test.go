package wasm

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/chaincode/kvtest"
	"github.com/blossom-ledger/blossom/internal/chaincode"
	"github.com/blossom-ledger/blossom/internal/chaincode/ccpackage"
	"github.com/tetratelabs/wazero"
)

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds the CPU time per op (all goroutines, GC included) as a
// metric: the figure the 300 µs goal is about.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N)/1e3, "cpu-µs/op")
}

func kvRuntimes(b *testing.B) (*chaincode.NativeRuntime, *Runtime) {
	native := chaincode.NewNativeRuntime()
	if err := native.Register("kvtest", kvtest.New()); err != nil {
		b.Fatal(err)
	}
	return native, newTestRuntime(b, Config{}, "kvtest")
}

func mustSimulate(b *testing.B, rt chaincode.Runtime, e *txEnv, tx *chaincode.Transaction) {
	res, err := chaincode.Simulate(context.Background(), rt, e.state, tx)
	if err != nil || res.Response.Status != chaincode.StatusOK {
		b.Fatal(err, res)
	}
}

// fuelUsed returns the fuel the last invocation on rt's idle instance of
// name spent, given the definition's budget.
func fuelUsed(rt *Runtime, name string) uint64 {
	d := rt.defs[name]
	m := d.pkg.module
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.idle) == 0 {
		return 0
	}
	return d.limits.Fuel - m.idle[len(m.idle)-1].fuel.Get()
}

// BenchmarkTransaction simulates kvtest transactions natively and in wasm:
// one op is one Simulate (stub, read/write set, events) of one
// transaction. Put writes a small JSON value; Range reads 10 keys and
// returns them as JSON.
func BenchmarkTransaction(b *testing.B) {
	native, wasmRT := kvRuntimes(b)
	e := newTxEnv(b)
	seedState(e.state)
	for i := 0; i < 10; i++ {
		e.state.Put("kvtest", "r"+string(rune('a'+i)), []byte(`{"owner":"Agency1MSP","seats":25,"product":"Example Suite"}`), nil)
	}
	txs := map[string]*chaincode.Transaction{
		"Put":   e.tx("tx1", "kvtest", "kv:Put", "key1", `{"a":1,"b":"two"}`),
		"Range": e.tx("tx1", "kvtest", "kv:Range", "ra", "rz"),
	}
	for _, name := range []string{"Put", "Range"} {
		tx := txs[name]
		for _, rt := range []struct {
			name string
			rt   chaincode.Runtime
		}{{"native", native}, {"wasm", wasmRT}} {
			b.Run(name+"/"+rt.name, func(b *testing.B) {
				start := cpuTime()
				for b.Loop() {
					mustSimulate(b, rt.rt, e, tx)
				}
				reportCPU(b, start)
				if rt.name == "wasm" {
					b.ReportMetric(float64(fuelUsed(wasmRT, "kvtest")), "fuel/op")
				}
			})
		}
	}
}

// BenchmarkPairedPut alternates the native and the wasm Put in one loop
// and reports wasm time / native time, which outside load affects alike.
func BenchmarkPairedPut(b *testing.B) {
	native, wasmRT := kvRuntimes(b)
	e := newTxEnv(b)
	tx := e.tx("tx1", "kvtest", "kv:Put", "key1", `{"a":1,"b":"two"}`)
	var tn, tw time.Duration
	for b.Loop() {
		t0 := time.Now()
		mustSimulate(b, native, e, tx)
		t1 := time.Now()
		mustSimulate(b, wasmRT, e, tx)
		tw += time.Since(t1)
		tn += t1.Sub(t0)
	}
	b.ReportMetric(float64(tw)/float64(tn), "wasm/native")
	b.ReportMetric(float64(tw)/float64(b.N)/1e3, "wasm-µs/op")
	b.ReportMetric(float64(tn)/float64(b.N)/1e3, "native-µs/op")
}

// BenchmarkReset measures restoring an instance after a kvtest Put: with
// the dirty map (what the runtime does) and by copying the whole
// snapshot (what it would cost without tracking).
func BenchmarkReset(b *testing.B) {
	rt := newTestRuntime(b, Config{}, "kvtest")
	e := newTxEnv(b)
	m := rt.defs["kvtest"].pkg.module
	inst, err := m.acquire(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	one := &oneInstance{rt: rt, inst: inst}
	tx := e.tx("tx1", "kvtest", "kv:Put", "key1", `{"a":1,"b":"two"}`)
	saved := make([]byte, DirtyMapSize)
	b.Run("tracked", func(b *testing.B) {
		mustSimulate(b, one, e, tx)
		copy(saved, inst.mem.buf[:DirtyMapSize])
		// Re-dirty the same granules each time: the map is restored and
		// the granules copied, as after a real transaction.
		for b.Loop() {
			copy(inst.mem.buf[:DirtyMapSize], saved)
			inst.reset()
		}
		b.SetBytes(int64(len(m.snap.memory)))
	})
	b.Run("full", func(b *testing.B) {
		for b.Loop() {
			copy(inst.mem.buf, m.snap.memory)
			inst.restoreGlobals()
		}
		b.SetBytes(int64(len(m.snap.memory)))
	})
	m.release(inst, true)
}

// BenchmarkNewInstance measures instantiating a module from its snapshot:
// the price of a transaction that trapped or grew its memory.
func BenchmarkNewInstance(b *testing.B) {
	rt := newTestRuntime(b, Config{}, "kvtest")
	m := rt.defs["kvtest"].pkg.module
	for b.Loop() {
		inst, err := m.newInstance(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		inst.close()
	}
}

// BenchmarkStart measures a runtime start: New and Install of the kvtest
// package (rewrite, compile or load from the cache, cold start, warm-up,
// snapshot). cold: an empty cache directory; warm-disk: a populated
// directory opened afresh (a restarted peer); warm-process: the process's
// shared cache while another runtime of the process has the module
// installed (a second peer in the same process).
func BenchmarkStart(b *testing.B) {
	ctx := context.Background()
	pkg := buildPackage(b, "kvtest")
	start := func(b *testing.B, cache *sharedCache) {
		rt, err := newRuntime(ctx, Config{}, cache)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := rt.Install(ctx, pkg); err != nil {
			b.Fatal(err)
		}
		rt.Close(ctx)
	}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			dir, err := os.MkdirTemp("", "blossom-bench-cache-")
			if err != nil {
				b.Fatal(err)
			}
			cache, err := wazero.NewCompilationCacheWithDir(dir)
			if err != nil {
				b.Fatal(err)
			}
			start(b, newSharedCache(cache))
			cache.Close(ctx)
			os.RemoveAll(dir)
		}
	})
	b.Run("warm-disk", func(b *testing.B) {
		dir := b.TempDir()
		cache, _ := wazero.NewCompilationCacheWithDir(dir)
		start(b, newSharedCache(cache)) // populate
		cache.Close(ctx)
		for b.Loop() {
			cache, err := wazero.NewCompilationCacheWithDir(dir)
			if err != nil {
				b.Fatal(err)
			}
			start(b, newSharedCache(cache))
			cache.Close(ctx)
		}
	})
	b.Run("warm-process", func(b *testing.B) {
		cache, err := compilationCache(sharedCacheDir(b))
		if err != nil {
			b.Fatal(err)
		}
		// Another peer of the process keeps the module compiled.
		other, err := newRuntime(ctx, Config{}, cache)
		if err != nil {
			b.Fatal(err)
		}
		defer other.Close(ctx)
		if _, err := other.Install(ctx, pkg); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			start(b, cache)
		}
	})
}

// BenchmarkFuelRate runs p:Loop until its budget of 100 million units is
// spent and reports the units spent per second of wall time: the scale
// of DefaultFuel.
func BenchmarkFuelRate(b *testing.B) {
	const budget = 100_000_000
	rt := newTestRuntime(b, Config{}, "probe")
	if err := rt.Define("probe", rt.Installed()[0], ccpackage.Limits{Fuel: budget}); err != nil {
		b.Fatal(err)
	}
	e := newTxEnv(b)
	tx := e.tx("tx", "probe", "p:Loop")
	for b.Loop() {
		res, err := chaincode.Simulate(context.Background(), rt, e.state, tx)
		if err != nil || res.Response.Message != budgetExceeded("probe") {
			b.Fatal(err, res)
		}
	}
	b.ReportMetric(budget*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mfuel/s")
}
