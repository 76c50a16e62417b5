// Package nettest starts whole blossom networks in one test process: N
// members, each with one Raft orderer and one or more peers
// (Options.PeersPerMember), on 127.0.0.1 with real mutual TLS, real Raft
// (hashicorp/raft, raft-wal) and real Pebble ledgers under t.TempDir(). The peer, client, chaincode, governance and gateway
// tests share it.
//
//	net := nettest.Start(t, nettest.Options{})     // 3 members, channel "blossom", chaincode "kv" (deployed through the lifecycle)
//	cl := net.Client(t, 0)                          // member 0's client user, own peer first
//	res, err := cl.Submit(ctx, txn.Request{Chaincode: "kv", Function: "kv:Put",
//		Args: [][]byte{[]byte("k"), []byte("v")}}, net.PeerNames(0, 1))
//	net.WaitForHeight(t, res.Block+1)               // every running peer
//
// Everything fails the test on error; nodes stop at cleanup. With -v and
// NETTEST_LOG=1 the nodes' logs go to stderr; otherwise the last lines are
// printed when the test fails.
package nettest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/chaincode/kvtest"
	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/client"
	"github.com/blossom-ledger/blossom/internal/orderer"
	"github.com/blossom-ledger/blossom/internal/peer"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
	"github.com/blossom-ledger/blossom/internal/transport"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// DefaultChannel is the channel a network creates unless told otherwise.
const DefaultChannel = "blossom"

// KVChaincode is the name under which a network defines the kvtest
// chaincode, endorsed by "MAJORITY Endorsement".
const KVChaincode = "kv"

// Options shape a network. The zero value is three members, channel
// "blossom", the kvtest chaincode deployed as "kv" under MAJORITY
// Endorsement through the lifecycle (see Options.Chaincodes).
type Options struct {
	// Members is the number of members (0: 3). Member i has MSP ID
	// "Org<i+1>MSP".
	Members int
	// Channel is the channel ID ("": DefaultChannel).
	Channel string
	// Chaincodes returns static definitions one peer registers; it is
	// called once per peer start, so each peer gets its own chaincode
	// instances. nil: no static definitions, and Start deploys kvtest as
	// "kv" through the real lifecycle once the network is up (a MAJORITY
	// of members' admins approve, member 0's admin commits; the package
	// KVPackageID runs natively on every peer): Start returns with those
	// transactions committed on every peer.
	Chaincodes func() []peer.Definition
	// NativePackages returns native implementations of chaincode packages
	// by package ID (peer.Config.NativePackages) for one peer start (nil:
	// none; committed definitions then run installed wasm packages).
	NativePackages func() map[string]contract.Chaincode
	// Mutate adjusts the genesis configuration (batch size and timeout,
	// policies, ...) before the genesis block is cut.
	Mutate func(*pb.ChannelConfig)
	// RecentTxIDs is how many transaction IDs each orderer remembers for
	// duplicate detection (0: the orderer's default).
	RecentTxIDs int
	// StartupTimeout bounds waiting for the orderers' leader (0: 20 s).
	StartupTimeout time.Duration
	// PeersPerMember is the number of peers each member runs (0: 1). Peer
	// k of a member is named "<MSPID>/peer<k>" in clients; every one is
	// in the member's peer_endpoints. Member.Peer and the Member.Peer*
	// fields are peer 0; Member.Peers has them all.
	PeersPerMember int
}

// DefaultChaincodes registers kvtest statically as "kv" under MAJORITY
// Endorsement: for peers started outside the network (a network's own
// peers run the lifecycle definition of "kv" unless Options.Chaincodes is
// set), and for networks that want no deployment transactions.
func DefaultChaincodes() []peer.Definition {
	return []peer.Definition{{Name: KVChaincode, EndorsementPolicy: "MAJORITY Endorsement", Chaincode: kvtest.New()}}
}

// Member is one member of a network: its credentials and its nodes.
type Member struct {
	MSPID string
	// Admin and User are the member's admin and client identities.
	Admin, User *testpki.Credential
	// PeerCred and OrdererCred are the identities of peer 0 and the
	// orderer.
	PeerCred, OrdererCred *testpki.Credential
	PeerAddr, OrdererAddr string
	PeerDir, OrdererDir   string
	// Peer is peer 0, nil while it is stopped.
	Peer    *peer.Node
	Orderer *orderer.Node
	// Peers are all the member's peers, peer 0 first.
	Peers []*MemberPeer
}

