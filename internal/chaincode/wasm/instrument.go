package wasm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/blossom-ledger/blossom/sdk/contract/wasmabi"
)

// The rewriter: at install, a chaincode module is checked and rewritten
// once, before wazero compiles it.
//
//   - Imports must be functions of the allow-list (the host module and the
//     deterministic WASI subset); imported memories, tables and globals,
//     a start function and instructions outside the supported set are
//     refused with an error naming them.
//   - Fuel: a new mutable i64 global, exported as fuelExport, is
//     decremented at every function entry and at every loop header (the
//     start of each iteration) by the cost of the straight-line code that
//     follows (see meterCost); when it drops below zero the code executes
//     `unreachable`. Every unbounded execution passes metering points
//     without end (a loop iterates or a call recurses), so a budget ends it
//     on every endorser at exactly the same instruction. The module's own
//     code cannot reach the new global: references to globals beyond the
//     module's own are refused.
//   - Dirty tracking: the first DirtyMapSize bytes of linear memory (Go's
//     nil page, which Go's linker leaves empty) hold a byte map: entry i
//     is set to 1 when the module writes granule i (1<<shift bytes, shift
//     being a new global exported as shiftExport, chosen by the host so
//     that DirtyMapSize granules cover the snapshot). Right after every
//     store the code sets the entry of the store's first byte; right after
//     every memory.fill and memory.copy, the entries from the first to the
//     last byte's granule. Because the mark follows the write, a write
//     into the map itself sets entry 0, which tells the host to restore
//     all memory; otherwise every granule the module wrote is marked (a
//     write beyond the snapshot's size either traps or follows a memory
//     growth, and the runtime discards the instance in both cases). After
//     an invocation the host copies back only the marked granules. Each
//     function gets six extra locals for this; data segments may not
//     overlap the map.
//   - Every mutable global the module defines is exported as
//     globalExportPrefix+index, so the host can snapshot and restore it.
//   - The data section (and the data count section) is removed: the host
//     writes the segments itself when it initialises the first instance,
//     and every later instance starts from the snapshot, so instantiation
//     copies no data. Only active segments of memory 0 at constant offsets
//     are accepted, and memory.init and data.drop are refused, so nothing
//     in the module refers to the segments.
//   - Custom sections other than "name" are dropped (DWARF offsets would
//     no longer match the rewritten code).

// Export names added by the rewriter.
const (
	fuelExport         = "blossom_fuel"
	shiftExport        = "blossom_dirty_shift"
	globalExportPrefix = "blossom_global_"
)

// DirtyMapSize is the size of the dirty byte map at the start of every
// chaincode's linear memory, the area wasmabi.ReservedMemory reserves for
// the runtime. It is also the number of granules the map tracks.
const DirtyMapSize = wasmabi.ReservedMemory

// wasiModule is the WASI import module name.
const wasiModule = "wasi_snapshot_preview1"

// Limits of a module the rewriter accepts.
const (
	// MaxModuleSize bounds a chaincode's wasm binary.
	MaxModuleSize = 64 << 20
	maxFunctions  = 1 << 20
	maxGlobals    = 1 << 16
	maxExports    = 1 << 16
	maxImports    = 1 << 12
	maxSegments   = 1 << 16
	maxLocals     = 50_000
	maxBrTable    = 1 << 20
)

// instrumented is a rewritten module.
type instrumented struct {
	binary []byte
	// globals lists the export names of the module's mutable globals.
	globals []string
	// data lists the original active data segments, applied by the host.
	data []dataSegment
	// functions counts the module's own functions and meters the metering
	// points inserted (for diagnostics).
	functions, meters int
}

type dataSegment struct {
	offset uint32
	init   []byte
}

// ModuleError reports a module the runtime refuses.
type ModuleError struct{ Reason string }

func (e *ModuleError) Error() string { return "wasm module refused: " + e.Reason }

func refuse(format string, args ...any) error {
	return &ModuleError{Reason: fmt.Sprintf(format, args...)}
}

// reader decodes the binary format. Its methods record the first error
// and return zero values after it.
type reader struct {
	b   []byte
	pos int
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = refuse(format, args...)
	}
	r.pos = len(r.b)
}

func (r *reader) eof() bool { return r.pos >= len(r.b) }

