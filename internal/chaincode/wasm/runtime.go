// Package wasm runs installed chaincode packages in WebAssembly with
// wazero: the chaincode.Runtime for chaincodes written against
// sdk/contract and built for GOOS=wasip1 GOARCH=wasm (DESIGN §7, §11).
//
//	rt, err := wasm.New(ctx, wasm.Config{CacheDir: dir, Logger: log})
//	id, err := rt.Install(ctx, pkgBytes)          // see internal/chaincode/ccpackage
//	err = rt.Define("asset", id, definitionLimits) // when a definition commits
//	res, err := chaincode.Simulate(ctx, rt, reader, tx)
//
// Execution is deterministic, so that endorsers agree byte for byte, and
// bounded:
//
//   - The module sees only the blossom host module (the Stub, see
//     sdk/contract/wasmabi) and a WASI of the runtime's own: a virtual
//     clock starting at the transaction's timestamp, randomness seeded by
//     the transaction ID, no files, no network, no arguments or
//     environment; output captured into the log. A module importing
//     anything else is refused at install, naming the import.
//   - Fuel: at install the module is rewritten so that every function
//     entry and loop header spends fuel from a budget (the definition's,
//     else the package's, else DefaultFuel); host calls spend fuel too.
//     Running out fails the transaction with "chaincode <name> exceeded
//     its execution budget" on every endorser alike. An optional
//     wall-clock backstop (Config.WallClockLimit) aborts a runaway
//     invocation with an error, never with a verdict.
//   - Memory: each invocation's linear memory is capped (the definition's
//     limit, else the package's, else DefaultMemoryBytes); reaching the cap
//     fails the transaction with "chaincode <name> exceeded its memory
//     limit".
//   - Isolation: every invocation starts from the same snapshot of the
//     module, taken after _initialize and a fixed warm-up (which runs the
//     chaincode's contract.Warmer). The rewriter also makes the module
//     record which 4 KiB granules of memory it writes, so resetting an
//     instance copies back only those (a few dozen per transaction, not
//     the whole memory). Traps, panics, exits and limit hits fail the
//     transaction (status 500, a fixed message) and discard the instance;
//     the next transaction gets a fresh one.
//
// Modules are compiled once per wasm (keyed by its SHA-256) through a
// wazero compilation cache that every Runtime of the process using the
// same directory shares (DESIGN §11).
package wasm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/blossom-ledger/blossom/internal/chaincode"
	"github.com/blossom-ledger/blossom/internal/chaincode/ccpackage"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// Defaults of the execution limits, used when neither the chaincode
// definition nor the package sets them.
const (
	// DefaultFuel is the default execution budget of one invocation:
	// about a second of computation on the development machine, which
	// spends some 0.9 billion units a second in a tight loop (see
	// docs/performance.md); a kvtest transaction spends 4 to 50 thousand.
	DefaultFuel = 1_000_000_000
	// DefaultMemoryBytes is the default memory cap: 256 MiB.
	DefaultMemoryBytes = 256 << 20
)

// Config configures a Runtime. The zero value is usable.
type Config struct {
	// CacheDir holds wazero's on-disk compilation cache. Runtimes of one
	// process with the same CacheDir share the compiled code in memory as
	// well. "" keeps compiled code in memory only (still shared by the
	// process's runtimes).
	CacheDir string
	// Logger receives chaincode output and warm-up diagnostics; nil
	// discards them.
	Logger *slog.Logger
	// MaxIdleInstances bounds the idle instances kept per module; 0 means
	// 2×GOMAXPROCS. Busy instances are not bounded here: a transaction
	// that calls a chaincode recursively holds one instance per level.
	MaxIdleInstances int
	// WallClockLimit aborts an invocation that runs longer, as a backstop
	// behind the deterministic fuel budget; the simulation then fails with
	// an error wrapping ErrWallClock (no verdict, nothing to endorse).
	// 0 disables the backstop.
	WallClockLimit time.Duration
}

// Runtime runs installed chaincode packages. It is safe for concurrent
// use.
type Runtime struct {
	cfg Config
	log *slog.Logger
	wz  wazero.Runtime
	// cache is the compilation cache wz was made with.
	cache *sharedCache

	installMu sync.Mutex // serialises Install

	mu       sync.RWMutex
	packages map[string]*installedPackage // by package ID
	modules  map[string]*module           // by hex SHA-256 of the wasm
	defs     map[string]definition        // by chaincode name
	closed   bool
}

var _ chaincode.Runtime = (*Runtime)(nil)

type installedPackage struct {
	id     string
	limits ccpackage.Limits
	module *module
}

type definition struct {
	pkg    *installedPackage
	limits ccpackage.Limits // resolved: no zero field
}

