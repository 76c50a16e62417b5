package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/txn"
)

// ChaincodeError is a chaincode's refusal of a proposal (a response status
// of 400 or more). Message is the chaincode's message verbatim.
type ChaincodeError struct {
	Peer    string
	Status  int32
	Message string
}

func (e *ChaincodeError) Error() string {
	return fmt.Sprintf("chaincode refused on peer %s (status %d): %s", e.Peer, e.Status, e.Message)
}

// PeerError is a peer's refusal to endorse or evaluate a proposal (Err
// carries the gRPC status: codes.Unavailable with "PEER_BEHIND: ..." when
// the peer is behind the proposal's min height, FailedPrecondition with
// "PRIVATE_DATA_NOT_HELD(collection)", ...), or a failure to reach it
// (Unreachable, Err the dial error).
type PeerError struct {
	Peer string
	Err  error
	// Unreachable is set when no connection to the peer could be made.
	Unreachable bool
}

func (e *PeerError) Error() string { return fmt.Sprintf("peer %s: %v", e.Peer, e.Err) }
func (e *PeerError) Unwrap() error { return e.Err }

// ErrMismatch is wrapped by the error of a submission whose endorsing
// peers returned different results (different state, or a chaincode that
// is not deterministic).
var ErrMismatch = txn.ErrMismatch

// BroadcastError is the ordering service's refusal of an envelope.
type BroadcastError struct {
	Orderer string
	Status  pb.Status
	Info    string
}

func (e *BroadcastError) Error() string {
	return fmt.Sprintf("orderer %s refused the transaction: %s: %s", e.Orderer, e.Status, e.Info)
}

// InvalidTxError reports a transaction that was ordered and committed but
// marked invalid (Submit returns it with the result).
type InvalidTxError struct {
	TxID  string
	Code  pb.TxValidationCode
	Block uint64
}

func (e *InvalidTxError) Error() string {
	return fmt.Sprintf("transaction %s committed in block %d as %s", e.TxID, e.Block, e.Code)
}

// SubmitResult is the outcome of a submitted transaction.
type SubmitResult struct {
	TxID  string
	Code  pb.TxValidationCode // VALID, or why the peers invalidated it
	Block uint64
	// Result is the chaincode's response payload from the endorsement.
	Result []byte
}

// NewProposal builds and signs a proposal for req with the client's
// signer (req.ChannelID "" = the configured channel). Its min_height is
// at least the height after the last block this client saw one of its
// transactions commit in, so every endorser simulates on state that
// includes the caller's earlier writes.
func (c *Client) NewProposal(req txn.Request) (*txn.Proposal, error) {
	req.ChannelID = c.channel(req.ChannelID)
	req.MinHeight = max(req.MinHeight, c.seenHeight(req.ChannelID))
	return txn.NewProposal(c.cfg.Signer, req)
}

// Evaluate runs req on a peer without submitting it and returns the
// chaincode's payload: on the first of peers that answers (none: the own
// peer), moving to the next only when a peer is unreachable or behind. A
// chaincode refusal is a *ChaincodeError.
func (c *Client) Evaluate(ctx context.Context, req txn.Request, peers ...string) ([]byte, error) {
	if len(peers) == 0 {
		peers = []string{c.LocalPeer()}
	}
	prop, err := c.NewProposal(req)
	if err != nil {
		return nil, err
	}
	var last error
	for _, p := range peers {
		resp, err := c.process(ctx, p, prop)
		if err != nil {
			last = err
			if retryableOnAnotherPeer(err) && ctx.Err() == nil {
				continue
			}
			return nil, err
		}
		if r := resp.GetResponse(); r.GetStatus() >= 400 {
			return nil, &ChaincodeError{Peer: p, Status: r.GetStatus(), Message: r.GetMessage()}
		}
		return resp.GetResponse().GetPayload(), nil
	}
	return nil, last
}

// retryableOnAnotherPeer: the peer is unreachable, unavailable or behind
// (PEER_BEHIND), or lacks a private data collection.
func retryableOnAnotherPeer(err error) bool {
	var pe *PeerError
	if !errors.As(err, &pe) {
		return false
	}
	if pe.Unreachable {
		return !errors.Is(pe.Err, ErrClosed)
	}
	switch status.Code(pe.Err) {
	case codes.Unavailable, codes.FailedPrecondition:
		return true
	}
	return false
}

// process sends a proposal to one peer.
func (c *Client) process(ctx context.Context, peer string, prop *txn.Proposal) (*pb.ProposalResponse, error) {
	conn, err := c.peerConn(ctx, peer)
	if err != nil {
		return nil, &PeerError{Peer: peer, Err: err, Unreachable: true}
	}
	resp, err := pb.NewEndorserClient(conn).ProcessProposal(ctx, prop.Signed)
	if err != nil {
		return nil, &PeerError{Peer: peer, Err: err}
	}
	return resp, nil
}

