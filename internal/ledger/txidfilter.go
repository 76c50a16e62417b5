package ledger

import (
	"hash/maphash"
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// txIDFilter is an in-memory Bloom filter of every transaction ID in the
// index, so that TxIDExists answers "absent" (nearly every call: each
// endorsement and each validated transaction asks) without searching
// Pebble's memtables and levels. It has no false negatives: every ID
// written to the index is added first (Open adds the indexed ones, apply
// each new one before its batch commits), so "absent" is certain and only
// "maybe" goes on to Pebble. A false positive, or an ID added for a batch
// that then failed, costs one Pebble lookup, never a wrong answer.
//
// It grows as a scalable Bloom filter: when the newest filter holds its
// capacity, a new one of twice the capacity is added, so the false
// positive rate stays about txIDFilterFPR per filter.
type txIDFilter struct {
	seed maphash.Seed

	mu      sync.RWMutex
	filters []bloomBits
}

const (
	txIDFilterFirstCapacity = 1 << 16
	// bitsPerID and probes give about 1% false positives per filter.
	txIDFilterBitsPerID = 10
	txIDFilterProbes    = 7
)

// bloomBits is one fixed-size Bloom filter.
type bloomBits struct {
	bits     []uint64
	capacity int // IDs it is sized for
	added    int
}

func newBloomBits(capacity int) bloomBits {
	words := (capacity*txIDFilterBitsPerID + 63) / 64
	return bloomBits{bits: make([]uint64, words), capacity: capacity}
}

func newTxIDFilter() *txIDFilter {
	return &txIDFilter{seed: maphash.MakeSeed(), filters: []bloomBits{newBloomBits(txIDFilterFirstCapacity)}}
}

// hashes returns the two hashes from which probes are derived (double
// hashing: probe i is h1 + i*h2).
func (f *txIDFilter) hashes(txID string) (h1, h2 uint64) {
	h := maphash.String(f.seed, txID)
	return h, h>>33 | h<<31 | 1
}

// add records txID.
func (f *txIDFilter) add(txID string) {
	h1, h2 := f.hashes(txID)
	f.mu.Lock()
	defer f.mu.Unlock()
	last := &f.filters[len(f.filters)-1]
	if last.added >= last.capacity {
		f.filters = append(f.filters, newBloomBits(2*last.capacity))
		last = &f.filters[len(f.filters)-1]
	}
	n := uint64(len(last.bits)) * 64
	for i := uint64(0); i < txIDFilterProbes; i++ {
		bit := (h1 + i*h2) % n
		last.bits[bit/64] |= 1 << (bit % 64)
	}
	last.added++
}

// mayContain reports false only if txID was never added.
func (f *txIDFilter) mayContain(txID string) bool {
	h1, h2 := f.hashes(txID)
	f.mu.RLock()
	defer f.mu.RUnlock()
	for i := range f.filters {
		if f.filters[i].mayContain(h1, h2) {
			return true
		}
	}
	return false
}

func (b *bloomBits) mayContain(h1, h2 uint64) bool {
	n := uint64(len(b.bits)) * 64
	for i := uint64(0); i < txIDFilterProbes; i++ {
		bit := (h1 + i*h2) % n
		if b.bits[bit/64]&(1<<(bit%64)) == 0 {
			return false
		}
	}
	return true
}

// loadTxIDFilter returns a filter holding every transaction ID indexed in
// db (one pass over the index's transaction keys).
func loadTxIDFilter(db *pebble.DB) (*txIDFilter, error) {
	f := newTxIDFilter()
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixTx}, UpperBound: []byte{prefixTx + 1}})
	if err != nil {
		return nil, err
	}
	for it.First(); it.Valid(); it.Next() {
		f.add(string(it.Key()[1:]))
	}
	if err := it.Error(); err != nil {
		it.Close()
		return nil, err
	}
	return f, it.Close()
}
