package peer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/cpugate"
	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/ledger"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/transport"
	"github.com/blossom-ledger/blossom/internal/validator"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// Config configures a peer node.
type Config struct {
	// DataDir holds channels/<channel ID>/, one ledger per channel.
	DataDir string
	// ListenAddress is the host:port of the node's mutual-TLS gRPC
	// listener (Endorser and Peer services). Ignored if Listener is set.
	ListenAddress string
	// Listener, if set, is used instead of listening on ListenAddress
	// (tests pre-bind port 0 to know the address before the genesis block).
	Listener net.Listener
	// Certificate is the peer's certificate (role peer; optionally with its
	// CA chain) and key: it serves TLS, dials the orderers and signs
	// endorsements. Ignored if Credential is set.
	Certificate tls.Certificate
	// Credential, if set, is the peer's certificate and key instead of
	// Certificate; ReloadCertificate replaces it while the peer runs.
	Credential *transport.Credential
	// GenesisBlocks are the genesis blocks of channels to join. Channels
	// already in DataDir are opened from there (a genesis block given for
	// one must be its block 0).
	GenesisBlocks []*pb.Block
	// JoinSnapshots are ledger snapshots (ledger.ExportSnapshot) of
	// channels to join from the snapshot's height instead of block 0: a
	// channel with no ledger in DataDir yet is created from its snapshot
	// (ledger.CreateFromSnapshot) and then pulls blocks from the orderers
	// from that height; a channel that already has a ledger ignores it.
	JoinSnapshots []JoinSnapshot
	// Chaincodes are static chaincode definitions this peer endorses and
	// validates on every channel, besides the definitions committed
	// through _lifecycle. Every peer of a channel must register the same
	// ones (see Definition); a committed definition of the same name is
	// ignored. For tests and development.
	Chaincodes []Definition
	// NativePackages are native implementations of chaincode packages by
	// package ID: a committed definition whose package ID is listed here
	// runs this implementation instead of an installed wasm package. For
	// tests and development: every peer must give the same implementation
	// for an ID, or endorsements diverge.
	NativePackages map[string]contract.Chaincode
	// WasmCacheDir holds the wasm runtime's compilation cache (""
	// <DataDir>/chaincodes/cache). Installed packages live in
	// <DataDir>/chaincodes/packages.
	WasmCacheDir string
	// Logger (nil: slog.Default()).
	Logger *slog.Logger
	// MaxProposalBytes bounds a signed proposal (0: DefaultMaxProposalBytes).
	MaxProposalBytes int
	// MinHeightWait is how long a proposal waits for its min_height
	// (0: DefaultMinHeightWait).
	MinHeightWait time.Duration
	// SimulationTimeout bounds one simulation (0: DefaultSimulationTimeout).
	SimulationTimeout time.Duration
	// ValidationWorkers is the number of goroutines that check signatures
	// of a block (0: one per CPU).
	ValidationWorkers int
	// ReconcileInterval is how often the peer retries pulling private data
	// it misses from other peers of the collections' members, besides
	// after each commit (0: DefaultReconcileInterval).
	ReconcileInterval time.Duration
	// Metrics, if set, receives block processing and proposal metrics
	// (NewMetrics).
	Metrics *Metrics
}

// maxBlockMessage bounds a gRPC message the node sends or receives from
// an orderer: the largest block a channel configuration allows, plus
// metadata.
const maxBlockMessage = channelconfig.MaxAbsoluteMaxBytes + 1<<20

// Node is a peer: its channels (ledgers kept up to date from the ordering
// service), and one mutual-TLS gRPC listener serving the Endorser and Peer
// services to any member identity.
type Node struct {
	cfg   Config
	log   *slog.Logger
	mspID string
	// signer is the node's credential: it signs endorsements and serves
	// and dials TLS, and ReloadCertificate replaces it.
	signer *transport.Credential
	reg    *registry
	// packages are the installed chaincode packages and their runtime.
	packages *packageStore

	trust     *transport.TrustSource
	clientTLS *tls.Config
	// peerTLS dials other peers (private data dissemination).
	peerTLS *tls.Config
	// peerConns caches the connections to other peers.
	peerConns peerConns

	// simulations bounds concurrent simulations.
	simulations chan struct{}
	// sigChecks bounds the proposal signatures checked at once, so a
	// flood of proposals cannot starve the node's other work (cpugate).
	sigChecks *cpugate.Gate

	mu       sync.RWMutex
	channels map[string]*Channel

	// Set by Start.
	ln       net.Listener
	grpc     *grpc.Server
	ctx      context.Context // cancelled by Stop
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	started  bool
	stopped  bool
	stopOnce sync.Once
}

