// Package validator decides, for every transaction of a block, the
// validation code a committing peer records, and extracts the effects of the
// valid ones. It is a pure function of the block, the channel configuration
// in force before the block, the chaincode definitions and committed state:
// certificates are checked against the block's timestamp, never the wall
// clock, and no verdict depends on private data (DESIGN §11).
//
// Validation runs in two phases. Phase one checks each transaction on its
// own (envelope, creator, signatures, endorsement policy) on a pool of
// workers sized to the CPUs, since signature verification dominates. Phase
// two runs in block order and checks what depends on earlier transactions:
// duplicate transaction IDs and MVCC read versions, including reads of keys
// written by an earlier valid transaction of the same block and phantom
// range reads.
package validator

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/policy"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// Config is the channel configuration in force before the block.
type Config struct {
	ChannelID  string
	Identities *identity.Manager
	Members    []string   // current members' MSP IDs
	Writers    *pb.Policy // the channel's Writers policy, applied to creators
	// MaxEnvelopeBytes bounds one envelope (0: protocol.MaxMessageBytes).
	MaxEnvelopeBytes int
	// CheckWriteKey, if set, refuses public writes the ledger cannot
	// store (INVALID_WRITESET). It runs in phase one, so a refused
	// transaction's writes never enter the block's MVCC bookkeeping.
	CheckWriteKey func(namespace, key string) error
}

// Definitions supplies the endorsement policies in force for the block.
type Definitions interface {
	// EndorsementPolicy is the policy for public writes of a chaincode
	// namespace, and for transactions that invoke it and write nothing.
	EndorsementPolicy(namespace string) (*pb.Policy, error)
	// CollectionPolicy is the endorsement policy for writes into a
	// private data collection of a namespace.
	CollectionPolicy(namespace, collection string) (*pb.Policy, error)
}

// KeyVersion is one committed key of a range with its version.
type KeyVersion struct {
	Key     string
	Version *pb.Version
}

// Committed answers questions about state committed before the block.
type Committed interface {
	// Version is the committed version of a public key (nil if absent).
	Version(namespace, key string) (*pb.Version, error)
	// RangeVersions lists committed keys in [start, end) in key order
	// (end "" means no upper bound), at most limit keys (limit <= 0: all).
	RangeVersions(namespace, start, end string, limit int) ([]KeyVersion, error)
	// HashedVersion is the committed version of a private key, by hash.
	HashedVersion(namespace, collection string, keyHash []byte) (*pb.Version, error)
	// TxIDExists reports whether a transaction ID is already in the ledger.
	TxIDExists(txID string) (bool, error)
}

// TxResult is the verdict on one transaction of the block.
type TxResult struct {
	Code   pb.TxValidationCode
	Reason string     // why it is not VALID, for logs (never secrets)
	TxID   string     // "" when the header could not be read
	Header *pb.Header // nil when the envelope could not be read
	// For endorser transactions that passed phase one:
	Invocation *pb.ChaincodeInvocation
	RWSet      *pb.TxReadWriteSet
	Events     *pb.ChaincodeEvents
	Response   *pb.Response
	// Config is set for a CONFIG envelope (a config block).
	Config *pb.ConfigEnvelope
}

// Validator validates blocks. It is safe for concurrent use.
type Validator struct {
	workers int
}

// New returns a validator with workers goroutines for phase one
// (workers <= 0: one per CPU).
func New(workers int) *Validator {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return &Validator{workers: workers}
}

