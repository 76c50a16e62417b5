package ngac

import "sort"

// checkInvariants verifies the internal consistency of g: the bounds, the
// kind rules, the symmetry of the parent/child, association and prohibition
// indexes and their order, and the counters. It is linear in the size of g.
func (g *Graph) checkInvariants() error {
	if len(g.nodes) > MaxNodes || g.assignments > MaxAssignments || g.associations > MaxAssociations ||
		len(g.prohibitions) > MaxProhibitions || len(g.rights) > MaxResourceRights {
		return errorf(ErrLimit, "graph exceeds a size bound")
	}
	if !sort.StringsAreSorted(g.rights) {
		return errorf(ErrInvalid, "resource rights are not sorted")
	}
	pcs, assignments, associations := 0, 0, 0
	condRefs := make(map[*node]int)
	for name, n := range g.nodes {
		if n.name != name || g.nodes[name] != n {
			return errorf(ErrInvalid, "node index is inconsistent at %q", name)
		}
		if err := validateName(n.kind.String(), name); err != nil {
			return err
		}
		if n.kind == PolicyClass {
			pcs++
			if len(n.parents) != 0 {
				return errorf(ErrInvalid, "policy class %q is assigned", name)
			}
		} else if len(n.parents) == 0 {
			return errorf(ErrInvalid, "%s %q is not assigned", n.kind, name)
		}
		for i, p := range n.parents {
			if g.nodes[p.name] != p || !canAssign(n.kind, p.kind) || !hasNode(p.children, name) ||
				(i > 0 && n.parents[i-1].name >= p.name) {
				return errorf(ErrInvalid, "assignment %q -> %q is inconsistent", name, p.name)
			}
		}
		for i, c := range n.children {
			if g.nodes[c.name] != c || !hasNode(c.parents, name) || (i > 0 && n.children[i-1].name >= c.name) {
				return errorf(ErrInvalid, "assignment %q -> %q is inconsistent", c.name, name)
			}
		}
		assignments += len(n.parents)
		for i, a := range n.out {
			if a.source != n || n.kind != UserAttribute || g.nodes[a.target.name] != a.target ||
				(i > 0 && n.out[i-1].target.name >= a.target.name) {
				return errorf(ErrInvalid, "association from %q is inconsistent", name)
			}
			if j, ok := indexByName(a.target.in, name, assocSourceName); !ok || a.target.in[j] != a {
				return errorf(ErrInvalid, "association %q -> %q is inconsistent", name, a.target.name)
			}
			if _, err := g.normalizeRights("association", a.rights); err != nil {
				return err
			}
			associations++
		}
		for i, a := range n.in {
			if a.target != n || (n.kind != UserAttribute && n.kind != ObjectAttribute) ||
				(i > 0 && n.in[i-1].source.name >= a.source.name) {
				return errorf(ErrInvalid, "association to %q is inconsistent", name)
			}
			if j, ok := indexByName(a.source.out, name, assocTargetName); !ok || a.source.out[j] != a {
				return errorf(ErrInvalid, "association %q -> %q is inconsistent", a.source.name, name)
			}
		}
		for i, p := range n.subjectOf {
			if p.subject != n || g.prohibitions[p.name] != p || (i > 0 && n.subjectOf[i-1].name >= p.name) {
				return errorf(ErrInvalid, "prohibition index of %q is inconsistent", name)
			}
		}
	}
	for name, p := range g.prohibitions {
		if p.name != name || g.nodes[p.subject.name] != p.subject || (p.subject.kind != User && p.subject.kind != UserAttribute) {
			return errorf(ErrInvalid, "prohibition %q is inconsistent", name)
		}
		if _, ok := indexByName(p.subject.subjectOf, name, prohibitionName); !ok {
			return errorf(ErrInvalid, "prohibition %q is missing from its subject's index", name)
		}
		if len(p.conds) == 0 || len(p.conds) > MaxProhibitionContainers {
			return errorf(ErrInvalid, "prohibition %q has %d container conditions", name, len(p.conds))
		}
		for i, c := range p.conds {
			if g.nodes[c.container.name] != c.container || c.container.kind == User ||
				(i > 0 && p.conds[i-1].container.name >= c.container.name) {
				return errorf(ErrInvalid, "prohibition %q has an inconsistent container", name)
			}
			condRefs[c.container]++
		}
		if _, err := g.normalizeRights("prohibition", p.rights); err != nil {
			return err
		}
	}
	for _, n := range g.nodes {
		if n.condRefs != condRefs[n] {
			return errorf(ErrInvalid, "container references of %q are inconsistent", n.name)
		}
	}
	if pcs != g.policyClasses || pcs > MaxPolicyClasses || assignments != g.assignments || associations != g.associations {
		return errorf(ErrInvalid, "graph counters are inconsistent")
	}
	return g.checkAcyclic()
}
