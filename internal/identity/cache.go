package identity

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultCacheSize is the number of validated identities a Manager keeps.
// An entry costs about 2-3 KiB (the parsed certificate), so a full cache
// stays under about 50 MiB per Manager; a consortium's active identities
// (nodes and recent users) fit comfortably.
const DefaultCacheSize = 16384

const cacheShards = 16

// cacheKey identifies one validation: the certificate, the member it was
// checked against ("" for Identify) and the use.
type cacheKey struct {
	certHash [32]byte
	mspID    string
	usage    Usage
}

// cacheEntry is a successful validation: the identity, and the periods in
// which its chain is valid (one per verified chain). Chain and revocation
// results do not depend on time; expiry is re-checked against these windows.
type cacheEntry struct {
	identity *Identity
	windows  []window
}

type window struct{ notBefore, notAfter time.Time }

func (e *cacheEntry) validAt(t time.Time) bool {
	for _, w := range e.windows {
		if !t.Before(w.notBefore) && !t.After(w.notAfter) {
			return true
		}
	}
	return false
}

// identityCache is a bounded map safe for concurrent use, evicting with the
// CLOCK (second chance) algorithm: a hit only sets a flag under a read lock,
// so concurrent validators do not serialise on lookups.
type identityCache struct {
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	mu    sync.RWMutex
	index map[cacheKey]int // key -> slot
	slots []cacheSlot
	limit int
	hand  int
}

type cacheSlot struct {
	key   cacheKey
	entry *cacheEntry
	ref   atomic.Bool
}

func newIdentityCache(size int) *identityCache {
	per := size / cacheShards
	if per < 1 {
		per = 1
	}
	c := &identityCache{}
	for i := range c.shards {
		c.shards[i].index = make(map[cacheKey]int)
		c.shards[i].limit = per
	}
	return c
}

func (c *identityCache) shard(k *cacheKey) *cacheShard {
	return &c.shards[binary.LittleEndian.Uint32(k.certHash[:4])%cacheShards]
}

func (c *identityCache) get(k cacheKey) *cacheEntry {
	s := c.shard(&k)
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, ok := s.index[k]
	if !ok {
		return nil
	}
	slot := &s.slots[i]
	if !slot.ref.Load() {
		slot.ref.Store(true)
	}
	return slot.entry
}

func (c *identityCache) put(k cacheKey, e *cacheEntry) {
	s := c.shard(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.index[k]; ok {
		s.slots[i].entry = e
		s.slots[i].ref.Store(true)
		return
	}
	if len(s.slots) < s.limit {
		s.slots = append(s.slots, cacheSlot{key: k, entry: e})
		s.index[k] = len(s.slots) - 1
		return
	}
	// Sweep: give referenced slots a second chance, evict the first
	// unreferenced one. Terminates within two turns of the hand.
	for {
		slot := &s.slots[s.hand]
		if slot.ref.Load() {
			slot.ref.Store(false)
			s.hand = (s.hand + 1) % len(s.slots)
			continue
		}
		delete(s.index, slot.key)
		slot.key, slot.entry = k, e
		s.index[k] = s.hand
		s.hand = (s.hand + 1) % len(s.slots)
		return
	}
}

// len returns the number of cached entries.
func (c *identityCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.index)
		s.mu.RUnlock()
	}
	return n
}
