package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/blossom-ledger/blossom/internal/orderer"
	"github.com/blossom-ledger/blossom/internal/transport"
)

func newOrdererCommand() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "orderer --config FILE",
		Short: "Run an orderer node (Raft ordering service, Broadcast and Deliver)",
		Long: `Run one orderer node until SIGINT or SIGTERM. The configuration file (JSON):

  {
    "listenAddress": "127.0.0.1:7050",
    "dataDir": "orderer0",
    "certFile": "orderer0/cert.pem",
    "keyFile": "orderer0/key.pem",
    "genesisBlocks": ["blossom.block"],
    "healthAddress": "127.0.0.1:7060",
    "logLevel": "info"
  }

One mutual-TLS listener serves gRPC (Broadcast, Deliver) and the Raft streams of
every channel. The certificate (an orderer certificate whose CN is the orderer's
ID in the channel config) also signs blocks; the key file must be mode 0600. The
members' CAs are trusted as the channel configurations say, starting with the
genesis blocks; channels already in dataDir are reopened from there. With
healthAddress set, plain HTTP serves GET /healthz (liveness: 200 unless a
channel halted or its Raft stopped), GET /readyz (200 when, on every
channel, this orderer is a consenter, knows the Raft leader and has applied
its Raft log to within 5 entries of the commit index) and GET /metrics.
The optional "maxPendingEnvelopes" (default 4096, at most 1048576) bounds, per
channel, the broadcast envelopes the orderer holds not yet answered (as leader,
those other orderers forward included); past it Broadcast answers
SERVICE_UNAVAILABLE "OVERLOADED: ..." at once, and clients pause and resubmit.
On shutdown a leading orderer hands leadership to another consenter first.

SIGHUP re-reads the certificate and key files to rotate the orderer's
certificate without a restart. Its certificate is part of the channel
configuration, so a renewed one (blossom ca reenroll) is only staged: the
orderer switches to it when it applies a config block naming it as its
consenter certificate (blossom governance propose update-consenter), or at
once if the configuration names it already. A certificate with another CN
(Raft ID), member or role, an expired or untrusted one, or a key that does not
match it is refused and logged; the orderer keeps its current certificate.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if configPath == "" {
				return &ExitError{Code: 1, Err: errors.New("orderer needs --config")}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runOrderer(withSIGHUPReload(ctx), configPath, cmd.ErrOrStderr(), func(node *orderer.Node) {
				fmt.Fprintf(cmd.OutOrStdout(), "orderer %s listening on %s\n", node.ID(), node.Addr())
			})
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "orderer configuration file (JSON)")
	return cmd
}

// runOrderer runs an orderer from the configuration file at path until ctx
// ends; started, if set, is called with the node once it serves.
func runOrderer(ctx context.Context, path string, logOut io.Writer, started func(*orderer.Node)) error {
	fc, err := orderer.LoadFileConfig(path)
	if err != nil {
		return err
	}
	level, _ := fc.Level()
	logger := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level}))
	cfg, err := fc.NodeConfig(logger)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	cfg.Metrics = orderer.NewMetrics(reg)
	node, err := orderer.NewNode(cfg)
	if err != nil {
		return err
	}
	stopOps := func() {}
	if addr := fc.HealthAddr(); addr != "" {
		heightGauges(reg, node.Channels, node.Height)
		stopOps, err = serveNodeOps(addr, nodeOps{healthy: node.Live, ready: node.Ready, cert: node.Certificate, registry: reg, log: logger})
		if err != nil {
			node.Close()
			return err
		}
	}
	certFile, keyFile := fc.CertificateFiles()
	stopReload := reloadOnSIGHUP(ctx, func() { stageOrdererCertificate(logger, node, certFile, keyFile) })
	defer stopReload()
	if started != nil {
		started(node)
	}
	<-ctx.Done()
	logger.Info("shutting down")
	stopOps()
	return node.Close()
}

// stageOrdererCertificate reads the orderer's certificate and key files
// again and stages them (orderer.Node.StageCertificate), logging the
// outcome without key material.
func stageOrdererCertificate(log *slog.Logger, node *orderer.Node, certPath, keyPath string) {
	next, err := transport.LoadCertificateFiles(certPath, keyPath)
	var switched bool
	if err == nil {
		switched, err = node.StageCertificate(next)
	}
	switch {
	case err != nil:
		log.Error("certificate reload refused; keeping the current certificate", "cert", certPath, "error", err)
	case switched:
		log.Info("switched to the new certificate: the channel configuration names it", "cert", certPath, "serial", next.Leaf.SerialNumber.Text(16))
	case node.StagedCertificate() == nil:
		log.Info("certificate unchanged", "cert", certPath)
	default:
		log.Info("new certificate staged: the orderer switches to it when a config block names it (blossom governance propose update-consenter)",
			"cert", certPath, "serial", next.Leaf.SerialNumber.Text(16), "notAfter", next.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
}
