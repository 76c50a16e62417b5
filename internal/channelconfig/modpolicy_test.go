package channelconfig_test

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/policy"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
)

// memberUpdate returns an update of cfg that replaces member mspID's MSP
// with edit applied to a copy of the current one.
func memberUpdate(cfg *channelconfig.Config, mspID string, edit func(m *pb.MemberConfig)) *pb.ConfigUpdate {
	m, _ := cfg.Member(mspID)
	m = proto.CloneOf(m)
	edit(m)
	u := cfg.NewUpdate(channelconfig.MemberElement(mspID))
	u.SetMembers = map[string]*pb.MemberConfig{mspID: m}
	return u
}

func TestModPolicies(t *testing.T) {
	f := newFixture(t)
	base, err := channelconfig.New(f.genesisConfig())
	if err != nil {
		t.Fatal(err)
	}
	a1, a2, a3 := f.admins["Org1MSP"], f.admins["Org2MSP"], f.admins["Org3MSP"]
	org1, org2 := f.c.Member("Org1MSP"), f.c.Member("Org2MSP")

	victim := org1.Issue(pki.RoleClient, "victim-org1", nil)
	org1.Revoke(victim.Cert)
	org1CRL := org1.CRL().Raw
	org2Victim := org2.Issue(pki.RoleClient, "victim-org2", nil)
	org2.Revoke(org2Victim.Cert)
	org2CRL := org2.CRL().Raw

	// A second intermediate of Org1 under the same root (CA rotation).
	key, csr, err := pki.NewIntermediateCSR("Org1MSP", pki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := f.c.Root.SignIntermediate(csr, 0, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	rotatedCA := &pki.CA{Cert: rotated, Signer: key, Chain: []*x509.Certificate{f.c.Root.Cert}}
	userKey, err := pki.GenerateKey(pki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	rotatedUser, err := rotatedCA.Issue(pki.IssueRequest{PublicKey: userKey.Public(), EnrollmentID: "rotated-user", Role: pki.RoleClient, Now: time.Now().Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	otherRoot, err := pki.NewRootCA(pki.RootRequest{CommonName: "another root", Organization: "elsewhere", Now: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}

	setCRL := func(mspID string, crl []byte) *pb.ConfigUpdate {
		return memberUpdate(base, mspID, func(m *pb.MemberConfig) { m.Crls = [][]byte{crl} })
	}
	tests := []struct {
		name    string
		upd     func() *pb.ConfigUpdate
		signers []*testpki.Credential
		wantErr string // "" for success
		check   func(t *testing.T, next *channelconfig.Config)
	}{
		{
			name:    "member updates its own CRL alone",
			upd:     func() *pb.ConfigUpdate { return setCRL("Org1MSP", org1CRL) },
			signers: []*testpki.Credential{a1},
			check: func(t *testing.T, next *channelconfig.Config) {
				_, err := next.Manager().Validate("Org1MSP", victim.Cert.Raw, identity.AnyRole, time.Now())
				if !errors.Is(err, identity.ErrRevoked) {
					t.Errorf("revoked identity after the update: %v", err)
				}
			},
		},
		{
			name:    "member updates another member's CRL",
			upd:     func() *pb.ConfigUpdate { return setCRL("Org2MSP", org2CRL) },
			signers: []*testpki.Credential{a1},
			wantErr: "Org2MSP.Admins",
		},
		{
			name:    "a majority without the member's admin cannot set its CRL",
			upd:     func() *pb.ConfigUpdate { return setCRL("Org2MSP", org2CRL) },
			signers: []*testpki.Credential{a1, a3},
			wantErr: "Org2MSP.Admins",
		},
		{
			name:    "a client of the member is not its admin",
			upd:     func() *pb.ConfigUpdate { return setCRL("Org1MSP", org1CRL) },
			signers: []*testpki.Credential{f.clients["Org1MSP"]},
			wantErr: "Org1MSP.Admins",
		},
		{
			name: "member changes its own peer endpoints alone",
			upd: func() *pb.ConfigUpdate {
				return memberUpdate(base, "Org1MSP", func(m *pb.MemberConfig) { m.PeerEndpoints = []string{"peer9.org1:7051"} })
			},
			signers: []*testpki.Credential{a1},
			check: func(t *testing.T, next *channelconfig.Config) {
				if got := next.PeerEndpoints()["Org1MSP"]; len(got) != 1 || got[0] != "peer9.org1:7051" {
					t.Errorf("endpoints %v", got)
				}
			},
		},
		{
			name: "member adds an intermediate CA alone, keeping its root",
			upd: func() *pb.ConfigUpdate {
				return memberUpdate(base, "Org1MSP", func(m *pb.MemberConfig) { m.IntermediateCerts = append(m.IntermediateCerts, rotated.Raw) })
			},
			signers: []*testpki.Credential{a1},
			check: func(t *testing.T, next *channelconfig.Config) {
				if _, err := base.Manager().Validate("Org1MSP", rotatedUser.Raw, identity.AnyRole, time.Now()); err == nil {
					t.Error("the new CA's user was valid before the update")
				}
				if _, err := next.Manager().Validate("Org1MSP", rotatedUser.Raw, identity.AnyRole, time.Now()); err != nil {
					t.Errorf("the new CA's user after the update: %v", err)
				}
			},
		},
		{
			name: "member changes its roots alone",
			upd: func() *pb.ConfigUpdate {
				return memberUpdate(base, "Org1MSP", func(m *pb.MemberConfig) { m.RootCerts = append(m.RootCerts, otherRoot.Cert.Raw) })
			},
			signers: []*testpki.Credential{a1},
			wantErr: "MAJORITY Admins needs 2 of 3 members, got 1",
		},
		{
			name: "roots changed with a majority",
			upd: func() *pb.ConfigUpdate {
				return memberUpdate(base, "Org1MSP", func(m *pb.MemberConfig) { m.RootCerts = append(m.RootCerts, otherRoot.Cert.Raw) })
			},
			signers: []*testpki.Credential{a2, a3},
		},
		{
			name: "member changes batch size alone",
			upd: func() *pb.ConfigUpdate {
				u := base.NewUpdate(channelconfig.ElementOrderer)
				u.Orderer = base.Proto().Orderer
				u.Orderer.BatchSize = &pb.BatchSize{MaxMessageCount: 10, AbsoluteMaxBytes: 1 << 20, PreferredMaxBytes: 1 << 19}
				return u
			},
			signers: []*testpki.Credential{a1},
			wantErr: "MAJORITY Admins",
		},
		{
			name: "mixed update: own CRL and a policy, majority without the member",
			upd: func() *pb.ConfigUpdate {
				u := setCRL("Org1MSP", org1CRL)
				u.ReadVersions[channelconfig.PolicyElement("Writers")] = 0
				u.SetPolicies = map[string]*pb.Policy{"Writers": policy.ImplicitMeta(pb.ImplicitMetaPolicy_MAJORITY, "Writers")}
				return u
			},
			signers: []*testpki.Credential{a2, a3},
			wantErr: "Org1MSP.Admins",
		},
		{
			name: "mixed update: own CRL and a policy, the member's admin alone",
			upd: func() *pb.ConfigUpdate {
				u := setCRL("Org1MSP", org1CRL)
				u.ReadVersions[channelconfig.PolicyElement("Writers")] = 0
				u.SetPolicies = map[string]*pb.Policy{"Writers": policy.ImplicitMeta(pb.ImplicitMetaPolicy_MAJORITY, "Writers")}
				return u
			},
			signers: []*testpki.Credential{a1},
			wantErr: "MAJORITY Admins",
		},
		{
			name: "mixed update: own CRL and a policy, both satisfied",
			upd: func() *pb.ConfigUpdate {
				u := setCRL("Org1MSP", org1CRL)
				u.ReadVersions[channelconfig.PolicyElement("Writers")] = 0
				u.SetPolicies = map[string]*pb.Policy{"Writers": policy.ImplicitMeta(pb.ImplicitMetaPolicy_MAJORITY, "Writers")}
				return u
			},
			signers: []*testpki.Credential{a1, a3},
		},
		{
			name: "own CRL with a stale read version",
			upd: func() *pb.ConfigUpdate {
				u := setCRL("Org1MSP", org1CRL)
				u.ReadVersions[channelconfig.MemberElement("Org1MSP")] = 7
				return u
			},
			signers: []*testpki.Credential{a1},
			wantErr: "stale",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := updateEnvelope(t, "blossom", tt.upd(), tt.signers...)
			next, err := base.ApplyUpdateEnvelope(env, time.Now())
			if tt.wantErr != "" {
				if err == nil {
					t.Fatal("update accepted")
				}
				if !errors.Is(err, channelconfig.ErrUpdateRefused) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not mention %q", err, tt.wantErr)
				}
				if strings.Contains(tt.wantErr, "Admins") && !errors.Is(err, policy.ErrNotSatisfied) {
					t.Errorf("policy refusal %q does not wrap policy.ErrNotSatisfied", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, next)
			}
		})
	}
}

// TestMajorityFollowsMembership adds a fourth member with 2 of 3 admin
// signatures, checks that the channel Admins policy then needs 3 of 4
// (computed from the member list, no policy edited), removes the member
// again under that rule and checks 2 of 3 suffices once more.
func TestMajorityFollowsMembership(t *testing.T) {
	f := newFixture(t)
	base, err := channelconfig.New(f.genesisConfig())
	if err != nil {
		t.Fatal(err)
	}
	a1, a2, a3 := f.admins["Org1MSP"], f.admins["Org2MSP"], f.admins["Org3MSP"]
	org4 := f.c.AddMember("Org4MSP")
	a4 := org4.Issue(pki.RoleAdmin, "admin-org4msp", nil)
	add := base.NewUpdate(channelconfig.MemberElement("Org4MSP"))
	add.SetMembers = map[string]*pb.MemberConfig{"Org4MSP": {MspId: "Org4MSP", RootCerts: [][]byte{f.c.Root.Cert.Raw}, IntermediateCerts: [][]byte{org4.CA.Cert.Raw}}}
	apply := func(cfg *channelconfig.Config, u *pb.ConfigUpdate, signers ...*testpki.Credential) (*channelconfig.Config, error) {
		return cfg.ApplyUpdateEnvelope(updateEnvelope(t, "blossom", u, signers...), time.Now())
	}
	if _, err := apply(base, add, a1); err == nil || !strings.Contains(err.Error(), "needs 2 of 3 members, got 1") {
		t.Fatalf("add-member with 1 of 3: %v", err)
	}
	four, err := apply(base, add, a1, a2)
	if err != nil {
		t.Fatalf("add-member with 2 of 3: %v", err)
	}
	if len(four.MemberIDs()) != 4 {
		t.Fatalf("members %v", four.MemberIDs())
	}
	if p, _ := four.Policy(channelconfig.PolicyAdmins); policy.Describe(p) != "MAJORITY Admins" {
		t.Errorf("Admins policy became %s", policy.Describe(p))
	}

	batch := four.NewUpdate(channelconfig.ElementOrderer)
	batch.Orderer = four.Proto().Orderer
	batch.Orderer.BatchTimeoutMs = 250
	if _, err := apply(four, batch, a1, a4); err == nil || !strings.Contains(err.Error(), "needs 3 of 4 members, got 2") {
		t.Fatalf("set-batch with 2 of 4: %v", err)
	}
	if next, err := apply(four, batch, a1, a2, a4); err != nil || next.BatchTimeout() != 250*time.Millisecond {
		t.Fatalf("set-batch with 3 of 4: %v", err)
	}
	// The new member maintains its own MSP alone too.
	org4.Revoke(org4.Issue(pki.RoleClient, "leaver", nil).Cert)
	own := memberUpdate(four, "Org4MSP", func(m *pb.MemberConfig) { m.Crls = [][]byte{org4.CRL().Raw} })
	if _, err := apply(four, own, a4); err != nil {
		t.Fatalf("Org4 sets its CRL alone: %v", err)
	}

	rm := four.NewUpdate(channelconfig.MemberElement("Org4MSP"))
	rm.RemoveMembers = []string{"Org4MSP"}
	if _, err := apply(four, rm, a2, a3); err == nil || !strings.Contains(err.Error(), "needs 3 of 4 members, got 2") {
		t.Fatalf("remove-member with 2 of 4: %v", err)
	}
	three, err := apply(four, rm, a2, a3, a4)
	if err != nil {
		t.Fatalf("remove-member with 3 of 4: %v", err)
	}
	// Org4's admin is no longer a valid signer, and 2 of 3 suffices again.
	batch = three.NewUpdate(channelconfig.ElementOrderer)
	batch.Orderer = three.Proto().Orderer
	batch.Orderer.BatchTimeoutMs = 300
	if _, err := apply(three, batch, a1, a4); err == nil {
		t.Fatal("a removed member's admin signed an accepted update")
	}
	if _, err := apply(three, batch, a1, a3); err != nil {
		t.Fatalf("set-batch with 2 of 3 after the removal: %v", err)
	}
}

// TestUnrelatedUpdatesDoNotStale checks that an update's read set covers
// only the elements it changes: Org2's CRL update does not stale Org1's,
// while a second change of Org1's element does.
func TestUnrelatedUpdatesDoNotStale(t *testing.T) {
	f := newFixture(t)
	base, err := channelconfig.New(f.genesisConfig())
	if err != nil {
		t.Fatal(err)
	}
	org1, org2 := f.c.Member("Org1MSP"), f.c.Member("Org2MSP")
	org1.Revoke(org1.Issue(pki.RoleClient, "u1", nil).Cert)
	org2.Revoke(org2.Issue(pki.RoleClient, "u2", nil).Cert)
	env1 := updateEnvelope(t, "blossom", memberUpdate(base, "Org1MSP", func(m *pb.MemberConfig) { m.Crls = [][]byte{org1.CRL().Raw} }), f.admins["Org1MSP"])
	env2 := updateEnvelope(t, "blossom", memberUpdate(base, "Org2MSP", func(m *pb.MemberConfig) { m.Crls = [][]byte{org2.CRL().Raw} }), f.admins["Org2MSP"])
	after2, err := base.ApplyUpdateEnvelope(env2, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	after1, err := after2.ApplyUpdateEnvelope(env1, time.Now())
	if err != nil {
		t.Fatalf("Org1's update after Org2's: %v", err)
	}
	if after1.Sequence() != 2 {
		t.Errorf("sequence %d", after1.Sequence())
	}
	if _, err := after1.ApplyUpdateEnvelope(env1, time.Now()); err == nil || !strings.Contains(err.Error(), "stale") {
		t.Errorf("Org1's update applied twice: %v", err)
	}
}
