package lifecycle_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/blossom-ledger/blossom/internal/chaincode"
	"github.com/blossom-ledger/blossom/internal/lifecycle"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
	"github.com/blossom-ledger/blossom/sdk/contract/contracttest"
)

const testPackageID = "asset_1.0:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// channel is a lifecycle chaincode on a channel whose members each have an
// admin and a client credential.
type channel struct {
	c       *testpki.Consortium
	stub    *contracttest.Stub
	admins  map[string]*testpki.Credential
	clients map[string]*testpki.Credential
	members []string
}

func newChannel(t *testing.T, members ...string) *channel {
	t.Helper()
	ch := &channel{c: testpki.NewConsortium(t), admins: map[string]*testpki.Credential{}, clients: map[string]*testpki.Credential{}}
	ch.stub = contracttest.NewStub(lifecycle.Name, lifecycle.New())
	for _, m := range members {
		ch.addMember(t, m)
	}
	return ch
}

// addMember adds a member to the consortium and to the _lifecycle members
// parameter, as the peer does after a config update.
func (ch *channel) addMember(t *testing.T, id string) {
	t.Helper()
	m := ch.c.AddMember(id)
	ch.admins[id] = m.Issue(pki.RoleAdmin, "admin-"+strings.ToLower(id), nil)
	ch.clients[id] = m.Issue(pki.RoleClient, "client-"+strings.ToLower(id), nil)
	ch.members = append(ch.members, id)
	ch.stub.SetDefinitionParams(map[string]string{lifecycle.MembersParam: strings.Join(ch.members, ", ")})
}

func (ch *channel) as(cred *testpki.Credential) *contracttest.Stub {
	ch.stub.SetCreator(cred.Cert.Subject.Organization[0], cred.Cert.Raw)
	return ch.stub
}

func definition(name string, seq uint64) *lifecycle.Definition {
	return &lifecycle.Definition{
		Name: name, Version: "1.0", Sequence: seq, PackageID: testPackageID,
		EndorsementPolicy: "MAJORITY Endorsement",
		Collections:       []lifecycle.Collection{{Name: "_implicit_org_Org1MSP", Policy: "Org1MSP.peer", MaxPeerCount: 1}},
		Params:            map[string]string{"adminMSP": "Org1MSP"},
		Fuel:              1 << 30, MemoryBytes: 64 << 20,
	}
}

func encode(t *testing.T, d *lifecycle.Definition) string {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (ch *channel) approve(t *testing.T, member string, d *lifecycle.Definition) {
	t.Helper()
	if _, err := ch.as(ch.admins[member]).Invoke("lifecycle:ApproveForMyOrg", encode(t, d)); err != nil {
		t.Fatalf("approve by %s: %v", member, err)
	}
}

func (ch *channel) commit(d *lifecycle.Definition, t *testing.T) error {
	t.Helper()
	_, err := ch.as(ch.admins[ch.members[0]]).Invoke("lifecycle:Commit", encode(t, d))
	return err
}

func (ch *channel) readiness(t *testing.T, d *lifecycle.Definition) map[string]bool {
	t.Helper()
	out, err := ch.stub.Invoke("lifecycle:CheckCommitReadiness", encode(t, d))
	if err != nil {
		t.Fatalf("CheckCommitReadiness: %v", err)
	}
	var m map[string]bool
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want one containing %q", err, want)
	}
}

func TestNameIsLifecycleNamespace(t *testing.T) {
	if lifecycle.Name != chaincode.LifecycleNamespace {
		t.Fatalf("Name %q != chaincode.LifecycleNamespace %q", lifecycle.Name, chaincode.LifecycleNamespace)
	}
	if got, want := lifecycle.SequenceKey("asset"), chaincode.SequenceKey("asset"); got != want {
		t.Fatalf("SequenceKey %q, want %q", got, want)
	}
}

