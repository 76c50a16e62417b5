package peer_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/client"
	"github.com/blossom-ledger/blossom/internal/network/nettest"
	"github.com/blossom-ledger/blossom/internal/peer"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/txn"
)

// BenchmarkPrivateVsPublicWrites measures committed private writes per
// second against public writes in the same run, on one network: three
// members with two peers each (real mutual TLS, Raft, Pebble). Both kinds
// are one kvtest write of a 100-byte value to a key of its own, endorsed
// by two peers and committed by all six: a public kv:Put endorsed by the
// submitter's member's peer 0 and the next member's peer 0 (MAJORITY), a
// private kv:PutPrivate into the submitter's implicit collection endorsed
// by both of its member's peers (the collection's policy), each of which
// pushes the value to the other. Rounds alternate the two kinds (inflight
// concurrent submitters spread over the three members) so that outside
// load hits both alike; b.N is the number of transactions of each kind.
// Reported: public and private tx/s and their ratio (goal above 0.6).
func BenchmarkPrivateVsPublicWrites(b *testing.B) {
	const inflight, rounds = 64, 8
	net := nettest.Start(b, nettest.Options{PeersPerMember: 2, Mutate: func(cc *pb.ChannelConfig) {
		// The relaxed Raft profile of BenchmarkSubmitEndToEnd: nine nodes
		// on two shared cores starve LAN-timed heartbeats.
		cc.Orderer.Raft = &pb.RaftOptions{HeartbeatTimeoutMs: 1000, ElectionTimeoutMs: 3000, LeaderLeaseTimeoutMs: 1000}
	}})
	clients := make([]*client.Client, len(net.Members))
	for i := range clients {
		clients[i] = net.Client(b, i)
	}
	value := make([]byte, 100)
	rand.Read(value)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	request := func(private bool, m, i int) (txn.Request, []string) {
		mem := net.Members[m]
		if private {
			req := kv("kv:PutPrivate", peer.ImplicitCollection(mem.MSPID), fmt.Sprintf("pvt%d", i))
			req.Transient = map[string][]byte{"value": value}
			return req, []string{mem.Peers[0].Name, mem.Peers[1].Name}
		}
		return kv("kv:Put", fmt.Sprintf("pub%d", i), string(value)), []string{mem.Peers[0].Name, net.Members[(m+1)%len(net.Members)].Peers[0].Name}
	}
	var next atomic.Int64
	run := func(private bool, n int) time.Duration {
		work := make(chan struct{})
		var wg sync.WaitGroup
		var failures atomic.Int64
		start := time.Now()
		for range inflight {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range work {
					i := int(next.Add(1))
					m := i % len(clients)
					req, endorsers := request(private, m, i)
					res, err := clients[m].Submit(ctx, req, endorsers)
					if (err != nil || res.Code != pb.TxValidationCode_VALID) && failures.Add(1) == 1 {
						b.Errorf("submit (private %v): %+v %v", private, res, err)
					}
				}
			}()
		}
		for range n {
			work <- struct{}{}
		}
		close(work)
		wg.Wait()
		return time.Since(start)
	}
	// Warm up connections, identity caches and both code paths.
	run(false, 3*len(clients))
	run(true, 3*len(clients))

	b.ResetTimer()
	var public, private time.Duration
	done := 0
	for r := range rounds {
		n := b.N/rounds + map[bool]int{true: b.N % rounds}[r == rounds-1]
		if n == 0 {
			continue
		}
		public += run(false, n)
		private += run(true, n)
		done += n
	}
	b.StopTimer()
	pubRate := float64(done) / public.Seconds()
	pvtRate := float64(done) / private.Seconds()
	b.ReportMetric(pubRate, "public-tx/s")
	b.ReportMetric(pvtRate, "private-tx/s")
	b.ReportMetric(pvtRate/pubRate, "private/public")
	b.ReportMetric(0, "ns/op")
}
