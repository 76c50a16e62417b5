package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/transport"
)

// maxBlockMessage bounds a delivered block (the channel's largest batch
// plus metadata).
const maxBlockMessage = 34 << 20

// watchers stream committed blocks from every peer into the tracker.
type watchers struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startWatchers opens a block stream on every peer from its current
// height; each reconnects (from the next block it has not seen) if its
// stream breaks, so a restarted peer is followed again.
func startWatchers(ctx context.Context, target Target, peers []string, t *tracker) (*watchers, error) {
	cfg := target.Members[0]
	tlsCfg := transport.ClientTLSConfig(cfg.TLSCertificate, cfg.Trust, pki.RolePeer)
	addr := map[string]string{}
	for _, p := range cfg.Peers {
		addr[p.Name] = p.Address
	}
	wctx, cancel := context.WithCancel(context.Background())
	w := &watchers{cancel: cancel}
	for i, name := range peers {
		a, ok := addr[name]
		if !ok {
			cancel()
			return nil, fmt.Errorf("bench: member 0 does not list peer %s", name)
		}
		dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
		conn, err := transport.Dial(dctx, a, tlsCfg)
		if err != nil {
			dcancel()
			cancel()
			return nil, fmt.Errorf("bench: dial peer %s: %w", name, err)
		}
		info, err := pb.NewPeerClient(conn).ChannelInfo(dctx, &pb.ChannelInfoRequest{ChannelId: cfg.ChannelID})
		dcancel()
		if err != nil {
			conn.Close()
			cancel()
			return nil, fmt.Errorf("bench: peer %s: channel info: %w", name, err)
		}
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			defer conn.Close()
			follow(wctx, conn, cfg.ChannelID, info.Height, i, t)
		}()
	}
	return w, nil
}

func (w *watchers) stop() {
	w.cancel()
	w.wg.Wait()
}

// follow streams filtered blocks (transaction IDs and validation codes)
// from next on, reconnecting until ctx ends.
func follow(ctx context.Context, conn *grpc.ClientConn, channel string, next uint64, peer int, t *tracker) {
	for ctx.Err() == nil {
		stream, err := pb.NewPeerClient(conn).Deliver(ctx, &pb.DeliverRequest{
			ChannelId: channel, Start: &pb.SeekPosition{Kind: &pb.SeekPosition_Specified{Specified: next}},
			Filtered: true,
		}, grpc.MaxCallRecvMsgSize(maxBlockMessage))
		for err == nil {
			var resp *pb.DeliverResponse
			if resp, err = stream.Recv(); err != nil {
				break
			}
			b := resp.GetFilteredBlock()
			if b == nil || b.GetNumber() != next {
				continue
			}
			now := time.Now()
			for _, tx := range b.GetTransactions() {
				t.commit(peer, tx.GetTxId(), tx.GetCode(), now)
			}
			next++
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond): // the peer is down or restarting
		}
	}
}