// MemberPeer is one peer of a member.
type MemberPeer struct {
	// Name is the peer's name in clients ("Org1MSP/peer1").
	Name string
	Cred *testpki.Credential
	Addr string
	Dir  string
	// Node is nil while the peer is stopped.
	Node *peer.Node
}

// PeerName is the name of the member's peer 0 in clients ("Org1MSP/peer0").
func (m *Member) PeerName() string { return peerName(m.MSPID, 0) }

func peerName(mspID string, k int) string { return fmt.Sprintf("%s/peer%d", mspID, k) }

// Network is a running test network.
type Network struct {
	t       testing.TB
	opts    Options
	Channel string
	PKI     *testpki.Consortium
	Genesis *pb.Block
	// Trust holds every member's CAs, for clients.
	Trust   *transport.TrustSource
	Members []*Member
	Logs    *LogBuffer
	log     *slog.Logger
	// wasmCache is the compilation cache every peer of the network
	// shares, so a package is compiled once per network.
	wasmCache string

	mu sync.Mutex // guards Members[i].Peer
}

// MSPID returns the MSP ID of member i.
func MSPID(i int) string { return fmt.Sprintf("Org%dMSP", i+1) }

// Start starts a network and waits until its orderers have a leader and
// every peer has joined the channel.
func Start(t testing.TB, opts Options) *Network {
	t.Helper()
	if opts.Members <= 0 {
		opts.Members = 3
	}
	if opts.Channel == "" {
		opts.Channel = DefaultChannel
	}
	deployKV := opts.Chaincodes == nil
	if deployKV {
		opts.Chaincodes = func() []peer.Definition { return nil }
		opts.NativePackages = withKVPackage(opts.NativePackages)
	}
	if opts.StartupTimeout <= 0 {
		opts.StartupTimeout = 20 * time.Second
	}
	if opts.PeersPerMember <= 0 {
		opts.PeersPerMember = 1
	}
	ids := make([]string, opts.Members)
	for i := range ids {
		ids[i] = MSPID(i)
	}
	n := &Network{t: t, opts: opts, Channel: opts.Channel, PKI: testpki.NewConsortium(t, ids...)}
	n.log, n.Logs = newLogger()
	cc := &pb.ChannelConfig{
		ChannelId:  opts.Channel,
		Capability: channelconfig.CapabilityV1,
		Members:    map[string]*pb.MemberConfig{},
		Orderer:    &pb.OrdererConfig{},
		Policies:   channelconfig.DefaultPolicies(),
	}
	ordererLns := make([]net.Listener, opts.Members)
	peerLns := make([][]net.Listener, opts.Members)
	dir := t.TempDir()
	n.wasmCache = filepath.Join(dir, "wasm-cache")
	for i, id := range ids {
		pm := n.PKI.Member(id)
		m := &Member{
			MSPID:       id,
			Admin:       pm.Issue(pki.RoleAdmin, fmt.Sprintf("admin%d", i), nil),
			User:        pm.Issue(pki.RoleClient, fmt.Sprintf("user%d", i), map[string]string{"blossom.role": "tester"}),
			PeerCred:    pm.Issue(pki.RolePeer, fmt.Sprintf("peer%d", i), nil),
			OrdererCred: pm.Issue(pki.RoleOrderer, fmt.Sprintf("orderer%d", i), nil),
			PeerDir:     filepath.Join(dir, fmt.Sprintf("peer%d", i)),
			OrdererDir:  filepath.Join(dir, fmt.Sprintf("orderer%d", i)),
		}
		ordererLns[i], m.OrdererAddr = listen(t, "127.0.0.1:0")
		mc := &pb.MemberConfig{
			MspId:             id,
			RootCerts:         [][]byte{n.PKI.Root.Cert.Raw},
			IntermediateCerts: [][]byte{pm.CA.Cert.Raw},
		}
		for k := range opts.PeersPerMember {
			mp := &MemberPeer{Name: peerName(id, k), Cred: m.PeerCred, Dir: m.PeerDir}
			if k > 0 {
				mp.Cred = pm.Issue(pki.RolePeer, fmt.Sprintf("peer%d-%d", i, k), nil)
				mp.Dir = filepath.Join(dir, fmt.Sprintf("peer%d-%d", i, k))
			}
			var ln net.Listener
			ln, mp.Addr = listen(t, "127.0.0.1:0")
			peerLns[i] = append(peerLns[i], ln)
			mc.PeerEndpoints = append(mc.PeerEndpoints, mp.Addr)
			m.Peers = append(m.Peers, mp)
		}
		m.PeerAddr = m.Peers[0].Addr
		cc.Members[id] = mc
		cc.Orderer.Consenters = append(cc.Orderer.Consenters, &pb.Consenter{
			Id: m.OrdererCred.Cert.Subject.CommonName, MspId: id, Address: m.OrdererAddr, CertDer: m.OrdererCred.Cert.Raw,
		})
		n.Members = append(n.Members, m)
	}
	if opts.Mutate != nil {
		opts.Mutate(cc)
	}
	var err error
	if n.Genesis, err = channelconfig.GenesisBlock(cc, time.Now()); err != nil {
		t.Fatalf("nettest: genesis block: %v", err)
	}
	n.Trust = transport.NewTrustSource(n.PKI.Manager())
	t.Cleanup(n.stop)
	for i, m := range n.Members {
		node, err := orderer.NewNode(orderer.Config{
			DataDir:       m.OrdererDir,
			Listener:      ordererLns[i],
			Certificate:   m.OrdererCred.TLS,
			GenesisBlocks: []*pb.Block{n.Genesis},
			Logger:        n.log,
			RecentTxIDs:   opts.RecentTxIDs,
		})
		if err != nil {
			t.Fatalf("nettest: start orderer %d: %v", i, err)
		}
		m.Orderer = node
	}
	for i := range n.Members {
		for k, ln := range peerLns[i] {
			n.startPeer(i, k, ln)
		}
	}
	n.WaitForOrderingService(opts.StartupTimeout)
	if deployKV {
		n.deployKV()
	}
	return n
}

