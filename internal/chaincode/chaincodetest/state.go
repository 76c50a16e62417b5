// Package chaincodetest provides an in-memory chaincode.StateReader for
// tests of the simulator, the runtimes and the peer: versioned public and
// private state, history, injected failures, and Apply to commit a
// simulation's writes so that a test can run transactions in sequence.
package chaincodetest

import (
	"crypto/sha256"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/blossom-ledger/blossom/internal/chaincode"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

type entry struct {
	value   []byte
	version *pb.Version
}

type collKey struct{ ns, coll string }

// State is an in-memory versioned state. It is safe for concurrent use;
// iterators see the keys present when they were created.
type State struct {
	mu      sync.RWMutex
	height  uint64
	public  map[string]map[string]entry  // ns → key
	private map[collKey]map[string]entry // → key
	hashes  map[collKey]map[string]entry // → string(key hash), value = value hash
	history map[string]map[string][]contract.KeyModification
	notHeld map[collKey]bool
	unknown map[collKey]bool
	failErr error
}

var _ chaincode.StateReader = (*State)(nil)

// NewState returns an empty state at height 0.
func NewState() *State {
	return &State{
		public:  map[string]map[string]entry{},
		private: map[collKey]map[string]entry{},
		hashes:  map[collKey]map[string]entry{},
		history: map[string]map[string][]contract.KeyModification{},
		notHeld: map[collKey]bool{},
		unknown: map[collKey]bool{},
	}
}

// Put sets a public value with its version; a nil value removes the key.
func (s *State) Put(ns, key string, value []byte, v *pb.Version) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put(ns, key, value, v)
}

func (s *State) put(ns, key string, value []byte, v *pb.Version) {
	if value == nil {
		delete(s.public[ns], key)
		return
	}
	if s.public[ns] == nil {
		s.public[ns] = map[string]entry{}
	}
	s.public[ns][key] = entry{slices.Clone(value), v}
}

// PutPrivate sets a private value (and its hash) with its version; a nil
// value removes the key.
func (s *State) PutPrivate(ns, coll, key string, value []byte, v *pb.Version) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putPrivate(ns, coll, key, value, v)
}

func (s *State) putPrivate(ns, coll, key string, value []byte, v *pb.Version) {
	ck := collKey{ns, coll}
	kh := sha256.Sum256([]byte(key))
	if value == nil {
		delete(s.private[ck], key)
		delete(s.hashes[ck], string(kh[:]))
		return
	}
	if s.private[ck] == nil {
		s.private[ck] = map[string]entry{}
		s.hashes[ck] = map[string]entry{}
	}
	vh := sha256.Sum256(value)
	s.private[ck][key] = entry{slices.Clone(value), v}
	s.hashes[ck][string(kh[:])] = entry{vh[:], v}
}

// AddHistory appends a modification of key (oldest first; GetHistory
// returns newest first).
func (s *State) AddHistory(ns, key string, m contract.KeyModification) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.history[ns] == nil {
		s.history[ns] = map[string][]contract.KeyModification{}
	}
	s.history[ns][key] = append(s.history[ns][key], m)
}

// SetHeight sets the height Height reports.
func (s *State) SetHeight(h uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.height = h
}

// SetNotHeld makes value reads of a collection fail with
// *chaincode.PrivateDataNotHeldError (hash reads still answer).
func (s *State) SetNotHeld(ns, coll string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notHeld[collKey{ns, coll}] = true
}

// SetUnknownCollection makes every read of a collection fail with
// chaincode.ErrUnknownCollection.
func (s *State) SetUnknownCollection(ns, coll string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unknown[collKey{ns, coll}] = true
}

// FailWith makes every read fail with err (nil: stop failing).
func (s *State) FailWith(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failErr = err
}

