package peer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/ledger"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/transport"
)

// maxTxIDLength bounds the transaction IDs CommitStatus accepts.
const maxTxIDLength = ledger.MaxTxIDBytes

// peerService implements pb.PeerServer for a node: committed blocks,
// transaction commit status and channel information, to callers that
// satisfy the channel's Readers policy.
type peerService struct {
	pb.UnimplementedPeerServer
	node *Node
}

// reader finds the channel of a request and checks that the call's caller
// (its mutual-TLS identity) may read it now.
func (s *peerService) reader(ctx context.Context, channelID string) (*Channel, *identity.Identity, error) {
	ch, ok := s.node.Channel(channelID)
	if !ok {
		return nil, nil, status.Errorf(codes.NotFound, "channel %q is not joined by this peer", channelID)
	}
	caller, ok := transport.IdentityFromContext(ctx)
	if !ok {
		return nil, nil, status.Error(codes.Unauthenticated, "a client certificate is required")
	}
	if _, err := ch.current().authorize(caller.MSPID(), caller.Certificate().Raw, channelconfig.PolicyReaders, time.Now()); err != nil {
		return nil, nil, status.Errorf(codes.PermissionDenied, "%v", err)
	}
	return ch, caller, nil
}

// CommitStatus blocks until the transaction is committed on this peer
// (valid or not) and answers its validation code and block, or fails with
// the call's deadline (DeadlineExceeded) or cancellation. With no_wait it
// answers at once: NotFound when the transaction is not committed.
func (s *peerService) CommitStatus(ctx context.Context, req *pb.CommitStatusRequest) (*pb.CommitStatusResponse, error) {
	if req.GetTxId() == "" || len(req.GetTxId()) > maxTxIDLength {
		return nil, status.Errorf(codes.InvalidArgument, "transaction ID must be 1 to %d bytes", maxTxIDLength)
	}
	ch, _, err := s.reader(ctx, req.GetChannelId())
	if err != nil {
		return nil, err
	}
	if req.GetNoWait() {
		info, err := ch.ledger.Tx(req.TxId)
		switch {
		case errors.Is(err, ledger.ErrNotFound):
			return nil, status.Error(codes.NotFound, "transaction not committed on this peer")
		case err != nil:
			return nil, status.Errorf(codes.Internal, "ledger: %v", err)
		}
		return &pb.CommitStatusResponse{Code: info.Code, Block: info.Block}, nil
	}
	wctx, cancel := s.node.withStop(ctx)
	defer cancel()
	info, err := ch.WaitForTx(wctx, req.TxId)
	if err != nil {
		if ctx.Err() != nil {
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		if wctx.Err() != nil {
			return nil, status.Error(codes.Unavailable, "peer stopping")
		}
		return nil, status.Errorf(codes.Internal, "ledger: %v", err)
	}
	return &pb.CommitStatusResponse{Code: info.Code, Block: info.Block}, nil
}

// ChannelInfo answers the ledger height, the last block's hash and the
// commit hash at the height.
func (s *peerService) ChannelInfo(ctx context.Context, req *pb.ChannelInfoRequest) (*pb.ChannelInfoResponse, error) {
	ch, _, err := s.reader(ctx, req.GetChannelId())
	if err != nil {
		return nil, err
	}
	height, hash, err := ch.CommitHash()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "ledger: %v", err)
	}
	last, err := ch.ledger.LastBlockHeader()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "ledger: %v", err)
	}
	return &pb.ChannelInfoResponse{Height: height, CurrentBlockHash: protocol.BlockHeaderHash(last), CommitHash: hash}, nil
}

