// Package localnet lays out a whole blossom network on one machine outside
// tests: a throwaway consortium PKI, one orderer and one peer per member on
// 127.0.0.1, the channel's genesis block, and the configuration files of
// `blossom orderer --config` and `blossom peer --config`, all under one
// directory. The nodes can then run in this process (Start, used by
// `blossom bench`) or as separate processes of the built binary started
// from the written files (the fault suite).
//
//	l, _ := localnet.Create(localnet.Options{Dir: dir})   // 3 members, channel "blossom", chaincode "kv"
//	net, _ := l.Start(logger)                               // in-process nodes
//	defer net.Close()
//	cfg, _ := l.ClientConfig(0)                             // member 0's user, own peer first
//
// Everything is for development and measurement: keys are written in the
// clear (mode 0600) and the root CA key is discarded after use.
package localnet

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/blossom-ledger/blossom/chaincode/asset"
	"github.com/blossom-ledger/blossom/chaincode/authorization"
	"github.com/blossom-ledger/blossom/chaincode/kvtest"
	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/client"
	"github.com/blossom-ledger/blossom/internal/devnet"
	"github.com/blossom-ledger/blossom/internal/fsutil"
	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/lifecycle"
	"github.com/blossom-ledger/blossom/internal/orderer"
	"github.com/blossom-ledger/blossom/internal/peer"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/transport"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// Defaults of Options.
const (
	DefaultChannel           = "blossom"
	DefaultChaincode         = "kv"
	DefaultEndorsementPolicy = "MAJORITY Endorsement"
	MaxMembers               = 16
)

// Options shape a network.
type Options struct {
	// Dir receives every file (created if missing; must not hold a network).
	Dir string
	// Members is the number of members (0: 3); member i has MSP ID
	// "Org<i+1>MSP".
	Members int
	// Channel is the channel ID ("": DefaultChannel).
	Channel string
	// EndorsementPolicy of the kvtest chaincode registered as "kv" ("":
	// DefaultEndorsementPolicy).
	EndorsementPolicy string
	// BatchTimeout and BatchMaxCount cut blocks (0: the channel defaults).
	BatchTimeout  time.Duration
	BatchMaxCount uint32
	// NodeValidity is the validity of node certificates (0: pki default).
	NodeValidity time.Duration
	// LogLevel of the nodes' configuration files ("": warn).
	LogLevel string
	// HostIPs, if set, is the IPv4 address each member's nodes listen on
	// (one per member; default 127.0.0.1), for networks spread over
	// network namespaces. Node certificates name it and 127.0.0.1.
	HostIPs []string
	// BloSSAM also registers the BloSS@M chaincodes "authorization" and
	// "asset" on every peer, natively, with the definitions a `blossom up`
	// devnet commits (devnet.Definition: policies and the adminMSP
	// parameter, member 0 being the service provider), the way `blossom
	// network init` configures its peers.
	BloSSAM bool
}

// Member is one member: its nodes' addresses, directories and files.
type Member struct {
	MSPID string
	Dir   string
	// Addresses (host:port): mutual-TLS gRPC and plain-HTTP /healthz.
	PeerAddr, OrdererAddr     string
	PeerHealth, OrdererHealth string
	// Configuration files of `blossom peer` and `blossom orderer`.
	PeerConfig, OrdererConfig string
	// Data directories; the peer's channel ledger is
	// PeerDataDir/channels/<channel>.
	PeerDataDir, OrdererDataDir string
	// The member's client user ("user0", role client) as PEM files.
	UserCert, UserKey string

	ca              *pki.CA
	peerTLS, ordTLS tls.Certificate
	userCert        *x509.Certificate
	ip              net.IP
	userKey         crypto.Signer
	peerDir, ordDir string
}

// PeerName is the member's peer's name in clients ("Org1MSP/peer0").
func (m *Member) PeerName() string { return m.MSPID + "/peer0" }

