package channelconfig_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/fsutil"
	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/policy"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
)

var mspIDs = []string{"Org1MSP", "Org2MSP", "Org3MSP"}

// fixture is a three-member consortium with one orderer and one admin per
// member.
type fixture struct {
	c        *testpki.Consortium
	orderers map[string]*testpki.Credential // by MSP ID
	admins   map[string]*testpki.Credential
	clients  map[string]*testpki.Credential
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{
		c:        testpki.NewConsortium(t, mspIDs...),
		orderers: map[string]*testpki.Credential{},
		admins:   map[string]*testpki.Credential{},
		clients:  map[string]*testpki.Credential{},
	}
	for i, id := range mspIDs {
		m := f.c.Member(id)
		f.orderers[id] = m.Issue(pki.RoleOrderer, "orderer"+string(rune('0'+i)), nil)
		f.admins[id] = m.Issue(pki.RoleAdmin, "admin-"+strings.ToLower(id), nil)
		f.clients[id] = m.Issue(pki.RoleClient, "client-"+strings.ToLower(id), nil)
	}
	return f
}

func (f *fixture) member(id string) *pb.MemberConfig {
	m := f.c.Member(id)
	return &pb.MemberConfig{
		MspId:             id,
		RootCerts:         [][]byte{f.c.Root.Cert.Raw},
		IntermediateCerts: [][]byte{m.CA.Cert.Raw},
		PeerEndpoints:     []string{"peer0." + strings.ToLower(id) + ":7051"},
	}
}

func (f *fixture) consenter(id string, i int) *pb.Consenter {
	cred := f.orderers[id]
	return &pb.Consenter{Id: cred.Cert.Subject.CommonName, MspId: id, Address: "127.0.0.1:" + string(rune('1'+i)) + "050", CertDer: cred.Cert.Raw}
}

// genesisConfig is a valid sequence-0 configuration, defaults left zero.
func (f *fixture) genesisConfig() *pb.ChannelConfig {
	cc := &pb.ChannelConfig{
		ChannelId:  "blossom",
		Capability: channelconfig.CapabilityV1,
		Members:    map[string]*pb.MemberConfig{},
		Orderer:    &pb.OrdererConfig{},
		Policies:   channelconfig.DefaultPolicies(),
	}
	for i, id := range mspIDs {
		cc.Members[id] = f.member(id)
		cc.Orderer.Consenters = append(cc.Orderer.Consenters, f.consenter(id, i))
	}
	return cc
}

func TestNewFillsDefaults(t *testing.T) {
	f := newFixture(t)
	c, err := channelconfig.New(f.genesisConfig())
	if err != nil {
		t.Fatal(err)
	}
	bs := c.BatchSize()
	if bs.MaxMessageCount != 500 || bs.AbsoluteMaxBytes != 2<<20 || bs.PreferredMaxBytes != 2<<20 {
		t.Errorf("batch defaults = %+v", bs)
	}
	if c.BatchTimeout() != 100*time.Millisecond {
		t.Errorf("batch timeout = %s", c.BatchTimeout())
	}
	r := c.Raft()
	if r.HeartbeatTimeout != 100*time.Millisecond || r.ElectionTimeout != 300*time.Millisecond || r.LeaderLeaseTimeout != 100*time.Millisecond || r.SnapshotIntervalBlocks != channelconfig.DefaultSnapshotIntervalBlocks {
		t.Errorf("raft defaults = %+v", r)
	}
	if got := c.MemberIDs(); strings.Join(got, ",") != "Org1MSP,Org2MSP,Org3MSP" {
		t.Errorf("members = %v", got)
	}
	if got := c.ConsenterIDs(); strings.Join(got, ",") != "orderer0,orderer1,orderer2" {
		t.Errorf("consenters = %v", got)
	}
	cs, ok := c.Consenter("orderer1")
	if !ok || cs.MspId != "Org2MSP" {
		t.Errorf("Consenter(orderer1) = %v, %v", cs, ok)
	}
	if _, ok := c.Consenter("nobody"); ok {
		t.Error("Consenter(nobody) found")
	}
	// The identity manager knows the members.
	if _, err := c.Manager().Validate("Org2MSP", f.clients["Org2MSP"].Cert.Raw, 0xff, time.Now()); err != nil {
		t.Errorf("validate member client: %v", err)
	}
	// Policies evaluate over the members.
	admins := []policy.Signer{{ID: "a", MSPID: "Org1MSP", Role: "admin"}, {ID: "b", MSPID: "Org2MSP", Role: "admin"}}
	if err := c.EvaluatePolicy(channelconfig.PolicyAdmins, admins); err != nil {
		t.Errorf("2 of 3 admins: %v", err)
	}
	if err := c.EvaluatePolicy(channelconfig.PolicyAdmins, admins[:1]); !errors.Is(err, policy.ErrNotSatisfied) {
		t.Errorf("1 of 3 admins: %v", err)
	}
	// Proto returns a copy.
	p := c.Proto()
	p.ChannelId = "changed"
	if c.ChannelID() != "blossom" {
		t.Error("Proto did not copy")
	}
}

