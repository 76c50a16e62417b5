// Package lifecycle is the chaincode lifecycle of DESIGN §5 (Fabric 2.x
// model) as the native system chaincode _lifecycle: each member's admin
// approves a chaincode definition (name, version, sequence, package ID,
// endorsement policy, collections, parameters, execution limits) for its
// member, and a definition is committed once a MAJORITY of the channel's
// current members approved exactly that definition.
//
// Functions (contract "lifecycle"); results are contract.CanonicalJSON:
//
//	lifecycle:ApproveForMyOrg(definitionJSON)      caller's member approves (returns the canonical definition)
//	lifecycle:CheckCommitReadiness(definitionJSON) {member: approved exactly this} over current members
//	lifecycle:Commit(definitionJSON)               commit when a MAJORITY approved (returns the canonical definition)
//	lifecycle:QueryDefinition(name)                the committed Definition
//	lifecycle:QueryApprovals(name, sequence)       {member: approved Definition}
//	lifecycle:ListDefinitions()                    committed Definitions, by name
//
// ApproveForMyOrg and Commit require an admin certificate of the creator's
// member (subject O = MSP ID, single OU "admin"), the member being a
// current member of the channel; the definition's
// sequence must be the committed sequence + 1 (1 for a new chaincode).
// Approvals are kept per (chaincode, sequence, member); a re-approval
// replaces the member's earlier one. An upgrade (sequence n+1) therefore
// needs fresh approvals.
//
// # Members: the contract with the peer
//
// A chaincode cannot read the channel configuration, so the peer supplies
// the channel's current member MSP IDs as the definition parameter
// MembersParam ("members") of _lifecycle itself, comma-separated (spaces
// around names ignored, order irrelevant), recomputed from the
// configuration in force at each block: contract.Stub.GetDefinitionParam(
// "members") must answer the members of the config the transaction is
// simulated against. Without it every function that counts members fails.
// A member added or removed by a config update changes the MAJORITY
// threshold for every commit after it.
//
// # State (namespace Name)
//
//	SequenceKey(name)              "namespaces/<name>/sequence"   decimal committed sequence
//	DefinitionKey(name)            "namespaces/<name>/definition" canonical JSON of the committed Definition
//	ApprovalKey(name, seq, member) "approvals/<name>/<seq>/<member>" canonical JSON of the approved Definition
//
// The simulator reads SequenceKey for every chaincode a transaction
// invokes, so a commit invalidates transactions simulated against the
// previous definition. A peer reads committed definitions with
// DecodeDefinition(value of DefinitionKey(name)).
package lifecycle

import (
	"crypto/x509"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/policy"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// Name is the system chaincode's name and state namespace (equal to
// chaincode.LifecycleNamespace).
const Name = "_lifecycle"

// EndorsementPolicy is the chaincode's own endorsement policy (policy.Parse
// syntax): a majority of members' peers, so no single member can forge
// another member's approval or a commit.
const EndorsementPolicy = "MAJORITY Endorsement"

// MembersParam is the definition parameter of _lifecycle through which the
// peer passes the channel's current members (comma-separated MSP IDs).
const MembersParam = "members"

// Bounds.
const (
	// MaxMembers bounds the member list and the approvals read per
	// definition.
	MaxMembers = 256
	// MaxMSPIDLength bounds one member's MSP ID.
	MaxMSPIDLength = 128
	// MaxListed bounds the definitions ListDefinitions returns.
	MaxListed = 1000
)

// New returns the _lifecycle chaincode.
func New() contract.Chaincode {
	return contract.New(contract.Contract{
		Name: "lifecycle",
		Functions: map[string]contract.Function{
			"ApproveForMyOrg":      approveForMyOrg,
			"CheckCommitReadiness": checkCommitReadiness,
			"Commit":               commit,
			"QueryDefinition":      queryDefinition,
			"QueryApprovals":       queryApprovals,
			"ListDefinitions":      listDefinitions,
		},
	})
}

// ParseMembers parses the MembersParam value: comma-separated MSP IDs,
// each 1 to MaxMSPIDLength characters from [A-Za-z0-9_.-], no duplicates,
// 1 to MaxMembers of them. It returns them sorted.
func ParseMembers(value string) ([]string, error) {
	fields := strings.Split(value, ",")
	if len(fields) > MaxMembers {
		return nil, fmt.Errorf("%d members (at most %d)", len(fields), MaxMembers)
	}
	members := make([]string, 0, len(fields))
	seen := make(map[string]bool, len(fields))
	for _, f := range fields {
		m := strings.TrimSpace(f)
		if err := validateToken("member MSP ID", m, MaxMSPIDLength, "_.-"); err != nil {
			return nil, err
		}
		if seen[m] {
			return nil, fmt.Errorf("member %s listed twice", m)
		}
		seen[m] = true
		members = append(members, m)
	}
	sort.Strings(members)
	return members, nil
}

func currentMembers(stub contract.Stub) ([]string, error) {
	v, ok := stub.GetDefinitionParam(MembersParam)
	if !ok {
		return nil, fmt.Errorf("the %s definition has no %q parameter: the peer must supply the channel's members", Name, MembersParam)
	}
	members, err := ParseMembers(v)
	if err != nil {
		return nil, fmt.Errorf("the %s %q parameter: %v", Name, MembersParam, err)
	}
	return members, nil
}

// creatorAdmin returns the creator's member after checking that its
// certificate is an admin certificate of that member (subject O and OU).
// The peer has already validated the creator against the channel's MSPs.
func creatorAdmin(stub contract.Stub) (string, error) {
	mspID, der := stub.GetCreator()
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return "", errors.New("the creator's certificate does not parse")
	}
	if len(cert.Subject.Organization) != 1 || cert.Subject.Organization[0] != mspID {
		return "", fmt.Errorf("the creator's certificate does not belong to %s", mspID)
	}
	if len(cert.Subject.OrganizationalUnit) != 1 {
		return "", errors.New("the creator's certificate names no single role")
	}
	if role, err := pki.ParseRole(cert.Subject.OrganizationalUnit[0]); err != nil || role != pki.RoleAdmin {
		return "", fmt.Errorf("only an admin of a member may approve or commit a chaincode definition (the creator is %s/%s)", mspID, cert.Subject.OrganizationalUnit[0])
	}
	return mspID, nil
}

