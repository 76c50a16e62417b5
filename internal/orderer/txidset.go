package orderer

// recentTxIDs is the set of the last capacity transaction IDs of a chain,
// in chain order: adding one past capacity forgets the oldest. Because it
// is a function of the chain alone, every replica holds the same set at the
// same height, so a duplicate check against it is deterministic. It is not
// safe for concurrent use (the FSM guards it).
type recentTxIDs struct {
	capacity int
	set      map[string]struct{}
	ring     []string
	next     int // ring position of the next insertion (the oldest when full)
}

// DefaultRecentTxIDs is how many transaction IDs a channel remembers for
// duplicate detection.
const DefaultRecentTxIDs = 100_000

func newRecentTxIDs(capacity int) *recentTxIDs {
	if capacity <= 0 {
		capacity = DefaultRecentTxIDs
	}
	return &recentTxIDs{capacity: capacity, set: make(map[string]struct{}, capacity)}
}

func (r *recentTxIDs) contains(txID string) bool {
	_, ok := r.set[txID]
	return ok
}

func (r *recentTxIDs) add(txID string) {
	if _, ok := r.set[txID]; ok {
		return
	}
	if len(r.ring) < r.capacity {
		r.ring = append(r.ring, txID)
	} else {
		delete(r.set, r.ring[r.next])
		r.ring[r.next] = txID
		r.next = (r.next + 1) % r.capacity
	}
	r.set[txID] = struct{}{}
}

func (r *recentTxIDs) len() int { return len(r.set) }
