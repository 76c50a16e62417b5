package peer

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/blossom-ledger/blossom/internal/chaincode"
	"github.com/blossom-ledger/blossom/internal/governance"
	"github.com/blossom-ledger/blossom/internal/lifecycle"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/policy"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/validator"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// Definition is a chaincode registered statically on the peer: its name
// (the state namespace it owns), its endorsement policy and its native
// implementation.
//
// Chaincodes are normally defined through the _lifecycle system chaincode
// (definitions committed on the ledger once a majority of members approved
// them; see lifecycle.go). Static registration remains for tests and
// development: every peer of a channel MUST then register the same
// definitions (the same names, policies and parameters), because the
// endorsement policies are inputs of validation, so peers that disagree
// record different validation codes for the same transaction and their
// commit hashes diverge.
type Definition struct {
	// Name is the chaincode's name and namespace ([A-Za-z0-9_-], 1 to 64).
	Name string
	// EndorsementPolicy is the policy for the chaincode's public writes (and
	// for transactions invoking it that write nothing), in policy.Parse
	// syntax: "MAJORITY Endorsement" (an implicit meta policy recomputed
	// from the members in force at each block), "'Org1MSP.peer'",
	// "AND('Org1MSP.peer', 'Org2MSP.peer')", ...
	EndorsementPolicy string
	// Chaincode is the native implementation.
	Chaincode contract.Chaincode
	// Params are the definition's named parameters, which chaincodes read
	// with Stub.GetDefinitionParam (nil: none).
	Params map[string]string
}

// ImplicitCollectionPrefix starts the name of a member's implicit private
// data collection, "_implicit_org_<MSP ID>". Every chaincode has one per
// member; writes into it must be endorsed by a peer of that member
// (policy "<MSP ID>.peer", DESIGN §11).
const ImplicitCollectionPrefix = "_implicit_org_"

// ImplicitCollection returns the name of member mspID's implicit collection.
func ImplicitCollection(mspID string) string { return ImplicitCollectionPrefix + mspID }

// systemDefinitions are the system chaincodes built into every peer, so
// every peer defines them identically: `_governance` records governance
// proposals and admins' signatures on the ledger (internal/governance);
// `_lifecycle` records chaincode definition approvals and commits
// (internal/lifecycle), its "members" parameter supplied per transaction
// from the configuration in force (txRuntime.params).
func systemDefinitions() []Definition {
	return []Definition{
		{Name: governance.Name, EndorsementPolicy: governance.EndorsementPolicy, Chaincode: governance.New()},
		{Name: lifecycle.Name, EndorsementPolicy: lifecycle.EndorsementPolicy, Chaincode: lifecycle.New()},
	}
}

// MaxDefinitions bounds the chaincodes a peer registers.
const MaxDefinitions = 256

// definition is a checked Definition.
type definition struct {
	name   string
	policy *pb.Policy
	params map[string]string
}

// registry holds a peer's chaincode definitions and the runtime that runs
// them. It is immutable after newRegistry and safe for concurrent use.
type registry struct {
	defs    map[string]*definition
	runtime *chaincode.NativeRuntime
}

// newRegistry checks the definitions (names, policies, no duplicates) and
// registers their implementations in a new native runtime.
func newRegistry(defs []Definition) (*registry, error) {
	if len(defs) > MaxDefinitions {
		return nil, fmt.Errorf("%d chaincode definitions (at most %d)", len(defs), MaxDefinitions)
	}
	r := &registry{defs: make(map[string]*definition, len(defs)), runtime: chaincode.NewNativeRuntime()}
	system := systemDefinitions()
	for i, d := range append(system, defs...) {
		if err := chaincode.ValidateName(d.Name); err != nil {
			return nil, fmt.Errorf("chaincode definition: %w", err)
		}
		if i >= len(system) && strings.HasPrefix(d.Name, "_") {
			return nil, fmt.Errorf("chaincode definition %s: names starting with '_' are reserved for system namespaces", d.Name)
		}
		if _, dup := r.defs[d.Name]; dup {
			return nil, fmt.Errorf("chaincode %s is defined twice", d.Name)
		}
		p, err := policy.Parse(d.EndorsementPolicy)
		if err != nil {
			return nil, fmt.Errorf("chaincode %s endorsement policy: %w", d.Name, err)
		}
		if d.Chaincode == nil {
			return nil, fmt.Errorf("chaincode %s has no implementation", d.Name)
		}
		if err := r.runtime.Register(d.Name, d.Chaincode); err != nil {
			return nil, err
		}
		r.defs[d.Name] = &definition{name: d.Name, policy: p, params: maps.Clone(d.Params)}
	}
	return r, nil
}

// lookup returns the definition of chaincode name.
func (r *registry) lookup(name string) (*definition, bool) {
	d, ok := r.defs[name]
	return d, ok
}

// names lists the defined chaincodes, sorted.
func (r *registry) names() []string { return slices.Sorted(maps.Keys(r.defs)) }

// params returns the parameters of chaincode name (nil if undefined), for
// chaincode.Transaction.DefinitionParams.
func (r *registry) params(name string) map[string]string {
	if d, ok := r.defs[name]; ok {
		return maps.Clone(d.params)
	}
	return nil
}

// forMembers returns the validator's view of the definitions under a
// configuration whose members are members, with committed the lifecycle
// definitions in force (nil: none).
func (r *registry) forMembers(members []string, committed *definitionSet) validator.Definitions {
	return definitionsView{r: r, committed: committed, members: members}
}

// definitionsView implements validator.Definitions for one block: the
// static definitions, then the lifecycle definitions committed before the
// block.
type definitionsView struct {
	r         *registry
	committed *definitionSet
	members   []string
}

// EndorsementPolicy implements validator.Definitions.
func (v definitionsView) EndorsementPolicy(namespace string) (*pb.Policy, error) {
	if d, ok := v.r.lookup(namespace); ok {
		return d.policy, nil
	}
	if d, ok := v.committed.lookup(namespace); ok {
		return d.policy, nil
	}
	return nil, fmt.Errorf("%w: %q", validator.ErrUnknownChaincode, namespace)
}

// CollectionPolicy implements validator.Definitions: a defined chaincode
// has one implicit collection per current member, endorsed by that
// member's peers, and a committed definition also has its explicit
// collections, endorsed per their policy.
func (v definitionsView) CollectionPolicy(namespace, collection string) (*pb.Policy, error) {
	_, static := v.r.lookup(namespace)
	committed, ok := v.committed.lookup(namespace)
	if !static && !ok {
		return nil, fmt.Errorf("%w: %q", validator.ErrUnknownChaincode, namespace)
	}
	if msp, ok := implicitCollectionMember(collection, v.members); ok {
		return policy.Signature(policy.SignedBy(msp, string(pki.RolePeer))), nil
	}
	if !static && committed != nil {
		if p, ok := committed.collections[collection]; ok {
			return p, nil
		}
	}
	return nil, fmt.Errorf("%w: %s of chaincode %s", chaincode.ErrUnknownCollection, contract.QuoteKey(collection), namespace)
}

// implicitCollectionMember returns the member whose implicit collection is
// named collection, if that member is one of members.
func implicitCollectionMember(collection string, members []string) (string, bool) {
	msp, ok := strings.CutPrefix(collection, ImplicitCollectionPrefix)
	if !ok || !slices.Contains(members, msp) {
		return "", false
	}
	return msp, true
}
