package chaincode

import (
	"bytes"
	"crypto/sha256"
	"maps"
	"slices"

	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// build turns the transaction's reads and the top-level invocation's
// writes (callees' merged in) into the deterministic output sets.
func (t *txContext) build(w *writeSet) (*pb.TxReadWriteSet, *pb.TxPvtReadWriteSet, *pb.ChaincodeEvents, error) {
	names := make(map[string]bool)
	for ns := range t.reads {
		names[ns] = true
	}
	for ns := range w.pub {
		names[ns] = true
	}
	for ns := range w.pvt {
		names[ns] = true
	}

	rwset := &pb.TxReadWriteSet{}
	var pvt *pb.TxPvtReadWriteSet
	for _, ns := range slices.Sorted(maps.Keys(names)) {
		nsSet := &pb.NsReadWriteSet{Namespace: ns}
		r := t.reads[ns]
		if r != nil {
			for _, key := range slices.Sorted(maps.Keys(r.reads)) {
				nsSet.Reads = append(nsSet.Reads, &pb.KVRead{Key: key, Version: r.reads[key]})
			}
			for _, q := range r.ranges {
				if !q.ItrExhausted && len(q.Reads) == 0 {
					continue // the chaincode read nothing from it
				}
				nsSet.RangeQueries = append(nsSet.RangeQueries, q)
			}
		}
		for _, key := range slices.Sorted(maps.Keys(w.pub[ns])) {
			v := w.pub[ns][key]
			nsSet.Writes = append(nsSet.Writes, &pb.KVWrite{Key: key, IsDelete: v == nil, Value: v})
		}

		colls := make(map[string]bool)
		if r != nil {
			for c := range r.hashed {
				colls[c] = true
			}
		}
		for c := range w.pvt[ns] {
			colls[c] = true
		}
		var nsPvt *pb.NsPvtReadWriteSet
		for _, coll := range slices.Sorted(maps.Keys(colls)) {
			hashed := &pb.CollectionHashedReadWriteSet{Collection: coll}
			if r != nil {
				reads := r.hashed[coll]
				for _, kh := range slices.Sorted(maps.Keys(reads)) {
					hashed.HashedReads = append(hashed.HashedReads, &pb.KVReadHash{KeyHash: []byte(kh), Version: reads[kh]})
				}
			}
			if writes := w.pvt[ns][coll]; len(writes) > 0 {
				collPvt := &pb.CollectionPvtReadWriteSet{Collection: coll}
				for _, key := range slices.Sorted(maps.Keys(writes)) {
					v := writes[key]
					collPvt.Writes = append(collPvt.Writes, &pb.KVWrite{Key: key, IsDelete: v == nil, Value: v})
					wh := &pb.KVWriteHash{KeyHash: hashOf([]byte(key)), IsDelete: v == nil}
					if v != nil {
						wh.ValueHash = hashOf(v)
					}
					hashed.HashedWrites = append(hashed.HashedWrites, wh)
				}
				slices.SortFunc(hashed.HashedWrites, func(a, b *pb.KVWriteHash) int { return bytes.Compare(a.KeyHash, b.KeyHash) })
				raw, err := protocol.Marshal(collPvt)
				if err != nil {
					return nil, nil, nil, err
				}
				sum := sha256.Sum256(raw)
				hashed.PvtRwsetHash = sum[:]
				if nsPvt == nil {
					nsPvt = &pb.NsPvtReadWriteSet{Namespace: ns}
				}
				nsPvt.CollectionPvtRwsets = append(nsPvt.CollectionPvtRwsets, collPvt)
			}
			nsSet.CollectionHashedRwsets = append(nsSet.CollectionHashedRwsets, hashed)
		}
		if nsPvt != nil {
			if pvt == nil {
				pvt = &pb.TxPvtReadWriteSet{}
			}
			pvt.NsPvtRwsets = append(pvt.NsPvtRwsets, nsPvt)
		}
		if len(nsSet.Reads)+len(nsSet.RangeQueries)+len(nsSet.Writes)+len(nsSet.CollectionHashedRwsets) > 0 {
			rwset.NsRwsets = append(rwset.NsRwsets, nsSet)
		}
	}

	events := &pb.ChaincodeEvents{}
	for _, ns := range slices.Sorted(maps.Keys(w.events)) {
		events.Events = append(events.Events, w.events[ns])
	}
	return rwset, pvt, events, nil
}
