package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"

	"github.com/cockroachdb/pebble/v2"
)

// VersionedValue is a committed value with the version that wrote it.
type VersionedValue struct {
	Value   []byte
	Version Version
}

// StateReader reads committed state: the live ledger (Ledger.State, which
// sees each commit as soon as it is applied) or a Snapshot (which sees one
// height throughout). It is safe for concurrent use.
type StateReader struct {
	r pebble.Reader
	// historyFrom is the height a ledger created from a snapshot starts
	// at: the history before it is not here (0: complete history).
	historyFrom uint64
}

// Get returns the value of key in namespace ns, or nil if the key is absent
// (never written or deleted).
func (s StateReader) Get(ns, key string) (*VersionedValue, error) {
	b, closer, err := s.r.Get(stateKey(ns, key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	defer closer.Close()
	v, value, err := decodeStateValue(b)
	if err != nil {
		return nil, err
	}
	return &VersionedValue{Value: append([]byte(nil), value...), Version: v}, nil
}

// GetVersion returns the version of key in namespace ns; ok is false if the
// key is absent.
func (s StateReader) GetVersion(ns, key string) (v Version, ok bool, err error) {
	b, closer, err := s.r.Get(stateKey(ns, key))
	if errors.Is(err, pebble.ErrNotFound) {
		return Version{}, false, nil
	}
	if err != nil {
		return Version{}, false, fmt.Errorf("read state: %w", err)
	}
	defer closer.Close()
	v, _, err = decodeStateValue(b)
	return v, err == nil, err
}

// Range iterates the keys of namespace ns in [start, end) in byte order;
// start "" means from the first key, end "" means to the last. The caller
// must Close the iterator.
func (s StateReader) Range(ns, start, end string) (*RangeIterator, error) {
	if end != "" && end < start {
		return nil, fmt.Errorf("range start %q is after end %q", start, end)
	}
	lower := stateKey(ns, start)
	upper := prefixEnd(stateNSPrefix(ns))
	if end != "" {
		upper = stateKey(ns, end)
	}
	it, err := s.r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, fmt.Errorf("range scan: %w", err)
	}
	return &RangeIterator{it: it}, nil
}

// History iterates the versions that wrote key in namespace ns (puts and
// deletes), oldest first, or newest first if newestFirst. The caller must
// Close the iterator. Ledger.HistoricalWrite fetches what a version wrote.
//
// On a ledger created from a snapshot at height H the history before H is
// not here, and the iterator says so rather than answer an incomplete
// history: newest first, it yields the versions from H on and then stops
// with ErrBeforeSnapshot; oldest first, it stops with ErrBeforeSnapshot
// before yielding anything.
func (s StateReader) History(ns, key string, newestFirst bool) (*HistoryIterator, error) {
	p := historyKeyPrefix(ns, key)
	it, err := s.r.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return nil, fmt.Errorf("history scan: %w", err)
	}
	return &HistoryIterator{it: it, prefixLen: len(p), reverse: newestFirst, historyFrom: s.historyFrom}, nil
}

