package orderer

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
	"github.com/blossom-ledger/blossom/internal/transport"
)

var envelopeCount = flag.Int("orderer.envelopes", 10000, "envelopes in TestLeaderKillUnderLoad (-short: 1500)")

// loadStats records the answers the load clients got.
type loadStats struct {
	mu        sync.Mutex
	success   map[string]int // txID -> SUCCESS answers
	duplicate map[string]bool
	attempts  map[string]int // txID -> times sent
	retries   int
	acked     atomic.Int64 // envelopes answered SUCCESS or DUPLICATE_TXID
	other     []string     // unexpected answers
}

func newLoadStats() *loadStats {
	return &loadStats{success: map[string]int{}, duplicate: map[string]bool{}, attempts: map[string]int{}}
}

// loadClient broadcasts its envelopes to the orderers, starting with its
// preferred one, keeping up to window envelopes outstanding per stream.
// Envelopes whose stream broke or that were answered SERVICE_UNAVAILABLE
// are resubmitted (to the next orderer if the stream broke) until each is
// answered SUCCESS or CONFLICT DUPLICATE_TXID.
func loadClient(ctx context.Context, addrs []string, cred *testpki.Credential, trust *transport.TrustSource, envs [][]byte, txIDs []string, preferred, window int, st *loadStats) error {
	todo := make([]int, len(envs))
	for i := range todo {
		todo[i] = i
	}
	node := preferred
	for len(todo) > 0 {
		if ctx.Err() != nil {
			return fmt.Errorf("%d envelopes left: %w", len(todo), ctx.Err())
		}
		dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := transport.Dial(dctx, addrs[node%len(addrs)], transport.ClientTLSConfig(cred.TLS, trust, pki.RoleOrderer))
		cancel()
		if err != nil {
			node++
			continue
		}
		todo = runStream(ctx, conn, envs, txIDs, todo, window, st)
		conn.Close()
		if len(todo) > 0 {
			node++ // the stream broke or answers asked for a retry: move on
		}
	}
	return nil
}

// runStream sends the envelopes todo on one Broadcast stream and returns
// those to submit again.
func runStream(ctx context.Context, conn *grpc.ClientConn, envs [][]byte, txIDs []string, todo []int, window int, st *loadStats) []int {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := pb.NewAtomicBroadcastClient(conn).Broadcast(sctx)
	if err != nil {
		return todo
	}
	sem := make(chan struct{}, window)
	sentIdx := make(chan int, len(todo))
	go func() {
		defer close(sentIdx)
		for _, i := range todo {
			select {
			case sem <- struct{}{}:
			case <-sctx.Done():
				return
			}
			env := new(pb.Envelope)
			if protocol.Unmarshal(envs[i], env, 0) != nil {
				return
			}
			st.mu.Lock()
			st.attempts[txIDs[i]]++
			st.mu.Unlock()
			if stream.Send(env) != nil {
				return
			}
			sentIdx <- i
		}
		stream.CloseSend()
	}()
	done := map[int]bool{}
	for i := range sentIdx {
		resp, err := stream.Recv()
		if err != nil {
			break
		}
		<-sem
		tx := txIDs[i]
		st.mu.Lock()
		switch {
		case resp.Status == pb.Status_SUCCESS:
			st.success[tx]++
			done[i] = true
			st.acked.Add(1)
		case resp.Status == pb.Status_CONFLICT && strings.HasPrefix(resp.Info, duplicateTxID):
			st.duplicate[tx] = true
			done[i] = true
			st.acked.Add(1)
		case resp.Status == pb.Status_SERVICE_UNAVAILABLE:
			st.retries++
		default:
			st.other = append(st.other, resp.Status.String()+": "+resp.Info)
			done[i] = true
		}
		st.mu.Unlock()
	}
	var retry []int
	for _, i := range todo {
		if !done[i] {
			retry = append(retry, i)
		}
	}
	return retry
}

