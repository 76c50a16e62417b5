package wasm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/blossom-ledger/blossom/internal/chaincode"
	"github.com/blossom-ledger/blossom/internal/chaincode/ccpackage"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/sdk/contract"
	"github.com/blossom-ledger/blossom/sdk/contract/wasmabi"
)

// An instance's life: the first instance of a module is initialised cold
// (the host writes the data segments, then runs _initialize and
// blossom_warmup, all under a fixed virtual clock, random seed and
// budget), and its state is captured as the module's snapshot: the bytes
// of its linear memory (with the dirty map cleared) and the values of its
// mutable globals. Every later instance is instantiated without data (the
// rewriter removed the data section) on a memory created as a copy of
// the snapshot. After each invocation an instance is reset to the
// snapshot (the granules marked in the dirty map copied back, every
// mutable global set) before it serves another one, or discarded if the
// invocation failed or grew the memory (a WebAssembly memory cannot
// shrink, and a larger memory would change when a later growth hits the
// cap).
//
// Why this is the whole state: a Go wasip1 module keeps everything in its
// linear memory (heap, goroutine stacks, runtime structures) and in a few
// mutable globals (the stack pointer SP, the current goroutine, the
// registers the Go ABI keeps in globals); tables are never written
// (table.set/grow/fill/init/copy are refused by the rewriter), the module
// has no data segments left to read (memory.init, data.drop are
// refused), and the host functions keep their per-invocation state in the
// session, which is rebuilt for every invocation. Two instances with
// equal memory and globals therefore behave identically, and so do two
// endorsers: the warm-up is deterministic, so their snapshots are equal
// too (TestDeterministicAcrossEndorsers compares them byte for byte).

// warmupFuel is the budget of a module's initialisation and warm-up: about
// two seconds (kvtest's spend half a million units). A module that
// exceeds it is refused at install. A variable for tests.
var warmupFuel uint64 = 2_000_000_000

// Fixed parameters of the warm-up.
const (
	// warmupRealtime is the realtime clock during the warm-up.
	warmupRealtime = int64(946684800) * 1e9 // 2000-01-01T00:00:00Z
	// warmupMonotonic is the monotonic clock at the start of the warm-up.
	warmupMonotonic = int64(1e9)
)

// module is one compiled chaincode module, its snapshot and its pool of
// idle instances. Packages with the same wasm bytes share it.
type module struct {
	rt       *Runtime
	hash     string // hex SHA-256 of the package's wasm
	compiled wazero.CompiledModule
	meta     *instrumented
	snap     snapshot

	mu      sync.Mutex
	idle    []*instance
	maxIdle int
	closed  bool
}

type snapshot struct {
	memory  []byte
	globals []uint64
	// shift is the granule shift of the dirty map: DirtyMapSize granules
	// of 1<<shift bytes cover memory.
	shift uint32
	// monotonic is the monotonic clock where the warm-up left it.
	monotonic int64
}

// instance is one instantiation of a module. It runs one invocation at a
// time.
type instance struct {
	m       *module
	mod     api.Module
	mem     *linearMemory
	fuel    api.MutableGlobal
	shift   api.MutableGlobal // the dirty map's granule shift
	globals []api.MutableGlobal
	invoke  api.Function
	stack   [1]uint64
	sess    session
}

// session is the host-side state of one invocation.
type session struct {
	mem    *linearMemory
	fuel   api.MutableGlobal
	stub   contract.Stub
	staged []byte

	realBase, monoBase, elapsed int64
	random                      randomStream

	output        []byte
	outputDropped int

	iters      map[uint64]any
	nextHandle uint64
	resp       wasmabi.Encoder
	invocation wasmabi.Encoder
}

type sessionKey struct{}

func sessionFrom(ctx context.Context) *session {
	s, _ := ctx.Value(sessionKey{}).(*session)
	if s == nil {
		panic(errors.New("wasm host function called outside an invocation"))
	}
	return s
}

// charge spends n units of fuel on behalf of a host function and ends
// the invocation if the budget is spent.
func (s *session) charge(n uint64) {
	left := int64(s.fuel.Get()) - int64(n)
	s.fuel.Set(uint64(left))
	if left < 0 {
		panic(errOutOfFuel)
	}
}

var errOutOfFuel = errors.New("out of fuel")

