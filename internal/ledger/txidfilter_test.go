package ledger

import (
	"fmt"
	"sync"
	"testing"
)

// TestTxIDFilterHasNoFalseNegatives adds IDs across several growths of the
// filter and requires every one to be reported, with a false positive rate
// on absent IDs near the design's 1% per filter.
func TestTxIDFilterHasNoFalseNegatives(t *testing.T) {
	f := newTxIDFilter()
	const n = 5*txIDFilterFirstCapacity + 123 // four growths
	for i := range n {
		f.add(fmt.Sprintf("tx-%d", i))
	}
	if got := len(f.filters); got < 3 {
		t.Fatalf("%d filters after %d IDs, want the filter to have grown", got, n)
	}
	for i := range n {
		if id := fmt.Sprintf("tx-%d", i); !f.mayContain(id) {
			t.Fatalf("added ID %s reported absent", id)
		}
	}
	const probes = 100_000
	positives := 0
	for i := range probes {
		if f.mayContain(fmt.Sprintf("absent-%d", i)) {
			positives++
		}
	}
	// Each of the filters answers "maybe" for about 1% of absent IDs.
	if limit := probes * 2 * len(f.filters) / 100; positives > limit {
		t.Fatalf("%d of %d absent IDs reported present (limit %d)", positives, probes, limit)
	}
}

// TestTxIDFilterConcurrentUse runs adds and lookups at once (for the race
// detector); an ID is looked up only after its add returned.
func TestTxIDFilterConcurrentUse(t *testing.T) {
	f := newTxIDFilter()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20_000 {
				id := fmt.Sprintf("w%d-%d", w, i)
				f.add(id)
				if !f.mayContain(id) {
					t.Errorf("ID %s absent right after its add", id)
					return
				}
			}
		}()
	}
	wg.Wait()
}
