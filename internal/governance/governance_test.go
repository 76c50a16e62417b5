package governance_test

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/governance"
	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/policy"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
	"github.com/blossom-ledger/blossom/sdk/contract/contracttest"
)

var mspIDs = []string{"Org1MSP", "Org2MSP", "Org3MSP"}

// network is a three-member channel configuration with one admin, one
// client and one orderer per member, and the _governance chaincode.
type network struct {
	c       *testpki.Consortium
	cfg     *channelconfig.Config
	admins  map[string]*testpki.Credential
	clients map[string]*testpki.Credential
	stub    *contracttest.Stub
}

func newNetwork(t testing.TB) *network {
	t.Helper()
	n := &network{c: testpki.NewConsortium(t, mspIDs...), admins: map[string]*testpki.Credential{}, clients: map[string]*testpki.Credential{}}
	cc := &pb.ChannelConfig{
		ChannelId: "blossom", Capability: channelconfig.CapabilityV1,
		Members: map[string]*pb.MemberConfig{}, Orderer: &pb.OrdererConfig{}, Policies: channelconfig.DefaultPolicies(),
	}
	for i, id := range mspIDs {
		m := n.c.Member(id)
		n.admins[id] = m.Issue(pki.RoleAdmin, "admin-"+strings.ToLower(id), nil)
		n.clients[id] = m.Issue(pki.RoleClient, "client-"+strings.ToLower(id), nil)
		o := m.Issue(pki.RoleOrderer, "orderer"+string(rune('0'+i)), nil)
		cc.Members[id] = &pb.MemberConfig{MspId: id, RootCerts: [][]byte{n.c.Root.Cert.Raw}, IntermediateCerts: [][]byte{m.CA.Cert.Raw}}
		cc.Orderer.Consenters = append(cc.Orderer.Consenters, &pb.Consenter{Id: o.Cert.Subject.CommonName, MspId: id, Address: "127.0.0.1:" + string(rune('1'+i)) + "050", CertDer: o.Cert.Raw})
	}
	var err error
	if n.cfg, err = channelconfig.New(cc); err != nil {
		t.Fatal(err)
	}
	n.stub = contracttest.NewStub(governance.Name, governance.New())
	n.stub.SetChannelID("blossom")
	return n
}

func (n *network) as(cred *testpki.Credential) *contracttest.Stub {
	n.stub.SetCreator(cred.Cert.Subject.Organization[0], cred.Cert.Raw)
	return n.stub
}

func (n *network) propose(t *testing.T, by *testpki.Credential, id string, upd *pb.ConfigUpdate) []byte {
	t.Helper()
	raw := protocol.MustMarshal(upd)
	if _, err := n.as(by).InvokeBytes("governance:Propose", [][]byte{[]byte(id), []byte("test proposal " + id), raw}); err != nil {
		t.Fatalf("propose %s: %v", id, err)
	}
	return raw
}

