package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// CryptoRates are the machine's ECDSA P-256 rates over SHA-256 digests,
// measured with one goroutine per usable CPU (GOMAXPROCS) so they are the
// whole machine's rates.
type CryptoRates struct {
	SignPerSec   float64 `json:"signPerSec"`
	VerifyPerSec float64 `json:"verifyPerSec"`
	Workers      int     `json:"workers"`
}

// MeasureCrypto measures ECDSA P-256 signing and verification for about d
// each.
func MeasureCrypto(d time.Duration) (CryptoRates, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return CryptoRates{}, err
	}
	digest := sha256.Sum256([]byte("blossom bench"))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		return CryptoRates{}, err
	}
	workers := runtime.GOMAXPROCS(0)
	var failed atomic.Bool
	sign := parallelRate(workers, d, func() {
		if _, err := ecdsa.SignASN1(rand.Reader, key, digest[:]); err != nil {
			failed.Store(true)
		}
	})
	verify := parallelRate(workers, d, func() {
		if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
			failed.Store(true)
		}
	})
	if failed.Load() {
		return CryptoRates{}, fmt.Errorf("bench: ECDSA self-test failed")
	}
	return CryptoRates{SignPerSec: sign, VerifyPerSec: verify, Workers: workers}, nil
}

// parallelRate runs op on workers goroutines for about d and returns the
// total operations per second.
func parallelRate(workers int, d time.Duration, op func()) float64 {
	var total atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := int64(0)
			for time.Now().Before(deadline) {
				for range 16 {
					op()
				}
				n += 16
			}
			total.Add(n)
		}()
	}
	wg.Wait()
	return float64(total.Load()) / time.Since(start).Seconds()
}

// Ceiling is the throughput that ECDSA alone would allow for a workload
// when every node and the load generator share this machine's CPUs.
type Ceiling struct {
	// Formula is the ceiling's formula with this workload's counts.
	Formula string `json:"formula"`
	// SignsPerTx and VerifiesPerTx count the ECDSA operations of one
	// valid transaction (for a mix, their mean over its valid
	// transactions).
	SignsPerTx    float64 `json:"signsPerTx"`
	VerifiesPerTx float64 `json:"verifiesPerTx"`
	TxPerSec      float64 `json:"txPerSec"`
}

// TxCost counts the ECDSA operations of one transaction endorsed by
// endorsers peers on a network of peers peers:
//
//	signs    S = 2 + E        (client: proposal and envelope; each endorser once)
//	verifies V = E + 1 + P(1+E) (each endorser checks the proposal, the
//	                           receiving orderer the envelope, every peer's
//	                           validator the creator and E endorsements)
//
// Per-block orderer signatures and their checks are amortised over the
// block and left out; certificate chain checks are cached by the MSP.
func TxCost(endorsers, peers int) (signs, verifies int) {
	return 2 + endorsers, endorsers + 1 + peers*(1+endorsers)
}

// CeilingFor computes the ECDSA ceiling of a transaction endorsed by
// endorsers peers on a network of peers peers (TxCost):
//
//	ceiling  = 1 / (S/signRate + V/verifyRate)   [tx/s]
func CeilingFor(rates CryptoRates, endorsers, peers int) Ceiling {
	s, v := TxCost(endorsers, peers)
	return ceilingOf(rates, float64(s), float64(v), fmt.Sprintf("1/(%d/sign + %d/verify)", s, v))
}

// CeilingForMix computes the ECDSA ceiling of a workload whose
// transactions have different numbers of endorsers: validByEndorsers
// counts the run's valid transactions by endorsers, and S and V are the
// means of TxCost over them, plus the evaluations the workload made
// beside them (one signature by the client, one verification by the
// peer each) spread over the valid transactions, so the ceiling is that
// of the mix the run actually committed.
func CeilingForMix(rates CryptoRates, validByEndorsers map[int]int, evaluations, peers int) Ceiling {
	n, s, v := 0, evaluations, evaluations
	var parts []string
	for e := range 1 + peers {
		k := validByEndorsers[e]
		if k == 0 {
			continue
		}
		ts, tv := TxCost(e, peers)
		n, s, v = n+k, s+k*ts, v+k*tv
		parts = append(parts, fmt.Sprintf("%d with E=%d", k, e))
	}
	if n == 0 {
		return Ceiling{Formula: "no valid transaction"}
	}
	if evaluations > 0 {
		parts = append(parts, fmt.Sprintf("%d evaluations", evaluations))
	}
	ms, mv := float64(s)/float64(n), float64(v)/float64(n)
	return ceilingOf(rates, round3(ms), round3(mv), fmt.Sprintf("1/(%.3f/sign + %.3f/verify), mean counts over %d valid transactions (%s)",
		ms, mv, n, strings.Join(parts, ", ")))
}

func ceilingOf(rates CryptoRates, s, v float64, formula string) Ceiling {
	c := Ceiling{SignsPerTx: s, VerifiesPerTx: v, Formula: formula}
	if rates.SignPerSec > 0 && rates.VerifyPerSec > 0 {
		c.TxPerSec = 1 / (s/rates.SignPerSec + v/rates.VerifyPerSec)
	}
	return c
}
