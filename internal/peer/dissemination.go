package peer

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/transport"
)

const (
	// pushTimeout bounds pushing one transaction's private data to one peer.
	pushTimeout = 5 * time.Second
	// MaxPullDigests bounds the digests of one Pull request.
	MaxPullDigests = 100
	// maxPullBytes bounds the private data one Pull answer carries; the
	// caller asks again for the rest.
	maxPullBytes = maxBlockMessage / 2
)

// privateDataService implements pb.PrivateDataServer: it receives private
// read/write sets pushed by endorsing peers and serves committed private
// data to reconciling peers of the collections' members.
type privateDataService struct {
	pb.UnimplementedPrivateDataServer
	node *Node
}

// Push keeps, in the transient store, the collections of the pushed set
// whose members include this peer's member. The caller must be a peer of a
// channel member (its mutual-TLS certificate, valid now); a push that
// holds no collection of this peer's member is refused and stores
// nothing, so a non-member peer never keeps another member's values.
func (s *privateDataService) Push(ctx context.Context, req *pb.PrivateDataPushRequest) (*pb.PrivateDataPushResponse, error) {
	ch, ok := s.node.Channel(req.GetChannelId())
	if !ok {
		return nil, status.Errorf(codes.NotFound, "channel %q is not joined by this peer", req.GetChannelId())
	}
	if txID := req.GetTxId(); txID == "" || len(txID) > maxTxIDLength {
		return nil, status.Errorf(codes.InvalidArgument, "transaction ID must be 1 to %d bytes", maxTxIDLength)
	}
	st := ch.current()
	if _, err := peerCaller(ctx, ch, st); err != nil {
		return nil, err
	}
	kept := filterCollections(req.GetPvtRwset(), ch.memberOf(st.validator.Members))
	if kept == nil {
		return nil, status.Errorf(codes.PermissionDenied, "member %s of this peer belongs to none of the pushed collections", ch.self)
	}
	if err := ch.transient.Put(req.TxId, ch.Height(), kept); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%v", err)
	}
	n := 0
	for _, ns := range kept.NsPvtRwsets {
		n += len(ns.CollectionPvtRwsets)
	}
	return &pb.PrivateDataPushResponse{Accepted: uint32(n)}, nil
}

// peerCaller returns the call's mutual-TLS identity if it is a peer of a
// member of the channel, valid now.
func peerCaller(ctx context.Context, ch *Channel, st *channelState) (*identity.Identity, error) {
	caller, ok := transport.IdentityFromContext(ctx)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "a client certificate is required")
	}
	id, err := st.config.Manager().Validate(caller.MSPID(), caller.Certificate().Raw, identity.Roles(pki.RolePeer), time.Now())
	if err != nil {
		return nil, status.Errorf(codes.PermissionDenied, "private data may only be exchanged with a peer of a member of channel %s", ch.ID())
	}
	return id, nil
}

// Pull answers the committed private data this peer holds for the
// digests whose collection the caller's member belongs to; the others are
// left out of the answer (as is data this peer does not hold).
func (s *privateDataService) Pull(ctx context.Context, req *pb.PrivateDataPullRequest) (*pb.PrivateDataPullResponse, error) {
	ch, ok := s.node.Channel(req.GetChannelId())
	if !ok {
		return nil, status.Errorf(codes.NotFound, "channel %q is not joined by this peer", req.GetChannelId())
	}
	if len(req.GetDigests()) > MaxPullDigests {
		return nil, status.Errorf(codes.InvalidArgument, "%d digests (at most %d)", len(req.GetDigests()), MaxPullDigests)
	}
	st := ch.current()
	caller, err := peerCaller(ctx, ch, st)
	if err != nil {
		return nil, err
	}
	resp := &pb.PrivateDataPullResponse{}
	size := 0
	view := ch.collections(st.validator.Members)
	for _, d := range req.GetDigests() {
		if !view.holds(caller.MSPID(), d.GetNamespace(), d.GetCollection()) {
			continue
		}
		data, err := ch.ledger.PrivateDataOf(d.GetBlock(), d.GetTx(), d.GetNamespace(), d.GetCollection())
		if err != nil {
			return nil, status.Errorf(codes.Internal, "ledger: %v", err)
		}
		if data == nil {
			continue
		}
		if size += proto.Size(data); size > maxPullBytes && len(resp.Elements) > 0 {
			break
		}
		resp.Elements = append(resp.Elements, &pb.PrivateDataElement{Digest: d, Data: data})
	}
	return resp, nil
}

