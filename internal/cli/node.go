package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/blossom-ledger/blossom/internal/caserver"
)

// Node kinds `blossom node` recognises.
const (
	nodeKindOrderer = "orderer"
	nodeKindPeer    = "peer"
	nodeKindGateway = "gateway"
	nodeKindCA      = "ca"
)

func newNodeCommand() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "node --config FILE",
		Short: "Run any one node (orderer, peer, gateway or CA) from its configuration file",
		Long: `Run one node in the foreground until SIGINT or SIGTERM, from a configuration
file that blossom network init (or blossom up) wrote. The kind of node comes
from the file's fields: "listenAddress" is an orderer (blossom orderer),
"mspId" a gateway (blossom gateway), "caDir" a member CA, and "channel" with
"listen" a peer (blossom peer). A CA file is:

  {"caDir": "ca", "listen": "0.0.0.0:7054"}

with caDir relative to the file's directory. Logs go to stderr.

SIGHUP makes a peer or a gateway reload its certificate and key files
(certificate rotation without downtime, see blossom peer --help), and an
orderer stage them until a consenter update names them (see blossom orderer
--help); CAs ignore it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configPath == "" {
				return usageError("node needs --config")
			}
			kind, err := nodeKind(configPath)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			ctx = withSIGHUPReload(ctx)
			logOut := cmd.ErrOrStderr()
			if kind == nodeKindCA {
				// SIGHUP (systemctl reload) must not kill it.
				notice := slog.New(slog.NewTextHandler(logOut, nil))
				defer reloadOnSIGHUP(ctx, func() {
					notice.Warn("SIGHUP ignored: a CA does not reload its certificate")
				})()
			}
			switch kind {
			case nodeKindOrderer:
				return runOrderer(ctx, configPath, logOut, nil)
			case nodeKindPeer:
				return runPeer(ctx, configPath, logOut, nil)
			case nodeKindGateway:
				return runGateway(ctx, configPath, logOut, nil)
			}
			return runCANode(ctx, configPath, logOut, nil)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "node configuration file (YAML or JSON)")
	return cmd
}

// nodeKind recognises a node configuration file by its fields.
func nodeKind(path string) (string, error) {
	var fields map[string]any
	if err := decodeConfigFile(path, &fields); err != nil {
		return "", err
	}
	has := func(k string) bool { _, ok := fields[k]; return ok }
	switch {
	case has("caDir"):
		return nodeKindCA, nil
	case has("listenAddress"):
		return nodeKindOrderer, nil
	case has("mspId"):
		return nodeKindGateway, nil
	case has("channel") && has("listen"):
		return nodeKindPeer, nil
	}
	return "", fmt.Errorf("%s: not a node configuration (no caDir, listenAddress, mspId, or channel and listen)", path)
}

// caFileConfig is a CA node's configuration file.
type caFileConfig struct {
	CADir  string `json:"caDir"`
	Listen string `json:"listen"`
}

// runCA serves a member CA from the configuration file at path until ctx
// ends; started, if set, gets the bound address.
func runCANode(ctx context.Context, path string, logOut io.Writer, started func(addr string)) error {
	var cfg caFileConfig
	if err := decodeConfigFile(path, &cfg); err != nil {
		return err
	}
	if cfg.CADir == "" || cfg.Listen == "" {
		return fmt.Errorf("%s: missing caDir or listen", path)
	}
	if !filepath.IsAbs(cfg.CADir) {
		cfg.CADir = filepath.Join(filepath.Dir(path), cfg.CADir)
	}
	log := slog.New(slog.NewTextHandler(logOut, nil))
	srv, err := caserver.Open(caserver.Config{Dir: cfg.CADir, Logger: log})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	log.Info("CA server listening", "addr", ln.Addr().String(), "msp", srv.MSPID())
	if started != nil {
		started(ln.Addr().String())
	}
	return srv.Serve(ctx, ln)
}
