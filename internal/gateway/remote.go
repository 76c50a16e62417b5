package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/txn"
)

// Remote calls a gateway's client-signed routes: it builds and signs
// proposals and envelopes locally with Signer, so the gateway never sees
// the key. HTTP must present the signer's certificate as its TLS client
// certificate (the gateway refuses proposals of another creator).
type Remote struct {
	URL    string // https://host:port
	HTTP   *http.Client
	Signer identity.Signer
}

// RemoteError is a gateway's error answer.
type RemoteError struct {
	Status  int
	Code    string
	Message string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("gateway: %d %s: %s", e.Status, e.Code, e.Message)
}

// maxAnswer bounds a gateway answer read by Remote.
const maxAnswer = 64 << 20

func (r *Remote) post(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(data, &e) != nil || e.Error.Code == "" {
			return &RemoteError{Status: resp.StatusCode, Code: "HTTP_ERROR", Message: http.StatusText(resp.StatusCode)}
		}
		return &RemoteError{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("gateway: malformed answer: %w", err)
	}
	return nil
}

func chaincodePath(channel, chaincode, op string) string {
	return "/api/v1/channels/" + url.PathEscape(channel) + "/chaincodes/" + url.PathEscape(chaincode) + "/" + op
}

// Evaluate runs req (ChannelID required) through the gateway without
// submitting it and returns the chaincode's payload.
func (r *Remote) Evaluate(ctx context.Context, req txn.Request, endorsingMembers []string) ([]byte, error) {
	prop, err := txn.NewProposal(r.Signer, req)
	if err != nil {
		return nil, err
	}
	sp, err := protocol.Marshal(prop.Signed)
	if err != nil {
		return nil, err
	}
	var out SignedEvaluateResponse
	if err := r.post(ctx, chaincodePath(req.ChannelID, req.Chaincode, "proposals/evaluate"),
		SignedProposalRequest{SignedProposal: sp, EndorsingMembers: endorsingMembers}, &out); err != nil {
		return nil, err
	}
	return out.Result, nil
}

// RemoteResult is the outcome of a submitted transaction: its validation
// code (VALID or why it was invalidated), block and the chaincode's
// payload.
type RemoteResult struct {
	TxID   string
	Status string
	Block  uint64
	Result []byte
}

// Submit endorses req through the gateway, assembles and signs the
// envelope, and has the gateway order it. It returns once the gateway's
// own peer (and the peers of commitMembers) committed it, whatever the
// validation code; refusals before ordering are a *RemoteError.
func (r *Remote) Submit(ctx context.Context, req txn.Request, endorsingMembers, commitMembers []string) (*RemoteResult, error) {
	prop, err := txn.NewProposal(r.Signer, req)
	if err != nil {
		return nil, err
	}
	sp, err := protocol.Marshal(prop.Signed)
	if err != nil {
		return nil, err
	}
	var endorsed EndorseResponse
	if err := r.post(ctx, chaincodePath(req.ChannelID, req.Chaincode, "proposals/endorse"),
		SignedProposalRequest{SignedProposal: sp, EndorsingMembers: endorsingMembers}, &endorsed); err != nil {
		return nil, err
	}
	if endorsed.TxID != prop.TxID || len(endorsed.ProposalResponses) == 0 || len(endorsed.ProposalResponses) > 64 {
		return nil, fmt.Errorf("gateway: endorsement answer for another transaction or without responses")
	}
	responses := make([]*pb.ProposalResponse, len(endorsed.ProposalResponses))
	for i, b := range endorsed.ProposalResponses {
		responses[i] = new(pb.ProposalResponse)
		if err := protocol.Unmarshal(b, responses[i], 0); err != nil {
			return nil, fmt.Errorf("gateway: malformed proposal response: %w", err)
		}
	}
	// Assemble checks that the responses match and are for this proposal.
	env, err := txn.Assemble(r.Signer, prop, responses)
	if err != nil {
		return nil, err
	}
	var committed SubmitResponse
	if err := r.post(ctx, "/api/v1/channels/"+url.PathEscape(req.ChannelID)+"/transactions",
		CommitRequest{Envelope: env, CommitMembers: commitMembers}, &committed); err != nil {
		return nil, err
	}
	if committed.TxID != prop.TxID {
		return nil, fmt.Errorf("gateway: commit answer for another transaction")
	}
	return &RemoteResult{TxID: committed.TxID, Status: committed.Status, Block: committed.Block,
		Result: responses[0].GetResponse().GetPayload()}, nil
}
