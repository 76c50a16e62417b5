package orderer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/policy"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/transport"
)

// service implements pb.AtomicBroadcastServer for a Node.
type service struct {
	pb.UnimplementedAtomicBroadcastServer
	node *Node
}

// maxBroadcastInflight bounds the envelopes of one Broadcast stream that
// are being checked or ordered at once.
const maxBroadcastInflight = 4096

// maxGRPCMessage bounds one gRPC message: the largest block the channel
// configuration allows, plus room for its metadata.
const maxGRPCMessage = channelconfig.MaxAbsoluteMaxBytes + 1<<20

// Broadcast checks and orders each envelope of the stream and answers each,
// in order. Envelopes are checked concurrently and submitted in stream
// order; an answer is sent when its envelope's block is committed (SUCCESS)
// or the envelope is refused.
func (s *service) Broadcast(stream grpc.BidiStreamingServer[pb.Envelope, pb.BroadcastResponse]) error {
	ctx := stream.Context()
	caller, _ := transport.IdentityFromContext(ctx)
	answers := newAnswerQueue(maxBroadcastInflight)
	sendErr := make(chan error, 1)
	go func() {
		defer close(sendErr)
		drain := func() {
			for _, ok := answers.pop(); ok; _, ok = answers.pop() {
			}
		}
		for a, ok := answers.pop(); ok; a, ok = answers.pop() {
			var o outcome
			select {
			case o = <-a.done:
			case <-ctx.Done():
				sendErr <- ctx.Err()
				drain()
				return
			}
			if err := stream.Send(&pb.BroadcastResponse{Status: o.Status, Info: o.Info, TxId: a.txID}); err != nil {
				sendErr <- err
				drain()
				return
			}
		}
	}()
	defer func() {
		answers.close()
		<-sendErr
	}()
	prevSubmitted := make(chan struct{})
	close(prevSubmitted)
	for {
		env, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		done := make(chan outcome, 1)
		submitted := make(chan struct{})
		txID := peekTxID(env)
		if err := answers.push(ctx, broadcastAnswer{txID: txID, done: done}); err != nil {
			return err
		}
		go func(env *pb.Envelope, prev <-chan struct{}) {
			done <- s.broadcastOne(ctx, caller, env, prev, submitted)
		}(env, prevSubmitted)
		prevSubmitted = submitted
	}
}

// peekTxID reads the transaction ID of an envelope for the answer, or "".
func peekTxID(env *pb.Envelope) string {
	txID, err := protocol.PayloadTxID(env.GetPayload())
	if err != nil || len(txID) > 128 {
		return ""
	}
	return txID
}

// broadcastOne checks one envelope, waits until the stream's previous
// envelope was submitted (keeping the stream's order), submits it and
// waits for the outcome. It closes submitted once this envelope is handed
// on (or refused).
func (s *service) broadcastOne(ctx context.Context, caller *identity.Identity, env *pb.Envelope, prev <-chan struct{}, submitted chan struct{}) outcome {
	once := func() {
		select {
		case <-submitted:
		default:
			close(submitted)
		}
	}
	defer once()
	// Re-marshal only the known fields: unknown ones never reach a block.
	raw, err := protocol.Marshal(&pb.Envelope{Payload: env.Payload, Signature: env.Signature})
	if err != nil {
		return outcome{Status: pb.Status_BAD_REQUEST, Info: err.Error()}
	}
	channelID := peekChannel(env)
	c := s.node.chain(channelID)
	if c == nil {
		return outcome{Status: pb.Status_NOT_FOUND, Info: fmt.Sprintf("channel %q is not served by this orderer", channelID)}
	}
	metrics := s.node.cfg.Metrics
	var result outcome
	defer func() { metrics.countProcessed(c.id, result.Status) }()
	// Admission: past its bound of envelopes not yet answered, the orderer
	// refuses at once (before spending a signature check) rather than let
	// the queue grow until envelopes time out and are resubmitted.
	if !c.admit() {
		metrics.countOverload(c.id)
		result = outcomeOverloaded(c.maxPending)
		return result
	}
	defer c.release()
	cfg := c.fsm.Config()
	// An orderer forwarding for its clients gets NOT_LEADER rather than a
	// second hop, and re-routes itself; its check is trusted when made under
	// this node's configuration sequence.
	fromConsenter := caller != nil && isConsenter(cfg, caller)
	ce, trusted := (*checkedEnvelope)(nil), false
	if fromConsenter && env.ForwardedConfigSequence != nil {
		ce, trusted = trustForwarded(cfg, raw, *env.ForwardedConfigSequence)
	}
	if trusted {
		metrics.countCheck(c.id, checkTrusted)
	} else {
		if err := s.node.checks.Enter(ctx); err != nil {
			result = outcomeNotLeader // the stream ended; nobody reads the answer
			return result
		}
		checkStart := time.Now()
		var ref *refusal
		ce, ref = checkEnvelope(cfg, raw, checkStart)
		s.node.checks.Leave()
		if ref != nil {
			metrics.observeValidate(c.id, ref.Status, time.Since(checkStart))
			result = outcome{Status: ref.Status, Info: ref.Info}
			return result
		}
		metrics.observeValidate(c.id, pb.Status_SUCCESS, time.Since(checkStart))
	}
	if c.fsm.hasTxID(ce.TxID) {
		result = outcomeDuplicate(ce.TxID)
		return result
	}
	select {
	case <-prev:
	case <-ctx.Done():
		result = outcomeNotLeader
		return result
	}
	octx, cancel := context.WithTimeout(ctx, s.node.cfg.BroadcastTimeout)
	defer cancel()
	result = c.order(octx, ce, fromConsenter, once)
	return result
}

