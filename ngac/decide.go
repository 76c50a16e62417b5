package ngac

// Subject is the user side of a decision: a user node of the graph (User),
// or a user that is not stored in the graph and is directly assigned to the
// user attributes Attributes, or both (the user node plus extra attributes).
type Subject struct {
	User       string   // a node of kind User, or ""
	Attributes []string // nodes of kind UserAttribute; at most MaxSubjectAttributes
}

// UserSubject is the subject for a user node of the graph.
func UserSubject(user string) Subject { return Subject{User: user} }

// AttributeSubject is the subject for a user who is not in the graph and is
// directly assigned to the given user attributes.
func AttributeSubject(attributes ...string) Subject { return Subject{Attributes: attributes} }

// Decide reports whether subject holds the declared resource right on target
// (a user, user attribute, object or object attribute), by the decision
// function described in the package documentation. Errors report an unknown
// or ill-typed subject or target or an undeclared right; they never mean
// "denied".
func (g *Graph) Decide(subject Subject, target, right string) (bool, error) {
	if !g.HasResourceRight(right) {
		return false, errorf(ErrNotFound, "resource right %q is not declared", right)
	}
	ev, err := g.evaluate(subject, target, right)
	if err != nil {
		return false, err
	}
	return ev.granted(right), nil
}

// Privileges returns the declared rights subject holds on target, sorted.
func (g *Graph) Privileges(subject Subject, target string) ([]string, error) {
	ev, err := g.evaluate(subject, target, "")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range g.rights {
		if ev.granted(r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// evaluation is the outcome of one decision walk.
type evaluation struct {
	targetPCs  uint64            // policy classes containing the target
	allMask    uint64            // policy classes in which some AllRights association applies
	rightMasks map[string]uint64 // per right: policy classes in which it is granted
	denyAll    bool              // an applicable prohibition denies AllRights
	denied     map[string]bool   // rights denied by applicable prohibitions
}

func (ev *evaluation) granted(r string) bool {
	if ev.targetPCs == 0 || ev.denyAll || ev.denied[r] {
		return false
	}
	return (ev.rightMasks[r]|ev.allMask)&ev.targetPCs == ev.targetPCs
}

// subjectClosure returns the subject's nodes and every user attribute that
// contains them, each once, in a deterministic order.
func (g *Graph) subjectClosure(s Subject) ([]*node, map[*node]bool, error) {
	if s.User == "" && len(s.Attributes) == 0 {
		return nil, nil, errorf(ErrInvalid, "decision subject names no user and no user attribute")
	}
	if len(s.Attributes) > MaxSubjectAttributes {
		return nil, nil, errorf(ErrLimit, "decision subject names more than %d user attributes", MaxSubjectAttributes)
	}
	var start []*node
	if s.User != "" {
		u, ok := g.nodes[s.User]
		if !ok {
			return nil, nil, errorf(ErrNotFound, "user %q does not exist", s.User)
		}
		if u.kind != User {
			return nil, nil, errorf(ErrInvalid, "subject %q is a %s, not a user", s.User, u.kind)
		}
		start = append(start, u)
	}
	for _, a := range s.Attributes {
		n, ok := g.nodes[a]
		if !ok {
			return nil, nil, errorf(ErrNotFound, "user attribute %q does not exist", a)
		}
		if n.kind != UserAttribute {
			return nil, nil, errorf(ErrInvalid, "subject attribute %q is a %s, not a UA", a, n.kind)
		}
		start = append(start, n)
	}
	seen := make(map[*node]bool, 16)
	order := make([]*node, 0, 16)
	for _, n := range start {
		if !seen[n] {
			seen[n] = true
			order = append(order, n)
		}
	}
	for i := 0; i < len(order); i++ { // breadth-first; order grows while walking
		for _, p := range order[i].parents {
			if !seen[p] {
				seen[p] = true
				order = append(order, p)
			}
		}
	}
	return order, seen, nil
}

// evaluate walks the subject's and the target's ancestors once. With want
// != "" it accumulates grants and denials for that right only.
func (g *Graph) evaluate(s Subject, targetName, want string) (*evaluation, error) {
	users, userSet, err := g.subjectClosure(s)
	if err != nil {
		return nil, err
	}
	t, ok := g.nodes[targetName]
	if !ok {
		return nil, errorf(ErrNotFound, "target %q does not exist", targetName)
	}
	if t.kind == PolicyClass {
		return nil, errorf(ErrInvalid, "target %q is a policy class", targetName)
	}

	// Post-order depth-first walk over the target's ancestors: a node is
	// finished after all its parents, so its policy-class set is the union
	// of theirs (a policy class's set is itself). Each node is visited once.
	masks := make(map[*node]uint64, 32)
	var order []*node // finished nodes
	pcBit := make(map[*node]uint64, 4)
	type frame struct {
		n    *node
		next int
	}
	stack := []frame{{n: t}}
	onStack := map[*node]bool{t: true}
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.next < len(f.n.parents) {
			p := f.n.parents[f.next]
			f.next++
			if _, done := masks[p]; !done && !onStack[p] {
				onStack[p] = true
				stack = append(stack, frame{n: p})
			}
			continue
		}
		n := f.n
		var m uint64
		if n.kind == PolicyClass {
			m = uint64(1) << uint(len(pcBit)) // at most MaxPolicyClasses = 64 exist
			pcBit[n] = m
		} else {
			for _, p := range n.parents {
				m |= masks[p]
			}
		}
		masks[n] = m
		delete(onStack, n)
		order = append(order, n)
		stack = stack[:len(stack)-1]
	}

	ev := &evaluation{targetPCs: masks[t], rightMasks: make(map[string]uint64, 8), denied: make(map[string]bool)}
	for _, a := range order {
		for _, as := range a.in {
			if !userSet[as.source] {
				continue
			}
			m := masks[a]
			for _, r := range as.rights {
				switch {
				case r == AllRights:
					ev.allMask |= m
				case want == "" || r == want:
					ev.rightMasks[r] |= m
				}
			}
		}
	}

	contained := func(c *node) bool { _, ok := masks[c]; return ok }
	for _, u := range users {
		for _, p := range u.subjectOf {
			if !p.appliesTo(contained) {
				continue
			}
			for _, r := range p.rights {
				switch {
				case r == AllRights:
					ev.denyAll = true
				case want == "" || r == want:
					ev.denied[r] = true
				}
			}
		}
	}
	return ev, nil
}

// appliesTo reports whether the prohibition's container conditions hold for
// a target whose containers are reported by contained.
func (p *prohibition) appliesTo(contained func(*node) bool) bool {
	for _, c := range p.conds {
		met := contained(c.container) != c.complement
		if p.intersection && !met {
			return false
		}
		if !p.intersection && met {
			return true
		}
	}
	return p.intersection
}