// Endorse sends prop to peers in parallel and returns their responses in
// the order of peers. It fails if a peer could not be reached or refused
// the proposal (*PeerError), if a chaincode refused it (*ChaincodeError,
// the first in peer order), or if the responses differ (ErrMismatch).
func (c *Client) Endorse(ctx context.Context, prop *txn.Proposal, peers []string) ([]*pb.ProposalResponse, error) {
	if len(peers) == 0 {
		return nil, errors.New("no endorsing peer")
	}
	responses := make([]*pb.ProposalResponse, len(peers))
	errs := make([]error, len(peers))
	var wg sync.WaitGroup
	for i, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			responses[i], errs[i] = c.process(ctx, p, prop)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, err
		}
		if r := responses[i].GetResponse(); r.GetStatus() >= 400 {
			return nil, &ChaincodeError{Peer: peers[i], Status: r.GetStatus(), Message: r.GetMessage()}
		}
		if responses[i].GetEndorsement() == nil {
			return nil, &PeerError{Peer: peers[i], Err: errors.New("response carries no endorsement")}
		}
	}
	for i := 1; i < len(responses); i++ {
		if !bytes.Equal(responses[i].Payload, responses[0].Payload) {
			return nil, fmt.Errorf("%w (%s and %s)", ErrMismatch, peers[0], peers[i])
		}
	}
	return responses, nil
}

// Submit runs the whole transaction path for req: proposal, endorsement
// by endorsingPeers in parallel (none: the own peer), assembly, broadcast,
// and the wait for the commit on the commit peers (Config.CommitPeers).
// A transaction committed invalid returns its result together with an
// *InvalidTxError; refusals before ordering return no result.
func (c *Client) Submit(ctx context.Context, req txn.Request, endorsingPeers []string) (*SubmitResult, error) {
	if len(endorsingPeers) == 0 {
		endorsingPeers = []string{c.LocalPeer()}
	}
	prop, err := c.NewProposal(req)
	if err != nil {
		return nil, err
	}
	responses, err := c.Endorse(ctx, prop, endorsingPeers)
	if err != nil {
		return nil, err
	}
	env, err := txn.Assemble(c.cfg.Signer, prop, responses)
	if err != nil {
		return nil, err
	}
	if err := c.Broadcast(ctx, env); err != nil {
		return nil, err
	}
	res, err := c.WaitForCommit(ctx, req.ChannelID, prop.TxID)
	if res != nil {
		res.Result = responses[0].GetResponse().GetPayload()
	}
	return res, err
}

// Broadcast sends a marshalled envelope to the ordering service and
// returns once it is ordered: it tries the orderers in turn (starting with
// a different one each call) while they are unreachable or unavailable (a
// leader election), waiting between rounds (50 ms doubling to 1 s, at most
// broadcastRounds rounds or until ctx ends). An orderer answering
// OVERLOADED (it holds its bound of envelopes not yet ordered) ends the
// round at once: the others feed the same leader, so the client pauses.
// An envelope refused as already ordered after an earlier attempt of the
// same call may have reached an orderer counts as ordered; otherwise the
// refusal is a *BroadcastError.
func (c *Client) Broadcast(ctx context.Context, envelope []byte) error {
	orderers := c.cfg.Orderers
	if len(orderers) == 0 {
		return errors.New("client: no orderer configured")
	}
	env := new(pb.Envelope)
	if err := protocol.Unmarshal(envelope, env, 0); err != nil {
		return err
	}
	// The orderer judges the envelope; the client only needs its
	// transaction ID (if it has one) to match the answer.
	txID, _ := protocol.PayloadTxID(env.Payload)
	first := int(c.nextOrderer.Add(1))
	uncertain := false // an earlier attempt may have been ordered
	var last error
	backoff := 50 * time.Millisecond
	for round := 0; round < broadcastRounds; round++ {
	tryOrderers:
		for k := range orderers {
			o := orderers[(first+k)%len(orderers)]
			resp, sent, err := c.broadcastOnce(ctx, o, env, txID)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				uncertain = uncertain || sent
				last = fmt.Errorf("orderer %s: %w", o.name(), err)
				continue
			}
			next, mayBeOrdered, err := judgeBroadcast(o.name(), resp, uncertain)
			uncertain = uncertain || mayBeOrdered
			switch next {
			case broadcastDone:
				return err
			case broadcastPause:
				last = err
				break tryOrderers
			default:
				last = err
			}
		}
		if round == broadcastRounds-1 {
			break
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		backoff = min(2*backoff, time.Second)
	}
	return fmt.Errorf("broadcast failed on every orderer: %w", last)
}

