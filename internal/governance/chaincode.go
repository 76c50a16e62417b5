// Package governance records channel governance on the ledger (DESIGN §5):
// the native system chaincode _governance, where a member admin proposes
// a config update and member admins record their signatures over it, and
// the client-side helpers that build config updates (add or remove a
// member, publish a CRL, change batch sizes) and assemble the
// CONFIG_UPDATE envelope from a proposal and its recorded signatures.
//
// The chaincode only records: it checks that a signature is well formed,
// made by the transaction's creator (an admin certificate) and verifies
// over the proposal's update bytes. Whether the signatures satisfy the
// channel's policies is decided by the ordering service and every peer
// when the assembled update is submitted (channelconfig.ApplyUpdate),
// against the configuration in force then.
//
// Functions (contract "governance"); results are contract.CanonicalJSON:
//
//	governance:Propose(id, description, configUpdateBytes) store a proposal
//	governance:Approve(id, configSignatureBytes)            record the caller's signature (returns the Approval)
//	governance:Get(id)                                      the proposal with its signatures
//	governance:List()                                       summaries, by ID
package governance

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// Name is the system chaincode's name and state namespace.
const Name = "_governance"

// EndorsementPolicy is the chaincode's endorsement policy (policy.Parse
// syntax): a majority of members' peers, so no single member can forge a
// proposal or a signature record.
const EndorsementPolicy = "MAJORITY Endorsement"

// Bounds on proposals.
const (
	// MaxIDLength bounds a proposal ID ([A-Za-z0-9_.-]).
	MaxIDLength = 64
	// MaxDescriptionLength bounds a proposal's description in bytes.
	MaxDescriptionLength = 4096
	// MaxUpdateBytes bounds a proposal's marshalled ConfigUpdate.
	MaxUpdateBytes = 1 << 20
	// MaxSignatureBytes bounds one marshalled ConfigSignature.
	MaxSignatureBytes = 64 << 10
	// MaxListed bounds the proposals List returns.
	MaxListed = 200
	// MaxApprovals bounds the approvals Get and List read per proposal
	// (in signer certificate hash order).
	MaxApprovals = 4 * channelconfig.MaxConfigSignatures
)

// Composite-key object types: a proposal is stored under
// (proposal, id) and each approval under (approval, id, signer cert hash),
// so approvals by different admins touch different keys and do not
// conflict with each other; Approve only reads the proposal.
const (
	proposalObjectType = "proposal"
	approvalObjectType = "approval"
)

// Proposal is the record of a governance proposal.
type Proposal struct {
	ID          string `json:"id"`
	Description string `json:"description"`
	// Update is the marshalled pb.ConfigUpdate the signatures are over.
	Update []byte `json:"update"`
	// UpdateHash is the hex SHA-256 of Update, for display and comparison.
	UpdateHash string `json:"updateHash"`
	// Proposer is the creator of the Propose transaction.
	Proposer   Signer    `json:"proposer"`
	ProposedAt time.Time `json:"proposedAt"`
	// Signatures are the recorded admin signatures (filled in by Get, not
	// stored with the proposal), ordered by signer certificate hash; at
	// most one per signer certificate (a later one replaces it).
	Signatures []Approval `json:"signatures"`
}

// Signer names an identity: its member, enrollment ID (certificate CN)
// and the hex SHA-256 of its certificate.
type Signer struct {
	MSPID        string `json:"mspId"`
	EnrollmentID string `json:"enrollmentId"`
	CertHash     string `json:"certHash"`
}

// Approval is one recorded signature.
type Approval struct {
	Signer     Signer    `json:"signer"`
	ApprovedAt time.Time `json:"approvedAt"`
	// ConfigSignature is the marshalled pb.ConfigSignature.
	ConfigSignature []byte `json:"configSignature"`
}

// Summary is one line of List.
type Summary struct {
	ID          string    `json:"id"`
	Description string    `json:"description"`
	UpdateHash  string    `json:"updateHash"`
	Proposer    Signer    `json:"proposer"`
	ProposedAt  time.Time `json:"proposedAt"`
	Signers     []string  `json:"signers"` // "MSPID/enrollmentID" of each approval
}

// New returns the _governance chaincode.
func New() contract.Chaincode {
	return contract.New(contract.Contract{
		Name: "governance",
		Functions: map[string]contract.Function{
			"Propose": propose,
			"Approve": approve,
			"Get":     get,
			"List":    list,
		},
	})
}

