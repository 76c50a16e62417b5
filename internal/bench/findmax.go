package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// FindMaxOptions configure the search for the highest offered rate the
// network keeps up with.
type FindMaxOptions struct {
	// Options of every step; Rate is ignored and Duration is each step's
	// load. MaxInFlight, if 0, follows each step's rate.
	Options
	StartRate float64       // first step's offered rate (0: 50 tx/s)
	MaxRate   float64       // highest rate tried (0: 100000 tx/s)
	MaxP99    time.Duration // p99 latency bound of a step that keeps up (0: 1 s)
	// Precision ends the bisection when the lowest failing rate is within
	// this fraction above the highest passing one (0: 0.1).
	Precision float64
	MaxSteps  int // bound on steps (0: 16)
	// Progress, if set, is told each step as it ends.
	Progress func(Step)
}

// MinValidFraction is the fraction of scheduled transactions a step must
// commit valid to keep up.
const MinValidFraction = 0.95

// Step is one rate --find-max tried.
type Step struct {
	OfferedRate   float64        `json:"offeredRate"`
	ValidTxPerSec float64        `json:"validTxPerSec"`
	Scheduled     int            `json:"scheduled"`
	Valid         int            `json:"valid"`
	P99Ms         float64        `json:"p99Ms"`
	Failures      map[string]int `json:"failures"`
	KeptUp        bool           `json:"keptUp"`
	// Why the step did not keep up.
	Why string `json:"why,omitempty"`
}

// FindMaxRecord is the search's record, attached to its best step's
// result.
type FindMaxRecord struct {
	Criterion   string  `json:"criterion"`
	StepSeconds float64 `json:"stepSeconds"`
	// BestRate is the highest offered rate that kept up (0: none).
	BestRate float64 `json:"bestRate"`
	Steps    []Step  `json:"steps"`
}

// ErrNothingKeptUp: no rate the search tried kept up.
var ErrNothingKeptUp = errors.New("bench: the network kept up with no offered rate tried")

// keptUp applies the criterion to one step's result.
func keptUp(res *Result, maxP99 time.Duration) (bool, string) {
	maxP99Ms := float64(maxP99) / float64(time.Millisecond)
	switch {
	case res.Failures[FailOverload] > 0:
		return false, fmt.Sprintf("%d OVERLOAD", res.Failures[FailOverload])
	case !res.Drained:
		return false, "not every transaction committed before the drain ended"
	case float64(res.Valid) < MinValidFraction*float64(res.Scheduled):
		return false, fmt.Sprintf("%d of %d scheduled valid", res.Valid, res.Scheduled)
	case res.LatencyMs.P99 > maxP99Ms:
		return false, fmt.Sprintf("p99 %.0f ms > %.0f ms", res.LatencyMs.P99, maxP99Ms)
	}
	if res.Mix != nil {
		if busy, scheduled := res.Mix.busySkips(); float64(busy) > (1-MinValidFraction)*float64(scheduled) {
			return false, fmt.Sprintf("%d of %d scheduled operations found every lease actor busy (raise --leases)", busy, scheduled)
		}
	}
	return true, ""
}

