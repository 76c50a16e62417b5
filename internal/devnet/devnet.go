// Package devnet creates consortium directories: the development
// consortium `blossom up` runs on one host, and the multi-host material
// `blossom network init` and `blossom network add-member` produce. Both
// are built the same way: a consortium root CA, one intermediate CA per
// member (the BloSS@M service provider is the admin member; in a devnet
// "sams"), every node and user identity registered and enrolled through
// the member's real CA server, node configuration files in the formats
// of `blossom orderer`, `blossom peer` and `blossom gateway` (and a CA
// file for `blossom node`), and the genesis block of the channel.
//
// Layout of DIR:
//
//	consortium.json          what was made: members, hosts, ports, users (0600); written last
//	ca-bundle.pem            the consortium root certificate
//	blossom.block            the channel's genesis block
//	channel.json             the consortium description the genesis block was built from
//	root/ (devnet) or hub/root/ (network)   root-cert.pem, root-key.pem (0600)
//	<member>/                everything the member needs, with paths relative
//	                         to each file, so that it works wherever it is copied:
//	  ca/                    the member's CA directory (its intermediate key only here)
//	  ca.json                the CA node's configuration
//	  registrar/             the CA's bootstrap registrar, enrolled
//	  orderer/, peer/        cert.pem, key.pem, orderer.json or peer.json, data/
//	  gateway/               cert.pem, key.pem, gateway.json, wallet.kek, data/, registrar/,
//	                         signin.secret (devnet: its client secret at the member's OIDC provider)
//	  users/<name>/          cert.pem, key.pem of each user
//	  admin-client.json      the member admin's `blossom governance` connection file
//	  blossom.block, ca-bundle.pem   the member's copies
//	chaincodes/              (devnet) the chaincode packages `blossom up` deployed, or NATIVE
//
// Prepare creates a devnet on first use and reloads it afterwards, so a
// consortium resumes with the same keys, ledgers and ports.
package devnet

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/blossom-ledger/blossom/internal/caserver"
	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/fsutil"
	"github.com/blossom-ledger/blossom/internal/gateway/wallet"
	"github.com/blossom-ledger/blossom/internal/orderer"
	"github.com/blossom-ledger/blossom/internal/pki"
)

// Channel is the devnet's channel.
const Channel = "blossom"

// Member names and MSP IDs (DESIGN §10).
const (
	AdminMemberName = "sams"
	AdminMSPID      = "SAMSMSP"
)

// Demo user roles: the exact blossom.role values.
const (
	RoleAuthorizingOfficial = "Authorizing Official"
	RoleAcquisitionOfficer  = "Acquisition Officer"
	RoleLicenseOwner        = "License Owner"
	RoleTechnicalPOC        = "Technical Point of Contact"
)

// Bounds on the options.
const (
	MinMembers = 3
	MaxMembers = 16
	// portsPerMember: orderer, peer, gateway, CA, orderer health, peer
	// health, OIDC provider.
	portsPerMember = 7
	// portStride separates members' port blocks under --base-port.
	portStride = 10
)

// StateFile is the name of the file that records a created consortium.
const StateFile = "consortium.json"

// stateVersion is the version of StateFile's format.
const stateVersion = 1

// Options shape a new consortium; on an existing directory, non-zero
// values must match what it holds.
type Options struct {
	Members  int // 0: MinMembers
	BasePort int // 0: free ports chosen once
	// Logger receives the CA servers' logs while credentials are enrolled
	// (nil: discarded).
	Logger *slog.Logger
}

// Consortium is a created devnet directory (StateFile).
type Consortium struct {
	Version int      `json:"version"`
	Channel string   `json:"channel"`
	Members []Member `json:"members"`
	// Bootstrapped is set once bootstrap:Bootstrap committed; Demo once the
	// --demo journey did.
	Bootstrapped bool `json:"bootstrapped"`
	Demo         bool `json:"demo"`
	// Network marks a consortium made by `blossom network init` for
	// several hosts: nodes listen on every interface and the root CA lives
	// in hub/, apart from the members' directories.
	Network bool `json:"network,omitempty"`

	dir string
	// nativePackages go into the peers' configurations (RewriteNodeConfigs).
	nativePackages map[string]string
}

