package orderer

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"

	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/transport"
)

// order gets one checked envelope ordered: handed to the local block
// cutter if this node leads, forwarded to the leader otherwise, and
// re-routed when the envelope was not proposed (no leader yet, or
// leadership moved first) until ctx ends. With noForward (the envelope
// came from another orderer forwarding it) a non-leader answers NOT_LEADER
// at once and the forwarding orderer re-routes.
//
// queued (may be nil) is called once the envelope is in the leader's queue
// or on the wire to the leader, or when order gives up on routing it; the
// Broadcast handler uses it to keep a stream's envelopes in order.
func (c *chain) order(ctx context.Context, ce *checkedEnvelope, noForward bool, queued func()) outcome {
	if queued == nil {
		queued = func() {}
	}
	defer queued()
	backoff := 10 * time.Millisecond
	for {
		if c.retired.Load() {
			return outcome{Status: pb.Status_SERVICE_UNAVAILABLE, Info: reasonNotLeader + ": this orderer is no longer a consenter of channel " + c.id + "; the envelope was not ordered", NotProposed: true}
		}
		changed := c.leader.wait()
		// The gRPC server serves before the chain's Raft node has started
		// (a restarted orderer is reachable at once): no Raft yet, no leader.
		var leaderID raft.ServerID
		if r := c.raftRef.Load(); r != nil {
			_, leaderID = r.LeaderWithID()
		}
		var o outcome
		switch {
		case leaderID == "" && noForward:
			return outcomeNotLeader
		case leaderID == "":
			o = outcomeNotLeader
		case string(leaderID) == c.self:
			o = c.submitLocal(ctx, ce, queued)
		case noForward:
			return outcomeNotLeader
		default:
			o = c.forward(ctx, string(leaderID), ce, queued)
		}
		if !o.NotProposed {
			return o
		}
		queued() // re-routed envelopes lose their place in the stream's order
		// Not ordered: wait for a leader change (or a short backoff, in case
		// this node's view of the leader is stale), then route again.
		select {
		case <-changed:
		case <-time.After(backoff):
			backoff = min(2*backoff, 200*time.Millisecond)
		case <-ctx.Done():
			return outcome{Status: pb.Status_SERVICE_UNAVAILABLE, Info: reasonNotLeader + ": no leader accepted the envelope in time; it was not ordered, resubmit it", NotProposed: true}
		}
	}
}

func (c *chain) submitLocal(ctx context.Context, ce *checkedEnvelope, queued func()) outcome {
	p := &pending{env: ce, done: make(chan outcome, 1)}
	select {
	case c.submitCh <- p:
		queued()
	case <-ctx.Done():
		return outcomeNotLeader
	}
	select {
	case o := <-p.done:
		return o
	case <-ctx.Done():
		return outcomeUnknown(ctx.Err())
	}
}

// forward sends the envelope to the leader over this node's Broadcast
// stream to it and relays the leader's answer. A stream failure before the
// envelope was sent is NOT_LEADER (re-route); after, the outcome is
// unknown.
func (c *chain) forward(ctx context.Context, leaderID string, ce *checkedEnvelope, queued func()) outcome {
	fs, err := c.forwardStream(ctx, leaderID)
	if err != nil {
		c.log.Debug("forward: no stream to the leader", "leader", leaderID, "error", err)
		return outcomeNotLeader
	}
	resp, sent, err := fs.send(ctx, ce, queued)
	if err != nil {
		if !sent {
			return outcomeNotLeader
		}
		return outcomeUnknown(fmt.Errorf("forwarding to leader %s: %w", leaderID, err))
	}
	o := outcome{Status: resp.Status, Info: resp.Info}
	if resp.Status == pb.Status_SERVICE_UNAVAILABLE && strings.HasPrefix(resp.Info, reasonNotLeader) {
		o.NotProposed = true
	}
	return o
}

// forwardStream returns the open forwarding stream to a leader, dialling
// it if needed.
func (c *chain) forwardStream(ctx context.Context, leaderID string) (*forwardStream, error) {
	c.forwardMu.Lock()
	defer c.forwardMu.Unlock()
	if fs := c.forwards[leaderID]; fs != nil {
		if !fs.isBroken() {
			return fs, nil
		}
		fs.close()
		delete(c.forwards, leaderID)
	}
	if c.ctx.Err() != nil {
		return nil, c.ctx.Err()
	}
	conn, err := c.node.dialConsenter(ctx, c.fsm.Config(), leaderID)
	if err != nil {
		return nil, err
	}
	// The stream lives as long as the chain, not the caller's call.
	sctx, cancel := context.WithCancel(c.ctx)
	stream, err := pb.NewAtomicBroadcastClient(conn).Broadcast(sctx)
	if err != nil {
		cancel()
		conn.Close()
		return nil, err
	}
	fs := newForwardStream(conn, stream, cancel)
	c.forwards[leaderID] = fs
	return fs, nil
}

