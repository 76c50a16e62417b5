package gateway

import (
	"bytes"
	"context"
	"net/http"

	"github.com/blossom-ledger/blossom/internal/gateway/auth"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/txn"
)

// SignedProposalRequest is the body of proposals/evaluate and
// proposals/endorse: a marshalled pb.SignedProposal (base64 in JSON)
// created and signed by the caller.
type SignedProposalRequest struct {
	SignedProposal   []byte   `json:"signedProposal"`
	EndorsingMembers []string `json:"endorsingMembers,omitempty"`
}

// SignedEvaluateResponse is the body of a proposals/evaluate answer.
type SignedEvaluateResponse struct {
	Result []byte `json:"result"` // base64
}

// EndorseResponse is the body of a proposals/endorse answer: the
// endorsers' marshalled pb.ProposalResponse messages, from which the
// caller assembles and signs the envelope (txn.Assemble).
type EndorseResponse struct {
	TxID              string   `json:"txId"`
	ProposalResponses [][]byte `json:"proposalResponses"` // base64 each
	Result            []byte   `json:"result"`            // base64
}

// CommitRequest is the body of POST /api/v1/channels/{channel}/transactions:
// a marshalled pb.Envelope signed by the caller.
type CommitRequest struct {
	Envelope []byte `json:"envelope"`
	// CommitMembers are further members (MSP IDs) whose peers must have
	// committed the transaction before the answer (the own peer always
	// must), so that a later call through any of them observes it.
	CommitMembers []string `json:"commitMembers,omitempty"`
}

// callerCertificate returns the DER certificate of a certificate caller,
// or writes the refusal.
func (g *Gateway) callerCertificate(w http.ResponseWriter, r *http.Request, a *audit) ([]byte, *auth.Principal, bool) {
	p, _ := auth.PrincipalFrom(r.Context())
	if p.Method != auth.MethodCertificate || p.Certificate == nil {
		g.fail(w, r, a, &apiError{http.StatusBadRequest, "CERTIFICATE_REQUIRED",
			"client-signed transactions need a client certificate on the connection"})
		return nil, nil, false
	}
	return p.Certificate.Raw, p, true
}

// checkCreator verifies that creator is the caller.
func checkCreator(creator []byte, mspID string, cert []byte) *apiError {
	id, err := protocol.ParseSerializedIdentity(creator)
	if err != nil || id.MspId != mspID || !bytes.Equal(id.CertDer, cert) {
		return &apiError{http.StatusForbidden, "CREATOR_MISMATCH", "the transaction's creator is not the authenticated client"}
	}
	return nil
}

// signedProposal decodes and checks a client-signed proposal and plans
// its peers (for an evaluation, every other peer follows as a fallback).
func (g *Gateway) signedProposal(w http.ResponseWriter, r *http.Request, a *audit, evaluate bool) (*txn.Proposal, []string, bool) {
	channel, chaincode, e := pathNames(r)
	a.channel, a.chaincode = channel, chaincode
	if e != nil {
		g.fail(w, r, a, e)
		return nil, nil, false
	}
	cert, p, ok := g.callerCertificate(w, r, a)
	if !ok {
		return nil, nil, false
	}
	var body SignedProposalRequest
	if e := decodeJSON(r, &body); e != nil {
		g.fail(w, r, a, e)
		return nil, nil, false
	}
	sp := new(pb.SignedProposal)
	if err := protocol.Unmarshal(body.SignedProposal, sp, 0); err != nil {
		g.fail(w, r, a, badRequest("signedProposal is not a signed proposal"))
		return nil, nil, false
	}
	prop, hdr, inv, err := txn.ParseSignedProposal(sp)
	if err != nil {
		g.fail(w, r, a, badRequest("signedProposal is malformed"))
		return nil, nil, false
	}
	a.function, a.txID = inv.Function, hdr.TxId
	if hdr.ChannelId != channel || inv.Chaincode != chaincode {
		g.fail(w, r, a, badRequest("the proposal is for another channel or chaincode than the path"))
		return nil, nil, false
	}
	if e := checkCreator(hdr.Creator, p.MSPID, cert); e != nil {
		g.fail(w, r, a, e)
		return nil, nil, false
	}
	if !g.cfg.Allow(p, channel, chaincode, inv.Function) {
		g.fail(w, r, a, &apiError{http.StatusForbidden, "FUNCTION_NOT_ALLOWED", "you may not call this function"})
		return nil, nil, false
	}
	if e := checkInvoke(&InvokeRequest{Function: inv.Function, EndorsingMembers: body.EndorsingMembers}); e != nil {
		g.fail(w, r, a, e)
		return nil, nil, false
	}
	peers, e := g.plan(r.Context(), channel, chaincode, body.EndorsingMembers)
	if e != nil {
		g.fail(w, r, a, e)
		return nil, nil, false
	}
	if evaluate && len(body.EndorsingMembers) == 0 {
		peers = g.evalPeers(peers)
	}
	return &txn.Proposal{
		Signed: sp, TxID: hdr.TxId, HeaderBytes: prop.Header, Invocation: prop.Invocation,
		ProposalHash: protocol.ProposalHash(prop.Header, prop.Invocation),
	}, peers, true
}

