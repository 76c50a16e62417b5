package peer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/blossom-ledger/blossom/internal/chaincode"
	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/ledger"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/txn"
)

// Endorser limits and defaults.
const (
	// DefaultMaxProposalBytes bounds a signed proposal (transient data
	// included); the gRPC server refuses larger messages before decoding.
	DefaultMaxProposalBytes = 4 << 20
	// DefaultMinHeightWait is how long a proposal waits for the ledger to
	// reach its min_height before PEER_BEHIND (DESIGN §11).
	DefaultMinHeightWait = 2 * time.Second
	// DefaultSimulationTimeout bounds one simulation.
	DefaultSimulationTimeout = 30 * time.Second
	// MaxTimestampSkew is how far a proposal's timestamp may be from the
	// peer's clock (DESIGN §11).
	MaxTimestampSkew = protocol.MaxTimestampSkewSeconds * time.Second
)

// Codes that lead the message of an endorsement refusal, for callers to
// act on (the gateway re-routes or retries on them).
const (
	// CodePeerBehind: the ledger did not reach the proposal's min_height
	// in time (gRPC Unavailable).
	CodePeerBehind = "PEER_BEHIND"
	// CodeDuplicateTxID: the proposal's transaction is already committed
	// (gRPC AlreadyExists).
	CodeDuplicateTxID = "DUPLICATE_TXID"
	// CodePrivateDataMissing: this peer's member belongs to the collection
	// but the peer has not yet received or reconciled the private value
	// the simulation read (gRPC Unavailable; retry later or elsewhere).
	CodePrivateDataMissing = "PRIVATE_DATA_MISSING"
	// CodePrivateDataDissemination: fewer peers than an explicit
	// collection's requiredPeerCount accepted the private data (gRPC
	// Unavailable); nothing is endorsed.
	CodePrivateDataDissemination = "PRIVATE_DATA_DISSEMINATION"
	// CodeMemberOnly: the creator's member is not a member of an explicit
	// collection with memberOnlyRead or memberOnlyWrite the transaction
	// reads or writes (gRPC PermissionDenied).
	CodeMemberOnly = "MEMBER_ONLY"
)

// endorser implements pb.EndorserServer for a node.
type endorser struct {
	pb.UnimplementedEndorserServer
	node *Node
}

func (e *endorser) ProcessProposal(ctx context.Context, sp *pb.SignedProposal) (*pb.ProposalResponse, error) {
	start := time.Now()
	resp, err := e.node.processProposal(ctx, sp)
	e.node.cfg.Metrics.observeProposal(err == nil && resp.GetResponse().GetStatus() < 400, time.Since(start))
	return resp, err
}

