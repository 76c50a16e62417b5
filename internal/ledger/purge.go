package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/cockroachdb/pebble/v2"
)

// Block-to-live purge.
//
// A collection's blockToLive n (CommitResult.BlockToLive; 0 keeps its data
// forever) is Fabric's rule (ComputeExpiringBlock in Fabric's
// core/ledger/pvtdatapolicy): private data a transaction of block b wrote
// expires at block b+n+1 (saturating at the largest block number), so it
// can be read while blocks b+1 .. b+n commit, and the commit of block
// b+n+1 purges it in that block's own synced index batch. The purge removes
// the value (if no later transaction rewrote the key), the copy kept for
// reconciling peers (PrivateDataOf then answers nothing), and the record
// that this peer misses the data (reconciliation no longer asks for it,
// and ReconcilePrivateData refuses it). The hashed private state and the
// blocks are untouched: the hashes keep proving that the data existed and
// what it was, commit hashes do not change, and validation never depends
// on a purge. GetPrivateData of a purged key answers no value with the
// version the hashed state holds, so a read of it validates like any
// other. Fabric also purges the hashed state; blossom keeps it, so that
// GetPrivateDataHash still answers (BloSS@M's ledger proves that a member's
// private record existed and was not altered).
//
// Determinism: the expiry of each (transaction, collection) a peer holds
// or misses is staged with the private data before the commit point
// ('r' records), and moved into the purge schedule ('e' records, keyed by
// expiry block) in the block's index batch, so a replay after a crash
// schedules and purges exactly as the interrupted commit would have.

// ExpiringBlock returns the block whose commit purges private data written
// in block committed with blockToLive btl (btl 0: never, math.MaxUint64).
func ExpiringBlock(committed, btl uint64) uint64 {
	if btl == 0 {
		return math.MaxUint64
	}
	expiry := committed + btl + 1
	if expiry <= committed { // overflow
		return math.MaxUint64
	}
	return expiry
}

// retentionKey is 'r' ‖ uint64 block ‖ uint64 tx ‖ ns ‖ 0x00 ‖ coll: the
// staged expiry of a (transaction, collection) of a block not yet
// committed.
func retentionKey(number, tx uint64, ns, coll string) []byte {
	return txCollectionKey(prefixRetention, number, tx, ns, coll)
}

func retentionBlockPrefix(number uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixRetention}, number)
}

// scheduleKey is 'e' ‖ uint64 expiry ‖ uint64 block ‖ uint64 tx ‖ ns ‖
// 0x00 ‖ coll; its value is the SHA-256 key hashes the transaction wrote
// in the collection.
func scheduleKey(expiry, number, tx uint64, ns, coll string) []byte {
	k := binary.BigEndian.AppendUint64([]byte{prefixSchedule}, expiry)
	return append(k, txCollectionKey(prefixSchedule, number, tx, ns, coll)[1:]...)
}

func scheduleExpiryPrefix(expiry uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixSchedule}, expiry)
}

// txCollectionKey is prefix ‖ uint64 block ‖ uint64 tx ‖ ns ‖ 0x00 ‖ coll.
func txCollectionKey(prefix byte, number, tx uint64, ns, coll string) []byte {
	k := binary.BigEndian.AppendUint64([]byte{prefix}, number)
	k = binary.BigEndian.AppendUint64(k, tx)
	k = append(k, ns...)
	k = append(k, 0)
	return append(k, coll...)
}

// purgeEntry is one (transaction, collection) due for purging.
type purgeEntry struct {
	expiry    uint64
	version   Version
	ns, coll  string
	keyHashes [][]byte
}

// decodeScheduleEntry decodes an 'e' key and its value.
func decodeScheduleEntry(k, v []byte) (purgeEntry, error) {
	if len(k) < 26 || k[0] != prefixSchedule {
		return purgeEntry{}, errors.New("not a purge schedule key")
	}
	ns, coll, ok := bytes.Cut(k[25:], []byte{0})
	if !ok || CheckCollection(string(ns), string(coll)) != nil {
		return purgeEntry{}, errors.New("purge schedule key without a valid namespace and collection")
	}
	if len(v)%sha256.Size != 0 {
		return purgeEntry{}, fmt.Errorf("purge schedule value of %d bytes", len(v))
	}
	e := purgeEntry{
		expiry:  binary.BigEndian.Uint64(k[1:9]),
		version: Version{Block: binary.BigEndian.Uint64(k[9:17]), Tx: binary.BigEndian.Uint64(k[17:25])},
		ns:      string(ns),
		coll:    string(coll),
	}
	for i := 0; i < len(v); i += sha256.Size {
		e.keyHashes = append(e.keyHashes, append([]byte(nil), v[i:i+sha256.Size]...))
	}
	return e, nil
}

// decodeRetention decodes an 'r' record.
func decodeRetention(k, v []byte) (number, tx uint64, ref collRef, expiry uint64, err error) {
	if len(k) < 18 || k[0] != prefixRetention {
		return 0, 0, collRef{}, 0, errors.New("not a staged retention key")
	}
	ns, coll, ok := bytes.Cut(k[17:], []byte{0})
	if !ok || CheckCollection(string(ns), string(coll)) != nil {
		return 0, 0, collRef{}, 0, errors.New("staged retention key without a valid namespace and collection")
	}
	if len(v) != 8 {
		return 0, 0, collRef{}, 0, fmt.Errorf("staged retention value of %d bytes", len(v))
	}
	return binary.BigEndian.Uint64(k[1:9]), binary.BigEndian.Uint64(k[9:17]), collRef{string(ns), string(coll)}, binary.BigEndian.Uint64(v), nil
}