// StateHash is SHA-256 over every state entry in (namespace, key) order,
// each as `uint64 len(ns) ‖ ns ‖ uint64 len(key) ‖ key ‖ uint64 block ‖
// uint64 tx ‖ uint64 len(value) ‖ value`. Peers that committed the same
// blocks have the same state hash.
func (s StateReader) StateHash() ([]byte, error) {
	h := newStateHasher()
	err := s.forEachState(func(ns, key string, v Version, value []byte) error {
		h.add(ns, key, v, value)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return h.sum(), nil
}

// stateHasher computes StateHash incrementally.
type stateHasher struct{ h hash.Hash }

func newStateHasher() *stateHasher { return &stateHasher{h: sha256.New()} }

func (s *stateHasher) add(ns, key string, v Version, value []byte) {
	var n [8]byte
	put := func(x uint64) {
		binary.BigEndian.PutUint64(n[:], x)
		s.h.Write(n[:])
	}
	put(uint64(len(ns)))
	s.h.Write([]byte(ns))
	put(uint64(len(key)))
	s.h.Write([]byte(key))
	put(v.Block)
	put(v.Tx)
	put(uint64(len(value)))
	s.h.Write(value)
}

func (s *stateHasher) sum() []byte { return s.h.Sum(nil) }

// forEachState calls fn for every state entry in order; value is only valid
// during the call.
func (s StateReader) forEachState(fn func(ns, key string, v Version, value []byte) error) error {
	it, err := s.r.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixState}, UpperBound: []byte{prefixState + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		ns, key, err := splitStateKey(it.Key())
		if err != nil {
			return err
		}
		raw, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		v, value, err := decodeStateValue(raw)
		if err != nil {
			return err
		}
		if err := fn(ns, key, v, value); err != nil {
			return err
		}
	}
	return it.Error()
}

// RangeIterator walks a key range of one namespace. Typical use:
//
//	for it.Next() { use(it.Key(), it.Value(), it.Version()) }
//	if err := it.Err(); err != nil { ... }
//	it.Close()
type RangeIterator struct {
	it      *pebble.Iterator
	started bool
	key     string
	value   []byte
	version Version
	err     error
}

// Next moves to the next key; it returns false at the end or on an error.
func (r *RangeIterator) Next() bool {
	if r.err != nil {
		return false
	}
	var ok bool
	if !r.started {
		ok, r.started = r.it.First(), true
	} else {
		ok = r.it.Next()
	}
	if !ok {
		r.err = r.it.Error()
		return false
	}
	_, key, err := splitStateKey(r.it.Key())
	if err != nil {
		r.err = err
		return false
	}
	raw, err := r.it.ValueAndErr()
	if err != nil {
		r.err = err
		return false
	}
	v, value, err := decodeStateValue(raw)
	if err != nil {
		r.err = err
		return false
	}
	r.key, r.value, r.version = key, append([]byte(nil), value...), v
	return true
}

// Key is the current key (without namespace).
func (r *RangeIterator) Key() string { return r.key }

// Value is the current value (a copy the caller may keep).
func (r *RangeIterator) Value() []byte { return r.value }

// Version is the current key's version.
func (r *RangeIterator) Version() Version { return r.version }

// Err is the error that stopped the iteration, if any.
func (r *RangeIterator) Err() error { return r.err }

// Close releases the iterator.
func (r *RangeIterator) Close() error { return r.it.Close() }

// HistoryEntry is one version of a key's history.
type HistoryEntry struct {
	Version  Version
	IsDelete bool
}

// HistoryIterator walks a key's history. Use it like RangeIterator.
type HistoryIterator struct {
	it        *pebble.Iterator
	prefixLen int
	reverse   bool
	started   bool
	entry     HistoryEntry
	err       error
	// historyFrom: see StateReader.historyFrom.
	historyFrom uint64
}

// Next moves to the next version; false at the end or on an error.
func (h *HistoryIterator) Next() bool {
	if h.err != nil {
		return false
	}
	if h.historyFrom > 0 && !h.started && !h.reverse {
		h.err = h.truncated()
		return false
	}
	var ok bool
	switch {
	case !h.started && h.reverse:
		ok = h.it.Last()
	case !h.started:
		ok = h.it.First()
	case h.reverse:
		ok = h.it.Prev()
	default:
		ok = h.it.Next()
	}
	h.started = true
	if !ok {
		h.err = h.it.Error()
		if h.err == nil && h.historyFrom > 0 {
			h.err = h.truncated()
		}
		return false
	}
	k := h.it.Key()
	raw, err := h.it.ValueAndErr()
	if err == nil && (len(k) != h.prefixLen+16 || len(raw) != 1) {
		err = errors.New("malformed history entry")
	}
	if err != nil {
		h.err = err
		return false
	}
	h.entry = HistoryEntry{
		Version:  Version{Block: binary.BigEndian.Uint64(k[h.prefixLen:]), Tx: binary.BigEndian.Uint64(k[h.prefixLen+8:])},
		IsDelete: raw[0] == 1,
	}
	return true
}

func (h *HistoryIterator) truncated() error {
	return fmt.Errorf("history before block %d: %w", h.historyFrom, ErrBeforeSnapshot)
}

// Entry is the current version.
func (h *HistoryIterator) Entry() HistoryEntry { return h.entry }

// Err is the error that stopped the iteration, if any.
func (h *HistoryIterator) Err() error { return h.err }

// Close releases the iterator.
func (h *HistoryIterator) Close() error { return h.it.Close() }

// Snapshot is a consistent view of the state at one height, for simulating
// transactions. It must be closed.
type Snapshot struct {
	StateReader
	snap   *pebble.Snapshot
	height uint64
}

// Height is the ledger height the snapshot sees (blocks 0..Height-1).
func (s *Snapshot) Height() uint64 { return s.height }

// Close releases the snapshot.
func (s *Snapshot) Close() error { return s.snap.Close() }
