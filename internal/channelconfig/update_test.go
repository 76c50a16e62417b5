package channelconfig_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/policy"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
)

// updateEnvelope signs upd with the named credentials and wraps it in a
// CONFIG_UPDATE envelope created by the first of them.
func updateEnvelope(t *testing.T, channelID string, upd *pb.ConfigUpdate, signers ...*testpki.Credential) []byte {
	t.Helper()
	raw := protocol.MustMarshal(upd)
	var sigs []*pb.ConfigSignature
	for _, s := range signers {
		sig, err := channelconfig.SignUpdate(raw, s.Signer)
		if err != nil {
			t.Fatal(err)
		}
		sigs = append(sigs, sig)
	}
	env, txID, err := channelconfig.NewUpdateEnvelope(signers[0].Signer, channelID, raw, sigs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(txID) != 64 {
		t.Fatalf("tx ID %q", txID)
	}
	return env
}

func TestApplyUpdate(t *testing.T) {
	f := newFixture(t)
	base, err := channelconfig.New(f.genesisConfig())
	if err != nil {
		t.Fatal(err)
	}
	org4 := f.c.AddMember("Org4MSP")
	org4Config := &pb.MemberConfig{MspId: "Org4MSP", RootCerts: [][]byte{f.c.Root.Cert.Raw}, IntermediateCerts: [][]byte{org4.CA.Cert.Raw}}
	newOrderer := f.c.Member("Org3MSP").Issue(pki.RoleOrderer, "orderer3", nil)
	otherOrderer := f.c.Member("Org2MSP").Issue(pki.RoleOrderer, "orderer4", nil)
	a1, a2, a3 := f.admins["Org1MSP"], f.admins["Org2MSP"], f.admins["Org3MSP"]

	addMember := func() *pb.ConfigUpdate {
		u := base.NewUpdate(channelconfig.MemberElement("Org4MSP"))
		u.SetMembers = map[string]*pb.MemberConfig{"Org4MSP": org4Config}
		return u
	}
	withConsenters := func(extra ...*pb.Consenter) *pb.ConfigUpdate {
		u := base.NewUpdate(channelconfig.ElementOrderer)
		o := base.Proto().Orderer
		o.Consenters = append(o.Consenters, extra...)
		u.Orderer = o
		return u
	}
	consenter := func(cred *testpki.Credential, msp, addr string) *pb.Consenter {
		return &pb.Consenter{Id: cred.Cert.Subject.CommonName, MspId: msp, Address: addr, CertDer: cred.Cert.Raw}
	}
	tests := []struct {
		name    string
		env     func() []byte
		wantErr string // "" for success
		check   func(t *testing.T, next *channelconfig.Config)
	}{
		{
			name: "add member, 2 of 3 admins",
			env:  func() []byte { return updateEnvelope(t, "blossom", addMember(), a1, a2) },
			check: func(t *testing.T, next *channelconfig.Config) {
				if next.Sequence() != 1 || len(next.MemberIDs()) != 4 || next.Version("member/Org4MSP") != 1 {
					t.Errorf("seq %d members %v version %d", next.Sequence(), next.MemberIDs(), next.Version("member/Org4MSP"))
				}
				if next.Version("member/Org1MSP") != 0 {
					t.Error("an unchanged element got a new version")
				}
			},
		},
		{
			name: "add member, 3 of 3 admins",
			env:  func() []byte { return updateEnvelope(t, "blossom", addMember(), a1, a2, a3) },
		},
		{
			name:    "add member, 1 of 3 admins",
			env:     func() []byte { return updateEnvelope(t, "blossom", addMember(), a1) },
			wantErr: "MAJORITY Admins needs 2 of 3 members, got 1",
		},
		{
			name:    "the same admin signing twice counts once",
			env:     func() []byte { return updateEnvelope(t, "blossom", addMember(), a1, a1) },
			wantErr: "got 1",
		},
		{
			name: "clients are not admins",
			env: func() []byte {
				return updateEnvelope(t, "blossom", addMember(), f.clients["Org1MSP"], f.clients["Org2MSP"])
			},
			wantErr: "policy not satisfied",
		},
		{
			name: "stale read version",
			env: func() []byte {
				u := addMember()
				u.ReadVersions["member/Org4MSP"] = 3
				return updateEnvelope(t, "blossom", u, a1, a2)
			},
			wantErr: "stale",
		},
		{
			name: "changed element not read",
			env: func() []byte {
				u := addMember()
				u.ReadVersions = nil
				return updateEnvelope(t, "blossom", u, a1, a2)
			},
			wantErr: "not in the update's read versions",
		},
		{
			name: "wrong channel",
			env: func() []byte {
				u := addMember()
				u.ChannelId = "other"
				return updateEnvelope(t, "blossom", u, a1, a2)
			},
			wantErr: "not blossom",
		},
		{
			name:    "envelope for another channel",
			env:     func() []byte { return updateEnvelope(t, "other", addMember(), a1, a2) },
			wantErr: "not blossom",
		},
		{
			name: "tampered admin signature",
			env: func() []byte {
				raw := protocol.MustMarshal(addMember())
				s1, _ := channelconfig.SignUpdate(raw, a1.Signer)
				s2, _ := channelconfig.SignUpdate(raw, a2.Signer)
				s2.Signature[len(s2.Signature)-1] ^= 1
				env, _, _ := channelconfig.NewUpdateEnvelope(a1.Signer, "blossom", raw, []*pb.ConfigSignature{s1, s2}, time.Now())
				return env
			},
			wantErr: "signature 1",
		},
		{
			name: "signature over another update",
			env: func() []byte {
				raw := protocol.MustMarshal(addMember())
				other := addMember()
				other.RemoveMembers = []string{"Org3MSP"}
				s1, _ := channelconfig.SignUpdate(raw, a1.Signer)
				s2, _ := channelconfig.SignUpdate(protocol.MustMarshal(other), a2.Signer)
				env, _, _ := channelconfig.NewUpdateEnvelope(a1.Signer, "blossom", raw, []*pb.ConfigSignature{s1, s2}, time.Now())
				return env
			},
			wantErr: "does not verify",
		},
		{
			name: "add a consenter",
			env: func() []byte {
				return updateEnvelope(t, "blossom", withConsenters(consenter(newOrderer, "Org3MSP", "127.0.0.1:4050")), a2, a3)
			},
			check: func(t *testing.T, next *channelconfig.Config) {
				added, removed := channelconfig.ConsenterChanges(base, next)
				if len(added) != 1 || added[0] != "orderer3" || len(removed) != 0 {
					t.Errorf("added %v removed %v", added, removed)
				}
			},
		},
		{
			name: "remove a consenter",
			env: func() []byte {
				u := base.NewUpdate(channelconfig.ElementOrderer)
				o := base.Proto().Orderer
				o.Consenters = o.Consenters[1:]
				u.Orderer = o
				return updateEnvelope(t, "blossom", u, a1, a3)
			},
			check: func(t *testing.T, next *channelconfig.Config) {
				if _, removed := channelconfig.ConsenterChanges(base, next); len(removed) != 1 || removed[0] != "orderer0" {
					t.Errorf("removed %v", removed)
				}
			},
		},
		{
			name: "two consenters at once",
			env: func() []byte {
				return updateEnvelope(t, "blossom", withConsenters(
					consenter(newOrderer, "Org3MSP", "127.0.0.1:4050"),
					consenter(otherOrderer, "Org2MSP", "127.0.0.1:5050")), a1, a2)
			},
			wantErr: "change one consenter per update",
		},
		{
			name: "remove the member of a consenter",
			env: func() []byte {
				u := base.NewUpdate(channelconfig.MemberElement("Org1MSP"))
				u.RemoveMembers = []string{"Org1MSP"}
				return updateEnvelope(t, "blossom", u, a2, a3)
			},
			wantErr: "not a channel member",
		},
		{
			name: "remove a non-member",
			env: func() []byte {
				u := base.NewUpdate(channelconfig.MemberElement("Org9MSP"))
				u.RemoveMembers = []string{"Org9MSP"}
				return updateEnvelope(t, "blossom", u, a2, a3)
			},
			wantErr: "not a member",
		},
		{
			name: "unsupported capability",
			env: func() []byte {
				u := base.NewUpdate(channelconfig.ElementCapability)
				u.Capability = 2
				return updateEnvelope(t, "blossom", u, a1, a2)
			},
			wantErr: "requires capability 2",
		},
		{
			name:    "no change",
			env:     func() []byte { return updateEnvelope(t, "blossom", base.NewUpdate(), a1, a2) },
			wantErr: "changes nothing",
		},
		{
			name: "change a policy",
			env: func() []byte {
				u := base.NewUpdate(channelconfig.PolicyElement("Writers"))
				u.SetPolicies = map[string]*pb.Policy{"Writers": policy.ImplicitMeta(pb.ImplicitMetaPolicy_MAJORITY, "Writers")}
				return updateEnvelope(t, "blossom", u, a1, a3)
			},
			check: func(t *testing.T, next *channelconfig.Config) {
				p, _ := next.Policy("Writers")
				if policy.Describe(p) != "MAJORITY Writers" || next.Version("policy/Writers") != 1 {
					t.Errorf("Writers = %s version %d", policy.Describe(p), next.Version("policy/Writers"))
				}
			},
		},
		{
			name:    "not an envelope",
			env:     func() []byte { return []byte("junk") },
			wantErr: "malformed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next, err := base.ApplyUpdateEnvelope(tt.env(), time.Now())
			if tt.wantErr != "" {
				if err == nil {
					t.Fatal("update accepted")
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if base.Sequence() != 0 {
				t.Error("ApplyUpdate changed the base config")
			}
			if tt.check != nil {
				tt.check(t, next)
			}
		})
	}
}

func TestReplayedUpdateIsStale(t *testing.T) {
	f := newFixture(t)
	base, _ := channelconfig.New(f.genesisConfig())
	org4 := f.c.AddMember("Org4MSP")
	u := base.NewUpdate(channelconfig.MemberElement("Org4MSP"))
	u.SetMembers = map[string]*pb.MemberConfig{"Org4MSP": {MspId: "Org4MSP", RootCerts: [][]byte{f.c.Root.Cert.Raw}, IntermediateCerts: [][]byte{org4.CA.Cert.Raw}}}
	add := updateEnvelope(t, "blossom", u, f.admins["Org1MSP"], f.admins["Org2MSP"])
	withOrg4, err := base.ApplyUpdateEnvelope(add, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rm := withOrg4.NewUpdate(channelconfig.MemberElement("Org4MSP"))
	rm.RemoveMembers = []string{"Org4MSP"}
	without, err := withOrg4.ApplyUpdateEnvelope(updateEnvelope(t, "blossom", rm, f.admins["Org1MSP"], f.admins["Org2MSP"], f.admins["Org3MSP"]), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if without.Version("member/Org4MSP") != 2 {
		t.Errorf("tombstone version = %d", without.Version("member/Org4MSP"))
	}
	if _, err := without.ApplyUpdateEnvelope(add, time.Now()); err == nil || !strings.Contains(err.Error(), "stale") {
		t.Errorf("replayed add: %v", err)
	}
}

func TestVerifyConfigBlock(t *testing.T) {
	f := newFixture(t)
	base, _ := channelconfig.New(f.genesisConfig())
	genesis, err := channelconfig.GenesisBlock(base.Proto(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	u := base.NewUpdate(channelconfig.PolicyElement("Readers"))
	u.SetPolicies = map[string]*pb.Policy{"Readers": policy.ImplicitMeta(pb.ImplicitMetaPolicy_MAJORITY, "Readers")}
	updEnv := updateEnvelope(t, "blossom", u, f.admins["Org1MSP"], f.admins["Org2MSP"])
	at := time.Now()
	next, err := base.ApplyUpdateEnvelope(updEnv, at)
	if err != nil {
		t.Fatal(err)
	}
	signer := f.orderers["Org1MSP"].Signer
	block := func(cc *pb.ChannelConfig, upd []byte) *pb.Block {
		env, err := channelconfig.NewConfigEnvelope(cc, upd, signer, at)
		if err != nil {
			t.Fatal(err)
		}
		data := &pb.BlockData{Envelopes: [][]byte{env}}
		return &pb.Block{
			Header:   &pb.BlockHeader{Number: 1, PreviousHash: protocol.BlockHeaderHash(genesis.Header), DataHash: protocol.BlockDataHash(data), TimestampUnixNano: at.UnixNano()},
			Data:     data,
			Metadata: &pb.BlockMetadata{LastConfig: 1},
		}
	}
	got, err := channelconfig.VerifyConfigBlock(base, block(next.Proto(), updEnv))
	if err != nil {
		t.Fatal(err)
	}
	if got.Sequence() != 1 {
		t.Errorf("sequence %d", got.Sequence())
	}
	forged := next.Proto()
	forged.Policies["Admins"] = policy.ImplicitMeta(pb.ImplicitMetaPolicy_ANY, "Admins")
	forged.Versions["policy/Admins"] = 1
	if _, err := channelconfig.VerifyConfigBlock(base, block(forged, updEnv)); err == nil || !strings.Contains(err.Error(), "does not produce") {
		t.Errorf("forged config: %v", err)
	}
	wrongSeq := proto.CloneOf(next.Proto())
	wrongSeq.Sequence = 5
	if _, err := channelconfig.VerifyConfigBlock(base, block(wrongSeq, updEnv)); err == nil {
		t.Error("wrong sequence accepted")
	}
	if _, err := channelconfig.VerifyConfigBlock(base, block(next.Proto(), nil)); !errors.Is(err, channelconfig.ErrUpdateRefused) {
		t.Errorf("config block without update: %v", err)
	}
	// Signatures are checked at the block's time.
	late := block(next.Proto(), updEnv)
	late.Header.TimestampUnixNano = at.Add(10 * 365 * 24 * time.Hour).UnixNano()
	if _, err := channelconfig.VerifyConfigBlock(base, late); err == nil {
		t.Error("config block checked at a time the admins' certificates expired was accepted")
	}
}