// Layout is a network written to disk, not yet running.
type Layout struct {
	Dir, Channel string
	Members      []*Member
	Genesis      *pb.Block
	GenesisFile  string
	Policy       string
	BloSSAM      bool
	root         *x509.Certificate
	validity     time.Duration
	ports        map[int]bool // handed out to this layout's nodes (freeAddrs)
}

// Create generates the PKI, picks free loopback ports and writes every
// file of a new network.
func Create(opts Options) (*Layout, error) {
	if opts.Dir == "" {
		return nil, errors.New("localnet: no directory")
	}
	if opts.Members == 0 {
		opts.Members = 3
	}
	if opts.Members < 1 || opts.Members > MaxMembers {
		return nil, fmt.Errorf("localnet: %d members (1 to %d)", opts.Members, MaxMembers)
	}
	if opts.Channel == "" {
		opts.Channel = DefaultChannel
	}
	if opts.EndorsementPolicy == "" {
		opts.EndorsementPolicy = DefaultEndorsementPolicy
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "warn"
	}
	if opts.HostIPs != nil && len(opts.HostIPs) != opts.Members {
		return nil, fmt.Errorf("localnet: %d host IPs for %d members", len(opts.HostIPs), opts.Members)
	}
	hostIP := func(i int) net.IP {
		if opts.HostIPs == nil {
			return net.IPv4(127, 0, 0, 1)
		}
		return net.ParseIP(opts.HostIPs[i]).To4()
	}
	for i := range opts.HostIPs {
		if hostIP(i) == nil {
			return nil, fmt.Errorf("localnet: host IP %q is not an IPv4 address", opts.HostIPs[i])
		}
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("localnet: %w", err)
	}
	l := &Layout{Dir: opts.Dir, Channel: opts.Channel, Policy: opts.EndorsementPolicy, BloSSAM: opts.BloSSAM, validity: opts.NodeValidity,
		GenesisFile: filepath.Join(opts.Dir, opts.Channel+".block")}
	if _, err := os.Stat(l.GenesisFile); err == nil {
		return nil, fmt.Errorf("localnet: %s already holds a network", opts.Dir)
	}
	epoch := time.Now().Add(-time.Hour)
	root, err := pki.NewRootCA(pki.RootRequest{CommonName: "localnet root CA", Organization: "localnet", Now: epoch})
	if err != nil {
		return nil, fmt.Errorf("localnet: root CA: %w", err)
	}
	l.root = root.Cert
	cc := &pb.ChannelConfig{
		ChannelId:  opts.Channel,
		Capability: channelconfig.CapabilityV1,
		Members:    map[string]*pb.MemberConfig{},
		Orderer:    &pb.OrdererConfig{BatchTimeoutMs: uint32(opts.BatchTimeout / time.Millisecond)},
		Policies:   channelconfig.DefaultPolicies(),
	}
	if opts.BatchMaxCount > 0 {
		cc.Orderer.BatchSize = &pb.BatchSize{MaxMessageCount: opts.BatchMaxCount}
	}
	for i := 0; i < opts.Members; i++ {
		m, err := l.addMember(root, i, epoch, hostIP(i))
		if err != nil {
			return nil, err
		}
		cc.Members[m.MSPID] = &pb.MemberConfig{
			MspId: m.MSPID, RootCerts: [][]byte{root.Cert.Raw}, IntermediateCerts: [][]byte{m.ca.Cert.Raw},
			PeerEndpoints: []string{m.PeerAddr},
		}
		cc.Orderer.Consenters = append(cc.Orderer.Consenters, &pb.Consenter{
			Id: m.ordTLS.Leaf.Subject.CommonName, MspId: m.MSPID, Address: m.OrdererAddr, CertDer: m.ordTLS.Leaf.Raw,
		})
	}
	if l.Genesis, err = channelconfig.GenesisBlock(cc, time.Now()); err != nil {
		return nil, fmt.Errorf("localnet: genesis block: %w", err)
	}
	if err := orderer.WriteBlockFile(l.GenesisFile, l.Genesis); err != nil {
		return nil, fmt.Errorf("localnet: %w", err)
	}
	for _, m := range l.Members {
		if err := l.writeConfigs(m, opts.LogLevel); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (l *Layout) addMember(root *pki.CA, i int, epoch time.Time, ip net.IP) (*Member, error) {
	id := fmt.Sprintf("Org%dMSP", i+1)
	key, csr, err := pki.NewIntermediateCSR(id, pki.ECDSAP256)
	if err != nil {
		return nil, fmt.Errorf("localnet: %s CSR: %w", id, err)
	}
	cert, err := root.SignIntermediate(csr, 0, epoch)
	if err != nil {
		return nil, fmt.Errorf("localnet: %s intermediate: %w", id, err)
	}
	dir := filepath.Join(l.Dir, id)
	m := &Member{MSPID: id, Dir: dir, ip: ip, ca: &pki.CA{Cert: cert, Signer: key, Chain: []*x509.Certificate{root.Cert}},
		peerDir: filepath.Join(dir, "peer0"), ordDir: filepath.Join(dir, "orderer0")}
	m.PeerDataDir, m.OrdererDataDir = filepath.Join(m.peerDir, "data"), filepath.Join(m.ordDir, "data")
	m.PeerConfig, m.OrdererConfig = filepath.Join(m.peerDir, "peer.json"), filepath.Join(m.ordDir, "orderer.json")
	for _, d := range []string{m.peerDir, m.ordDir, filepath.Join(dir, "user0")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("localnet: %w", err)
		}
	}
	addrs, err := l.freeAddrs(4, ip)
	if err != nil {
		return nil, err
	}
	m.PeerAddr, m.OrdererAddr, m.PeerHealth, m.OrdererHealth = addrs[0], addrs[1], addrs[2], addrs[3]
	if m.peerTLS, err = l.issueNode(m, pki.RolePeer, fmt.Sprintf("peer%d", i), m.peerDir, time.Now()); err != nil {
		return nil, err
	}
	if m.ordTLS, err = l.issueNode(m, pki.RoleOrderer, fmt.Sprintf("orderer%d", i), m.ordDir, time.Now()); err != nil {
		return nil, err
	}
	if m.userKey, m.userCert, err = issue(m.ca, pki.RoleClient, fmt.Sprintf("user%d", i), 0, time.Now(), nil); err != nil {
		return nil, err
	}
	if m.UserKey, m.UserCert, err = writeCredential(filepath.Join(dir, "user0"), m.userKey, m.userCert, m.ca.Cert); err != nil {
		return nil, err
	}
	l.Members = append(l.Members, m)
	return m, nil
}

// issueNode issues a node credential valid from now and writes it in dir.
func (l *Layout) issueNode(m *Member, role pki.Role, cn, dir string, now time.Time) (tls.Certificate, error) {
	key, cert, err := issue(m.ca, role, cn, l.validity, now, m.ip)
	if err != nil {
		return tls.Certificate{}, err
	}
	if _, _, err := writeCredential(dir, key, cert, m.ca.Cert); err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{cert.Raw, m.ca.Cert.Raw}, PrivateKey: key, Leaf: cert}, nil
}