// New checks cfg, opens the node's channels (joining new ones from their
// genesis blocks) and returns the node, not yet serving: Start it.
func New(cfg Config) (n *Node, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DataDir == "" {
		return nil, errors.New("peer: no data directory")
	}
	if cfg.MaxProposalBytes <= 0 {
		cfg.MaxProposalBytes = DefaultMaxProposalBytes
	}
	if cfg.MinHeightWait <= 0 {
		cfg.MinHeightWait = DefaultMinHeightWait
	}
	if cfg.ReconcileInterval <= 0 {
		cfg.ReconcileInterval = DefaultReconcileInterval
	}
	if cfg.SimulationTimeout <= 0 {
		cfg.SimulationTimeout = DefaultSimulationTimeout
	}
	if cfg.Credential == nil {
		if cfg.Credential, err = transport.NewCredential(cfg.Certificate); err != nil {
			return nil, fmt.Errorf("peer certificate: %w", err)
		}
	}
	signer := cfg.Credential
	leaf := signer.Certificate()
	if ou := leaf.Subject.OrganizationalUnit; len(ou) != 1 || ou[0] != string(pki.RolePeer) {
		return nil, fmt.Errorf("peer certificate: role %v, want %s", ou, pki.RolePeer)
	}
	reg, err := newRegistry(cfg.Chaincodes)
	if err != nil {
		return nil, err
	}
	if cfg.WasmCacheDir == "" {
		cfg.WasmCacheDir = filepath.Join(cfg.DataDir, "chaincodes", "cache")
	}
	log := cfg.Logger.With("peer", leaf.Subject.CommonName, "msp", signer.MSPID())
	packages, err := openPackageStore(context.Background(), filepath.Join(cfg.DataDir, "chaincodes", "packages"), cfg.WasmCacheDir, cfg.SimulationTimeout, log)
	if err != nil {
		return nil, err
	}
	n = &Node{
		cfg:         cfg,
		packages:    packages,
		log:         log,
		mspID:       signer.MSPID(),
		signer:      signer,
		reg:         reg,
		simulations: make(chan struct{}, 4*runtime.GOMAXPROCS(0)),
		sigChecks:   cpugate.New(0),
		channels:    map[string]*Channel{},
	}
	// The error returns below set n to nil: close what node opened.
	node := n
	defer func() {
		if err != nil {
			for _, c := range node.channels {
				c.close()
			}
			packages.close(context.Background())
		}
	}()
	if err := removeStaleExports(cfg.DataDir); err != nil {
		return nil, err
	}
	if err := n.openChannels(validator.New(cfg.ValidationWorkers)); err != nil {
		return nil, err
	}
	mgr, err := n.trustManager()
	if err != nil {
		return nil, err
	}
	n.trust = transport.NewTrustSource(mgr)
	n.clientTLS = transport.ClientTLSConfigFor(signer, n.trust, pki.RoleOrderer)
	n.peerTLS = transport.ClientTLSConfigFor(signer, n.trust, pki.RolePeer)
	return n, nil
}

// openChannels opens every channel in the data directory and joins those
// whose genesis block is given.
func (n *Node) openChannels(val *validator.Validator) error {
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
		if _, dup := genesis[cfg.ChannelID()]; dup {
			return fmt.Errorf("two genesis blocks for channel %s", cfg.ChannelID())
		}
		genesis[cfg.ChannelID()] = b
	}
	ids := map[string]bool{}
	for _, js := range n.cfg.JoinSnapshots {
		id, err := n.joinFromSnapshot(root, js)
		if err != nil {
			return err
		}
		ids[id] = true
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() && channelconfig.ValidateChannelID(e.Name()) == nil {
			ids[e.Name()] = true
		}
	}
	for id := range genesis {
		ids[id] = true
	}
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		c, err := openChannel(channelOptions{
			dir:      filepath.Join(root, id),
			genesis:  genesis[id],
			reg:      n.reg,
			val:      val,
			log:      n.log,
			self:     n.mspID,
			onConfig: n.refreshTrust,
		})
		if err != nil {
			return fmt.Errorf("channel %s: %w", id, err)
		}
		n.channels[id] = c
		if c.id != id {
			return fmt.Errorf("directory of channel %s holds channel %s", id, c.id)
		}
	}
	if len(n.channels) == 0 {
		return errors.New("peer: no channel (give a genesis block)")
	}
	return nil
}