// processProposal endorses (or evaluates: it is the same call) a signed
// proposal. Refusals of the proposal itself are gRPC errors with a status
// code and a message safe to show the caller; a chaincode that refuses is
// a ProposalResponse with its status (>= 400) and message verbatim and no
// endorsement.
func (n *Node) processProposal(ctx context.Context, sp *pb.SignedProposal) (*pb.ProposalResponse, error) {
	if size := len(sp.GetProposal()) + len(sp.GetSignature()); size > n.cfg.MaxProposalBytes {
		return nil, status.Errorf(codes.ResourceExhausted, "proposal of %d bytes exceeds the limit of %d", size, n.cfg.MaxProposalBytes)
	}
	prop, hdr, inv, err := txn.ParseSignedProposal(sp)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "malformed proposal: %v", err)
	}
	ch, ok := n.Channel(hdr.ChannelId)
	if !ok {
		return nil, status.Errorf(codes.NotFound, "channel %q is not joined by this peer", hdr.ChannelId)
	}
	st := ch.current()
	now := time.Now()
	creator, err := protocol.ParseSerializedIdentity(hdr.Creator)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "proposal creator: %v", err)
	}
	id, err := st.authorize(creator.MspId, creator.CertDer, channelconfig.PolicyWriters, now)
	if err != nil {
		return nil, status.Errorf(codes.PermissionDenied, "proposal creator: %v", err)
	}
	if err := n.sigChecks.Enter(ctx); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	err = id.Verify(sp.Proposal, sp.Signature)
	n.sigChecks.Leave()
	if err != nil {
		return nil, status.Errorf(codes.PermissionDenied, "proposal signature by %s does not verify", id)
	}
	ts := time.Unix(0, hdr.TimestampUnixNano)
	if skew := now.Sub(ts); skew > MaxTimestampSkew || skew < -MaxTimestampSkew {
		return nil, status.Errorf(codes.InvalidArgument, "proposal timestamp %s is more than %s from the peer's clock (%s)",
			ts.UTC().Format(time.RFC3339), MaxTimestampSkew, now.UTC().Format(time.RFC3339))
	}
	if err := checkInvocation(inv); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%v", err)
	}
	if hdr.MinHeight > ch.Height() {
		wctx, cancel := context.WithTimeout(ctx, n.cfg.MinHeightWait)
		h, err := ch.ledger.WaitForHeight(wctx, hdr.MinHeight)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil, status.FromContextError(ctx.Err()).Err()
			}
			return nil, status.Errorf(codes.Unavailable, "%s: height %d, the proposal needs %d", CodePeerBehind, h, hdr.MinHeight)
		}
	}
	if exists, err := ch.ledger.TxIDExists(hdr.TxId); err != nil {
		return nil, status.Errorf(codes.Internal, "ledger: %v", err)
	} else if exists {
		return nil, status.Errorf(codes.AlreadyExists, "%s: transaction %s is already committed", CodeDuplicateTxID, hdr.TxId)
	}

	select {
	case n.simulations <- struct{}{}:
		defer func() { <-n.simulations }()
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	snap, err := ch.ledger.NewSnapshot()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "ledger snapshot: %v", err)
	}
	defer snap.Close()
	reader := &snapshotReader{snap: snap, ledger: ch.ledger, self: n.mspID, members: st.validator.Members,
		collections: ch.collections(st.validator.Members), creator: id.MSPID()}
	// The chaincode definitions in force are those of the snapshot.
	rt := n.newTxRuntime(ch, st.validator.Members, snap)
	rc, err := rt.resolve(inv.Chaincode)
	if err != nil {
		var missing *PackageNotInstalledError
		switch {
		case errors.As(err, &missing):
			return nil, status.Error(codes.FailedPrecondition, missing.Error())
		case errors.Is(err, chaincode.ErrChaincodeNotFound):
			return nil, status.Errorf(codes.NotFound, "chaincode %q is not defined on channel %s", inv.Chaincode, ch.ID())
		}
		return nil, status.Errorf(codes.Internal, "chaincode %s: %v", inv.Chaincode, err)
	}
	sctx, cancel := context.WithTimeout(ctx, n.cfg.SimulationTimeout)
	defer cancel()
	res, err := chaincode.Simulate(sctx, rt, reader, &chaincode.Transaction{
		ChannelID:        hdr.ChannelId,
		TxID:             hdr.TxId,
		Timestamp:        ts,
		CreatorMSPID:     id.MSPID(),
		CreatorCert:      creator.CertDer,
		Transient:        prop.Transient,
		Invocation:       inv,
		DefinitionParams: rt.params,
		InitVersion:      rc.initVersion(),
	})
	if err != nil {
		return nil, simulationError(err, inv.Chaincode)
	}
	if res.Response.Status >= chaincode.StatusErrorThreshold {
		n.log.Debug("chaincode refused a proposal", "channel", ch.ID(), "chaincode", inv.Chaincode, "tx_id", hdr.TxId, "status", res.Response.Status)
		return &pb.ProposalResponse{Response: res.Response}, nil
	}
	if err := checkMemberOnlyWrites(reader.collections, id.MSPID(), res.PvtRWSet); err != nil {
		return nil, status.Error(codes.PermissionDenied, err.Error())
	}
	if res.PvtRWSet != nil && len(res.PvtRWSet.NsPvtRwsets) > 0 {
		// Durable before the endorsement is returned (DESIGN §11): the
		// peer moves it into its ledger when the transaction commits.
		if err := ch.transient.Put(hdr.TxId, ch.Height(), res.PvtRWSet); err != nil {
			return nil, status.Errorf(codes.Internal, "store private data: %v", err)
		}
		if n.ctx != nil {
			if err := n.disseminate(ch, hdr.TxId, res.PvtRWSet); err != nil {
				return nil, status.Errorf(codes.Unavailable, "%s: %v", CodePrivateDataDissemination, err)
			}
		}
	}
	resp, err := txn.Endorse(n.signer, protocol.ProposalHash(prop.Header, prop.Invocation), res.Response, res.RWSet, res.Events)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "endorse: %v", err)
	}
	return resp, nil
}