func listen(t testing.TB, addr string) (net.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("nettest: listen: %v", err)
	}
	return ln, ln.Addr().String()
}

func (n *Network) startPeer(i, k int, ln net.Listener) {
	n.t.Helper()
	mp := n.Members[i].Peers[k]
	cfg := n.peerConfig(mp.Dir, ln, mp.Cred)
	cfg.GenesisBlocks = []*pb.Block{n.Genesis}
	node, err := peer.New(cfg)
	if err != nil {
		ln.Close()
		n.t.Fatalf("nettest: peer %s: %v", mp.Name, err)
	}
	if err := node.Start(); err != nil {
		node.Stop()
		n.t.Fatalf("nettest: start peer %s: %v", mp.Name, err)
	}
	n.setPeer(i, k, node)
}

// peerConfig is the configuration of a peer of the network, without the
// channels to join.
func (n *Network) peerConfig(dir string, ln net.Listener, cred *testpki.Credential) peer.Config {
	cfg := peer.Config{
		DataDir:      dir,
		Listener:     ln,
		Certificate:  cred.TLS,
		Chaincodes:   n.opts.Chaincodes(),
		WasmCacheDir: n.wasmCache,
		Logger:       n.log,
	}
	if n.opts.NativePackages != nil {
		cfg.NativePackages = n.opts.NativePackages()
	}
	return cfg
}

