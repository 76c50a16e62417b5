package orderer

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// quiet silences a benchmark cluster's logs (they cost time).
func quiet(c *cluster) { c.log = slog.New(slog.NewTextHandler(io.Discard, nil)) }

// BenchmarkOrdering measures, on one three-orderer cluster in one run,
// envelopes per second through Broadcast (100-byte envelopes from six
// clients spread over the three orderers, default batch settings) and the
// raw hashicorp/raft Apply rate of the same Raft group (no-op entries of
// the same size, 64 in flight). broadcast also reports checks/envelope, the
// full envelope checks (signature and policies: samples of
// broadcast_validate_duration over all orderers) per envelope ordered, a
// count that depends on the machine's load only through retries (envelopes
// answered SERVICE_UNAVAILABLE and sent again: retries/envelope).
func BenchmarkOrdering(b *testing.B) {
	c := newCluster(b, 3, nil, quiet)
	c.leader()
	b.Run("broadcast", func(b *testing.B) {
		const clients = 6
		per := (b.N + clients - 1) / clients
		envs := make([][][]byte, clients)
		ids := make([][]string, clients)
		for k := range envs {
			for i := 0; i < per; i++ {
				e, id := newEnvelope(b, c.clients[mspID(k%3)], testChannel, 100)
				envs[k], ids[k] = append(envs[k], e), append(ids[k], id)
			}
		}
		addrs := []string{c.nodes[0].addr, c.nodes[1].addr, c.nodes[2].addr}
		st := newLoadStats()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		checks0 := c.metric("broadcast_validate_duration")
		b.ResetTimer()
		start := time.Now()
		var wg sync.WaitGroup
		for k := 0; k < clients; k++ {
			wg.Add(1)
			go func(k int) {
				defer wg.Done()
				if err := loadClient(ctx, addrs, c.clients[mspID(k%3)], c.trust, envs[k], ids[k], k%3, 512, st); err != nil {
					b.Error(err)
				}
			}(k)
		}
		wg.Wait()
		elapsed := time.Since(start)
		b.StopTimer()
		if len(st.other) > 0 {
			b.Fatalf("unexpected answers: %v", st.other[:1])
		}
		b.ReportMetric(float64(clients*per)/elapsed.Seconds(), "envelopes/s")
		b.ReportMetric((c.metric("broadcast_validate_duration")-checks0)/float64(clients*per), "checks/envelope")
		b.ReportMetric(float64(st.retries)/float64(clients*per), "retries/envelope")
	})
	b.Run("raft_apply", func(b *testing.B) {
		r := c.nodes[c.leader()].node.chain(testChannel).raft
		entry := make([]byte, 100)
		entry[0] = entryNoop
		const inflight = 64
		sem := make(chan struct{}, inflight)
		var wg sync.WaitGroup
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			sem <- struct{}{}
			wg.Add(1)
			f := r.Apply(entry, 0)
			go func() {
				defer wg.Done()
				if err := f.Error(); err != nil {
					b.Error(err)
				}
				<-sem
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "applies/s")
	})
}

// BenchmarkLeaderFailover measures the time from shutting the leader down
// (abruptly, no leadership transfer) to the next block on the surviving
// orderers, with the LAN Raft profile and default batch settings, while a
// client keeps broadcasting to a survivor. Each iteration restarts the
// killed orderer and waits for it to catch up.
func BenchmarkLeaderFailover(b *testing.B) {
	c := newCluster(b, 3, nil, quiet)
	var samples []time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		leader := c.leader()
		survivor := (leader + 1) % 3
		ctx, cancel := context.WithCancel(context.Background())
		conn := c.dial(survivor, c.clients[mspID(0)])
		stream, err := pb.NewAtomicBroadcastClient(conn).Broadcast(ctx)
		if err != nil {
			b.Fatal(err)
		}
		envs := make([][]byte, 400)
		for k := range envs {
			envs[k], _ = newEnvelope(b, c.clients[mspID(0)], testChannel, 100)
		}
		go func() {
			for {
				if _, err := stream.Recv(); err != nil {
					return
				}
			}
		}()
		sent := make(chan struct{})
		go func() {
			defer close(sent)
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for _, e := range envs {
				select {
				case <-tick.C:
				case <-ctx.Done():
					return
				}
				if stream.Send(decodeEnvelope(b, e)) != nil {
					return
				}
			}
		}()
		// Let traffic flow, then kill the leader.
		h0 := c.height(survivor)
		eventually(b, 10*time.Second, "blocks before the kill", func() bool { return c.height(survivor) > h0+1 })
		b.StartTimer()
		killedAt := time.Now()
		hKill := c.height(survivor)
		c.kill(leader)
		eventually(b, 10*time.Second, "a block after the kill", func() bool { return c.height(survivor) > hKill })
		d := time.Since(killedAt)
		b.StopTimer()
		samples = append(samples, d)
		cancel()
		<-sent
		c.restart(leader)
		c.waitSameHeight(0, 30*time.Second)
	}
	slices.Sort(samples)
	var sum time.Duration
	for _, s := range samples {
		sum += s
	}
	b.ReportMetric(float64(sum.Milliseconds())/float64(len(samples)), "ms/failover")
	b.ReportMetric(float64(samples[len(samples)-1].Milliseconds()), "max-ms")
}