// checkMemberOnlyWrites refuses private writes by a creator of member
// creator into an explicit memberOnlyWrite collection it is not a member
// of.
func checkMemberOnlyWrites(v collectionView, creator string, set *pb.TxPvtReadWriteSet) error {
	for _, ns := range set.GetNsPvtRwsets() {
		for _, c := range ns.GetCollectionPvtRwsets() {
			members, explicit, ok := v.membersOf(ns.GetNamespace(), c.GetCollection())
			if ok && explicit != nil && explicit.MemberOnlyWrite && !slices.Contains(members, creator) && hasWrites(c) {
				return fmt.Errorf("%v: %s may not write collection %s of %s (memberOnlyWrite)", errMemberOnly, creator, c.GetCollection(), ns.GetNamespace())
			}
		}
	}
	return nil
}

func hasWrites(c *pb.CollectionPvtReadWriteSet) bool {
	return len(c.GetWrites()) > 0
}

// checkInvocation bounds an invocation before simulation, so that what
// the simulator still refuses afterwards is a failure of the peer.
func checkInvocation(inv *pb.ChaincodeInvocation) error {
	if err := chaincode.ValidateName(inv.Chaincode); err != nil {
		return fmt.Errorf("invocation: %w", err)
	}
	if len(inv.Function) > chaincode.MaxFunctionLength || !utf8.ValidString(inv.Function) {
		return fmt.Errorf("invocation: function name must be valid UTF-8 of at most %d bytes", chaincode.MaxFunctionLength)
	}
	if len(inv.Args) > chaincode.MaxArgs {
		return fmt.Errorf("invocation: %d arguments (at most %d)", len(inv.Args), chaincode.MaxArgs)
	}
	return nil
}

// simulationError maps a failed simulation to a gRPC status.
func simulationError(err error, cc string) error {
	var notHeld *chaincode.PrivateDataNotHeldError
	var missing *PackageNotInstalledError
	switch {
	case errors.Is(err, errMemberOnly):
		return status.Error(codes.PermissionDenied, err.Error())
	case errors.As(err, &notHeld):
		return status.Error(codes.FailedPrecondition, notHeld.Error())
	case errors.As(err, &missing):
		return status.Errorf(codes.FailedPrecondition, "chaincode %s calls a chaincode this peer cannot run: %v", cc, missing)
	case errors.Is(err, chaincode.ErrChaincodeNotFound):
		return status.Errorf(codes.NotFound, "chaincode %s calls a chaincode not defined on this peer: %v", cc, err)
	case errors.Is(err, ledger.ErrPrivateDataMissing):
		return status.Errorf(codes.Unavailable, "%s: %v", CodePrivateDataMissing, err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return status.FromContextError(err).Err()
	}
	return status.Errorf(codes.Internal, "simulation of %s failed: %v", cc, err)
}
