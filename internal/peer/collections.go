package peer

import (
	"slices"

	"github.com/blossom-ledger/blossom/internal/lifecycle"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// explicitCollection is a collection of a committed definition with the
// members its policy names.
type explicitCollection struct {
	def lifecycle.Collection
	// named are the MSP IDs the collection's signature policy names,
	// sorted; nil for an implicit meta policy (every current member).
	named []string
}

// policyMembers lists the MSP IDs a policy names (nil: an implicit meta
// policy, which counts every member).
func policyMembers(p *pb.Policy) []string {
	if p.GetImplicitMeta() != nil {
		return nil
	}
	seen := map[string]bool{}
	var walk func(sp *pb.SignaturePolicy, depth int)
	walk = func(sp *pb.SignaturePolicy, depth int) {
		if sp == nil || depth > 64 {
			return
		}
		if by := sp.GetSignedBy(); by != nil {
			seen[by.GetMspId()] = true
		}
		for _, r := range sp.GetNOutOf().GetRules() {
			walk(r, depth+1)
		}
	}
	walk(p.GetSignature(), 0)
	out := make([]string, 0, len(seen))
	for m := range seen {
		out = append(out, m)
	}
	slices.Sort(out)
	return out
}

// collectionView resolves the private data collections of a channel under
// a configuration (its members) and the committed definitions: a
// chaincode's implicit collection of each current member, whose one
// member is its owner, and the explicit collections of its committed
// definition, whose members are the current members its policy names.
type collectionView struct {
	members []string
	defs    *definitionSet
	reg     *registry
}

func (c *Channel) collections(members []string) collectionView {
	return collectionView{members: members, defs: c.definitions.Load(), reg: c.reg}
}

// membersOf returns the members of collection coll of chaincode ns and,
// for an explicit collection, its definition; ok is false for a
// collection that does not exist.
func (v collectionView) membersOf(ns, coll string) (members []string, explicit *lifecycle.Collection, ok bool) {
	if msp, ok := implicitCollectionMember(coll, v.members); ok {
		return []string{msp}, nil, true
	}
	if _, static := v.reg.lookup(ns); static {
		return nil, nil, false
	}
	cd, ok := v.defs.lookup(ns)
	if !ok {
		return nil, nil, false
	}
	c, ok := cd.explicit[coll]
	if !ok {
		return nil, nil, false
	}
	if c.named == nil {
		return slices.Clone(v.members), &c.def, true
	}
	for _, m := range c.named {
		if slices.Contains(v.members, m) {
			members = append(members, m)
		}
	}
	return members, &c.def, true
}

// blockToLive returns how many blocks the private values of collection
// coll of ns live (0: forever), for ledger.CommitResult.BlockToLive:
// an explicit collection's blockToLive; implicit collections keep their
// values.
func (v collectionView) blockToLive(ns, coll string) uint64 {
	if _, c, ok := v.membersOf(ns, coll); ok && c != nil {
		return c.BlockToLive
	}
	return 0
}

// holds reports whether member msp belongs to collection coll of ns.
func (v collectionView) holds(msp, ns, coll string) bool {
	members, _, ok := v.membersOf(ns, coll)
	return ok && slices.Contains(members, msp)
}