func TestCommitWithMajority(t *testing.T) {
	ch := newChannel(t, "Org1MSP", "Org2MSP", "Org3MSP")
	d := definition("asset", 1)

	ch.approve(t, "Org1MSP", d)
	wantErr(t, ch.commit(d, t), "definition asset sequence 1 has approvals from 1 of 3 members; MAJORITY needs 2")
	if _, ok := ch.stub.State(lifecycle.SequenceKey("asset")); ok {
		t.Fatal("a refused commit wrote the sequence")
	}
	if got := ch.readiness(t, d); !got["Org1MSP"] || got["Org2MSP"] || got["Org3MSP"] || len(got) != 3 {
		t.Fatalf("readiness %v", got)
	}

	ch.approve(t, "Org2MSP", d)
	if err := ch.commit(d, t); err != nil {
		t.Fatalf("commit with 2 of 3: %v", err)
	}
	seq, ok := ch.stub.State(lifecycle.SequenceKey("asset"))
	if !ok || string(seq) != "1" {
		t.Fatalf("sequence key %q (present %v), want \"1\"", seq, ok)
	}
	raw, ok := ch.stub.State(lifecycle.DefinitionKey("asset"))
	if !ok {
		t.Fatal("no committed definition")
	}
	got, err := lifecycle.DecodeDefinition(raw)
	if err != nil {
		t.Fatal(err)
	}
	if encode(t, got) != encode(t, d) {
		t.Fatalf("committed %s, want %s", encode(t, got), encode(t, d))
	}

	q, err := ch.stub.Invoke("lifecycle:QueryDefinition", "asset")
	if err != nil || string(q) != string(raw) {
		t.Fatalf("QueryDefinition = %s, %v; want %s", q, err, raw)
	}
	list, err := ch.stub.Invoke("lifecycle:ListDefinitions")
	if err != nil {
		t.Fatal(err)
	}
	var defs []lifecycle.Definition
	if err := json.Unmarshal(list, &defs); err != nil || len(defs) != 1 || defs[0].Name != "asset" {
		t.Fatalf("ListDefinitions = %s, %v", list, err)
	}
	apps, err := ch.stub.Invoke("lifecycle:QueryApprovals", "asset", "1")
	if err != nil {
		t.Fatal(err)
	}
	var byMember map[string]lifecycle.Definition
	if err := json.Unmarshal(apps, &byMember); err != nil || len(byMember) != 2 || byMember["Org1MSP"].Sequence != 1 || byMember["Org2MSP"].Name != "asset" {
		t.Fatalf("QueryApprovals = %s, %v", apps, err)
	}

	// Committing the same sequence again is refused.
	wantErr(t, ch.commit(d, t), "the next definition must have sequence 2")
}

func TestDifferentDefinitionDoesNotCount(t *testing.T) {
	ch := newChannel(t, "Org1MSP", "Org2MSP", "Org3MSP")
	d := definition("asset", 1)
	other := definition("asset", 1)
	other.Params = map[string]string{"adminMSP": "Org2MSP"}

	ch.approve(t, "Org1MSP", d)
	ch.approve(t, "Org2MSP", other)
	wantErr(t, ch.commit(d, t), "has approvals from 1 of 3 members; MAJORITY needs 2")
	wantErr(t, ch.commit(other, t), "has approvals from 1 of 3 members; MAJORITY needs 2")

	// A re-approval replaces the earlier one.
	ch.approve(t, "Org2MSP", d)
	if got := ch.readiness(t, other); got["Org2MSP"] {
		t.Fatalf("replaced approval still counts: %v", got)
	}
	if err := ch.commit(d, t); err != nil {
		t.Fatalf("commit after re-approval: %v", err)
	}
}

func TestUpgradeNeedsNewApprovals(t *testing.T) {
	ch := newChannel(t, "Org1MSP", "Org2MSP", "Org3MSP")
	ch.approve(t, "Org1MSP", definition("asset", 1))
	ch.approve(t, "Org2MSP", definition("asset", 1))
	if err := ch.commit(definition("asset", 1), t); err != nil {
		t.Fatal(err)
	}

	v2 := definition("asset", 2)
	v2.Version = "2.0"
	wantErr(t, ch.commit(v2, t), "definition asset sequence 2 has approvals from 0 of 3 members; MAJORITY needs 2")
	ch.approve(t, "Org3MSP", v2)
	wantErr(t, ch.commit(v2, t), "from 1 of 3 members")
	ch.approve(t, "Org1MSP", v2)
	if err := ch.commit(v2, t); err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	if seq, _ := ch.stub.State(lifecycle.SequenceKey("asset")); string(seq) != "2" {
		t.Fatalf("sequence %q, want 2", seq)
	}
}

