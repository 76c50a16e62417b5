package oidcprovider

import (
	"sync"
	"time"
)

// maxTrackedNames bounds the failure table; past it the entry whose last
// failure is oldest is forgotten.
const maxTrackedNames = 100000

// lockout counts failed sign-in attempts per user name, known or not (so
// that a lock does not reveal whether a name exists).
type lockout struct {
	policy LockoutPolicy
	now    func() time.Time

	mu      sync.Mutex
	entries map[string]*failures
}

type failures struct {
	times       []time.Time // failures within the window, oldest first
	lockedUntil time.Time
}

func newLockout(policy LockoutPolicy, now func() time.Time) *lockout {
	if policy.MaxFailures <= 0 {
		policy.MaxFailures = defaultMaxFailures
	}
	policy.Window = orDefault(policy.Window, defaultFailWindow)
	policy.LockFor = orDefault(policy.LockFor, defaultLockFor)
	return &lockout{policy: policy, now: now, entries: make(map[string]*failures)}
}

// locked reports whether name is locked now.
func (l *lockout) locked(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.entries[name]
	return ok && l.now().Before(f.lockedUntil)
}

// fail records a failure and reports whether name is now locked.
func (l *lockout) fail(name string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.entries[name]
	if !ok {
		if len(l.entries) >= maxTrackedNames {
			l.evictLocked(now)
		}
		f = &failures{}
		l.entries[name] = f
	}
	cutoff := now.Add(-l.policy.Window)
	kept := f.times[:0]
	for _, t := range f.times {
		if t.After(cutoff) {
			kept = append(kept, t)
		}
	}
	f.times = append(kept, now)
	if len(f.times) >= l.policy.MaxFailures {
		f.lockedUntil = now.Add(l.policy.LockFor)
		f.times = f.times[:0]
	}
	return now.Before(f.lockedUntil)
}

// succeed clears name's failures after a complete sign-in.
func (l *lockout) succeed(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, name)
}

// evictLocked drops entries that are neither locked nor recent, then, if
// still full, the stalest one.
func (l *lockout) evictLocked(now time.Time) {
	cutoff := now.Add(-l.policy.Window)
	var stalest string
	var stalestAt time.Time
	for name, f := range l.entries {
		last := f.lockedUntil
		if n := len(f.times); n > 0 && f.times[n-1].After(last) {
			last = f.times[n-1]
		}
		if !now.Before(f.lockedUntil) && (len(f.times) == 0 || !f.times[len(f.times)-1].After(cutoff)) {
			delete(l.entries, name)
			continue
		}
		if stalest == "" || last.Before(stalestAt) {
			stalest, stalestAt = name, last
		}
	}
	if len(l.entries) >= maxTrackedNames && stalest != "" {
		delete(l.entries, stalest)
	}
}
