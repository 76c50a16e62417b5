package ngac

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// smallGraph builds a graph used by several tests:
//
//	PC pc1: UA staff <- UA admins <- U alice, U bob (staff only)
//	        OA docs  <- OA secret <- O plan ; O memo in docs
//	        OA archive (no children)
//	PC pc2: UA cleared <- U alice ; OA vault <- O plan
func smallGraph(t testing.TB) *Graph {
	t.Helper()
	g := New()
	steps := []error{
		g.AddResourceRights("read", "write", "delete"),
		g.CreatePolicyClass("pc1"),
		g.CreatePolicyClass("pc2"),
		g.CreateUserAttribute("staff", "pc1"),
		g.CreateUserAttribute("admins", "staff"),
		g.CreateUserAttribute("cleared", "pc2"),
		g.CreateUser("alice", "admins", "cleared"),
		g.CreateUser("bob", "staff"),
		g.CreateObjectAttribute("docs", "pc1"),
		g.CreateObjectAttribute("secret", "docs"),
		g.CreateObjectAttribute("vault", "pc2"),
		g.CreateObject("plan", "secret", "vault"),
		g.CreateObject("memo", "docs"),
		g.Associate("staff", "docs", "read"),
		g.Associate("admins", "secret", "read", "write"),
		g.Associate("cleared", "vault", AllRights),
		g.CreateObjectAttribute("archive", "pc1"),
		g.Associate("staff", "archive", "read"),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	return g
}

func mustEncode(t testing.TB, g *Graph) []byte {
	t.Helper()
	b, err := g.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMutationErrors(t *testing.T) {
	tests := []struct {
		name string
		op   func(g *Graph) error
		want error
		text string // substring of the message
	}{
		{"duplicate node", func(g *Graph) error { return g.CreateObject("memo", "docs") }, ErrExists, `node "memo" already exists`},
		{"duplicate across kinds", func(g *Graph) error { return g.CreatePolicyClass("staff") }, ErrExists, "already exists"},
		{"unknown parent", func(g *Graph) error { return g.CreateObject("x", "nope") }, ErrNotFound, `node "nope" does not exist`},
		{"no parent", func(g *Graph) error { return g.CreateUserAttribute("x") }, ErrInvalid, "at least one"},
		{"parent twice", func(g *Graph) error { return g.CreateObject("x", "docs", "docs") }, ErrInvalid, "named twice"},
		{"user under OA", func(g *Graph) error { return g.CreateUser("x", "docs") }, ErrInvalid, "cannot assign U"},
		{"object under PC", func(g *Graph) error { return g.CreateObject("x", "pc1") }, ErrInvalid, "cannot assign O"},
		{"OA under UA", func(g *Graph) error { return g.CreateObjectAttribute("x", "staff") }, ErrInvalid, "cannot assign OA"},
		{"empty name", func(g *Graph) error { return g.CreatePolicyClass("") }, ErrInvalid, "empty"},
		{"padded name", func(g *Graph) error { return g.CreatePolicyClass(" x") }, ErrInvalid, "white space"},
		{"control char", func(g *Graph) error { return g.CreatePolicyClass("a\nb") }, ErrInvalid, "control"},
		{"invalid utf8", func(g *Graph) error { return g.CreatePolicyClass("a\xffb") }, ErrInvalid, "UTF-8"},
		{"long name", func(g *Graph) error { return g.CreatePolicyClass(strings.Repeat("a", MaxNameLen+1)) }, ErrInvalid, "longer"},
		{"assign exists", func(g *Graph) error { return g.Assign("admins", "staff") }, ErrExists, "already assigned"},
		{"assign self", func(g *Graph) error { return g.Assign("staff", "staff") }, ErrCycle, "cycle"},
		{"assign cycle", func(g *Graph) error { return g.Assign("staff", "admins") }, ErrCycle, "cycle"},
		{"assign deep cycle", func(g *Graph) error { return g.Assign("docs", "secret") }, ErrCycle, "cycle"},
		{"assign kinds", func(g *Graph) error { return g.Assign("memo", "staff") }, ErrInvalid, "cannot assign"},
		{"assign unknown", func(g *Graph) error { return g.Assign("memo", "nope") }, ErrNotFound, "does not exist"},
		{"deassign last", func(g *Graph) error { return g.Deassign("memo", "docs") }, ErrInUse, "last assignment"},
		{"deassign missing", func(g *Graph) error { return g.Deassign("memo", "secret") }, ErrNotFound, "not assigned"},
		{"delete with children", func(g *Graph) error { return g.DeleteNode("docs") }, ErrInUse, "assigned to it"},
		{"delete associated", func(g *Graph) error { return g.DeleteNode("archive") }, ErrInUse, "association"},
		{"delete unknown", func(g *Graph) error { return g.DeleteNode("nope") }, ErrNotFound, "does not exist"},
		{"associate exists", func(g *Graph) error { return g.Associate("staff", "docs", "write") }, ErrExists, "already exists"},
		{"associate from OA", func(g *Graph) error { return g.Associate("docs", "secret", "read") }, ErrInvalid, "not a UA"},
		{"associate to object", func(g *Graph) error { return g.Associate("staff", "memo", "read") }, ErrInvalid, "not a UA or OA"},
		{"associate no rights", func(g *Graph) error { return g.Associate("staff", "vault") }, ErrInvalid, "no right"},
		{"associate undeclared", func(g *Graph) error { return g.Associate("staff", "vault", "fly") }, ErrNotFound, "not declared"},
		{"associate star mixed", func(g *Graph) error { return g.Associate("staff", "vault", AllRights, "read") }, ErrInvalid, "combined"},
		{"associate right twice", func(g *Graph) error { return g.Associate("staff", "vault", "read", "read") }, ErrInvalid, "twice"},
		{"dissociate missing", func(g *Graph) error { return g.Dissociate("staff", "vault") }, ErrNotFound, "does not exist"},
		{"right declared twice", func(g *Graph) error { return g.AddResourceRights("read") }, ErrExists, "already declared"},
		{"right bad name", func(g *Graph) error { return g.AddResourceRights("a b") }, ErrInvalid, "may contain only"},
		{"right star", func(g *Graph) error { return g.AddResourceRights(AllRights) }, ErrInvalid, "may contain only"},
		{"prohibition no containers", func(g *Graph) error {
			return g.CreateProhibition(Prohibition{Name: "p", Subject: "staff", Rights: []string{"read"}})
		}, ErrInvalid, "no container"},
		{"prohibition object subject", func(g *Graph) error {
			return g.CreateProhibition(Prohibition{Name: "p", Subject: "memo", Rights: []string{"read"}, Containers: []ContainerCondition{{Container: "docs"}}})
		}, ErrInvalid, "not a U or UA"},
		{"prohibition user container", func(g *Graph) error {
			return g.CreateProhibition(Prohibition{Name: "p", Subject: "staff", Rights: []string{"read"}, Containers: []ContainerCondition{{Container: "bob"}}})
		}, ErrInvalid, "is a user"},
		{"prohibition container twice", func(g *Graph) error {
			return g.CreateProhibition(Prohibition{Name: "p", Subject: "staff", Rights: []string{"read"}, Containers: []ContainerCondition{{Container: "docs"}, {Container: "docs", Complement: true}}})
		}, ErrInvalid, "named twice"},
		{"prohibition unknown container", func(g *Graph) error {
			return g.CreateProhibition(Prohibition{Name: "p", Subject: "staff", Rights: []string{"read"}, Containers: []ContainerCondition{{Container: "nope"}}})
		}, ErrNotFound, "does not exist"},
		{"prohibition no rights", func(g *Graph) error {
			return g.CreateProhibition(Prohibition{Name: "p", Subject: "staff", Containers: []ContainerCondition{{Container: "docs"}}})
		}, ErrInvalid, "no right"},
		{"delete unknown prohibition", func(g *Graph) error { return g.DeleteProhibition("p") }, ErrNotFound, "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := smallGraph(t)
			before := mustEncode(t, g)
			err := tt.op(g)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want class %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("error %q does not mention %q", err, tt.text)
			}
			if after := mustEncode(t, g); !bytes.Equal(before, after) {
				t.Errorf("failed operation changed the graph:\n%s\n%s", before, after)
			}
			if err := g.checkInvariants(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestMutationsSucceed(t *testing.T) {
	g := smallGraph(t)
	if err := g.Assign("memo", "vault"); err != nil {
		t.Fatal(err)
	}
	if err := g.Deassign("memo", "docs"); err != nil {
		t.Fatal(err)
	}
	if got := g.Parents("memo"); fmt.Sprint(got) != "[vault]" {
		t.Errorf("parents of memo = %v", got)
	}
	if err := g.CreateProhibition(Prohibition{Name: "p", Subject: "bob", Rights: []string{"read"}, Containers: []ContainerCondition{{Container: "memo"}}}); err != nil {
		t.Fatal(err)
	}
	if err := g.DeleteNode("memo"); !errors.Is(err, ErrInUse) {
		t.Fatalf("deleting a prohibition container: %v", err)
	}
	if err := g.DeleteNode("bob"); !errors.Is(err, ErrInUse) {
		t.Fatalf("deleting a prohibition subject: %v", err)
	}
	if err := g.DeleteProhibition("p"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"memo", "bob"} {
		if err := g.DeleteNode(n); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Dissociate("cleared", "vault"); err != nil {
		t.Fatal(err)
	}
	if _, ok := g.AssociationRights("cleared", "vault"); ok {
		t.Error("association still present")
	}
	nodes, assignments, associations, prohibitions := g.Size()
	if nodes != 11 || assignments != 11 || associations != 3 || prohibitions != 0 {
		t.Errorf("size = %d nodes, %d assignments, %d associations, %d prohibitions", nodes, assignments, associations, prohibitions)
	}
	if err := g.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}

func TestPolicyClassLimit(t *testing.T) {
	g := New()
	for i := 0; i < MaxPolicyClasses; i++ {
		if err := g.CreatePolicyClass(fmt.Sprintf("pc%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.CreatePolicyClass("one too many"); !errors.Is(err, ErrLimit) {
		t.Fatalf("error %v, want ErrLimit", err)
	}
	// A decision on a target in all 64 policy classes uses every bit.
	parents := g.Nodes(PolicyClass)
	if err := g.AddResourceRights("r"); err != nil {
		t.Fatal(err)
	}
	if err := g.CreateUserAttribute("ua", parents[0]); err != nil {
		t.Fatal(err)
	}
	if err := g.CreateObjectAttribute("all", parents[:maxParentsAtCreate]...); err != nil {
		t.Fatal(err)
	}
	if err := g.Associate("ua", "all", "r"); err != nil {
		t.Fatal(err)
	}
	ok, err := g.Decide(AttributeSubject("ua"), "all", "r")
	if err != nil || !ok {
		t.Fatalf("Decide = %v, %v; want granted", ok, err)
	}
	if err := g.CreateObjectAttribute("partial", parents[0], parents[63]); err != nil {
		t.Fatal(err)
	}
	if err := g.Assign("partial", "all"); err != nil {
		t.Fatal(err)
	}
	// partial reaches every class through all; the association on all covers each.
	if ok, _ := g.Decide(AttributeSubject("ua"), "partial", "r"); !ok {
		t.Error("right on partial through all denied")
	}
	if err := g.CreateObjectAttribute("other", parents[63]); err != nil {
		t.Fatal(err)
	}
	if err := g.Assign("partial", "other"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := g.Decide(AttributeSubject("ua"), "other", "r"); ok {
		t.Error("right on other granted without association")
	}
}

func TestResourceRightLimit(t *testing.T) {
	g := New()
	var rs []string
	for i := 0; i < MaxResourceRights; i++ {
		rs = append(rs, fmt.Sprintf("r%d", i))
	}
	if err := g.AddResourceRights(rs...); err != nil {
		t.Fatal(err)
	}
	if err := g.AddResourceRights("extra"); !errors.Is(err, ErrLimit) {
		t.Fatalf("error %v, want ErrLimit", err)
	}
}

func TestUpdateIsAllOrNothing(t *testing.T) {
	g := smallGraph(t)
	before := mustEncode(t, g)
	err := g.Update(func(tx *Graph) error {
		if err := tx.CreateObject("new", "docs"); err != nil {
			return err
		}
		return tx.Assign("staff", "admins") // cycle: the whole update fails
	})
	if !errors.Is(err, ErrCycle) {
		t.Fatalf("Update error %v, want ErrCycle", err)
	}
	if after := mustEncode(t, g); !bytes.Equal(before, after) {
		t.Fatal("failed Update changed the graph")
	}
	if err := g.Update(func(tx *Graph) error { return tx.CreateObject("new", "docs") }); err != nil {
		t.Fatal(err)
	}
	if !g.HasNode("new") {
		t.Fatal("successful Update lost its change")
	}
	if err := g.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}

func TestCloneIsIndependent(t *testing.T) {
	g := smallGraph(t)
	if err := g.CreateProhibition(Prohibition{Name: "p", Subject: "staff", Rights: []string{"write"}, Containers: []ContainerCondition{{Container: "vault"}}}); err != nil {
		t.Fatal(err)
	}
	c := g.Clone()
	if err := c.checkInvariants(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustEncode(t, g), mustEncode(t, c)) {
		t.Fatal("clone encodes differently")
	}
	before := mustEncode(t, g)
	if err := c.Dissociate("staff", "docs"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteProhibition("p"); err != nil {
		t.Fatal(err)
	}
	if err := c.Assign("memo", "secret"); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, mustEncode(t, g)) {
		t.Fatal("mutating the clone changed the original")
	}
	if err := g.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}

func TestContains(t *testing.T) {
	g := smallGraph(t)
	tests := []struct {
		node, container string
		want            bool
	}{
		{"plan", "plan", true},
		{"plan", "secret", true},
		{"plan", "docs", true},
		{"plan", "pc1", true},
		{"plan", "pc2", true},
		{"memo", "secret", false},
		{"memo", "pc2", false},
		{"alice", "staff", true},
		{"bob", "admins", false},
		{"nope", "pc1", false},
	}
	for _, tt := range tests {
		if got := g.Contains(tt.node, tt.container); got != tt.want {
			t.Errorf("Contains(%q, %q) = %v, want %v", tt.node, tt.container, got, tt.want)
		}
	}
}
