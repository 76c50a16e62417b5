package devnet

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/blossom-ledger/blossom/internal/pki"
)

func validSpec() NetworkSpec {
	ports := func(base int) Ports {
		return Ports{Orderer: base, Peer: base + 1, Gateway: base + 2, CA: base + 3, OrdererHealth: base + 4, PeerHealth: base + 5}
	}
	return NetworkSpec{Members: []MemberSpec{
		{Name: "sams", MSPID: "SAMSMSP", Admin: true, Host: "sams.example.gov", Ports: ports(7050)},
		{Name: "agency1", MSPID: "Agency1MSP", Host: "agency1.example.gov", Hosts: Hosts{Peer: "peer0.agency1.example.gov"}, Ports: ports(7050),
			Users: []UserSpec{{Name: "ao", Role: "Authorizing Official"}}},
	}}
}

// TestInitNetworkRefusals: a bad description fails with a clear error and
// writes nothing.
func TestInitNetworkRefusals(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*NetworkSpec)
		want   string
	}{
		{"no members", func(s *NetworkSpec) { s.Members = nil }, "1 to 16 members"},
		{"two admins", func(s *NetworkSpec) { s.Members[1].Admin = true }, "exactly one member must be the admin"},
		{"no admin", func(s *NetworkSpec) { s.Members[0].Admin = false }, "exactly one member must be the admin"},
		{"bad name", func(s *NetworkSpec) { s.Members[0].Name = "Sams/x" }, "member name"},
		{"bad MSP ID", func(s *NetworkSpec) { s.Members[0].MSPID = "" }, "member sams"},
		{"duplicate MSP ID", func(s *NetworkSpec) { s.Members[1].MSPID = "SAMSMSP" }, "listed twice"},
		{"missing port", func(s *NetworkSpec) { s.Members[0].Ports.CA = 0 }, "every port"},
		{"shared port", func(s *NetworkSpec) { s.Members[0].Ports.CA = 7050 }, "share a port"},
		{"bad host", func(s *NetworkSpec) { s.Members[0].Host = "a b" }, "bad host"},
		{"bad channel", func(s *NetworkSpec) { s.Channel = "Bad Channel" }, "channel"},
		{"duplicate user", func(s *NetworkSpec) { s.Members[1].Users = append(s.Members[1].Users, UserSpec{Name: "ao"}) }, "listed twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := validSpec()
			tc.mutate(&spec)
			out := filepath.Join(t.TempDir(), "out")
			if _, err := InitNetwork(&spec, out, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Fatal("a refused description wrote files")
			}
		})
	}
}

