package peer

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"

	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/transport"
)

// Pulling tuning.
const (
	// minPullBackoff and maxPullBackoff bound the wait after every orderer
	// of the channel failed in turn; it doubles per round and resets once a
	// block is committed.
	minPullBackoff = 50 * time.Millisecond
	maxPullBackoff = 5 * time.Second
	// pullDialTimeout bounds connecting to one orderer.
	pullDialTimeout = 5 * time.Second
)

// puller keeps a channel's ledger up to date with the ordering service: it
// streams blocks from one of the channel's orderers (the consenters of the
// configuration in force) with Deliver and feeds them to the channel's
// intake, failing over to the next orderer when a stream breaks or an
// orderer sends a block the intake refuses.
type puller struct {
	ch        *Channel
	clientTLS *tls.Config // the peer's client TLS configuration
	log       *slog.Logger
	maxMsg    int
	metrics   *Metrics
}

// errReconnect ends a stream so that the puller re-reads the orderers of a
// new configuration.
var errReconnect = errors.New("configuration changed: reconnecting")

// run pulls until ctx ends or the channel halts.
func (p *puller) run(ctx context.Context) {
	backoff := minPullBackoff
	next := 0     // index of the next orderer to try, in configuration order
	failures := 0 // consecutive attempts that committed nothing
	for ctx.Err() == nil {
		consenters := p.ch.Config().Consenters()
		cs := consenters[next%len(consenters)]
		committed, err := p.pullFrom(ctx, cs)
		if ctx.Err() != nil {
			return
		}
		var fatal *errFatal
		if errors.As(err, &fatal) {
			return // the channel logged it and halted
		}
		if committed > 0 {
			failures, backoff = 0, minPullBackoff
		}
		if errors.Is(err, errReconnect) {
			continue
		}
		p.log.Warn("block pull from orderer failed; trying the next orderer", "orderer", cs.Id, "address", cs.Address, "height", p.ch.Height(), "error", err)
		next = (next + 1) % len(consenters)
		failures++
		if failures < len(consenters) {
			continue
		}
		// Every orderer failed in turn: wait before the next round.
		failures = 0
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		backoff = min(2*backoff, maxPullBackoff)
	}
}

// pullFrom streams blocks from one orderer, from the ledger's height on,
// into the channel until the stream breaks, a block is refused, a config
// block is committed (errReconnect) or ctx ends. It returns how many
// blocks it committed.
func (p *puller) pullFrom(ctx context.Context, cs *pb.Consenter) (int, error) {
	dctx, cancel := context.WithTimeout(ctx, pullDialTimeout)
	conn, err := transport.Dial(dctx, cs.Address, pinnedTLS(p.clientTLS, cs.Id, cs.CertDer), transport.WithMaxMessageSize(p.maxMsg))
	cancel()
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	p.learnNewest(ctx, conn)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := pb.NewAtomicBroadcastClient(conn).Deliver(sctx, &pb.DeliverRequest{
		ChannelId: p.ch.ID(),
		Start:     &pb.SeekPosition{Kind: &pb.SeekPosition_Specified{Specified: p.ch.Height()}},
	})
	if err != nil {
		return 0, err
	}
	committed := 0
	for {
		resp, err := stream.Recv()
		if err != nil {
			return committed, err
		}
		switch k := resp.Kind.(type) {
		case *pb.DeliverResponse_Block:
			p.ch.learnOrdererHeight(k.Block.GetHeader().GetNumber() + 1)
			start := time.Now()
			if err := p.ch.processBlock(k.Block); err != nil {
				return committed, err
			}
			p.metrics.observeBlock(p.ch.id, time.Since(start))
			committed++
			if p.ch.current().lastConfig == k.Block.GetHeader().GetNumber() {
				return committed, errReconnect
			}
		case *pb.DeliverResponse_Status:
			return committed, fmt.Errorf("orderer ended the stream: %s %s", k.Status, resp.Info)
		default:
			return committed, errors.New("orderer sent an empty Deliver response")
		}
	}
}

// learnNewest asks the orderer for its newest block, so that the channel
// knows the height to catch up to (readiness) before the stream delivers
// it. An orderer that does not answer within pullDialTimeout is left to
// the stream.
func (p *puller) learnNewest(ctx context.Context, conn grpc.ClientConnInterface) {
	ctx, cancel := context.WithTimeout(ctx, pullDialTimeout)
	defer cancel()
	newest := &pb.SeekPosition{Kind: &pb.SeekPosition_Newest{Newest: true}}
	stream, err := pb.NewAtomicBroadcastClient(conn).Deliver(ctx, &pb.DeliverRequest{
		ChannelId: p.ch.ID(), Start: newest, Stop: newest, Behavior: pb.DeliverRequest_FAIL_IF_NOT_READY,
	})
	if err != nil {
		return
	}
	resp, err := stream.Recv()
	if err != nil {
		p.log.Debug("the orderer did not tell its height", "error", err)
		return
	}
	if b := resp.GetBlock(); b != nil {
		p.ch.learnOrdererHeight(b.GetHeader().GetNumber() + 1)
	}
}

// pinnedTLS returns a copy of base (a transport.ClientTLSConfig accepting
// orderers) that also requires the server to present exactly the
// certificate the channel configuration lists for consenter id.
func pinnedTLS(base *tls.Config, id string, want []byte) *tls.Config {
	cfg := base.Clone()
	inner := base.VerifyConnection
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if inner != nil {
			if err := inner(cs); err != nil {
				return err
			}
		}
		if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, want) {
			return fmt.Errorf("tls: the server's certificate is not the configured certificate of orderer %s", id)
		}
		return nil
	}
	return cfg
}
