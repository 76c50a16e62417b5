// Package orderer is blossom's ordering service: per channel, one Raft
// group (hashicorp/raft, its log in Pebble, file snapshots) whose voters are the
// channel's consenters. Clients Broadcast envelopes; the leader checks
// them, cuts blocks (max count, max bytes, timeout), signs each and
// proposes it as one Raft log entry; every orderer's FSM appends a block
// only if it is the next one (number = height, previous hash = last hash)
// and valid under the configuration in force, so all replicas hold the
// same chain, which Deliver serves from any height. Config updates are cut
// alone into config blocks and change the Raft membership when the
// consenters change.
//
// One TLS listener per orderer carries both gRPC (AtomicBroadcast) and the
// Raft streams of all its channels (see mux.go and raftstream.go).
package orderer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/hashicorp/raft"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/cpugate"
	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/transport"
)

// Config configures one orderer node.
type Config struct {
	// DataDir holds channels/<channel ID>/{blocks,raft}.
	DataDir string
	// ListenAddress is the host:port of the node's one listener (gRPC and
	// Raft). Ignored if Listener is set.
	ListenAddress string
	// Listener, if set, is used instead of listening on ListenAddress
	// (tests pre-bind port 0 to know the address before the genesis block).
	Listener net.Listener
	// Certificate is the orderer's certificate (and optionally its CA
	// chain) with its key: it serves TLS, dials other orderers and signs
	// blocks. Its enrollment ID (subject CN) is the node's Raft server ID.
	// StageCertificate replaces it while the node runs.
	Certificate tls.Certificate
	// GenesisBlocks are the genesis blocks of channels to create. Channels
	// already in DataDir are opened from there (a genesis block given for
	// one must match its block 0).
	GenesisBlocks []*pb.Block
	// Logger (nil: slog.Default()).
	Logger *slog.Logger
	// RecentTxIDs is how many transaction IDs each channel remembers for
	// duplicate detection (0: DefaultRecentTxIDs).
	RecentTxIDs int
	// BroadcastTimeout bounds the wait for one envelope's block
	// (0: DefaultBroadcastTimeout).
	BroadcastTimeout time.Duration
	// Metrics, if set, receives the Broadcast metrics (NewMetrics).
	Metrics *Metrics
	// MaxPendingEnvelopes bounds, per channel, the broadcast envelopes this
	// orderer holds not yet answered (being checked, queued, forwarded to
	// the leader or in a proposed block; as leader, those other orderers
	// forward included). Past it, Broadcast answers SERVICE_UNAVAILABLE
	// "OVERLOADED" at once (0: DefaultMaxPendingEnvelopes).
	MaxPendingEnvelopes int
}

// DefaultMaxPendingEnvelopes is the default admission bound: the leader's
// submit queue. At the ordering rates measured on a 2-core machine (1-5 k
// envelopes/s) it is one to four seconds of work, well inside
// DefaultBroadcastTimeout.
const DefaultMaxPendingEnvelopes = submitQueue

// DefaultBroadcastTimeout bounds how long Broadcast waits for an
// envelope's block before answering SERVICE_UNAVAILABLE.
const DefaultBroadcastTimeout = 30 * time.Second

// Node is one orderer: its listener, gRPC server and channels.
type Node struct {
	cfg Config
	id  string
	log *slog.Logger
	// cred serves TLS and signs blocks; StageCertificate and config blocks
	// naming the staged certificate replace it (rotation.go).
	cred *transport.Credential

	stageMu sync.Mutex
	staged  *tls.Certificate // the next certificate, until a config names it

	trust         *transport.TrustSource
	clientTLS     *tls.Config // dialling other orderers (gRPC and Raft)
	raftServerTLS *tls.Config
	grpc          *grpc.Server
	mux           *mux
	grpcDone      chan struct{}

	// checks bounds the broadcast envelopes checked (signature verified)
	// at once, so a flood of envelopes cannot starve Raft (cpugate).
	checks *cpugate.Gate

	mu     sync.RWMutex
	chains map[string]*chain
	closed bool
}

