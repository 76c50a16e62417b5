package orderer

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// TestBroadcastAndDeliver: envelopes sent to the leader and to followers
// are ordered into one chain that every orderer holds and serves.
func TestBroadcastAndDeliver(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.leader()
	var txIDs []string
	for i := range c.nodes {
		conn := c.dial(i, c.clients[mspID(i)])
		for k := 0; k < 3; k++ {
			env, txID := newEnvelope(t, c.clients[mspID(i)], testChannel, 100)
			c.broadcastAccepted(conn, env, txID)
			txIDs = append(txIDs, txID)
		}
	}
	h := c.waitSameHeight(2, 10*time.Second)
	ref := c.storedBlocks(0, h)
	for i := 1; i < len(c.nodes); i++ {
		got := c.storedBlocks(i, h)
		for n := range got {
			if !bytes.Equal(protocol.BlockHeaderHash(got[n].Header), protocol.BlockHeaderHash(ref[n].Header)) {
				t.Fatalf("orderer %d block %d differs from orderer 0's", i, n)
			}
		}
	}
	for i := range c.nodes {
		blocks := deliverAll(t, c.dial(i, c.clients[mspID(0)]), h-1)
		ids := chainTxIDs(t, blocks)
		if len(ids) != len(txIDs) {
			t.Fatalf("orderer %d delivers %d transactions, want %d", i, len(ids), len(txIDs))
		}
		for k := range ids {
			if ids[k] != txIDs[k] {
				t.Fatalf("orderer %d: transaction %d is %s, want %s", i, k, ids[k], txIDs[k])
			}
		}
	}
	// Blocks after genesis are signed by a consenter and name the genesis
	// block as their last config.
	for _, b := range ref[1:] {
		if b.Metadata.GetSignature() == nil || b.Metadata.LastConfig != 0 {
			t.Fatalf("block %d metadata %v", b.Header.Number, b.Metadata)
		}
	}
}

// TestDeliverFollowsTheChain: a Deliver stream without a stop waits for
// blocks that do not exist yet and sends them as they are appended;
// FAIL_IF_NOT_READY answers NOT_FOUND instead of waiting.
func TestDeliverFollowsTheChain(t *testing.T) {
	c := newCluster(t, 1, nil)
	c.leader()
	conn := c.dial(0, c.clients["Org2MSP"])
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	next := &pb.SeekPosition{Kind: &pb.SeekPosition_Specified{Specified: 1}}
	notReady, err := pb.NewAtomicBroadcastClient(conn).Deliver(ctx, &pb.DeliverRequest{ChannelId: testChannel, Start: next, Behavior: pb.DeliverRequest_FAIL_IF_NOT_READY})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := notReady.Recv(); err != nil || resp.GetStatus() != pb.Status_NOT_FOUND {
		t.Fatalf("FAIL_IF_NOT_READY beyond the height: %v %v", resp, err)
	}
	stream, err := pb.NewAtomicBroadcastClient(conn).Deliver(ctx, &pb.DeliverRequest{ChannelId: testChannel, Start: next})
	if err != nil {
		t.Fatal(err)
	}
	blocks := make(chan *pb.Block, 4)
	go func() {
		defer close(blocks)
		for {
			resp, err := stream.Recv()
			if err != nil {
				return
			}
			if b := resp.GetBlock(); b != nil {
				blocks <- b
			}
		}
	}()
	for i := 0; i < 2; i++ {
		env, txID := newEnvelope(t, c.clients["Org1MSP"], testChannel, 10)
		if resp := broadcastOne(t, c.dial(0, c.clients["Org1MSP"]), env); resp.Status != pb.Status_SUCCESS {
			t.Fatalf("broadcast: %s %s", resp.Status, resp.Info)
		}
		select {
		case b := <-blocks:
			if b.Header.Number != uint64(i+1) || chainTxIDs(t, []*pb.Block{b})[0] != txID {
				t.Fatalf("streamed block %d does not hold %s", b.Header.Number, txID)
			}
		case <-ctx.Done():
			t.Fatal("the Deliver stream did not send the new block")
		}
	}
}