// RenewNodeCertificate issues member i's peer (role peer) or orderer (role
// orderer) a new certificate with the same name and key type, valid from
// now for validity (0: the layout's node validity), and rewrites its
// files: the node uses it from its next start. An orderer keeps its
// consenter identity only if its certificate is unchanged in the channel
// configuration, so renewing an orderer's certificate needs a config
// update and is refused here.
func (l *Layout) RenewNodeCertificate(i int, role pki.Role, validity time.Duration) error {
	m := l.Members[i]
	if role != pki.RolePeer {
		return fmt.Errorf("localnet: renewing a %s certificate is not supported (the consenter set names it)", role)
	}
	saved := l.validity
	if validity > 0 {
		l.validity = validity
	}
	defer func() { l.validity = saved }()
	c, err := l.issueNode(m, role, m.peerTLS.Leaf.Subject.CommonName, m.peerDir, time.Now())
	if err != nil {
		return err
	}
	m.peerTLS = c
	return nil
}

// PeerCertificate returns member i's peer certificate as last issued.
func (l *Layout) PeerCertificate(i int) *x509.Certificate { return l.Members[i].peerTLS.Leaf }

func issue(ca *pki.CA, role pki.Role, cn string, validity time.Duration, now time.Time, ip net.IP) (crypto.Signer, *x509.Certificate, error) {
	key, err := pki.GenerateKey(pki.ECDSAP256)
	if err != nil {
		return nil, nil, fmt.Errorf("localnet: key: %w", err)
	}
	req := pki.IssueRequest{PublicKey: key.Public(), EnrollmentID: cn, Role: role, Validity: validity, Now: now}
	if role.IsNode() {
		req.DNSNames, req.IPAddresses = []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}
		if ip != nil && !ip.IsLoopback() {
			req.IPAddresses = append(req.IPAddresses, ip)
		}
	}
	cert, err := ca.Issue(req)
	if err != nil {
		return nil, nil, fmt.Errorf("localnet: issue %s %s: %w", role, cn, err)
	}
	return key, cert, nil
}

