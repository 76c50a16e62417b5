package governance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/blossom-ledger/blossom/internal/client"
	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/txn"
)

// Ledger calls the governance chaincode through a client. Proposing and
// approving are transactions of the client's signer, which must be an
// admin of a member; reading is an evaluation on the client's own peer.
type Ledger struct {
	// Client connects to the peers and orderers.
	Client *client.Client
	// Signer must be the client's signer (client.Config.Signer): Approve
	// signs the update with it, and the chaincode checks that the signature
	// is the transaction creator's.
	Signer identity.Signer
	// Chaincode is the name the governance chaincode is registered under
	// ("": Name).
	Chaincode string
	// EndorsingPeers endorse Propose and Approve; they must satisfy
	// EndorsementPolicy (a majority of members' peers).
	EndorsingPeers []string
}

func (l *Ledger) chaincode() string {
	if l.Chaincode == "" {
		return Name
	}
	return l.Chaincode
}

func (l *Ledger) submit(ctx context.Context, function string, args ...[]byte) (*client.SubmitResult, error) {
	res, err := l.Client.Submit(ctx, txn.Request{Chaincode: l.chaincode(), Function: "governance:" + function, Args: args}, l.EndorsingPeers)
	if err != nil {
		return nil, fmt.Errorf("governance:%s: %w", function, err)
	}
	return res, nil
}

// Propose records proposal id with description and the marshalled
// pb.ConfigUpdate on the ledger and waits for it to commit on the client's
// commit peers. It returns the number of the block holding it: other
// peers serve it once their height exceeds that number.
func (l *Ledger) Propose(ctx context.Context, id, description string, update []byte) (uint64, error) {
	res, err := l.submit(ctx, "Propose", []byte(id), []byte(description), update)
	if err != nil {
		return 0, err
	}
	return res.Block, nil
}

// Approve reads proposal id, checks that its update is the one the
// approver reviewed (updateHash, the hex SHA-256 shown as UpdateHash by Get
// and List), signs it with l.Signer and records the signature, waiting for
// the commit on the client's commit peers. It returns the proposal as read
// and the number of the block holding the approval.
func (l *Ledger) Approve(ctx context.Context, id, updateHash string) (*Proposal, uint64, error) {
	p, err := l.Get(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	sum := sha256.Sum256(p.Update)
	if got := hex.EncodeToString(sum[:]); got != strings.ToLower(updateHash) {
		return nil, 0, fmt.Errorf("proposal %s: update hash is %s, not the reviewed %s", id, got, updateHash)
	}
	sig, err := Sign(p.Update, l.Signer)
	if err != nil {
		return nil, 0, err
	}
	res, err := l.submit(ctx, "Approve", []byte(id), sig)
	if err != nil {
		return nil, 0, err
	}
	return p, res.Block, nil
}

// Get returns proposal id with its recorded signatures, as the client's
// own peer has it.
func (l *Ledger) Get(ctx context.Context, id string) (*Proposal, error) {
	raw, err := l.Client.Evaluate(ctx, txn.Request{Chaincode: l.chaincode(), Function: "governance:Get", Args: [][]byte{[]byte(id)}})
	if err != nil {
		return nil, fmt.Errorf("governance:Get: %w", err)
	}
	return ParseProposal(raw)
}

// List returns the summaries of the recorded proposals, by ID.
func (l *Ledger) List(ctx context.Context) ([]Summary, error) {
	raw, err := l.Client.Evaluate(ctx, txn.Request{Chaincode: l.chaincode(), Function: "governance:List"})
	if err != nil {
		return nil, fmt.Errorf("governance:List: %w", err)
	}
	if len(raw) > MaxListed*(MaxDescriptionLength+MaxApprovals*256+1024) {
		return nil, fmt.Errorf("proposal list of %d bytes is too large", len(raw))
	}
	var out []Summary
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("proposal list does not decode: %v", err)
	}
	return out, nil
}

// Submit assembles proposal id's CONFIG_UPDATE envelope from its recorded
// signatures (see NewEnvelope), created by l.Signer, and broadcasts it to
// the ordering service of channel, which checks it against the current
// configuration (a policy not satisfied is a *client.BroadcastError with
// status FORBIDDEN). It returns the envelope's transaction ID once
// ordered; the new configuration is in force from the config block on.
func (l *Ledger) Submit(ctx context.Context, channel, id string) (string, error) {
	p, err := l.Get(ctx, id)
	if err != nil {
		return "", err
	}
	env, txID, err := NewEnvelope(l.Signer, channel, p, time.Now())
	if err != nil {
		return "", err
	}
	if err := l.Client.Broadcast(ctx, env); err != nil {
		return "", err
	}
	return txID, nil
}