// memberAdmin checks that the creator is an admin of a current member and
// returns that member and the current members.
func memberAdmin(stub contract.Stub) (string, []string, error) {
	mspID, err := creatorAdmin(stub)
	if err != nil {
		return "", nil, err
	}
	members, err := currentMembers(stub)
	if err != nil {
		return "", nil, err
	}
	if i := sort.SearchStrings(members, mspID); i == len(members) || members[i] != mspID {
		return "", nil, fmt.Errorf("%s is not a member of the channel", mspID)
	}
	return mspID, members, nil
}

func committedSequence(stub contract.Stub, name string) (uint64, error) {
	raw, err := stub.GetState(SequenceKey(name))
	if err != nil {
		return 0, err
	}
	seq, err := ParseSequence(raw)
	if err != nil {
		return 0, fmt.Errorf("chaincode %s: %v", name, err)
	}
	return seq, nil
}

// nextDefinition decodes the definition argument and checks that its
// sequence is the next one.
func nextDefinition(stub contract.Stub, arg []byte) (*Definition, []byte, error) {
	d, err := DecodeDefinition(arg)
	if err != nil {
		return nil, nil, err
	}
	committed, err := committedSequence(stub, d.Name)
	if err != nil {
		return nil, nil, err
	}
	if d.Sequence != committed+1 {
		return nil, nil, fmt.Errorf("definition %s has sequence %d, but the committed sequence is %d: the next definition must have sequence %d", d.Name, d.Sequence, committed, committed+1)
	}
	canonical, err := d.Canonical()
	if err != nil {
		return nil, nil, err
	}
	return d, canonical, nil
}

// approveForMyOrg: ApproveForMyOrg(definitionJSON).
func approveForMyOrg(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 1); err != nil {
		return nil, err
	}
	mspID, _, err := memberAdmin(stub)
	if err != nil {
		return nil, err
	}
	d, canonical, err := nextDefinition(stub, args[0])
	if err != nil {
		return nil, err
	}
	if err := stub.PutState(ApprovalKey(d.Name, d.Sequence, mspID), canonical); err != nil {
		return nil, err
	}
	return canonical, nil
}

// approvalsOf reads the approvals of (name, sequence) by member, at most
// MaxMembers of them, in member order.
func approvalsOf(stub contract.Stub, name string, sequence uint64) (map[string][]byte, error) {
	prefix := approvalPrefix(name, sequence)
	// '0' follows '/', so [prefix, prefix-with-'/'-replaced) is exactly
	// the keys starting with prefix.
	it, err := stub.GetStateByRange(prefix, prefix[:len(prefix)-1]+"0")
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := make(map[string][]byte)
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return nil, err
		}
		if len(out) == MaxMembers {
			return nil, fmt.Errorf("chaincode %s sequence %d has more than %d approvals", name, sequence, MaxMembers)
		}
		out[strings.TrimPrefix(kv.Key, prefix)] = kv.Value
	}
	return out, nil
}