func (r *reader) byte() byte {
	if r.pos >= len(r.b) {
		r.fail("truncated binary")
		return 0
	}
	c := r.b[r.pos]
	r.pos++
	return c
}

func (r *reader) u32() uint32 {
	v, n := binary.Uvarint(r.b[r.pos:])
	if n <= 0 || n > 5 || v > math.MaxUint32 {
		r.fail("bad u32 at offset %d", r.pos)
		return 0
	}
	r.pos += n
	return uint32(v)
}

// sleb skips a signed LEB128 of at most maxBytes bytes.
func (r *reader) sleb(maxBytes int) {
	for i := 0; i < maxBytes; i++ {
		if r.byte()&0x80 == 0 {
			return
		}
	}
	r.fail("bad signed integer at offset %d", r.pos)
}

func (r *reader) bytes(n uint32) []byte {
	if uint64(n) > uint64(len(r.b)-r.pos) {
		r.fail("truncated binary")
		return nil
	}
	out := r.b[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return out
}

func (r *reader) name() string { return string(r.bytes(r.u32())) }

func (r *reader) count(what string, limit uint32) uint32 {
	n := r.u32()
	if n > limit || int(n) > len(r.b)-r.pos {
		r.fail("too many %s: %d", what, n)
		return 0
	}
	return n
}

func appendU32(b []byte, v uint32) []byte { return binary.AppendUvarint(b, uint64(v)) }

func appendS64(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendName(b []byte, s string) []byte { return append(appendU32(b, uint32(len(s))), s...) }

func appendSection(out []byte, id byte, payload []byte) []byte {
	out = append(out, id)
	out = appendU32(out, uint32(len(payload)))
	return append(out, payload...)
}

// Section IDs.
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
	secTag       = 13
)

// sectionOrder gives each known section's position in a valid module.
var sectionOrder = map[byte]int{
	secType: 1, secImport: 2, secFunction: 3, secTable: 4, secMemory: 5, secTag: 6,
	secGlobal: 7, secExport: 8, secStart: 9, secElement: 10, secDataCount: 11, secCode: 12, secData: 13,
}

type section struct {
	id      byte
	payload []byte
}

// instrument checks and rewrites a chaincode module.
func instrument(wasm []byte) (*instrumented, error) {
	if len(wasm) > MaxModuleSize {
		return nil, refuse("module of %d bytes (at most %d)", len(wasm), MaxModuleSize)
	}
	if len(wasm) < 8 || !bytes.Equal(wasm[:4], []byte("\x00asm")) || !bytes.Equal(wasm[4:8], []byte{1, 0, 0, 0}) {
		return nil, refuse("not a WebAssembly 1.0 binary")
	}
	r := &reader{b: wasm, pos: 8}
	var sections []section
	last := 0
	for !r.eof() {
		id := r.byte()
		payload := r.bytes(r.u32())
		if r.err != nil {
			return nil, r.err
		}
		if id != secCustom {
			order, ok := sectionOrder[id]
			if !ok {
				return nil, refuse("unknown section %d", id)
			}
			if order <= last {
				return nil, refuse("section %d out of order or repeated", id)
			}
			last = order
		}
		sections = append(sections, section{id, payload})
	}

	m := &moduleInfo{}
	for _, s := range sections {
		var err error
		switch s.id {
		case secType:
			err = m.parseTypes(s.payload)
		case secImport:
			err = m.parseImports(s.payload)
		case secFunction:
			err = m.parseFunctions(s.payload)
		case secMemory:
			err = m.parseMemory(s.payload)
		case secGlobal:
			err = m.parseGlobals(s.payload)
		case secExport:
			err = m.parseExports(s.payload)
		case secStart:
			err = refuse("module has a start function: build chaincodes with -buildmode=c-shared")
		case secTag:
			err = refuse("exception handling is not supported")
		case secData:
			err = m.parseData(s.payload)
		}
		if err != nil {
			return nil, err
		}
	}
	if !m.hasMemory {
		return nil, refuse("module defines no memory")
	}
	for _, name := range []string{wasmabi.ExportInitialize, wasmabi.ExportWarmup, wasmabi.ExportInvoke} {
		if !m.funcExports[name] {
			return nil, refuse("module does not export function %s: build the chaincode with sdk/contract and -buildmode=c-shared", name)
		}
	}
	if !m.memExports[wasmabi.ExportMemory] {
		return nil, refuse("module does not export its memory as %q", wasmabi.ExportMemory)
	}

	out := &instrumented{data: m.data}
	fuelIndex := m.importedGlobals + uint32(len(m.globalMutable))
	bin := append([]byte(nil), wasm[:8]...)
	haveGlobals := false
	emitGlobals := func() {
		// A module without globals gets a global section of the runtime's.
		bin = appendSection(bin, secGlobal, appendRuntimeGlobals(appendU32(nil, runtimeGlobals)))
	}
	for _, s := range sections {
		switch s.id {
		case secCustom:
			if name, ok := customName(s.payload); ok && name == "name" {
				bin = appendSection(bin, s.id, s.payload)
			}
			continue
		case secGlobal:
			haveGlobals = true
			payload := appendU32(nil, uint32(len(m.globalMutable))+runtimeGlobals)
			payload = append(payload, m.globalBody...)
			bin = appendSection(bin, secGlobal, appendRuntimeGlobals(payload))
			continue
		case secExport:
			if !haveGlobals {
				emitGlobals()
				haveGlobals = true
			}
			payload, names := m.rewriteExports(fuelIndex)
			out.globals = names
			bin = appendSection(bin, secExport, payload)
			continue
		case secCode:
			if !haveGlobals {
				emitGlobals()
				haveGlobals = true
			}
			payload, funcs, meters, err := rewriteCode(s.payload, m, fuelIndex)
			if err != nil {
				return nil, err
			}
			out.functions, out.meters = funcs, meters
			bin = appendSection(bin, secCode, payload)
			continue
		case secData, secDataCount:
			continue
		}
		if sectionOrder[s.id] > sectionOrder[secGlobal] && !haveGlobals {
			emitGlobals()
			haveGlobals = true
		}
		bin = appendSection(bin, s.id, s.payload)
	}
	if m.functions > 0 && out.functions != int(m.functions) {
		return nil, refuse("function and code sections disagree")
	}
	out.binary = bin
	return out, nil
}

// runtimeGlobals counts the globals the rewriter adds, in this order:
// fuel (mutable i64, initially 0) and the dirty granule shift (mutable
// i32, initially 12).
const runtimeGlobals = 2

func appendRuntimeGlobals(b []byte) []byte {
	return append(b,
		0x7E, 0x01, 0x42, 0x00, 0x0B, // fuel
		0x7F, 0x01, 0x41, 12, 0x0B, // dirty granule shift
	)
}

func customName(payload []byte) (string, bool) {
	r := &reader{b: payload}
	name := r.name()
	return name, r.err == nil
}

// moduleInfo is what the rewriter learns from the sections.
type moduleInfo struct {
	typeParams      []uint32 // parameter count by type index
	funcTypes       []uint32 // type index of each of the module's functions
	importedFuncs   uint32
	importedGlobals uint32
	functions       uint32
	globalMutable   []bool // the module's own globals
	globalBody      []byte // the global section's entries
	hasMemory       bool
	exports         []export
	funcExports     map[string]bool
	memExports      map[string]bool
	dataCount       uint32
	data            []dataSegment
}

type export struct {
	name  string
	kind  byte
	index uint32
}

// allowedImports is the allow-list: module → function names. Everything
// else is refused at install.
var allowedImports = map[string]map[string]bool{
	wasmabi.HostModule: {wasmabi.ImportCall: true, wasmabi.ImportTake: true},
	wasiModule:         wasiFunctionNames(),
}

func (m *moduleInfo) parseImports(p []byte) error {
	r := &reader{b: p}
	n := r.count("imports", maxImports)
	for i := uint32(0); i < n && r.err == nil; i++ {
		mod, name := r.name(), r.name()
		kind := r.byte()
		if r.err != nil {
			break
		}
		switch kind {
		case 0: // function
			r.u32()
			if !allowedImports[mod][name] {
				return refuse("imports %s.%s, which the chaincode sandbox does not provide", mod, name)
			}
			m.importedFuncs++
		case 1:
			return refuse("imports table %s.%s: chaincodes may import only host functions", mod, name)
		case 2:
			return refuse("imports memory %s.%s: chaincodes may import only host functions", mod, name)
		case 3:
			return refuse("imports global %s.%s: chaincodes may import only host functions", mod, name)
		default:
			return refuse("import %s.%s of unknown kind %d", mod, name, kind)
		}
	}
	if r.err == nil && !r.eof() {
		r.fail("trailing bytes in import section")
	}
	return r.err
}

func (m *moduleInfo) parseTypes(p []byte) error {
	r := &reader{b: p}
	n := r.count("types", maxFunctions)
	for i := uint32(0); i < n && r.err == nil; i++ {
		if r.byte() != 0x60 {
			r.fail("type %d is not a function type", i)
			break
		}
		params := r.count("parameters", maxLocals)
		r.bytes(params)
		m.typeParams = append(m.typeParams, params)
		r.bytes(r.count("results", maxLocals))
	}
	if r.err == nil && !r.eof() {
		r.fail("trailing bytes in type section")
	}
	return r.err
}

func (m *moduleInfo) parseFunctions(p []byte) error {
	r := &reader{b: p}
	m.functions = r.count("functions", maxFunctions)
	for i := uint32(0); i < m.functions && r.err == nil; i++ {
		t := r.u32()
		if r.err == nil && int(t) >= len(m.typeParams) {
			r.fail("function %d has type %d, which does not exist", i, t)
		}
		m.funcTypes = append(m.funcTypes, t)
	}
	if r.err == nil && !r.eof() {
		r.fail("trailing bytes in function section")
	}
	return r.err
}

func (m *moduleInfo) parseMemory(p []byte) error {
	r := &reader{b: p}
	n := r.u32()
	if r.err == nil && n != 1 {
		return refuse("module defines %d memories (exactly one is supported)", n)
	}
	flags := r.byte()
	r.u32() // minimum pages
	switch flags {
	case 0:
	case 1:
		r.u32()
	default:
		if r.err == nil {
			return refuse("shared or 64-bit memories are not supported")
		}
	}
	if r.err == nil && !r.eof() {
		r.fail("trailing bytes in memory section")
	}
	m.hasMemory = r.err == nil
	return r.err
}

func (m *moduleInfo) parseGlobals(p []byte) error {
	r := &reader{b: p}
	n := r.count("globals", maxGlobals)
	start := r.pos
	for i := uint32(0); i < n && r.err == nil; i++ {
		r.byte() // value type
		mut := r.byte()
		if mut > 1 {
			r.fail("bad global mutability")
		}
		m.globalMutable = append(m.globalMutable, mut == 1)
		m.skipConstExpr(r)
	}
	if r.err == nil && !r.eof() {
		r.fail("trailing bytes in global section")
	}
	m.globalBody = p[start:]
	return r.err
}

// skipConstExpr skips a constant expression. Such an expression may read
// only imported globals, and modules import none.
func (m *moduleInfo) skipConstExpr(r *reader) {
	for r.err == nil {
		switch op := r.byte(); op {
		case 0x0B: // end
			return
		case 0x41:
			r.sleb(5)
		case 0x42:
			r.sleb(10)
		case 0x43:
			r.bytes(4)
		case 0x44:
			r.bytes(8)
		case 0x23: // global.get: only imported globals, and there are none
			r.fail("constant expression reads global %d", r.u32())
		case 0xD0: // ref.null
			r.byte()
		case 0xD2: // ref.func
			r.u32()
		default:
			r.fail("unsupported instruction 0x%02x in a constant expression", op)
		}
	}
}

func (m *moduleInfo) parseExports(p []byte) error {
	r := &reader{b: p}
	n := r.count("exports", maxExports)
	m.funcExports = make(map[string]bool)
	m.memExports = make(map[string]bool)
	seen := make(map[string]bool, n)
	for i := uint32(0); i < n && r.err == nil; i++ {
		e := export{name: r.name(), kind: r.byte(), index: r.u32()}
		if r.err != nil {
			break
		}
		if seen[e.name] {
			return refuse("export %q defined twice", e.name)
		}
		seen[e.name] = true
		if e.name == fuelExport || e.name == shiftExport || strings.HasPrefix(e.name, globalExportPrefix) {
			return refuse("export name %q is reserved for the runtime", e.name)
		}
		switch e.kind {
		case 0:
			m.funcExports[e.name] = true
		case 2:
			m.memExports[e.name] = true
		case 3:
			if e.index >= m.importedGlobals+uint32(len(m.globalMutable)) {
				return refuse("export %q names global %d, which does not exist", e.name, e.index)
			}
		}
		m.exports = append(m.exports, e)
	}
	if r.err == nil && !r.eof() {
		r.fail("trailing bytes in export section")
	}
	return r.err
}

// rewriteExports re-encodes the exports with the fuel global and the
// module's mutable globals added.
func (m *moduleInfo) rewriteExports(fuelIndex uint32) ([]byte, []string) {
	var names []string
	for i, mut := range m.globalMutable {
		if mut {
			names = append(names, fmt.Sprintf("%s%d", globalExportPrefix, i))
		}
	}
	out := appendU32(nil, uint32(len(m.exports)+runtimeGlobals+len(names)))
	for _, e := range m.exports {
		out = appendName(out, e.name)
		out = append(out, e.kind)
		out = appendU32(out, e.index)
	}
	for i, name := range []string{fuelExport, shiftExport} {
		out = appendName(out, name)
		out = append(out, 3)
		out = appendU32(out, fuelIndex+uint32(i))
	}
	for i, mut := range m.globalMutable {
		if mut {
			out = appendName(out, fmt.Sprintf("%s%d", globalExportPrefix, i))
			out = append(out, 3)
			out = appendU32(out, m.importedGlobals+uint32(i))
		}
	}
	return out, names
}

func (m *moduleInfo) parseData(p []byte) error {
	r := &reader{b: p}
	n := r.count("data segments", maxSegments)
	m.dataCount = n
	for i := uint32(0); i < n && r.err == nil; i++ {
		switch flags := r.u32(); flags {
		case 0: // active, memory 0, offset expression
			if r.byte() != 0x41 {
				return refuse("data segment %d: offset is not an i32.const", i)
			}
			off, k := readS32(r.b[r.pos:])
			if k <= 0 {
				return refuse("data segment %d: bad offset", i)
			}
			r.pos += k
			if r.byte() != 0x0B {
				return refuse("data segment %d: offset is not an i32.const", i)
			}
			init := r.bytes(r.u32())
			if len(init) > 0 && uint32(off) < DirtyMapSize {
				return refuse("data segment %d at offset %d overlaps the first %d bytes of memory, which the runtime reserves", i, uint32(off), DirtyMapSize)
			}
			m.data = append(m.data, dataSegment{offset: uint32(off), init: init})
		default:
			return refuse("data segment %d: only active segments of memory 0 are supported", i)
		}
	}
	if r.err == nil && !r.eof() {
		r.fail("trailing bytes in data section")
	}
	return r.err
}

// readS32 reads a signed LEB128 i32.
func readS32(b []byte) (int32, int) {
	var result int64
	var shift uint
	for i := 0; i < 5 && i < len(b); i++ {
		c := b[i]
		result |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				result |= -1 << shift
			}
			if result < math.MinInt32 || result > math.MaxInt32 {
				return 0, -1
			}
			return int32(result), i + 1
		}
	}
	return 0, -1
}

