package wasm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/blossom-ledger/blossom/internal/chaincode"
	"github.com/blossom-ledger/blossom/internal/chaincode/ccpackage"
)

// A tiny assembler for hand-made test modules.

func leb(v uint32) []byte { return appendU32(nil, v) }

func wname(s string) []byte { return append(leb(uint32(len(s))), s...) }

func vec(items ...[]byte) []byte {
	out := leb(uint32(len(items)))
	for _, it := range items {
		out = append(out, it...)
	}
	return out
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func sec(id byte, payload []byte) []byte { return appendSection(nil, id, payload) }

// funcBody encodes a body without locals.
func funcBody(code ...byte) []byte {
	b := append([]byte{0}, code...) // no locals
	return append(leb(uint32(len(b))), b...)
}

// testModuleSpec describes a chaincode-shaped module: _initialize and
// blossom_warmup do nothing; blossom_invoke(i32) i64 runs invoke.
type testModuleSpec struct {
	imports [][]byte // import entries
	invoke  []byte   // body of blossom_invoke, ending with end
	extra   [][]byte // extra sections appended verbatim, in order
	globals []byte   // global section payload (nil: one mutable i32)
	exports [][]byte // extra exports
	pages   byte     // initial memory pages (0: 1)
	init    []byte   // body of _initialize (nil: end)
}

func (s testModuleSpec) build() []byte {
	types := vec(
		[]byte{0x60, 0x00, 0x00},             // 0: () -> ()
		[]byte{0x60, 0x01, 0x7F, 0x01, 0x7E}, // 1: (i32) -> i64
	)
	nImports := uint32(len(s.imports))
	globals := s.globals
	if globals == nil {
		globals = vec([]byte{0x7F, 0x01, 0x41, 0x00, 0x0B})
	}
	exports := [][]byte{
		cat(wname("_initialize"), []byte{0x00}, leb(nImports)),
		cat(wname("blossom_warmup"), []byte{0x00}, leb(nImports+1)),
		cat(wname("blossom_invoke"), []byte{0x00}, leb(nImports+2)),
		cat(wname("memory"), []byte{0x02, 0x00}),
	}
	exports = append(exports, s.exports...)
	mod := cat([]byte("\x00asm\x01\x00\x00\x00"),
		sec(secType, types))
	if len(s.imports) > 0 {
		mod = append(mod, sec(secImport, vec(s.imports...))...)
	}
	mod = append(mod, cat(
		sec(secFunction, vec([]byte{0}, []byte{0}, []byte{1})),
		sec(secMemory, vec([]byte{0x00, max(s.pages, 1)})),
		sec(secGlobal, globals),
		sec(secExport, vec(exports...)),
		sec(secCode, vec(funcBody(s.initBody()...), funcBody(0x0B), funcBody(s.invoke...))),
	)...)
	for _, x := range s.extra {
		mod = append(mod, x...)
	}
	return mod
}

func (s testModuleSpec) initBody() []byte {
	if s.init == nil {
		return []byte{0x0B}
	}
	return s.init
}

func importFunc(module, name string, typeIdx uint32) []byte {
	return cat(wname(module), wname(name), []byte{0x00}, leb(typeIdx))
}

func TestInstrumentRefuses(t *testing.T) {
	loop := []byte{0x03, 0x40, 0x0C, 0x00, 0x0B, 0x42, 0x00, 0x0B} // loop br 0 end; i64.const 0; end
	tests := []struct {
		name string
		wasm []byte
		want string
	}{
		{"not wasm", []byte("hello world"), "not a WebAssembly 1.0 binary"},
		{"forbidden module", testModuleSpec{imports: [][]byte{importFunc("env", "evil", 0)}, invoke: loop}.build(),
			"imports env.evil, which the chaincode sandbox does not provide"},
		{"WASI function outside the allow-list", testModuleSpec{imports: [][]byte{importFunc(wasiModule, "sock_recv", 0)}, invoke: loop}.build(),
			"imports wasi_snapshot_preview1.sock_recv"},
		{"imported memory", testModuleSpec{imports: [][]byte{cat(wname("env"), wname("mem"), []byte{0x02, 0x00, 0x01})}, invoke: loop}.build(),
			"imports memory env.mem"},
		{"imported global", testModuleSpec{imports: [][]byte{cat(wname("env"), wname("g"), []byte{0x03, 0x7F, 0x00})}, invoke: loop}.build(),
			"imports global env.g"},
		{"data.drop", testModuleSpec{invoke: []byte{0xFC, 0x09, 0x00, 0x42, 0x00, 0x0B}}.build(), "data.drop"},
		{"table.set", testModuleSpec{invoke: []byte{0x41, 0x00, 0xD0, 0x70, 0x26, 0x00, 0x42, 0x00, 0x0B}}.build(), "instruction 0x26"},
		{"SIMD", testModuleSpec{invoke: []byte{0xFD, 0x0C, 0x42, 0x00, 0x0B}}.build(), "instruction 0xfd"},
		{"reaches the fuel global", testModuleSpec{invoke: []byte{0x42, 0x01, 0x24, 0x01, 0x42, 0x00, 0x0B}}.build(),
			"names global 1, which does not exist"},
		{"reserved export", testModuleSpec{invoke: loop, exports: [][]byte{cat(wname(fuelExport), []byte{0x03, 0x00})}}.build(),
			"reserved for the runtime"},
		{"start function", testModuleSpec{invoke: loop, extra: nil}.withStart(), "start function"},
		{"missing exports", cat([]byte("\x00asm\x01\x00\x00\x00"), sec(secMemory, vec([]byte{0x00, 0x01}))), "does not export"},
		{"truncated body", testModuleSpec{invoke: []byte{0x03, 0x40}}.build(), "function body ends without end"},
		{"data in the reserved page", testModuleSpec{invoke: loop, extra: [][]byte{sec(secData, vec(cat([]byte{0x00, 0x41, 0x10, 0x0B}, wname("hello"))))}}.build(),
			"overlaps the first 4096 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := instrument(tt.wasm)
			var me *ModuleError
			if !errors.As(err, &me) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want a ModuleError containing %q", err, tt.want)
			}
		})
	}
}

