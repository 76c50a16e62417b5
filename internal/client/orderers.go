package client

import (
	"context"
	"fmt"
	"sync"

	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// OrdererHeight is one orderer's height on a channel, or why it did not
// answer.
type OrdererHeight struct {
	Orderer string
	Height  uint64
	Err     error
}

// OrdererHeights asks every orderer of the client, concurrently, for its
// height on channel ("" = the configured channel): the number of its
// newest block plus one (Deliver from newest to newest).
func (c *Client) OrdererHeights(ctx context.Context, channel string) []OrdererHeight {
	out := make([]OrdererHeight, len(c.cfg.Orderers))
	var wg sync.WaitGroup
	for i, o := range c.cfg.Orderers {
		out[i].Orderer = o.name()
		wg.Go(func() { out[i].Height, out[i].Err = c.ordererHeight(ctx, o, channel) })
	}
	wg.Wait()
	return out
}

func (c *Client) ordererHeight(ctx context.Context, o Endpoint, channel string) (uint64, error) {
	conn, err := c.ordererConn(ctx, o)
	if err != nil {
		return 0, err
	}
	newest := &pb.SeekPosition{Kind: &pb.SeekPosition_Newest{Newest: true}}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := pb.NewAtomicBroadcastClient(conn).Deliver(sctx, &pb.DeliverRequest{ChannelId: c.channel(channel), Start: newest, Stop: newest})
	if err != nil {
		return 0, fmt.Errorf("orderer %s: %w", o.name(), err)
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			return 0, fmt.Errorf("orderer %s: %w", o.name(), err)
		}
		switch k := resp.Kind.(type) {
		case *pb.DeliverResponse_Block:
			return k.Block.GetHeader().GetNumber() + 1, nil
		case *pb.DeliverResponse_Status:
			return 0, fmt.Errorf("orderer %s: %s: %s", o.name(), k.Status, resp.GetInfo())
		}
	}
}