// Instruction classes for metering.
const (
	classPlain   = iota // straight-line
	classControl        // ends a straight-line run: branches, calls, block structure
	classLoop           // a loop header: a metering point follows it
)

// Memory writes, for dirty tracking.
const (
	writeNone = iota
	writeI32  // a store of an i32 value
	writeI64
	writeF32
	writeF64
	writeFill // memory.fill
	writeCopy // memory.copy
)

// instr is one decoded instruction: its bytes are code[start:end].
type instr struct {
	start, end uint32
	offset     uint32 // a store's static offset
	class      uint8
	write      uint8
}

// rewriteCode meters every function body.
func rewriteCode(p []byte, m *moduleInfo, fuelIndex uint32) ([]byte, int, int, error) {
	r := &reader{b: p}
	n := r.count("function bodies", maxFunctions)
	if r.err != nil {
		return nil, 0, 0, r.err
	}
	if n != m.functions {
		return nil, 0, 0, refuse("function section declares %d functions, code section has %d", m.functions, n)
	}
	g := runtimeGlobalIndices{fuel: fuelIndex, shift: fuelIndex + 1}
	out := appendU32(make([]byte, 0, 2*len(p)), n)
	meters := 0
	var instrs []instr
	var body []byte
	globals := m.importedGlobals + uint32(len(m.globalMutable))
	for i := uint32(0); i < n; i++ {
		code := r.bytes(r.u32())
		if r.err != nil {
			return nil, 0, 0, r.err
		}
		fr := &reader{b: code}
		groups := fr.count("local groups", maxLocals)
		groupsStart := fr.pos
		var locals uint64
		for k := uint32(0); k < groups && fr.err == nil; k++ {
			locals += uint64(fr.u32())
			fr.byte()
		}
		if fr.err == nil && locals > maxLocals {
			fr.fail("function %d declares %d locals", i, locals)
		}
		if fr.err != nil {
			return nil, 0, 0, fmt.Errorf("function %d: %w", i, fr.err)
		}
		localsEnd := fr.pos
		instrs = instrs[:0]
		var err error
		instrs, err = decodeBody(fr, instrs, globals)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("function %d: %w", i+m.importedFuncs, err)
		}

		// The locals, then six temporaries for dirty tracking.
		base := m.typeParams[m.funcTypes[i]] + uint32(locals)
		t := temps{addr: base, x: base + 1, n: base + 2, i64: base + 3, f32: base + 4, f64: base + 5}
		body = appendU32(body[:0], groups+4)
		body = append(body, code[groupsStart:localsEnd]...)
		body = append(body, 3, 0x7F, 1, 0x7E, 1, 0x7D, 1, 0x7C)

		body = appendMeter(body, g.fuel, meterCost(instrs, 0))
		meters++
		for k, in := range instrs {
			if in.write != writeNone {
				body = appendMarkedWrite(body, code[in.start:in.end], in, t, g)
			} else {
				body = append(body, code[in.start:in.end]...)
			}
			if in.class == classLoop {
				body = appendMeter(body, g.fuel, meterCost(instrs, k+1))
				meters++
			}
		}
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	if !r.eof() {
		return nil, 0, 0, refuse("trailing bytes in code section")
	}
	return out, int(n), meters, nil
}