func peekChannel(env *pb.Envelope) string {
	payload := new(pb.Payload)
	if protocol.Unmarshal(env.GetPayload(), payload, 0) != nil {
		return ""
	}
	hdr := new(pb.Header)
	if protocol.Unmarshal(payload.Header, hdr, 64<<10+4096) != nil {
		return ""
	}
	return hdr.ChannelId
}

func isConsenter(cfg *channelconfig.Config, id *identity.Identity) bool {
	cs, ok := cfg.Consenter(id.EnrollmentID())
	return ok && cs.MspId == id.MSPID() && string(cs.CertDer) == string(id.Certificate().Raw)
}

// Deliver streams blocks [start, stop] of a channel to a caller whose
// certificate satisfies the channel's Readers policy (re-checked whenever
// the configuration changes), waiting for new blocks as they are appended.
func (s *service) Deliver(req *pb.DeliverRequest, stream grpc.ServerStreamingServer[pb.DeliverResponse]) error {
	ctx := stream.Context()
	status := func(st pb.Status, format string, args ...any) error {
		return stream.Send(&pb.DeliverResponse{Kind: &pb.DeliverResponse_Status{Status: st}, Info: fmt.Sprintf(format, args...)})
	}
	if req.GetFiltered() {
		return status(pb.Status_BAD_REQUEST, "the ordering service delivers whole blocks: ask a peer for filtered blocks")
	}
	c := s.node.chain(req.GetChannelId())
	if c == nil {
		return status(pb.Status_NOT_FOUND, "channel %q is not served by this orderer", req.GetChannelId())
	}
	caller, ok := transport.IdentityFromContext(ctx)
	if !ok {
		return status(pb.Status_FORBIDDEN, "Deliver needs a client certificate")
	}
	cfg := c.fsm.Config()
	if err := canRead(cfg, caller); err != nil {
		s.node.log.Warn("deliver: refused", "channel", c.id, "caller", caller.String(), "reason", err)
		return status(pb.Status_FORBIDDEN, "%v", err)
	}
	height := c.fsm.Height()
	start, err := seek(req.GetStart(), height)
	if err != nil {
		return status(pb.Status_BAD_REQUEST, "start: %v", err)
	}
	stop := uint64(math.MaxUint64)
	if req.GetStop() != nil {
		if stop, err = seek(req.GetStop(), height); err != nil {
			return status(pb.Status_BAD_REQUEST, "stop: %v", err)
		}
	}
	if stop < start {
		return status(pb.Status_BAD_REQUEST, "stop %d is before start %d", stop, start)
	}
	if req.GetBehavior() == pb.DeliverRequest_FAIL_IF_NOT_READY && start >= height {
		return status(pb.Status_NOT_FOUND, "block %d is not yet available (height %d)", start, height)
	}
	for n := start; ; n++ {
		if err := c.fsm.waitHeight(ctx, n); err != nil {
			return status(pb.Status_SERVICE_UNAVAILABLE, "stream ended: %v", err)
		}
		if cur := c.fsm.Config(); cur != cfg {
			cfg = cur
			if err := canRead(cfg, caller); err != nil {
				return status(pb.Status_FORBIDDEN, "%v", err)
			}
		}
		b, err := c.store.Block(n)
		if err != nil {
			return status(pb.Status_INTERNAL_SERVER_ERROR, "block %d: %v", n, err)
		}
		if err := stream.Send(&pb.DeliverResponse{Kind: &pb.DeliverResponse_Block{Block: b}}); err != nil {
			return err
		}
		if n == stop {
			return status(pb.Status_SUCCESS, "")
		}
		if req.GetBehavior() == pb.DeliverRequest_FAIL_IF_NOT_READY && n+1 >= c.fsm.Height() && n+1 <= stop {
			return status(pb.Status_NOT_FOUND, "block %d is not yet available", n+1)
		}
	}
}