// withStart inserts a start section naming function 0.
func (s testModuleSpec) withStart() []byte {
	mod := s.build()
	// Rebuild with the start section between export and code.
	r := &reader{b: mod, pos: 8}
	out := append([]byte(nil), mod[:8]...)
	for !r.eof() {
		id := r.byte()
		payload := r.bytes(r.u32())
		if id == secCode {
			out = append(out, sec(secStart, leb(0))...)
		}
		out = append(out, sec(id, payload)...)
	}
	return out
}

// TestInstrumentedModuleIsValid rewrites a hand-made module and compiles
// it: the rewriter's output must validate, keep the module's exports and
// add the fuel and global exports.
func TestInstrumentedModuleIsValid(t *testing.T) {
	spec := testModuleSpec{
		imports: [][]byte{importFunc("blossom", "take", 0)},
		invoke:  []byte{0x03, 0x40, 0x0C, 0x00, 0x0B, 0x42, 0x00, 0x0B},
		globals: vec([]byte{0x7F, 0x01, 0x41, 0x05, 0x0B}, []byte{0x7E, 0x00, 0x42, 0x07, 0x0B}, []byte{0x7F, 0x01, 0x41, 0x09, 0x0B}),
		extra:   [][]byte{sec(secData, vec(cat([]byte{0x00, 0x41, 0x80, 0x20, 0x0B}, wname("hello"))))}, // at 4096
	}
	// The import's type is () -> () but blossom.take is (i32, i32) -> i32:
	// the rewriter only checks names, wazero checks signatures.
	meta, err := instrument(spec.build())
	if err != nil {
		t.Fatal(err)
	}
	if meta.functions != 3 || meta.meters != 4 { // three entries + one loop
		t.Fatalf("functions %d, meters %d", meta.functions, meta.meters)
	}
	if strings.Join(meta.globals, ",") != "blossom_global_0,blossom_global_2" {
		t.Fatalf("mutable globals %v", meta.globals)
	}
	if len(meta.data) != 1 || meta.data[0].offset != 4096 || string(meta.data[0].init) != "hello" {
		t.Fatalf("data %+v", meta.data)
	}
	ctx := context.Background()
	wz := wazero.NewRuntime(ctx)
	defer wz.Close(ctx)
	cm, err := wz.CompileModule(ctx, meta.binary)
	if err != nil {
		t.Fatalf("rewritten module does not compile: %v", err)
	}
	exports := cm.ExportedFunctions()
	for _, name := range []string{"_initialize", "blossom_warmup", "blossom_invoke"} {
		if exports[name] == nil {
			t.Fatalf("export %s lost", name)
		}
	}
}

