package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/blossom-ledger/blossom/chaincode/asset"
	"github.com/blossom-ledger/blossom/chaincode/authorization"
	"github.com/blossom-ledger/blossom/chaincode/kvtest"
	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/ledger"
	"github.com/blossom-ledger/blossom/internal/orderer"
	"github.com/blossom-ledger/blossom/internal/peer"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/transport"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// peerFileConfig is the configuration file of `blossom peer`. Relative
// paths are resolved against the file's directory.
type peerFileConfig struct {
	DataDir      string `json:"dataDir"`      // ledgers live in DATADIR/channels/<channel>
	Listen       string `json:"listen"`       // host:port of the mutual-TLS gRPC listener
	Cert         string `json:"cert"`         // PEM: the peer certificate, optionally followed by its CA chain
	Key          string `json:"key"`          // PEM private key, mode 0600
	GenesisBlock string `json:"genesisBlock"` // the channel's genesis block (a marshalled blossom.v1.Block)
	Channel      string `json:"channel"`      // the channel the genesis block creates
	// JoinSnapshot is a ledger snapshot directory (`blossom ledger
	// snapshot`) to join the channel from, at the snapshot's height,
	// instead of from the genesis block: used when the channel has no
	// ledger in DATADIR yet, ignored later. genesisBlock is then optional.
	JoinSnapshot string `json:"joinSnapshot"`
	// JoinSnapshotHash is the snapshot hash (hex SHA-256 of its
	// snapshot.json) the member's admin compared with other members'
	// peers: a snapshot of another hash is refused.
	JoinSnapshotHash string `json:"joinSnapshotHash"`
	// Chaincodes registers static native chaincodes (development), besides
	// those deployed through the lifecycle: every peer of the channel must
	// list the same ones.
	Chaincodes []peerChaincodeConfig `json:"chaincodes"`
	LogLevel   string                `json:"logLevel"` // debug, info (default), warn, error
	// HealthAddress, if set, serves over plain HTTP GET /healthz (200
	// while the peer serves and no channel has halted), GET /readyz (200
	// when also caught up with the orderers and holding every committed
	// chaincode's package: peer.Node.Ready) and GET /metrics.
	HealthAddress string `json:"healthAddress"`
	// WasmCacheDir holds the wazero compilation cache (default
	// DATADIR/chaincodes/cache); peers of one process may share one.
	WasmCacheDir string `json:"wasmCacheDir"`
	// NativePackages runs built-in native chaincodes (development) as the
	// packages of the given IDs: package ID to implementation name.
	NativePackages map[string]string `json:"nativePackages"`
}

type peerChaincodeConfig struct {
	Name              string            `json:"name"`
	Implementation    string            `json:"implementation"` // a built-in native chaincode (see builtinChaincodes)
	EndorsementPolicy string            `json:"endorsementPolicy"`
	Params            map[string]string `json:"params"`
}

// builtinChaincodes are the native chaincodes compiled into the binary
// that a peer configuration may register by implementation name.
var builtinChaincodes = map[string]func() contract.Chaincode{
	"kvtest": kvtest.New, // the test key-value chaincode (development and tests)
	// The BloSS@M chaincodes, for `blossom up` when no WebAssembly
	// package is at hand (see ChaincodePackages in internal/devnet).
	"authorization": authorization.New,
	"asset":         asset.New,
}