// sharedCache is a compilation cache the process's runtimes share, with
// the locks that serialise their compilations of one module.
//
// wazero v1.12 publishes a module it loads from the cache directory to
// the cache's other runtimes before it has built the module's entry
// code; a second runtime compiling the same module at that moment gets
// the half-built module and panics on instantiation. Holding the
// module's lock across CompileModule closes that window. Different
// modules still compile in parallel.
type sharedCache struct {
	cache wazero.CompilationCache

	mu        sync.Mutex
	compiling map[string]*sync.Mutex // by hex SHA-256 of the wasm
}

func newSharedCache(c wazero.CompilationCache) *sharedCache {
	return &sharedCache{cache: c, compiling: make(map[string]*sync.Mutex)}
}

// compile compiles binary, the instrumented form of the wasm whose hash
// is hash, through the shared cache: one compilation of a module at a
// time.
func (c *sharedCache) compile(ctx context.Context, wz wazero.Runtime, hash string, binary []byte) (wazero.CompiledModule, error) {
	c.mu.Lock()
	lock := c.compiling[hash]
	if lock == nil {
		lock = new(sync.Mutex)
		c.compiling[hash] = lock
	}
	c.mu.Unlock()
	lock.Lock()
	defer lock.Unlock()
	return wz.CompileModule(ctx, binary)
}

// sharedCaches holds the process's compilation caches by directory.
var sharedCaches struct {
	sync.Mutex
	byDir map[string]*sharedCache
}

func compilationCache(dir string) (*sharedCache, error) {
	if dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, err
		}
		dir = abs
	}
	sharedCaches.Lock()
	defer sharedCaches.Unlock()
	if c, ok := sharedCaches.byDir[dir]; ok {
		return c, nil
	}
	var c wazero.CompilationCache
	if dir == "" {
		c = wazero.NewCompilationCache()
	} else {
		var err error
		if c, err = wazero.NewCompilationCacheWithDir(dir); err != nil {
			return nil, fmt.Errorf("wasm compilation cache: %w", err)
		}
	}
	if sharedCaches.byDir == nil {
		sharedCaches.byDir = make(map[string]*sharedCache)
	}
	shared := newSharedCache(c)
	sharedCaches.byDir[dir] = shared
	return shared, nil
}

// New returns a Runtime with no packages.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	cache, err := compilationCache(cfg.CacheDir)
	if err != nil {
		return nil, err
	}
	return newRuntime(ctx, cfg, cache)
}

