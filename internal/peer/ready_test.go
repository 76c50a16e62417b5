package peer_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/lifecycle"
	"github.com/blossom-ledger/blossom/internal/network/nettest"
)

// waitReady polls a condition on readiness: nothing notifies a change.
func waitReady(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReady: peers of a running network are ready (the orderers told them
// the height, which they reached; the committed kv definition's package is
// run natively); a committed definition whose package a peer does not hold
// makes it unready, naming the package, while it stays healthy; and a peer
// far behind the height the orderers showed is unready.
func TestReady(t *testing.T) {
	net := nettest.Start(t, nettest.Options{})
	ctx := testContext(t, time.Minute)
	for i := range net.Members {
		waitReady(t, "peer ready", func() error { return net.Peer(i).Ready() })
		if got, h := net.PeerChannel(i).OrdererHeight(), net.PeerChannel(i).Height(); got == 0 || got > h+5 {
			t.Fatalf("peer %d learned orderer height %d at height %d", i, got, h)
		}
	}

	ghost := &lifecycle.Definition{Name: "ghost", Version: "1", Sequence: 1, PackageID: "ghost:" + strings.Repeat("ab", 32),
		EndorsementPolicy: "MAJORITY Endorsement", Params: map[string]string{}, Collections: []lifecycle.Collection{}}
	var last uint64
	for i := range 2 {
		b, err := net.Lifecycle(t, i).Approve(ctx, ghost)
		if err != nil {
			t.Fatal(err)
		}
		last = max(last, b)
	}
	net.WaitForHeight(t, last+1, 20*time.Second)
	b, err := net.Lifecycle(t, 0).Commit(ctx, ghost)
	if err != nil {
		t.Fatal(err)
	}
	net.WaitForHeight(t, b+1, 20*time.Second)
	for i := range net.Members {
		// The definitions are swapped in just after the block's commit.
		waitReady(t, "unready for the ghost package", func() error {
			err := net.Peer(i).Ready()
			if err == nil || !strings.Contains(err.Error(), "chaincode ghost: package "+ghost.PackageID+" is not installed") {
				return fmt.Errorf("peer %d with a committed definition it cannot run: ready = %v", i, err)
			}
			return nil
		})
		if err := net.Peer(i).Healthy(); err != nil {
			t.Fatalf("peer %d not healthy: %v", i, err)
		}
	}

	// A height the orderers showed that the peer has not reached.
	ch := net.PeerChannel(1)
	ch.LearnOrdererHeight(ch.Height() + 100)
	if err := net.Peer(1).Ready(); err == nil || !strings.Contains(err.Error(), "the orderers at") {
		t.Fatalf("peer 100 blocks behind: ready = %v", err)
	}
}