// ValidateID checks a proposal ID: 1 to MaxIDLength characters from
// [A-Za-z0-9_.-].
func ValidateID(id string) error {
	if id == "" || len(id) > MaxIDLength {
		return fmt.Errorf("proposal ID must be 1 to %d characters", MaxIDLength)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return fmt.Errorf("proposal ID %q: only letters, digits, '_', '.' and '-'", id)
		}
	}
	return nil
}

func proposalKey(stub contract.Stub, id string) (string, error) {
	if err := ValidateID(id); err != nil {
		return "", err
	}
	return stub.CreateCompositeKey(proposalObjectType, []string{id})
}

func signerOf(mspID string, cert *x509.Certificate) Signer {
	sum := sha256.Sum256(cert.Raw)
	return Signer{MSPID: mspID, EnrollmentID: cert.Subject.CommonName, CertHash: hex.EncodeToString(sum[:])}
}

// creatorAdmin returns the transaction's creator and its certificate, and
// checks that it is an admin certificate of the member it claims (subject
// O and OU). The peer has already validated the creator against the
// channel's MSPs.
func creatorAdmin(stub contract.Stub) (string, *x509.Certificate, error) {
	mspID, der := stub.GetCreator()
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return "", nil, errors.New("the creator's certificate does not parse")
	}
	if len(cert.Subject.Organization) != 1 || cert.Subject.Organization[0] != mspID {
		return "", nil, fmt.Errorf("the creator's certificate does not belong to %s", mspID)
	}
	if len(cert.Subject.OrganizationalUnit) != 1 {
		return "", nil, errors.New("the creator's certificate names no single role")
	}
	if role, err := pki.ParseRole(cert.Subject.OrganizationalUnit[0]); err != nil || role != pki.RoleAdmin {
		return "", nil, fmt.Errorf("only an admin of a member may propose or approve (the creator is %s/%s)", mspID, cert.Subject.OrganizationalUnit[0])
	}
	return mspID, cert, nil
}

func readProposal(stub contract.Stub, id string) (*Proposal, string, error) {
	key, err := proposalKey(stub, id)
	if err != nil {
		return nil, "", err
	}
	raw, err := stub.GetState(key)
	if err != nil {
		return nil, "", err
	}
	if raw == nil {
		return nil, key, nil
	}
	p := new(Proposal)
	if err := json.Unmarshal(raw, p); err != nil {
		return nil, "", fmt.Errorf("proposal %s: stored record does not decode: %v", id, err)
	}
	return p, key, nil
}

func writeProposal(stub contract.Stub, key string, p *Proposal) error {
	raw, err := contract.CanonicalJSON(p)
	if err != nil {
		return err
	}
	return stub.PutState(key, raw)
}

// propose stores a new proposal: Propose(id, description, configUpdateBytes).
func propose(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 3); err != nil {
		return nil, err
	}
	id, description, update := string(args[0]), string(args[1]), args[2]
	mspID, cert, err := creatorAdmin(stub)
	if err != nil {
		return nil, err
	}
	if len(description) > MaxDescriptionLength {
		return nil, fmt.Errorf("description of %d bytes (at most %d)", len(description), MaxDescriptionLength)
	}
	if len(update) == 0 || len(update) > MaxUpdateBytes {
		return nil, fmt.Errorf("config update of %d bytes (1 to %d)", len(update), MaxUpdateBytes)
	}
	upd := new(pb.ConfigUpdate)
	if err := protocol.Unmarshal(update, upd, MaxUpdateBytes); err != nil {
		return nil, fmt.Errorf("config update: %v", err)
	}
	if upd.ChannelId != stub.GetChannelID() {
		return nil, fmt.Errorf("config update is for channel %q, not %s", upd.ChannelId, stub.GetChannelID())
	}
	existing, key, err := readProposal(stub, id)
	if err != nil {
		return nil, err
	}
	if existing != nil {
		return nil, fmt.Errorf("proposal %s already exists", id)
	}
	sum := sha256.Sum256(update)
	p := &Proposal{
		ID: id, Description: description, Update: update, UpdateHash: hex.EncodeToString(sum[:]),
		Proposer: signerOf(mspID, cert), ProposedAt: stub.GetTxTimestamp(),
	}
	if err := writeProposal(stub, key, p); err != nil {
		return nil, err
	}
	return contract.CanonicalJSON(p)
}