// broadcastNext is what Broadcast does after an orderer's answer.
type broadcastNext int

const (
	broadcastDone    broadcastNext = iota // return the error (nil: ordered)
	broadcastTryNext                      // try the round's next orderer
	broadcastPause                        // end the round and back off
)

// judgeBroadcast reads orderer o's answer to one attempt; uncertain says
// an earlier attempt of the same envelope may have been ordered. It returns
// what to do next, whether this attempt may have been ordered, and the
// error to return (broadcastDone) or to remember.
//
//   - SUCCESS: done; CONFLICT DUPLICATE_TXID after an uncertain attempt:
//     done (ordered earlier); other refusals: done with a *BroadcastError.
//   - SERVICE_UNAVAILABLE OVERLOADED: not ordered; pause (every orderer
//     feeds the same leader, so trying the others at once only adds load).
//   - other SERVICE_UNAVAILABLE (no leader, outcome unknown): try the next
//     orderer, counting the attempt as possibly ordered.
func judgeBroadcast(o string, resp *pb.BroadcastResponse, uncertain bool) (next broadcastNext, mayBeOrdered bool, err error) {
	be := &BroadcastError{Orderer: o, Status: resp.Status, Info: resp.Info}
	switch resp.Status {
	case pb.Status_SUCCESS:
		return broadcastDone, true, nil
	case pb.Status_CONFLICT:
		if uncertain && strings.Contains(resp.Info, "DUPLICATE_TXID") {
			return broadcastDone, false, nil
		}
	case pb.Status_SERVICE_UNAVAILABLE:
		if strings.HasPrefix(resp.Info, reasonOverloaded) {
			return broadcastPause, false, be
		}
		return broadcastTryNext, true, be
	}
	return broadcastDone, false, be
}

// reasonOverloaded prefixes the answer of an orderer that holds its bound of
// envelopes not yet ordered (orderer.ReasonOverloaded).
const reasonOverloaded = "OVERLOADED"

// broadcastRounds bounds how many times Broadcast tries every orderer:
// about 7 s of waiting in all, longer than a Raft leader election.
const broadcastRounds = 10

// broadcastOnce sends env (transaction txID) to one orderer on the
// client's stream to it and reads its answer. sent reports whether the
// envelope may have reached the orderer.
func (c *Client) broadcastOnce(ctx context.Context, o Endpoint, env *pb.Envelope, txID string) (resp *pb.BroadcastResponse, sent bool, err error) {
	conn, err := c.ordererConn(ctx, o)
	if err != nil {
		return nil, false, err
	}
	return c.broadcastStream(o.name()).send(ctx, conn, env, txID)
}

// WaitForCommit waits until transaction txID of channel ("" = the
// configured channel) is committed on peers (none: Config.CommitPeers, or
// the own peer) and returns its code and block.
// Peers that disagree on either are an error. A transaction committed
// invalid returns the result and an *InvalidTxError.
func (c *Client) WaitForCommit(ctx context.Context, channel, txID string, peers ...string) (*SubmitResult, error) {
	channel = c.channel(channel)
	if len(peers) == 0 {
		peers = c.cfg.CommitPeers
	}
	if len(peers) == 0 {
		peers = []string{c.LocalPeer()}
	}
	statuses := make([]*pb.CommitStatusResponse, len(peers))
	errs := make([]error, len(peers))
	var wg sync.WaitGroup
	for i, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := c.peerConn(ctx, p)
			if err != nil {
				errs[i] = &PeerError{Peer: p, Err: err}
				return
			}
			statuses[i], err = pb.NewPeerClient(conn).CommitStatus(ctx, &pb.CommitStatusRequest{ChannelId: channel, TxId: txID})
			if err != nil {
				errs[i] = &PeerError{Peer: p, Err: fmt.Errorf("commit status of %s: %w", txID, err)}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	res := &SubmitResult{TxID: txID, Code: statuses[0].Code, Block: statuses[0].Block}
	for i, s := range statuses[1:] {
		if s.Code != res.Code || s.Block != res.Block {
			return nil, fmt.Errorf("peers disagree on transaction %s: %s has %s in block %d, %s has %s in block %d",
				txID, peers[0], res.Code, res.Block, peers[i+1], s.Code, s.Block)
		}
	}
	c.observeHeight(channel, res.Block+1)
	if res.Code != pb.TxValidationCode_VALID {
		return res, &InvalidTxError{TxID: txID, Code: res.Code, Block: res.Block}
	}
	return res, nil
}
