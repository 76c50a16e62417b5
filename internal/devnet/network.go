package devnet

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"

	"github.com/blossom-ledger/blossom/internal/caserver"
	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/fsutil"
	"github.com/blossom-ledger/blossom/internal/pki"
)

// NetworkSpec is the consortium description `blossom network init` reads
// (YAML or JSON): the channel and, per member, its name, MSP ID, hosts,
// ports and users. Exactly one member is the BloSS@M admin (service
// provider). Every member gets a user "admin" (its member admin) unless
// listed; other users are enrolled with their blossom.role.
type NetworkSpec struct {
	Channel string       `json:"channel"`
	Members []MemberSpec `json:"members"`
}

// MemberSpec describes one member in a NetworkSpec.
type MemberSpec struct {
	Name  string     `json:"name"`
	MSPID string     `json:"mspId"`
	Admin bool       `json:"admin"`
	Host  string     `json:"host"`
	Hosts Hosts      `json:"hosts"`
	Ports Ports      `json:"ports"`
	Users []UserSpec `json:"users"`
}

// UserSpec is a user to enroll: its name and blossom.role ("" for a
// member admin).
type UserSpec struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

var (
	memberNamePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
	hostPattern       = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$`)
)

// member converts and checks a member description.
func (s MemberSpec) member() (Member, error) {
	m := Member{Name: s.Name, MSPID: s.MSPID, Admin: s.Admin, Host: s.Host, Hosts: s.Hosts, Ports: s.Ports}
	if !memberNamePattern.MatchString(s.Name) {
		return m, fmt.Errorf("member name %q: use 1 to 32 lower-case letters, digits and '-', starting with a letter", s.Name)
	}
	if err := pki.ValidateMSPID(s.MSPID); err != nil {
		return m, fmt.Errorf("member %s: %w", s.Name, err)
	}
	for _, h := range []string{s.Host, s.Hosts.Orderer, s.Hosts.Peer, s.Hosts.Gateway, s.Hosts.CA} {
		if h != "" && !hostPattern.MatchString(h) {
			return m, fmt.Errorf("member %s: bad host %q", s.Name, h)
		}
	}
	ports := []int{s.Ports.Orderer, s.Ports.Peer, s.Ports.Gateway, s.Ports.CA, s.Ports.OrdererHealth, s.Ports.PeerHealth}
	for _, p := range ports {
		if p < 1 || p > 65535 {
			return m, fmt.Errorf("member %s: every port (orderer, peer, gateway, ca, ordererHealth, peerHealth) must be set, 1 to 65535", s.Name)
		}
	}
	sorted := slices.Clone(ports)
	slices.Sort(sorted)
	if len(slices.Compact(sorted)) != len(ports) {
		return m, fmt.Errorf("member %s: two nodes share a port", s.Name)
	}
	hasAdmin := false
	for _, u := range s.Users {
		if !userNamePattern.MatchString(u.Name) || len(u.Role) > maxRoleLength {
			return m, fmt.Errorf("member %s: bad user %q", s.Name, u.Name)
		}
		if slices.ContainsFunc(m.Users, func(x User) bool { return x.Name == u.Name }) {
			return m, fmt.Errorf("member %s: user %q listed twice", s.Name, u.Name)
		}
		hasAdmin = hasAdmin || u.Name == "admin"
		m.Users = append(m.Users, User{Name: u.Name, Role: u.Role})
	}
	if !hasAdmin {
		m.Users = append([]User{{Name: "admin"}}, m.Users...)
	}
	return m, nil
}

// InitNetwork creates, in out (missing or empty), the consortium spec
// describes: hub/root holds the root CA (keep its key offline); each
// member's directory holds its CA (its intermediate key only there), its
// nodes' credentials and configurations, its users, the genesis block and
// the CA bundle, and can be copied to the member's hosts alone.
func InitNetwork(spec *NetworkSpec, out string, logger *slog.Logger) (*Consortium, error) {
	if spec.Channel == "" {
		spec.Channel = Channel
	}
	if err := channelconfig.ValidateChannelID(spec.Channel); err != nil {
		return nil, err
	}
	if len(spec.Members) == 0 || len(spec.Members) > MaxMembers {
		return nil, fmt.Errorf("a consortium needs 1 to %d members", MaxMembers)
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return nil, err
	}
	if entries, err := os.ReadDir(abs); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s is not empty", abs)
	}
	c := &Consortium{Version: stateVersion, Channel: spec.Channel, Network: true, dir: abs}
	admins := 0
	for _, s := range spec.Members {
		m, err := s.member()
		if err != nil {
			return nil, err
		}
		if _, dup := c.Member(m.Name); dup || slices.ContainsFunc(c.Members, func(x Member) bool { return x.MSPID == m.MSPID }) {
			return nil, fmt.Errorf("member %s or MSP ID %s listed twice", m.Name, m.MSPID)
		}
		if m.Admin {
			admins++
		}
		c.Members = append(c.Members, m)
	}
	if admins != 1 {
		return nil, errors.New("exactly one member must be the admin (admin: true), the BloSS@M service provider")
	}
	if err := c.build(logger); err != nil {
		return nil, err
	}
	return c, nil
}

// AddMember creates a new member of an existing network consortium: its
// CA signed by the hub's root, its credentials, node configurations (the
// channel's genesis block included) and admin connection file. It does
// not change the channel: the current members' admins admit it through
// `blossom governance propose add-member`, approve and submit.
func AddMember(dir string, s MemberSpec, logger *slog.Logger) (*Consortium, *Member, error) {
	c, err := Load(dir)
	if err != nil {
		return nil, nil, err
	}
	if len(c.Members) >= MaxMembers {
		return nil, nil, fmt.Errorf("the consortium already has %d members", MaxMembers)
	}
	m, err := s.member()
	if err != nil {
		return nil, nil, err
	}
	if m.Admin {
		return nil, nil, errors.New("the consortium already has its admin member")
	}
	m.Added = true
	if _, dup := c.Member(m.Name); dup || slices.ContainsFunc(c.Members, func(x Member) bool { return x.MSPID == m.MSPID }) {
		return nil, nil, fmt.Errorf("member %s or MSP ID %s exists", m.Name, m.MSPID)
	}
	if _, err := os.Stat(c.MemberDir(&m)); err == nil {
		return nil, nil, fmt.Errorf("%s exists", c.MemberDir(&m))
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	rootPEM, err := fsutil.ReadFileBounded(c.CABundle(), 1<<20)
	if err != nil {
		return nil, nil, err
	}
	if err := c.createMember(&m, rootPEM, logger); err != nil {
		return nil, nil, err
	}
	genesis, err := fsutil.ReadFileBounded(c.GenesisBlock(), 64<<20)
	if err != nil {
		return nil, nil, err
	}
	if err := fsutil.WriteFileAtomic(c.MemberGenesis(&m), genesis, 0o644); err != nil {
		return nil, nil, err
	}
	c.Members = append(c.Members, m)
	added := &c.Members[len(c.Members)-1]
	if err := c.writeMemberConfigs(added, c.AdminMember().MSPID); err != nil {
		return nil, nil, err
	}
	if err := c.Save(); err != nil {
		return nil, nil, err
	}
	return c, added, nil
}

// MemberConfigBlock is where an added member keeps the channel's config
// block that admitted it (blossom governance fetch-config writes it).
func (c *Consortium) MemberConfigBlock(m *Member) string {
	return filepath.Join(c.MemberDir(m), "config.block")
}

// IntermediateCert returns the path of member m's CA certificate.
func (c *Consortium) IntermediateCert(m *Member) string {
	return filepath.Join(c.CADir(m), caserver.CertFile)
}
