package ledger

import (
	"bytes"
	"crypto/sha256"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// Private data before a snapshot.
//
// A ledger created from a snapshot holds the hashed private state of every
// collection, but private values only if the snapshot's member-local part
// was imported, and never those the exporting peer itself missed. Fabric
// reconciles such data from other peers after a join by snapshot; so does
// blossom: MarkSnapshotPrivateDataMissing records, once, each (transaction,
// collection) of the snapshot whose values this peer's member should hold
// and does not (with its block-to-live purge scheduled as at commit), and
// ReconcilePrivateData accepts them checked key by key against the hashed
// state, since the blocks before the snapshot that carried the full hashed
// write sets are not here.

// baseMarkedKey records that MarkSnapshotPrivateDataMissing ran.
var baseMarkedKey = []byte{prefixBase, 'p'}

// MarkSnapshotPrivateDataMissing records as missing, for reconciliation,
// every (transaction, collection) before the snapshot height whose current
// hashed private state names values this ledger lacks, for the collections
// eligible says this peer's member belongs to, and schedules their
// block-to-live purge (btl, nil: keep forever) as a commit would have;
// data already past its purge is not asked for. It runs once per ledger
// (later calls, and calls on a ledger that started from block 0, do
// nothing) and returns how many it recorded.
func (l *Ledger) MarkSnapshotPrivateDataMissing(eligible func(ns, coll string) bool, btl func(ns, coll string) uint64) (int, error) {
	l.commitMu.Lock()
	defer l.commitMu.Unlock()
	if l.closed {
		return 0, ErrClosed
	}
	if l.base == nil {
		return 0, nil
	}
	if done, err := getRaw(l.db, baseMarkedKey); err != nil || done != nil {
		return 0, err
	}
	held, err := l.heldPrivateHashes()
	if err != nil {
		return 0, err
	}
	type txColl struct {
		v        Version
		ns, coll string
	}
	keyHashes := map[txColl][]byte{}
	var order []txColl
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixHashed}, UpperBound: []byte{prefixHashed + 1}})
	if err != nil {
		return 0, err
	}
	for it.First(); it.Valid(); it.Next() {
		ns, coll, kh, err := splitCollectionKey(it.Key())
		if err != nil {
			it.Close()
			return 0, err
		}
		v, _, err := decodeStateValue(it.Value())
		if err != nil {
			it.Close()
			return 0, err
		}
		if v.Block >= l.base.height || eligible == nil || !eligible(ns, coll) {
			continue
		}
		if hv, ok := held[string(it.Key()[1:])]; ok && hv == v {
			continue
		}
		if purged, err := (StateReader{r: l.db}).purgedAt(ns, coll, kh, v); err != nil || purged {
			if err != nil {
				it.Close()
				return 0, err
			}
			continue
		}
		k := txColl{v, ns, coll}
		if _, ok := keyHashes[k]; !ok {
			order = append(order, k)
		}
		keyHashes[k] = append(keyHashes[k], kh...)
	}
	if err := it.Close(); err != nil {
		return 0, err
	}
	batch := l.db.NewBatch()
	defer batch.Close()
	marked := 0
	for _, k := range order {
		var n uint64
		if btl != nil {
			n = btl(k.ns, k.coll)
		}
		expiry := ExpiringBlock(k.v.Block, n)
		if expiry < l.chain.height {
			continue // purged by a block already committed
		}
		if err := batch.Set(missingKey(k.v.Block, k.v.Tx, k.ns, k.coll), nil, nil); err != nil {
			return 0, err
		}
		if n > 0 {
			sk := scheduleKey(expiry, k.v.Block, k.v.Tx, k.ns, k.coll)
			if old, err := getRaw(l.db, sk); err != nil {
				return 0, err
			} else if old == nil {
				if err := batch.Set(sk, keyHashes[k], nil); err != nil {
					return 0, err
				}
			}
		}
		marked++
	}
	if err := batch.Set(baseMarkedKey, []byte{1}, nil); err != nil {
		return 0, err
	}
	return marked, l.db.Apply(batch, pebble.Sync)
}

// heldPrivateHashes maps ns ‖ 0 ‖ coll ‖ 0 ‖ SHA-256(key) of every private
// value this ledger holds to its version.
func (l *Ledger) heldPrivateHashes() (map[string]Version, error) {
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixPrivate}, UpperBound: []byte{prefixPrivate + 1}})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	held := map[string]Version{}
	for it.First(); it.Valid(); it.Next() {
		ns, coll, key, err := splitCollectionKey(it.Key())
		if err != nil {
			return nil, err
		}
		v, _, err := decodeStateValue(it.Value())
		if err != nil {
			return nil, err
		}
		kh := sha256.Sum256(key)
		held[string(collectionKey(0, ns, coll, kh[:])[1:])] = v
	}
	return held, it.Error()
}

// reconcileBeforeSnapshot stores private data missing for transaction m
// before the snapshot height (commitMu held): every key whose hashed state
// is still at m's version must come with a value that hashes to it, and
// only those are stored. Data with no key left at m's version is refused.
func (l *Ledger) reconcileBeforeSnapshot(m MissingPrivateData, mk []byte, data *pb.CollectionPvtReadWriteSet) error {
	v := Version{Block: m.Block, Tx: m.Tx}
	want := map[string][]byte{} // key hash -> value hash, of the keys at v
	prefix := collectionKey(prefixHashed, m.Namespace, m.Collection, nil)
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		ver, vh, err := decodeStateValue(it.Value())
		if err != nil {
			it.Close()
			return err
		}
		if ver == v {
			want[string(it.Key()[len(prefix):])] = append([]byte(nil), vh...)
		}
	}
	if err := it.Close(); err != nil {
		return err
	}
	var ws []privateWrite
	for _, w := range data.GetWrites() {
		kh := sha256.Sum256([]byte(w.GetKey()))
		vh, ok := want[string(kh[:])]
		if !ok || w.GetIsDelete() || CheckWriteKey(m.Namespace, w.GetKey()) != nil {
			continue // rewritten or deleted since: not this version's to serve
		}
		if got := sha256.Sum256(w.GetValue()); !bytes.Equal(got[:], vh) {
			return fmt.Errorf("private data of %d/%d %s/%s does not match the hashed state", m.Block, m.Tx, m.Namespace, m.Collection)
		}
		delete(want, string(kh[:]))
		ws = append(ws, privateWrite{namespace: m.Namespace, collection: m.Collection, key: w.GetKey(), value: w.GetValue()})
	}
	if len(ws) == 0 || len(want) > 0 {
		return fmt.Errorf("private data of %d/%d %s/%s does not cover the keys the hashed state holds at that version", m.Block, m.Tx, m.Namespace, m.Collection)
	}
	batch := l.db.NewBatch()
	defer batch.Close()
	for _, w := range ws {
		if err := batch.Set(privateKey(w.namespace, w.collection, w.key), encodeStateValue(v, w.value), nil); err != nil {
			return err
		}
	}
	return l.applyReconciled(batch, mk, v, ws)
}