func TestSequenceMustBeNext(t *testing.T) {
	ch := newChannel(t, "Org1MSP", "Org2MSP", "Org3MSP")
	for _, seq := range []uint64{2, 3} {
		_, err := ch.as(ch.admins["Org1MSP"]).Invoke("lifecycle:ApproveForMyOrg", encode(t, definition("asset", seq)))
		wantErr(t, err, "the committed sequence is 0: the next definition must have sequence 1")
		wantErr(t, ch.commit(definition("asset", seq), t), "the next definition must have sequence 1")
	}
	if keys := ch.stub.StateKeys(); len(keys) != 0 {
		t.Fatalf("refusals wrote %v", keys)
	}
}

func TestMajorityFollowsMembers(t *testing.T) {
	ch := newChannel(t, "Org1MSP", "Org2MSP", "Org3MSP")
	d := definition("asset", 1)
	ch.approve(t, "Org1MSP", d)
	ch.approve(t, "Org2MSP", d)

	ch.addMember(t, "Org4MSP") // a config update adds a member
	wantErr(t, ch.commit(d, t), "has approvals from 2 of 4 members; MAJORITY needs 3")
	if got := ch.readiness(t, d); len(got) != 4 || got["Org4MSP"] || got["Org3MSP"] || !got["Org2MSP"] {
		t.Fatalf("readiness %v", got)
	}
	ch.approve(t, "Org4MSP", d)
	if err := ch.commit(d, t); err != nil {
		t.Fatalf("commit with 3 of 4: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	ch := newChannel(t, "Org1MSP", "Org2MSP", "Org3MSP")
	good := encode(t, definition("asset", 1))
	outsider := testpki.NewConsortium(t, "Org9MSP").Member("Org9MSP").Issue(pki.RoleAdmin, "admin9", nil)

	badPolicy := definition("asset", 1)
	badPolicy.EndorsementPolicy = "AND(Org1MSP.peer"
	badPackage := definition("asset", 1)
	badPackage.PackageID = "asset:1234"
	unsorted := definition("asset", 1)
	unsorted.Collections = []lifecycle.Collection{{Name: "b", Policy: "Org1MSP.peer"}, {Name: "a", Policy: "Org1MSP.peer"}}
	badName := definition("_lifecycle", 1)
	badMemory := definition("asset", 1)
	badMemory.MemoryBytes = 1000

	tests := []struct {
		name string
		as   *testpki.Credential
		fn   string
		args []string
		want string
	}{
		{"client approves", ch.clients["Org1MSP"], "lifecycle:ApproveForMyOrg", []string{good}, "only an admin of a member"},
		{"client commits", ch.clients["Org2MSP"], "lifecycle:Commit", []string{good}, "only an admin of a member"},
		{"non-member admin approves", outsider, "lifecycle:ApproveForMyOrg", []string{good}, "Org9MSP is not a member of the channel"},
		{"non-member admin commits", outsider, "lifecycle:Commit", []string{good}, "Org9MSP is not a member of the channel"},
		{"malformed JSON", ch.admins["Org1MSP"], "lifecycle:ApproveForMyOrg", []string{`{"name":`}, "malformed definition"},
		{"unknown field", ch.admins["Org1MSP"], "lifecycle:ApproveForMyOrg", []string{`{"name":"asset","bogus":1}`}, "unknown field"},
		{"trailing data", ch.admins["Org1MSP"], "lifecycle:ApproveForMyOrg", []string{good + "{}"}, "trailing data"},
		{"bad policy", ch.admins["Org1MSP"], "lifecycle:ApproveForMyOrg", []string{encode(t, badPolicy)}, "endorsement policy"},
		{"bad package ID", ch.admins["Org1MSP"], "lifecycle:ApproveForMyOrg", []string{encode(t, badPackage)}, "package ID"},
		{"unsorted collections", ch.admins["Org1MSP"], "lifecycle:ApproveForMyOrg", []string{encode(t, unsorted)}, "sorted by name"},
		{"system name", ch.admins["Org1MSP"], "lifecycle:ApproveForMyOrg", []string{encode(t, badName)}, "chaincode name"},
		{"memory not pages", ch.admins["Org1MSP"], "lifecycle:ApproveForMyOrg", []string{encode(t, badMemory)}, "memory limit"},
		{"no args", ch.admins["Org1MSP"], "lifecycle:ApproveForMyOrg", nil, "wrong number of arguments"},
		{"unknown definition", ch.admins["Org1MSP"], "lifecycle:QueryDefinition", []string{"nothing"}, "chaincode nothing has no committed definition"},
		{"bad sequence", ch.admins["Org1MSP"], "lifecycle:QueryApprovals", []string{"asset", "01"}, "want a decimal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ch.as(tc.as).Invoke(tc.fn, tc.args...)
			wantErr(t, err, tc.want)
			if keys := ch.stub.StateKeys(); len(keys) != 0 {
				t.Fatalf("refusal wrote %v", keys)
			}
		})
	}

	t.Run("no members parameter", func(t *testing.T) {
		ch.stub.SetDefinitionParams(nil)
		_, err := ch.as(ch.admins["Org1MSP"]).Invoke("lifecycle:ApproveForMyOrg", good)
		wantErr(t, err, `has no "members" parameter`)
	})
}

func TestParseMembers(t *testing.T) {
	tests := []struct {
		in   string
		want string // joined, or "" for an error
	}{
		{"Org2MSP, Org1MSP", "Org1MSP,Org2MSP"},
		{"A", "A"},
		{"", ""},
		{"A,,B", ""},
		{"A,A", ""},
		{"A/B", ""},
		{strings.Repeat("A,", lifecycle.MaxMembers) + "B", ""},
	}
	for _, tc := range tests {
		got, err := lifecycle.ParseMembers(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("ParseMembers(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || strings.Join(got, ",") != tc.want {
			t.Errorf("ParseMembers(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestDecodeDefinitionCanonical(t *testing.T) {
	// Field order, whitespace and absent empty fields do not matter: the
	// canonical encoding is what approvals compare.
	a := `{"name":"asset","version":"1","sequence":1,"packageId":"` + testPackageID + `","endorsementPolicy":"MAJORITY Endorsement"}`
	b := ` { "endorsementPolicy" : "MAJORITY Endorsement", "sequence": 1, "packageId": "` + testPackageID + `", "version": "1", "name": "asset", "collections": [], "params": {} } `
	da, err := lifecycle.DecodeDefinition([]byte(a))
	if err != nil {
		t.Fatal(err)
	}
	db, err := lifecycle.DecodeDefinition([]byte(b))
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := da.Canonical()
	cb, _ := db.Canonical()
	if string(ca) != string(cb) {
		t.Fatalf("canonical encodings differ:\n%s\n%s", ca, cb)
	}
	if !strings.Contains(string(ca), `"collections":[]`) || !strings.Contains(string(ca), `"params":{}`) {
		t.Fatalf("canonical %s: want empty collections and params", ca)
	}
	if _, err := lifecycle.DecodeDefinition(make([]byte, lifecycle.MaxDefinitionBytes+1)); err == nil {
		t.Fatal("oversized definition accepted")
	}
}

func FuzzDecodeDefinition(f *testing.F) {
	d := definition("asset", 1)
	seed, _ := json.Marshal(d)
	f.Add(seed)
	f.Add([]byte(`{"name":"asset","version":"1","sequence":1,"packageId":"` + testPackageID + `","endorsementPolicy":"OR(Org1MSP.peer, Org2MSP.peer)"}`))
	f.Add([]byte(`{"name":"a","sequence":-1}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"collections":[{"name":"c","policy":"ANY Endorsement"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := lifecycle.DecodeDefinition(b)
		if err != nil {
			return
		}
		c1, err := d.Canonical()
		if err != nil {
			t.Fatalf("accepted definition does not encode: %v", err)
		}
		d2, err := lifecycle.DecodeDefinition(c1)
		if err != nil {
			t.Fatalf("canonical encoding %s does not decode: %v", c1, err)
		}
		c2, err := d2.Canonical()
		if err != nil || string(c1) != string(c2) {
			t.Fatalf("canonical encoding not stable:\n%s\n%s", c1, c2)
		}
	})
}
