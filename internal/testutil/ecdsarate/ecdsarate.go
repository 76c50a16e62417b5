// Package ecdsarate measures how many ECDSA P-256 signatures and
// verifications (of the SHA-256 of a 1 KiB message, ASN.1 signatures) this
// machine does per second on every CPU: the crypto ceiling benchmarks put
// beside their transaction rates (docs/performance.md).
package ecdsarate

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Rates are operations per second.
type Rates struct {
	SignPerSec, VerifyPerSec float64
}

// Measure runs signatures for about d, then verifications for about d,
// each on runtime.GOMAXPROCS goroutines, and returns their rates.
func Measure(d time.Duration) (Rates, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Rates{}, err
	}
	msg := make([]byte, 1024)
	digest := sha256.Sum256(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		return Rates{}, err
	}
	sign := rate(d, func() error {
		h := sha256.Sum256(msg)
		_, err := ecdsa.SignASN1(rand.Reader, key, h[:])
		return err
	})
	verify := rate(d, func() error {
		h := sha256.Sum256(msg)
		if !ecdsa.VerifyASN1(&key.PublicKey, h[:], sig) {
			return errors.New("ecdsarate: a valid signature does not verify")
		}
		return nil
	})
	if sign.err != nil || verify.err != nil {
		return Rates{}, errors.Join(sign.err, verify.err)
	}
	return Rates{SignPerSec: sign.perSec, VerifyPerSec: verify.perSec}, nil
}

type measured struct {
	perSec float64
	err    error
}

// rate calls op on every CPU until d has passed or op fails.
func rate(d time.Duration, op func() error) measured {
	var done atomic.Int64
	var first atomic.Pointer[error]
	start := time.Now()
	stop := start.Add(d)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for time.Now().Before(stop) {
				if err := op(); err != nil {
					first.CompareAndSwap(nil, &err)
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	m := measured{perSec: float64(done.Load()) / time.Since(start).Seconds()}
	if p := first.Load(); p != nil {
		m.err = *p
	}
	return m
}