// forwardStream multiplexes many envelopes over one Broadcast stream to
// the leader. Broadcast answers in order, so answers are matched to
// waiters first in, first out.
type forwardStream struct {
	conn    *grpc.ClientConn
	stream  grpc.BidiStreamingClient[pb.Envelope, pb.BroadcastResponse]
	cancel  context.CancelFunc
	sendMu  sync.Mutex
	waiters chan chan *pb.BroadcastResponse
	broken  chan struct{}
	once    sync.Once
	err     error
}

// maxForwardInflight bounds envelopes sent and not yet answered on one
// forwarding stream.
const maxForwardInflight = 8192

func newForwardStream(conn *grpc.ClientConn, stream grpc.BidiStreamingClient[pb.Envelope, pb.BroadcastResponse], cancel context.CancelFunc) *forwardStream {
	fs := &forwardStream{
		conn: conn, stream: stream, cancel: cancel,
		waiters: make(chan chan *pb.BroadcastResponse, maxForwardInflight),
		broken:  make(chan struct{}),
	}
	go fs.receive()
	return fs
}

func (fs *forwardStream) receive() {
	for {
		resp, err := fs.stream.Recv()
		if err != nil {
			fs.fail(err)
			return
		}
		select {
		case w := <-fs.waiters:
			w <- resp
		default:
			fs.fail(errors.New("leader answered an envelope that was not sent"))
			return
		}
	}
}

func (fs *forwardStream) fail(err error) {
	fs.once.Do(func() {
		fs.err = err
		close(fs.broken)
		fs.cancel()
	})
}

func (fs *forwardStream) isBroken() bool {
	select {
	case <-fs.broken:
		return true
	default:
		return false
	}
}

// send forwards one checked envelope with the configuration sequence it
// was checked under (the leader trusts that check when its own sequence is
// the same) and waits for its answer. sent reports whether the envelope may
// have reached the leader.
func (fs *forwardStream) send(ctx context.Context, ce *checkedEnvelope, queued func()) (resp *pb.BroadcastResponse, sent bool, err error) {
	env := new(pb.Envelope)
	if err := protocol.Unmarshal(ce.Raw, env, 0); err != nil {
		return nil, false, err
	}
	seq := ce.ConfigSeq
	env.ForwardedConfigSequence = &seq
	w := make(chan *pb.BroadcastResponse, 1)
	fs.sendMu.Lock()
	if fs.isBroken() {
		fs.sendMu.Unlock()
		return nil, false, fs.err
	}
	select {
	case fs.waiters <- w:
	case <-ctx.Done():
		fs.sendMu.Unlock()
		return nil, false, ctx.Err()
	}
	err = fs.stream.Send(env)
	fs.sendMu.Unlock()
	queued()
	if err != nil {
		fs.fail(err)
		return nil, true, err
	}
	select {
	case resp := <-w:
		return resp, true, nil
	case <-fs.broken:
		// The answer may have arrived just before the stream broke.
		select {
		case resp := <-w:
			return resp, true, nil
		default:
		}
		return nil, true, fs.err
	case <-ctx.Done():
		return nil, true, ctx.Err()
	}
}

func (fs *forwardStream) close() {
	fs.fail(errors.New("forwarding stream closed"))
	fs.conn.Close()
}

// consenterTLS returns the TLS configuration for dialling consenter id: an
// orderer certificate that must be exactly the one the configuration lists.
func consenterTLS(base *tls.Config, id string, want []byte) *tls.Config {
	cfg := base.Clone()
	inner := base.VerifyConnection
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if inner != nil {
			if err := inner(cs); err != nil {
				return err
			}
		}
		if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, want) {
			return fmt.Errorf("tls: the server's certificate is not the configured certificate of consenter %s", id)
		}
		return nil
	}
	return cfg
}

// dialTimeout bounds dialling another orderer.
const dialTimeout = 5 * time.Second

func dialConsenterConn(ctx context.Context, base *tls.Config, addr, id string, cert []byte) (*grpc.ClientConn, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	return transport.Dial(ctx, addr, consenterTLS(base, id, cert), transport.WithMaxMessageSize(maxGRPCMessage))
}
