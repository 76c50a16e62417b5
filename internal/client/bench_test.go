package client_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/client"
	"github.com/blossom-ledger/blossom/internal/network/nettest"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/txn"
)

// verificationsPerTx is how many ECDSA verifications one transaction
// costs the network of the benchmark, all on this machine: each of the
// two endorsers checks the proposal's creator (2), the receiving orderer
// and, when it is not the leader, the leader check the envelope's creator
// (1 to 2, counted as 1), and each of the three peers checks the creator
// and both endorsements (9).
const verificationsPerTx = 12

// BenchmarkSubmitEndToEnd measures transactions per second through the Go
// client on a 3-member network (one Raft orderer and one peer per member,
// real mutual TLS on loopback, real Pebble): each op is a kv:Put of a
// 100-byte value to its own key (a blind write), endorsed by two peers
// (MAJORITY of 3), ordered and committed, Submit returning once the
// submitter's peer committed it. Clients of the three members submit
// in-flight transactions concurrently. Next to it, the same run measures
// raw ECDSA P-256 verifications per second on every CPU (just before and
// just after the timed part), and the ceiling they put on the network
// (verify/s divided by verificationsPerTx).
//
// Two Raft timing profiles run: the default LAN profile (100 ms heartbeat,
// 300 ms election timeout), and a relaxed one (1 s, 3 s) for hosts where
// the orderers share two CPUs with everything else, which starves Raft
// heartbeats into needless elections; "elections" counts the leader
// changes during the timed part.
func BenchmarkSubmitEndToEnd(b *testing.B) {
	relaxed := func(cc *pb.ChannelConfig) {
		cc.Orderer.Raft = &pb.RaftOptions{HeartbeatTimeoutMs: 1000, ElectionTimeoutMs: 3000, LeaderLeaseTimeoutMs: 1000}
	}
	for _, profile := range []struct {
		name   string
		mutate func(*pb.ChannelConfig)
	}{{"raft=lan", nil}, {"raft=relaxed", relaxed}} {
		for _, inflight := range []int{64, 256, 1024} {
			b.Run(fmt.Sprintf("%s/inflight=%d", profile.name, inflight), func(b *testing.B) {
				benchmarkSubmit(b, inflight, profile.mutate)
			})
		}
	}
}

func benchmarkSubmit(b *testing.B, inflight int, mutate func(*pb.ChannelConfig)) {
	net := nettest.Start(b, nettest.Options{Mutate: mutate})
	clients := make([]*client.Client, len(net.Members))
	for i := range clients {
		clients[i] = net.Client(b, i)
	}
	value := make([]byte, 100)
	rand.Read(value)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// Warm up connections and identity caches.
	for i, c := range clients {
		if _, err := c.Submit(ctx, put(fmt.Sprintf("warm%d", i), value), net.PeerNames(i, (i+1)%3)); err != nil {
			b.Fatal(err)
		}
	}

	verifyBefore := measureVerifyRate(b, 500*time.Millisecond)
	electionsBefore := strings.Count(net.Logs.String(), "entering leader state")
	var (
		next      atomic.Int64
		failures  atomic.Int64
		mu        sync.Mutex
		latencies []time.Duration
	)
	work := make(chan struct{})
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < inflight; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []time.Duration
			for range work {
				i := int(next.Add(1))
				m := i % len(clients)
				t0 := time.Now()
				res, err := clients[m].Submit(ctx, put(fmt.Sprintf("key%d", i), value), net.PeerNames(m, (m+1)%3))
				local = append(local, time.Since(t0))
				if err != nil || res.Code != pb.TxValidationCode_VALID {
					if failures.Add(1) == 1 {
						b.Errorf("submit: %+v %v", res, err)
					}
				}
			}
			mu.Lock()
			latencies = append(latencies, local...)
			mu.Unlock()
		}()
	}
	for i := 0; i < b.N; i++ {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	elections := strings.Count(net.Logs.String(), "entering leader state") - electionsBefore

	// The machine is shared: the verify rate is measured just before and
	// just after the run, and averaged, so outside load weighs on both.
	verifyPerSec := (verifyBefore + measureVerifyRate(b, 500*time.Millisecond)) / 2
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "tx/s")
	b.ReportMetric(verifyPerSec, "verify/s")
	b.ReportMetric(verifyPerSec/verificationsPerTx, "ceiling-tx/s")
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(failures.Load()), "failures")
	b.ReportMetric(float64(elections), "elections")
}

func put(key string, value []byte) txn.Request {
	return txn.Request{Chaincode: nettest.KVChaincode, Function: "kv:Put", Args: [][]byte{[]byte(key), value}}
}

// measureVerifyRate runs ECDSA P-256 verifications (SHA-256 of a 1 KiB
// message + VerifyASN1) on every CPU for about d and returns their rate.
func measureVerifyRate(b *testing.B, d time.Duration) float64 {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 1024)
	digest := sha256.Sum256(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	var count atomic.Int64
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				h := sha256.Sum256(msg)
				if !ecdsa.VerifyASN1(&key.PublicKey, h[:], sig) {
					b.Error("verification failed")
					return
				}
				count.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(count.Load()) / time.Since(start).Seconds()
}
