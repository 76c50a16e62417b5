package ngac

import (
	"errors"
	"fmt"
	"math/rand"
	"testing"
)

func TestDecide(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(g *Graph) error
		subject Subject
		target  string
		right   string
		want    bool
	}{
		// plan is in pc1 and pc2: a right needs a grant in both.
		{"granted in every class", nil, UserSubject("alice"), "plan", "read", true},
		{"write granted in pc1 by admins, in pc2 by AllRights", nil, UserSubject("alice"), "plan", "write", true},
		{"no grant in pc1", nil, UserSubject("alice"), "plan", "delete", false},
		{"bob lacks pc2", nil, UserSubject("bob"), "plan", "read", false},
		{"single class object", nil, UserSubject("bob"), "memo", "read", true},
		{"right not granted", nil, UserSubject("bob"), "memo", "write", false},
		{"attribute subject", nil, AttributeSubject("admins", "cleared"), "plan", "write", true},
		{"attribute subject missing class", nil, AttributeSubject("admins"), "plan", "read", false},
		{"user plus attribute", nil, Subject{User: "bob", Attributes: []string{"cleared"}}, "plan", "read", true},
		{"decision on an attribute", nil, UserSubject("bob"), "secret", "read", true},
		{"association target itself", nil, UserSubject("alice"), "vault", "delete", true},
		{"intersection prohibition applies", func(g *Graph) error {
			return g.CreateProhibition(Prohibition{Name: "p", Subject: "admins", Rights: []string{"write"}, Intersection: true,
				Containers: []ContainerCondition{{Container: "docs"}, {Container: "vault"}}})
		}, UserSubject("alice"), "plan", "write", false},
		{"intersection prohibition needs every condition", func(g *Graph) error {
			return g.CreateProhibition(Prohibition{Name: "p", Subject: "staff", Rights: []string{"read"}, Intersection: true,
				Containers: []ContainerCondition{{Container: "docs"}, {Container: "vault"}}})
		}, UserSubject("bob"), "memo", "read", true},
		{"union prohibition needs one condition", func(g *Graph) error {
			return g.CreateProhibition(Prohibition{Name: "p", Subject: "staff", Rights: []string{"read"},
				Containers: []ContainerCondition{{Container: "secret"}, {Container: "docs"}}})
		}, UserSubject("bob"), "memo", "read", false},
		{"complement: not in secret", func(g *Graph) error {
			return g.CreateProhibition(Prohibition{Name: "p", Subject: "staff", Rights: []string{"read"}, Intersection: true,
				Containers: []ContainerCondition{{Container: "docs"}, {Container: "secret", Complement: true}}})
		}, UserSubject("bob"), "memo", "read", false},
		{"complement spares what is inside", func(g *Graph) error {
			return g.CreateProhibition(Prohibition{Name: "p", Subject: "staff", Rights: []string{"read"}, Intersection: true,
				Containers: []ContainerCondition{{Container: "docs"}, {Container: "secret", Complement: true}}})
		}, UserSubject("alice"), "plan", "read", true},
		{"prohibition on another attribute", func(g *Graph) error {
			return g.CreateProhibition(Prohibition{Name: "p", Subject: "admins", Rights: []string{"read"},
				Containers: []ContainerCondition{{Container: "docs"}}})
		}, UserSubject("bob"), "memo", "read", true},
		{"prohibition on the user itself", func(g *Graph) error {
			return g.CreateProhibition(Prohibition{Name: "p", Subject: "bob", Rights: []string{"read"},
				Containers: []ContainerCondition{{Container: "memo"}}})
		}, UserSubject("bob"), "memo", "read", false},
		{"prohibition of all rights", func(g *Graph) error {
			return g.CreateProhibition(Prohibition{Name: "p", Subject: "cleared", Rights: []string{AllRights},
				Containers: []ContainerCondition{{Container: "pc2"}}})
		}, UserSubject("alice"), "plan", "read", false},
		{"prohibition on other rights", func(g *Graph) error {
			return g.CreateProhibition(Prohibition{Name: "p", Subject: "cleared", Rights: []string{"delete"},
				Containers: []ContainerCondition{{Container: "pc2"}}})
		}, UserSubject("alice"), "plan", "read", true},
		{"container is the target", func(g *Graph) error {
			return g.CreateProhibition(Prohibition{Name: "p", Subject: "staff", Rights: []string{"read"},
				Containers: []ContainerCondition{{Container: "plan"}}})
		}, UserSubject("alice"), "plan", "read", false},
		{"association on an intermediate attribute counts for its classes only", func(g *Graph) error {
			if err := g.CreateObjectAttribute("both", "pc1", "pc2"); err != nil {
				return err
			}
			if err := g.CreateObject("x", "both"); err != nil {
				return err
			}
			return g.Associate("staff", "both", "write")
		}, UserSubject("bob"), "x", "write", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := smallGraph(t)
			if tt.setup != nil {
				if err := tt.setup(g); err != nil {
					t.Fatal(err)
				}
			}
			got, err := g.Decide(tt.subject, tt.target, tt.right)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Decide = %v, want %v", got, tt.want)
			}
			if ref := refDecide(g, tt.subject, tt.target, tt.right); ref != tt.want {
				t.Errorf("reference decision = %v, want %v (test table or oracle wrong)", ref, tt.want)
			}
		})
	}
}