// FindMax searches the highest offered rate the network keeps up with:
// doubling from StartRate while steps keep up (halving while they do
// not, down to 1 tx/s), then bisecting between the highest rate that kept
// up and the lowest that did not. A step keeps up when no send was an
// OVERLOAD, every transaction sent committed before the drain ended, at
// least MinValidFraction of the scheduled transactions are valid, and the
// p99 latency to commit on the submitter's peer is at most MaxP99 (and,
// for blossom-mix, at most 1-MinValidFraction of the scheduled operations
// were skipped for want of a free lease actor, SkipLeasesBusy). It
// returns the best step's result with the search's record; the ECDSA
// rates are measured once before and once after the whole search. When
// no step kept up it returns the lowest-rate step's result and
// ErrNothingKeptUp.
func FindMax(ctx context.Context, target Target, fo FindMaxOptions) (*Result, error) {
	if fo.StartRate <= 0 {
		fo.StartRate = 50
	}
	if fo.MaxRate <= 0 {
		fo.MaxRate = 100000
	}
	if fo.MaxP99 <= 0 {
		fo.MaxP99 = time.Second
	}
	if fo.Precision <= 0 {
		fo.Precision = 0.1
	}
	if fo.MaxSteps <= 0 {
		fo.MaxSteps = 16
	}
	fo.StartRate = min(fo.StartRate, fo.MaxRate)
	fo.Rate = fo.StartRate
	opts, err := checkOptions(target, fo.Options)
	if err != nil {
		return nil, err
	}
	before, err := MeasureCrypto(opts.CryptoTime)
	if err != nil {
		return nil, err
	}
	rec := &FindMaxRecord{StepSeconds: opts.Duration.Seconds(), Criterion: fmt.Sprintf(
		"no OVERLOAD, all sent committed, valid >= %.0f%% of scheduled, p99 to commit on the submitter's peer <= %d ms",
		MinValidFraction*100, fo.MaxP99.Milliseconds())}
	var best, lowest *Result
	probe := func(rate float64) (bool, error) {
		o := opts
		o.Rate, o.MaxInFlight = rate, fo.MaxInFlight
		if o.MaxInFlight <= 0 {
			o.MaxInFlight = max(1000, int(10*rate))
		}
		res, err := runLoad(ctx, target, o)
		if err != nil {
			return false, err
		}
		ok, why := keptUp(res, fo.MaxP99)
		step := Step{OfferedRate: rate, ValidTxPerSec: res.ValidTxPerSec, Scheduled: res.Scheduled, Valid: res.Valid,
			P99Ms: res.LatencyMs.P99, Failures: res.Failures, KeptUp: ok, Why: why}
		rec.Steps = append(rec.Steps, step)
		if fo.Progress != nil {
			fo.Progress(step)
		}
		if ok && (best == nil || rate > best.OfferedRate) {
			best = res
		}
		if lowest == nil || rate < lowest.OfferedRate {
			lowest = res
		}
		return ok, ctx.Err()
	}
	rec.BestRate, err = searchMax(fo.StartRate, fo.MaxRate, fo.Precision, fo.MaxSteps, probe)
	if err != nil {
		return nil, err
	}
	after, err := MeasureCrypto(opts.CryptoTime)
	if err != nil {
		return nil, err
	}
	res := best
	if res == nil {
		res = lowest
	}
	res.setCrypto(target, before, after)
	res.FindMax = rec
	if best == nil {
		return res, ErrNothingKeptUp
	}
	return res, nil
}

// searchMax finds the highest rate probe accepts in at most maxSteps
// probes: doubling from start up to maxRate while accepted (halving while
// refused, down to 1), then bisecting until the refused rate is within
// precision above the accepted one. It returns 0 if nothing was accepted.
func searchMax(start, maxRate, precision float64, maxSteps int, probe func(float64) (bool, error)) (float64, error) {
	lo, hi := 0.0, 0.0 // highest accepted, lowest refused (0: none yet)
	rate := start
	for range maxSteps {
		ok, err := probe(rate)
		if err != nil {
			return lo, err
		}
		if ok {
			lo = rate
		} else {
			hi = rate
		}
		var next float64
		switch {
		case hi == 0: // every step so far kept up: ramp up
			if rate >= maxRate {
				return lo, nil
			}
			next = min(2*rate, maxRate)
		case lo == 0: // none kept up yet: ramp down
			if rate <= 1 {
				return 0, nil
			}
			next = max(rate/2, 1)
		default:
			if hi <= lo*(1+precision) {
				return lo, nil
			}
			next = (lo + hi) / 2
			if next >= 10 {
				next = math.Round(next)
			}
			if next <= lo || next >= hi {
				return lo, nil
			}
		}
		rate = next
	}
	return lo, nil
}
