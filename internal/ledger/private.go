package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/cockroachdb/pebble/v2"

	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// ErrPrivateDataMissing: the block hashes say a private key has a value at
// some version, but this peer does not hold that version's value (it was
// never received, or did not match the block's hashes). The peer records it
// for reconciliation and never serves an older value instead.
var ErrPrivateDataMissing = errors.New("private data missing")

// MaxCollectionBytes bounds collection names.
const MaxCollectionBytes = 256

// PrivateWriteHash is one hashed private write of a valid transaction, as
// its block carries it: every peer stores these, whatever collections its
// member belongs to.
type PrivateWriteHash struct {
	Namespace  string
	Collection string
	KeyHash    []byte // SHA-256 of the key, 32 bytes
	IsDelete   bool
	ValueHash  []byte // SHA-256 of the value, 32 bytes; nil for a delete
}

// MissingPrivateData names a collection of a committed transaction whose
// private writes this peer should hold but does not.
type MissingPrivateData struct {
	Block      uint64
	Tx         uint64
	Namespace  string
	Collection string
}

// CheckCollection reports whether (namespace, collection) may be stored: the
// namespace as CheckWriteKey requires, the collection 1..MaxCollectionBytes
// bytes of UTF-8 without NUL.
func CheckCollection(namespace, collection string) error {
	if err := CheckWriteKey(namespace, "x"); err != nil {
		return err
	}
	switch {
	case collection == "":
		return fmt.Errorf("empty collection in namespace %q", namespace)
	case len(collection) > MaxCollectionBytes:
		return fmt.Errorf("collection of %d bytes in namespace %q (limit %d)", len(collection), namespace, MaxCollectionBytes)
	case strings.IndexByte(collection, 0) >= 0 || !utf8.ValidString(collection):
		return fmt.Errorf("collection %q is not NUL-free UTF-8", collection)
	}
	return nil
}

// wellFormed reports whether a hashed write can be stored. Malformed ones
// (the validator should have marked their transaction invalid) are ignored
// by every peer alike: they are neither stored nor hashed into the commit
// hash, so they cannot stall the chain.
func (h PrivateWriteHash) wellFormed() bool {
	if CheckCollection(h.Namespace, h.Collection) != nil || len(h.KeyHash) != sha256.Size {
		return false
	}
	if h.IsDelete {
		return len(h.ValueHash) == 0
	}
	return len(h.ValueHash) == sha256.Size
}

// TxPrivateWriteHashes returns the well-formed hashed private writes of one
// envelope in rwset order (none for a CONFIG envelope).
func TxPrivateWriteHashes(envelope []byte) ([]PrivateWriteHash, error) {
	_, payload, hdr, err := protocol.OpenEnvelope(envelope, MaxRecordBytes)
	if err != nil {
		return nil, err
	}
	switch hdr.Type {
	case pb.HeaderType_CONFIG:
		return nil, nil
	case pb.HeaderType_ENDORSER_TRANSACTION:
	default:
		return nil, fmt.Errorf("envelope of type %s has no private writes", hdr.Type)
	}
	rwset, err := txReadWriteSet(payload.Data)
	if err != nil {
		return nil, err
	}
	return RWSetPrivateWriteHashes(rwset), nil
}

// RWSetPrivateWriteHashes returns the well-formed hashed private writes of
// a transaction's read/write set, in rwset order: what
// TxPrivateWriteHashes returns for the envelope carrying it. A caller that
// already parsed the set (the peer's validator) gives them to Commit in
// CommitResult.PrivateHashes instead of having it parse the envelope again.
func RWSetPrivateWriteHashes(rwset *pb.TxReadWriteSet) []PrivateWriteHash {
	var out []PrivateWriteHash
	for _, ns := range rwset.GetNsRwsets() {
		for _, coll := range ns.CollectionHashedRwsets {
			for _, w := range coll.HashedWrites {
				h := PrivateWriteHash{Namespace: ns.Namespace, Collection: coll.Collection, KeyHash: w.KeyHash, IsDelete: w.IsDelete, ValueHash: w.ValueHash}
				if h.wellFormed() {
					out = append(out, h)
				}
			}
		}
	}
	return out
}

