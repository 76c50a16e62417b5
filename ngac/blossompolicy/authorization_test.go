package blossompolicy

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/blossom-ledger/blossom/ngac"
)

const admin = "SAMSMSP"

func ao(msp string) Caller { return Caller{MSPID: msp, Role: RoleAuthorizingOfficial} }

func mustEncode(t testing.TB, p *AuthorizationPolicy) []byte {
	t.Helper()
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustBootstrap(t testing.TB) *AuthorizationPolicy {
	t.Helper()
	p, err := NewAuthorizationPolicy(admin)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustSign(t testing.TB, p *AuthorizationPolicy, members ...string) {
	t.Helper()
	for _, m := range members {
		created, err := p.SignMOU(m)
		if err != nil {
			t.Fatal(err)
		}
		if !created {
			t.Fatalf("SignMOU(%s) created nothing", m)
		}
	}
}

func mustStatus(t testing.TB, p *AuthorizationPolicy, m string, s Status) {
	t.Helper()
	if err := p.UpdateAccountStatus(m, s); err != nil {
		t.Fatal(err)
	}
}

// TestStaticPart checks the graph of spec §4.2.1 element by element.
func TestStaticPart(t *testing.T) {
	g, err := StaticAuthorizationGraph(admin)
	if err != nil {
		t.Fatal(err)
	}
	nodes := []struct {
		name    string
		kind    ngac.Kind
		parents string
	}{
		{PCAdminMSP, ngac.PolicyClass, "[]"},
		{PCRBAC, ngac.PolicyClass, "[]"},
		{PCStatus, ngac.PolicyClass, "[]"},
		{PCVotes, ngac.PolicyClass, "[]"},
		{admin, ngac.ObjectAttribute, "[ADMIN_MSP_PC]"},
		{"Authorizing Official", ngac.UserAttribute, "[RBAC]"},
		{"Blossom Admin", ngac.UserAttribute, "[Authorizing Official]"},
		{"RBAC/blossom_target", ngac.ObjectAttribute, "[RBAC]"},
		{"blossom_target", ngac.ObjectAttribute, "[RBAC/blossom_target Status/blossom_target]"},
		{"RBAC/accounts", ngac.ObjectAttribute, "[RBAC]"},
		{"RBAC/votes", ngac.ObjectAttribute, "[RBAC]"},
		{"authorized", ngac.UserAttribute, "[Status]"},
		{"pending", ngac.UserAttribute, "[Status]"},
		{"unauthorized", ngac.UserAttribute, "[pending]"},
		{"Status/blossom_target", ngac.ObjectAttribute, "[Status]"},
		{"Status/accounts", ngac.ObjectAttribute, "[Status]"},
		{"Status/votes", ngac.ObjectAttribute, "[Status]"},
		{"all votes", ngac.ObjectAttribute, "[Votes]"},
	}
	for _, n := range nodes {
		if k, ok := g.NodeKind(n.name); !ok || k != n.kind {
			t.Errorf("node %q: kind %v, %v; want %v", n.name, k, ok, n.kind)
		}
		if got := fmt.Sprint(g.Parents(n.name)); got != n.parents {
			t.Errorf("parents of %q = %s, want %s", n.name, got, n.parents)
		}
	}
	if got := len(g.Nodes()); got != len(nodes) {
		t.Errorf("%d nodes, want %d", got, len(nodes))
	}
	assocs := map[string]string{
		"Blossom Admin -> RBAC/blossom_target":   "[bootstrap update_mou]",
		"Authorizing Official -> blossom_target": "[get_mou join sign_mou]",
		"Authorizing Official -> RBAC/votes":     "[certify_vote initiate_vote vote]",
		"Authorizing Official -> RBAC/accounts":  "[initiate_vote join read_ato submit_feedback]",
		"authorized -> Status/blossom_target":    "[*]",
		"authorized -> Status/accounts":          "[*]",
		"authorized -> Status/votes":             "[*]",
		"pending -> Status/accounts":             "[read_ato submit_feedback write_ato]",
		"Blossom Admin -> all votes":             "[certify_vote]",
		"Authorizing Official -> all votes":      "[initiate_vote vote]",
	}
	got := g.Associations()
	if len(got) != len(assocs) {
		t.Errorf("%d associations, want %d: %v", len(got), len(assocs), got)
	}
	for _, a := range got {
		key := a.Source + " -> " + a.Target
		if want, ok := assocs[key]; !ok || fmt.Sprint(a.Rights) != want {
			t.Errorf("association %s %v, want %q", key, a.Rights, want)
		}
	}
	if ps := g.Prohibitions(); len(ps) != 0 {
		t.Errorf("static part has prohibitions: %v", ps)
	}
	if _, err := StaticAuthorizationGraph("bad msp"); !errors.Is(err, ErrInvalidMemberID) {
		t.Errorf("invalid admin MSP: %v", err)
	}
}

// TestPerAccountPart checks SignMOU against spec §4.2.2.
func TestPerAccountPart(t *testing.T) {
	p := mustBootstrap(t)
	before := mustEncode(t, p)
	mustSign(t, p, "Agency1MSP")
	g := p.Graph()
	m := "Agency1MSP"
	nodes := []struct {
		name    string
		kind    ngac.Kind
		parents string
	}{
		{"Agency1MSP users", ngac.UserAttribute, "[pending]"},
		{"Agency1MSP account", ngac.ObjectAttribute, "[RBAC/accounts Status/accounts]"},
		{"Agency1MSP target", ngac.Object, "[Agency1MSP account]"},
		{"Agency1MSP initiator", ngac.UserAttribute, "[Votes]"},
		{"Agency1MSP vote attr", ngac.ObjectAttribute, "[RBAC/votes Status/votes all votes]"},
		{"Agency1MSP vote", ngac.Object, "[Agency1MSP vote attr]"},
	}
	for _, n := range nodes {
		if k, ok := g.NodeKind(n.name); !ok || k != n.kind {
			t.Errorf("node %q: kind %v, %v; want %v", n.name, k, ok, n.kind)
		}
		if got := fmt.Sprint(g.Parents(n.name)); got != n.parents {
			t.Errorf("parents of %q = %s, want %s", n.name, got, n.parents)
		}
	}
	for _, a := range []struct{ ua, target, rights string }{
		{"Agency1MSP users", "Agency1MSP account", "[read_ato submit_feedback write_ato]"},
		{"Agency1MSP users", "Agency1MSP vote attr", "[vote]"},
		{"Agency1MSP initiator", "Agency1MSP vote attr", "[certify_vote]"},
	} {
		if rs, ok := g.AssociationRights(a.ua, a.target); !ok || fmt.Sprint(rs) != a.rights {
			t.Errorf("association %s -> %s = %v, %v; want %s", a.ua, a.target, rs, ok, a.rights)
		}
	}
	except, ok := g.Prohibition(ExceptSelfProhibition(m))
	if !ok || except.Subject != "Agency1MSP users" || !except.Intersection ||
		fmt.Sprint(except.Rights) != "[read_ato submit_feedback]" ||
		fmt.Sprint(except.Containers) != "[{Agency1MSP account true} {Status/accounts false}]" {
		t.Errorf("except-on-self prohibition = %+v, %v", except, ok)
	}
	self, ok := g.Prohibition(NoSelfVoteProhibition(m))
	if !ok || self.Subject != "Agency1MSP users" || !self.Intersection || fmt.Sprint(self.Rights) != "[initiate_vote]" ||
		fmt.Sprint(self.Containers) != "[{Agency1MSP account false} {Status/accounts false}]" {
		t.Errorf("no-self-vote prohibition = %+v, %v", self, ok)
	}
	if st, err := p.AccountStatus(m); err != nil || st != Pending {
		t.Errorf("status = %v, %v; want PENDING", st, err)
	}

	// Signing again changes nothing (§4.2.4 signMOU: "if M users exists: nothing").
	after := mustEncode(t, p)
	if bytes.Equal(before, after) {
		t.Fatal("SignMOU changed nothing")
	}
	created, err := p.SignMOU(m)
	if err != nil || created {
		t.Fatalf("second SignMOU = %v, %v", created, err)
	}
	if !bytes.Equal(after, mustEncode(t, p)) {
		t.Error("second SignMOU changed the policy")
	}
}

// TestBootstrapContent checks spec §4.2.3: after Bootstrap only the admin
// account exists, AUTHORIZED.
func TestBootstrapContent(t *testing.T) {
	p := mustBootstrap(t)
	g := p.Graph()
	if got := fmt.Sprint(g.Children(UAAuthorized)); got != "[SAMSMSP users]" {
		t.Errorf("authorized = %s", got)
	}
	if got := g.Children(UAPending); fmt.Sprint(got) != "[unauthorized]" {
		t.Errorf("pending = %v", got)
	}
	if got := g.Children(UAUnauthorized); len(got) != 0 {
		t.Errorf("unauthorized = %v", got)
	}
	if got := fmt.Sprint(g.Children(OARBACAccounts)); got != "[SAMSMSP account]" {
		t.Errorf("accounts = %s", got)
	}
	if g.HasProhibition(ExceptSelfProhibition(admin)) {
		t.Error("the AUTHORIZED admin keeps the except-on-self prohibition")
	}
	if !g.HasProhibition(NoSelfVoteProhibition(admin)) {
		t.Error("the admin may vote on itself while it is AUTHORIZED")
	}
	if _, ok := g.AssociationRights(AccountUsers(admin), OAStatusAccounts); ok {
		t.Error("the admin holds the self-vote association while it is AUTHORIZED")
	}
	if st, err := p.AccountStatus(admin); err != nil || st != Authorized {
		t.Errorf("admin status = %v, %v", st, err)
	}
	ok, err := p.Decide(ao(admin), RightBootstrap, BlossomTarget)
	if err != nil || !ok {
		t.Errorf("admin bootstrap = %v, %v", ok, err)
	}
	// §2.2.1: another member's AO fails the account check.
	if _, err := p.Decide(ao("Agency1MSP"), RightBootstrap, BlossomTarget); !errors.Is(err, ErrNoAccount) ||
		err.Error() != "account Agency1MSP does not exist" {
		t.Errorf("non-admin bootstrap error = %v", err)
	}
}

// world is one state of the consortium for the decision table: statuses and
// the ongoing vote's initiator and target.
type world struct {
	name      string
	statuses  map[string]Status // every account (admin included)
	initiator string            // "" = no ongoing vote
	target    string
}

func (w world) build(t *testing.T) *AuthorizationPolicy {
	t.Helper()
	p := mustBootstrap(t)
	var members []string
	for m := range w.statuses {
		members = append(members, m)
	}
	sort.Strings(members)
	for _, m := range members {
		if m != admin {
			mustSign(t, p, m)
		}
	}
	// Authorize first, then demote, so that the admin's self-vote
	// exception is recomputed by the last status change as in real life.
	for _, m := range members {
		if w.statuses[m] == Authorized {
			mustStatus(t, p, m, Authorized)
		}
	}
	for _, m := range members {
		if w.statuses[m] != Authorized {
			mustStatus(t, p, m, w.statuses[m])
		}
	}
	if w.initiator != "" {
		if err := p.InitiateVote(w.initiator, w.target); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// effective is the "Granted when" column of spec §4.2.5, transcribed row by
// row. c = caller's member, tm = target member, auth = c is AUTHORIZED,
// noneAuth = no account is AUTHORIZED, initiated = c initiated the ongoing
// vote on tm.
var effective = []struct {
	right  string
	object func(tm string) string
	// ownOnly: the row's object is the caller's own account ("join (C
	// target)"); other targets are not listed by the spec.
	ownOnly bool
	granted func(c, tm string, auth, noneAuth, initiated bool) bool
}{
	{RightBootstrap, func(string) string { return BlossomTarget }, false,
		func(c, _ string, auth, _, _ bool) bool { return c == admin && auth }},
	{RightUpdateMOU, func(string) string { return BlossomTarget }, false,
		func(c, _ string, auth, _, _ bool) bool { return c == admin && auth }},
	{RightSignMOU, func(string) string { return BlossomTarget }, false,
		func(_, _ string, _, _, _ bool) bool { return true }},
	{RightJoin, AccountTarget, true,
		func(_, _ string, auth, _, _ bool) bool { return auth }},
	{RightWriteATO, AccountTarget, false,
		func(c, tm string, _, _, _ bool) bool { return tm == c }},
	{RightReadATO, AccountTarget, false,
		func(c, tm string, auth, _, _ bool) bool { return tm == c || auth }},
	{RightSubmitFeedback, AccountTarget, false,
		func(c, tm string, auth, _, _ bool) bool { return tm == c || auth }},
	{RightInitiateVote, AccountTarget, false,
		func(c, tm string, auth, noneAuth, _ bool) bool { return auth && tm != c || c == admin && noneAuth }},
	{RightVote, VoteTarget, false,
		func(c, tm string, auth, _, _ bool) bool { return tm == c || auth }},
	{RightCertifyVote, VoteTarget, false,
		func(c, _ string, auth, _, initiated bool) bool { return initiated || c == admin && auth }},
}

// TestEffectivePermissions reproduces the table of spec §4.2.5 for every
// caller, target and right in several consortium states.
func TestEffectivePermissions(t *testing.T) {
	const a1, a2, a3 = "Agency1MSP", "Agency2MSP", "Agency3MSP"
	worlds := []world{
		{name: "after bootstrap", statuses: map[string]Status{admin: Authorized}},
		{name: "new members pending", statuses: map[string]Status{admin: Authorized, a1: Pending, a2: Pending}},
		{name: "mixed, authorized member initiated a vote", statuses: map[string]Status{admin: Authorized, a1: Authorized, a2: Pending, a3: Unauthorized},
			initiator: a1, target: a3},
		{name: "pending member is voted on by the admin", statuses: map[string]Status{admin: Authorized, a1: Authorized, a2: Pending},
			initiator: admin, target: a2},
		{name: "admin demoted, member authorized", statuses: map[string]Status{admin: Pending, a1: Authorized, a2: Unauthorized},
			initiator: a1, target: admin},
		{name: "nobody authorized (R-14 recovery)", statuses: map[string]Status{admin: Unauthorized, a1: Pending, a2: Unauthorized}},
		{name: "nobody authorized, admin initiated on itself", statuses: map[string]Status{admin: Pending, a1: Pending},
			initiator: admin, target: admin},
	}
	checked := map[string]int{}
	for _, w := range worlds {
		t.Run(w.name, func(t *testing.T) {
			p := w.build(t)
			noneAuth := true
			var members []string
			for m, s := range w.statuses {
				members = append(members, m)
				if s == Authorized {
					noneAuth = false
				}
			}
			sort.Strings(members)
			for _, c := range members {
				if st, err := p.AccountStatus(c); err != nil || st != w.statuses[c] {
					t.Fatalf("status of %s = %v, %v", c, st, err)
				}
				auth := w.statuses[c] == Authorized
				for _, tm := range members {
					initiated := w.initiator == c && w.target == tm
					for _, row := range effective {
						if row.ownOnly && tm != c {
							continue
						}
						want := row.granted(c, tm, auth, noneAuth, initiated)
						got, err := p.Decide(ao(c), row.right, row.object(tm))
						if err != nil {
							t.Fatalf("Decide(%s, %s, %s): %v", c, row.right, row.object(tm), err)
						}
						if got != want {
							t.Errorf("caller %s (%s) %s on %q = %v, want %v", c, w.statuses[c], row.right, row.object(tm), got, want)
						}
						checked[fmt.Sprint(row.right, got)]++
					}
				}
			}
		})
	}
	// Every row must have been seen both granted and denied (sign_mou is
	// always granted), or the table test proves little.
	for _, row := range effective {
		if checked[fmt.Sprint(row.right, true)] == 0 {
			t.Errorf("%s never granted in the test worlds", row.right)
		}
		if row.right != RightSignMOU && checked[fmt.Sprint(row.right, false)] == 0 {
			t.Errorf("%s never denied in the test worlds", row.right)
		}
	}
}

// TestCallerChecks covers spec §2.1 steps 2 and 3 with.
func TestCallerChecks(t *testing.T) {
	p := mustBootstrap(t)
	mustSign(t, p, "Agency1MSP")
	tests := []struct {
		name   string
		caller Caller
		right  string
		object string
		want   error
		msg    string
	}{
		{"forged Blossom Admin role (R-01)", Caller{MSPID: "Agency1MSP", Role: "Blossom Admin"}, RightUpdateMOU, BlossomTarget, ErrUnknownRole, "unknown user role: Blossom Admin"},
		{"forged status role (R-01)", Caller{MSPID: "Agency1MSP", Role: "authorized"}, RightReadATO, AccountTarget(admin), ErrUnknownRole, "unknown user role: authorized"},
		{"admin MSP with Blossom Admin role (R-01)", Caller{MSPID: admin, Role: "Blossom Admin"}, RightUpdateMOU, BlossomTarget, ErrUnknownRole, "unknown user role: Blossom Admin"},
		{"missing role", Caller{MSPID: "Agency1MSP"}, RightSignMOU, BlossomTarget, ErrUnknownRole, "unknown user role: "},
		{"asset role", Caller{MSPID: "Agency1MSP", Role: RoleLicenseOwner}, RightSignMOU, BlossomTarget, ErrUnknownRole, "unknown user role: License Owner"},
		{"no account", ao("Agency9MSP"), RightWriteATO, AccountTarget("Agency9MSP"), ErrNoAccount, "account Agency9MSP does not exist"},
		{"no account, initiate", ao("Agency9MSP"), RightInitiateVote, AccountTarget(admin), ErrNoAccount, "account Agency9MSP does not exist"},
		{"unknown target (R-31)", ao(admin), RightReadATO, AccountTarget("Agency9MSP"), ErrUnknownObject, `object "Agency9MSP target" does not exist`},
		{"policy class is no object", ao(admin), RightReadATO, PCRBAC, ErrUnknownObject, `object "RBAC" does not exist`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := p.Decide(tt.caller, tt.right, tt.object)
			if ok || !errors.Is(err, tt.want) || err.Error() != tt.msg {
				t.Fatalf("Decide = %v, %v; want false, %q", ok, err, tt.msg)
			}
			if _, err := p.Privileges(tt.caller, tt.object); tt.want != ErrNoAccount && !errors.Is(err, tt.want) {
				t.Errorf("Privileges error %v, want %v", err, tt.want)
			}
		})
	}
	// sign_mou needs no account (§2.2.3 SignMOU: "even before it has an account").
	ok, err := p.Decide(ao("Agency9MSP"), RightSignMOU, BlossomTarget)
	if err != nil || !ok {
		t.Errorf("sign_mou without account = %v, %v", ok, err)
	}
	privs, err := p.Privileges(ao("Agency9MSP"), BlossomTarget)
	if err != nil || fmt.Sprint(privs) != "[sign_mou]" {
		t.Errorf("privileges without account = %v, %v", privs, err)
	}
	if _, err := p.Decide(ao(admin), "fly", BlossomTarget); err == nil {
		t.Error("undeclared right accepted")
	}
}

// TestPolicyEvolution follows spec §4.3 with the operations of §4.2.4.
func TestPolicyEvolution(t *testing.T) {
	const a1, a2 = "Agency1MSP", "Agency2MSP"
	p := mustBootstrap(t)
	can := func(c, right, object string) bool {
		t.Helper()
		ok, err := p.Decide(ao(c), right, object)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	// 2. A new member can only manage its own ATO and vote on votes about itself.
	mustSign(t, p, a1, a2)
	if !can(a1, RightWriteATO, AccountTarget(a1)) || can(a1, RightReadATO, AccountTarget(admin)) ||
		can(a1, RightInitiateVote, AccountTarget(a2)) || !can(a1, RightVote, VoteTarget(a1)) || can(a1, RightVote, VoteTarget(a2)) ||
		can(a1, RightJoin, AccountTarget(a1)) {
		t.Fatal("pending member's rights differ from §4.3 step 2")
	}
	// The admin initiates a vote on a1, which passes with AUTHORIZED.
	if !can(admin, RightInitiateVote, AccountTarget(a1)) {
		t.Fatal("AUTHORIZED admin cannot initiate a vote on a1")
	}
	if err := p.InitiateVote(admin, a1); err != nil {
		t.Fatal(err)
	}
	if err := p.CertifyVote(a1, true, Authorized); err != nil {
		t.Fatal(err)
	}
	// 3. a1 can read/comment all ATOs, initiate votes on others, vote on everything, join.
	if !can(a1, RightReadATO, AccountTarget(a2)) || !can(a1, RightSubmitFeedback, AccountTarget(admin)) ||
		!can(a1, RightInitiateVote, AccountTarget(a2)) || can(a1, RightInitiateVote, AccountTarget(a1)) ||
		!can(a1, RightVote, VoteTarget(a2)) || !can(a1, RightJoin, AccountTarget(a1)) {
		t.Fatal("authorized member's rights differ from §4.3 step 3")
	}
	// 6 with R-04: a1 initiates a vote on a2 and may certify it; after
	// certification it may not certify the next vote on a2.
	if err := p.InitiateVote(a1, a2); err != nil {
		t.Fatal(err)
	}
	if !can(a1, RightCertifyVote, VoteTarget(a2)) {
		t.Fatal("initiator cannot certify")
	}
	if err := p.CertifyVote(a2, false, ""); err != nil {
		t.Fatal(err)
	}
	if st, _ := p.AccountStatus(a2); st != Pending {
		t.Fatalf("failed vote changed a2 to %s", st)
	}
	if can(a1, RightCertifyVote, VoteTarget(a2)) {
		t.Fatal("R-04: the initiator keeps certify_vote after certification")
	}
	// an aborted vote also revokes the initiator.
	if err := p.InitiateVote(a1, a2); err != nil {
		t.Fatal(err)
	}
	if err := p.AbortVote(a2); err != nil {
		t.Fatal(err)
	}
	if can(a1, RightCertifyVote, VoteTarget(a2)) {
		t.Fatal("R-13: the initiator keeps certify_vote after an abort")
	}
	// 4. a1 voted back to UNAUTHORIZED: restricted again.
	if err := p.InitiateVote(admin, a1); err != nil {
		t.Fatal(err)
	}
	if err := p.CertifyVote(a1, true, Unauthorized); err != nil {
		t.Fatal(err)
	}
	if can(a1, RightReadATO, AccountTarget(a2)) || !can(a1, RightReadATO, AccountTarget(a1)) || can(a1, RightJoin, AccountTarget(a1)) {
		t.Fatal("unauthorized member's rights differ from §4.3 step 4")
	}
	// 5. The admin is voted out (super-majority is the chaincode's business):
	// nobody is AUTHORIZED, so the admin may initiate a vote on itself.
	if can(admin, RightInitiateVote, AccountTarget(admin)) {
		t.Fatal("AUTHORIZED admin may initiate a vote on itself")
	}
	mustStatus(t, p, admin, Pending)
	if !can(admin, RightInitiateVote, AccountTarget(admin)) || !can(admin, RightInitiateVote, AccountTarget(a2)) {
		t.Fatal("§4.3 step 5: admin cannot initiate votes while nobody is AUTHORIZED")
	}
	if can(a1, RightInitiateVote, AccountTarget(admin)) {
		t.Fatal("a non-admin member may initiate votes while not AUTHORIZED")
	}
	if can(admin, RightUpdateMOU, BlossomTarget) || can(admin, RightCertifyVote, VoteTarget(a2)) {
		t.Fatal("non-AUTHORIZED admin keeps update_mou or certify_vote")
	}
	// Recovery: the admin votes itself back in.
	if err := p.InitiateVote(admin, admin); err != nil {
		t.Fatal(err)
	}
	if !can(admin, RightCertifyVote, VoteTarget(admin)) {
		t.Fatal("the admin cannot certify the vote it initiated")
	}
	if err := p.CertifyVote(admin, true, Authorized); err != nil {
		t.Fatal(err)
	}
	if can(admin, RightInitiateVote, AccountTarget(admin)) || !can(admin, RightUpdateMOU, BlossomTarget) {
		t.Fatal("admin's rights not restored by its authorization")
	}
	g := p.Graph()
	if _, ok := g.AssociationRights(AccountUsers(admin), OAStatusAccounts); ok || !g.HasProhibition(NoSelfVoteProhibition(admin)) {
		t.Fatal("self-vote exception not withdrawn")
	}
}

func TestOperationErrors(t *testing.T) {
	p := mustBootstrap(t)
	mustSign(t, p, "Agency1MSP")
	before := mustEncode(t, p)
	tests := []struct {
		name string
		op   func() error
		want error
	}{
		{"sign invalid id", func() error { _, err := p.SignMOU("Agency 1"); return err }, ErrInvalidMemberID},
		{"sign empty id", func() error { _, err := p.SignMOU(""); return err }, ErrInvalidMemberID},
		{"sign long id", func() error { _, err := p.SignMOU(strings.Repeat("A", 129)); return err }, ErrInvalidMemberID},
		{"initiate unknown initiator", func() error { return p.InitiateVote("Agency9MSP", admin) }, ErrNoAccount},
		{"initiate unknown target", func() error { return p.InitiateVote(admin, "Agency9MSP") }, ErrNoAccount},
		{"certify unknown", func() error { return p.CertifyVote("Agency9MSP", true, Authorized) }, ErrNoAccount},
		{"certify bad status", func() error { return p.CertifyVote("Agency1MSP", true, "NOT_AUTHORIZED") }, ErrUnknownStatus},
		{"abort unknown", func() error { return p.AbortVote("Agency9MSP") }, ErrNoAccount},
		{"status unknown account", func() error { return p.UpdateAccountStatus("Agency9MSP", Authorized) }, ErrNoAccount},
		{"status bad", func() error { return p.UpdateAccountStatus("Agency1MSP", "authorized") }, ErrUnknownStatus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.op(); !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if !bytes.Equal(before, mustEncode(t, p)) {
				t.Fatal("failed operation changed the policy")
			}
		})
	}
	if _, err := ParseStatus("NOT_AUTHORIZED"); err == nil || err.Error() != "unknown Status: NOT_AUTHORIZED" {
		t.Errorf("ParseStatus error = %v", err)
	}
}

// TestSignMOUIsAtomic: a member whose node names collide with an existing
// node gets an error and no partial account.
func TestSignMOUIsAtomic(t *testing.T) {
	g, err := StaticAuthorizationGraph(admin)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.CreateObject("Agency1MSP vote", OAAllVotes); err != nil { // squats a per-account name
		t.Fatal(err)
	}
	data, err := g.Encode()
	if err != nil {
		t.Fatal(err)
	}
	p, err := LoadAuthorizationPolicy(admin, data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.SignMOU("Agency1MSP"); !errors.Is(err, ngac.ErrExists) {
		t.Fatalf("SignMOU error %v, want ErrExists", err)
	}
	if p.HasAccount("Agency1MSP") || !bytes.Equal(data, mustEncode(t, p)) {
		t.Fatal("failed SignMOU left a partial account")
	}
}

func TestLoadAuthorizationPolicy(t *testing.T) {
	p := mustBootstrap(t)
	mustSign(t, p, "Agency1MSP", "Agency2MSP")
	mustStatus(t, p, "Agency1MSP", Authorized)
	if err := p.InitiateVote("Agency1MSP", "Agency2MSP"); err != nil {
		t.Fatal(err)
	}
	data := mustEncode(t, p)
	q, err := LoadAuthorizationPolicy(admin, data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, mustEncode(t, q)) {
		t.Fatal("load/encode round trip not byte-identical")
	}
	if ok, err := q.Decide(ao("Agency1MSP"), RightCertifyVote, VoteTarget("Agency2MSP")); err != nil || !ok {
		t.Fatalf("loaded policy lost the initiator: %v, %v", ok, err)
	}
	if _, err := LoadAuthorizationPolicy("OtherMSP", data); !errors.Is(err, ErrWrongPolicy) {
		t.Errorf("policy of another admin accepted: %v", err)
	}
	other := ngac.New()
	if err := other.AddResourceRights(AuthorizationPrivileges()...); err != nil {
		t.Fatal(err)
	}
	otherData, err := other.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadAuthorizationPolicy(admin, otherData); !errors.Is(err, ErrWrongPolicy) {
		t.Errorf("foreign graph accepted: %v", err)
	}
	if _, err := LoadAuthorizationPolicy(admin, append([]byte(" "), data...)); !errors.Is(err, ngac.ErrInvalid) {
		t.Errorf("non-canonical policy accepted: %v", err)
	}
	if _, err := LoadAuthorizationPolicy("bad msp", data); !errors.Is(err, ErrInvalidMemberID) {
		t.Errorf("invalid admin MSP accepted: %v", err)
	}
}

func TestListsMatchSpec(t *testing.T) {
	// §2.2.6, in this order.
	if got := fmt.Sprint(AuthorizationPrivileges()); got != "[bootstrap update_mou get_mou sign_mou join write_ato read_ato submit_feedback initiate_vote vote certify_vote]" {
		t.Errorf("AuthorizationPrivileges = %s", got)
	}
	if got := fmt.Sprint(AuthorizationRoles()); got != "[Authorizing Official]" {
		t.Errorf("AuthorizationRoles = %s", got)
	}
	// §2.3.4.
	if got := fmt.Sprint(AssetRoles()); got != "[Acquisition Officer Technical Point of Contact License Owner]" {
		t.Errorf("AssetRoles = %s", got)
	}
	if got := fmt.Sprint(AssetPrivileges()); got != "[write_asset read_assets read_asset_detail initiate_order approve_order deny_order read_order allocate_license return_license read_license write_swid read_swid]" {
		t.Errorf("AssetPrivileges = %s", got)
	}
}

func TestValidateMemberID(t *testing.T) {
	for _, ok := range []string{"SAMSMSP", "Agency1MSP", "org-1.example_MSP", strings.Repeat("A", 128)} {
		if err := ValidateMemberID(ok); err != nil {
			t.Errorf("ValidateMemberID(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Agency 1", "a/b", "a:b", "é", strings.Repeat("A", 129), "x\n"} {
		if err := ValidateMemberID(bad); !errors.Is(err, ErrInvalidMemberID) {
			t.Errorf("ValidateMemberID(%q) = %v", bad, err)
		}
	}
}