// runtimeGlobalIndices are the indices of the globals the rewriter adds.
type runtimeGlobalIndices struct{ fuel, shift uint32 }

// temps are the local indices of a function's dirty-tracking temporaries.
type temps struct{ addr, x, n, i64, f32, f64 uint32 }

func appendLocal(b []byte, op byte, idx uint32) []byte { return appendU32(append(b, op), idx) }

// appendMarkedWrite appends a memory write (the instruction's bytes) with
// its dirty marking. It saves the operands in temporaries, pushes them
// back, performs the write, then sets the map entries of the granules
// written.
func appendMarkedWrite(b, write []byte, in instr, t temps, g runtimeGlobalIndices) []byte {
	const (
		localGet  = 0x20
		localSet  = 0x21
		localTee  = 0x22
		globalGet = 0x23
		mapMask   = DirtyMapSize - 1
	)
	// granule replaces the address on the stack by its granule.
	granule := func(b []byte) []byte {
		b = appendLocal(b, globalGet, g.shift)
		return append(b, 0x76) // i32.shr_u
	}
	// clampLocal sets local idx to min(idx, mapMask).
	clampLocal := func(b []byte, idx uint32) []byte {
		b = appendLocal(b, localGet, idx)
		b = append(b, 0x41)
		b = appendS64(b, mapMask)
		b = appendLocal(b, localGet, idx)
		b = append(b, 0x41)
		b = appendS64(b, mapMask)
		b = append(b, 0x49, 0x1B) // i32.lt_u, select
		return appendLocal(b, localSet, idx)
	}
	switch in.write {
	case writeFill, writeCopy:
		// Operands: d, x (value or source), n. Afterwards fill the map
		// entries lo..hi with 1, lo = min(d>>shift, mask) and
		// hi = min((d+n-1)>>shift, mask); hi >= lo-1, so the count
		// hi-lo+1 is never negative.
		b = appendLocal(b, localSet, t.n)
		b = appendLocal(b, localSet, t.x)
		b = appendLocal(b, localTee, t.addr)
		b = appendLocal(b, localGet, t.x)
		b = appendLocal(b, localGet, t.n)
		b = append(b, write...)
		b = appendLocal(b, localGet, t.addr)
		b = granule(b)
		b = appendLocal(b, localSet, t.x) // x = lo
		b = clampLocal(b, t.x)
		b = appendLocal(b, localGet, t.addr)
		b = appendLocal(b, localGet, t.n)
		b = append(b, 0x6A, 0x41, 0x01, 0x6B) // i32.add, i32.const 1, i32.sub
		b = granule(b)
		b = appendLocal(b, localSet, t.addr) // addr = hi
		b = clampLocal(b, t.addr)
		b = appendLocal(b, localGet, t.x)
		b = append(b, 0x41, 0x01) // i32.const 1
		b = appendLocal(b, localGet, t.addr)
		b = appendLocal(b, localGet, t.x)
		b = append(b, 0x6B, 0x41, 0x01, 0x6A) // i32.sub, i32.const 1, i32.add
		return append(b, 0xFC, 0x0B, 0x00)    // memory.fill
	}
	value := t.x
	switch in.write {
	case writeI64:
		value = t.i64
	case writeF32:
		value = t.f32
	case writeF64:
		value = t.f64
	}
	// Operands: address, value. Afterwards
	// map[((address+offset) >> shift) & mask] = 1. The index wraps only
	// for addresses beyond the snapshot (a grown memory, whose instance is
	// discarded). A store writes at most 8 bytes, so one that straddles a
	// granule boundary writes at most 7 bytes into the next granule; the
	// host restores those along with every dirty granule.
	b = appendLocal(b, localSet, value)
	b = appendLocal(b, localTee, t.addr)
	b = appendLocal(b, localGet, value)
	b = append(b, write...)
	b = appendLocal(b, localGet, t.addr)
	if in.offset != 0 {
		b = append(b, 0x41)
		b = appendS64(b, int64(int32(in.offset)))
		b = append(b, 0x6A) // i32.add
	}
	b = granule(b)
	b = append(b, 0x41)
	b = appendS64(b, mapMask)
	b = append(b, 0x71, 0x41, 0x01)    // i32.and, i32.const 1
	return append(b, 0x3A, 0x00, 0x00) // i32.store8 align=0 offset=0
}