func newRuntime(ctx context.Context, cfg Config, cache *sharedCache) (*Runtime, error) {
	if cfg.MaxIdleInstances <= 0 {
		cfg.MaxIdleInstances = 2 * runtime.GOMAXPROCS(0)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	wcfg := wazero.NewRuntimeConfig().
		WithCompilationCache(cache.cache).
		WithMemoryLimitPages(ccpackage.MaxMemoryBytes / ccpackage.PageSize).
		WithCloseOnContextDone(cfg.WallClockLimit > 0)
	wz := wazero.NewRuntimeWithConfig(ctx, wcfg)
	if err := instantiateWASI(ctx, wz); err != nil {
		wz.Close(ctx)
		return nil, err
	}
	if err := instantiateHost(ctx, wz); err != nil {
		wz.Close(ctx)
		return nil, err
	}
	return &Runtime{
		cfg:      cfg,
		log:      log,
		wz:       wz,
		cache:    cache,
		packages: make(map[string]*installedPackage),
		modules:  make(map[string]*module),
		defs:     make(map[string]definition),
	}, nil
}

// Install checks, compiles and warms up a chaincode package (see
// internal/chaincode/ccpackage) and returns its package ID. Installing a
// package again is a no-op. A malformed package, or a module that imports
// what the sandbox does not provide, uses unsupported instructions, or
// fails its initialisation, is refused with an error saying why (wrapping
// ccpackage.ErrMalformed or a *ModuleError); nothing is installed then.
func (r *Runtime) Install(ctx context.Context, pkgBytes []byte) (string, error) {
	p, err := ccpackage.Parse(pkgBytes)
	if err != nil {
		return "", err
	}
	id := ccpackage.ID(p.Label, pkgBytes)

	r.installMu.Lock()
	defer r.installMu.Unlock()
	r.mu.RLock()
	closed, installed := r.closed, r.packages[id] != nil
	sum := sha256.Sum256(p.Wasm)
	hash := hex.EncodeToString(sum[:])
	m := r.modules[hash]
	r.mu.RUnlock()
	switch {
	case closed:
		return "", errClosed
	case installed:
		return id, nil
	}
	if m == nil {
		if m, err = r.load(ctx, hash, p.Wasm); err != nil {
			return "", fmt.Errorf("install %s: %w", id, err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		m.close()
		return "", errClosed
	}
	r.modules[hash] = m
	r.packages[id] = &installedPackage{id: id, limits: p.Limits, module: m}
	return id, nil
}

// load instruments, compiles and cold-starts a module.
func (r *Runtime) load(ctx context.Context, hash string, wasm []byte) (*module, error) {
	meta, err := instrument(wasm)
	if err != nil {
		return nil, err
	}
	compiled, err := r.cache.compile(ctx, r.wz, hash, meta.binary)
	if err != nil {
		return nil, &ModuleError{Reason: err.Error()}
	}
	m := &module{rt: r, hash: hash, compiled: compiled, meta: meta, maxIdle: r.cfg.MaxIdleInstances}
	inst, err := m.newInstance(ctx)
	if err != nil {
		compiled.Close(ctx)
		return nil, err
	}
	m.idle = append(m.idle, inst)
	return m, nil
}

// Installed lists the IDs of the installed packages, sorted.
func (r *Runtime) Installed() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ids := make([]string, 0, len(r.packages))
	for id := range r.packages {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// ErrNotInstalled is wrapped by Define's error for an unknown package.
var ErrNotInstalled = errors.New("chaincode package not installed")

// Define makes chaincode name run the installed package packageID under
// the limits of its committed definition: a zero field of limits takes
// the package's value, then the default (DefaultFuel,
// DefaultMemoryBytes). It replaces an earlier definition of name;
// invocations already running finish under the old one.
func (r *Runtime) Define(name, packageID string, limits ccpackage.Limits) error {
	if err := chaincode.ValidateName(name); err != nil {
		return err
	}
	if err := limits.Validate(); err != nil {
		return fmt.Errorf("chaincode %s: %w", name, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errClosed
	}
	p := r.packages[packageID]
	if p == nil {
		return fmt.Errorf("chaincode %s: %w: %s", name, ErrNotInstalled, packageID)
	}
	r.defs[name] = definition{pkg: p, limits: resolveLimits(limits, p.limits)}
	return nil
}

// resolveLimits fills the zero fields of a definition's limits from the
// package's, then from the defaults.
func resolveLimits(def, pkg ccpackage.Limits) ccpackage.Limits {
	return ccpackage.Limits{
		Fuel:        firstNonZero(def.Fuel, pkg.Fuel, DefaultFuel),
		MemoryBytes: firstNonZero(def.MemoryBytes, pkg.MemoryBytes, DefaultMemoryBytes),
	}
}

func firstNonZero(vs ...uint64) uint64 {
	for _, v := range vs {
		if v != 0 {
			return v
		}
	}
	return 0
}

// Undefine removes the definition of name, if any.
func (r *Runtime) Undefine(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.defs, name)
}

// Invoke implements chaincode.Runtime: it runs function of chaincode in
// an instance of its package's module, forwarding every Stub call to
// stub. A chaincode error, panic, trap, exit or limit hit is a refusal
// (status 500 with a deterministic message); an error means no verdict
// (ErrChaincodeNotFound, a cancelled ctx, the wall-clock backstop, a
// host failure).
func (r *Runtime) Invoke(ctx context.Context, stub contract.Stub, name, function string, args [][]byte) (*pb.Response, error) {
	r.mu.RLock()
	def, ok := r.defs[name]
	closed := r.closed
	r.mu.RUnlock()
	switch {
	case closed:
		return nil, errClosed
	case !ok:
		return nil, fmt.Errorf("%w: %s", chaincode.ErrChaincodeNotFound, name)
	}
	return r.run(ctx, stub, name, def, function, args)
}

// InvokePackage runs function of the installed package packageID as
// chaincode name under limits (resolved like Define's), without a
// definition registered by Define: for a caller that resolves the
// definition in force per transaction (the peer reads it from the
// snapshot it simulates against). An unknown package is an error wrapping
// ErrNotInstalled.
func (r *Runtime) InvokePackage(ctx context.Context, stub contract.Stub, name, packageID string, limits ccpackage.Limits, function string, args [][]byte) (*pb.Response, error) {
	if err := limits.Validate(); err != nil {
		return nil, fmt.Errorf("chaincode %s: %w", name, err)
	}
	r.mu.RLock()
	p := r.packages[packageID]
	closed := r.closed
	r.mu.RUnlock()
	switch {
	case closed:
		return nil, errClosed
	case p == nil:
		return nil, fmt.Errorf("chaincode %s: %w: %s", name, ErrNotInstalled, packageID)
	}
	return r.run(ctx, stub, name, definition{pkg: p, limits: resolveLimits(limits, p.limits)}, function, args)
}

func (r *Runtime) run(ctx context.Context, stub contract.Stub, name string, def definition, function string, args [][]byte) (*pb.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m := def.pkg.module
	inst, err := m.acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("chaincode %s: start instance: %w", name, err)
	}
	resp, reusable, err := inst.run(ctx, stub, name, function, args, def.limits)
	r.logOutput(name, stub, &inst.sess)
	m.release(inst, reusable && err == nil)
	return resp, err
}

// Close releases every instance and compiled module. Invocations running
// concurrently fail.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	modules := r.modules
	r.mu.Unlock()
	for _, m := range modules {
		m.close()
	}
	return r.wz.Close(ctx)
}