func (g *Gateway) signedEvaluate(w http.ResponseWriter, r *http.Request) {
	a := &audit{route: "proposals/evaluate"}
	prop, peers, ok := g.signedProposal(w, r, a, true)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.Timeout)
	defer cancel()
	payload, err := g.evaluateSigned(ctx, prop, peers)
	if err != nil {
		g.fail(w, r, a, mapError(err))
		return
	}
	g.logAudit(r, a, http.StatusOK, "OK")
	writeJSON(w, http.StatusOK, SignedEvaluateResponse{Result: payload})
}

func (g *Gateway) signedEndorse(w http.ResponseWriter, r *http.Request) {
	a := &audit{route: "proposals/endorse"}
	prop, peers, ok := g.signedProposal(w, r, a, false)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.Timeout)
	defer cancel()
	responses, err := g.endorseRouted(ctx, a.channel, prop, peers)
	if err != nil {
		g.fail(w, r, a, mapError(err))
		return
	}
	out := EndorseResponse{TxID: prop.TxID, Result: responses[0].GetResponse().GetPayload()}
	for _, resp := range responses {
		b, err := protocol.Marshal(resp)
		if err != nil {
			g.fail(w, r, a, &apiError{http.StatusInternalServerError, "INTERNAL", "could not encode a response"})
			return
		}
		out.ProposalResponses = append(out.ProposalResponses, b)
	}
	g.logAudit(r, a, http.StatusOK, "ENDORSED")
	writeJSON(w, http.StatusOK, out)
}

// signedCommit broadcasts a client-signed envelope and answers once the
// own peer committed it, with its validation code whatever it is (200):
// the caller decides what an invalid transaction means.
func (g *Gateway) signedCommit(w http.ResponseWriter, r *http.Request) {
	a := &audit{route: "transactions"}
	channel, _, e := pathNames(r)
	a.channel = channel
	if e != nil {
		g.fail(w, r, a, e)
		return
	}
	cert, p, ok := g.callerCertificate(w, r, a)
	if !ok {
		return
	}
	var body CommitRequest
	if e := decodeJSON(r, &body); e != nil {
		g.fail(w, r, a, e)
		return
	}
	_, payload, hdr, err := protocol.OpenEnvelope(body.Envelope, int(g.cfg.MaxBodyBytes))
	if err != nil || hdr.Type != pb.HeaderType_ENDORSER_TRANSACTION {
		g.fail(w, r, a, badRequest("envelope is not an endorser transaction"))
		return
	}
	a.txID = hdr.TxId
	etx := new(pb.EndorsedTransaction)
	inv := new(pb.ChaincodeInvocation)
	if protocol.Unmarshal(payload.Data, etx, 0) != nil || protocol.Unmarshal(etx.Invocation, inv, 0) != nil {
		g.fail(w, r, a, badRequest("envelope does not carry an endorsed invocation"))
		return
	}
	a.chaincode, a.function = inv.Chaincode, inv.Function
	if hdr.ChannelId != channel {
		g.fail(w, r, a, badRequest("the envelope is for another channel than the path"))
		return
	}
	if e := checkCreator(hdr.Creator, p.MSPID, cert); e != nil {
		g.fail(w, r, a, e)
		return
	}
	if !g.cfg.Allow(p, channel, inv.Chaincode, inv.Function) {
		g.fail(w, r, a, &apiError{http.StatusForbidden, "FUNCTION_NOT_ALLOWED", "you may not call this function"})
		return
	}
	waitOn := []string{g.cfg.Client.LocalPeer()}
	for _, m := range body.CommitMembers {
		peers := g.cfg.Members[m]
		if len(peers) == 0 || len(body.CommitMembers) > len(g.cfg.Members) {
			g.fail(w, r, a, badRequest("commitMembers names an unknown member"))
			return
		}
		for _, p := range peers {
			if p != waitOn[0] {
				waitOn = append(waitOn, p)
			}
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.Timeout)
	defer cancel()
	res, err := g.commit(ctx, channel, hdr.TxId, body.Envelope, waitOn...)
	if res == nil {
		g.fail(w, r, a, mapError(err))
		return
	}
	g.logAudit(r, a, http.StatusOK, res.Code.String())
	writeJSON(w, http.StatusOK, SubmitResponse{TxID: res.TxID, Status: res.Code.String(), Block: res.Block})
}