// TestInitNetworkLayout: keys where they belong, hosts in certificates and
// the genesis block, relative paths in node configurations.
func TestInitNetworkLayout(t *testing.T) {
	spec := validSpec()
	out := t.TempDir()
	c, err := InitNetwork(&spec, out, nil)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, "key.pem") {
			rel, _ := filepath.Rel(out, p)
			keys = append(keys, rel)
			if info, _ := d.Info(); info.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %o", rel, info.Mode().Perm())
			}
		}
		return nil
	})
	for _, k := range keys {
		top := strings.Split(k, string(filepath.Separator))[0]
		switch {
		case strings.HasSuffix(k, "root-key.pem"):
			if k != filepath.Join("hub", "root", "root-key.pem") {
				t.Fatalf("root key at %s", k)
			}
		case top != "sams" && top != "agency1":
			t.Fatalf("key %s outside the member directories", k)
		}
	}
	m, _ := c.Member("agency1")
	if got := m.Address(NodePeer); got != "peer0.agency1.example.gov:7051" {
		t.Fatalf("peer address %s", got)
	}
	if got := m.Address(NodeOrderer); got != "agency1.example.gov:7050" {
		t.Fatalf("orderer address %s", got)
	}
	if names := []string{m.Users[0].Name, m.Users[1].Name}; names[0] != "admin" || names[1] != "ao" {
		t.Fatalf("users %v", names)
	}
	peerCfg, err := os.ReadFile(c.PeerConfig(m))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(peerCfg), `"genesisBlock": "../blossom.block"`) || !strings.Contains(string(peerCfg), `"listen": "0.0.0.0:7051"`) || strings.Contains(string(peerCfg), out) {
		t.Fatalf("peer config is not relative or does not listen on every interface:\n%s", peerCfg)
	}
	peerCert, err := pki.ReadCertificateFile(filepath.Join(c.NodeDir(m, NodePeer), CertFile))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(peerCert.DNSNames, "peer0.agency1.example.gov") {
		t.Fatalf("peer certificate names %v", peerCert.DNSNames)
	}
	// blossom up does not run a multi-host consortium's directory.
	if _, err := Prepare(out, Options{}); err == nil || !strings.Contains(err.Error(), "network init") {
		t.Fatalf("Prepare on a network directory: %v", err)
	}
	// A second init into the same directory is refused.
	if _, err := InitNetwork(&spec, out, nil); err == nil {
		t.Fatal("init over an existing consortium")
	}
	// add-member: a new member signed by the same root; refusals.
	if _, _, err := AddMember(out, MemberSpec{Name: "agency1", MSPID: "Agency9MSP", Ports: spec.Members[0].Ports}, nil); err == nil {
		t.Fatal("a member name added twice")
	}
	if _, _, err := AddMember(out, MemberSpec{Name: "agency2", MSPID: "Agency2MSP", Admin: true, Ports: spec.Members[0].Ports}, nil); err == nil {
		t.Fatal("a second admin member added")
	}
	_, added, err := AddMember(out, MemberSpec{Name: "agency2", MSPID: "Agency2MSP", Host: "agency2.example.gov", Ports: spec.Members[0].Ports}, nil)
	if err != nil {
		t.Fatal(err)
	}
	reloaded, err := Load(out)
	if err != nil || len(reloaded.Members) != 3 {
		t.Fatalf("after add-member: %v", err)
	}
	if _, err := os.Stat(filepath.Join(c.CADir(added), "ca-key.pem")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(reloaded.MemberGenesis(added)); err != nil {
		t.Fatal("no genesis block for the new member")
	}
}

// FuzzMemberSpec: any member description either is refused or yields a
// member whose names and ports are within bounds.
func FuzzMemberSpec(f *testing.F) {
	f.Add("sams", "SAMSMSP", "sams.example.gov", 7050, "ao", "Authorizing Official")
	f.Add("", "", "", 0, "", "")
	f.Add("a", "A", "a b", 70000, "Bad/Name", "\x00")
	f.Fuzz(func(t *testing.T, name, msp, host string, port int, user, role string) {
		s := MemberSpec{Name: name, MSPID: msp, Host: host, Users: []UserSpec{{Name: user, Role: role}},
			Ports: Ports{Orderer: port, Peer: port + 1, Gateway: port + 2, CA: port + 3, OrdererHealth: port + 4, PeerHealth: port + 5}}
		m, err := s.member()
		if err != nil {
			return
		}
		if !memberNamePattern.MatchString(m.Name) || m.Ports.Orderer < 1 || m.Ports.PeerHealth > 65535 || m.Users[0].Name != "admin" {
			t.Fatalf("accepted %+v", m)
		}
	})
}

// TestFreePort: ports come from below the ephemeral range and are free.
func TestFreePort(t *testing.T) {
	seen := map[int]bool{}
	for range 20 {
		p, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if p < minFreePort || p >= 32768 {
			t.Fatalf("port %d outside [%d, 32768)", p, minFreePort)
		}
		ln, err := net.Listen("tcp", Loopback(p))
		if err != nil {
			t.Fatalf("port %d is not free: %v", p, err)
		}
		ln.Close()
		seen[p] = true
	}
	if len(seen) < 10 {
		t.Fatalf("ports are not spread: %v", seen)
	}
}

// TestAssignPortsDistinct: a devnet never gets the same free port twice
// (each is free when picked, but not yet bound).
func TestAssignPortsDistinct(t *testing.T) {
	for range 5 {
		members := make([]Member, MaxMembers)
		if err := assignPorts(members, 0); err != nil {
			t.Fatal(err)
		}
		seen := map[int]bool{}
		for _, m := range members {
			for _, p := range []int{m.Ports.Orderer, m.Ports.Peer, m.Ports.Gateway, m.Ports.CA, m.Ports.OrdererHealth, m.Ports.PeerHealth} {
				if seen[p] {
					t.Fatalf("port %d assigned twice", p)
				}
				seen[p] = true
			}
		}
	}
}