func newPeerCommand() *cobra.Command {
	var configPath string
	var flags peerFlags
	cmd := &cobra.Command{
		Use:   "peer --config FILE",
		Short: "Run a peer: keep a channel's ledger, endorse proposals, serve blocks and commit status",
		Long: `Run a peer in the foreground until SIGINT or SIGTERM, which stop it cleanly.
SIGHUP reloads the certificate and key files (cert, key) without a restart,
for example after "blossom ca reenroll": new connections and endorsements use
them; a pair that does not match, is expired, or does not validate against
the channel's members is refused (logged) and the peer keeps its current one.

The configuration file is YAML or JSON (a .json name or a leading '{' means
JSON). Relative paths are resolved against the file's directory:

  dataDir: /var/lib/blossom/peer0          # ledgers: DATADIR/channels/<channel>; packages: DATADIR/chaincodes
  listen: 0.0.0.0:7051                     # mutual-TLS gRPC (Endorser, Peer, ChaincodeAdmin, SnapshotAdmin)
  cert: peer0-cert.pem                     # peer certificate (+ CA chain)
  key: peer0-key.pem                       # private key, mode 0600
  genesisBlock: blossom.block              # the channel's genesis block
  channel: blossom
  joinSnapshot: /var/lib/blossom/snap      # optional: join from a ledger snapshot (see below)
  joinSnapshotHash: 3b0c…                  # optional: the snapshot hash the admins compared
  logLevel: info                           # debug, info, warn, error
  healthAddress: 127.0.0.1:7061            # optional: /healthz, /readyz, /metrics (plain HTTP)
  wasmCacheDir: /var/cache/blossom/wasm    # optional (default DATADIR/chaincodes/cache)
  nativePackages:                          # optional (development): run a built-in chaincode
    kvtest_native:3f5c…: kvtest            # as the package of that ID
  chaincodes:                              # optional static chaincodes (development);
    - name: kv                             # every peer must list the same ones
      implementation: kvtest               # built in: ` + strings.Join(builtinNames(), ", ") + `
      endorsementPolicy: MAJORITY Endorsement

The peer joins the channel from the genesis block on first start (later
starts reopen the ledger and check it holds that genesis block), then pulls
blocks from the channel's orderers. Chaincodes are normally deployed with
"blossom chaincode" (install, approve, commit): the peer runs each committed
definition from the package installed in DATADIR/chaincodes, and reinstalls
those packages at start.

With healthAddress set, GET /healthz is liveness (200 while the peer serves
and no channel halted) and GET /readyz readiness: 200 once, on every
channel, an orderer has told the peer the chain's height and the peer holds
all but at most 5 of those blocks, and it holds the package of every
committed chaincode definition (installed and loaded); otherwise 503 with
the reason.

With --join-snapshot (or joinSnapshot in the file) a peer whose data
directory has no ledger for the channel yet creates it from a ledger
snapshot taken with "blossom ledger snapshot" instead of replaying the
chain from block 0: it checks every file of the snapshot, the last block
against the config's orderers and the state hash, starts at the
snapshot's height and pulls the later blocks from the orderers. Blocks
(but the snapshot's last config block and last block) and key history
before that height are not on such a peer. The snapshot
carries its member's private data only to a peer of the same member.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runPeerWith(withSIGHUPReload(ctx), configPath, flags, cmd.ErrOrStderr(), nil)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "peer configuration file (YAML or JSON)")
	cmd.Flags().StringVar(&flags.joinSnapshot, "join-snapshot", "", "ledger snapshot directory to join the channel from instead of block 0 (overrides joinSnapshot)")
	cmd.Flags().StringVar(&flags.joinSnapshotHash, "snapshot-hash", "", "hex snapshot hash the snapshot must have (overrides joinSnapshotHash)")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

func builtinNames() []string {
	names := make([]string, 0, len(builtinChaincodes))
	for n := range builtinChaincodes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// runPeer runs a peer from the configuration file at path until ctx ends.
// started, if set, is called with the node once it serves.
func runPeer(ctx context.Context, path string, logOut io.Writer, started func(*peer.Node)) error {
	return runPeerWith(ctx, path, peerFlags{}, logOut, started)
}

// peerFlags are command-line settings that override the file's.
type peerFlags struct {
	joinSnapshot, joinSnapshotHash string
}

// runPeerWith is runPeer with flags overriding the configuration file.
func runPeerWith(ctx context.Context, path string, flags peerFlags, logOut io.Writer, started func(*peer.Node)) error {
	cfg, err := loadPeerConfig(path)
	if err != nil {
		return err
	}
	if flags.joinSnapshot != "" {
		cfg.JoinSnapshot = flags.joinSnapshot
	}
	if flags.joinSnapshotHash != "" {
		cfg.JoinSnapshotHash = flags.joinSnapshotHash
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("%s: logLevel: %w", path, err)
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level}))
	nodeCfg, err := cfg.nodeConfig(log)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	reg := prometheus.NewRegistry()
	nodeCfg.Metrics = peer.NewMetrics(reg)
	node, err := peer.New(nodeCfg)
	if err != nil {
		return err
	}
	if err := node.Start(); err != nil {
		node.Stop()
		return err
	}
	stopOps := func() {}
	if cfg.HealthAddress != "" {
		heightGauges(reg, node.Channels, func(id string) (uint64, error) {
			ch, ok := node.Channel(id)
			if !ok {
				return 0, fmt.Errorf("no channel %s", id)
			}
			return ch.Height(), nil
		})
		stopOps, err = serveNodeOps(cfg.HealthAddress, nodeOps{healthy: node.Healthy, ready: node.Ready, cert: node.Certificate, registry: reg, log: log})
		if err != nil {
			node.Stop()
			return err
		}
	}
	stopReload := reloadOnSIGHUP(ctx, func() {
		logReload(log, node.ReloadCertificate, cfg.Cert, cfg.Key)
	})
	defer stopReload()
	if started != nil {
		started(node)
	}
	<-ctx.Done()
	log.Info("stopping peer")
	stopOps()
	return node.Stop()
}

func loadPeerConfig(path string) (*peerFileConfig, error) {
	cfg := new(peerFileConfig)
	if err := decodeConfigFile(path, cfg); err != nil {
		return nil, err
	}
	var missing []string
	for _, f := range []struct{ name, value string }{
		{"dataDir", cfg.DataDir}, {"listen", cfg.Listen}, {"cert", cfg.Cert}, {"key", cfg.Key},
		{"channel", cfg.Channel},
	} {
		if f.value == "" {
			missing = append(missing, f.name)
		}
	}
	if cfg.GenesisBlock == "" && cfg.JoinSnapshot == "" {
		missing = append(missing, "genesisBlock (or joinSnapshot)")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: missing %s", path, strings.Join(missing, ", "))
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = "info"
	}
	dir := filepath.Dir(path)
	for _, p := range []*string{&cfg.DataDir, &cfg.Cert, &cfg.Key, &cfg.GenesisBlock, &cfg.WasmCacheDir, &cfg.JoinSnapshot} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	return cfg, nil
}

// nodeConfig reads the files the configuration names.
func (c *peerFileConfig) nodeConfig(log *slog.Logger) (peer.Config, error) {
	tlsCert, err := transport.LoadCertificateFiles(c.Cert, c.Key)
	if err != nil {
		return peer.Config{}, err
	}
	var genesisBlocks []*pb.Block
	if c.GenesisBlock != "" {
		genesis, err := orderer.ReadBlockFile(c.GenesisBlock)
		if err != nil {
			return peer.Config{}, fmt.Errorf("genesis block: %w", err)
		}
		chCfg, _, err := channelconfig.FromBlock(genesis)
		if err != nil {
			return peer.Config{}, fmt.Errorf("genesis block %s: %w", c.GenesisBlock, err)
		}
		if chCfg.ChannelID() != c.Channel {
			return peer.Config{}, fmt.Errorf("genesis block %s is for channel %s, not %s", c.GenesisBlock, chCfg.ChannelID(), c.Channel)
		}
		genesisBlocks = append(genesisBlocks, genesis)
	}
	joins, err := c.joinSnapshots()
	if err != nil {
		return peer.Config{}, err
	}
	var defs []peer.Definition
	for i, cc := range c.Chaincodes {
		impl, ok := builtinChaincodes[cc.Implementation]
		if !ok {
			return peer.Config{}, fmt.Errorf("chaincodes[%d] (%s): unknown implementation %q (built in: %s)", i, cc.Name, cc.Implementation, strings.Join(builtinNames(), ", "))
		}
		defs = append(defs, peer.Definition{Name: cc.Name, EndorsementPolicy: cc.EndorsementPolicy, Chaincode: impl(), Params: cc.Params})
	}
	natives := map[string]contract.Chaincode{}
	for id, name := range c.NativePackages {
		impl, ok := builtinChaincodes[name]
		if !ok {
			return peer.Config{}, fmt.Errorf("nativePackages[%s]: unknown implementation %q (built in: %s)", id, name, strings.Join(builtinNames(), ", "))
		}
		natives[id] = impl()
	}
	return peer.Config{
		DataDir:        c.DataDir,
		ListenAddress:  c.Listen,
		Certificate:    tlsCert,
		GenesisBlocks:  genesisBlocks,
		JoinSnapshots:  joins,
		Chaincodes:     defs,
		NativePackages: natives,
		WasmCacheDir:   c.WasmCacheDir,
		Logger:         log,
	}, nil
}

// joinSnapshots checks the configured snapshot's manifests (the peer
// checks its files when it creates the ledger) and hash.
func (c *peerFileConfig) joinSnapshots() ([]peer.JoinSnapshot, error) {
	if c.JoinSnapshot == "" {
		if c.JoinSnapshotHash != "" {
			return nil, errors.New("joinSnapshotHash without joinSnapshot")
		}
		return nil, nil
	}
	js := peer.JoinSnapshot{Dir: c.JoinSnapshot}
	if c.JoinSnapshotHash != "" {
		h, err := hex.DecodeString(c.JoinSnapshotHash)
		if err != nil || len(h) != sha256.Size {
			return nil, fmt.Errorf("joinSnapshotHash %q is not a hex SHA-256", c.JoinSnapshotHash)
		}
		js.Hash = h
	}
	info, err := ledger.ReadSnapshotInfo(c.JoinSnapshot)
	if err != nil {
		return nil, fmt.Errorf("joinSnapshot %s: %w", c.JoinSnapshot, err)
	}
	if info.Manifest.Channel != c.Channel {
		return nil, fmt.Errorf("joinSnapshot %s is of channel %s, not %s", c.JoinSnapshot, info.Manifest.Channel, c.Channel)
	}
	return []peer.JoinSnapshot{js}, nil
}