// JoinSnapshot is a channel snapshot a peer joins from.
type JoinSnapshot struct {
	// Dir is the snapshot directory.
	Dir string
	// Hash, if set, is the snapshot hash (SHA-256 of its snapshot.json)
	// the member's admin compared with other members' peers: a snapshot
	// of another hash is refused.
	Hash []byte
}

// joinFromSnapshot creates the ledger of the channel of snapshot js under
// root unless that channel already has one, and returns the channel ID.
func (n *Node) joinFromSnapshot(root string, js JoinSnapshot) (string, error) {
	info, err := ledger.ReadSnapshotInfo(js.Dir)
	if err != nil {
		return "", fmt.Errorf("join from snapshot %s: %w", js.Dir, err)
	}
	id := info.Manifest.Channel
	if err := channelconfig.ValidateChannelID(id); err != nil {
		return "", fmt.Errorf("join from snapshot %s: %w", js.Dir, err)
	}
	dir := filepath.Join(root, id)
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		n.log.Info("channel already has a ledger; snapshot not imported", "channel", id, "snapshot", js.Dir)
		return id, nil
	}
	if _, err := ledger.CreateFromSnapshot(js.Dir, dir, ledger.ImportOptions{MSPID: n.mspID, ExpectHash: js.Hash, Logger: n.log}); err != nil {
		return "", fmt.Errorf("channel %s: join from snapshot %s: %w", id, js.Dir, err)
	}
	return id, nil
}

// trustManager builds the identity manager for TLS: the union of every
// channel's members (their CA certificates and CRLs).
func (n *Node) trustManager() (*identity.Manager, error) {
	n.mu.RLock()
	configs := make([]*pb.ChannelConfig, 0, len(n.channels))
	for _, c := range n.channels {
		configs = append(configs, c.current().proto())
	}
	n.mu.RUnlock()
	return channelconfig.TrustManager(configs)
}

// refreshTrust makes TLS follow a configuration change at once: new
// members are accepted and revoked certificates refused from the next
// handshake and call.
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

// ReloadCertificate replaces the peer's certificate and key (a certificate
// renewed with blossom ca reenroll) without a restart: new TLS handshakes,
// as server and as client, present it and endorsements are signed with it;
// open connections keep working. It is refused, changing nothing, if the
// key does not match, the certificate is expired, names another member or
// role, or does not validate against the channels' members (see
// transport.Credential.Swap).
func (n *Node) ReloadCertificate(next tls.Certificate) error {
	return n.signer.Swap(next, n.trust)
}

// Certificate returns the peer's current certificate.
func (n *Node) Certificate() *x509.Certificate { return n.signer.Certificate() }

// Start listens and serves, and starts pulling blocks on every channel.
func (n *Node) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.started || n.stopped {
		return errors.New("peer: already started or stopped")
	}
	ln := n.cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", n.cfg.ListenAddress); err != nil {
			return err
		}
	}
	n.started = true
	n.ln = ln
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.grpc = transport.NewGRPCServer(
		transport.ServerTLSConfigFor(n.signer, n.trust, n.log, pki.Roles...), n.trust,
		transport.WithMaxMessageSize(maxBlockMessage),
		transport.WithLogger(n.log),
		transport.WithServerOptions(grpc.MaxRecvMsgSize(n.cfg.MaxProposalBytes+64<<10)),
	)
	pb.RegisterEndorserServer(n.grpc, &endorser{node: n})
	pb.RegisterPeerServer(n.grpc, &peerService{node: n})
	pb.RegisterPrivateDataServer(n.grpc, &privateDataService{node: n})
	pb.RegisterChaincodeAdminServer(n.grpc, &chaincodeAdmin{node: n})
	pb.RegisterSnapshotAdminServer(n.grpc, &snapshotAdmin{node: n})
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.grpc.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			n.log.Error("gRPC server stopped", "error", err)
		}
	}()
	for _, c := range n.channels {
		p := &puller{ch: c, clientTLS: n.clientTLS, log: c.log, maxMsg: maxBlockMessage, metrics: n.cfg.Metrics}
		n.wg.Add(2)
		go func() {
			defer n.wg.Done()
			p.run(n.ctx)
		}()
		go func() {
			defer n.wg.Done()
			n.runReconciler(n.ctx, c)
		}()
	}
	n.log.Info("peer serving", "address", ln.Addr().String(), "channels", n.channelIDs(), "static_chaincodes", n.reg.names(), "installed_packages", n.packages.installed())
	return nil
}