// writeCredential writes dir/key.pem (0600) and dir/cert.pem (the
// certificate followed by its issuing CA).
func writeCredential(dir string, key crypto.Signer, cert, ca *x509.Certificate) (keyPath, certPath string, err error) {
	keyPath, certPath = filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	if err := pki.WritePrivateKeyFile(keyPath, key); err != nil {
		return "", "", fmt.Errorf("localnet: write key: %w", err)
	}
	pem := append(pki.EncodeCertificatePEM(cert.Raw), pki.EncodeCertificatePEM(ca.Raw)...)
	if err := fsutil.WriteFileAtomic(certPath, pem, 0o644); err != nil {
		return "", "", fmt.Errorf("localnet: write certificate: %w", err)
	}
	return keyPath, certPath, nil
}

// writeConfigs writes the member's orderer.json and peer.json, in the
// formats `blossom orderer --config` and `blossom peer --config` read.
func (l *Layout) writeConfigs(m *Member, level string) error {
	ord := map[string]any{
		"listenAddress": m.OrdererAddr, "dataDir": m.OrdererDataDir,
		"certFile": filepath.Join(m.ordDir, "cert.pem"), "keyFile": filepath.Join(m.ordDir, "key.pem"),
		"genesisBlocks": []string{l.GenesisFile}, "healthAddress": m.OrdererHealth, "logLevel": level,
	}
	pe := map[string]any{
		"dataDir": m.PeerDataDir, "listen": m.PeerAddr,
		"cert": filepath.Join(m.peerDir, "cert.pem"), "key": filepath.Join(m.peerDir, "key.pem"),
		"genesisBlock": l.GenesisFile, "channel": l.Channel, "logLevel": level, "healthAddress": m.PeerHealth,
		"chaincodes": l.chaincodeConfigs(),
	}
	for path, v := range map[string]any{m.OrdererConfig: ord, m.PeerConfig: pe} {
		data, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		if err := fsutil.WriteFileAtomic(path, append(data, '\n'), 0o600); err != nil {
			return fmt.Errorf("localnet: %w", err)
		}
	}
	return nil
}

// blossamDefinitions are the BloSS@M chaincodes' definitions (empty
// unless l.BloSSAM), each with its native implementation's name.
func (l *Layout) blossamDefinitions() []*lifecycle.Definition {
	if !l.BloSSAM {
		return nil
	}
	var out []*lifecycle.Definition
	for _, name := range devnet.Chaincodes {
		out = append(out, devnet.Definition(name, "", l.Members[0].MSPID))
	}
	return out
}

