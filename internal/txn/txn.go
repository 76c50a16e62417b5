// Package txn builds and signs the messages of a transaction's life:
// a client's signed proposal, an endorser's signed proposal response, and
// the envelope that carries the endorsed transaction to the orderer. The
// client SDK, the gateway, the endorser and tests share it so that every
// party builds these bytes one way.
package txn

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// Request is what a client asks a chaincode to do.
type Request struct {
	ChannelID string
	Chaincode string
	Function  string // "contract:Function"
	Args      [][]byte
	Transient map[string][]byte
	MinHeight uint64    // read-after-write: peers wait until this height
	Time      time.Time // zero: now
	// Init marks the call that initialises a chaincode whose definition
	// requires it (Fabric's --isInit).
	Init bool
}

// Proposal is a signed proposal with the pieces later steps need.
type Proposal struct {
	Signed       *pb.SignedProposal
	TxID         string
	HeaderBytes  []byte
	Invocation   []byte
	ProposalHash []byte
}

// NewProposal builds and signs a proposal as creator.
func NewProposal(creator identity.Signer, req Request) (*Proposal, error) {
	if req.ChannelID == "" || req.Chaincode == "" || req.Function == "" {
		return nil, errors.New("proposal needs a channel, a chaincode and a function")
	}
	nonce := make([]byte, protocol.NonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	creator = identity.Snapshot(creator) // one certificate and key, even across a rotation
	creatorBytes := protocol.SerializeIdentity(creator.MSPID(), creator.Certificate().Raw)
	ts := req.Time
	if ts.IsZero() {
		ts = time.Now()
	}
	txID := protocol.ComputeTxID(nonce, creatorBytes)
	header := protocol.MustMarshal(&pb.Header{
		Type:              pb.HeaderType_ENDORSER_TRANSACTION,
		ChannelId:         req.ChannelID,
		TxId:              txID,
		TimestampUnixNano: ts.UnixNano(),
		Creator:           creatorBytes,
		Nonce:             nonce,
		MinHeight:         req.MinHeight,
	})
	invocation := protocol.MustMarshal(&pb.ChaincodeInvocation{Chaincode: req.Chaincode, Function: req.Function, Args: req.Args, IsInit: req.Init})
	propBytes := protocol.MustMarshal(&pb.Proposal{Header: header, Invocation: invocation, Transient: req.Transient})
	sig, err := creator.Sign(propBytes)
	if err != nil {
		return nil, fmt.Errorf("sign proposal: %w", err)
	}
	return &Proposal{
		Signed:       &pb.SignedProposal{Proposal: propBytes, Signature: sig},
		TxID:         txID,
		HeaderBytes:  header,
		Invocation:   invocation,
		ProposalHash: protocol.ProposalHash(header, invocation),
	}, nil
}

// Endorse builds an endorser's signed response: the payload binds the
// proposal hash, the simulation results and events, and the response.
func Endorse(endorser identity.Signer, proposalHash []byte, resp *pb.Response, rwset *pb.TxReadWriteSet, events *pb.ChaincodeEvents) (*pb.ProposalResponse, error) {
	payload := protocol.MustMarshal(&pb.ProposalResponsePayload{
		ProposalHash: proposalHash,
		Results:      protocol.MustMarshal(rwset),
		Events:       protocol.MustMarshal(events),
		Response:     resp,
	})
	endorser = identity.Snapshot(endorser) // one certificate and key, even across a rotation
	endorserBytes := protocol.SerializeIdentity(endorser.MSPID(), endorser.Certificate().Raw)
	sig, err := endorser.Sign(protocol.EndorsementSignedBytes(payload, endorserBytes))
	if err != nil {
		return nil, fmt.Errorf("sign endorsement: %w", err)
	}
	return &pb.ProposalResponse{
		Response:    resp,
		Payload:     payload,
		Endorsement: &pb.Endorsement{Endorser: endorserBytes, Signature: sig},
	}, nil
}

// ErrMismatch reports endorsements whose payloads differ: the endorsers
// simulated different state or the chaincode is not deterministic.
var ErrMismatch = errors.New("endorsement mismatch: endorsers returned different results")

// Assemble checks that every response succeeded and carries the same
// payload bound to this proposal, and builds the envelope signed by creator.
func Assemble(creator identity.Signer, prop *Proposal, responses []*pb.ProposalResponse) ([]byte, error) {
	if len(responses) == 0 {
		return nil, errors.New("no endorsements to assemble")
	}
	first := responses[0].GetPayload()
	endorsements := make([]*pb.Endorsement, 0, len(responses))
	for _, r := range responses {
		if r.GetResponse().GetStatus() >= 400 {
			return nil, fmt.Errorf("endorsement failed: %s", r.GetResponse().GetMessage())
		}
		if !bytes.Equal(r.GetPayload(), first) {
			return nil, ErrMismatch
		}
		if r.GetEndorsement() == nil {
			return nil, errors.New("response without endorsement")
		}
		endorsements = append(endorsements, r.Endorsement)
	}
	prp := new(pb.ProposalResponsePayload)
	if err := protocol.Unmarshal(first, prp, 0); err != nil {
		return nil, err
	}
	if !bytes.Equal(prp.ProposalHash, prop.ProposalHash) {
		return nil, errors.New("endorsement is for another proposal")
	}
	data := protocol.MustMarshal(&pb.EndorsedTransaction{
		Invocation:      prop.Invocation,
		ResponsePayload: first,
		Endorsements:    endorsements,
	})
	return SignEnvelope(creator, prop.HeaderBytes, data)
}

// SignEnvelope wraps header and data into an envelope signed by signer.
func SignEnvelope(signer identity.Signer, header, data []byte) ([]byte, error) {
	payload := protocol.MustMarshal(&pb.Payload{Header: header, Data: data})
	sig, err := signer.Sign(payload)
	if err != nil {
		return nil, fmt.Errorf("sign envelope: %w", err)
	}
	return protocol.MustMarshal(&pb.Envelope{Payload: payload, Signature: sig}), nil
}

// NewHeader builds a signed-context header of the given type for signer.
func NewHeader(signer identity.Signer, typ pb.HeaderType, channelID string, now time.Time) ([]byte, string, error) {
	nonce := make([]byte, protocol.NonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, "", err
	}
	creator := protocol.SerializeIdentity(signer.MSPID(), signer.Certificate().Raw)
	txID := protocol.ComputeTxID(nonce, creator)
	return protocol.MustMarshal(&pb.Header{
		Type: typ, ChannelId: channelID, TxId: txID, TimestampUnixNano: now.UnixNano(), Creator: creator, Nonce: nonce,
	}), txID, nil
}

// ParseSignedProposal decodes a signed proposal and its header and
// invocation (bounded), without checking the signature.
func ParseSignedProposal(sp *pb.SignedProposal) (*pb.Proposal, *pb.Header, *pb.ChaincodeInvocation, error) {
	prop := new(pb.Proposal)
	if err := protocol.Unmarshal(sp.GetProposal(), prop, 0); err != nil {
		return nil, nil, nil, err
	}
	hdr := new(pb.Header)
	if err := protocol.Unmarshal(prop.Header, hdr, 128<<10); err != nil {
		return nil, nil, nil, err
	}
	if hdr.Type != pb.HeaderType_ENDORSER_TRANSACTION || hdr.ChannelId == "" {
		return nil, nil, nil, errors.New("malformed proposal header: want an endorser transaction on a channel")
	}
	if len(hdr.Nonce) != protocol.NonceSize || protocol.ComputeTxID(hdr.Nonce, hdr.Creator) != hdr.TxId {
		return nil, nil, nil, errors.New("malformed proposal header: transaction ID does not match nonce and creator")
	}
	inv := new(pb.ChaincodeInvocation)
	if err := protocol.Unmarshal(prop.Invocation, inv, 0); err != nil {
		return nil, nil, nil, err
	}
	if inv.Chaincode == "" || inv.Function == "" {
		return nil, nil, nil, errors.New("malformed invocation: chaincode and function required")
	}
	return prop, hdr, inv, nil
}
