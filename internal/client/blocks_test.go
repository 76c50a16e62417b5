package client_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/client"
	"github.com/blossom-ledger/blossom/internal/network/nettest"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

func TestBlocksAndTxStatus(t *testing.T) {
	net := nettest.Start(t, nettest.Options{})
	ctx := testContext(t, 60*time.Second)
	cl := net.Client(t, 0)
	res, err := cl.Submit(ctx, kv("kv:Put", "k", "v"), net.PeerNames(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	// Submit waited for the own peer; the subtests also read another's.
	net.WaitForHeight(t, res.Block+1, 30*time.Second)

	t.Run("transaction status", func(t *testing.T) {
		st, err := cl.TxStatus(ctx, "", "", res.TxID)
		if err != nil || st.Code != pb.TxValidationCode_VALID || st.Block != res.Block {
			t.Fatalf("status %+v, %v", st, err)
		}
		// Not committed: NotFound at once (a waiting peer would end with
		// the context's deadline instead).
		_, err = cl.TxStatus(ctx, "", "", strings.Repeat("0", 64))
		if !errors.Is(err, client.ErrNotFound) || ctx.Err() != nil {
			t.Fatalf("unknown transaction: %v", err)
		}
	})

	t.Run("block", func(t *testing.T) {
		// Submit waited for the own peer; Org2's may be a moment behind.
		net.WaitForHeight(t, res.Block+1, 20*time.Second)
		b, err := cl.Block(ctx, net.Members[1].PeerName(), "", res.Block)
		if err != nil || b.Header.Number != res.Block || len(b.Metadata.ValidationCodes) != len(b.Data.Envelopes) {
			t.Fatalf("block %d: %v", res.Block, err)
		}
		if _, err := cl.Block(ctx, "", "", res.Block+100); !errors.Is(err, client.ErrNotFound) {
			t.Fatalf("a block not committed: %v", err)
		}
		var de *client.DeliverError
		if _, err := cl.Block(ctx, "", "nochannel", 0); !errors.As(err, &de) || de.Status != pb.Status_NOT_FOUND {
			t.Fatalf("unknown channel: %v", err)
		}
	})

	t.Run("orderer heights", func(t *testing.T) {
		// Followers replicate the block a moment after the leader cut it.
		nettest.Eventually(t, 20*time.Second, func() error {
			hs := cl.OrdererHeights(ctx, "")
			if len(hs) != len(net.Members) { // one orderer per member
				return fmt.Errorf("%d orderers answered, want %d", len(hs), len(net.Members))
			}
			for _, h := range hs {
				if h.Err != nil || h.Orderer == "" || h.Height < res.Block+1 {
					return fmt.Errorf("orderer %q: height %d (the transaction is in block %d), %v", h.Orderer, h.Height, res.Block, h.Err)
				}
			}
			return nil
		})
		for _, h := range cl.OrdererHeights(ctx, "nochannel") {
			if h.Err == nil || !strings.Contains(h.Err.Error(), "NOT_FOUND") {
				t.Errorf("orderer %q on an unknown channel: %d, %v", h.Orderer, h.Height, h.Err)
			}
		}
	})

	t.Run("deliver follows new blocks", func(t *testing.T) {
		got := make(chan uint64, 16)
		stop := res.Block + 1
		done := make(chan error, 1)
		go func() {
			done <- cl.Deliver(ctx, "", "", res.Block, &stop, false, func(b *pb.Block) error {
				got <- b.Header.Number
				return nil
			})
		}()
		next, err := cl.Submit(ctx, kv("kv:Put", "k2", "v"), net.PeerNames(0, 1))
		if err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("deliver: %v", err)
		}
		close(got)
		var numbers []uint64
		for n := range got {
			numbers = append(numbers, n)
		}
		if len(numbers) != 2 || numbers[0] != res.Block || numbers[1] != res.Block+1 || next.Block < res.Block+1 {
			t.Fatalf("delivered %v (next tx in block %d)", numbers, next.Block)
		}
	})
	t.Run("wait for a peer's height", func(t *testing.T) {
		peer2 := net.Members[2].PeerName()
		if seen := cl.SeenHeight(""); seen < res.Block+1 {
			t.Fatalf("seen height %d after a commit in block %d", seen, res.Block)
		}
		net.WaitForHeight(t, res.Block+1, 20*time.Second)
		if behind, err := cl.WaitForPeerHeight(ctx, peer2, "", res.Block+1); behind || err != nil {
			t.Fatalf("a peer at the height: behind %v, %v", behind, err)
		}
		// A height not reached yet: the wait ends once peer 2 committed
		// the block (Submit waits for the own peer only).
		h := net.PeerChannel(2).Height()
		done := make(chan error, 1)
		go func() {
			_, err := cl.WaitForPeerHeight(ctx, peer2, "", h+1)
			done <- err
		}()
		next, err := cl.Submit(ctx, kv("kv:Put", "k3", "v"), net.PeerNames(0, 1))
		if err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("waiting for height %d: %v", h+1, err)
		}
		if got := net.PeerChannel(2).Height(); got < h+1 || next.Block < h {
			t.Fatalf("peer 2 at %d after the wait for %d", got, h+1)
		}
	})
}