// purgedKey is 'u' ‖ ns ‖ 0x00 ‖ coll ‖ 0x00 ‖ SHA-256(key): the version
// of the key whose value was purged.
func purgedKey(ns, coll string, keyHash []byte) []byte {
	return collectionKey(prefixPurged, ns, coll, keyHash)
}

// stageRetention adds to batch the expiry of each collection of block
// number that this peer holds or misses and whose blockToLive is not 0.
func stageRetention(batch *pebble.Batch, number uint64, writes [][]privateWrite, missing [][]collRef, btl func(ns, coll string) uint64) error {
	if btl == nil {
		return nil
	}
	for i := range writes {
		seen := map[collRef]bool{}
		refs := append([]collRef(nil), missing[i]...)
		for _, w := range writes[i] {
			refs = append(refs, collRef{w.namespace, w.collection})
		}
		for _, r := range refs {
			if seen[r] {
				continue
			}
			seen[r] = true
			n := btl(r.namespace, r.collection)
			if n == 0 {
				continue
			}
			v := binary.BigEndian.AppendUint64(nil, ExpiringBlock(number, n))
			if err := batch.Set(retentionKey(number, uint64(i), r.namespace, r.collection), v, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// schedulePurges adds to batch, for each expiry staged for block number,
// a purge schedule entry listing the key hashes the block's transaction
// wrote in that collection, and drops the staged records.
func (l *Ledger) schedulePurges(batch *pebble.Batch, number uint64, hashes [][]PrivateWriteHash) error {
	return l.consumeRange(batch, retentionBlockPrefix(number), retentionBlockPrefix(number+1), func(k, v []byte) error {
		_, tx, ref, expiry, err := decodeRetention(k, v)
		if err != nil {
			return err
		}
		if tx >= uint64(len(hashes)) {
			return fmt.Errorf("staged retention for transaction %d of a block of %d", tx, len(hashes))
		}
		var keyHashes []byte
		for _, h := range hashes[tx] {
			if h.Namespace == ref.namespace && h.Collection == ref.collection {
				keyHashes = append(keyHashes, h.KeyHash...)
			}
		}
		return batch.Set(scheduleKey(expiry, number, tx, ref.namespace, ref.collection), keyHashes, nil)
	})
}

// consumeRange calls fn on every record in [lower, upper), then adds to
// batch the deletion of the range (if it held any).
func (l *Ledger) consumeRange(batch *pebble.Batch, lower, upper []byte, fn func(k, v []byte) error) error {
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	defer it.Close()
	found := false
	for it.First(); it.Valid(); it.Next() {
		found = true
		value, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		if err := fn(it.Key(), value); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	if !found {
		return nil
	}
	return batch.DeleteRange(lower, upper, nil)
}

// purgeExpired adds to batch the purge of every (transaction, collection)
// that expires at block number (see the comment at the top of this file).
// It must be added before the block's own private writes: a key the block
// rewrites keeps its new value.
func (l *Ledger) purgeExpired(batch *pebble.Batch, number uint64) error {
	return l.consumeRange(batch, scheduleExpiryPrefix(number), scheduleExpiryPrefix(number+1), func(k, v []byte) error {
		e, err := decodeScheduleEntry(k, v)
		if err != nil {
			return err
		}
		if err := l.purgeEntry(batch, e); err != nil {
			return fmt.Errorf("purge %s/%s of %d/%d: %w", e.ns, e.coll, e.version.Block, e.version.Tx, err)
		}
		return nil
	})
}

// purgeEntry adds to batch the purge of one (transaction, collection).
func (l *Ledger) purgeEntry(batch *pebble.Batch, e purgeEntry) error {
	r := StateReader{r: l.db}
	for _, kh := range e.keyHashes {
		cur, err := r.GetPrivateDataHash(e.ns, e.coll, kh)
		if err != nil {
			return err
		}
		if cur != nil && cur.Version == e.version {
			if err := batch.Set(purgedKey(e.ns, e.coll, kh), encodeStateValue(e.version, nil), nil); err != nil {
				return err
			}
		}
	}
	archived, err := l.PrivateDataOf(e.version.Block, e.version.Tx, e.ns, e.coll)
	if err != nil {
		return err
	}
	for _, w := range archived.GetWrites() {
		if err := deleteValueOfVersion(l.db, batch, privateKey(e.ns, e.coll, w.GetKey()), e.version); err != nil {
			return err
		}
	}
	if err := batch.Delete(archiveKey(e.version.Block, e.version.Tx, e.ns, e.coll), nil); err != nil {
		return err
	}
	return batch.Delete(missingKey(e.version.Block, e.version.Tx, e.ns, e.coll), nil)
}

// deleteValueOfVersion adds to batch the deletion of private value k if
// its stored version is v (a later version is not v's to purge).
func deleteValueOfVersion(r pebble.Reader, batch *pebble.Batch, k []byte, v Version) error {
	stored, err := getVersioned(r, k)
	if err != nil || stored == nil || stored.Version != v {
		return err
	}
	return batch.Delete(k, nil)
}

// purgedAt reports whether the value of the private key with hash keyHash
// at version v was purged.
func (s StateReader) purgedAt(ns, coll string, keyHash []byte, v Version) (bool, error) {
	purged, err := getVersioned(s.r, purgedKey(ns, coll, keyHash))
	if err != nil {
		return false, fmt.Errorf("read purge record: %w", err)
	}
	return purged != nil && purged.Version == v, nil
}

// getVersioned reads a record encoded by encodeStateValue (nil if absent);
// the value is a copy.
func getVersioned(r pebble.Reader, k []byte) (*VersionedValue, error) {
	b, closer, err := r.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	v, value, err := decodeStateValue(b)
	if err != nil {
		return nil, err
	}
	return &VersionedValue{Value: append([]byte(nil), value...), Version: v}, nil
}
