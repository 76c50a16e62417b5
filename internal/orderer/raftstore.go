package orderer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
)

// raftStore is a channel's Raft log and stable store (raft.LogStore and
// raft.StableStore) in one Pebble database; every write is synced.
//
// DESIGN §9 names hashicorp/raft-wal v0.4.0 for this. That release (the
// only one the module proxy serves) seals the tail segment on a log suffix
// truncation without writing its index block, so the next start panics in
// raft.NewRaft with "sealed segment has no index block"
// (hashicorp/raft-wal#31, fixed upstream after v0.4.0 but not released). A
// restarted leader truncates its uncommitted suffix as a matter of course,
// and TestLeaderKillUnderLoad hit the panic in about one run in eight, so
// the orderer keeps its log in Pebble, the project's storage engine,
// instead.
//
// Keys: 'l' ‖ big-endian index → encoded raft.Log; 's' ‖ key → value.
type raftStore struct {
	db *pebble.DB
	mu sync.Mutex // serialises writes and guards first/last
	// first and last are the log's index bounds (0, 0 when empty).
	first, last uint64
}

const (
	raftLogPrefix    = 'l'
	raftStablePrefix = 's'
	// maxRaftLogBytes bounds one decoded log entry's data.
	maxRaftLogBytes = maxEntryBytes + 1<<20
)

var errRaftKeyNotFound = errors.New("not found") // the text raft checks for

func openRaftStore(dir string, log *slog.Logger) (*raftStore, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebbleLogger{log}, CacheSize: 8 << 20})
	if err != nil {
		return nil, fmt.Errorf("raft store: %w", err)
	}
	s := &raftStore{db: db}
	if err := s.loadBounds(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func raftLogKey(index uint64) []byte {
	k := make([]byte, 9)
	k[0] = raftLogPrefix
	binary.BigEndian.PutUint64(k[1:], index)
	return k
}

// loadBounds reads the first and last log index from the database.
func (s *raftStore) loadBounds() error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{raftLogPrefix}, UpperBound: []byte{raftLogPrefix + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	s.first, s.last = 0, 0
	if it.First() {
		s.first = binary.BigEndian.Uint64(it.Key()[1:])
		it.Last()
		s.last = binary.BigEndian.Uint64(it.Key()[1:])
	}
	return it.Error()
}

// FirstIndex implements raft.LogStore.
func (s *raftStore) FirstIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first, nil
}

// LastIndex implements raft.LogStore.
func (s *raftStore) LastIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, nil
}

// GetLog implements raft.LogStore.
func (s *raftStore) GetLog(index uint64, out *raft.Log) error {
	v, closer, err := s.db.Get(raftLogKey(index))
	if errors.Is(err, pebble.ErrNotFound) {
		return raft.ErrLogNotFound
	}
	if err != nil {
		return err
	}
	defer closer.Close()
	if err := decodeRaftLog(v, out); err != nil {
		return fmt.Errorf("raft log %d: %w", index, err)
	}
	if out.Index != index {
		return fmt.Errorf("raft log %d holds entry %d", index, out.Index)
	}
	return nil
}

// StoreLog implements raft.LogStore.
func (s *raftStore) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

// StoreLogs implements raft.LogStore: one synced batch.
func (s *raftStore) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	for _, l := range logs {
		if err := b.Set(raftLogKey(l.Index), encodeRaftLog(l), nil); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.db.Apply(b, pebble.Sync); err != nil {
		return err
	}
	for _, l := range logs {
		if s.first == 0 || l.Index < s.first {
			s.first = l.Index
		}
		if l.Index > s.last {
			s.last = l.Index
		}
	}
	return nil
}

// DeleteRange implements raft.LogStore: deletes [min, max].
func (s *raftStore) DeleteRange(min, max uint64) error {
	if min > max {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.db.DeleteRange(raftLogKey(min), raftLogKey(max+1), pebble.Sync); err != nil {
		return err
	}
	return s.loadBounds()
}

func stableKey(k []byte) []byte { return append([]byte{raftStablePrefix}, k...) }

// Set implements raft.StableStore.
func (s *raftStore) Set(key, val []byte) error {
	return s.db.Set(stableKey(key), val, pebble.Sync)
}

// Get implements raft.StableStore; a missing key is the error "not found".
func (s *raftStore) Get(key []byte) ([]byte, error) {
	v, closer, err := s.db.Get(stableKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, errRaftKeyNotFound
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return append([]byte(nil), v...), nil
}

// SetUint64 implements raft.StableStore.
func (s *raftStore) SetUint64(key []byte, val uint64) error {
	return s.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

// GetUint64 implements raft.StableStore.
func (s *raftStore) GetUint64(key []byte) (uint64, error) {
	v, err := s.Get(key)
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("stable key %q holds %d bytes, not a uint64", key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

func (s *raftStore) Close() error { return s.db.Close() }

// Encoded raft.Log: index ‖ term ‖ type (1 byte) ‖ appended-at (Unix ns) ‖
// len(data) ‖ data ‖ len(extensions) ‖ extensions; integers big-endian,
// lengths uint32.
func encodeRaftLog(l *raft.Log) []byte {
	out := make([]byte, 0, 8+8+1+8+4+len(l.Data)+4+len(l.Extensions))
	out = binary.BigEndian.AppendUint64(out, l.Index)
	out = binary.BigEndian.AppendUint64(out, l.Term)
	out = append(out, byte(l.Type))
	var at int64
	if !l.AppendedAt.IsZero() {
		at = l.AppendedAt.UnixNano()
	}
	out = binary.BigEndian.AppendUint64(out, uint64(at))
	out = binary.BigEndian.AppendUint32(out, uint32(len(l.Data)))
	out = append(out, l.Data...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(l.Extensions)))
	return append(out, l.Extensions...)
}

func decodeRaftLog(b []byte, l *raft.Log) error {
	if len(b) < 8+8+1+8+4 {
		return errors.New("truncated entry")
	}
	l.Index = binary.BigEndian.Uint64(b)
	l.Term = binary.BigEndian.Uint64(b[8:])
	l.Type = raft.LogType(b[16])
	at := int64(binary.BigEndian.Uint64(b[17:]))
	l.AppendedAt = time.Time{}
	if at != 0 {
		l.AppendedAt = time.Unix(0, at)
	}
	r := b[25:]
	take := func() ([]byte, error) {
		if len(r) < 4 {
			return nil, errors.New("truncated entry")
		}
		n := binary.BigEndian.Uint32(r)
		if n > maxRaftLogBytes || int(n) > len(r)-4 {
			return nil, errors.New("truncated or oversized entry")
		}
		v := append([]byte(nil), r[4:4+n]...)
		r = r[4+n:]
		return v, nil
	}
	var err error
	if l.Data, err = take(); err != nil {
		return err
	}
	if l.Extensions, err = take(); err != nil {
		return err
	}
	if len(r) != 0 {
		return errors.New("trailing bytes after the entry")
	}
	return nil
}

// pebbleLogger routes Pebble's messages to slog (Info as Debug: Pebble is
// chatty about routine compactions).
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}
func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error(msg, "component", "pebble")
	panic("pebble: " + msg)
}