// ExtractPrivateWriteHashes returns, for each envelope of block, the hashed
// private writes it commits: TxPrivateWriteHashes for a VALID transaction,
// nothing for the others.
func ExtractPrivateWriteHashes(block *pb.Block, codes []pb.TxValidationCode) ([][]PrivateWriteHash, error) {
	envs := block.GetData().GetEnvelopes()
	if len(codes) != len(envs) {
		return nil, fmt.Errorf("%d validation codes for %d transactions", len(codes), len(envs))
	}
	out := make([][]PrivateWriteHash, len(envs))
	for i, env := range envs {
		if codes[i] != pb.TxValidationCode_VALID {
			continue
		}
		h, err := TxPrivateWriteHashes(env)
		if err != nil {
			return nil, fmt.Errorf("transaction %d: %w", i, err)
		}
		out[i] = h
	}
	return out, nil
}

// privateWrite is one private write this peer stores for a transaction.
type privateWrite struct {
	namespace, collection, key string
	isDelete                   bool
	value                      []byte
}

// matchPrivateData returns the private writes of a valid transaction that
// this peer stores and the collections it records as missing. A
// collection's writes are stored only if they match the block's hashed
// writes of that collection one for one (SHA-256 of key and value, delete
// flag); otherwise, or if the peer holds none, the collection is missing
// when eligible says this peer's member belongs to it (collections present
// in pvt are taken as eligible).
func matchPrivateData(hashes []PrivateWriteHash, pvt *pb.TxPvtReadWriteSet, eligible func(ns, coll string) bool) ([]privateWrite, []collRef) {
	byColl := make(map[collRef][]PrivateWriteHash)
	var order []collRef
	for _, h := range hashes {
		k := collRef{h.Namespace, h.Collection}
		if _, ok := byColl[k]; !ok {
			order = append(order, k)
		}
		byColl[k] = append(byColl[k], h)
	}
	held := make(map[collRef]*pb.CollectionPvtReadWriteSet)
	for _, ns := range pvt.GetNsPvtRwsets() {
		for _, c := range ns.GetCollectionPvtRwsets() {
			k := collRef{ns.GetNamespace(), c.GetCollection()}
			if _, dup := held[k]; dup {
				held[k] = nil // ambiguous: trust neither
				continue
			}
			held[k] = c
		}
	}
	var writes []privateWrite
	var missing []collRef
	for _, k := range order {
		c, ok := held[k]
		if ok && c != nil {
			if ws, good := matchCollection(k, byColl[k], c); good {
				writes = append(writes, ws...)
				continue
			}
		}
		if ok || (eligible != nil && eligible(k.namespace, k.collection)) {
			missing = append(missing, k)
		}
	}
	return writes, missing
}

// collRef names a collection of a namespace.
type collRef struct{ namespace, collection string }

// matchCollection checks a collection's private writes against its hashed
// writes: same count, and each hashed write has exactly one private write
// whose key and value hash to it.
func matchCollection(k collRef, hashes []PrivateWriteHash, c *pb.CollectionPvtReadWriteSet) ([]privateWrite, bool) {
	if len(c.GetWrites()) != len(hashes) {
		return nil, false
	}
	want := make(map[[sha256.Size]byte]PrivateWriteHash, len(hashes))
	for _, h := range hashes {
		want[[sha256.Size]byte(h.KeyHash)] = h
	}
	if len(want) != len(hashes) {
		return nil, false // a key written twice in one collection
	}
	out := make([]privateWrite, 0, len(hashes))
	for _, w := range c.GetWrites() {
		kh := sha256.Sum256([]byte(w.GetKey()))
		h, ok := want[kh]
		if !ok || h.IsDelete != w.GetIsDelete() || CheckWriteKey(k.namespace, w.GetKey()) != nil {
			return nil, false
		}
		if !w.GetIsDelete() {
			vh := sha256.Sum256(w.GetValue())
			if !bytes.Equal(vh[:], h.ValueHash) {
				return nil, false
			}
		}
		delete(want, kh)
		pw := privateWrite{namespace: k.namespace, collection: k.collection, key: w.GetKey(), isDelete: w.GetIsDelete()}
		if !pw.isDelete {
			pw.value = w.GetValue()
		}
		out = append(out, pw)
	}
	return out, true
}

