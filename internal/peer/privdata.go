package peer

import (
	"crypto/sha256"
	"fmt"

	"github.com/blossom-ledger/blossom/internal/ledger"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/validator"
)

// TransientRetentionBlocks is how many blocks a private read/write set
// stays in the transient store after it was stored, if its transaction has
// not committed by then.
const TransientRetentionBlocks = 1000

// memberOf reports whether this peer's member belongs to collection of
// namespace ns (collectionView), under the configuration whose members are
// members and the definitions committed so far.
func (c *Channel) memberOf(members []string) func(ns, collection string) bool {
	v := c.collections(members)
	return func(ns, collection string) bool { return v.holds(c.self, ns, collection) }
}

// privateData collects, for each valid transaction of a block that writes
// private data, the private writes this peer holds in its transient store
// for collections its member belongs to. The ledger checks them against
// the block's hashes; whatever is absent or does not match is recorded as
// missing there, never affecting validation.
func (c *Channel) privateData(results []validator.TxResult, members []string) ([]*pb.TxPvtReadWriteSet, error) {
	member := c.memberOf(members)
	var out []*pb.TxPvtReadWriteSet
	for i := range results {
		r := &results[i]
		if r.Code != pb.TxValidationCode_VALID || r.RWSet == nil || r.TxID == "" {
			continue
		}
		want := map[[2]string][]byte{} // (ns, coll) -> pvt_rwset_hash
		for _, ns := range r.RWSet.NsRwsets {
			for _, coll := range ns.CollectionHashedRwsets {
				if len(coll.HashedWrites) > 0 && member(ns.Namespace, coll.Collection) {
					want[[2]string{ns.Namespace, coll.Collection}] = coll.PvtRwsetHash
				}
			}
		}
		if len(want) == 0 {
			continue
		}
		sets, err := c.transient.Get(r.TxID)
		if err != nil {
			return nil, fmt.Errorf("transient store: %w", err)
		}
		held := pickCollections(sets, want)
		if held == nil {
			continue
		}
		if out == nil {
			out = make([]*pb.TxPvtReadWriteSet, len(results))
		}
		out[i] = held
	}
	return out, nil
}

// pickCollections builds one private read/write set from the sets stored
// for a transaction: for each wanted collection, the first stored copy
// whose marshalled bytes hash to the block's pvt_rwset_hash, else the
// first copy (the ledger then checks key and value hashes one by one).
func pickCollections(sets []*pb.TxPvtReadWriteSet, want map[[2]string][]byte) *pb.TxPvtReadWriteSet {
	chosen := map[[2]string]*pb.CollectionPvtReadWriteSet{}
	exact := map[[2]string]bool{}
	var order [][2]string
	for _, set := range sets {
		for _, ns := range set.NsPvtRwsets {
			for _, coll := range ns.CollectionPvtRwsets {
				k := [2]string{ns.Namespace, coll.Collection}
				wantHash, ok := want[k]
				if !ok || exact[k] {
					continue
				}
				if _, seen := chosen[k]; !seen {
					order = append(order, k)
					chosen[k] = coll
				}
				if raw, err := protocol.Marshal(coll); err == nil {
					if sum := sha256.Sum256(raw); string(sum[:]) == string(wantHash) {
						chosen[k], exact[k] = coll, true
					}
				}
			}
		}
	}
	if len(order) == 0 {
		return nil
	}
	out := &pb.TxPvtReadWriteSet{}
	byNS := map[string]*pb.NsPvtReadWriteSet{}
	for _, k := range order {
		ns := byNS[k[0]]
		if ns == nil {
			ns = &pb.NsPvtReadWriteSet{Namespace: k[0]}
			byNS[k[0]] = ns
			out.NsPvtRwsets = append(out.NsPvtRwsets, ns)
		}
		ns.CollectionPvtRwsets = append(ns.CollectionPvtRwsets, chosen[k])
	}
	return out
}

// afterCommitPrivate drops the committed transactions' private sets from
// the transient store and purges sets older than the retention window.
// Failures only delay the clean-up, so they are logged.
func (c *Channel) afterCommitPrivate(results []validator.TxResult, height uint64) {
	var txIDs []string
	for _, r := range results {
		if r.TxID != "" && len(r.TxID) <= ledger.MaxTxIDBytes {
			txIDs = append(txIDs, r.TxID)
		}
	}
	if err := c.transient.Remove(txIDs...); err != nil {
		c.log.Warn("transient store: removing committed private data failed", "err", err)
	}
	if height > TransientRetentionBlocks {
		if err := c.transient.PurgeBelow(height - TransientRetentionBlocks); err != nil {
			c.log.Warn("transient store: purge failed", "err", err)
		}
	}
}