// readiness returns, for each current member, whether it approved exactly
// canonical, and how many did.
func readiness(stub contract.Stub, d *Definition, canonical []byte, members []string) (map[string]bool, int, error) {
	approvals, err := approvalsOf(stub, d.Name, d.Sequence)
	if err != nil {
		return nil, 0, err
	}
	ready := make(map[string]bool, len(members))
	count := 0
	for _, m := range members {
		a, ok := approvals[m]
		ready[m] = ok && string(a) == string(canonical)
		if ready[m] {
			count++
		}
	}
	return ready, count, nil
}

// checkCommitReadiness: CheckCommitReadiness(definitionJSON).
func checkCommitReadiness(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 1); err != nil {
		return nil, err
	}
	members, err := currentMembers(stub)
	if err != nil {
		return nil, err
	}
	d, canonical, err := nextDefinition(stub, args[0])
	if err != nil {
		return nil, err
	}
	ready, _, err := readiness(stub, d, canonical, members)
	if err != nil {
		return nil, err
	}
	return contract.CanonicalJSON(ready)
}

// commit: Commit(definitionJSON).
func commit(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 1); err != nil {
		return nil, err
	}
	_, members, err := memberAdmin(stub)
	if err != nil {
		return nil, err
	}
	d, canonical, err := nextDefinition(stub, args[0])
	if err != nil {
		return nil, err
	}
	_, count, err := readiness(stub, d, canonical, members)
	if err != nil {
		return nil, err
	}
	need, err := policy.Threshold(pb.ImplicitMetaPolicy_MAJORITY, len(members))
	if err != nil {
		return nil, err
	}
	if count < need {
		return nil, fmt.Errorf("definition %s sequence %d has approvals from %d of %d members; MAJORITY needs %d", d.Name, d.Sequence, count, len(members), need)
	}
	if err := stub.PutState(DefinitionKey(d.Name), canonical); err != nil {
		return nil, err
	}
	if err := stub.PutState(SequenceKey(d.Name), []byte(strconv.FormatUint(d.Sequence, 10))); err != nil {
		return nil, err
	}
	return canonical, nil
}

func readDefinition(stub contract.Stub, name string) (*Definition, error) {
	raw, err := stub.GetState(DefinitionKey(name))
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, nil
	}
	d, err := DecodeDefinition(raw)
	if err != nil {
		return nil, fmt.Errorf("chaincode %s: stored definition: %v", name, err)
	}
	return d, nil
}

// queryDefinition: QueryDefinition(name).
func queryDefinition(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 1); err != nil {
		return nil, err
	}
	name := string(args[0])
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	d, err := readDefinition(stub, name)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, fmt.Errorf("chaincode %s has no committed definition", name)
	}
	return d.Canonical()
}

// queryApprovals: QueryApprovals(name, sequence).
func queryApprovals(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 2); err != nil {
		return nil, err
	}
	name := string(args[0])
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	seq, err := ParseSequence(args[1])
	if err != nil || args[1] == nil {
		return nil, fmt.Errorf("sequence %s: want a decimal from 1 to %d", contract.QuoteKey(string(args[1])), uint64(MaxSequence))
	}
	approvals, err := approvalsOf(stub, name, seq)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*Definition, len(approvals))
	for m, raw := range approvals {
		d, err := DecodeDefinition(raw)
		if err != nil {
			return nil, fmt.Errorf("chaincode %s sequence %d: stored approval of %s: %v", name, seq, m, err)
		}
		out[m] = d
	}
	return contract.CanonicalJSON(out)
}

// listDefinitions: ListDefinitions().
func listDefinitions(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 0); err != nil {
		return nil, err
	}
	it, err := stub.GetStateByRange("namespaces/", "namespaces0")
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := []*Definition{}
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return nil, err
		}
		if !strings.HasSuffix(kv.Key, "/definition") {
			continue
		}
		if len(out) == MaxListed {
			return nil, fmt.Errorf("more than %d committed definitions", MaxListed)
		}
		d, err := DecodeDefinition(kv.Value)
		if err != nil {
			return nil, fmt.Errorf("stored definition %s: %v", contract.QuoteKey(kv.Key), err)
		}
		out = append(out, d)
	}
	// Key order is not name order ('/' sorts after '.' and '-').
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return contract.CanonicalJSON(out)
}
