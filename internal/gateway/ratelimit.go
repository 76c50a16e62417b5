package gateway

import (
	"sync"
	"time"
)

// rateLimiter is a token bucket per user: rate tokens a second, at most
// burst. It tracks at most maxUsers buckets; when full, buckets that have
// refilled completely are dropped (they carry no state), and a new user
// beyond that is refused until some bucket refills.
type rateLimiter struct {
	rate     float64
	burst    float64
	maxUsers int

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(rate float64, burst, maxUsers int) *rateLimiter {
	return &rateLimiter{rate: rate, burst: float64(burst), maxUsers: maxUsers, buckets: map[string]*bucket{}}
}

// allow takes one token from user's bucket at time now.
func (l *rateLimiter) allow(user string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[user]
	if b == nil {
		if len(l.buckets) >= l.maxUsers {
			l.prune(now)
			if len(l.buckets) >= l.maxUsers {
				return false
			}
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[user] = b
	}
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = min(l.burst, b.tokens+elapsed*l.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (l *rateLimiter) prune(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
}
