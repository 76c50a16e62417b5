package peer

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/blossom-ledger/blossom/internal/chaincode"
	"github.com/blossom-ledger/blossom/internal/chaincode/ccpackage"
	"github.com/blossom-ledger/blossom/internal/ledger"
	"github.com/blossom-ledger/blossom/internal/lifecycle"
	"github.com/blossom-ledger/blossom/internal/policy"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// committedDefinition is a chaincode definition committed through
// _lifecycle, checked and with its policies parsed.
type committedDefinition struct {
	def    *lifecycle.Definition
	raw    []byte // the canonical JSON stored under lifecycle.DefinitionKey
	policy *pb.Policy
	// collections holds the explicit collections' policies by name.
	collections map[string]*pb.Policy
	// explicit holds the explicit collections by name.
	explicit map[string]explicitCollection
}

// parseCommittedDefinition decodes a stored definition.
func parseCommittedDefinition(raw []byte) (*committedDefinition, error) {
	d, err := lifecycle.DecodeDefinition(raw)
	if err != nil {
		return nil, err
	}
	p, err := policy.Parse(d.EndorsementPolicy)
	if err != nil {
		return nil, fmt.Errorf("chaincode %s endorsement policy: %w", d.Name, err)
	}
	cd := &committedDefinition{def: d, raw: slices.Clone(raw), policy: p, collections: make(map[string]*pb.Policy, len(d.Collections)), explicit: make(map[string]explicitCollection, len(d.Collections))}
	for _, c := range d.Collections {
		cp, err := policy.Parse(c.Policy)
		if err != nil {
			return nil, fmt.Errorf("chaincode %s collection %s policy: %w", d.Name, c.Name, err)
		}
		cd.collections[c.Name] = cp
		cd.explicit[c.Name] = explicitCollection{def: c, named: policyMembers(cp)}
	}
	return cd, nil
}

// definitionSet is the set of chaincode definitions committed on a
// channel as of a height. It is immutable.
type definitionSet struct {
	byName map[string]*committedDefinition
}

var emptyDefinitionSet = &definitionSet{byName: map[string]*committedDefinition{}}

func (s *definitionSet) lookup(name string) (*committedDefinition, bool) {
	if s == nil {
		return nil, false
	}
	d, ok := s.byName[name]
	return d, ok
}

// summary lists the definitions as name:sequence, sorted.
func (s *definitionSet) summary() []string {
	out := make([]string, 0, len(s.byName))
	for name, d := range s.byName {
		out = append(out, fmt.Sprintf("%s:%d", name, d.def.Sequence))
	}
	slices.Sort(out)
	return out
}

// loadDefinitions reads every committed definition from the committed
// state. A stored definition that does not decode is an error: the
// lifecycle only stores checked ones, so it means a corrupt ledger or an
// incompatible peer.
func loadDefinitions(state ledger.StateReader) (*definitionSet, error) {
	it, err := state.Range(lifecycle.Name, "namespaces/", "namespaces0")
	if err != nil {
		return nil, fmt.Errorf("read chaincode definitions: %w", err)
	}
	defer it.Close()
	set := &definitionSet{byName: map[string]*committedDefinition{}}
	for it.Next() {
		if !strings.HasSuffix(it.Key(), "/definition") {
			continue
		}
		d, err := parseCommittedDefinition(it.Value())
		if err != nil {
			return nil, fmt.Errorf("committed chaincode definition %s: %w", contract.QuoteKey(it.Key()), err)
		}
		set.byName[d.def.Name] = d
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("read chaincode definitions: %w", err)
	}
	return set, nil
}

// writesDefinitions reports whether a block's public writes touch
// committed definitions (a _lifecycle Commit).
func writesDefinitions(writes [][]ledger.Write) bool {
	for _, ws := range writes {
		for _, w := range ws {
			if w.Namespace == lifecycle.Name && strings.HasPrefix(w.Key, "namespaces/") {
				return true
			}
		}
	}
	return false
}

// PackageNotInstalledError is the endorser's refusal of a chaincode whose
// committed definition names a package this peer does not hold.
type PackageNotInstalledError struct {
	Chaincode string
	Sequence  uint64
	// PackageID is the definition's package.
	PackageID string
	// Held are the packages with the same label this peer holds.
	Held []string
}

func (e *PackageNotInstalledError) Error() string {
	held := "none with that label"
	if len(e.Held) > 0 {
		held = strings.Join(e.Held, ", ")
	}
	return fmt.Sprintf("chaincode %s: its definition (sequence %d) runs package %s, which this peer has not installed (it holds %s)", e.Chaincode, e.Sequence, e.PackageID, held)
}