// filterCollections returns the collections of set for which keep holds,
// or nil if there are none.
func filterCollections(set *pb.TxPvtReadWriteSet, keep func(ns, coll string) bool) *pb.TxPvtReadWriteSet {
	var out *pb.TxPvtReadWriteSet
	for _, ns := range set.GetNsPvtRwsets() {
		var nsOut *pb.NsPvtReadWriteSet
		for _, coll := range ns.GetCollectionPvtRwsets() {
			if !keep(ns.GetNamespace(), coll.GetCollection()) {
				continue
			}
			if nsOut == nil {
				nsOut = &pb.NsPvtReadWriteSet{Namespace: ns.GetNamespace()}
				if out == nil {
					out = &pb.TxPvtReadWriteSet{}
				}
				out.NsPvtRwsets = append(out.NsPvtRwsets, nsOut)
			}
			nsOut.CollectionPvtRwsets = append(nsOut.CollectionPvtRwsets, coll)
		}
	}
	return out
}

// collKey names a collection of a chaincode.
type collKey struct{ ns, coll string }

// disseminate pushes each collection of an endorsed transaction's private
// writes to peers (channel config peer_endpoints) of that collection's
// members, this peer excepted: every such peer for an implicit
// collection; for an explicit collection at most its maxPeerCount peers
// (in endpoint order). When an explicit collection has a requiredPeerCount,
// disseminate waits for the pushes and fails unless that many peers
// accepted the collection, so the endorsement is not returned; otherwise
// the pushes run in the background, best effort (a peer that misses the
// data records it missing at commit and reconciles it).
func (n *Node) disseminate(ch *Channel, txID string, set *pb.TxPvtReadWriteSet) error {
	st := ch.current()
	view := ch.collections(st.validator.Members)
	self := ""
	if n.ln != nil {
		self = n.ln.Addr().String()
	}
	byEndpoint := map[string]map[collKey]bool{}
	required := map[collKey]int{}
	for _, ns := range set.GetNsPvtRwsets() {
		for _, c := range ns.GetCollectionPvtRwsets() {
			key := collKey{ns.GetNamespace(), c.GetCollection()}
			members, explicit, ok := view.membersOf(key.ns, key.coll)
			if !ok {
				continue
			}
			var targets []string
			for _, msp := range members {
				for _, ep := range st.cc.GetMembers()[msp].GetPeerEndpoints() {
					if ep != self && !slices.Contains(targets, ep) {
						targets = append(targets, ep)
					}
				}
			}
			if explicit != nil {
				slices.Sort(targets)
				targets = targets[:min(len(targets), int(explicit.MaxPeerCount))]
				if explicit.RequiredPeerCount > 0 {
					required[key] = int(explicit.RequiredPeerCount)
				}
			}
			for _, ep := range targets {
				if byEndpoint[ep] == nil {
					byEndpoint[ep] = map[collKey]bool{}
				}
				byEndpoint[ep][key] = true
			}
		}
	}
	var mu sync.Mutex
	accepted := map[collKey]int{}
	var wg sync.WaitGroup
	for ep, colls := range byEndpoint {
		part := filterCollections(set, func(ns, coll string) bool { return colls[collKey{ns, coll}] })
		n.wg.Add(1)
		wg.Add(1)
		go func() {
			defer n.wg.Done()
			defer wg.Done()
			if n.pushTo(ch, ep, &pb.PrivateDataPushRequest{ChannelId: ch.ID(), TxId: txID, PvtRwset: part}) {
				mu.Lock()
				for k := range colls {
					accepted[k]++
				}
				mu.Unlock()
			}
		}()
	}
	if len(required) == 0 {
		return nil
	}
	wg.Wait()
	for k, need := range required {
		if accepted[k] < need {
			return fmt.Errorf("private data of collection %s of %s reached %d peers, its requiredPeerCount is %d", k.coll, k.ns, accepted[k], need)
		}
	}
	return nil
}

// pushTo pushes one request to the peer at endpoint and reports whether
// the peer accepted it.
func (n *Node) pushTo(ch *Channel, endpoint string, req *pb.PrivateDataPushRequest) bool {
	ctx, cancel := context.WithTimeout(n.ctx, pushTimeout)
	defer cancel()
	conn, err := n.peerConns.get(ctx, endpoint, n.peerTLS, n.trust.Manager())
	if err != nil {
		ch.log.Warn("private data push: dial failed", "endpoint", endpoint, "tx_id", req.TxId, "err", err)
		return false
	}
	if _, err := pb.NewPrivateDataClient(conn).Push(ctx, req); err != nil {
		n.peerConns.failed(endpoint, conn, err)
		ch.log.Warn("private data push refused", "endpoint", endpoint, "tx_id", req.TxId, "err", err)
		return false
	}
	return true
}