// StartPeerFromSnapshot starts a new peer of member i named name (a new
// identity, the empty data directory dataDir) that joins the channel from the
// ledger snapshot in snapDir instead of the genesis block (hash, if set,
// is the snapshot hash it must have), then pulls the later blocks from
// the orderers. It is in no channel configuration's peer endpoints, so
// only a client that names it reaches it. It is stopped at cleanup. It
// returns the node and its address.
func (n *Network) StartPeerFromSnapshot(t testing.TB, i int, name, dataDir, snapDir string, hash []byte) (*peer.Node, string) {
	t.Helper()
	m := n.Members[i]
	cred := n.PKI.Member(m.MSPID).Issue(pki.RolePeer, name, nil)
	ln, addr := listen(t, "127.0.0.1:0")
	cfg := n.peerConfig(dataDir, ln, cred)
	cfg.JoinSnapshots = []peer.JoinSnapshot{{Dir: snapDir, Hash: hash}}
	node, err := peer.New(cfg)
	if err != nil {
		ln.Close()
		t.Fatalf("nettest: peer %s from snapshot: %v", name, err)
	}
	if err := node.Start(); err != nil {
		node.Stop()
		t.Fatalf("nettest: start peer %s: %v", name, err)
	}
	t.Cleanup(func() { node.Stop() })
	return node, addr
}

// setPeer records member i's peer k as node (nil: stopped).
func (n *Network) setPeer(i, k int, node *peer.Node) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.Members[i].Peers[k].Node = node
	if k == 0 {
		n.Members[i].Peer = node
	}
}

// StopPeer stops member i's peer 0 (its ledger stays on disk).
func (n *Network) StopPeer(i int) { n.t.Helper(); n.StopMemberPeer(i, 0) }

// StopMemberPeer stops member i's peer k (its ledger stays on disk).
func (n *Network) StopMemberPeer(i, k int) {
	n.t.Helper()
	node := n.MemberPeer(i, k)
	n.setPeer(i, k, nil)
	if node == nil {
		n.t.Fatalf("nettest: peer %s is not running", n.Members[i].Peers[k].Name)
	}
	if err := node.Stop(); err != nil {
		n.t.Fatalf("nettest: stop peer %s: %v", n.Members[i].Peers[k].Name, err)
	}
}

// RestartPeer starts member i's stopped peer 0 again on the same
// directory and address; it catches up from the orderers.
func (n *Network) RestartPeer(i int) { n.t.Helper(); n.RestartMemberPeer(i, 0) }

// RestartMemberPeer starts member i's stopped peer k again on the same
// directory and address; it catches up from the orderers.
func (n *Network) RestartMemberPeer(i, k int) {
	n.t.Helper()
	ln, _ := listen(n.t, n.Members[i].Peers[k].Addr)
	n.startPeer(i, k, ln)
}

// Peer returns member i's running peer 0 (nil if stopped).
func (n *Network) Peer(i int) *peer.Node { return n.MemberPeer(i, 0) }

// MemberPeer returns member i's running peer k (nil if stopped).
func (n *Network) MemberPeer(i, k int) *peer.Node {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.Members[i].Peers[k].Node
}

// PeerChannel returns member i's peer 0's channel; it fails the test if
// the peer is stopped.
func (n *Network) PeerChannel(i int) *peer.Channel { n.t.Helper(); return n.MemberPeerChannel(i, 0) }

// MemberPeerChannel returns member i's peer k's channel; it fails the
// test if the peer is stopped.
func (n *Network) MemberPeerChannel(i, k int) *peer.Channel {
	n.t.Helper()
	name := n.Members[i].Peers[k].Name
	p := n.MemberPeer(i, k)
	if p == nil {
		n.t.Fatalf("nettest: peer %s is stopped", name)
	}
	ch, ok := p.Channel(n.Channel)
	if !ok {
		n.t.Fatalf("nettest: peer %s has no channel %s", name, n.Channel)
	}
	return ch
}

// PeerNames returns the client names of the given members' peers.
func (n *Network) PeerNames(members ...int) []string {
	out := make([]string, len(members))
	for k, i := range members {
		out[k] = n.Members[i].PeerName()
	}
	return out
}