func (n *network) approve(t *testing.T, by *testpki.Credential, id string, update []byte) {
	t.Helper()
	sig, err := governance.Sign(update, by.Signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.as(by).InvokeBytes("governance:Approve", [][]byte{[]byte(id), sig}); err != nil {
		t.Fatalf("approve %s by %s: %v", id, by.Cert.Subject.CommonName, err)
	}
}

// applySignedBy applies update to the network's configuration with the
// signatures of the named members' admins.
func (n *network) applySignedBy(t *testing.T, update *pb.ConfigUpdate, mspIDs ...string) *channelconfig.Config {
	t.Helper()
	raw := protocol.MustMarshal(update)
	var sigs []*pb.ConfigSignature
	for _, id := range mspIDs {
		s, err := channelconfig.SignUpdate(raw, n.admins[id].Signer)
		if err != nil {
			t.Fatal(err)
		}
		sigs = append(sigs, s)
	}
	next, err := n.cfg.ApplyUpdate(&pb.ConfigUpdateEnvelope{ConfigUpdate: raw, Signatures: sigs}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return next
}

func (n *network) get(t *testing.T, id string) *governance.Proposal {
	t.Helper()
	raw, err := n.stub.Invoke("governance:Get", id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	p, err := governance.ParseProposal(raw)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (n *network) addOrg4(t *testing.T) (*testpki.Member, *pb.ConfigUpdate) {
	t.Helper()
	org4 := n.c.AddMember("Org4MSP")
	m, err := governance.MemberFromPEM("Org4MSP", pki.EncodeCertificatePEM(n.c.Root.Cert.Raw), pki.EncodeCertificatePEM(org4.CA.Cert.Raw), nil, []string{"peer0.org4:7051"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := governance.AddMember(n.cfg, m)
	if err != nil {
		t.Fatal(err)
	}
	return org4, u
}

// TestProposeApproveSubmit runs the whole flow for an add-member proposal:
// with one recorded signature the assembled update is refused, with two
// of three it is accepted.
func TestProposeApproveSubmit(t *testing.T) {
	n := newNetwork(t)
	a1, a2 := n.admins["Org1MSP"], n.admins["Org2MSP"]
	_, u := n.addOrg4(t)
	n.stub.SetTxTimestamp(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	update := n.propose(t, a1, "add-org4", u)

	p := n.get(t, "add-org4")
	if p.Proposer.MSPID != "Org1MSP" || p.Proposer.EnrollmentID != "admin-org1msp" || !p.ProposedAt.Equal(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("proposer %+v at %v", p.Proposer, p.ProposedAt)
	}
	if string(p.Update) != string(update) || len(p.Signatures) != 0 {
		t.Errorf("update %d bytes, %d signatures", len(p.Update), len(p.Signatures))
	}
	if _, _, err := governance.NewEnvelope(a1.Signer, "blossom", p, time.Now()); err == nil {
		t.Error("an envelope was assembled without signatures")
	}

	n.approve(t, a1, "add-org4", update)
	n.approve(t, a1, "add-org4", update) // again: replaces, still one
	p = n.get(t, "add-org4")
	if len(p.Signatures) != 1 {
		t.Fatalf("%d signatures after approving twice", len(p.Signatures))
	}
	env, _, err := governance.NewEnvelope(a1.Signer, "blossom", p, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.cfg.ApplyUpdateEnvelope(env, time.Now()); !errors.Is(err, policy.ErrNotSatisfied) || !strings.Contains(err.Error(), "needs 2 of 3 members, got 1") {
		t.Fatalf("1 of 3 signatures: %v", err)
	}

	n.approve(t, a2, "add-org4", update)
	p = n.get(t, "add-org4")
	env, _, err = governance.NewEnvelope(n.clients["Org3MSP"].Signer, "blossom", p, time.Now()) // anyone submits
	if err != nil {
		t.Fatal(err)
	}
	next, err := n.cfg.ApplyUpdateEnvelope(env, time.Now())
	if err != nil {
		t.Fatalf("2 of 3 signatures: %v", err)
	}
	if got := next.MemberIDs(); len(got) != 4 {
		t.Errorf("members %v", got)
	}

	raw, err := n.stub.Invoke("governance:List")
	if err != nil {
		t.Fatal(err)
	}
	var list []governance.Summary
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != "add-org4" || strings.Join(list[0].Signers, ",") == "" || len(list[0].Signers) != 2 {
		t.Errorf("list %s", raw)
	}
}

// TestSelfCRLProposal publishes a member's CRL with its own admin's
// signature alone.
func TestSelfCRLProposal(t *testing.T) {
	n := newNetwork(t)
	org2 := n.c.Member("Org2MSP")
	org2.Revoke(n.clients["Org2MSP"].Cert)
	crls, err := governance.CRLsFromPEM(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: org2.CRL().Raw}))
	if err != nil {
		t.Fatal(err)
	}
	u, err := governance.UpdateCRLs(n.cfg, "Org2MSP", crls)
	if err != nil {
		t.Fatal(err)
	}
	a2 := n.admins["Org2MSP"]
	update := n.propose(t, a2, "org2-crl", u)
	n.approve(t, a2, "org2-crl", update)
	env, _, err := governance.NewEnvelope(a2.Signer, "blossom", n.get(t, "org2-crl"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	next, err := n.cfg.ApplyUpdateEnvelope(env, time.Now())
	if err != nil {
		t.Fatalf("own CRL with one own admin: %v", err)
	}
	if _, err := next.Manager().Validate("Org2MSP", n.clients["Org2MSP"].Cert.Raw, identity.AnyRole, time.Now()); err == nil {
		t.Error("the revoked client is still valid")
	}
	// Org1's admin cannot publish Org2's CRL.
	update = n.propose(t, n.admins["Org1MSP"], "org2-crl-by-org1", u)
	n.approve(t, n.admins["Org1MSP"], "org2-crl-by-org1", update)
	env, _, _ = governance.NewEnvelope(n.admins["Org1MSP"].Signer, "blossom", n.get(t, "org2-crl-by-org1"), time.Now())
	if _, err := n.cfg.ApplyUpdateEnvelope(env, time.Now()); err == nil || !strings.Contains(err.Error(), "Org2MSP.Admins") {
		t.Errorf("Org2's CRL signed by Org1: %v", err)
	}
}

func TestChaincodeRefusals(t *testing.T) {
	n := newNetwork(t)
	a1, a2 := n.admins["Org1MSP"], n.admins["Org2MSP"]
	_, u := n.addOrg4(t)
	update := n.propose(t, a1, "p1", u)
	other := protocol.MustMarshal(&pb.ConfigUpdate{ChannelId: "blossom", RemoveMembers: []string{"Org3MSP"}})
	sigBy := func(cred *testpki.Credential, upd []byte) []byte {
		s, err := governance.Sign(upd, cred.Signer)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tampered := sigBy(a1, update)
	{
		cs := new(pb.ConfigSignature)
		if err := protocol.Unmarshal(tampered, cs, 0); err != nil {
			t.Fatal(err)
		}
		cs.Signature[len(cs.Signature)-1] ^= 1
		tampered = protocol.MustMarshal(cs)
	}
	wrongChannel := protocol.MustMarshal(&pb.ConfigUpdate{ChannelId: "other"})
	tests := []struct {
		name    string
		as      *testpki.Credential
		fn      string
		args    [][]byte
		wantErr string
	}{
		{"propose by a client", n.clients["Org1MSP"], "Propose", [][]byte{[]byte("p2"), nil, update}, "only an admin"},
		{"propose an existing ID", a2, "Propose", [][]byte{[]byte("p1"), nil, update}, "already exists"},
		{"propose a bad ID", a1, "Propose", [][]byte{[]byte("a b"), nil, update}, "only letters"},
		{"propose an empty ID", a1, "Propose", [][]byte{nil, nil, update}, "1 to 64"},
		{"propose junk", a1, "Propose", [][]byte{[]byte("p2"), nil, []byte("\xff\xff")}, "config update"},
		{"propose an empty update", a1, "Propose", [][]byte{[]byte("p2"), nil, nil}, "config update of 0 bytes"},
		{"propose for another channel", a1, "Propose", [][]byte{[]byte("p2"), nil, wrongChannel}, "not blossom"},
		{"propose a long description", a1, "Propose", [][]byte{[]byte("p2"), []byte(strings.Repeat("x", governance.MaxDescriptionLength+1)), update}, "description"},
		{"propose with missing args", a1, "Propose", [][]byte{[]byte("p2")}, "want 3"},
		{"approve by a client", n.clients["Org1MSP"], "Approve", [][]byte{[]byte("p1"), sigBy(n.clients["Org1MSP"], update)}, "only an admin"},
		{"approve with another admin's signature", a2, "Approve", [][]byte{[]byte("p1"), sigBy(a1, update)}, "not the transaction's creator"},
		{"approve another update", a1, "Approve", [][]byte{[]byte("p1"), sigBy(a1, other)}, "does not verify"},
		{"approve with a tampered signature", a1, "Approve", [][]byte{[]byte("p1"), tampered}, "does not verify"},
		{"approve with junk", a1, "Approve", [][]byte{[]byte("p1"), []byte("junk")}, "config signature"},
		{"approve an unknown proposal", a1, "Approve", [][]byte{[]byte("p9"), sigBy(a1, update)}, "no proposal p9"},
		{"get an unknown proposal", a1, "Get", [][]byte{[]byte("p9")}, "no proposal p9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := n.stub.StateKeys()
			_, err := n.as(tt.as).InvokeBytes("governance:"+tt.fn, tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one mentioning %q", err, tt.wantErr)
			}
			if after := n.stub.StateKeys(); len(after) != len(before) {
				t.Errorf("a refused call changed state: %d keys, was %d", len(after), len(before))
			}
		})
	}
	if p := n.get(t, "p1"); len(p.Signatures) != 0 {
		t.Errorf("refused approvals recorded: %d", len(p.Signatures))
	}
}

func TestBuilders(t *testing.T) {
	n := newNetwork(t)
	org4, u := n.addOrg4(t)
	if u.SetMembers["Org4MSP"] == nil || len(u.ReadVersions) != 1 {
		t.Errorf("add member update %v", u)
	}
	if _, err := governance.AddMember(n.cfg, &pb.MemberConfig{MspId: "Org1MSP"}); err == nil {
		t.Error("adding an existing member was built")
	}
	if _, err := governance.MemberFromPEM("Org5MSP", []byte("junk"), nil, nil, nil); err == nil {
		t.Error("junk roots accepted")
	}
	if _, err := governance.RemoveMember(n.cfg, "Org9MSP"); err == nil {
		t.Error("removing a non-member was built")
	}
	rm, err := governance.RemoveMember(n.cfg, "Org3MSP")
	if err != nil || len(rm.RemoveMembers) != 1 {
		t.Fatalf("remove: %v %v", rm, err)
	}
	// Org4's CRL is signed by a CA Org1 does not have.
	org4.Revoke(org4.Issue(pki.RoleClient, "x", nil).Cert)
	if _, err := governance.UpdateCRLs(n.cfg, "Org1MSP", [][]byte{org4.CRL().Raw}); err == nil {
		t.Error("a CRL of another CA was accepted for Org1")
	}
	if _, err := governance.CRLsFromPEM(pki.EncodeCertificatePEM(n.c.Root.Cert.Raw)); err == nil {
		t.Error("a certificate was accepted as a CRL")
	}
	if _, err := governance.CRLsFromPEM(nil); err == nil {
		t.Error("no CRL accepted")
	}

	batch, err := governance.SetBatch(n.cfg, governance.BatchChange{MaxMessageCount: 10, Timeout: 250 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	next := n.applySignedBy(t, batch, "Org1MSP", "Org3MSP")
	if next.BatchSize().MaxMessageCount != 10 || next.BatchTimeout() != 250*time.Millisecond || next.BatchSize().AbsoluteMaxBytes != n.cfg.BatchSize().AbsoluteMaxBytes {
		t.Errorf("batch %+v timeout %v", next.BatchSize(), next.BatchTimeout())
	}
	for _, bad := range []governance.BatchChange{{}, {Timeout: 1500 * time.Microsecond}, {Timeout: -time.Second}, {PreferredMaxBytes: 1 << 30}} {
		if _, err := governance.SetBatch(n.cfg, bad); err == nil {
			t.Errorf("SetBatch(%+v) accepted", bad)
		}
	}
}

func FuzzParseProposal(f *testing.F) {
	f.Add([]byte(`{"id":"p1","update":"CgdibG9zc29t","signatures":[{"configSignature":"AA=="}]}`))
	f.Add([]byte(`{"id":""}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := governance.ParseProposal(raw)
		if err != nil {
			return
		}
		if governance.ValidateID(p.ID) != nil {
			t.Fatalf("invalid ID %q accepted", p.ID)
		}
	})
}

func FuzzVerifyApproval(f *testing.F) {
	f.Add([]byte("update"), []byte{0x0a, 0x02, 0x0a, 0x00, 0x12, 0x01, 0x00}, "Org1MSP", []byte{1})
	f.Add([]byte{}, []byte("junk"), "", []byte{})
	f.Fuzz(func(t *testing.T, update, sig []byte, msp string, cert []byte) {
		if governance.VerifyApproval(update, sig, msp, cert) == nil {
			t.Fatal("a fuzzed signature verified")
		}
	})
}

func FuzzCRLsFromPEM(f *testing.F) {
	f.Add([]byte("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"))
	f.Add([]byte("junk"))
	f.Fuzz(func(t *testing.T, data []byte) {
		crls, err := governance.CRLsFromPEM(data)
		if err == nil && len(crls) == 0 {
			t.Fatal("no CRL and no error")
		}
	})
}

// TestConsenterBuilders: an orderer of a member joins the consenters
// through an update that a majority of admins' signatures makes apply,
// and leaves the same way; updates the ordering service would refuse are
// not built.
func TestConsenterBuilders(t *testing.T) {
	n := newNetwork(t)
	org2 := n.c.Member("Org2MSP")
	newOrderer := org2.Issue(pki.RoleOrderer, "orderer-org2-b", nil)
	certPEM := pki.EncodeCertificatePEM(newOrderer.Cert.Raw)
	cs, err := governance.ConsenterFromPEM("Org2MSP", "127.0.0.1:9050", certPEM)
	if err != nil || cs.Id != "orderer-org2-b" {
		t.Fatalf("consenter %v, %v", cs, err)
	}
	apply := func(u *pb.ConfigUpdate) *channelconfig.Config {
		t.Helper()
		return n.applySignedBy(t, u, "Org1MSP", "Org2MSP")
	}
	add, err := governance.AddConsenter(n.cfg, cs)
	if err != nil || len(add.ReadVersions) != 1 {
		t.Fatalf("add consenter: %v %v", add, err)
	}
	if got := apply(add).ConsenterIDs(); len(got) != 4 || !slices.Contains(got, "orderer-org2-b") {
		t.Fatalf("consenters after the add: %v", got)
	}
	remove, err := governance.RemoveConsenter(n.cfg, "orderer0")
	if err != nil {
		t.Fatal(err)
	}
	if got := apply(remove).ConsenterIDs(); len(got) != 2 || slices.Contains(got, "orderer0") {
		t.Fatalf("consenters after the removal: %v", got)
	}

	client := n.c.Member("Org1MSP").Issue(pki.RoleClient, "not-an-orderer", nil)
	refused := []struct {
		name  string
		build func() (*pb.ConfigUpdate, error)
	}{
		{"an existing consenter", func() (*pb.ConfigUpdate, error) {
			c, _ := n.cfg.Consenter("orderer1")
			return governance.AddConsenter(n.cfg, c)
		}},
		{"a member that is not on the channel", func() (*pb.ConfigUpdate, error) {
			return governance.AddConsenter(n.cfg, &pb.Consenter{Id: cs.Id, MspId: "Org9MSP", Address: cs.Address, CertDer: cs.CertDer})
		}},
		{"another member's orderer", func() (*pb.ConfigUpdate, error) {
			return governance.AddConsenter(n.cfg, &pb.Consenter{Id: cs.Id, MspId: "Org1MSP", Address: cs.Address, CertDer: cs.CertDer})
		}},
		{"a client certificate", func() (*pb.ConfigUpdate, error) {
			return governance.AddConsenter(n.cfg, &pb.Consenter{Id: "not-an-orderer", MspId: "Org1MSP", Address: cs.Address, CertDer: client.Cert.Raw})
		}},
		{"an address in use", func() (*pb.ConfigUpdate, error) {
			c, _ := n.cfg.Consenter("orderer1")
			return governance.AddConsenter(n.cfg, &pb.Consenter{Id: cs.Id, MspId: cs.MspId, Address: c.Address, CertDer: cs.CertDer})
		}},
		{"a bad address", func() (*pb.ConfigUpdate, error) {
			return governance.AddConsenter(n.cfg, &pb.Consenter{Id: cs.Id, MspId: cs.MspId, Address: "no port", CertDer: cs.CertDer})
		}},
		{"no consenter", func() (*pb.ConfigUpdate, error) { return governance.AddConsenter(n.cfg, nil) }},
		{"removing a non-consenter", func() (*pb.ConfigUpdate, error) { return governance.RemoveConsenter(n.cfg, "orderer9") }},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			if u, err := tc.build(); err == nil {
				t.Fatalf("built %v", u)
			}
		})
	}
	for _, bad := range [][]byte{nil, []byte("junk"), pki.EncodeCertificatePEM([]byte("not DER"))} {
		if _, err := governance.ConsenterFromPEM("Org2MSP", "127.0.0.1:9050", bad); err == nil {
			t.Errorf("ConsenterFromPEM(%q) accepted", bad)
		}
	}
}

func FuzzConsenterFromPEM(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("junk"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cs, err := governance.ConsenterFromPEM("Org1MSP", "127.0.0.1:7050", data)
		if err != nil {
			return
		}
		cert, perr := x509.ParseCertificate(cs.CertDer)
		if perr != nil || cert.Subject.CommonName != cs.Id || cs.MspId != "Org1MSP" {
			t.Fatalf("consenter %v from a certificate that does not name it: %v", cs, perr)
		}
	})
}

// TestUpdateConsenterCertificate: a consenter's renewed certificate
// replaces the old one in an update a majority of admins makes apply,
// keeping its ID, member and address; certificates the ordering service
// would refuse, or that would not change anything, are not built.
func TestUpdateConsenterCertificate(t *testing.T) {
	n := newNetwork(t)
	org2 := n.c.Member("Org2MSP")
	renewed := org2.Issue(pki.RoleOrderer, "orderer1", nil)
	before, _ := n.cfg.Consenter("orderer1")
	u, err := governance.UpdateConsenterCertificate(n.cfg, "orderer1", pki.EncodeCertificatePEM(renewed.Cert.Raw))
	if err != nil || len(u.ReadVersions) != 1 {
		t.Fatalf("update consenter: %v %v", u, err)
	}
	next := n.applySignedBy(t, u, "Org1MSP", "Org3MSP")
	after, ok := next.Consenter("orderer1")
	if !ok || !bytes.Equal(after.CertDer, renewed.Cert.Raw) || after.MspId != before.MspId || after.Address != before.Address {
		t.Fatalf("consenter after the update: %v (before %v)", after, before)
	}
	if got := next.ConsenterIDs(); strings.Join(got, ",") != "orderer0,orderer1,orderer2" {
		t.Fatalf("consenters after the update: %v", got)
	}
	for _, id := range []string{"orderer0", "orderer2"} {
		was, _ := n.cfg.Consenter(id)
		is, _ := next.Consenter(id)
		if !bytes.Equal(was.CertDer, is.CertDer) {
			t.Fatalf("%s's certificate changed", id)
		}
	}

	pemOf := func(c *testpki.Credential) []byte { return pki.EncodeCertificatePEM(c.Cert.Raw) }
	refused := []struct {
		name, id string
		cert     []byte
	}{
		{"not a consenter", "orderer9", pemOf(renewed)},
		{"another enrollment ID", "orderer1", pemOf(org2.Issue(pki.RoleOrderer, "orderer-other", nil))},
		{"another member's orderer", "orderer1", pemOf(n.c.Member("Org1MSP").Issue(pki.RoleOrderer, "orderer1", nil))},
		{"not an orderer certificate", "orderer1", pemOf(org2.Issue(pki.RoleClient, "orderer1", nil))},
		{"the current certificate", "orderer1", pki.EncodeCertificatePEM(before.CertDer)},
		{"no certificate", "orderer1", []byte("junk")},
		{"bad DER", "orderer1", pki.EncodeCertificatePEM([]byte("not DER"))},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			if u, err := governance.UpdateConsenterCertificate(n.cfg, tc.id, tc.cert); err == nil {
				t.Fatalf("built %v", u)
			}
		})
	}
}

// FuzzUpdateConsenterCertificate: whatever PEM it is given, the builder
// either refuses or changes only that consenter's certificate, to one whose
// CN is its ID.
func FuzzUpdateConsenterCertificate(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("junk"))
	n := newNetwork(f)
	f.Add(pki.EncodeCertificatePEM(n.c.Member("Org1MSP").Issue(pki.RoleOrderer, "orderer0", nil).Cert.Raw))
	f.Fuzz(func(t *testing.T, data []byte) {
		u, err := governance.UpdateConsenterCertificate(n.cfg, "orderer0", data)
		if err != nil {
			return
		}
		if len(u.Orderer.Consenters) != 3 {
			t.Fatalf("consenters %v", u.Orderer.Consenters)
		}
		for _, cs := range u.Orderer.Consenters {
			cur, _ := n.cfg.Consenter(cs.Id)
			if cs.Id == "orderer0" {
				cert, perr := x509.ParseCertificate(cs.CertDer)
				if perr != nil || cert.Subject.CommonName != "orderer0" || bytes.Equal(cs.CertDer, cur.CertDer) {
					t.Fatalf("consenter %v: %v", cs, perr)
				}
			} else if !bytes.Equal(cs.CertDer, cur.CertDer) {
				t.Fatalf("%s's certificate changed", cs.Id)
			}
		}
	})
}