// encodePendingWrites encodes the matched private writes of one
// transaction, staged before the commit point, as a TxPvtReadWriteSet
// (missing collections go straight to their own records).
func encodePendingWrites(ws []privateWrite) ([]byte, error) {
	set := &pb.TxPvtReadWriteSet{}
	var nsSet *pb.NsPvtReadWriteSet
	var collSet *pb.CollectionPvtReadWriteSet
	for _, w := range ws {
		if nsSet == nil || nsSet.Namespace != w.namespace {
			nsSet = &pb.NsPvtReadWriteSet{Namespace: w.namespace}
			set.NsPvtRwsets = append(set.NsPvtRwsets, nsSet)
			collSet = nil
		}
		if collSet == nil || collSet.Collection != w.collection {
			collSet = &pb.CollectionPvtReadWriteSet{Collection: w.collection}
			nsSet.CollectionPvtRwsets = append(nsSet.CollectionPvtRwsets, collSet)
		}
		collSet.Writes = append(collSet.Writes, &pb.KVWrite{Key: w.key, IsDelete: w.isDelete, Value: w.value})
	}
	return protocol.Marshal(set)
}

func decodePendingWrites(b []byte) ([]privateWrite, error) {
	set := new(pb.TxPvtReadWriteSet)
	if err := protocol.Unmarshal(b, set, MaxRecordBytes); err != nil {
		return nil, fmt.Errorf("pending private data: %w", err)
	}
	var out []privateWrite
	for _, ns := range set.NsPvtRwsets {
		for _, c := range ns.CollectionPvtRwsets {
			for _, w := range c.Writes {
				out = append(out, privateWrite{namespace: ns.Namespace, collection: c.Collection, key: w.Key, isDelete: w.IsDelete, value: w.Value})
			}
		}
	}
	return out, nil
}

// stagePrivate writes, in one synchronous batch, the private data of block
// number that this peer holds (pending records), the collections it
// misses, and when each expires (blockToLive), replacing whatever an
// earlier, failed attempt staged for the same number. With nothing to
// stage and nothing left over it writes nothing. Called with commitMu held.
func (l *Ledger) stagePrivate(number uint64, writes [][]privateWrite, missing [][]collRef, btl func(ns, coll string) uint64) error {
	staged := false
	for i := range writes {
		if len(writes[i]) > 0 || len(missing[i]) > 0 {
			staged = true
			break
		}
	}
	if !staged && !l.stageDirty {
		return nil
	}
	batch := l.db.NewBatch()
	defer batch.Close()
	if err := clearStaged(batch, number); err != nil {
		return err
	}
	for i := range writes {
		if len(writes[i]) > 0 {
			b, err := encodePendingWrites(writes[i])
			if err != nil {
				return err
			}
			if err := batch.Set(pendingKey(number, uint64(i)), b, nil); err != nil {
				return err
			}
		}
		for _, m := range missing[i] {
			if err := batch.Set(missingKey(number, uint64(i), m.namespace, m.collection), nil, nil); err != nil {
				return err
			}
		}
	}
	if err := stageRetention(batch, number, writes, missing, btl); err != nil {
		return err
	}
	// Dirty from here until the block's index batch consumes the staging.
	l.stageDirty = true
	if err := l.db.Apply(batch, pebble.Sync); err != nil {
		return err
	}
	l.stageDirty = staged
	return nil
}

// clearStaged adds to batch the removal of everything staged for blocks
// from number on.
func clearStaged(batch *pebble.Batch, number uint64) error {
	if err := batch.DeleteRange(pendingBlockPrefix(number), []byte{prefixPending + 1}, nil); err != nil {
		return err
	}
	if err := batch.DeleteRange(retentionBlockPrefix(number), []byte{prefixRetention + 1}, nil); err != nil {
		return err
	}
	return batch.DeleteRange(missingBlockPrefix(number), []byte{prefixMissing + 1}, nil)
}

// clearStaleStaging drops, on Open after recovery, what a commit that
// never reached its commit point staged (blocks from the height on).
func (l *Ledger) clearStaleStaging() error {
	for _, p := range [][]byte{pendingBlockPrefix(l.chain.height), missingBlockPrefix(l.chain.height), retentionBlockPrefix(l.chain.height)} {
		it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: []byte{p[0] + 1}})
		if err != nil {
			return err
		}
		found := it.First()
		if err := it.Close(); err != nil {
			return err
		}
		if found {
			batch := l.db.NewBatch()
			defer batch.Close()
			if err := clearStaged(batch, l.chain.height); err != nil {
				return err
			}
			return l.db.Apply(batch, pebble.Sync)
		}
	}
	return nil
}