func TestNewRejects(t *testing.T) {
	f := newFixture(t)
	other := testpki.NewConsortium(t, "Org1MSP")
	strangerOrderer := other.Member("Org1MSP").Issue(pki.RoleOrderer, "orderer0", nil)
	peerCert := f.c.Member("Org1MSP").Issue(pki.RolePeer, "orderer0", nil)
	tests := []struct {
		name   string
		mutate func(cc *pb.ChannelConfig)
		want   string
	}{
		{"bad channel ID", func(cc *pb.ChannelConfig) { cc.ChannelId = "Blossom" }, "channel ID"},
		{"empty channel ID", func(cc *pb.ChannelConfig) { cc.ChannelId = "" }, "channel ID"},
		{"capability 0", func(cc *pb.ChannelConfig) { cc.Capability = 0 }, "capability"},
		{"capability unsupported", func(cc *pb.ChannelConfig) { cc.Capability = 9 }, "requires capability 9"},
		{"no members", func(cc *pb.ChannelConfig) { cc.Members = nil }, "no members"},
		{"member key mismatch", func(cc *pb.ChannelConfig) { cc.Members["Org1MSP"].MspId = "Org2MSP" }, "holds the MSP"},
		{"member without root", func(cc *pb.ChannelConfig) { cc.Members["Org1MSP"].RootCerts = nil }, "no root"},
		{"garbage certificate", func(cc *pb.ChannelConfig) { cc.Members["Org1MSP"].IntermediateCerts = [][]byte{{1, 2, 3}} }, "Org1MSP"},
		{"bad peer endpoint", func(cc *pb.ChannelConfig) { cc.Members["Org1MSP"].PeerEndpoints = []string{"nohost"} }, "host:port"},
		{"no orderer", func(cc *pb.ChannelConfig) { cc.Orderer = nil }, "no orderer"},
		{"no consenters", func(cc *pb.ChannelConfig) { cc.Orderer.Consenters = nil }, "no consenters"},
		{"duplicate consenter", func(cc *pb.ChannelConfig) {
			cc.Orderer.Consenters = append(cc.Orderer.Consenters, proto.CloneOf(cc.Orderer.Consenters[0]))
		}, "appears twice"},
		{"duplicate address", func(cc *pb.ChannelConfig) { cc.Orderer.Consenters[1].Address = cc.Orderer.Consenters[0].Address }, "used by another"},
		{"consenter ID is not the CN", func(cc *pb.ChannelConfig) { cc.Orderer.Consenters[0].Id = "orderer9" }, "enrollment ID"},
		{"consenter of a non-member", func(cc *pb.ChannelConfig) { cc.Orderer.Consenters[0].MspId = "Org9MSP" }, "not a channel member"},
		{"consenter certificate from another CA", func(cc *pb.ChannelConfig) { cc.Orderer.Consenters[0].CertDer = strangerOrderer.Cert.Raw }, "consenter orderer0"},
		{"consenter with a peer certificate", func(cc *pb.ChannelConfig) { cc.Orderer.Consenters[0].CertDer = peerCert.Cert.Raw }, "role"},
		{"preferred above absolute", func(cc *pb.ChannelConfig) {
			cc.Orderer.BatchSize = &pb.BatchSize{AbsoluteMaxBytes: 1 << 20, PreferredMaxBytes: 2 << 20}
		}, "preferred max bytes"},
		{"absolute too small", func(cc *pb.ChannelConfig) { cc.Orderer.BatchSize = &pb.BatchSize{AbsoluteMaxBytes: 10} }, "absolute max bytes"},
		{"absolute too large", func(cc *pb.ChannelConfig) { cc.Orderer.BatchSize = &pb.BatchSize{AbsoluteMaxBytes: 1 << 30} }, "absolute max bytes"},
		{"too many messages", func(cc *pb.ChannelConfig) { cc.Orderer.BatchSize = &pb.BatchSize{MaxMessageCount: 1 << 30} }, "max message count"},
		{"lease above heartbeat", func(cc *pb.ChannelConfig) {
			cc.Orderer.Raft = &pb.RaftOptions{HeartbeatTimeoutMs: 100, LeaderLeaseTimeoutMs: 200}
		}, "leader lease"},
		{"election below heartbeat", func(cc *pb.ChannelConfig) {
			cc.Orderer.Raft = &pb.RaftOptions{HeartbeatTimeoutMs: 500, ElectionTimeoutMs: 200, LeaderLeaseTimeoutMs: 100}
		}, "election timeout"},
		{"missing Admins policy", func(cc *pb.ChannelConfig) { delete(cc.Policies, "Admins") }, "policy Admins is missing"},
		{"empty policy", func(cc *pb.ChannelConfig) { cc.Policies["Extra"] = &pb.Policy{} }, "empty"},
		{"unknown sub-policy", func(cc *pb.ChannelConfig) {
			cc.Policies["Writers"] = policy.ImplicitMeta(pb.ImplicitMetaPolicy_ANY, "Nobody")
		}, "sub-policy"},
		{"bad principal role", func(cc *pb.ChannelConfig) {
			cc.Policies["Extra"] = policy.Signature(policy.SignedBy("Org1MSP", "king"))
		}, "role"},
		{"OutOf beyond rules", func(cc *pb.ChannelConfig) {
			cc.Policies["Extra"] = policy.Signature(policy.OutOf(3, policy.SignedBy("Org1MSP", "peer")))
		}, "OutOf(3)"},
		{"unknown version key", func(cc *pb.ChannelConfig) { cc.Versions = map[string]uint64{"bogus": 0} }, "unknown element"},
		{"version after sequence", func(cc *pb.ChannelConfig) { cc.Versions = map[string]uint64{"orderer": 5} }, "after the config sequence"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := f.genesisConfig()
			tt.mutate(cc)
			_, err := channelconfig.New(cc)
			if err == nil {
				t.Fatal("New accepted an invalid configuration")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func writePEM(t *testing.T, path string, ders ...[]byte) {
	t.Helper()
	var out []byte
	for _, d := range ders {
		out = append(out, pki.EncodeCertificatePEM(d)...)
	}
	if err := fsutil.WriteFileAtomic(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSpecToGenesisBlock(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	writePEM(t, filepath.Join(dir, "root.pem"), f.c.Root.Cert.Raw)
	var members, orderers []string
	for i, id := range mspIDs {
		writePEM(t, filepath.Join(dir, id+"-ca.pem"), f.c.Member(id).CA.Cert.Raw)
		writePEM(t, filepath.Join(dir, id+"-orderer.pem"), f.orderers[id].Cert.Raw)
		members = append(members, `{"mspId":"`+id+`","rootCerts":["root.pem"],"intermediateCerts":["`+id+`-ca.pem"],"peers":["peer0:`+string(rune('1'+i))+`051"]}`)
		orderers = append(orderers, `{"id":"orderer`+string(rune('0'+i))+`","mspId":"`+id+`","address":"127.0.0.1:`+string(rune('1'+i))+`050","cert":"`+id+`-orderer.pem"}`)
	}
	spec := `{"channel":"blossom","members":[` + strings.Join(members, ",") + `],"orderers":[` + strings.Join(orderers, ",") +
		`],"batch":{"maxMessageCount":100,"timeout":"250ms"},"raft":{"snapshotIntervalBlocks":20},"policies":{"Endorsement":"ANY Endorsement"}}`
	specPath := filepath.Join(dir, "consortium.json")
	if err := os.WriteFile(specPath, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := channelconfig.LoadSpec(specPath)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := s.ChannelConfig()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	block, err := channelconfig.GenesisBlock(cc, now)
	if err != nil {
		t.Fatal(err)
	}
	// Round trip through bytes, as the file carries it.
	raw := protocol.MustMarshal(block)
	back := new(pb.Block)
	if err := protocol.Unmarshal(raw, back, 0); err != nil {
		t.Fatal(err)
	}
	if back.Header.Number != 0 || len(back.Header.PreviousHash) != 0 || back.Metadata.LastConfig != 0 {
		t.Errorf("genesis header = %v, metadata = %v", back.Header, back.Metadata)
	}
	if !channelconfig.IsConfigBlock(back) {
		t.Error("genesis is not a config block")
	}
	c, ce, err := channelconfig.FromBlock(back)
	if err != nil {
		t.Fatal(err)
	}
	if len(ce.LastUpdate) != 0 {
		t.Error("genesis has a last update")
	}
	if c.ChannelID() != "blossom" || c.Sequence() != 0 || c.Capability() != channelconfig.CapabilityV1 {
		t.Errorf("config = %s seq %d cap %d", c.ChannelID(), c.Sequence(), c.Capability())
	}
	if c.BatchSize().MaxMessageCount != 100 || c.BatchTimeout() != 250*time.Millisecond || c.BatchSize().AbsoluteMaxBytes != channelconfig.DefaultAbsoluteMaxBytes {
		t.Errorf("batch = %+v / %s", c.BatchSize(), c.BatchTimeout())
	}
	if c.Raft().SnapshotIntervalBlocks != 20 || c.Raft().HeartbeatTimeout != channelconfig.DefaultHeartbeatTimeout {
		t.Errorf("raft = %+v", c.Raft())
	}
	want := map[string]string{
		"Admins": "MAJORITY Admins", "Readers": "ANY Readers", "Writers": "ANY Writers",
		"Endorsement": "ANY Endorsement", "LifecycleEndorsement": "MAJORITY Endorsement",
	}
	for name, text := range want {
		p, ok := c.Policy(name)
		if !ok || policy.Describe(p) != text {
			t.Errorf("policy %s = %v, want %s", name, p, text)
		}
	}
	if eps := c.PeerEndpoints()["Org2MSP"]; len(eps) != 1 || eps[0] != "peer0:2051" {
		t.Errorf("peer endpoints = %v", eps)
	}
	for _, k := range []string{"orderer", "capability", "member/Org1MSP", "policy/Admins"} {
		if _, ok := c.Proto().Versions[k]; !ok {
			t.Errorf("version key %s missing", k)
		}
	}
}

func TestSpecErrors(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	writePEM(t, filepath.Join(dir, "root.pem"), f.c.Root.Cert.Raw)
	writePEM(t, filepath.Join(dir, "ca.pem"), f.c.Member("Org1MSP").CA.Cert.Raw)
	writePEM(t, filepath.Join(dir, "orderer.pem"), f.orderers["Org1MSP"].Cert.Raw)
	member := `{"mspId":"Org1MSP","rootCerts":["root.pem"],"intermediateCerts":["ca.pem"]}`
	orderer := `{"id":"orderer0","mspId":"Org1MSP","address":"127.0.0.1:7050","cert":"orderer.pem"}`
	tests := []struct {
		name, spec, want string
	}{
		{"unknown field", `{"channel":"c","members":[],"orderers":[],"colour":"red"}`, "unknown field"},
		{"trailing data", `{"channel":"c","members":[],"orderers":[]} {}`, "after the JSON"},
		{"bad channel", `{"channel":"C!","members":[` + member + `],"orderers":[` + orderer + `]}`, "channel ID"},
		{"no members", `{"channel":"c","members":[],"orderers":[` + orderer + `]}`, "no member"},
		{"missing cert file", `{"channel":"c","members":[{"mspId":"Org1MSP","rootCerts":["nope.pem"]}],"orderers":[` + orderer + `]}`, "nope.pem"},
		{"bad duration", `{"channel":"c","members":[` + member + `],"orderers":[` + orderer + `],"batch":{"timeout":"soon"}}`, "batch timeout"},
		{"fractional ms", `{"channel":"c","members":[` + member + `],"orderers":[` + orderer + `],"raft":{"heartbeatTimeout":"1500us"}}`, "whole milliseconds"},
		{"bad policy", `{"channel":"c","members":[` + member + `],"orderers":[` + orderer + `],"policies":{"Writers":"SOME Writers"}}`, "policy Writers"},
		{"duplicate member", `{"channel":"c","members":[` + member + `,` + member + `],"orderers":[` + orderer + `]}`, "twice"},
		{"orderer not a member", `{"channel":"c","members":[` + member + `],"orderers":[{"id":"orderer0","mspId":"Org2MSP","address":"h:1","cert":"orderer.pem"}]}`, "not a channel member"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "spec.json")
			if err := os.WriteFile(path, []byte(tt.spec), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := channelconfig.LoadSpec(path)
			if err == nil {
				_, err = s.ChannelConfig()
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestGenesisBlockChecks(t *testing.T) {
	f := newFixture(t)
	cc := f.genesisConfig()
	cc.Sequence = 1
	if _, err := channelconfig.GenesisBlock(cc, time.Now()); err == nil {
		t.Error("genesis with sequence 1 accepted")
	}
	cc.Sequence = 0
	// Consenter certificates must be valid at the genesis time.
	if _, err := channelconfig.GenesisBlock(cc, time.Now().Add(5*365*24*time.Hour)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("genesis at a time the certificates expired: %v", err)
	}
	b, err := channelconfig.GenesisBlock(cc, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tampered := proto.CloneOf(b)
	tampered.Data.Envelopes[0] = append([]byte(nil), tampered.Data.Envelopes[0]...)
	tampered.Data.Envelopes[0][len(tampered.Data.Envelopes[0])-1] ^= 1
	if _, _, err := channelconfig.FromBlock(tampered); err == nil {
		t.Error("FromBlock accepted a block whose data does not match its hash")
	}
	twoEnvs := proto.CloneOf(b)
	twoEnvs.Data.Envelopes = append(twoEnvs.Data.Envelopes, twoEnvs.Data.Envelopes[0])
	twoEnvs.Header.DataHash = protocol.BlockDataHash(twoEnvs.Data)
	if _, _, err := channelconfig.FromBlock(twoEnvs); !errors.Is(err, channelconfig.ErrNotConfigBlock) {
		t.Errorf("two envelopes: %v", err)
	}
}

// TestTrustManager: a node serving two channels trusts the members of
// both and applies a CRL published in either, without changing them.
func TestTrustManager(t *testing.T) {
	f := newFixture(t)
	a := f.genesisConfig()
	b := f.genesisConfig()
	b.ChannelId = "other"
	delete(b.Members, mspIDs[1]) // a member of channel a only
	revoked := f.clients[mspIDs[0]]
	f.c.Member(mspIDs[0]).Revoke(revoked.Cert)
	b.Members[mspIDs[0]].Crls = [][]byte{f.c.Member(mspIDs[0]).CRL().Raw}
	before := proto.Clone(a).(*pb.ChannelConfig)

	mgr, err := channelconfig.TrustManager([]*pb.ChannelConfig{a, b})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tests := []struct {
		name string
		cred *testpki.Credential
		msp  string
		ok   bool
	}{
		{"member of one channel only", f.clients[mspIDs[1]], mspIDs[1], true},
		{"member of both", f.admins[mspIDs[0]], mspIDs[0], true},
		{"revoked in the other channel's CRL", revoked, mspIDs[0], false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := mgr.Validate(tc.msp, tc.cred.Cert.Raw, identity.Roles(pki.RoleClient, pki.RoleAdmin), now)
			if (err == nil) != tc.ok || (err != nil && !strings.Contains(err.Error(), "revoked")) {
				t.Fatalf("Validate = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	if !proto.Equal(a, before) {
		t.Fatal("TrustManager changed a configuration it was given")
	}
}
