package wasm

import (
	"bytes"
	"encoding/binary"

	"github.com/tetratelabs/wazero/experimental"
)

// linearMemory backs one instance's WebAssembly memory (through wazero's
// experimental.MemoryAllocator) so that the runtime can apply the memory
// cap of the chaincode definition per invocation, with one compiled
// module shared by definitions of any cap, and can see that the cap was
// hit. A refused growth makes memory.grow return -1 inside the module,
// exactly as a declared maximum would.
type linearMemory struct {
	buf []byte
	// valid is how many bytes at the start of buf's capacity already
	// hold the memory's contents (a snapshot the instance was created
	// from): growing into them must not clear them.
	valid int
	// limit is the cap in bytes for the running invocation.
	limit uint64
	// limitHit records that a growth was refused during the invocation.
	limitHit bool
	// shift is the granule shift of the dirty map; tracking says whether
	// the map is in use (after the snapshot was taken).
	shift    uint32
	tracking bool
}

var _ experimental.LinearMemory = (*linearMemory)(nil)

// Reallocate implements experimental.LinearMemory.
func (m *linearMemory) Reallocate(size uint64) []byte {
	if size > m.limit {
		m.limitHit = true
		return nil
	}
	if size <= uint64(cap(m.buf)) {
		old := max(len(m.buf), m.valid)
		m.buf = m.buf[:size]
		if int(size) > old {
			clear(m.buf[old:]) // new pages are zero
		}
		return m.buf
	}
	nb := make([]byte, size, max(size, min(2*uint64(cap(m.buf)), m.limit)))
	copy(nb, m.buf)
	m.buf, m.valid = nb, 0
	return nb
}

// Free implements experimental.LinearMemory.
func (m *linearMemory) Free() { m.buf = nil }

// allocator hands out one prepared linearMemory to the instantiation
// that uses it: empty, or holding a copy of a snapshot (in one pass,
// without zeroing first) that the instance then grows into.
type allocator struct {
	mem      *linearMemory
	snapshot []byte
}

func (a *allocator) Allocate(capacity, _ uint64) experimental.LinearMemory {
	if a.snapshot != nil {
		a.mem.buf = bytes.Clone(a.snapshot)[:0]
		a.mem.valid = len(a.snapshot)
	} else {
		a.mem.buf = make([]byte, 0, capacity)
	}
	return a.mem
}

// slice returns mem[ptr:ptr+n], or false if it is out of bounds. The
// host may write to the slice: its granules are marked in the dirty map.
func (m *linearMemory) slice(ptr, n uint32) ([]byte, bool) {
	end := uint64(ptr) + uint64(n)
	if end > uint64(len(m.buf)) {
		return nil, false
	}
	if n > 0 && m.tracking {
		lo := min(uint64(ptr)>>m.shift, DirtyMapSize-1)
		hi := min((end-1)>>m.shift, DirtyMapSize-1)
		for i := lo; i <= hi; i++ {
			m.buf[i] = 1
		}
	}
	return m.buf[ptr:end:end], true
}

func (m *linearMemory) u32(ptr uint32) (uint32, bool) {
	b, ok := m.slice(ptr, 4)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b), true
}

func (m *linearMemory) putU32(ptr, v uint32) bool {
	b, ok := m.slice(ptr, 4)
	if ok {
		binary.LittleEndian.PutUint32(b, v)
	}
	return ok
}

func (m *linearMemory) putU64(ptr uint32, v uint64) bool {
	b, ok := m.slice(ptr, 8)
	if ok {
		binary.LittleEndian.PutUint64(b, v)
	}
	return ok
}