// chaincodeConfigs are the "chaincodes" of peer.json: kvtest as "kv",
// and with BloSSAM the BloSS@M chaincodes (implementation = name).
func (l *Layout) chaincodeConfigs() []map[string]any {
	out := []map[string]any{{"name": DefaultChaincode, "implementation": "kvtest", "endorsementPolicy": l.Policy}}
	for _, d := range l.blossamDefinitions() {
		out = append(out, map[string]any{"name": d.Name, "implementation": d.Name, "endorsementPolicy": d.EndorsementPolicy, "params": d.Params})
	}
	return out
}

// definitions are the chaincodes of an in-process peer, as chaincodeConfigs.
func (l *Layout) definitions() []peer.Definition {
	out := []peer.Definition{{Name: DefaultChaincode, EndorsementPolicy: l.Policy, Chaincode: kvtest.New()}}
	natives := map[string]func() contract.Chaincode{authorization.ChaincodeName: authorization.New, asset.ChaincodeName: asset.New}
	for _, d := range l.blossamDefinitions() {
		out = append(out, peer.Definition{Name: d.Name, EndorsementPolicy: d.EndorsementPolicy, Params: d.Params, Chaincode: natives[d.Name]()})
	}
	return out
}

// UserConfig issues member i a new client user named name (its
// certificate's CN) with the given attributes (e.g. blossom.role), and
// returns its client configuration, peers and orderers as ClientConfig's.
// The key stays in memory.
func (l *Layout) UserConfig(i int, name string, attrs map[string]string) (client.Config, error) {
	m := l.Members[i]
	key, err := pki.GenerateKey(pki.ECDSAP256)
	if err != nil {
		return client.Config{}, fmt.Errorf("localnet: key: %w", err)
	}
	cert, err := m.ca.Issue(pki.IssueRequest{PublicKey: key.Public(), EnrollmentID: name, Role: pki.RoleClient, Attributes: attrs, Now: time.Now()})
	if err != nil {
		return client.Config{}, fmt.Errorf("localnet: issue user %s: %w", name, err)
	}
	return l.clientConfig(i, key, cert)
}

// freeAddrs returns n addresses on ip with ports free on the loopback
// interface (ip may live in another network namespace, with its own,
// emptier port space), none handed out to this layout before: the kernel
// gives a released port again, so members asking in turn could otherwise
// share one. The ports are released before use, so another program could
// take one in between: on a development machine that is rare, and the
// node then fails to start with a clear listen error.
func (l *Layout) freeAddrs(n int, ip net.IP) ([]string, error) {
	if l.ports == nil {
		l.ports = make(map[int]bool)
	}
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	var out []string
	for len(out) < n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("localnet: free port: %w", err)
		}
		lns = append(lns, ln) // held until the end, so the kernel offers another
		port := ln.Addr().(*net.TCPAddr).Port
		if l.ports[port] {
			continue
		}
		l.ports[port] = true
		out = append(out, net.JoinHostPort(ip.String(), strconv.Itoa(port)))
	}
	return out, nil
}

// MSPConfigs returns every member's MSP configuration.
func (l *Layout) MSPConfigs() []identity.MSPConfig {
	var cfgs []identity.MSPConfig
	for _, m := range l.Members {
		cfgs = append(cfgs, identity.MSPConfig{ID: m.MSPID, RootCerts: []*x509.Certificate{l.root}, IntermediateCerts: []*x509.Certificate{m.ca.Cert}})
	}
	return cfgs
}

// ClientConfig returns a client configuration for member i's user: every
// peer (member i's first) and every orderer (member i's first).
func (l *Layout) ClientConfig(i int) (client.Config, error) {
	m := l.Members[i]
	return l.clientConfig(i, m.userKey, m.userCert)
}