// Validate returns one result per envelope of block. An error means the
// validator could not decide (a state read failed); the block must not be
// committed then.
func (v *Validator) Validate(block *pb.Block, cfg *Config, defs Definitions, state Committed) ([]TxResult, error) {
	envs := block.GetData().GetEnvelopes()
	results := make([]TxResult, len(envs))
	at := time.Unix(0, block.GetHeader().GetTimestampUnixNano())
	isConfigBlock := len(envs) == 1

	// Phase one: independent checks, in parallel.
	var wg sync.WaitGroup
	next := make(chan int)
	workers := min(v.workers, len(envs))
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = checkTransaction(envs[i], cfg, defs, at, isConfigBlock)
			}
		}()
	}
	for i := range envs {
		next <- i
	}
	close(next)
	wg.Wait()

	// Phase two: order-dependent checks.
	seen := make(map[string]bool, len(envs))
	written := make(map[nsKey]bool)
	for i := range results {
		r := &results[i]
		if r.TxID != "" {
			if seen[r.TxID] {
				r.fail(pb.TxValidationCode_DUPLICATE_TXID, "transaction ID already in this block")
				continue
			}
			seen[r.TxID] = true
			exists, err := state.TxIDExists(r.TxID)
			if err != nil {
				return nil, fmt.Errorf("validate block %d: %w", block.GetHeader().GetNumber(), err)
			}
			if exists {
				r.fail(pb.TxValidationCode_DUPLICATE_TXID, "transaction ID already committed")
				continue
			}
		}
		if r.Code != pb.TxValidationCode_VALID || r.RWSet == nil {
			continue
		}
		code, reason, err := checkReads(r.RWSet, written, state)
		if err != nil {
			return nil, fmt.Errorf("validate block %d: %w", block.GetHeader().GetNumber(), err)
		}
		if code != pb.TxValidationCode_VALID {
			r.fail(code, reason)
			continue
		}
		markWrites(r.RWSet, written)
	}
	return results, nil
}

func (r *TxResult) fail(code pb.TxValidationCode, reason string) {
	r.Code = code
	r.Reason = reason
}