// NewNode opens the node's channels, binds its listener and starts
// serving. Close stops it.
func NewNode(cfg Config) (n *Node, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BroadcastTimeout <= 0 {
		cfg.BroadcastTimeout = DefaultBroadcastTimeout
	}
	if cfg.MaxPendingEnvelopes <= 0 {
		cfg.MaxPendingEnvelopes = DefaultMaxPendingEnvelopes
	}
	if cfg.DataDir == "" {
		return nil, errors.New("orderer: no data directory")
	}
	cred, err := transport.NewCredential(cfg.Certificate)
	if err != nil {
		return nil, fmt.Errorf("orderer certificate: %w", err)
	}
	leaf := cred.Certificate()
	if err := pki.ValidateEnrollmentID(leaf.Subject.CommonName); err != nil {
		return nil, fmt.Errorf("orderer certificate CN: %w", err)
	}
	n = &Node{
		cfg:    cfg,
		id:     leaf.Subject.CommonName,
		log:    cfg.Logger.With("orderer", leaf.Subject.CommonName),
		cred:   cred,
		chains: map[string]*chain{},
		checks: cpugate.New(0),
	}
	defer func() {
		if err != nil {
			for _, c := range n.chains {
				c.close(false)
			}
			if n.mux != nil {
				n.mux.close()
			}
		}
	}()
	if err := n.openChains(); err != nil {
		return nil, err
	}
	mgr, err := n.trustManager()
	if err != nil {
		return nil, err
	}
	n.trust = transport.NewTrustSource(mgr)
	n.clientTLS = transport.ClientTLSConfigFor(cred, n.trust, pki.RoleOrderer)
	n.raftServerTLS = transport.ServerTLSConfigFor(cred, n.trust, n.log, pki.RoleOrderer)

	ln := cfg.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.ListenAddress); err != nil {
			return nil, err
		}
	}
	// Stream layers exist before the listener serves: a Raft stream for a
	// channel may arrive before its Raft node has started, and then waits.
	for _, c := range n.chains {
		c.layer = newStreamLayer(c.id, c.self, c.fsm.Config, n.clientTLS)
	}
	n.mux = newMux(ln, n.handleRaft, n.log)
	n.grpc = transport.NewGRPCServer(transport.ServerTLSConfigFor(cred, n.trust, n.log, pki.Roles...), n.trust,
		transport.WithMaxMessageSize(maxGRPCMessage), transport.WithLogger(n.log))
	pb.RegisterAtomicBroadcastServer(n.grpc, &service{node: n})
	n.grpcDone = make(chan struct{})
	go func() {
		defer close(n.grpcDone)
		if err := n.grpc.Serve(n.mux.grpc); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			n.log.Error("gRPC server stopped", "error", err)
		}
	}()
	n.mux.start()
	for _, id := range n.Channels() {
		if err := n.chains[id].start(); err != nil {
			return nil, fmt.Errorf("channel %s: %w", id, err)
		}
	}
	n.log.Info("orderer serving", "address", ln.Addr().String(), "channels", n.Channels())
	return n, nil
}

// openChains opens every channel in the data directory and creates those
// whose genesis block is given.
func (n *Node) openChains() error {
	root := filepath.Join(n.cfg.DataDir, "channels")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return err
	}
	genesis := map[string]*pb.Block{}
	for _, b := range n.cfg.GenesisBlocks {
		cfg, _, err := channelconfig.FromBlock(b)
		if err != nil {
			return fmt.Errorf("genesis block: %w", err)
		}
		genesis[cfg.ChannelID()] = b
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	ids := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() && channelconfig.ValidateChannelID(e.Name()) == nil {
			ids[e.Name()] = true
		}
	}
	for id := range genesis {
		ids[id] = true
	}
	for _, id := range slices.Sorted(func(yield func(string) bool) {
		for id := range ids {
			if !yield(id) {
				return
			}
		}
	}) {
		c, err := openChain(n, filepath.Join(root, id), genesis[id])
		if err != nil {
			return fmt.Errorf("channel %s: %w", id, err)
		}
		if c.id != id {
			c.close(false)
			return fmt.Errorf("directory of channel %s holds channel %s", id, c.id)
		}
		n.chains[id] = c
	}
	if len(n.chains) == 0 {
		return errors.New("orderer: no channel (give a genesis block)")
	}
	return nil
}