// stopGrace is how long Stop lets calls in progress finish.
const stopGrace = 5 * time.Second

// Stop stops pulling, stops serving (calls in progress get a short grace;
// blocking CommitStatus calls and Deliver streams end at once) and closes
// the ledgers. It is safe to call more than once.
func (n *Node) Stop() error {
	var err error
	n.stopOnce.Do(func() {
		n.mu.Lock()
		n.stopped = true
		started := n.started
		n.mu.Unlock()
		if started {
			n.cancel()
			done := make(chan struct{})
			go func() {
				n.grpc.GracefulStop()
				close(done)
			}()
			select {
			case <-done:
			case <-time.After(stopGrace):
				n.grpc.Stop()
				<-done
			}
			n.wg.Wait()
		}
		n.peerConns.close()
		var errs []error
		for _, c := range n.channels {
			if cerr := c.close(); cerr != nil {
				errs = append(errs, fmt.Errorf("channel %s: %w", c.id, cerr))
			}
		}
		if perr := n.packages.close(context.Background()); perr != nil {
			errs = append(errs, fmt.Errorf("chaincode runtime: %w", perr))
		}
		err = errors.Join(errs...)
		n.log.Info("peer stopped")
	})
	return err
}

// withStop returns ctx cancelled also when the node stops, for calls that
// block (CommitStatus, Deliver).
func (n *Node) withStop(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	if n.ctx == nil {
		return ctx, cancel
	}
	stop := context.AfterFunc(n.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// Addr returns the address the node listens on (nil before Start).
func (n *Node) Addr() net.Addr {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.ln == nil {
		return nil
	}
	return n.ln.Addr()
}

// MSPID is the peer's member.
func (n *Node) MSPID() string { return n.mspID }

// Channel returns a joined channel.
func (n *Node) Channel(id string) (*Channel, bool) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	c, ok := n.channels[id]
	return c, ok
}

// Channels lists the joined channels' IDs, sorted.
func (n *Node) Channels() []string {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.channelIDs()
}

func (n *Node) channelIDs() []string { return slices.Sorted(maps.Keys(n.channels)) }

// Healthy reports nil when the node serves and no channel has halted.
func (n *Node) Healthy() error {
	n.mu.RLock()
	started, stopped := n.started, n.stopped
	n.mu.RUnlock()
	if !started || stopped {
		return errors.New("peer not serving")
	}
	for _, id := range n.Channels() {
		c, _ := n.Channel(id)
		if err := c.Err(); err != nil {
			return fmt.Errorf("channel %s halted: %w", id, err)
		}
	}
	return nil
}

// ReadyLag is how many blocks a ready peer may trail the orderers' height
// it last learned.
const ReadyLag = 5

// Ready reports nil when the peer can serve clients: it is Healthy, and on
// every channel an orderer has told it the chain's height and it holds all
// but at most ReadyLag of those blocks, and it holds the package of every
// chaincode definition committed there (installed and loaded into its
// runtime, or run natively).
func (n *Node) Ready() error {
	if err := n.Healthy(); err != nil {
		return err
	}
	for _, id := range n.Channels() {
		c, _ := n.Channel(id)
		learned, h := c.OrdererHeight(), c.Height()
		if learned == 0 {
			return fmt.Errorf("channel %s: no orderer has answered yet (height %d)", id, h)
		}
		if h+ReadyLag < learned {
			return fmt.Errorf("channel %s: at height %d, the orderers at %d", id, h, learned)
		}
		defs := c.definitions.Load()
		for _, name := range slices.Sorted(maps.Keys(defs.byName)) {
			pkg := defs.byName[name].def.PackageID
			if _, native := n.cfg.NativePackages[pkg]; native || n.packages.holds(pkg) {
				continue
			}
			return fmt.Errorf("channel %s: chaincode %s: package %s is not installed", id, name, pkg)
		}
	}
	return nil
}
