package blossompolicy

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/blossom-ledger/blossom/ngac"
)

// consortium returns the authorization policy of a consortium of n member
// accounts (the admin and n-1 agencies): every third agency PENDING, every
// third UNAUTHORIZED, the others AUTHORIZED, and one ongoing vote initiated
// by Agency1MSP on Agency2MSP. It also returns the member IDs.
func consortium(t testing.TB, n int) (*AuthorizationPolicy, []string) {
	t.Helper()
	p := mustBootstrap(t)
	members := []string{admin}
	for i := 1; i < n; i++ {
		m := fmt.Sprintf("Agency%dMSP", i)
		members = append(members, m)
		mustSign(t, p, m)
		switch i % 3 {
		case 0:
			mustStatus(t, p, m, Unauthorized)
		case 1:
			mustStatus(t, p, m, Authorized)
		}
	}
	if n > 2 {
		if err := p.InitiateVote("Agency1MSP", "Agency2MSP"); err != nil {
			t.Fatal(err)
		}
	}
	return p, members
}

// allPrivileges maps "subject/object" to the rights granted, for every
// member's Authorizing Official and every object of g, computed on the graph
// directly (so that the graph can be altered freely).
func allPrivileges(t testing.TB, p *AuthorizationPolicy, g *ngac.Graph, members []string) map[string][]string {
	t.Helper()
	out := make(map[string][]string)
	for _, m := range members {
		s, err := p.subject(ao(m), true)
		if err != nil {
			t.Fatal(err)
		}
		for _, obj := range g.Nodes(ngac.Object, ngac.ObjectAttribute) {
			rs, err := g.Privileges(s, obj)
			if err != nil {
				t.Fatal(err)
			}
			out[m+"/"+obj] = rs
		}
	}
	return out
}

func subset(a, b []string) bool {
	set := make(map[string]bool, len(b))
	for _, x := range b {
		set[x] = true
	}
	for _, x := range a {
		if !set[x] {
			return false
		}
	}
	return true
}

// TestBlossomAddingProhibitionNeverGrants: random prohibitions added to the
// full BloSS@M policy only ever take rights away.
func TestBlossomAddingProhibitionNeverGrants(t *testing.T) {
	p, members := consortium(t, 8)
	base := p.Graph()
	before := allPrivileges(t, p, base, members)
	rng := rand.New(rand.NewSource(7))
	rights := AuthorizationPrivileges()
	subjects := base.Nodes(ngac.UserAttribute)
	containers := base.Nodes(ngac.PolicyClass, ngac.UserAttribute, ngac.ObjectAttribute, ngac.Object)
	reduced := 0
	for i := 0; i < 60; i++ {
		g := base.Clone()
		pr := ngac.Prohibition{
			Name:         fmt.Sprintf("random %d", i),
			Subject:      subjects[rng.Intn(len(subjects))],
			Rights:       []string{rights[rng.Intn(len(rights))]},
			Intersection: rng.Intn(2) == 0,
		}
		if rng.Intn(4) == 0 {
			pr.Rights = []string{ngac.AllRights}
		}
		for k := 0; k < 1+rng.Intn(2); k++ {
			c := containers[rng.Intn(len(containers))]
			if len(pr.Containers) == 0 || pr.Containers[0].Container != c {
				pr.Containers = append(pr.Containers, ngac.ContainerCondition{Container: c, Complement: rng.Intn(3) == 0})
			}
		}
		if err := g.CreateProhibition(pr); err != nil {
			t.Fatal(err)
		}
		for k, rs := range allPrivileges(t, p, g, members) {
			if !subset(rs, before[k]) {
				t.Fatalf("prohibition %+v granted %v on %s (before: %v)", pr, rs, k, before[k])
			}
			if len(rs) < len(before[k]) {
				reduced++
			}
		}
	}
	if reduced == 0 {
		t.Fatal("no random prohibition took any right away: the test proves nothing")
	}
}

// TestBlossomRemovingAssociationNeverGrants: removing any association of the
// full BloSS@M policy only ever takes rights away.
func TestBlossomRemovingAssociationNeverGrants(t *testing.T) {
	p, members := consortium(t, 8)
	base := p.Graph()
	before := allPrivileges(t, p, base, members)
	reduced := 0
	for _, a := range base.Associations() {
		g := base.Clone()
		if err := g.Dissociate(a.Source, a.Target); err != nil {
			t.Fatal(err)
		}
		for k, rs := range allPrivileges(t, p, g, members) {
			if !subset(rs, before[k]) {
				t.Fatalf("removing %+v granted %v on %s (before: %v)", a, rs, k, before[k])
			}
			if len(rs) < len(before[k]) {
				reduced++
			}
		}
	}
	if reduced == 0 {
		t.Fatal("no association removal took any right away: the test proves nothing")
	}
}

// TestConsortiumRoundTrip: a large policy survives the ledger round trip and
// keeps its decisions.
func TestConsortiumRoundTrip(t *testing.T) {
	p, members := consortium(t, 20)
	data := mustEncode(t, p)
	q, err := LoadAuthorizationPolicy(admin, data)
	if err != nil {
		t.Fatal(err)
	}
	want, got := allPrivileges(t, p, p.Graph(), members), allPrivileges(t, q, q.Graph(), members)
	for k, rs := range want {
		if fmt.Sprint(rs) != fmt.Sprint(got[k]) {
			t.Fatalf("%s: %v before, %v after the round trip", k, rs, got[k])
		}
	}
}