// Member is one member of the consortium, its nodes' hosts and ports and
// its users.
type Member struct {
	Name  string `json:"name"`
	MSPID string `json:"mspId"`
	Admin bool   `json:"admin"`
	// Host is the host name or IP address of the member's nodes ("":
	// 127.0.0.1); Hosts overrides it per node.
	Host  string `json:"host,omitempty"`
	Hosts Hosts  `json:"hosts,omitzero"`
	Ports Ports  `json:"ports"`
	Users []User `json:"users"`
	// Added is set for a member added after the genesis block (network
	// add-member): its admin trusts the channel's members from a later
	// config block (MemberConfigBlock), which the genesis does not list it
	// in.
	Added bool `json:"added,omitempty"`
}

// Hosts are per-node host names ("": the member's Host).
type Hosts struct {
	Orderer string `json:"orderer,omitempty"`
	Peer    string `json:"peer,omitempty"`
	Gateway string `json:"gateway,omitempty"`
	CA      string `json:"ca,omitempty"`
	OIDC    string `json:"oidc,omitempty"`
}

// Node names.
const (
	NodeOrderer = "orderer"
	NodePeer    = "peer"
	NodeGateway = "gateway"
	NodeCA      = "ca"
	// NodeOIDC is the member's built-in OpenID provider (devnet only).
	NodeOIDC = "oidc"
)

// HostOf returns the host of one of m's nodes.
func (m *Member) HostOf(node string) string {
	h := map[string]string{NodeOrderer: m.Hosts.Orderer, NodePeer: m.Hosts.Peer, NodeGateway: m.Hosts.Gateway, NodeCA: m.Hosts.CA, NodeOIDC: m.Hosts.OIDC}[node]
	switch {
	case h != "":
		return h
	case m.Host != "":
		return m.Host
	}
	return "127.0.0.1"
}

// Address returns host:port of one of m's nodes, as other nodes and
// clients reach it.
func (m *Member) Address(node string) string {
	port := map[string]int{NodeOrderer: m.Ports.Orderer, NodePeer: m.Ports.Peer, NodeGateway: m.Ports.Gateway, NodeCA: m.Ports.CA, NodeOIDC: m.Ports.OIDC}[node]
	return net.JoinHostPort(m.HostOf(node), strconv.Itoa(port))
}

