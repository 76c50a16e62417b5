package ngac

import (
	"fmt"
	"testing"
)

// testRights are the rights every generated graph declares.
var testRights = []string{"r0", "r1", "r2", "r3"}

// byteReader hands out fuzz or pseudo-random bytes; it returns 0 when
// exhausted so that every input builds some graph.
type byteReader struct {
	data []byte
	pos  int
}

func (r *byteReader) next() byte {
	if r.pos >= len(r.data) {
		return 0
	}
	b := r.data[r.pos]
	r.pos++
	return b
}

func (r *byteReader) done() bool { return r.pos >= len(r.data) }

func (r *byteReader) pick(list []string) string {
	if len(list) == 0 {
		return ""
	}
	return list[int(r.next())%len(list)]
}

// rightsFrom turns the low four bits of b into a right set; 0 means AllRights.
func rightsFrom(b byte) []string {
	var rs []string
	for i, r := range testRights {
		if b&(1<<i) != 0 {
			rs = append(rs, r)
		}
	}
	if len(rs) == 0 {
		return []string{AllRights}
	}
	return rs
}

// buildFromBytes interprets data as a program of graph operations and
// returns the graph it builds. Failing operations are part of the test: they
// must leave the graph valid. It is used by the fuzz targets and, fed with
// pseudo-random bytes, by the property tests.
func buildFromBytes(t testing.TB, data []byte) *Graph {
	t.Helper()
	r := &byteReader{data: data}
	g := New()
	if err := g.AddResourceRights(testRights...); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1+int(r.next()%3); i++ {
		if err := g.CreatePolicyClass(fmt.Sprintf("pc%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	const maxOps, maxNodes = 80, 28
	for op := 0; op < maxOps && !r.done(); op++ {
		nodes, _, _, _ := g.Size()
		uaParents := g.Nodes(UserAttribute, PolicyClass)
		oaParents := g.Nodes(ObjectAttribute, PolicyClass)
		name := fmt.Sprintf("n%d", r.next()%32)
		var err error
		switch r.next() % 11 {
		case 0:
			if nodes < maxNodes {
				err = g.CreateUserAttribute(name, r.pick(uaParents))
			}
		case 1:
			if nodes < maxNodes {
				err = g.CreateObjectAttribute(name, r.pick(oaParents))
			}
		case 2:
			if uas := g.Nodes(UserAttribute); nodes < maxNodes && len(uas) > 0 {
				err = g.CreateUser(name, r.pick(uas))
			}
		case 3:
			if oas := g.Nodes(ObjectAttribute); nodes < maxNodes && len(oas) > 0 {
				err = g.CreateObject(name, r.pick(oas))
			}
		case 4:
			all := g.Nodes()
			err = g.Assign(r.pick(all), r.pick(all))
		case 5:
			all := g.Nodes()
			child := r.pick(all)
			err = g.Deassign(child, r.pick(g.Parents(child)))
		case 6:
			err = g.Associate(r.pick(g.Nodes(UserAttribute)), r.pick(g.Nodes(UserAttribute, ObjectAttribute)), rightsFrom(r.next())...)
		case 7:
			as := g.Associations()
			if len(as) > 0 {
				a := as[int(r.next())%len(as)]
				err = g.Dissociate(a.Source, a.Target)
			}
		case 8:
			p := Prohibition{
				Name:         fmt.Sprintf("p%d", r.next()%8),
				Subject:      r.pick(g.Nodes(User, UserAttribute)),
				Rights:       rightsFrom(r.next()),
				Intersection: r.next()%2 == 0,
			}
			candidates := g.Nodes(PolicyClass, UserAttribute, ObjectAttribute, Object)
			for i := 0; i < 1+int(r.next()%3); i++ {
				p.Containers = append(p.Containers, ContainerCondition{Container: r.pick(candidates), Complement: r.next()%2 == 0})
			}
			err = g.CreateProhibition(p)
		case 9:
			ps := g.Prohibitions()
			if len(ps) > 0 {
				err = g.DeleteProhibition(ps[int(r.next())%len(ps)].Name)
			}
		case 10:
			err = g.DeleteNode(r.pick(g.Nodes()))
		}
		_ = err // refusals are expected; the graph must stay consistent
		if cerr := g.checkInvariants(); cerr != nil {
			t.Fatalf("invariants broken after op %d (op error %v): %v", op, err, cerr)
		}
	}
	return g
}

// testSubjects returns subjects covering every user, every user attribute
// and some pairs of user attributes.
func testSubjects(g *Graph) []Subject {
	var out []Subject
	for _, u := range g.Nodes(User) {
		out = append(out, UserSubject(u))
	}
	uas := g.Nodes(UserAttribute)
	for i, a := range uas {
		out = append(out, AttributeSubject(a))
		if i > 0 {
			out = append(out, AttributeSubject(uas[i-1], a))
		}
	}
	if us := g.Nodes(User); len(us) > 0 && len(uas) > 0 {
		out = append(out, Subject{User: us[0], Attributes: []string{uas[len(uas)-1]}})
	}
	return out
}

// testTargets returns every node a decision may target.
func testTargets(g *Graph) []string {
	return g.Nodes(User, UserAttribute, ObjectAttribute, Object)
}

// oracle decides by the rule of the package documentation (spec §4.1),
// written literally over a transitive closure computed with Floyd-Warshall
// from the public accessors only, independently of the decision code. It
// must be rebuilt after the graph changes.
type oracle struct {
	g        *Graph
	contains map[[2]string]bool // reflexive-transitive containment
}

func newOracle(g *Graph) *oracle {
	o := &oracle{g: g, contains: make(map[[2]string]bool)}
	all := g.Nodes()
	for _, n := range all {
		o.contains[[2]string{n, n}] = true
		for _, p := range g.Parents(n) {
			o.contains[[2]string{n, p}] = true
		}
	}
	for _, k := range all {
		for _, i := range all {
			if !o.contains[[2]string{i, k}] {
				continue
			}
			for _, j := range all {
				if o.contains[[2]string{k, j}] {
					o.contains[[2]string{i, j}] = true
				}
			}
		}
	}
	return o
}

func rightsInclude(rs []string, r string) bool {
	for _, x := range rs {
		if x == r || x == AllRights {
			return true
		}
	}
	return false
}

func (o *oracle) decide(s Subject, target, right string) bool {
	in := func(n, c string) bool { return o.contains[[2]string{n, c}] }
	inSubject := func(ua string) bool {
		if s.User != "" && in(s.User, ua) {
			return true
		}
		for _, a := range s.Attributes {
			if in(a, ua) {
				return true
			}
		}
		return false
	}
	var pcs []string
	for _, pc := range o.g.Nodes(PolicyClass) {
		if in(target, pc) {
			pcs = append(pcs, pc)
		}
	}
	if len(pcs) == 0 {
		return false
	}
	for _, pc := range pcs {
		found := false
		for _, a := range o.g.Associations() {
			if rightsInclude(a.Rights, right) && inSubject(a.Source) && in(target, a.Target) && in(a.Target, pc) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	for _, p := range o.g.Prohibitions() {
		if !inSubject(p.Subject) || !rightsInclude(p.Rights, right) {
			continue
		}
		applies := p.Intersection
		for _, c := range p.Containers {
			met := in(target, c.Container) != c.Complement
			if p.Intersection {
				applies = applies && met
			} else {
				applies = applies || met
			}
		}
		if applies {
			return false
		}
	}
	return true
}

// refDecide is a one-shot oracle decision.
func refDecide(g *Graph, s Subject, target, right string) bool {
	return newOracle(g).decide(s, target, right)
}

// decisionKey names one decision in failure messages.
func decisionKey(s Subject, target, right string) string {
	return fmt.Sprintf("subject %+v, target %q, right %q", s, target, right)
}

// allDecisions evaluates every (subject, target, right) of the graph.
func allDecisions(t testing.TB, g *Graph, subjects []Subject, targets []string) map[string]bool {
	t.Helper()
	out := make(map[string]bool)
	for _, s := range subjects {
		for _, target := range targets {
			for _, r := range g.ResourceRights() {
				ok, err := g.Decide(s, target, r)
				if err != nil {
					t.Fatalf("Decide(%s): %v", decisionKey(s, target, r), err)
				}
				out[decisionKey(s, target, r)] = ok
			}
		}
	}
	return out
}