// Apply commits a simulation's public and private writes at version
// (block, tx) and appends them to history. It does not validate.
func (s *State) Apply(rwset *pb.TxReadWriteSet, pvt *pb.TxPvtReadWriteSet, txID string, ts time.Time, block, tx uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ns := range rwset.GetNsRwsets() {
		for _, w := range ns.Writes {
			var value []byte
			if !w.IsDelete {
				value = w.Value
			}
			s.put(ns.Namespace, w.Key, value, &pb.Version{Block: block, Tx: tx})
			if s.history[ns.Namespace] == nil {
				s.history[ns.Namespace] = map[string][]contract.KeyModification{}
			}
			s.history[ns.Namespace][w.Key] = append(s.history[ns.Namespace][w.Key], contract.KeyModification{
				TxID: txID, Timestamp: ts, Value: slices.Clone(value), IsDelete: w.IsDelete,
			})
		}
	}
	for _, ns := range pvt.GetNsPvtRwsets() {
		for _, coll := range ns.CollectionPvtRwsets {
			for _, w := range coll.Writes {
				var value []byte
				if !w.IsDelete {
					value = w.Value
				}
				s.putPrivate(ns.Namespace, coll.Collection, w.Key, value, &pb.Version{Block: block, Tx: tx})
			}
		}
	}
	if block+1 > s.height {
		s.height = block + 1
	}
}

// Height implements chaincode.StateReader.
func (s *State) Height() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.height
}

// GetState implements chaincode.StateReader.
func (s *State) GetState(ns, key string) ([]byte, *pb.Version, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.failErr != nil {
		return nil, nil, s.failErr
	}
	e, ok := s.public[ns][key]
	if !ok {
		return nil, nil, nil
	}
	return slices.Clone(e.value), e.version, nil
}

// GetStateRange implements chaincode.StateReader.
func (s *State) GetStateRange(ns, start, end string) (chaincode.StateIterator, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.failErr != nil {
		return nil, s.failErr
	}
	return s.newIterator(s.public[ns], start, end), nil
}

func (s *State) collError(ns, coll string, value bool) error {
	ck := collKey{ns, coll}
	switch {
	case s.failErr != nil:
		return s.failErr
	case s.unknown[ck]:
		return chaincode.ErrUnknownCollection
	case value && s.notHeld[ck]:
		return &chaincode.PrivateDataNotHeldError{Namespace: ns, Collection: coll}
	}
	return nil
}

// GetPrivateData implements chaincode.StateReader.
func (s *State) GetPrivateData(ns, coll, key string) ([]byte, *pb.Version, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.collError(ns, coll, true); err != nil {
		return nil, nil, err
	}
	e, ok := s.private[collKey{ns, coll}][key]
	if !ok {
		return nil, nil, nil
	}
	return slices.Clone(e.value), e.version, nil
}

// GetPrivateDataHash implements chaincode.StateReader.
func (s *State) GetPrivateDataHash(ns, coll string, keyHash []byte) ([]byte, *pb.Version, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.collError(ns, coll, false); err != nil {
		return nil, nil, err
	}
	e, ok := s.hashes[collKey{ns, coll}][string(keyHash)]
	if !ok {
		return nil, nil, nil
	}
	return slices.Clone(e.value), e.version, nil
}

// GetPrivateDataRange implements chaincode.StateReader.
func (s *State) GetPrivateDataRange(ns, coll, start, end string) (chaincode.StateIterator, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.collError(ns, coll, true); err != nil {
		return nil, err
	}
	return s.newIterator(s.private[collKey{ns, coll}], start, end), nil
}

// GetHistory implements chaincode.StateReader.
func (s *State) GetHistory(ns, key string) (chaincode.HistoryIterator, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.failErr != nil {
		return nil, s.failErr
	}
	mods := slices.Clone(s.history[ns][key])
	slices.Reverse(mods)
	return &historyIterator{mods: mods}, nil
}

func (s *State) newIterator(m map[string]entry, start, end string) *iterator {
	it := &iterator{state: s}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if k >= start && (end == "" || k < end) {
			e := m[k]
			it.kvs = append(it.kvs, chaincode.VersionedKV{Key: k, Value: slices.Clone(e.value), Version: e.version})
		}
	}
	return it
}

type iterator struct {
	state *State
	kvs   []chaincode.VersionedKV
}

func (it *iterator) Next() (*chaincode.VersionedKV, error) {
	it.state.mu.RLock()
	err := it.state.failErr
	it.state.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	if len(it.kvs) == 0 {
		return nil, nil
	}
	kv := it.kvs[0]
	it.kvs = it.kvs[1:]
	return &kv, nil
}

func (it *iterator) Close() { it.kvs = nil }

type historyIterator struct{ mods []contract.KeyModification }

func (it *historyIterator) Next() (*contract.KeyModification, error) {
	if len(it.mods) == 0 {
		return nil, nil
	}
	m := it.mods[0]
	it.mods = it.mods[1:]
	return &m, nil
}

func (it *historyIterator) Close() { it.mods = nil }
