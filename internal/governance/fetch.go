package governance

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// LatestConfig asks a peer for channel's configuration in force: it reads
// the newest block, then the config block its metadata names as the last
// config, and decodes it. The caller trusts the peer (its own member's,
// reached over mutual TLS): the configuration only seeds the builders'
// read versions and the proposal's content, which every approver reviews
// and the ordering service checks against its own configuration.
func LatestConfig(ctx context.Context, conn grpc.ClientConnInterface, channel string) (*channelconfig.Config, error) {
	cfg, _, err := LatestConfigBlock(ctx, conn, channel)
	return cfg, err
}

// LatestConfigBlock is LatestConfig that also returns the config block
// (for a new member, whose genesis block does not know it, to trust the
// channel's current members from).
func LatestConfigBlock(ctx context.Context, conn grpc.ClientConnInterface, channel string) (*channelconfig.Config, *pb.Block, error) {
	peer := pb.NewPeerClient(conn)
	return latestConfig(channel, func(pos *pb.SeekPosition) (*pb.Block, error) {
		return deliverOne(ctx, peer, channel, pos)
	})
}

// latestConfig finds the configuration in force from the newest block and
// the config block its metadata names, read with fetch.
func latestConfig(channel string, fetch func(*pb.SeekPosition) (*pb.Block, error)) (*channelconfig.Config, *pb.Block, error) {
	newest, err := fetch(&pb.SeekPosition{Kind: &pb.SeekPosition_Newest{Newest: true}})
	if err != nil {
		return nil, nil, err
	}
	last := newest.GetMetadata().GetLastConfig()
	b := newest
	if last != newest.GetHeader().GetNumber() {
		if last > newest.GetHeader().GetNumber() {
			return nil, nil, fmt.Errorf("block %d names a later block %d as its last config", newest.GetHeader().GetNumber(), last)
		}
		if b, err = fetch(&pb.SeekPosition{Kind: &pb.SeekPosition_Specified{Specified: last}}); err != nil {
			return nil, nil, err
		}
		if b.GetHeader().GetNumber() != last {
			return nil, nil, fmt.Errorf("asked for block %d, got block %d", last, b.GetHeader().GetNumber())
		}
	}
	cfg, _, err := channelconfig.FromBlock(b)
	if err != nil {
		return nil, nil, fmt.Errorf("config block %d: %w", last, err)
	}
	if cfg.ChannelID() != channel {
		return nil, nil, fmt.Errorf("config block %d is for channel %s, not %s", last, cfg.ChannelID(), channel)
	}
	return cfg, b, nil
}

// deliverOne reads the single block at pos from a peer's Deliver stream.
func deliverOne(ctx context.Context, peer pb.PeerClient, channel string, pos *pb.SeekPosition) (*pb.Block, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := peer.Deliver(ctx, &pb.DeliverRequest{ChannelId: channel, Start: pos, Stop: pos, Behavior: pb.DeliverRequest_FAIL_IF_NOT_READY})
	if err != nil {
		return nil, fmt.Errorf("deliver: %w", err)
	}
	var block *pb.Block
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil, errors.New("deliver: stream ended without a status")
		}
		if err != nil {
			return nil, fmt.Errorf("deliver: %w", err)
		}
		switch k := resp.Kind.(type) {
		case *pb.DeliverResponse_Block:
			if block != nil {
				return nil, errors.New("deliver: more than one block for a single position")
			}
			block = k.Block
		case *pb.DeliverResponse_Status:
			if k.Status != pb.Status_SUCCESS {
				return nil, fmt.Errorf("deliver: %s: %s", k.Status, resp.Info)
			}
			if block == nil {
				return nil, errors.New("deliver: no block")
			}
			return block, nil
		}
	}
}