// TestLeaderKillUnderLoad: concurrent clients broadcast envelopes to three
// orderers while the leader is shut down mid-run. Every envelope answered
// SUCCESS is in the chain exactly once; no transaction is in it twice;
// every orderer (and its Deliver) holds the same chain; the killed orderer
// restarts on its directory and catches up to the same chain.
func TestLeaderKillUnderLoad(t *testing.T) {
	total := *envelopeCount
	if testing.Short() {
		total = 1500
	}
	const clients = 8
	c := newCluster(t, 3, nil)
	leader := c.leader()

	// Envelopes, prepared up front (small: 64 bytes of data).
	envs := make([][][]byte, clients)
	ids := make([][]string, clients)
	for k := 0; k < clients; k++ {
		cred := c.clients[mspID(k%3)]
		for i := 0; i < total/clients; i++ {
			env, id := newEnvelope(t, cred, testChannel, 64)
			envs[k] = append(envs[k], env)
			ids[k] = append(ids[k], id)
		}
	}
	sent := clients * (total / clients)
	addrs := make([]string, len(c.nodes))
	for i, tn := range c.nodes {
		addrs[i] = tn.addr
	}
	st := newLoadStats()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	start := time.Now()
	errs := make(chan error, clients)
	for k := 0; k < clients; k++ {
		go func(k int) {
			errs <- loadClient(ctx, addrs, c.clients[mspID(k%3)], c.trust, envs[k], ids[k], k%3, 256, st)
		}(k)
	}
	eventually(t, 60*time.Second, "a third of the envelopes acknowledged", func() bool { return st.acked.Load() >= int64(sent/3) })
	killedAt := st.acked.Load()
	c.kill(leader)
	t.Logf("killed leader orderer%d after %d of %d envelopes were acknowledged", leader, killedAt, sent)
	for k := 0; k < clients; k++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	st.mu.Lock()
	if len(st.other) > 0 {
		t.Fatalf("unexpected answers: %v", st.other[:min(5, len(st.other))])
	}
	st.mu.Unlock()
	t.Logf("%d envelopes in %s (%.0f/s), %d SUCCESS, %d DUPLICATE_TXID, %d resubmissions", sent, elapsed.Round(time.Millisecond), float64(sent)/elapsed.Seconds(), len(st.success), len(st.duplicate), st.retries)

	c.restart(leader)
	h := c.waitSameHeight(2, 30*time.Second)
	ref := c.storedBlocks(0, h)
	for i := 1; i < len(c.nodes); i++ {
		got := c.storedBlocks(i, h)
		for n := range got {
			if !bytes.Equal(protocol.BlockHeaderHash(got[n].Header), protocol.BlockHeaderHash(ref[n].Header)) {
				t.Fatalf("orderer %d block %d differs from orderer 0's", i, n)
			}
		}
	}
	var want []string
	for i := range c.nodes {
		got := chainTxIDs(t, deliverAll(t, c.dial(i, c.clients[mspID(i)]), h-1))
		if i == 0 {
			want = got
		} else if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("orderer %d delivers another sequence of transactions than orderer 0", i)
		}
	}
	seen := map[string]int{}
	for _, id := range want {
		seen[id]++
		if seen[id] > 1 {
			t.Fatalf("transaction %s is in the chain twice", id)
		}
	}
	for id, n := range st.success {
		if n > 1 {
			t.Errorf("transaction %s was answered SUCCESS %d times", id, n)
		}
		if seen[id] != 1 {
			t.Errorf("acknowledged transaction %s is in the chain %d times", id, seen[id])
		}
	}
	for id := range st.duplicate {
		if seen[id] != 1 {
			t.Errorf("transaction %s answered DUPLICATE_TXID is in the chain %d times", id, seen[id])
		}
	}
	if len(want) != sent {
		t.Errorf("the chain holds %d transactions, want all %d (every envelope was answered SUCCESS or DUPLICATE_TXID)", len(want), sent)
	}
	if len(st.success)+len(st.duplicate) != sent {
		t.Errorf("%d SUCCESS + %d DUPLICATE_TXID answers for %d envelopes", len(st.success), len(st.duplicate), sent)
	}
	// DUPLICATE_TXID answers only a resubmission: an envelope sent once
	// is never reported as already ordered. (How many answers are lost
	// with the leader depends on the machine's speed, not on correctness.)
	for id := range st.duplicate {
		if st.attempts[id] < 2 {
			t.Errorf("transaction %s was sent %d time(s) but answered DUPLICATE_TXID", id, st.attempts[id])
		}
	}
}
