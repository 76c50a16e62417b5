package peer

import (
	"context"
	"errors"
	"time"

	"github.com/blossom-ledger/blossom/internal/ledger"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// DefaultReconcileInterval is how often a peer retries pulling the
// private data it misses.
const DefaultReconcileInterval = 10 * time.Second

// runReconciler pulls missing private data after each commit and every
// ReconcileInterval until ctx ends.
func (n *Node) runReconciler(ctx context.Context, ch *Channel) {
	ticker := time.NewTicker(n.cfg.ReconcileInterval)
	defer ticker.Stop()
	for {
		changed := ch.ledger.Changed()
		n.reconcileOnce(ctx, ch)
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-ticker.C:
		}
	}
}

// reconcileOnce asks the peers of each missing collection's members (this
// peer excepted) for up to MaxPullDigests missing items and stores what
// matches the block hashes (the ledger checks).
func (n *Node) reconcileOnce(ctx context.Context, ch *Channel) {
	missing, err := ch.ledger.MissingPrivateData(MaxPullDigests)
	if err != nil {
		ch.log.Warn("reconcile: list missing private data", "err", err)
		return
	}
	if len(missing) == 0 {
		return
	}
	st := ch.current()
	self := ""
	if n.ln != nil {
		self = n.ln.Addr().String()
	}
	// Group the digests by member of their collection (an explicit
	// collection's digest goes to each of its members).
	view := ch.collections(st.validator.Members)
	byOwner := map[string][]ledger.MissingPrivateData{}
	for _, m := range missing {
		members, _, _ := view.membersOf(m.Namespace, m.Collection)
		for _, owner := range members {
			byOwner[owner] = append(byOwner[owner], m)
		}
	}
	for owner, items := range byOwner {
		req := &pb.PrivateDataPullRequest{ChannelId: ch.ID()}
		for _, m := range items {
			req.Digests = append(req.Digests, &pb.PrivateDataDigest{Block: m.Block, Tx: m.Tx, Namespace: m.Namespace, Collection: m.Collection})
		}
		for _, ep := range st.cc.GetMembers()[owner].GetPeerEndpoints() {
			if ep == self || ctx.Err() != nil {
				continue
			}
			got := n.pullFrom(ctx, ch, ep, req)
			if got == 0 {
				continue
			}
			if rest, err := ch.ledger.MissingPrivateData(MaxPullDigests); err != nil || len(rest) == 0 {
				return
			}
		}
	}
}

// pullFrom pulls req from the peer at endpoint and reconciles each element;
// it returns how many were stored.
func (n *Node) pullFrom(ctx context.Context, ch *Channel, endpoint string, req *pb.PrivateDataPullRequest) int {
	cctx, cancel := context.WithTimeout(ctx, pushTimeout)
	defer cancel()
	conn, err := n.peerConns.get(cctx, endpoint, n.peerTLS, n.trust.Manager())
	if err != nil {
		ch.log.Debug("reconcile: dial failed", "endpoint", endpoint, "err", err)
		return 0
	}
	resp, err := pb.NewPrivateDataClient(conn).Pull(cctx, req)
	if err != nil {
		n.peerConns.failed(endpoint, conn, err)
		ch.log.Debug("reconcile: pull refused", "endpoint", endpoint, "err", err)
		return 0
	}
	stored := 0
	for _, e := range resp.GetElements() {
		d := e.GetDigest()
		m := ledger.MissingPrivateData{Block: d.GetBlock(), Tx: d.GetTx(), Namespace: d.GetNamespace(), Collection: d.GetCollection()}
		if err := ch.ledger.ReconcilePrivateData(m, e.GetData()); err != nil {
			if !errors.Is(err, ledger.ErrNotFound) {
				ch.log.Warn("reconcile: private data refused", "endpoint", endpoint, "block", m.Block, "tx", m.Tx, "collection", m.Collection, "err", err)
			}
			continue
		}
		stored++
	}
	if stored > 0 {
		ch.log.Info("reconciled private data", "endpoint", endpoint, "items", stored)
	}
	return stored
}