func invalid(code pb.TxValidationCode, format string, args ...any) TxResult {
	return TxResult{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// checkTransaction is phase one for one envelope.
func checkTransaction(envBytes []byte, cfg *Config, defs Definitions, at time.Time, alone bool) TxResult {
	if len(envBytes) == 0 {
		return invalid(pb.TxValidationCode_NIL_ENVELOPE, "empty envelope")
	}
	env, payload, hdr, err := protocol.OpenEnvelope(envBytes, cfg.MaxEnvelopeBytes)
	if err != nil {
		return invalid(pb.TxValidationCode_BAD_PAYLOAD, "%v", err)
	}
	if hdr.ChannelId != cfg.ChannelID {
		return invalid(pb.TxValidationCode_TARGET_CHAIN_NOT_FOUND, "envelope for channel %q in a block of %q", hdr.ChannelId, cfg.ChannelID)
	}
	switch hdr.Type {
	case pb.HeaderType_CONFIG:
		// Config envelopes are built and signed by the orderer (whose block
		// signature the peer checks before validation) and stand alone.
		if !alone {
			return invalid(pb.TxValidationCode_INVALID_CONFIG_TRANSACTION, "config envelope not alone in its block")
		}
		ce := new(pb.ConfigEnvelope)
		if err := protocol.Unmarshal(payload.Data, ce, 0); err != nil || ce.Config == nil {
			return invalid(pb.TxValidationCode_INVALID_CONFIG_TRANSACTION, "malformed config envelope")
		}
		return TxResult{Code: pb.TxValidationCode_VALID, Header: hdr, TxID: hdr.TxId, Config: ce}
	case pb.HeaderType_ENDORSER_TRANSACTION:
	default:
		return invalid(pb.TxValidationCode_UNKNOWN_TX_TYPE, "header type %v is not valid in a block", hdr.Type)
	}
	result := TxResult{Header: hdr}
	if len(hdr.Nonce) != protocol.NonceSize || protocol.ComputeTxID(hdr.Nonce, hdr.Creator) != hdr.TxId {
		result.fail(pb.TxValidationCode_BAD_PROPOSAL_TXID, "transaction ID does not match nonce and creator")
		return result
	}
	result.TxID = hdr.TxId

	creator, err := validateSigner(cfg.Identities, hdr.Creator, identity.AnyRole, at)
	if err != nil {
		result.fail(pb.TxValidationCode_BAD_CREATOR, "creator: "+err.Error())
		return result
	}
	if err := creator.Verify(env.Payload, env.Signature); err != nil {
		result.fail(pb.TxValidationCode_BAD_CREATOR_SIGNATURE, "creator signature does not verify")
		return result
	}
	if err := policy.Evaluate(cfg.Writers, cfg.Members, []policy.Signer{signerOf(creator)}); err != nil {
		result.fail(pb.TxValidationCode_BAD_CREATOR, "creator not allowed by Writers: "+err.Error())
		return result
	}

	tx := new(pb.EndorsedTransaction)
	if err := protocol.Unmarshal(payload.Data, tx, 0); err != nil {
		result.fail(pb.TxValidationCode_INVALID_ENDORSER_TRANSACTION, err.Error())
		return result
	}
	inv := new(pb.ChaincodeInvocation)
	if err := protocol.Unmarshal(tx.Invocation, inv, 0); err != nil || inv.Chaincode == "" {
		result.fail(pb.TxValidationCode_INVALID_ENDORSER_TRANSACTION, "malformed chaincode invocation")
		return result
	}
	prp := new(pb.ProposalResponsePayload)
	if err := protocol.Unmarshal(tx.ResponsePayload, prp, 0); err != nil {
		result.fail(pb.TxValidationCode_BAD_RESPONSE_PAYLOAD, err.Error())
		return result
	}
	if !bytes.Equal(prp.ProposalHash, protocol.ProposalHash(payload.Header, tx.Invocation)) {
		result.fail(pb.TxValidationCode_BAD_RESPONSE_PAYLOAD, "endorsed proposal hash does not match the transaction")
		return result
	}
	if prp.Response == nil || prp.Response.Status >= 400 {
		result.fail(pb.TxValidationCode_BAD_RESPONSE_PAYLOAD, "endorsed response is not a success")
		return result
	}
	rwset := new(pb.TxReadWriteSet)
	if err := protocol.Unmarshal(prp.Results, rwset, 0); err != nil {
		result.fail(pb.TxValidationCode_BAD_RWSET, err.Error())
		return result
	}
	if cfg.CheckWriteKey != nil {
		for _, ns := range rwset.NsRwsets {
			for _, w := range ns.Writes {
				if err := cfg.CheckWriteKey(ns.Namespace, w.Key); err != nil {
					result.fail(pb.TxValidationCode_INVALID_WRITESET, err.Error())
					return result
				}
			}
		}
	}
	events := new(pb.ChaincodeEvents)
	if err := protocol.Unmarshal(prp.Events, events, 0); err != nil {
		result.fail(pb.TxValidationCode_BAD_RESPONSE_PAYLOAD, "malformed events: "+err.Error())
		return result
	}

	endorsers, code, reason := checkEndorsements(tx, cfg.Identities, at)
	if code != pb.TxValidationCode_VALID {
		result.fail(code, reason)
		return result
	}
	if err := checkEndorsementPolicies(inv.Chaincode, rwset, defs, cfg.Members, endorsers); err != nil {
		result.fail(pb.TxValidationCode_ENDORSEMENT_POLICY_FAILURE, err.Error())
		return result
	}
	result.Code = pb.TxValidationCode_VALID
	result.Invocation = inv
	result.RWSet = rwset
	result.Events = events
	result.Response = prp.Response
	return result
}

// checkEndorsements verifies every endorsement. An endorsement whose
// signature does not verify makes the transaction BAD_SIGNATURE; an
// endorser that is not a valid peer of a member contributes nothing, so the
// policy check decides.
func checkEndorsements(tx *pb.EndorsedTransaction, ids *identity.Manager, at time.Time) ([]policy.Signer, pb.TxValidationCode, string) {
	if len(tx.Endorsements) == 0 {
		return nil, pb.TxValidationCode_ENDORSEMENT_POLICY_FAILURE, "no endorsements"
	}
	signers := make([]policy.Signer, 0, len(tx.Endorsements))
	for i, e := range tx.Endorsements {
		endorser, err := validateSigner(ids, e.Endorser, identity.Roles(pki.RolePeer), at)
		if err != nil {
			continue
		}
		if err := endorser.Verify(protocol.EndorsementSignedBytes(tx.ResponsePayload, e.Endorser), e.Signature); err != nil {
			return nil, pb.TxValidationCode_BAD_SIGNATURE, fmt.Sprintf("endorsement %d by %s does not verify", i, endorser)
		}
		signers = append(signers, signerOf(endorser))
	}
	return signers, pb.TxValidationCode_VALID, ""
}

// checkEndorsementPolicies applies DESIGN §11: each collection written is
// checked against that collection's policy alone; each namespace with public
// writes against its chaincode policy; a transaction that writes nothing
// against the invoked chaincode's policy. Namespaces only read add nothing.
func checkEndorsementPolicies(invoked string, rwset *pb.TxReadWriteSet, defs Definitions, members []string, endorsers []policy.Signer) error {
	wrote := false
	for _, ns := range rwset.NsRwsets {
		if len(ns.Writes) > 0 {
			wrote = true
			p, err := defs.EndorsementPolicy(ns.Namespace)
			if err != nil {
				return fmt.Errorf("namespace %s: %w", ns.Namespace, err)
			}
			if err := policy.Evaluate(p, members, endorsers); err != nil {
				return fmt.Errorf("namespace %s: %w", ns.Namespace, err)
			}
		}
		for _, coll := range ns.CollectionHashedRwsets {
			if len(coll.HashedWrites) == 0 {
				continue
			}
			wrote = true
			p, err := defs.CollectionPolicy(ns.Namespace, coll.Collection)
			if err != nil {
				return fmt.Errorf("collection %s/%s: %w", ns.Namespace, coll.Collection, err)
			}
			if err := policy.Evaluate(p, members, endorsers); err != nil {
				return fmt.Errorf("collection %s/%s: %w", ns.Namespace, coll.Collection, err)
			}
		}
	}
	if wrote {
		return nil
	}
	p, err := defs.EndorsementPolicy(invoked)
	if err != nil {
		return fmt.Errorf("namespace %s: %w", invoked, err)
	}
	if err := policy.Evaluate(p, members, endorsers); err != nil {
		return fmt.Errorf("namespace %s: %w", invoked, err)
	}
	return nil
}

func validateSigner(ids *identity.Manager, serialized []byte, roles identity.RoleSet, at time.Time) (*identity.Identity, error) {
	sid, err := protocol.ParseSerializedIdentity(serialized)
	if err != nil {
		return nil, err
	}
	return ids.Validate(sid.MspId, sid.CertDer, roles, at)
}

func signerOf(id *identity.Identity) policy.Signer {
	return policy.Signer{ID: id.ID(), MSPID: id.MSPID(), Role: string(id.Role())}
}

type nsKey struct {
	ns, coll, key string // coll "" and key for public keys; key = key hash for private ones
}

// checkReads is the MVCC check of phase two.
func checkReads(rwset *pb.TxReadWriteSet, written map[nsKey]bool, state Committed) (pb.TxValidationCode, string, error) {
	for _, ns := range rwset.NsRwsets {
		for _, rd := range ns.Reads {
			if written[nsKey{ns: ns.Namespace, key: rd.Key}] {
				return pb.TxValidationCode_MVCC_READ_CONFLICT, fmt.Sprintf("%s/%q written by an earlier transaction of the block", ns.Namespace, rd.Key), nil
			}
			committed, err := state.Version(ns.Namespace, rd.Key)
			if err != nil {
				return 0, "", err
			}
			if !sameVersion(committed, rd.Version) {
				return pb.TxValidationCode_MVCC_READ_CONFLICT, fmt.Sprintf("%s/%q changed since it was read", ns.Namespace, rd.Key), nil
			}
		}
		for _, rq := range ns.RangeQueries {
			code, reason, err := checkRange(ns.Namespace, rq, written, state)
			if err != nil || code != pb.TxValidationCode_VALID {
				return code, reason, err
			}
		}
		for _, coll := range ns.CollectionHashedRwsets {
			for _, rd := range coll.HashedReads {
				if written[nsKey{ns: ns.Namespace, coll: coll.Collection, key: string(rd.KeyHash)}] {
					return pb.TxValidationCode_MVCC_READ_CONFLICT, fmt.Sprintf("private key of %s/%s written by an earlier transaction of the block", ns.Namespace, coll.Collection), nil
				}
				committed, err := state.HashedVersion(ns.Namespace, coll.Collection, rd.KeyHash)
				if err != nil {
					return 0, "", err
				}
				if !sameVersion(committed, rd.Version) {
					return pb.TxValidationCode_MVCC_READ_CONFLICT, fmt.Sprintf("private key of %s/%s changed since it was read", ns.Namespace, coll.Collection), nil
				}
			}
		}
	}
	return pb.TxValidationCode_VALID, "", nil
}

// checkRange re-executes a range read against committed state and earlier
// writes of the block: any key added, removed or changed in the part of the
// range the chaincode consumed is a phantom.
func checkRange(ns string, rq *pb.RangeQueryInfo, written map[nsKey]bool, state Committed) (pb.TxValidationCode, string, error) {
	end := rq.EndKey
	if !rq.ItrExhausted {
		// The chaincode stopped early: only the keys up to the last one it
		// read matter. With no key read, nothing was consumed.
		if len(rq.Reads) == 0 {
			return pb.TxValidationCode_VALID, "", nil
		}
		end = rq.Reads[len(rq.Reads)-1].Key + "\x00"
	}
	for k := range written {
		if k.ns == ns && k.coll == "" && k.key >= rq.StartKey && (end == "" || k.key < end) {
			return pb.TxValidationCode_PHANTOM_READ_CONFLICT, fmt.Sprintf("range [%q, %q) of %s written by an earlier transaction of the block", rq.StartKey, rq.EndKey, ns), nil
		}
	}
	current, err := state.RangeVersions(ns, rq.StartKey, end, len(rq.Reads)+1)
	if err != nil {
		return 0, "", err
	}
	if len(current) != len(rq.Reads) {
		return pb.TxValidationCode_PHANTOM_READ_CONFLICT, fmt.Sprintf("range [%q, %q) of %s changed since it was read", rq.StartKey, rq.EndKey, ns), nil
	}
	for i, kv := range current {
		if kv.Key != rq.Reads[i].Key || !sameVersion(kv.Version, rq.Reads[i].Version) {
			return pb.TxValidationCode_PHANTOM_READ_CONFLICT, fmt.Sprintf("range [%q, %q) of %s changed since it was read", rq.StartKey, rq.EndKey, ns), nil
		}
	}
	return pb.TxValidationCode_VALID, "", nil
}

func markWrites(rwset *pb.TxReadWriteSet, written map[nsKey]bool) {
	for _, ns := range rwset.NsRwsets {
		for _, w := range ns.Writes {
			written[nsKey{ns: ns.Namespace, key: w.Key}] = true
		}
		for _, coll := range ns.CollectionHashedRwsets {
			for _, w := range coll.HashedWrites {
				written[nsKey{ns: ns.Namespace, coll: coll.Collection, key: string(w.KeyHash)}] = true
			}
		}
	}
}

func sameVersion(a, b *pb.Version) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return proto.Equal(a, b)
}

// ErrUnknownChaincode is returned by Definitions for a namespace with no
// committed definition.
var ErrUnknownChaincode = errors.New("no chaincode definition")