// newInstance instantiates m: cold (and then snapshots it) when m has no
// snapshot yet, else from the snapshot.
func (m *module) newInstance(ctx context.Context) (*instance, error) {
	mem := &linearMemory{limit: ccpackage.MaxMemoryBytes}
	ictx := experimental.WithMemoryAllocator(ctx, &allocator{mem: mem, snapshot: m.snap.memory})
	mod, err := m.rt.wz.InstantiateModule(ictx, m.compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		return nil, err
	}
	inst := &instance{m: m, mod: mod, mem: mem, invoke: mod.ExportedFunction(wasmabi.ExportInvoke)}
	inst.sess.mem = mem
	inst.sess.iters = make(map[uint64]any)
	fuel, ok1 := mod.ExportedGlobal(fuelExport).(api.MutableGlobal)
	shift, ok2 := mod.ExportedGlobal(shiftExport).(api.MutableGlobal)
	if !ok1 || !ok2 || inst.invoke == nil {
		mod.Close(ctx)
		return nil, errors.New("instrumented module lacks its exports")
	}
	inst.fuel, inst.shift = fuel, shift
	inst.sess.fuel = fuel
	for _, name := range m.meta.globals {
		g, ok := mod.ExportedGlobal(name).(api.MutableGlobal)
		if !ok {
			mod.Close(ctx)
			return nil, fmt.Errorf("instrumented module lacks global %s", name)
		}
		inst.globals = append(inst.globals, g)
	}
	if m.snap.memory == nil {
		err = inst.coldStart(ctx)
	} else {
		err = inst.load()
	}
	if err != nil {
		mod.Close(ctx)
		return nil, err
	}
	return inst, nil
}

// coldStart writes the data segments, runs _initialize and the warm-up,
// and takes the module's snapshot.
func (inst *instance) coldStart(ctx context.Context) error {
	m := inst.m
	for i, d := range m.meta.data {
		dst, ok := inst.mem.slice(d.offset, uint32(len(d.init)))
		if !ok {
			return refuse("data segment %d does not fit in the initial memory", i)
		}
		copy(dst, d.init)
	}
	s := &inst.sess
	s.begin(nil, warmupRealtime, warmupMonotonic, newRandomStream("blossom wasm warm-up", m.hash))
	inst.fuel.Set(warmupFuel)
	cctx := context.WithValue(ctx, sessionKey{}, s)
	for _, name := range []string{wasmabi.ExportInitialize, wasmabi.ExportWarmup} {
		fn := inst.mod.ExportedFunction(name)
		if fn == nil {
			return refuse("module does not export %s", name)
		}
		if _, err := fn.Call(cctx); err != nil {
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case int64(inst.fuel.Get()) < 0:
				return refuse("%s exceeded the warm-up budget of %d fuel units", name, warmupFuel)
			}
			reason := trapMessage(err)
			var exit *exitError
			if errors.As(err, &exit) {
				reason = fmt.Sprintf("exited with code %d", exit.code)
			}
			return refuse("%s failed: %s%s", name, reason, outputTail(s.output))
		}
	}
	// The warm-up's marks are not part of the state.
	if len(inst.mem.buf) < DirtyMapSize {
		return refuse("memory smaller than %d bytes", DirtyMapSize)
	}
	clear(inst.mem.buf[:DirtyMapSize])
	m.snap = snapshot{
		memory:    bytes.Clone(inst.mem.buf),
		globals:   make([]uint64, len(inst.globals)),
		shift:     granuleShift(uint64(len(inst.mem.buf))),
		monotonic: s.monoBase + s.elapsed,
	}
	for i, g := range inst.globals {
		m.snap.globals[i] = g.Get()
	}
	inst.startTracking()
	if len(s.output) > 0 {
		m.rt.log.Info("chaincode warm-up output", "module", m.hash, "output", string(s.output))
	}
	return nil
}

func outputTail(out []byte) string {
	line := fatalLine(out)
	if line == "" {
		return ""
	}
	return " (" + line + ")"
}

// load brings a fresh instance to the snapshot.
func (inst *instance) load() error {
	snap := &inst.m.snap
	if have, want := uint32(len(inst.mem.buf)), uint32(len(snap.memory)); have < want {
		if _, ok := inst.mod.Memory().Grow((want - have) / ccpackage.PageSize); !ok {
			return errors.New("cannot grow memory to the snapshot's size")
		}
	}
	if len(inst.mem.buf) != len(snap.memory) {
		return errors.New("memory does not match the snapshot's size")
	}
	// The allocator created the memory as a copy of the snapshot.
	inst.restoreGlobals()
	inst.startTracking()
	return nil
}

// granuleShift returns the smallest shift (at least 12: 4 KiB granules)
// for which DirtyMapSize granules cover size bytes.
func granuleShift(size uint64) uint32 {
	shift := uint32(12)
	for uint64(DirtyMapSize)<<shift < size {
		shift++
	}
	return shift
}

// startTracking starts dirty tracking on an instance in the snapshot's
// state (whose dirty map is clear).
func (inst *instance) startTracking() {
	inst.shift.Set(uint64(inst.m.snap.shift))
	inst.mem.shift = inst.m.snap.shift
	inst.mem.tracking = true
}