// tlsHosts are the SANs of a node's certificate: its host and loopback.
func (m *Member) tlsHosts(node string) []string {
	hosts := []string{m.HostOf(node)}
	for _, h := range []string{"localhost", "127.0.0.1"} {
		if h != hosts[0] {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// listen returns the address a node listens on: loopback for a devnet,
// every interface for a multi-host network.
func (c *Consortium) listen(port int) string {
	host := "127.0.0.1"
	if c.Network {
		host = "0.0.0.0"
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// Ports are a member's ports.
type Ports struct {
	Orderer       int `json:"orderer"`
	Peer          int `json:"peer"`
	Gateway       int `json:"gateway"`
	CA            int `json:"ca"`
	OrdererHealth int `json:"ordererHealth"`
	PeerHealth    int `json:"peerHealth"`
	// OIDC is the built-in OpenID provider's port (0 in a consortium an
	// older version made: EnsureOIDCPorts assigns it).
	OIDC int `json:"oidc,omitempty"`
}

// User is a demo user: its blossom.role ("" for the member admin) and
// password (for the member's OIDC sign-in).
type User struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	Password string `json:"password"`
}

// Dir returns the consortium's directory (absolute).
func (c *Consortium) Dir() string { return c.dir }

// MemberDir returns member m's directory.
func (c *Consortium) MemberDir(m *Member) string { return filepath.Join(c.dir, m.Name) }

// Path helpers for the files of the layout. A member's directory holds
// its own copies of the genesis block and the CA bundle, so that it can be
// moved to the member's host alone.
func (c *Consortium) CABundle() string     { return filepath.Join(c.dir, "ca-bundle.pem") }
func (c *Consortium) GenesisBlock() string { return filepath.Join(c.dir, "blossom.block") }
func (c *Consortium) MemberGenesis(m *Member) string {
	return filepath.Join(c.MemberDir(m), "blossom.block")
}
func (c *Consortium) MemberCABundle(m *Member) string {
	return filepath.Join(c.MemberDir(m), "ca-bundle.pem")
}
func (c *Consortium) RootDir() string {
	if c.Network {
		return filepath.Join(c.dir, "hub", "root")
	}
	return filepath.Join(c.dir, "root")
}
func (c *Consortium) CADir(m *Member) string {
	return filepath.Join(c.MemberDir(m), "ca")
}
func (c *Consortium) NodeDir(m *Member, node string) string {
	return filepath.Join(c.MemberDir(m), node)
}
func (c *Consortium) UserDir(m *Member, user string) string {
	return filepath.Join(c.MemberDir(m), "users", user)
}

// Config file names of the nodes.
func (c *Consortium) OrdererConfig(m *Member) string {
	return filepath.Join(c.NodeDir(m, "orderer"), "orderer.json")
}
func (c *Consortium) PeerConfig(m *Member) string {
	return filepath.Join(c.NodeDir(m, "peer"), "peer.json")
}
func (c *Consortium) GatewayConfig(m *Member) string {
	return filepath.Join(c.NodeDir(m, "gateway"), "gateway.json")
}
func (c *Consortium) CAConfig(m *Member) string {
	return filepath.Join(c.MemberDir(m), "ca.json")
}

// Credential file names inside a node or user directory.
const (
	CertFile = "cert.pem" // the certificate followed by its CA chain
	KeyFile  = "key.pem"  // mode 0600
)

// AdminMember returns the service provider.
func (c *Consortium) AdminMember() *Member {
	for i := range c.Members {
		if c.Members[i].Admin {
			return &c.Members[i]
		}
	}
	return nil
}

// Member finds a member by name.
func (c *Consortium) Member(name string) (*Member, bool) {
	for i := range c.Members {
		if c.Members[i].Name == name {
			return &c.Members[i], true
		}
	}
	return nil, false
}

// Loopback returns 127.0.0.1:port.
func Loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// Prepare returns the consortium in dir, creating it on first use. dir
// must then be missing or empty: a directory with other files and no
// StateFile (for instance one whose creation was interrupted) is refused
// rather than guessed at.
func Prepare(dir string, opts Options) (*Consortium, error) {
	if opts.Members != 0 && (opts.Members < MinMembers || opts.Members > MaxMembers) {
		return nil, fmt.Errorf("--members must be between %d and %d", MinMembers, MaxMembers)
	}
	if opts.BasePort != 0 && (opts.BasePort < 1024 || opts.BasePort > 65535-portStride*MaxMembers) {
		return nil, fmt.Errorf("--base-port %d is out of range (1024 to %d)", opts.BasePort, 65535-portStride*MaxMembers)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	c, err := Load(abs)
	if err == nil {
		if c.Network {
			return nil, fmt.Errorf("%s was made by blossom network init: run its nodes with blossom node --config", abs)
		}
		if opts.Members != 0 && opts.Members != len(c.Members) {
			return nil, fmt.Errorf("%s holds a %d-member consortium, not %d (use another directory)", abs, len(c.Members), opts.Members)
		}
		if opts.BasePort != 0 && opts.BasePort != c.Members[0].Ports.Orderer {
			return nil, fmt.Errorf("%s runs on base port %d, not %d", abs, c.Members[0].Ports.Orderer, opts.BasePort)
		}
		return c, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if entries, err := os.ReadDir(abs); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s is not empty and holds no consortium (%s missing): use an empty directory", abs, StateFile)
	}
	if opts.Members == 0 {
		opts.Members = MinMembers
	}
	return create(abs, opts)
}

// Load reads the consortium in dir (its StateFile).
func Load(dir string) (*Consortium, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	data, err := fsutil.ReadFileBounded(filepath.Join(abs, StateFile), 1<<20)
	if err != nil {
		return nil, err
	}
	c := &Consortium{dir: abs}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(abs, StateFile), err)
	}
	if c.Version != stateVersion || c.Channel == "" || len(c.Members) == 0 || len(c.Members) > MaxMembers || c.AdminMember() == nil {
		return nil, fmt.Errorf("%s: not a consortium description of version %d", filepath.Join(abs, StateFile), stateVersion)
	}
	return c, nil
}

// Save rewrites the StateFile (atomically, mode 0600: it holds passwords).
func (c *Consortium) Save() error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(filepath.Join(c.dir, StateFile), append(data, '\n'), 0o600)
}

// memberNames returns the names and MSP IDs of an n-member consortium.
func memberNames(n int) []Member {
	out := []Member{{Name: AdminMemberName, MSPID: AdminMSPID, Admin: true}}
	for i := 1; i < n; i++ {
		out = append(out, Member{Name: fmt.Sprintf("agency%d", i), MSPID: fmt.Sprintf("Agency%dMSP", i)})
	}
	return out
}

// demoUsers returns the demo users of a member (DESIGN §10): admin, ao,
// acq, and lo at the service provider or tpoc at an agency.
func demoUsers(admin bool) ([]User, error) {
	users := []User{{Name: "admin"}, {Name: "ao", Role: RoleAuthorizingOfficial}, {Name: "acq", Role: RoleAcquisitionOfficer}}
	if admin {
		users = append(users, User{Name: "lo", Role: RoleLicenseOwner})
	} else {
		users = append(users, User{Name: "tpoc", Role: RoleTechnicalPOC})
	}
	for i := range users {
		pw, err := newPassword()
		if err != nil {
			return nil, err
		}
		users[i].Password = pw
	}
	return users, nil
}

// newPassword returns 18 random bytes, base64url: 24 characters.
func newPassword() (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// assignPorts gives every member its ports: base+stride*i+k, or free
// loopback ports when base is 0.
func assignPorts(members []Member, base int) error {
	taken := map[int]bool{} // a free port is free until used: never hand it out twice
	for i := range members {
		ports := make([]int, portsPerMember)
		for k := range ports {
			if base != 0 {
				ports[k] = base + portStride*i + k
				continue
			}
			for attempt := 0; ports[k] == 0 || taken[ports[k]]; attempt++ {
				if attempt == freePortAttempts {
					return errors.New("no free loopback port found")
				}
				p, err := FreePort()
				if err != nil {
					return err
				}
				ports[k] = p
			}
			taken[ports[k]] = true
		}
		members[i].Ports = Ports{Orderer: ports[0], Peer: ports[1], Gateway: ports[2], CA: ports[3], OrdererHealth: ports[4], PeerHealth: ports[5], OIDC: ports[6]}
	}
	return nil
}

// EnsureOIDCPorts gives the members of a consortium an older version made
// their OIDC provider's port (the next of a --base-port block, else a free
// one) and saves it.
func (c *Consortium) EnsureOIDCPorts() error {
	missing := false
	for i := range c.Members {
		missing = missing || c.Members[i].Ports.OIDC == 0
	}
	if !missing {
		return nil
	}
	ports := make([]int, len(c.Members))
	for i := range c.Members {
		p := &c.Members[i].Ports
		switch {
		case p.OIDC != 0:
			ports[i] = p.OIDC
		case p.PeerHealth == p.Orderer+5:
			ports[i] = p.Orderer + 6
		default:
			free, err := FreePort()
			if err != nil {
				return err
			}
			ports[i] = free
		}
	}
	return c.Update(func(c *Consortium) {
		for i := range c.Members {
			c.Members[i].Ports.OIDC = ports[i]
		}
	})
}

// Bounds of the ports FreePort picks from when the kernel's ephemeral
// range is unknown.
const (
	minFreePort          = 10000
	defaultEphemeralLow  = 32768
	freePortAttempts     = 200
	ephemeralRangeSysctl = "/proc/sys/net/ipv4/ip_local_port_range"
)

// FreePort returns a loopback port that is free now, chosen at random
// below the kernel's ephemeral port range: a port chosen once and reused
// on every later start must not be one the kernel hands out for outgoing
// connections or port-0 listeners meanwhile. It falls back to a port the
// kernel picks.
func FreePort() (int, error) {
	high := defaultEphemeralLow
	if data, err := os.ReadFile(ephemeralRangeSysctl); err == nil {
		if f := strings.Fields(string(data)); len(f) == 2 {
			if low, err := strconv.Atoi(f[0]); err == nil && low > minFreePort+1000 {
				high = low
			}
		}
	}
	var b [2]byte
	for range freePortAttempts {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, err
		}
		port := minFreePort + int(binary.BigEndian.Uint16(b[:]))%(high-minFreePort)
		ln, err := net.Listen("tcp", Loopback(port))
		if err == nil {
			ln.Close()
			return port, nil
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// create builds a new devnet in dir (see the package documentation).
func create(dir string, opts Options) (*Consortium, error) {
	c := &Consortium{Version: stateVersion, Channel: Channel, Members: memberNames(opts.Members), dir: dir}
	if err := assignPorts(c.Members, opts.BasePort); err != nil {
		return nil, err
	}
	for i := range c.Members {
		users, err := demoUsers(c.Members[i].Admin)
		if err != nil {
			return nil, err
		}
		c.Members[i].Users = users
	}
	if err := c.build(opts.Logger); err != nil {
		return nil, err
	}
	return c, nil
}

// build creates the root CA, every member's CA and credentials, the
// genesis block and the node configurations of c, then saves c.
func (c *Consortium) build(logger *slog.Logger) error {
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	rootCert, err := caserver.InitRoot(c.RootDir(), caserver.RootOptions{Name: "blossom consortium root CA", Organization: "blossom", Algorithm: pki.ECDSAP256})
	if err != nil {
		return fmt.Errorf("root CA: %w", err)
	}
	rootPEM := pki.EncodeCertificatePEM(rootCert.Raw)
	if err := fsutil.WriteFileAtomic(c.CABundle(), rootPEM, 0o644); err != nil {
		return err
	}
	for i := range c.Members {
		if err := c.createMember(&c.Members[i], rootPEM, logger); err != nil {
			return fmt.Errorf("member %s: %w", c.Members[i].Name, err)
		}
	}
	if err := c.writeGenesis(); err != nil {
		return err
	}
	if err := c.writeNodeConfigs(); err != nil {
		return err
	}
	return c.Save()
}

// createMember sets up a member's CA (its key signed by the root) and
// enrolls every identity of the member through the CA's own HTTPS API,
// so the CA's database knows them (re-enrollment, revocation).
func (c *Consortium) createMember(m *Member, rootPEM []byte, logger *slog.Logger) error {
	caDir := c.CADir(m)
	csr, err := caserver.Init(caDir, m.MSPID, pki.ECDSAP256)
	if err != nil {
		return err
	}
	certPEM, err := caserver.SignIntermediateCSR(c.RootDir(), csr, 0)
	if err != nil {
		return err
	}
	if err := caserver.Install(caDir, certPEM, rootPEM, caserver.InstallOptions{TLSHosts: m.tlsHosts(NodeCA), Logger: logger}); err != nil {
		return err
	}
	if err := os.MkdirAll(c.MemberDir(m), 0o700); err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(c.MemberCABundle(m), rootPEM, 0o644); err != nil {
		return err
	}
	url, release, err := c.openCA(m, logger)
	if err != nil {
		return err
	}
	defer release()
	e, err := newEnroller(caDir, url)
	if err != nil {
		return err
	}
	defer e.close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return c.enrollMember(ctx, e, m)
}

// enrollMember enrolls the registrar, the nodes, the gateway's registrar
// and the demo users of m.
func (c *Consortium) enrollMember(ctx context.Context, e *enroller, m *Member) error {
	if err := e.enrollBootstrap(ctx, filepath.Join(c.MemberDir(m), "registrar")); err != nil {
		return fmt.Errorf("registrar: %w", err)
	}
	for _, node := range []string{NodeOrderer, NodePeer, NodeGateway} {
		n := struct{ node, typ string }{node, node}
		req := caserver.RegisterRequest{EnrollmentID: n.node + "-" + m.Name, Type: n.typ, Hosts: m.tlsHosts(node)}
		if err := e.registerAndEnroll(ctx, req, c.NodeDir(m, n.node)); err != nil {
			return fmt.Errorf("%s: %w", n.node, err)
		}
	}
	// The gateway's registrar may register client identities with a
	// blossom.role, and nothing else (first sign-ins); a devnet's also
	// admins, so that the demo admin can sign in at the member's OIDC
	// provider once the member admin approved it (an admin approval).
	gwRoles := string(pki.RoleClient)
	if !c.Network {
		gwRoles += "," + string(pki.RoleAdmin)
	}
	gwReg := caserver.RegisterRequest{EnrollmentID: "gateway-registrar-" + m.Name, Type: string(pki.RoleClient), Attributes: map[string]string{
		caserver.AttrRegistrarRoles: gwRoles, caserver.AttrRegistrarAttributes: pki.RoleAttribute,
	}}
	if err := e.registerAndEnroll(ctx, gwReg, filepath.Join(c.NodeDir(m, "gateway"), "registrar")); err != nil {
		return fmt.Errorf("gateway registrar: %w", err)
	}
	for _, u := range m.Users {
		req := caserver.RegisterRequest{EnrollmentID: m.Name + "-" + u.Name, Type: string(pki.RoleClient)}
		if u.Role == "" {
			req.Type = string(pki.RoleAdmin)
		} else {
			req.Attributes = map[string]string{pki.RoleAttribute: u.Role}
		}
		if err := e.registerAndEnroll(ctx, req, c.UserDir(m, u.Name)); err != nil {
			return fmt.Errorf("user %s: %w", u.Name, err)
		}
	}
	return wallet.GenerateKEKFile(filepath.Join(c.NodeDir(m, "gateway"), "wallet.kek"))
}

// writeGenesis writes the consortium description (channel.json) and the
// genesis block it yields.
func (c *Consortium) writeGenesis() error {
	spec := channelconfig.Spec{Channel: c.Channel, Batch: &channelconfig.BatchSpec{Timeout: "50ms"}}
	for i := range c.Members {
		m := &c.Members[i]
		spec.Members = append(spec.Members, channelconfig.MemberSpec{
			MSPID:             m.MSPID,
			RootCerts:         []string{c.CABundle()},
			IntermediateCerts: []string{filepath.Join(c.CADir(m), caserver.CertFile)},
			Peers:             []string{m.Address(NodePeer)},
		})
		cert, err := pki.ReadCertificateFile(filepath.Join(c.NodeDir(m, "orderer"), CertFile))
		if err != nil {
			return err
		}
		spec.Orderers = append(spec.Orderers, channelconfig.OrdererSpec{
			ID: cert.Subject.CommonName, MSPID: m.MSPID, Address: m.Address(NodeOrderer),
			Cert: filepath.Join(c.NodeDir(m, "orderer"), CertFile),
		})
	}
	data, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return err
	}
	specPath := filepath.Join(c.dir, "channel.json")
	if err := fsutil.WriteFileAtomic(specPath, append(data, '\n'), 0o644); err != nil {
		return err
	}
	loaded, err := channelconfig.LoadSpec(specPath)
	if err != nil {
		return err
	}
	cc, err := loaded.ChannelConfig()
	if err != nil {
		return err
	}
	block, err := channelconfig.GenesisBlock(cc, time.Now())
	if err != nil {
		return err
	}
	if err := orderer.WriteBlockFile(c.GenesisBlock(), block); err != nil {
		return err
	}
	for i := range c.Members {
		if err := orderer.WriteBlockFile(c.MemberGenesis(&c.Members[i]), block); err != nil {
			return err
		}
	}
	return nil
}

// Update reloads the consortium from its StateFile, applies fn and saves
// it, so that users another process added meanwhile are kept.
func (c *Consortium) Update(fn func(*Consortium)) error {
	fresh, err := Load(c.dir)
	if err != nil {
		return err
	}
	fn(fresh)
	if err := fresh.Save(); err != nil {
		return err
	}
	*c = *fresh
	return nil
}