// TestFuelStopsABareLoop runs a hand-made module whose invoke is `loop br
// 0 end`: only the metering can stop it.
func TestFuelStopsABareLoop(t *testing.T) {
	loop := testModuleSpec{invoke: []byte{0x03, 0x40, 0x0C, 0x00, 0x0B, 0x42, 0x00, 0x0B}}.build()
	divide := testModuleSpec{invoke: []byte{0x41, 0x01, 0x41, 0x00, 0x6D, 0x1A, 0x42, 0x00, 0x0B}}.build() // 1/0
	ctx := context.Background()
	e := newTxEnv(t)
	for _, tt := range []struct {
		name string
		wasm []byte
		want string
	}{
		{"loop", loop, "chaincode hand exceeded its execution budget"},
		{"divide", divide, "chaincode hand trapped: integer divide by zero"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rt, err := New(ctx, Config{CacheDir: sharedCacheDir(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer rt.Close(ctx)
			pkg, err := (&ccpackage.Package{Label: "hand", Wasm: tt.wasm}).Marshal()
			if err != nil {
				t.Fatal(err)
			}
			id, err := rt.Install(ctx, pkg)
			if err != nil {
				t.Fatal(err)
			}
			if err := rt.Define("hand", id, ccpackage.Limits{Fuel: 1_000_000}); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ {
				res := simulate(t, rt, e.state, e.tx("tx", "hand", "x:Y"))
				if res.Response.Status != chaincode.StatusError || res.Response.Message != tt.want {
					t.Fatalf("run %d: %d %q, want %q", i, res.Response.Status, res.Response.Message, tt.want)
				}
			}
		})
	}
}

// TestMeterCost pins the cost model.
func TestMeterCost(t *testing.T) {
	instrs := []instr{{class: classPlain}, {class: classPlain}, {class: classControl}, {class: classPlain}}
	if got := meterCost(instrs, 0); got != 4 {
		t.Fatalf("cost %d, want 4 (the point, two plain, one control)", got)
	}
	if got := meterCost(instrs, 3); got != 2 {
		t.Fatalf("cost %d, want 2", got)
	}
	if got := meterCost(instrs, 4); got != 1 {
		t.Fatalf("cost %d, want 1", got)
	}
}

func i32const(v int32) []byte { return append([]byte{0x41}, appendS64(nil, int64(v))...) }

// TestWritesAreMarked runs hand-made writes in a rewritten module and
// checks the dirty map: the granule of each store's first byte, every
// granule a bulk write touches, and entry 0 for a write into the map.
func TestWritesAreMarked(t *testing.T) {
	const g = 4096
	tests := []struct {
		name string
		code []byte
		want []int // marked granules
	}{
		{"straddling store", cat(i32const(5*g-4), []byte{0x42, 0x7F, 0x37, 0x03, 0x00}), []int{4}},
		{"store with offset", cat(i32const(30*g-3), i32const(1), []byte{0x3A, 0x00, 0x03}), []int{30}},
		{"fill", cat(i32const(8*g+100), i32const(0xAB), i32const(3*g), []byte{0xFC, 0x0B, 0x00}), []int{8, 9, 10, 11}},
		{"empty fill", cat(i32const(8*g), i32const(0xAB), i32const(0), []byte{0xFC, 0x0B, 0x00}), nil},
		{"copy", cat(i32const(20*g), i32const(g), i32const(10), []byte{0xFC, 0x0A, 0x00, 0x00}), []int{20}},
		{"f64 store", cat(i32const(40*g), []byte{0x44, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 0x39, 0x03, 0x00}), []int{40}},
		{"write into the map", cat(i32const(5), i32const(0), []byte{0x3A, 0x00, 0x00}), []int{0}},
		{"fill over the map", cat(i32const(0), i32const(0), i32const(g+1), []byte{0xFC, 0x0B, 0x00}), []int{0, 1}},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := testModuleSpec{pages: 4, invoke: cat(tt.code, []byte{0x42, 0x00, 0x0B})}
			meta, err := instrument(spec.build())
			if err != nil {
				t.Fatal(err)
			}
			wz := wazero.NewRuntime(ctx)
			defer wz.Close(ctx)
			mod, err := wz.Instantiate(ctx, meta.binary)
			if err != nil {
				t.Fatal(err)
			}
			mod.ExportedGlobal(fuelExport).(api.MutableGlobal).Set(1000)
			if _, err := mod.ExportedFunction("blossom_invoke").Call(ctx, 0); err != nil {
				t.Fatal(err)
			}
			dirtyMap, _ := mod.Memory().Read(0, DirtyMapSize)
			var got []int
			for i, b := range dirtyMap {
				if b != 0 {
					got = append(got, i)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Fatalf("marked %v, want %v", got, tt.want)
			}
		})
	}
}

// FuzzInstrument: the rewriter, which parses the untrusted module of a
// package at install, never panics, and what it accepts is a wasm binary
// that still declares the required exports.
func FuzzInstrument(f *testing.F) {
	loop := []byte{0x03, 0x40, 0x0C, 0x00, 0x0B, 0x42, 0x00, 0x0B}
	f.Add(testModuleSpec{invoke: loop}.build())
	f.Add(testModuleSpec{pages: 4, invoke: cat(i32const(8*4096), i32const(1), i32const(4096), []byte{0xFC, 0x0B, 0x00, 0x42, 0x00, 0x0B})}.build())
	f.Add(testModuleSpec{imports: [][]byte{importFunc("blossom", "call", 0)}, invoke: cat(i32const(5), []byte{0x42, 0x07, 0x37, 0x03, 0x10, 0x42, 0x00, 0x0B}),
		extra: [][]byte{sec(secData, vec(cat([]byte{0x00, 0x41, 0x80, 0x20, 0x0B}, wname("hello"))))}}.build())
	f.Fuzz(func(t *testing.T, wasm []byte) {
		meta, err := instrument(wasm)
		if err != nil {
			var me *ModuleError
			if !errors.As(err, &me) && !strings.Contains(err.Error(), "function") {
				t.Fatalf("error of an unexpected type: %v", err)
			}
			return
		}
		if !strings.HasPrefix(string(meta.binary), "\x00asm\x01\x00\x00\x00") {
			t.Fatal("output is not a wasm binary")
		}
		if _, err := instrument(meta.binary); err == nil || !strings.Contains(err.Error(), "reserved") {
			t.Fatalf("re-instrumenting the output: %v, want the reserved-name refusal", err)
		}
	})
}

// TestInstallRefusesModules: Install refuses, with the reason and nothing
// installed, a module importing a forbidden host function and one whose
// initialisation traps.
func TestInstallRefusesModules(t *testing.T) {
	ctx := context.Background()
	rt, err := New(ctx, Config{CacheDir: sharedCacheDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	loop := []byte{0x03, 0x40, 0x0C, 0x00, 0x0B, 0x42, 0x00, 0x0B}
	tests := []struct {
		name string
		wasm []byte
		want string
	}{
		{"forbidden import", testModuleSpec{imports: [][]byte{importFunc("env", "evil", 0)}, invoke: loop}.build(),
			"imports env.evil, which the chaincode sandbox does not provide"},
		{"forbidden WASI function", testModuleSpec{imports: [][]byte{importFunc(wasiModule, "proc_raise", 0)}, invoke: loop}.build(),
			"imports wasi_snapshot_preview1.proc_raise"},
		{"allowed import with the wrong signature", testModuleSpec{imports: [][]byte{importFunc("blossom", "call", 0)}, invoke: loop}.build(),
			"blossom.call"},
		{"initialiser traps", testModuleSpec{init: []byte{0x00, 0x0B}, invoke: loop}.build(),
			"_initialize failed: unreachable"},
		{"initialiser loops", testModuleSpec{init: []byte{0x03, 0x40, 0x0C, 0x00, 0x0B, 0x0B}, invoke: loop}.build(),
			"_initialize exceeded the warm-up budget"},
	}
	defer func(f uint64) { warmupFuel = f }(warmupFuel)
	warmupFuel = 10_000_000
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkg, err := (&ccpackage.Package{Label: "bad", Wasm: tt.wasm}).Marshal()
			if err != nil {
				t.Fatal(err)
			}
			_, err = rt.Install(ctx, pkg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Install: %v, want an error containing %q", err, tt.want)
			}
			if len(rt.Installed()) != 0 {
				t.Fatalf("installed %v", rt.Installed())
			}
		})
	}
}