// Deliver streams committed blocks [start, stop] of a channel, with their
// validation codes and commit hashes in the metadata, waiting for new
// blocks as they commit. The caller must satisfy the channel's Readers
// policy, which is checked again whenever the configuration changes. The
// stream ends with a status: SUCCESS after the stop block, or the reason.
func (s *peerService) Deliver(req *pb.DeliverRequest, stream grpc.ServerStreamingServer[pb.DeliverResponse]) error {
	ctx, cancel := s.node.withStop(stream.Context())
	defer cancel()
	send := func(st pb.Status, format string, args ...any) error {
		return stream.Send(&pb.DeliverResponse{Kind: &pb.DeliverResponse_Status{Status: st}, Info: fmt.Sprintf(format, args...)})
	}
	ch, caller, err := s.reader(ctx, req.GetChannelId())
	if err != nil {
		st, _ := status.FromError(err)
		code := pb.Status_FORBIDDEN
		if st.Code() == codes.NotFound {
			code = pb.Status_NOT_FOUND
		}
		return send(code, "%s", st.Message())
	}
	height := ch.Height()
	start, err := seek(req.GetStart(), height)
	if err != nil {
		return send(pb.Status_BAD_REQUEST, "start: %v", err)
	}
	stop := uint64(math.MaxUint64)
	if req.GetStop() != nil {
		if stop, err = seek(req.GetStop(), height); err != nil {
			return send(pb.Status_BAD_REQUEST, "stop: %v", err)
		}
	}
	if stop < start {
		return send(pb.Status_BAD_REQUEST, "stop %d is before start %d", stop, start)
	}
	failIfNotReady := req.GetBehavior() == pb.DeliverRequest_FAIL_IF_NOT_READY
	st := ch.current()
	for n := start; ; n++ {
		if failIfNotReady && n >= ch.Height() {
			return send(pb.Status_NOT_FOUND, "block %d is not yet committed (height %d)", n, ch.Height())
		}
		if _, err := ch.ledger.WaitForHeight(ctx, n+1); err != nil {
			return send(pb.Status_SERVICE_UNAVAILABLE, "stream ended: %v", err)
		}
		if cur := ch.current(); cur != st {
			st = cur
			if _, err := st.authorize(caller.MSPID(), caller.Certificate().Raw, channelconfig.PolicyReaders, time.Now()); err != nil {
				return send(pb.Status_FORBIDDEN, "%v", err)
			}
		}
		b, err := ch.ledger.Block(n)
		if err != nil {
			if errors.Is(err, ledger.ErrClosed) {
				return send(pb.Status_SERVICE_UNAVAILABLE, "peer stopping")
			}
			if errors.Is(err, ledger.ErrBeforeSnapshot) {
				return send(pb.Status_NOT_FOUND, "%v", err)
			}
			return send(pb.Status_INTERNAL_SERVER_ERROR, "block %d: %v", n, err)
		}
		resp := &pb.DeliverResponse{Kind: &pb.DeliverResponse_Block{Block: b}}
		if req.GetFiltered() {
			resp.Kind = &pb.DeliverResponse_FilteredBlock{FilteredBlock: filterBlock(b)}
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
		if n == stop {
			return send(pb.Status_SUCCESS, "")
		}
	}
}

// seek resolves a seek position against the height.
func seek(p *pb.SeekPosition, height uint64) (uint64, error) {
	switch k := p.GetKind().(type) {
	case nil, *pb.SeekPosition_Oldest:
		return 0, nil
	case *pb.SeekPosition_Newest:
		return height - 1, nil
	case *pb.SeekPosition_Specified:
		return k.Specified, nil
	}
	return 0, errors.New("unknown seek position")
}

// filterBlock reduces a committed block to its number and each
// transaction's ID and validation code (DeliverRequest.filtered).
func filterBlock(b *pb.Block) *pb.FilteredBlock {
	envs := b.GetData().GetEnvelopes()
	codes := b.GetMetadata().GetValidationCodes()
	out := &pb.FilteredBlock{Number: b.GetHeader().GetNumber(), Transactions: make([]*pb.FilteredTransaction, len(envs))}
	for i, env := range envs {
		txID, _ := protocol.EnvelopeTxID(env)
		code := pb.TxValidationCode_INVALID_OTHER_REASON
		if i < len(codes) {
			code = pb.TxValidationCode(codes[i])
		}
		out.Transactions[i] = &pb.FilteredTransaction{TxId: txID, Code: code}
	}
	return out
}
