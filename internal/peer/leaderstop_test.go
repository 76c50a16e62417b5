package peer_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/client"
	"github.com/blossom-ledger/blossom/internal/network/nettest"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/txn"
)

// TestLeaderStopUnderLoadReachesEveryPeer broadcasts many envelopes from
// concurrent clients while the Raft leader is stopped, then checks the
// peers: every acknowledged envelope is in every peer's ledger exactly
// once, in the same order, and the peers' commit hashes agree. (The
// orderer package kills the leader abruptly and checks the orderers'
// chains; this test follows the blocks through Deliver into the peers.)
func TestLeaderStopUnderLoadReachesEveryPeer(t *testing.T) {
	total := 10000
	if testing.Short() {
		total = 2000
	}
	// Broadcast answers once the block is cut and committed by Raft, so
	// each sender waits up to a batch timeout: many senders keep blocks
	// full.
	const senders = 60
	net := nettest.Start(t, nettest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	var acked sync.Map // tx ID -> true
	var ackCount atomic.Int64
	stopAt := int64(total / 3)
	stopped := make(chan int, 1)
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	clients := make([]*client.Client, len(net.Members))
	for i := range clients {
		clients[i] = net.Client(t, i)
	}
	for c := 0; c < senders; c++ {
		member := c % len(net.Members)
		cl := clients[member]
		signer := net.Members[member].User.Signer
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < total; i += senders {
				hdr, txID, err := txn.NewHeader(signer, pb.HeaderType_ENDORSER_TRANSACTION, net.Channel, time.Now())
				if err != nil {
					errs <- err
					return
				}
				env, err := txn.SignEnvelope(signer, hdr, []byte(fmt.Sprintf("envelope %d", i)))
				if err != nil {
					errs <- err
					return
				}
				if err := cl.Broadcast(ctx, env); err != nil {
					continue // not acknowledged: it may or may not be ordered
				}
				acked.Store(txID, true)
				if ackCount.Add(1) == stopAt {
					stopped <- stopLeader(t, net)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var down int
	select {
	case down = <-stopped:
	default:
		t.Fatal("the leader was never stopped")
	}
	if n := ackCount.Load(); n < int64(total)*9/10 {
		t.Fatalf("only %d of %d envelopes acknowledged", n, total)
	}

	// Every peer catches up with the surviving orderers.
	var height uint64
	for i := range net.Members {
		if i != down {
			height = max(height, net.OrdererHeight(i))
		}
	}
	net.WaitForHeight(t, height, time.Minute)

	var firstOrder []string
	for i := range net.Members {
		ch := net.PeerChannel(i)
		seen := map[string]int{}
		var order []string
		for b := uint64(1); b < height; b++ {
			block, err := ch.Ledger().Block(b)
			if err != nil {
				t.Fatalf("peer %d block %d: %v", i, b, err)
			}
			for _, env := range block.Data.Envelopes {
				_, _, hdr, err := protocol.OpenEnvelope(env, 0)
				if err != nil {
					t.Fatalf("peer %d block %d: %v", i, b, err)
				}
				seen[hdr.TxId]++
				order = append(order, hdr.TxId)
			}
		}
		missing, twice := 0, 0
		acked.Range(func(k, _ any) bool {
			switch seen[k.(string)] {
			case 0:
				missing++
			case 1:
			default:
				twice++
			}
			return true
		})
		if missing != 0 || twice != 0 {
			t.Fatalf("peer %d: %d acknowledged envelopes missing, %d more than once", i, missing, twice)
		}
		if firstOrder == nil {
			firstOrder = order
		} else if fmt.Sprint(order) != fmt.Sprint(firstOrder) {
			t.Fatalf("peer %d holds the envelopes in another order than peer 0", i)
		}
	}
	_, want, err := net.PeerChannel(0).CommitHash()
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(net.Members); i++ {
		if _, got, err := net.PeerChannel(i).CommitHash(); err != nil || string(got) != string(want) {
			t.Fatalf("peer %d commit hash differs from peer 0 (%v)", i, err)
		}
	}
}

// stopLeader stops the orderer that leads the channel and returns its index.
func stopLeader(t *testing.T, net *nettest.Network) int {
	for i, m := range net.Members {
		if leader := m.Orderer.Leader(net.Channel); leader != "" {
			for j, o := range net.Members {
				if o.OrdererCred.Cert.Subject.CommonName == leader {
					if err := o.Orderer.Close(); err != nil {
						t.Errorf("stop leader %s: %v", leader, err)
					}
					return j
				}
			}
			t.Errorf("orderer %d names unknown leader %q", i, leader)
		}
	}
	t.Error("no orderer knows a leader")
	return 0
}