// reset restores the snapshot: the memory granules marked in the dirty
// map (by the module or the host), or all memory if the map's own
// granule was written, then every mutable global. The memory must have
// the snapshot's size. A store marks the granule of its first byte and
// writes at most 8 bytes, so the 8 bytes after each dirty granule are
// restored too.
func (inst *instance) reset() {
	snap := &inst.m.snap
	mem := inst.mem.buf
	dirty := mem[:DirtyMapSize]
	if dirty[0] != 0 {
		copy(mem, snap.memory)
	} else {
		size := len(snap.memory)
		granule := 1 << snap.shift
		granules := min((size+granule-1)/granule, DirtyMapSize)
		for i := 1; i < granules; i++ {
			// Skip eight clean entries at a time.
			if i%8 == 0 && i+8 <= granules && binary.LittleEndian.Uint64(dirty[i:]) == 0 {
				i += 7
				continue
			}
			if dirty[i] != 0 {
				lo := i * granule
				hi := min(lo+granule+8, size)
				copy(mem[lo:hi], snap.memory[lo:hi])
			}
		}
		clear(dirty)
	}
	inst.restoreGlobals()
}

func (inst *instance) restoreGlobals() {
	for i, g := range inst.globals {
		g.Set(inst.m.snap.globals[i])
	}
}

func (inst *instance) close() {
	inst.mod.Close(context.Background())
}

// begin prepares the session for an invocation.
func (s *session) begin(stub contract.Stub, realtime, monotonic int64, random randomStream) {
	s.stub = stub
	s.staged = nil
	s.realBase, s.monoBase, s.elapsed = realtime, monotonic, 0
	s.random = random
	s.output = s.output[:0]
	s.outputDropped = 0
	clear(s.iters)
	s.nextHandle = 0
}

// end drops the invocation's references.
func (s *session) end() {
	s.stub = nil
	s.staged = nil
	clear(s.iters)
	if cap(s.resp.Buf) > 1<<20 {
		s.resp.Buf = nil
	}
	if cap(s.invocation.Buf) > 1<<20 {
		s.invocation.Buf = nil
	}
}

// acquire returns an idle instance or a new one.
func (m *module) acquire(ctx context.Context) (*instance, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, errClosed
	}
	if n := len(m.idle); n > 0 {
		inst := m.idle[n-1]
		m.idle = m.idle[:n-1]
		m.mu.Unlock()
		return inst, nil
	}
	m.mu.Unlock()
	return m.newInstance(ctx)
}

// release resets inst and keeps it idle, or discards it.
func (m *module) release(inst *instance, reusable bool) {
	inst.sess.end()
	if !reusable || len(inst.mem.buf) != len(m.snap.memory) {
		inst.close()
		return
	}
	inst.reset()
	m.mu.Lock()
	if !m.closed && len(m.idle) < m.maxIdle {
		m.idle = append(m.idle, inst)
		m.mu.Unlock()
		return
	}
	m.mu.Unlock()
	inst.close()
}

func (m *module) close() {
	m.mu.Lock()
	idle := m.idle
	m.idle, m.closed = nil, true
	m.mu.Unlock()
	for _, inst := range idle {
		inst.close()
	}
}

var errClosed = errors.New("wasm runtime is closed")

// Deterministic refusals. Each is a pure function of the chaincode, its
// input and the state it read, so every endorser answers alike.
func budgetExceeded(name string) string {
	return fmt.Sprintf("chaincode %s exceeded its execution budget", name)
}
func memoryExceeded(name string) string {
	return fmt.Sprintf("chaincode %s exceeded its memory limit", name)
}