func TestDecideErrors(t *testing.T) {
	g := smallGraph(t)
	tests := []struct {
		name    string
		subject Subject
		target  string
		right   string
		want    error
	}{
		{"undeclared right", UserSubject("alice"), "plan", "fly", ErrNotFound},
		{"star is not a right", UserSubject("alice"), "plan", AllRights, ErrNotFound},
		{"unknown target", UserSubject("alice"), "nope", "read", ErrNotFound},
		{"policy class target", UserSubject("alice"), "pc1", "read", ErrInvalid},
		{"unknown user", UserSubject("carol"), "plan", "read", ErrNotFound},
		{"user is an attribute", UserSubject("staff"), "plan", "read", ErrInvalid},
		{"attribute is a user", AttributeSubject("alice"), "plan", "read", ErrInvalid},
		{"attribute is an OA", AttributeSubject("docs"), "plan", "read", ErrInvalid},
		{"empty subject", Subject{}, "plan", "read", ErrInvalid},
		{"too many attributes", AttributeSubject(make([]string, MaxSubjectAttributes+1)...), "plan", "read", ErrLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := g.Decide(tt.subject, tt.target, tt.right)
			if !errors.Is(err, tt.want) || ok {
				t.Fatalf("Decide = %v, %v; want false, %v", ok, err, tt.want)
			}
		})
	}
}

func TestPrivileges(t *testing.T) {
	g := smallGraph(t)
	tests := []struct {
		subject Subject
		target  string
		want    string
	}{
		{UserSubject("alice"), "plan", "[read write]"},
		{UserSubject("alice"), "vault", "[delete read write]"},
		{UserSubject("bob"), "plan", "[]"},
		{UserSubject("bob"), "memo", "[read]"},
	}
	for _, tt := range tests {
		got, err := g.Privileges(tt.subject, tt.target)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != tt.want {
			t.Errorf("Privileges(%+v, %q) = %v, want %v", tt.subject, tt.target, got, tt.want)
		}
		for _, r := range g.ResourceRights() {
			ok, _ := g.Decide(tt.subject, tt.target, r)
			if ok != rightsInclude(got, r) {
				t.Errorf("Privileges and Decide disagree on %q", r)
			}
		}
	}
}

// randomBytes returns n deterministic pseudo-random bytes.
func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	rng.Read(b)
	return b
}