// trustManager builds the identity manager for TLS: the union of every
// channel's members (their CA certificates and CRLs).
func (n *Node) trustManager() (*identity.Manager, error) {
	n.mu.RLock()
	configs := make([]*pb.ChannelConfig, 0, len(n.chains))
	for _, c := range n.chains {
		configs = append(configs, c.fsm.Config().Proto())
	}
	n.mu.RUnlock()
	return channelconfig.TrustManager(configs)
}

// refreshTrust makes TLS follow a configuration change.
func (n *Node) refreshTrust() {
	if n.trust == nil {
		return
	}
	mgr, err := n.trustManager()
	if err != nil {
		n.log.Error("cannot rebuild TLS trust from the channel configurations", "error", err)
		return
	}
	n.trust.Update(mgr)
}

// handleRaft takes a connection that began with the Raft magic: TLS with an
// orderer certificate, preamble, authorization, then hand-off to the
// channel's stream layer.
func (n *Node) handleRaft(raw net.Conn) {
	_ = raw.SetDeadline(time.Now().Add(dispatchTimeout))
	conn := tls.Server(raw, n.raftServerTLS)
	if err := conn.Handshake(); err != nil {
		raw.Close() // transport logged a refused certificate
		return
	}
	p, err := readPreamble(conn)
	if err != nil {
		n.log.Warn("raft: refused stream: bad preamble", "remote", raw.RemoteAddr().String(), "error", err)
		conn.Close()
		return
	}
	leaf := conn.ConnectionState().PeerCertificates[0]
	c := n.chain(p.ChannelID)
	reason := ""
	if c == nil || c.layer == nil {
		reason = fmt.Sprintf("channel %s is not served by %s", p.ChannelID, n.id)
	} else if err := c.layer.authorize(p.ServerID, leaf.Subject.CommonName, leaf.Raw); err != nil {
		reason = err.Error()
	}
	if reason != "" {
		n.log.Warn("raft: refused stream: "+reason, "remote", raw.RemoteAddr().String(), "channel", p.ChannelID, "claimed_server_id", p.ServerID, "certificate_cn", leaf.Subject.CommonName)
		_ = writeVerdict(conn, reason)
		conn.Close()
		return
	}
	if err := writeVerdict(conn, ""); err != nil {
		conn.Close()
		return
	}
	_ = raw.SetDeadline(time.Time{})
	if !c.layer.enqueue(conn) {
		conn.Close()
	}
}

// dialConsenter opens a gRPC connection to consenter id of cfg.
func (n *Node) dialConsenter(ctx context.Context, cfg *channelconfig.Config, id string) (*grpc.ClientConn, error) {
	cs, ok := cfg.Consenter(id)
	if !ok {
		return nil, fmt.Errorf("%s is not a consenter of channel %s", id, cfg.ChannelID())
	}
	return dialConsenterConn(ctx, n.clientTLS, cs.Address, id, cs.CertDer)
}

func (n *Node) chain(id string) *chain {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.chains[id]
}

// ID returns the node's Raft server ID (its certificate's enrollment ID).
func (n *Node) ID() string { return n.id }

// Addr returns the address the node listens on.
func (n *Node) Addr() net.Addr { return n.mux.ln.Addr() }

// Channels lists the channels the node serves, sorted.
func (n *Node) Channels() []string {
	n.mu.RLock()
	defer n.mu.RUnlock()
	ids := make([]string, 0, len(n.chains))
	for id := range n.chains {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// ErrNoChannel reports a channel the node does not serve.
var ErrNoChannel = errors.New("channel not served by this orderer")

// Height returns a channel's chain height.
func (n *Node) Height(channelID string) (uint64, error) {
	c := n.chain(channelID)
	if c == nil {
		return 0, fmt.Errorf("%w: %s", ErrNoChannel, channelID)
	}
	return c.fsm.Height(), nil
}

// Block returns block number of a channel. Do not modify it.
func (n *Node) Block(channelID string, number uint64) (*pb.Block, error) {
	c := n.chain(channelID)
	if c == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoChannel, channelID)
	}
	return c.store.Block(number)
}