// approve records the caller's signature: Approve(id, configSignatureBytes).
func approve(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 2); err != nil {
		return nil, err
	}
	id, sigBytes := string(args[0]), args[1]
	mspID, cert, err := creatorAdmin(stub)
	if err != nil {
		return nil, err
	}
	p, _, err := readProposal(stub, id)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, fmt.Errorf("no proposal %s", id)
	}
	if err := VerifyApproval(p.Update, sigBytes, mspID, cert.Raw); err != nil {
		return nil, err
	}
	a := Approval{Signer: signerOf(mspID, cert), ApprovedAt: stub.GetTxTimestamp(), ConfigSignature: bytes.Clone(sigBytes)}
	akey, err := stub.CreateCompositeKey(approvalObjectType, []string{id, a.Signer.CertHash})
	if err != nil {
		return nil, err
	}
	raw, err := contract.CanonicalJSON(a)
	if err != nil {
		return nil, err
	}
	if err := stub.PutState(akey, raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// VerifyApproval checks a marshalled pb.ConfigSignature over update: it
// decodes (at most MaxSignatureBytes), its signer is exactly the identity
// (mspID, certDER), and the signature verifies with that certificate's key
// over protocol.ConfigSignatureSignedBytes(update, signer).
func VerifyApproval(update, sigBytes []byte, mspID string, certDER []byte) error {
	if len(sigBytes) == 0 || len(sigBytes) > MaxSignatureBytes {
		return fmt.Errorf("config signature of %d bytes (1 to %d)", len(sigBytes), MaxSignatureBytes)
	}
	cs := new(pb.ConfigSignature)
	if err := protocol.Unmarshal(sigBytes, cs, MaxSignatureBytes); err != nil {
		return fmt.Errorf("config signature: %v", err)
	}
	si, err := protocol.ParseSerializedIdentity(cs.Signer)
	if err != nil {
		return fmt.Errorf("config signature signer: %v", err)
	}
	if si.MspId != mspID || !bytes.Equal(si.CertDer, certDER) {
		return errors.New("the config signature's signer is not the transaction's creator")
	}
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return errors.New("the signer's certificate does not parse")
	}
	if !verifySignature(cert.PublicKey, protocol.ConfigSignatureSignedBytes(update, cs.Signer), cs.Signature) {
		return errors.New("the config signature does not verify over the proposal's update")
	}
	return nil
}

// verifySignature checks sig as identity.Identity.Verify does: ECDSA
// ASN.1 DER over SHA-256(msg), Ed25519 over msg.
func verifySignature(pub any, msg, sig []byte) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		digest := sha256.Sum256(msg)
		return ecdsa.VerifyASN1(k, digest[:], sig)
	case ed25519.PublicKey:
		return ed25519.Verify(k, msg, sig)
	}
	return false
}

// get returns a proposal: Get(id).
func get(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 1); err != nil {
		return nil, err
	}
	p, _, err := readProposal(stub, string(args[0]))
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, fmt.Errorf("no proposal %s", args[0])
	}
	if p.Signatures, err = readApprovals(stub, p.ID); err != nil {
		return nil, err
	}
	return contract.CanonicalJSON(p)
}

// readApprovals returns up to MaxApprovals approvals of proposal id.
func readApprovals(stub contract.Stub, id string) ([]Approval, error) {
	it, err := stub.GetStateByPartialCompositeKey(approvalObjectType, []string{id})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := []Approval{}
	for it.HasNext() && len(out) < MaxApprovals {
		kv, err := it.Next()
		if err != nil {
			return nil, err
		}
		var a Approval
		if err := json.Unmarshal(kv.Value, &a); err != nil {
			return nil, fmt.Errorf("proposal %s: stored approval does not decode: %v", id, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// list returns the summaries of up to MaxListed proposals, by ID: List().
func list(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 0); err != nil {
		return nil, err
	}
	it, err := stub.GetStateByPartialCompositeKey(proposalObjectType, nil)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := []Summary{}
	for it.HasNext() && len(out) < MaxListed {
		kv, err := it.Next()
		if err != nil {
			return nil, err
		}
		var p Proposal
		if err := json.Unmarshal(kv.Value, &p); err != nil {
			return nil, fmt.Errorf("stored proposal record does not decode: %v", err)
		}
		s := Summary{ID: p.ID, Description: p.Description, UpdateHash: p.UpdateHash, Proposer: p.Proposer, ProposedAt: p.ProposedAt, Signers: []string{}}
		approvals, err := readApprovals(stub, p.ID)
		if err != nil {
			return nil, err
		}
		for _, a := range approvals {
			s.Signers = append(s.Signers, a.Signer.MSPID+"/"+a.Signer.EnrollmentID)
		}
		out = append(out, s)
	}
	return contract.CanonicalJSON(out)
}
