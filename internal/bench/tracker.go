package bench

import (
	"context"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// Failures before ordering, reported beside the validation codes.
const (
	FailOverload  = "OVERLOAD"             // more than MaxInFlight outstanding: not sent
	FailEndorse   = "ENDORSE_FAILED"       // a peer refused or could not be reached
	FailMismatch  = "ENDORSEMENT_MISMATCH" // endorsers returned different results (different state heights)
	FailChaincode = "CHAINCODE_ERROR"      // the chaincode refused
	FailBroadcast = "BROADCAST_FAILED"     // no orderer accepted the envelope
	FailNoCommit  = "NOT_COMMITTED"        // ordered, but not seen on every peer before the drain ended
)

// record is one sent transaction.
type record struct {
	at        time.Time // scheduled send time
	member    int
	failure   string // set if it failed before ordering
	acked     bool   // the ordering service accepted it
	commits   []time.Time
	committed int // peers that committed it
	code      pb.TxValidationCode
	codeSet   bool
	final     bool
	endorsers int           // peers that endorsed it (the ECDSA ceiling's E)
	done      chan struct{} // closed once final
}

// tracker follows every transaction of a run.
type tracker struct {
	peers int

	mu       sync.Mutex
	byTxID   map[string]*record
	all      []*record
	failures []failure // not sent at all
	open     int       // records not final
	changed  chan struct{}
}

type failure struct {
	at     time.Time
	member int
	cause  string
}

func newTracker(peers int) *tracker {
	return &tracker{peers: peers, byTxID: map[string]*record{}, changed: make(chan struct{}, 1)}
}

func (t *tracker) notify() {
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

func (t *tracker) fail(at time.Time, member int, cause string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failures = append(t.failures, failure{at, member, cause})
}

func (t *tracker) register(txID string, at time.Time, member, endorsers int) *record {
	r := &record{at: at, member: member, commits: make([]time.Time, t.peers), endorsers: endorsers, done: make(chan struct{})}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.byTxID[txID] = r
	t.all = append(t.all, r)
	t.open++
	return r
}

// settle marks r failed before ordering, unless a peer already committed
// it (an ambiguous broadcast error after the envelope was ordered).
func (t *tracker) settle(r *record, cause string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r.committed > 0 || r.final {
		return
	}
	r.failure = cause
	r.final = true
	close(r.done)
	t.open--
	t.notify()
}

// outcome waits until r is final (or ctx ends) and returns "" if it
// committed VALID on every peer, else its failure cause or validation
// code.
func (t *tracker) outcome(ctx context.Context, r *record) string {
	select {
	case <-r.done:
	case <-ctx.Done():
		return FailNoCommit
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case r.failure != "":
		return r.failure
	case r.code != pb.TxValidationCode_VALID:
		return r.code.String()
	}
	return ""
}

func (t *tracker) acknowledge(r *record) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r.acked = true
}

// commit records that peer committed txID with code at time at.
func (t *tracker) commit(peer int, txID string, code pb.TxValidationCode, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.byTxID[txID]
	if r == nil || !r.commits[peer].IsZero() {
		return
	}
	r.commits[peer] = at
	r.committed++
	r.code, r.codeSet = code, true
	if r.committed == t.peers {
		if !r.final {
			r.final = true
			close(r.done)
			t.open--
		} else if r.failure != "" { // settled as failed, yet ordered after all
			r.failure = ""
		}
		t.notify()
	}
}

// lastCommit is when the last peer committed r (zero if none did).
func (t *tracker) lastCommit(r *record) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	var latest time.Time
	for _, c := range r.commits {
		if c.After(latest) {
			latest = c
		}
	}
	return latest
}

// waitAllCommitted waits until every registered transaction is final.
func (t *tracker) waitAllCommitted(ctx context.Context) error {
	for {
		t.mu.Lock()
		open := t.open
		t.mu.Unlock()
		if open == 0 {
			return nil
		}
		select {
		case <-t.changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Latency summarises latencies in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
	N   int     `json:"n"`
}

func summarize(ms []float64) Latency {
	if len(ms) == 0 {
		return Latency{}
	}
	sort.Float64s(ms)
	q := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(ms)))) - 1
		return round3(ms[max(i, 0)])
	}
	return Latency{P50: q(0.50), P95: q(0.95), P99: q(0.99), Max: round3(ms[len(ms)-1]), N: len(ms)}
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// result computes the run's figures.
func (t *tracker) result(start time.Time, opts Options) *Result {
	t.mu.Lock()
	defer t.mu.Unlock()
	res := &Result{
		Workload: opts.Workload, OfferedRate: opts.Rate, DurationSeconds: opts.Duration.Seconds(),
		Failures: map[string]int{}, validByEndorsers: map[int]int{},
	}
	var own, all []float64
	var lastValid time.Time
	for _, f := range t.failures {
		res.Scheduled++
		res.Failures[f.cause]++
	}
	for _, r := range t.all {
		res.Scheduled++
		switch {
		case r.failure != "":
			res.Failures[r.failure]++
			continue
		case r.committed < t.peers:
			res.Failures[FailNoCommit]++
			continue
		}
		res.Committed++
		if r.code != pb.TxValidationCode_VALID {
			res.Failures[r.code.String()]++
			continue
		}
		res.Valid++
		res.validByEndorsers[r.endorsers]++
		latest := r.commits[0]
		for _, c := range r.commits {
			if c.After(latest) {
				latest = c
			}
		}
		own = append(own, float64(r.commits[r.member].Sub(r.at))/1e6)
		all = append(all, float64(latest.Sub(r.at))/1e6)
		if latest.After(lastValid) {
			lastValid = latest
		}
	}
	window := opts.Duration.Seconds()
	if !lastValid.IsZero() {
		window = max(window, lastValid.Sub(start).Seconds())
	}
	res.ValidTxPerSec = round3(float64(res.Valid) / window)
	res.WindowSeconds = round3(window)
	res.LatencyMs = summarize(own)
	res.LatencyAllPeersMs = summarize(all)
	return res
}
