package client

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// ErrNotFound is wrapped by the error of a lookup of a block or
// transaction that the peer has not committed.
var ErrNotFound = errors.New("not committed on the peer")

// DeliverError is a peer's refusal or end of a block stream (its final
// status other than SUCCESS).
type DeliverError struct {
	Peer   string
	Status pb.Status
	Info   string
}

func (e *DeliverError) Error() string {
	return fmt.Sprintf("peer %s ended the block stream: %s: %s", e.Peer, e.Status, e.Info)
}

// Is lets errors.Is(err, ErrNotFound) match a NOT_FOUND stream status.
func (e *DeliverError) Is(target error) bool {
	return target == ErrNotFound && e.Status == pb.Status_NOT_FOUND
}

// TxStatus asks peer ("" = the own peer) for the validation code and
// block of transaction txID on channel ("" = the configured channel),
// without waiting: a transaction the peer has not committed is an error
// wrapping ErrNotFound.
func (c *Client) TxStatus(ctx context.Context, peer, channel, txID string) (*pb.CommitStatusResponse, error) {
	if peer == "" {
		peer = c.LocalPeer()
	}
	conn, err := c.peerConn(ctx, peer)
	if err != nil {
		return nil, &PeerError{Peer: peer, Err: err, Unreachable: true}
	}
	resp, err := pb.NewPeerClient(conn).CommitStatus(ctx, &pb.CommitStatusRequest{ChannelId: c.channel(channel), TxId: txID, NoWait: true})
	if status.Code(err) == codes.NotFound {
		return nil, fmt.Errorf("transaction %s: %w", txID, ErrNotFound)
	}
	if err != nil {
		return nil, &PeerError{Peer: peer, Err: err}
	}
	return resp, nil
}

// Block returns committed block number of channel from peer ("" = the own
// peer), with its validation codes; a block the peer has not committed is
// an error wrapping ErrNotFound.
func (c *Client) Block(ctx context.Context, peer, channel string, number uint64) (*pb.Block, error) {
	var out *pb.Block
	stop := number
	err := c.Deliver(ctx, peer, channel, number, &stop, true, func(b *pb.Block) error {
		out = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	if out == nil || out.GetHeader().GetNumber() != number {
		return nil, fmt.Errorf("peer %s did not deliver block %d", peer, number)
	}
	return out, nil
}

// Deliver streams the committed blocks of channel from peer ("" = the own
// peer), from start to stop (nil: forever, waiting for new blocks), to fn
// in order. With failIfNotReady a block not yet committed ends the stream
// with an error wrapping ErrNotFound. It returns nil after stop, fn's
// error, the context's error, or the stream's final status as a
// *DeliverError.
func (c *Client) Deliver(ctx context.Context, peer, channel string, start uint64, stop *uint64, failIfNotReady bool, fn func(*pb.Block) error) error {
	if peer == "" {
		peer = c.LocalPeer()
	}
	conn, err := c.peerConn(ctx, peer)
	if err != nil {
		return &PeerError{Peer: peer, Err: err, Unreachable: true}
	}
	req := &pb.DeliverRequest{
		ChannelId: c.channel(channel),
		Start:     &pb.SeekPosition{Kind: &pb.SeekPosition_Specified{Specified: start}},
	}
	if stop != nil {
		req.Stop = &pb.SeekPosition{Kind: &pb.SeekPosition_Specified{Specified: *stop}}
	}
	if failIfNotReady {
		req.Behavior = pb.DeliverRequest_FAIL_IF_NOT_READY
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := pb.NewPeerClient(conn).Deliver(sctx, req)
	if err != nil {
		return &PeerError{Peer: peer, Err: err}
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				return &DeliverError{Peer: peer, Status: pb.Status_SERVICE_UNAVAILABLE, Info: "stream closed without a status"}
			}
			return &PeerError{Peer: peer, Err: err}
		}
		switch k := resp.Kind.(type) {
		case *pb.DeliverResponse_Block:
			if err := fn(k.Block); err != nil {
				return err
			}
		case *pb.DeliverResponse_Status:
			if k.Status == pb.Status_SUCCESS {
				return nil
			}
			return &DeliverError{Peer: peer, Status: k.Status, Info: resp.Info}
		}
	}
}

// SeenHeight is the highest height of channel this client has seen
// committed (by its own submissions' commits); 0 if none.
func (c *Client) SeenHeight(channel string) uint64 { return c.seenHeight(c.channel(channel)) }

// WaitForPeerHeight waits until peer's ledger of channel holds at least
// height blocks. It reports whether the peer was behind (false: it already
// was there, or height is 0).
func (c *Client) WaitForPeerHeight(ctx context.Context, peer, channel string, height uint64) (behind bool, err error) {
	if height == 0 {
		return false, nil
	}
	if info, err := c.ChannelInfo(ctx, peer, channel); err == nil && info.GetHeight() >= height {
		return false, nil
	}
	last := height - 1
	return true, c.Deliver(ctx, peer, channel, last, &last, false, func(*pb.Block) error { return nil })
}