// canRead checks a caller against the channel's Readers policy, now. The
// channel's consenters may always read (a restored orderer pulls blocks
// from the others).
func canRead(cfg *channelconfig.Config, caller *identity.Identity) error {
	if isConsenter(cfg, caller) {
		return nil
	}
	id, err := cfg.Manager().Validate(caller.MSPID(), caller.Certificate().Raw, identity.AnyRole, time.Now())
	if err != nil {
		return fmt.Errorf("%s is not a valid identity of a member of channel %s: %w", caller, cfg.ChannelID(), err)
	}
	return cfg.EvaluatePolicy(channelconfig.PolicyReaders, []policy.Signer{{ID: id.ID(), MSPID: id.MSPID(), Role: string(id.Role())}})
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

// pull fetches the blocks between the local height and a snapshot's height
// from the other consenters' Deliver, validating each block as Apply does,
// until the chain reaches the snapshot (runs on the FSM goroutine).
func (c *chain) pull(ctx context.Context, s snapshotState) error {
	var sources []*pb.Consenter
	seen := map[string]bool{c.self: true}
	cb := new(pb.Block)
	if err := protocol.Unmarshal(s.LastConfigBlock, cb, 0); err == nil {
		if snapCfg, _, err := channelconfig.FromBlock(cb); err == nil {
			for _, cs := range snapCfg.Consenters() {
				if !seen[cs.Id] {
					seen[cs.Id] = true
					sources = append(sources, cs)
				}
			}
		}
	}
	for _, cs := range c.fsm.Config().Consenters() {
		if !seen[cs.Id] {
			seen[cs.Id] = true
			sources = append(sources, cs)
		}
	}
	if len(sources) == 0 {
		return errors.New("no other orderer to pull blocks from")
	}
	backoff := 100 * time.Millisecond
	for {
		for _, cs := range sources {
			if c.fsm.height >= s.Height {
				return nil
			}
			err := c.pullFrom(ctx, cs, s.Height-1)
			if err == nil && c.fsm.height >= s.Height {
				c.log.Info("caught up from another orderer", "source", cs.Id, "height", c.fsm.height)
				return nil
			}
			c.log.Warn("pulling blocks failed; trying another orderer", "source", cs.Id, "height", c.fsm.height, "error", err)
		}
		select {
		case <-time.After(backoff):
			backoff = min(2*backoff, 5*time.Second)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// pullFrom streams blocks [height, to] from one consenter into the chain.
func (c *chain) pullFrom(ctx context.Context, cs *pb.Consenter, to uint64) error {
	conn, err := dialConsenterConn(ctx, c.node.clientTLS, cs.Address, cs.Id, cs.CertDer)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := pb.NewAtomicBroadcastClient(conn).Deliver(ctx, &pb.DeliverRequest{
		ChannelId: c.id,
		Start:     &pb.SeekPosition{Kind: &pb.SeekPosition_Specified{Specified: c.fsm.height}},
		Stop:      &pb.SeekPosition{Kind: &pb.SeekPosition_Specified{Specified: to}},
	})
	if err != nil {
		return err
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			return err
		}
		switch k := resp.Kind.(type) {
		case *pb.DeliverResponse_Block:
			b := k.Block
			if b.GetHeader() == nil || b.GetData() == nil || b.GetMetadata() == nil {
				return errors.New("malformed block from Deliver")
			}
			if b.Header.Number != c.fsm.height {
				return fmt.Errorf("Deliver sent block %d, want %d", b.Header.Number, c.fsm.height)
			}
			if res := c.fsm.applyBlock(proto.CloneOf(b)); !res.Applied {
				return fmt.Errorf("block %d from %s refused: %s", b.Header.Number, cs.Id, res.Reason)
			}
		case *pb.DeliverResponse_Status:
			if k.Status == pb.Status_SUCCESS {
				return nil
			}
			return fmt.Errorf("Deliver ended with %s: %s", k.Status, resp.Info)
		}
	}
}