// ClientConfig returns a client configuration for member i acting as
// cred (nil: the member's user): every peer 0 (member i's first), then
// the other peers, and every orderer (member i's first).
func (n *Network) ClientConfig(i int, cred *testpki.Credential) client.Config {
	if cred == nil {
		cred = n.Members[i].User
	}
	cfg := client.Config{ChannelID: n.Channel, Signer: cred.Signer, TLSCertificate: cred.TLS, Trust: n.Trust}
	for k := range n.Members {
		m := n.Members[(i+k)%len(n.Members)]
		cfg.Peers = append(cfg.Peers, client.Endpoint{Name: m.PeerName(), Address: m.PeerAddr})
		cfg.Orderers = append(cfg.Orderers, client.Endpoint{Name: m.MSPID + "/orderer0", Address: m.OrdererAddr})
	}
	for _, m := range n.Members {
		for _, mp := range m.Peers[1:] {
			cfg.Peers = append(cfg.Peers, client.Endpoint{Name: mp.Name, Address: mp.Addr})
		}
	}
	return cfg
}

// Client connects a client for member i as its user (see ClientConfig);
// it is closed at cleanup.
func (n *Network) Client(t testing.TB, i int) *client.Client {
	t.Helper()
	return n.ConnectClient(t, n.ClientConfig(i, nil))
}

// ConnectClient connects a client with cfg; it is closed at cleanup.
func (n *Network) ConnectClient(t testing.TB, cfg client.Config) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Connect(ctx, cfg)
	if err != nil {
		t.Fatalf("nettest: connect client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// WaitForOrderingService waits until every orderer sees a leader.
func (n *Network) WaitForOrderingService(timeout time.Duration) {
	n.t.Helper()
	Eventually(n.t, timeout, func() error {
		for i, m := range n.Members {
			if err := m.Orderer.Healthy(); err != nil {
				return fmt.Errorf("orderer %d: %w", i, err)
			}
		}
		return nil
	})
}

// WaitForHeight waits until every running peer's ledger height is at
// least height.
func (n *Network) WaitForHeight(t testing.TB, height uint64, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for i, m := range n.Members {
		for k, mp := range m.Peers {
			if n.MemberPeer(i, k) == nil {
				continue
			}
			if h, err := n.MemberPeerChannel(i, k).Ledger().WaitForHeight(ctx, height); err != nil {
				t.Fatalf("nettest: peer %s at height %d, want %d: %v", mp.Name, h, height, err)
			}
		}
	}
}

// WaitForOrderers waits until every running orderer's chain has at least
// height blocks (followers apply blocks shortly after the leader).
func (n *Network) WaitForOrderers(t testing.TB, height uint64, timeout time.Duration) {
	t.Helper()
	Eventually(t, timeout, func() error {
		for i, m := range n.Members {
			h, err := m.Orderer.Height(n.Channel)
			if err != nil {
				return err
			}
			if h < height {
				return fmt.Errorf("orderer %d at height %d, want %d", i, h, height)
			}
		}
		return nil
	})
}

// OrdererHeight returns the chain height of member i's orderer.
func (n *Network) OrdererHeight(i int) uint64 {
	n.t.Helper()
	h, err := n.Members[i].Orderer.Height(n.Channel)
	if err != nil {
		n.t.Fatalf("nettest: orderer %d: %v", i, err)
	}
	return h
}

func (n *Network) stop() {
	for i, m := range n.Members {
		for k := range m.Peers {
			if p := n.MemberPeer(i, k); p != nil {
				p.Stop()
			}
		}
	}
	for _, m := range n.Members {
		if m.Orderer != nil {
			m.Orderer.Close()
		}
	}
	if n.t.Failed() {
		n.t.Logf("network logs (tail):\n%s", n.Logs.Tail(30000))
	}
}

// Eventually calls check until it returns nil, failing the test with
// check's last error after timeout. It polls every 10 ms: for conditions
// nothing notifies (an orderer's leader), not as a substitute for a
// channel or a ledger wait.
func Eventually(t testing.TB, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nettest: not within %s: %v", timeout, err)
		}
		<-tick.C
	}
}

// LogBuffer collects the network's log lines.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns every line logged so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Tail returns about the last max bytes logged.
func (b *LogBuffer) Tail(max int) string {
	s := b.String()
	if len(s) > max {
		return "...\n" + s[len(s)-max:]
	}
	return s
}

func newLogger() (*slog.Logger, *LogBuffer) {
	buf := &LogBuffer{}
	var w io.Writer = buf
	if testing.Verbose() && os.Getenv("NETTEST_LOG") != "" {
		w = io.MultiWriter(buf, os.Stderr)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})), buf
}