// meterCost is the fuel charged at the metering point before instruction
// from: one for the point plus the instructions up to and including the
// first control instruction (a branch, call, or block boundary). It is a
// deterministic function of the code alone.
func meterCost(instrs []instr, from int) int64 {
	cost := int64(1)
	for _, in := range instrs[from:] {
		cost++
		if in.class != classPlain {
			break
		}
	}
	return cost
}

// appendMeter appends the metering sequence:
//
//	global.get $fuel; i64.const cost; i64.sub; global.set $fuel
//	global.get $fuel; i64.const 0; i64.lt_s; if; unreachable; end
//
// It leaves the operand stack as it found it and opens no label that
// existing branches could target.
func appendMeter(b []byte, fuel uint32, cost int64) []byte {
	b = append(b, 0x23)
	b = appendU32(b, fuel)
	b = append(b, 0x42)
	b = appendS64(b, cost)
	b = append(b, 0x7D, 0x24)
	b = appendU32(b, fuel)
	b = append(b, 0x23)
	b = appendU32(b, fuel)
	return append(b, 0x42, 0x00, 0x53, 0x04, 0x40, 0x00, 0x0B)
}

// decodeBody splits a function body into instructions, refusing those the
// runtime does not support. The body must end with the function's final
// end.
func decodeBody(r *reader, instrs []instr, globals uint32) ([]instr, error) {
	depth := 1
	for depth > 0 {
		if r.eof() {
			return nil, refuse("function body ends without end")
		}
		start := r.pos
		op := r.byte()
		class := uint8(classPlain)
		var write uint8
		var offset uint32
		switch {
		case op == 0x00 || op == 0x0F: // unreachable, return
			class = classControl
		case op == 0x01: // nop
		case op == 0x02 || op == 0x04: // block, if
			skipBlockType(r)
			depth++
			class = classControl
		case op == 0x03: // loop
			skipBlockType(r)
			depth++
			class = classLoop
		case op == 0x05: // else
			class = classControl
		case op == 0x0B: // end
			depth--
			class = classControl
		case op == 0x0C || op == 0x0D: // br, br_if
			r.u32()
			class = classControl
		case op == 0x0E: // br_table
			n := r.u32()
			if n > maxBrTable {
				r.fail("br_table of %d targets", n)
			}
			for i := uint32(0); i <= n && r.err == nil; i++ {
				r.u32()
			}
			class = classControl
		case op == 0x10: // call
			r.u32()
			class = classControl
		case op == 0x11: // call_indirect
			r.u32()
			r.u32()
			class = classControl
		case op == 0x1A || op == 0x1B: // drop, select
		case op == 0x1C: // select t*
			n := r.u32()
			if n > 1 {
				r.fail("typed select with %d types", n)
			}
			for i := uint32(0); i < n; i++ {
				r.byte()
			}
		case op >= 0x20 && op <= 0x22: // local.get/set/tee
			r.u32()
		case op == 0x23 || op == 0x24: // global.get/set
			if idx := r.u32(); r.err == nil && idx >= globals {
				return nil, refuse("instruction at offset %d names global %d, which does not exist", start, idx)
			}
		case op == 0x25: // table.get
			r.u32()
		case op >= 0x28 && op <= 0x3E: // loads and stores
			if align := r.u32(); align >= 64 {
				r.fail("multiple memories are not supported")
			}
			offset = r.u32()
			write = storeType[op]
		case op == 0x3F || op == 0x40: // memory.size, memory.grow
			if r.byte() != 0 {
				r.fail("multiple memories are not supported")
			}
		case op == 0x41:
			r.sleb(5)
		case op == 0x42:
			r.sleb(10)
		case op == 0x43:
			r.bytes(4)
		case op == 0x44:
			r.bytes(8)
		case op >= 0x45 && op <= 0xC4: // numeric, including sign extension
		case op == 0xD0: // ref.null
			r.byte()
		case op == 0xD1: // ref.is_null
		case op == 0xD2: // ref.func
			r.u32()
		case op == 0xFC:
			switch sub := r.u32(); {
			case sub <= 7: // saturating truncation
			case sub == 10: // memory.copy
				if r.byte() != 0 || r.byte() != 0 {
					r.fail("multiple memories are not supported")
				}
				write = writeCopy
			case sub == 11: // memory.fill
				if r.byte() != 0 {
					r.fail("multiple memories are not supported")
				}
				write = writeFill
			case sub == 16: // table.size
				r.u32()
			default:
				if r.err == nil {
					return nil, refuse("instruction 0xfc %d (%s) at offset %d is not supported: it changes instance state the runtime cannot reset", sub, fcName(sub), start)
				}
			}
		default:
			if r.err == nil {
				return nil, refuse("instruction 0x%02x at offset %d is not supported", op, start)
			}
		}
		if r.err != nil {
			return nil, r.err
		}
		instrs = append(instrs, instr{start: uint32(start), end: uint32(r.pos), offset: offset, class: class, write: write})
	}
	if !r.eof() {
		return nil, refuse("bytes after the end of a function body")
	}
	return instrs, nil
}

// storeType maps store opcodes to the type of the stored value.
var storeType = map[byte]uint8{
	0x36: writeI32, 0x37: writeI64, 0x38: writeF32, 0x39: writeF64,
	0x3A: writeI32, 0x3B: writeI32, 0x3C: writeI64, 0x3D: writeI64, 0x3E: writeI64,
}

func fcName(sub uint32) string {
	names := map[uint32]string{8: "memory.init", 9: "data.drop", 12: "table.init", 13: "elem.drop", 14: "table.copy", 15: "table.grow", 17: "table.fill"}
	if n, ok := names[sub]; ok {
		return n
	}
	return "unknown"
}

func skipBlockType(r *reader) {
	c := r.byte()
	switch c {
	case 0x40, 0x7F, 0x7E, 0x7D, 0x7C, 0x7B, 0x70, 0x6F:
		return
	}
	// A type index: a non-negative s33. Its first byte was c.
	if c&0x80 == 0 {
		if c&0x40 != 0 {
			r.fail("bad block type")
		}
		return
	}
	for i := 0; i < 4; i++ {
		c = r.byte()
		if c&0x80 == 0 {
			return
		}
	}
	r.fail("bad block type")
}
