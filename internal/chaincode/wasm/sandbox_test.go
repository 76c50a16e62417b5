package wasm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/chaincode"
	"github.com/blossom-ledger/blossom/internal/chaincode/ccpackage"
)

// envReport is what p:Env returns.
type envReport struct {
	Now        string   `json:"now"`
	TxTime     string   `json:"txTime"`
	Slept      string   `json:"slept"`
	CryptoRand string   `json:"cryptoRand"`
	MathRand   int64    `json:"mathRand"`
	MapOrder   string   `json:"mapOrder"`
	Goroutines string   `json:"goroutines"`
	Counter    int      `json:"counter"`
	Environ    []string `json:"environ"`
	Args       []string `json:"args"`
}

func runOK(t *testing.T, rt *Runtime, e *txEnv, txID, cc, fn string, args ...string) *chaincode.Result {
	t.Helper()
	res := simulate(t, rt, e.state, e.tx(txID, cc, fn, args...))
	if res.Response.Status != chaincode.StatusOK {
		t.Fatalf("%s %s: status %d %q", cc, fn, res.Response.Status, res.Response.Message)
	}
	return res
}

func runEnv(t *testing.T, rt *Runtime, e *txEnv, txID string) (envReport, []byte) {
	t.Helper()
	res := runOK(t, rt, e, txID, "probe", "p:Env")
	var r envReport
	if err := json.Unmarshal(res.Response.Payload, &r); err != nil {
		t.Fatalf("p:Env payload %q: %v", res.Response.Payload, err)
	}
	return r, res.Response.Payload
}

// TestDeterministicAcrossEndorsers runs the same transactions on two
// runtimes ("endorsers"): clock, randomness, map order, goroutine
// scheduling and global state agree, and nothing carries over from one
// transaction to the next.
func TestDeterministicAcrossEndorsers(t *testing.T) {
	e := newTxEnv(t)
	endorser1 := newTestRuntime(t, Config{MaxIdleInstances: 1}, "probe")
	endorser2 := newTestRuntime(t, Config{MaxIdleInstances: 1}, "probe")

	m1 := endorser1.defs["probe"].pkg.module
	m2 := endorser2.defs["probe"].pkg.module
	if m1 == m2 {
		t.Fatal("the endorsers share a module: the test would prove nothing")
	}
	if !bytes.Equal(m1.snap.memory, m2.snap.memory) || !slicesEqual(m1.snap.globals, m2.snap.globals) {
		t.Fatal("the endorsers' warm-up snapshots differ")
	}

	first, raw1 := runEnv(t, endorser1, e, "tx-1")
	for i, rt := range []*Runtime{endorser1, endorser2, endorser2, endorser1} {
		_, raw := runEnv(t, rt, e, "tx-1")
		if !bytes.Equal(raw, raw1) {
			t.Fatalf("run %d differs:\n%s\n%s", i, raw, raw1)
		}
	}
	if first.Counter != 1 {
		t.Fatalf("global counter %d: state leaked between transactions", first.Counter)
	}
	if first.TxTime != txTime.Format(time.RFC3339Nano) {
		t.Fatalf("tx time %s", first.TxTime)
	}
	now, err := time.Parse(time.RFC3339Nano, first.Now)
	if err != nil || now.Before(txTime) || now.After(txTime.Add(time.Second)) {
		t.Fatalf("virtual clock reads %s (tx time %s)", first.Now, txTime)
	}
	if slept, _ := time.ParseDuration(first.Slept); slept < 10*time.Millisecond || slept > 11*time.Millisecond {
		t.Fatalf("time.Sleep(10ms) took %s on the virtual clock", first.Slept)
	}
	if len(first.Environ) != 0 || len(first.Args) != 0 {
		t.Fatalf("environment %v, args %v: want none", first.Environ, first.Args)
	}
	if first.Goroutines == "" || len(strings.Split(first.MapOrder, ",")) != 64 {
		t.Fatalf("report %+v", first)
	}

	// Another transaction ID seeds another random stream; the rest of the
	// observable environment is the same.
	other, rawOther := runEnv(t, endorser2, e, "tx-2")
	if other.CryptoRand == first.CryptoRand {
		t.Fatal("crypto/rand does not depend on the transaction ID")
	}
	if _, raw := runEnv(t, endorser1, e, "tx-2"); !bytes.Equal(raw, rawOther) {
		t.Fatalf("tx-2 differs between endorsers:\n%s\n%s", raw, rawOther)
	}
}