// TestDecideMatchesReference compares Decide with the literal decision rule
// on many random small graphs.
func TestDecideMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	decisions, granted, prohibited := 0, 0, 0
	for i := 0; i < 300; i++ {
		g := buildFromBytes(t, randomBytes(rng, 200))
		unprohibited := g.Clone()
		for _, p := range g.Prohibitions() {
			if err := unprohibited.DeleteProhibition(p.Name); err != nil {
				t.Fatal(err)
			}
		}
		ref := newOracle(g)
		for _, s := range testSubjects(g) {
			for _, target := range testTargets(g) {
				for _, r := range testRights {
					got, err := g.Decide(s, target, r)
					if err != nil {
						t.Fatalf("graph %d: %v", i, err)
					}
					if want := ref.decide(s, target, r); got != want {
						t.Fatalf("graph %d: Decide(%s) = %v, reference %v\n%s", i, decisionKey(s, target, r), got, want, mustEncode(t, g))
					}
					decisions++
					if got {
						granted++
					} else if ok, _ := unprohibited.Decide(s, target, r); ok {
						prohibited++
					}
				}
			}
		}
	}
	// The comparison is meaningful only if the generated graphs grant and
	// prohibit a fair share of rights.
	if decisions < 10000 || granted < decisions/50 || prohibited < decisions/200 {
		t.Fatalf("%d decisions compared, %d granted, %d denied by prohibitions: the generator builds too little", decisions, granted, prohibited)
	}
	t.Logf("%d decisions compared, %d granted, %d denied by prohibitions", decisions, granted, prohibited)
}

// TestAddingProhibitionNeverGrants: for random graphs and random new
// prohibitions, every right granted after the addition was granted before.
func TestAddingProhibitionNeverGrants(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	added := 0
	for i := 0; i < 200; i++ {
		g := buildFromBytes(t, randomBytes(rng, 200))
		subjects, targets := testSubjects(g), testTargets(g)
		before := allDecisions(t, g, subjects, targets)
		nodes := g.Nodes(PolicyClass, UserAttribute, ObjectAttribute, Object)
		for j := 0; j < 5; j++ {
			subjectsPool := g.Nodes(User, UserAttribute)
			if len(subjectsPool) == 0 {
				break
			}
			p := Prohibition{
				Name:         fmt.Sprintf("added%d", j),
				Subject:      subjectsPool[rng.Intn(len(subjectsPool))],
				Rights:       rightsFrom(byte(rng.Intn(16))),
				Intersection: rng.Intn(2) == 0,
			}
			for k := 0; k < 1+rng.Intn(3); k++ {
				c := ContainerCondition{Container: nodes[rng.Intn(len(nodes))], Complement: rng.Intn(2) == 0}
				if !containsContainer(p.Containers, c.Container) {
					p.Containers = append(p.Containers, c)
				}
			}
			if err := g.CreateProhibition(p); err != nil {
				t.Fatalf("graph %d: %v", i, err)
			}
			added++
			after := allDecisions(t, g, subjects, targets)
			for k, ok := range after {
				if ok && !before[k] {
					t.Fatalf("graph %d: adding prohibition %+v granted %s", i, p, k)
				}
			}
			before = after
		}
	}
	if added < 200 {
		t.Fatalf("only %d prohibitions added", added)
	}
}

func containsContainer(cs []ContainerCondition, name string) bool {
	for _, c := range cs {
		if c.Container == name {
			return true
		}
	}
	return false
}

// TestRemovingAssociationNeverGrants: for random graphs, removing any
// association never grants a right that was denied.
func TestRemovingAssociationNeverGrants(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	removed, revoked := 0, 0
	for i := 0; i < 200; i++ {
		g := buildFromBytes(t, randomBytes(rng, 200))
		subjects, targets := testSubjects(g), testTargets(g)
		before := allDecisions(t, g, subjects, targets)
		for _, a := range g.Associations() {
			c := g.Clone()
			if err := c.Dissociate(a.Source, a.Target); err != nil {
				t.Fatal(err)
			}
			removed++
			for k, ok := range allDecisions(t, c, subjects, targets) {
				if ok && !before[k] {
					t.Fatalf("graph %d: removing association %+v granted %s", i, a, k)
				}
				if !ok && before[k] {
					revoked++
				}
			}
		}
	}
	if removed < 200 || revoked == 0 {
		t.Fatalf("only %d associations removed, %d rights revoked: the generator builds too little", removed, revoked)
	}
}