// Config returns the configuration in force on a channel.
func (n *Node) Config(channelID string) (*channelconfig.Config, error) {
	c := n.chain(channelID)
	if c == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoChannel, channelID)
	}
	return c.fsm.Config(), nil
}

// Leader returns the Raft server ID of a channel's leader as this node
// sees it ("" if none).
func (n *Node) Leader(channelID string) string {
	c := n.chain(channelID)
	if c == nil || c.raft == nil {
		return ""
	}
	_, id := c.raft.LeaderWithID()
	return string(id)
}

// Healthy reports nil when every channel has a Raft leader and none halted.
func (n *Node) Healthy() error {
	if err := n.Live(); err != nil {
		return err
	}
	for _, id := range n.Channels() {
		c := n.chain(id)
		if c.retired.Load() {
			continue // no longer a consenter: serves Deliver only
		}
		if c.raft == nil || c.raft.State() == raft.Shutdown {
			return fmt.Errorf("channel %s: raft stopped", id)
		}
		if err := c.orderingError(); err != nil {
			return err
		}
	}
	return nil
}

// orderingError says why the chain cannot order: it is not a consenter of
// the configuration it applied so far, or it knows no leader.
func (c *chain) orderingError() error {
	if _, ok := c.fsm.Config().Consenter(c.self); !ok {
		return fmt.Errorf("channel %s: not a consenter in the configuration applied so far", c.id)
	}
	if _, leader := c.raft.LeaderWithID(); leader == "" {
		return fmt.Errorf("channel %s has no leader", c.id)
	}
	return nil
}

// ReadyLag is how many Raft log entries a ready orderer may have left to
// apply behind the commit index it knows.
const ReadyLag = 5

// Live reports nil while the node works: no channel halted and every
// channel it is a consenter of runs Raft. It does not need a leader: a
// consortium without quorum is not fixed by restarting its orderers.
func (n *Node) Live() error {
	for _, id := range n.Channels() {
		c := n.chain(id)
		if err := c.fsm.Halted(); err != nil {
			return fmt.Errorf("channel %s halted: %w", id, err)
		}
		if c.retired.Load() {
			continue // no longer a consenter: serves Deliver only
		}
		if c.raft == nil || c.raft.State() == raft.Shutdown {
			if _, ok := c.fsm.Config().Consenter(c.self); !ok {
				continue // a removed leader, shut down by Raft before it retired
			}
			return fmt.Errorf("channel %s: raft stopped", id)
		}
	}
	return nil
}

// Ready reports nil when the node can order on every channel it serves:
// it is Live, a consenter of the configuration it has applied (a new
// consenter catching up is not yet), knows the channel's Raft leader, and has
// applied its Raft log (blocks written, snapshots restored) to within
// ReadyLag entries of the commit index it knows.
func (n *Node) Ready() error {
	if err := n.Live(); err != nil {
		return err
	}
	for _, id := range n.Channels() {
		c := n.chain(id)
		if c.retired.Load() {
			return fmt.Errorf("channel %s: no longer a consenter (serves Deliver only)", id)
		}
		if err := c.orderingError(); err != nil {
			return err
		}
		if applied, committed := c.raft.AppliedIndex(), c.raft.CommitIndex(); applied+ReadyLag < committed {
			return fmt.Errorf("channel %s: applied raft index %d, commit index %d", id, applied, committed)
		}
	}
	return nil
}

// Close stops the node gracefully: a channel this node leads first hands
// leadership to another consenter, then Raft, gRPC and the listener stop.
func (n *Node) Close() error { return n.stop(true) }

func (n *Node) stop(transfer bool) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	chains := make([]*chain, 0, len(n.chains))
	for _, c := range n.chains {
		chains = append(chains, c)
	}
	n.mu.Unlock()
	var errs []error
	for _, c := range chains {
		if err := c.close(transfer); err != nil {
			errs = append(errs, fmt.Errorf("channel %s: %w", c.id, err))
		}
	}
	n.grpc.Stop()
	n.mux.close()
	<-n.grpcDone
	n.log.Info("orderer stopped")
	return errors.Join(errs...)
}