// resolvedChaincode is how a transaction runs one chaincode.
type resolvedChaincode struct {
	static    *definition          // a system or statically registered chaincode
	committed *committedDefinition // a lifecycle definition
	native    contract.Chaincode   // its native implementation, if the peer has one
}

// initVersion is the definition's version when it requires
// initialisation (chaincode.Transaction.InitVersion), else "".
func (rc *resolvedChaincode) initVersion() string {
	if rc.committed == nil || !rc.committed.def.InitRequired {
		return ""
	}
	return rc.committed.def.Version
}

// txRuntime is the chaincode.Runtime of one simulation: it resolves each
// chaincode the transaction invokes to the definition in force at the
// simulation's snapshot (read from the snapshot itself, so that the code
// that runs is the code of the definition whose sequence the simulation
// records as read), and runs it natively or in the wasm runtime.
type txRuntime struct {
	n       *Node
	ch      *Channel
	members []string
	snap    *ledger.Snapshot

	mu       sync.Mutex
	resolved map[string]*resolvedChaincode
}

func (n *Node) newTxRuntime(ch *Channel, members []string, snap *ledger.Snapshot) *txRuntime {
	return &txRuntime{n: n, ch: ch, members: members, snap: snap, resolved: map[string]*resolvedChaincode{}}
}

// resolve finds chaincode name: a static definition, else the committed
// definition in the snapshot and an implementation of its package.
func (r *txRuntime) resolve(name string) (*resolvedChaincode, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rc, ok := r.resolved[name]; ok {
		return rc, nil
	}
	rc, err := r.find(name)
	if err != nil {
		return nil, err
	}
	r.resolved[name] = rc
	return rc, nil
}

func (r *txRuntime) find(name string) (*resolvedChaincode, error) {
	if d, ok := r.n.reg.lookup(name); ok {
		return &resolvedChaincode{static: d}, nil
	}
	if lifecycle.ValidateName(name) != nil {
		return nil, fmt.Errorf("%w: %s", chaincode.ErrChaincodeNotFound, name)
	}
	vv, err := r.snap.Get(lifecycle.Name, lifecycle.DefinitionKey(name))
	if err != nil {
		return nil, fmt.Errorf("read the definition of chaincode %s: %w", name, err)
	}
	if vv == nil {
		return nil, fmt.Errorf("%w: %s", chaincode.ErrChaincodeNotFound, name)
	}
	cd, ok := r.ch.definitions.Load().lookup(name)
	if !ok || !bytes.Equal(cd.raw, vv.Value) {
		if cd, err = parseCommittedDefinition(vv.Value); err != nil {
			return nil, fmt.Errorf("committed definition of chaincode %s: %w", name, err)
		}
	}
	rc := &resolvedChaincode{committed: cd}
	if native, ok := r.n.cfg.NativePackages[cd.def.PackageID]; ok {
		rc.native = native
		return rc, nil
	}
	if !r.n.packages.holds(cd.def.PackageID) {
		return nil, &PackageNotInstalledError{Chaincode: name, Sequence: cd.def.Sequence, PackageID: cd.def.PackageID, Held: r.n.packages.withLabelOf(cd.def.PackageID)}
	}
	return rc, nil
}

// Invoke implements chaincode.Runtime.
func (r *txRuntime) Invoke(ctx context.Context, stub contract.Stub, name, function string, args [][]byte) (*pb.Response, error) {
	rc, err := r.resolve(name)
	if err != nil {
		return nil, err
	}
	switch {
	case rc.static != nil:
		return r.n.reg.runtime.Invoke(ctx, stub, name, function, args)
	case rc.native != nil:
		return chaincode.InvokeNative(ctx, rc.native, stub, name, function, args)
	}
	return r.n.packages.rt.InvokePackage(ctx, stub, name, rc.committed.def.PackageID, rc.committed.def.Limits(), function, args)
}

// params returns a chaincode's definition parameters
// (chaincode.Transaction.DefinitionParams): _lifecycle gets the members
// of the configuration in force (lifecycle.MembersParam).
func (r *txRuntime) params(name string) map[string]string {
	if name == lifecycle.Name {
		return map[string]string{lifecycle.MembersParam: strings.Join(r.members, ",")}
	}
	rc, err := r.resolve(name)
	switch {
	case err != nil:
		return nil
	case rc.static != nil:
		return r.n.reg.params(name)
	}
	return maps.Clone(rc.committed.def.Params)
}

// packageLabel returns the label of a package ID ("" if malformed).
func packageLabel(id string) string {
	label, _, err := ccpackage.ParseID(id)
	if err != nil {
		return ""
	}
	return label
}