// run performs one invocation on inst. reusable says whether inst may
// serve another invocation after a reset. An error means the runtime
// could not give a verdict (the context ended, the wall-clock backstop
// fired, or the host failed): nothing must be endorsed.
func (inst *instance) run(ctx context.Context, stub contract.Stub, name, function string, args [][]byte, limits ccpackage.Limits) (resp *pb.Response, reusable bool, err error) {
	s := &inst.sess
	e := &s.invocation
	e.Reset()
	wasmabi.EncodeInvocation(e, wasmabi.Invocation{Function: function, Args: args})
	if len(e.Buf) > wasmabi.MaxMessage {
		return refusal("invocation of chaincode %s is %d bytes (at most %d)", name, len(e.Buf), wasmabi.MaxMessage), true, nil
	}
	if uint64(len(inst.m.snap.memory)) > limits.MemoryBytes {
		return refusal("%s", memoryExceeded(name)), true, nil
	}
	s.begin(stub, stub.GetTxTimestamp().UnixNano(), inst.m.snap.monotonic, newRandomStream("blossom wasm random", stub.GetTxID(), name))
	s.staged = e.Buf
	inst.mem.limit, inst.mem.limitHit = limits.MemoryBytes, false
	inst.fuel.Set(limits.Fuel)

	cctx := context.WithValue(ctx, sessionKey{}, s)
	var cancel context.CancelFunc
	if d := inst.m.rt.cfg.WallClockLimit; d > 0 {
		cctx, cancel = context.WithTimeout(cctx, d)
		defer cancel()
	}
	inst.stack[0] = uint64(len(e.Buf))
	callErr := inst.invoke.CallWithStack(cctx, inst.stack[:])
	if callErr != nil {
		resp, err := inst.classify(ctx, cctx, name, callErr)
		return resp, false, err
	}
	packed := inst.stack[0]
	out, ok := inst.mem.slice(uint32(packed>>32), uint32(packed))
	if !ok || len(out) > wasmabi.MaxMessage {
		return refusal("chaincode %s returned a malformed result", name), false, nil
	}
	res, derr := wasmabi.DecodeResult(out)
	if derr != nil {
		return refusal("chaincode %s returned a malformed result", name), false, nil
	}
	switch res.Status {
	case wasmabi.ResultOK:
		var payload []byte
		if res.Payload != nil {
			payload = bytes.Clone(res.Payload)
		}
		resp = &pb.Response{Status: chaincode.StatusOK, Payload: payload}
	case wasmabi.ResultPanic:
		resp = &pb.Response{Status: chaincode.StatusError, Message: fmt.Sprintf("chaincode %s panicked: %s", name, res.Message)}
	default:
		resp = &pb.Response{Status: chaincode.StatusError, Message: res.Message}
	}
	return resp, true, nil
}

func refusal(format string, args ...any) *pb.Response {
	return &pb.Response{Status: chaincode.StatusError, Message: fmt.Sprintf(format, args...)}
}

// ErrWallClock is wrapped by Invoke's error when an invocation ran past
// Config.WallClockLimit. It is not a verdict: endorsers must not sign.
var ErrWallClock = errors.New("chaincode ran past the wall-clock backstop")

// classify turns a failed call into a verdict or a runtime error.
func (inst *instance) classify(ctx, cctx context.Context, name string, callErr error) (*pb.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cctx.Err() != nil {
		return nil, fmt.Errorf("chaincode %s: %w (%v)", name, ErrWallClock, inst.m.rt.cfg.WallClockLimit)
	}
	if int64(inst.fuel.Get()) < 0 {
		return refusal("%s", budgetExceeded(name)), nil
	}
	if inst.mem.limitHit {
		return refusal("%s", memoryExceeded(name)), nil
	}
	var exit *exitError
	if errors.As(callErr, &exit) {
		msg := fmt.Sprintf("chaincode %s exited with code %d", name, exit.code)
		if line := fatalLine(inst.sess.output); line != "" {
			msg += ": " + line
		}
		return refusal("%s", msg), nil
	}
	if errors.Is(callErr, errGuestMemory) {
		return refusal("chaincode %s made a host call with an invalid memory range", name), nil
	}
	var rtErr runtime.Error
	if errors.As(callErr, &rtErr) || !strings.HasPrefix(callErr.Error(), "wasm error: ") {
		// A panic in the host, not a trap of the guest.
		return nil, fmt.Errorf("chaincode %s: host failure: %w", name, callErr)
	}
	msg := fmt.Sprintf("chaincode %s trapped: %s", name, trapMessage(callErr))
	if line := fatalLine(inst.sess.output); line != "" {
		msg += " (" + line + ")"
	}
	return refusal("%s", msg), nil
}

// trapMessage is the first line of a wazero error without its prefix:
// the trap's kind ("unreachable", "integer divide by zero", ...).
func trapMessage(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return strings.TrimPrefix(msg, "wasm error: ")
}

// fatalLine returns the first "fatal error: ..." or "panic: ..." line the
// Go runtime printed before it ended the module, or "".
func fatalLine(out []byte) string {
	for line := range strings.SplitSeq(string(out), "\n") {
		if strings.HasPrefix(line, "fatal error: ") || strings.HasPrefix(line, "panic: ") {
			if len(line) > 256 {
				line = line[:256]
			}
			return strings.ToValidUTF8(line, "\uFFFD")
		}
	}
	return ""
}

// logOutput sends an invocation's captured output to the log.
func (r *Runtime) logOutput(name string, stub contract.Stub, s *session) {
	if len(s.output) == 0 {
		return
	}
	attrs := []any{"chaincode", name, "txID", stub.GetTxID(), "output", string(s.output)}
	if s.outputDropped > 0 {
		attrs = append(attrs, "droppedBytes", s.outputDropped)
	}
	r.log.Info("chaincode output", attrs...)
}