// applyPrivate adds to batch the block's hashed writes (every peer) and the
// private writes staged for it (read back from the pending records), then
// drops the pending records.
func (l *Ledger) applyPrivate(batch *pebble.Batch, number uint64, hashes [][]PrivateWriteHash) error {
	for i, hs := range hashes {
		v := Version{Block: number, Tx: uint64(i)}
		for _, h := range hs {
			k := hashedKey(h.Namespace, h.Collection, h.KeyHash)
			var err error
			if h.IsDelete {
				err = batch.Delete(k, nil)
			} else {
				err = batch.Set(k, encodeStateValue(v, h.ValueHash), nil)
			}
			if err != nil {
				return err
			}
		}
	}
	return l.consumeRange(batch, pendingBlockPrefix(number), pendingBlockPrefix(number+1), func(k, value []byte) error {
		if len(k) != 17 {
			return fmt.Errorf("pending private data key of %d bytes", len(k))
		}
		v := Version{Block: number, Tx: binary.BigEndian.Uint64(k[9:17])}
		if v.Tx >= uint64(len(hashes)) {
			return fmt.Errorf("pending private data for transaction %d of a block of %d", v.Tx, len(hashes))
		}
		ws, err := decodePendingWrites(value)
		if err != nil {
			return err
		}
		if err := archive(batch, v, ws); err != nil {
			return err
		}
		for _, w := range ws {
			k := privateKey(w.namespace, w.collection, w.key)
			if w.isDelete {
				err = batch.Delete(k, nil)
			} else {
				err = batch.Set(k, encodeStateValue(v, w.value), nil)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// GetPrivateDataHash returns the SHA-256 of the committed value of the
// private key whose SHA-256 is keyHash, with the version that wrote it, or
// nil if the key is absent. Every peer answers it, member of the collection
// or not.
func (s StateReader) GetPrivateDataHash(ns, coll string, keyHash []byte) (*VersionedValue, error) {
	if len(keyHash) != sha256.Size {
		return nil, fmt.Errorf("key hash of %d bytes", len(keyHash))
	}
	vv, err := getVersioned(s.r, hashedKey(ns, coll, keyHash))
	if err != nil {
		return nil, fmt.Errorf("read private data hash: %w", err)
	}
	return vv, nil
}

// GetPrivateData returns the committed value of a private key, or nil if the
// key is absent. A value purged at its blockToLive is no value (Value nil)
// at the version the hashed state still holds, so that a read of it
// validates. If the block hashes say the key has a value this peer does
// not hold at that version, it returns ErrPrivateDataMissing: never an
// older value.
func (s StateReader) GetPrivateData(ns, coll, key string) (*VersionedValue, error) {
	kh := sha256.Sum256([]byte(key))
	hashed, err := s.GetPrivateDataHash(ns, coll, kh[:])
	if err != nil || hashed == nil {
		return nil, err
	}
	vv, err := getVersioned(s.r, privateKey(ns, coll, key))
	if err != nil {
		return nil, fmt.Errorf("read private data: %w", err)
	}
	if vv != nil && vv.Version == hashed.Version {
		return vv, nil
	}
	if purged, err := s.purgedAt(ns, coll, kh[:], hashed.Version); err != nil {
		return nil, err
	} else if purged {
		return &VersionedValue{Version: hashed.Version}, nil
	}
	return nil, fmt.Errorf("%s/%s version %d/%d: %w", ns, coll, hashed.Version.Block, hashed.Version.Tx, ErrPrivateDataMissing)
}

// MissingPrivateData lists, oldest first, up to limit (0: all) collections
// of committed transactions whose private data this peer should hold and
// does not.
func (l *Ledger) MissingPrivateData(limit int) ([]MissingPrivateData, error) {
	height := l.Height()
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: missingBlockPrefix(0), UpperBound: missingBlockPrefix(height)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []MissingPrivateData
	for it.First(); it.Valid() && (limit <= 0 || len(out) < limit); it.Next() {
		m, err := decodeMissingKey(it.Key())
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, it.Error()
}

// archive adds to batch, per collection, the private writes transaction v
// committed, for serving reconciling peers (PrivateDataOf).
func archive(batch *pebble.Batch, v Version, ws []privateWrite) error {
	var cur *pb.CollectionPvtReadWriteSet
	var curNS string
	flush := func() error {
		if cur == nil {
			return nil
		}
		b, err := protocol.Marshal(cur)
		if err != nil {
			return err
		}
		return batch.Set(archiveKey(v.Block, v.Tx, curNS, cur.Collection), b, nil)
	}
	for _, w := range ws {
		if cur == nil || curNS != w.namespace || cur.Collection != w.collection {
			if err := flush(); err != nil {
				return err
			}
			cur, curNS = &pb.CollectionPvtReadWriteSet{Collection: w.collection}, w.namespace
		}
		cur.Writes = append(cur.Writes, &pb.KVWrite{Key: w.key, IsDelete: w.isDelete, Value: w.value})
	}
	return flush()
}

// PrivateDataOf returns the private writes of collection coll of namespace
// ns that transaction (block, tx) committed, if this peer holds them (nil
// otherwise). Only a peer of a member of the collection may receive them.
func (l *Ledger) PrivateDataOf(block, tx uint64, ns, coll string) (*pb.CollectionPvtReadWriteSet, error) {
	b, closer, err := l.db.Get(archiveKey(block, tx, ns, coll))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	set := new(pb.CollectionPvtReadWriteSet)
	if err := protocol.Unmarshal(b, set, MaxRecordBytes); err != nil {
		return nil, fmt.Errorf("archived private data of %d/%d: %w", block, tx, err)
	}
	return set, nil
}

// ReconcilePrivateData stores private writes this peer recorded as missing
// (m, from MissingPrivateData), received from another peer. It refuses,
// changing nothing, data that is not missing here or does not match the
// block's hashed writes of that collection one for one. A key rewritten by
// a later transaction keeps its later version: only keys whose committed
// hashed version is still m's transaction get the value.
func (l *Ledger) ReconcilePrivateData(m MissingPrivateData, data *pb.CollectionPvtReadWriteSet) error {
	l.commitMu.Lock()
	defer l.commitMu.Unlock()
	if l.closed {
		return ErrClosed
	}
	mk := missingKey(m.Block, m.Tx, m.Namespace, m.Collection)
	if _, closer, err := l.db.Get(mk); errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("private data of %d/%d %s/%s is not missing: %w", m.Block, m.Tx, m.Namespace, m.Collection, ErrNotFound)
	} else if err != nil {
		return err
	} else {
		closer.Close()
	}
	if data.GetCollection() != m.Collection {
		return fmt.Errorf("data of collection %q offered for %q", data.GetCollection(), m.Collection)
	}
	if l.base != nil && m.Block < l.base.height {
		return l.reconcileBeforeSnapshot(m, mk, data)
	}
	block, err := l.Block(m.Block)
	if err != nil {
		return err
	}
	envs := block.GetData().GetEnvelopes()
	codes := DecodeValidationCodes(block.GetMetadata().GetValidationCodes())
	if m.Tx >= uint64(len(envs)) || m.Tx >= uint64(len(codes)) || codes[m.Tx] != pb.TxValidationCode_VALID {
		return fmt.Errorf("transaction %d/%d is not a valid transaction", m.Block, m.Tx)
	}
	all, err := TxPrivateWriteHashes(envs[m.Tx])
	if err != nil {
		return err
	}
	var hashes []PrivateWriteHash
	for _, h := range all {
		if h.Namespace == m.Namespace && h.Collection == m.Collection {
			hashes = append(hashes, h)
		}
	}
	ws, ok := matchCollection(collRef{m.Namespace, m.Collection}, hashes, data)
	if !ok || len(ws) == 0 {
		return fmt.Errorf("private data of %d/%d %s/%s does not match the block's hashes", m.Block, m.Tx, m.Namespace, m.Collection)
	}
	v := Version{Block: m.Block, Tx: m.Tx}
	batch := l.db.NewBatch()
	defer batch.Close()
	for _, w := range ws {
		kh := sha256.Sum256([]byte(w.key))
		cur, err := StateReader{r: l.db}.GetPrivateDataHash(w.namespace, w.collection, kh[:])
		if err != nil {
			return err
		}
		if w.isDelete || cur == nil || cur.Version != v {
			continue // deleted, or rewritten later: nothing to serve from v
		}
		if err := batch.Set(privateKey(w.namespace, w.collection, w.key), encodeStateValue(v, w.value), nil); err != nil {
			return err
		}
	}
	return l.applyReconciled(batch, mk, v, ws)
}

// applyReconciled completes a reconciliation batch: the reconciled writes
// ws of version v archived, the missing-data entry mk removed, all applied
// synchronously.
func (l *Ledger) applyReconciled(batch *pebble.Batch, mk []byte, v Version, ws []privateWrite) error {
	if err := archive(batch, v, ws); err != nil {
		return err
	}
	if err := batch.Delete(mk, nil); err != nil {
		return err
	}
	return l.db.Apply(batch, pebble.Sync)
}

// PrivateRange iterates the private keys of collection coll of namespace
// ns in [start, end) in byte order (end "": to the last), with the values
// this peer holds. Since a value this peer misses cannot be placed in key
// order (the hashed state is keyed by hash), the whole range read fails
// with ErrPrivateDataMissing while any private data of the collection is
// missing. The caller must Close the iterator.
func (s StateReader) PrivateRange(ns, coll, start, end string) (*PrivateRangeIterator, error) {
	if end != "" && end < start {
		return nil, fmt.Errorf("range start %q is after end %q", start, end)
	}
	if err := s.checkNothingMissing(ns, coll); err != nil {
		return nil, err
	}
	prefix := collectionKey(prefixPrivate, ns, coll, nil)
	upper := prefixEnd(prefix)
	if end != "" {
		upper = privateKey(ns, coll, end)
	}
	it, err := s.r.NewIter(&pebble.IterOptions{LowerBound: privateKey(ns, coll, start), UpperBound: upper})
	if err != nil {
		return nil, fmt.Errorf("private range scan: %w", err)
	}
	return &PrivateRangeIterator{s: s, it: it, ns: ns, coll: coll, prefixLen: len(prefix)}, nil
}

// checkNothingMissing fails with ErrPrivateDataMissing if a missing record
// names (ns, coll).
func (s StateReader) checkNothingMissing(ns, coll string) error {
	it, err := s.r.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixMissing}, UpperBound: []byte{prefixMissing + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		m, err := decodeMissingKey(it.Key())
		if err != nil {
			return err
		}
		if m.Namespace == ns && m.Collection == coll {
			return fmt.Errorf("%s/%s range read while block %d tx %d is not reconciled: %w", ns, coll, m.Block, m.Tx, ErrPrivateDataMissing)
		}
	}
	return it.Error()
}

// PrivateRangeIterator walks a private range; see StateReader.PrivateRange.
type PrivateRangeIterator struct {
	s         StateReader
	it        *pebble.Iterator
	ns, coll  string
	prefixLen int
	started   bool
	kv        VersionedValue
	key       string
	err       error
}

// Next moves to the next key whose value is current (values older than the
// hashed state's version are skipped); false at the end or on an error.
func (r *PrivateRangeIterator) Next() bool {
	for r.err == nil {
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
		key := string(r.it.Key()[r.prefixLen:])
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
		kh := sha256.Sum256([]byte(key))
		h, err := r.s.GetPrivateDataHash(r.ns, r.coll, kh[:])
		if err != nil {
			r.err = err
			return false
		}
		if h == nil || h.Version != v {
			continue // deleted or superseded
		}
		r.key, r.kv = key, VersionedValue{Value: append([]byte(nil), value...), Version: v}
		return true
	}
	return false
}

// Key is the current key.
func (r *PrivateRangeIterator) Key() string { return r.key }

// Value is the current value (a copy the caller may keep).
func (r *PrivateRangeIterator) Value() []byte { return r.kv.Value }

// Version is the current key's version.
func (r *PrivateRangeIterator) Version() Version { return r.kv.Version }

// Err is the error that stopped the iteration, if any.
func (r *PrivateRangeIterator) Err() error { return r.err }

// Close releases the iterator.
func (r *PrivateRangeIterator) Close() error { return r.it.Close() }