func slicesEqual(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSandboxDeniesFilesAndSockets: no file and no network is reachable.
func TestSandboxDeniesFilesAndSockets(t *testing.T) {
	rt := newTestRuntime(t, Config{}, "probe")
	e := newTxEnv(t)
	tests := []struct {
		fn, arg string
	}{
		{"p:ReadFile", "/etc/passwd"},
		{"p:ReadFile", "go.mod"},
		{"p:ReadFile", "."},
		{"p:Dial", "127.0.0.1:22"},
		{"p:Dial", "example.com:443"},
	}
	for _, tt := range tests {
		t.Run(tt.fn+" "+tt.arg, func(t *testing.T) {
			res := simulate(t, rt, e.state, e.tx("tx", "probe", tt.fn, tt.arg))
			if res.Response.Status != chaincode.StatusError || len(res.Response.Payload) != 0 {
				t.Fatalf("status %d payload %q: want a refusal", res.Response.Status, res.Response.Payload)
			}
			t.Logf("refused: %s", res.Response.Message)
		})
	}
}

// TestLimitsFailDeterministically: an infinite loop and a 1 GiB
// allocation fail with the same fixed message on two endorsers, and each
// serves the next transaction.
func TestLimitsFailDeterministically(t *testing.T) {
	e := newTxEnv(t)
	limits := ccpackage.Limits{Fuel: 50_000_000, MemoryBytes: 64 << 20}
	var endorsers []*Runtime
	for i := 0; i < 2; i++ {
		rt := newTestRuntime(t, Config{}, "probe")
		if err := rt.Define("probe", rt.Installed()[0], limits); err != nil {
			t.Fatal(err)
		}
		endorsers = append(endorsers, rt)
	}
	tests := []struct {
		fn, arg, want string
	}{
		{"p:Loop", "", "chaincode probe exceeded its execution budget"},
		{"p:Alloc", "1073741824", "chaincode probe exceeded its memory limit"},
		{"p:Alloc", "67108864", "chaincode probe exceeded its memory limit"},
	}
	for _, tt := range tests {
		t.Run(tt.fn+tt.arg, func(t *testing.T) {
			for i, rt := range endorsers {
				var args []string
				if tt.arg != "" {
					args = []string{tt.arg}
				}
				res := simulate(t, rt, e.state, e.tx("tx-limit", "probe", tt.fn, args...))
				if res.Response.Status != chaincode.StatusError || res.Response.Message != tt.want {
					t.Fatalf("endorser %d: status %d %q, want %q", i, res.Response.Status, res.Response.Message, tt.want)
				}
				if res.RWSet != nil {
					t.Fatalf("endorser %d: a failed transaction has a read/write set", i)
				}
				// The next transaction runs normally.
				if r, _ := runEnv(t, rt, e, "tx-next"); r.Counter != 1 {
					t.Fatalf("endorser %d: counter %d after a failure", i, r.Counter)
				}
			}
		})
	}
	// Within the limits, allocation works.
	res := runOK(t, endorsers[0], e, "tx-alloc", "probe", "p:Alloc", "8388608")
	if string(res.Response.Payload) != "8388608" {
		t.Fatalf("payload %q", res.Response.Payload)
	}
}

// TestGuestFailures: panics, exits, Go runtime fatal errors; each fails
// its transaction and the next one succeeds.
func TestGuestFailures(t *testing.T) {
	rt := newTestRuntime(t, Config{}, "probe", "kvtest")
	e := newTxEnv(t)
	tests := []struct {
		cc, fn string
		args   []string
		want   string // exact message, or a prefix ending in "…"
	}{
		{"probe", "p:Panic", nil, "chaincode probe panicked: probe: deliberate panic"},
		{"kvtest", "kv:Panic", nil, "chaincode kvtest panicked: kvtest: deliberate panic"},
		{"probe", "p:Exit", []string{"3"}, "chaincode probe exited with code 3"},
		{"probe", "p:Exit", []string{"0"}, "chaincode probe exited with code 0"},
		{"probe", "p:Deadlock", nil, "chaincode probe trapped: unreachable (fatal error: all goroutines are asleep - deadlock!)"},
		{"probe", "p:Recurse", nil, "chaincode probe trapped: unreachable (fatal error: stack overflow)"},
		{"probe", "p:GoPanic", nil, "chaincode probe trapped: unreachable (panic: probe: goroutine panic)"},
	}
	for _, tt := range tests {
		t.Run(tt.fn, func(t *testing.T) {
			res := simulate(t, rt, e.state, e.tx("tx-fail", tt.cc, tt.fn, tt.args...))
			if res.Response.Status != chaincode.StatusError || res.Response.Message != tt.want {
				t.Fatalf("status %d %q, want %q", res.Response.Status, res.Response.Message, tt.want)
			}
			runOK(t, rt, e, "tx-after", "kvtest", "kv:Put", "k", "v")
			if r, _ := runEnv(t, rt, e, "tx-after"); r.Counter != 1 {
				t.Fatalf("counter %d after a failure", r.Counter)
			}
		})
	}
}

// TestOutputCaptured: stdout and stderr reach the log, bounded.
func TestOutputCaptured(t *testing.T) {
	var logs lockedBuffer
	rt := newTestRuntime(t, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, "probe")
	e := newTxEnv(t)
	runOK(t, rt, e, "tx-print", "probe", "p:Print", "hello from the guest")
	out := logs.String()
	if !strings.Contains(out, "hello from the guest") || !strings.Contains(out, "txID=tx-print") || !strings.Contains(out, "chaincode=probe") {
		t.Fatalf("log: %s", out)
	}
	logs.Reset()
	runOK(t, rt, e, "tx-big", "probe", "p:Print", strings.Repeat("x", 40<<10))
	out = logs.String()
	if !strings.Contains(out, "droppedBytes=") || len(out) > 2*maxOutput {
		t.Fatalf("large output not bounded: %d bytes logged", len(out))
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Reset()
}

// TestNoVerdictWithoutDeterminism: a cancelled context and the
// wall-clock backstop end the simulation with an error, never with a
// refusal that could be endorsed.
func TestNoVerdictWithoutDeterminism(t *testing.T) {
	e := newTxEnv(t)
	rt := newTestRuntime(t, Config{WallClockLimit: 100 * time.Millisecond}, "probe")
	if err := rt.Define("probe", rt.Installed()[0], ccpackage.Limits{Fuel: ccpackage.MaxFuel}); err != nil {
		t.Fatal(err)
	}
	_, err := chaincode.Simulate(context.Background(), rt, e.state, e.tx("tx", "probe", "p:Loop"))
	if !errors.Is(err, ErrWallClock) {
		t.Fatalf("runaway invocation: %v, want ErrWallClock", err)
	}
	runEnv(t, rt, e, "tx-next")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := rt.Invoke(ctx, nil, "probe", "p:Env", nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
}

// TestInstallAndDefine covers the package lifecycle and its refusals.
func TestInstallAndDefine(t *testing.T) {
	ctx := context.Background()
	rt, err := New(ctx, Config{CacheDir: sharedCacheDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	pkg := buildPackage(t, "kvtest")

	if _, err := rt.Install(ctx, pkg[:len(pkg)/2]); !errors.Is(err, ccpackage.ErrMalformed) {
		t.Fatalf("truncated package: %v", err)
	}
	id, err := rt.Install(ctx, pkg)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := ccpackage.Parse(pkg)
	if id != ccpackage.ID("kvtest", pkg) || p.Label != "kvtest" {
		t.Fatalf("package ID %s", id)
	}
	if again, err := rt.Install(ctx, pkg); err != nil || again != id {
		t.Fatalf("second install: %s, %v", again, err)
	}
	// The same module under another label shares the compiled module.
	relabelled, err := (&ccpackage.Package{Label: "kvtest-copy", Wasm: p.Wasm}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	id2, err := rt.Install(ctx, relabelled)
	if err != nil || len(rt.modules) != 1 || len(rt.Installed()) != 2 {
		t.Fatalf("relabelled install: %v, %d modules", err, len(rt.modules))
	}

	if err := rt.Define("kv", "nope:00", ccpackage.Limits{}); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("undefined package: %v", err)
	}
	if err := rt.Define("bad name", id, ccpackage.Limits{}); err == nil {
		t.Fatal("bad chaincode name accepted")
	}
	if err := rt.Define("kv", id, ccpackage.Limits{MemoryBytes: 1000}); err == nil {
		t.Fatal("memory limit not a multiple of the page size accepted")
	}
	if err := rt.Define("kv", id2, ccpackage.Limits{}); err != nil {
		t.Fatal(err)
	}
	if d := rt.defs["kv"]; d.limits.Fuel != DefaultFuel || d.limits.MemoryBytes != DefaultMemoryBytes {
		t.Fatalf("resolved limits %+v", d.limits)
	}
	e := newTxEnv(t)
	runOK(t, rt, e, "tx", "kv", "kv:Put", "a", "b")

	// A memory cap below the warmed-up module refuses without running.
	if err := rt.Define("kv", id, ccpackage.Limits{MemoryBytes: ccpackage.PageSize}); err != nil {
		t.Fatal(err)
	}
	res := simulate(t, rt, e.state, e.tx("tx", "kv", "kv:Put", "a", "b"))
	if res.Response.Message != "chaincode kv exceeded its memory limit" {
		t.Fatalf("tiny memory cap: %q", res.Response.Message)
	}

	rt.Undefine("kv")
	if _, err := chaincode.Simulate(ctx, rt, e.state, e.tx("tx", "kv", "kv:Put", "a", "b")); !errors.Is(err, chaincode.ErrChaincodeNotFound) {
		t.Fatalf("undefined chaincode: %v", err)
	}
	if err := rt.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Install(ctx, pkg); err == nil {
		t.Fatal("install after close succeeded")
	}
}

// TestConcurrentInvocations runs transactions from several goroutines
// (run with -race).
func TestConcurrentInvocations(t *testing.T) {
	rt := newTestRuntime(t, Config{MaxIdleInstances: 2}, "kvtest")
	e := newTxEnv(t)
	seedState(e.state)
	want := simulate(t, rt, e.state, e.tx("tx", "kvtest", "kv:Range", "", "")).Response.Payload
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				res, err := chaincode.Simulate(context.Background(), rt, e.state, e.tx("tx", "kvtest", "kv:Range", "", ""))
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(res.Response.Payload, want) {
					errs <- errors.New("payload differs under concurrency")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
