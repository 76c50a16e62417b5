// Package transient is a peer's transient store: the private read/write
// sets of endorsed transactions, kept by txID from endorsement (or receipt
// from another peer) until the transaction commits, when the peer moves
// them into its ledger, or until they are purged as too old (DESIGN §8,
// §11). A Put is fsynced before it returns, so an endorsement is only
// answered once its private data survives a crash.
package transient

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// Bounds on what the store accepts.
const (
	MaxTxIDBytes = 256
	// MaxSetBytes bounds one marshalled private read/write set.
	MaxSetBytes = 16 << 20
)

// Key layout:
//
//	'd' ‖ txID ‖ 0x00 ‖ SHA-256(set)            marshalled TxPvtReadWriteSet
//	'e' ‖ uint64 height ‖ txID ‖ 0x00 ‖ SHA-256  empty: purge index by the height at receipt
const (
	prefixData  = 'd'
	prefixPurge = 'e'
)

// Store is a transient store. It is safe for concurrent use.
type Store struct {
	db *pebble.DB
}

// Open opens (creating if needed) the transient store in dir.
func Open(dir string) (*Store, error) {
	db, err := pebble.Open(filepath.Clean(dir), &pebble.Options{})
	if err != nil {
		return nil, fmt.Errorf("open transient store: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

func checkTxID(txID string) error {
	if txID == "" || len(txID) > MaxTxIDBytes || strings.IndexByte(txID, 0) >= 0 {
		return fmt.Errorf("transient store: bad transaction ID of %d bytes", len(txID))
	}
	return nil
}

func dataPrefix(txID string) []byte {
	k := append([]byte{prefixData}, txID...)
	return append(k, 0)
}

func purgeKey(height uint64, txID string, sum []byte) []byte {
	k := binary.BigEndian.AppendUint64([]byte{prefixPurge}, height)
	k = append(k, txID...)
	k = append(k, 0)
	return append(k, sum...)
}

// Put stores set for txID, received when the ledger height was height
// (PurgeBelow uses it), and fsyncs. Storing the same set twice keeps one
// copy; different sets for one txID (parts pushed by several endorsers)
// are all kept.
func (s *Store) Put(txID string, height uint64, set *pb.TxPvtReadWriteSet) error {
	if err := checkTxID(txID); err != nil {
		return err
	}
	b, err := protocol.Marshal(set)
	if err != nil {
		return fmt.Errorf("transient store: %w", err)
	}
	if len(b) > MaxSetBytes {
		return fmt.Errorf("transient store: private read/write set of %d bytes (limit %d)", len(b), MaxSetBytes)
	}
	sum := sha256.Sum256(b)
	batch := s.db.NewBatch()
	defer batch.Close()
	if err := batch.Set(append(dataPrefix(txID), sum[:]...), b, nil); err != nil {
		return err
	}
	if err := batch.Set(purgeKey(height, txID, sum[:]), nil, nil); err != nil {
		return err
	}
	return s.db.Apply(batch, pebble.Sync)
}

// Get returns every set stored for txID (none: nil).
func (s *Store) Get(txID string) ([]*pb.TxPvtReadWriteSet, error) {
	if err := checkTxID(txID); err != nil {
		return nil, err
	}
	p := dataPrefix(txID)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: append(p[:len(p)-1:len(p)-1], 1)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []*pb.TxPvtReadWriteSet
	for it.First(); it.Valid(); it.Next() {
		set := new(pb.TxPvtReadWriteSet)
		if err := protocol.Unmarshal(it.Value(), set, MaxSetBytes); err != nil {
			return nil, fmt.Errorf("transient store: stored set of %s: %w", txID, err)
		}
		out = append(out, set)
	}
	return out, it.Error()
}

// Remove drops every set stored for txIDs (the transactions committed).
// The purge index entries go at the next PurgeBelow.
func (s *Store) Remove(txIDs ...string) error {
	batch := s.db.NewBatch()
	defer batch.Close()
	for _, txID := range txIDs {
		if err := checkTxID(txID); err != nil {
			return err
		}
		p := dataPrefix(txID)
		if err := batch.DeleteRange(p, append(p[:len(p)-1:len(p)-1], 1), nil); err != nil {
			return err
		}
	}
	return s.db.Apply(batch, pebble.NoSync)
}

// PurgeBelow drops every set received when the ledger height was below
// height: transactions that never committed within the retention window.
func (s *Store) PurgeBelow(height uint64) error {
	lo, hi := []byte{prefixPurge}, binary.BigEndian.AppendUint64([]byte{prefixPurge}, height)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	batch := s.db.NewBatch()
	defer batch.Close()
	for it.First(); it.Valid(); it.Next() {
		rest := it.Key()[9:]
		if len(rest) < sha256.Size+1 || rest[len(rest)-sha256.Size-1] != 0 {
			it.Close()
			return errors.New("transient store: malformed purge index key")
		}
		txID := rest[:len(rest)-sha256.Size-1]
		sum := rest[len(rest)-sha256.Size:]
		data := append(append([]byte{prefixData}, txID...), 0)
		if err := batch.Delete(append(data, sum...), nil); err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Error(); err != nil {
		it.Close()
		return err
	}
	if err := it.Close(); err != nil {
		return err
	}
	if err := batch.DeleteRange(lo, hi, nil); err != nil {
		return err
	}
	return s.db.Apply(batch, pebble.NoSync)
}