// clientConfig is member i's client configuration for the user of key
// and cert.
func (l *Layout) clientConfig(i int, key crypto.Signer, cert *x509.Certificate) (client.Config, error) {
	mgr, err := identity.NewManager(l.MSPConfigs())
	if err != nil {
		return client.Config{}, fmt.Errorf("localnet: %w", err)
	}
	m := l.Members[i]
	signer, err := identity.NewKeySigner(key, cert)
	if err != nil {
		return client.Config{}, fmt.Errorf("localnet: %w", err)
	}
	cfg := client.Config{
		ChannelID: l.Channel, Signer: signer, Trust: transport.NewTrustSource(mgr),
		TLSCertificate: tls.Certificate{Certificate: [][]byte{cert.Raw, m.ca.Cert.Raw}, PrivateKey: key, Leaf: cert},
	}
	for k := range l.Members {
		o := l.Members[(i+k)%len(l.Members)]
		cfg.Peers = append(cfg.Peers, client.Endpoint{Name: o.PeerName(), Address: o.PeerAddr})
		cfg.Orderers = append(cfg.Orderers, client.Endpoint{Name: o.MSPID + "/orderer0", Address: o.OrdererAddr})
	}
	return cfg, nil
}

// LedgerDir is member i's peer's channel ledger directory (for `blossom
// ledger verify`).
func (l *Layout) LedgerDir(i int) string {
	return filepath.Join(l.Members[i].PeerDataDir, "channels", l.Channel)
}

// Network is a layout whose nodes run in this process.
type Network struct {
	Layout   *Layout
	Orderers []*orderer.Node
	Peers    []*peer.Node
}

// Start runs every node of the layout in this process and returns once
// each has started (leader election continues in the background; the
// client's broadcast retries until there is a leader).
func (l *Layout) Start(logger *slog.Logger) (*Network, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	n := &Network{Layout: l}
	for i, m := range l.Members {
		node, err := orderer.NewNode(orderer.Config{
			DataDir: m.OrdererDataDir, ListenAddress: m.OrdererAddr, Certificate: m.ordTLS,
			GenesisBlocks: []*pb.Block{l.Genesis}, Logger: logger.With("node", m.MSPID+"/orderer0"),
		})
		if err != nil {
			n.Close()
			return nil, fmt.Errorf("localnet: orderer %d: %w", i, err)
		}
		n.Orderers = append(n.Orderers, node)
	}
	for i, m := range l.Members {
		node, err := peer.New(peer.Config{
			DataDir: m.PeerDataDir, ListenAddress: m.PeerAddr, Certificate: m.peerTLS,
			GenesisBlocks: []*pb.Block{l.Genesis}, Logger: logger.With("node", m.PeerName()),
			Chaincodes: l.definitions(),
		})
		if err != nil {
			n.Close()
			return nil, fmt.Errorf("localnet: peer %d: %w", i, err)
		}
		if err := node.Start(); err != nil {
			node.Stop()
			n.Close()
			return nil, fmt.Errorf("localnet: start peer %d: %w", i, err)
		}
		n.Peers = append(n.Peers, node)
	}
	return n, nil
}

// WaitForLeader waits until every orderer sees a leader.
func (n *Network) WaitForLeader(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var err error
		for _, o := range n.Orderers {
			if err = o.Healthy(); err != nil {
				break
			}
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("localnet: no orderer leader within %s: %w", timeout, err)
		}
		time.Sleep(20 * time.Millisecond) // nothing notifies a Raft leader change
	}
}

// Close stops every node (peers first).
func (n *Network) Close() error {
	var errs []error
	for _, p := range n.Peers {
		errs = append(errs, p.Stop())
	}
	for _, o := range n.Orderers {
		errs = append(errs, o.Close())
	}
	return errors.Join(errs...)
}

// CABundle returns the root and every member's intermediate CA as PEM.
func (l *Layout) CABundle() []byte {
	out := pki.EncodeCertificatePEM(l.root.Raw)
	for _, m := range l.Members {
		out = append(out, pki.EncodeCertificatePEM(m.ca.Cert.Raw)...)
	}
	return out
}
