package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/blossom-ledger/blossom/internal/bench"
	"github.com/blossom-ledger/blossom/internal/client"
	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/network/localnet"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/transport"
)

type benchFlags struct {
	duration     time.Duration
	rate         float64
	workloads    string
	asJSON       bool
	members      int
	endorsement  string
	keys         int
	batchTimeout time.Duration
	dir          string
	devnet, user string
	cryptoTime   time.Duration
}

// hotSweep is the number of hot keys of each step of --workload hot.
var hotSweep = []int{1, 4, 16, 64}

func newBenchCommand() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure throughput and commit latency under open-loop load",
		Long: `Apply load at a fixed offered rate and report valid transactions per second,
latency to commit (p50/p95/p99/max) on the submitter's peer and on all peers,
failures by validation code or cause, CPU seconds and bytes written per
transaction, and the machine's ECDSA P-256 sign and verify rates measured in
the same run (the mean of a measurement just before and one just after each
workload) with the ECDSA ceiling they imply for the workload:

  ceiling = 1 / (S/sign + V/verify) tx/s, S = 2 + E, V = E + 1 + P(1 + E)

with E endorsing peers and P peers (client signs proposal and envelope, each
endorser signs once; endorsers check the proposal, the receiving orderer the
envelope, every peer the creator and E endorsements).

Load is open-loop: transaction i is scheduled at start + i/rate and its latency
counts from that time, so queueing delay is never hidden. Transactions sent
round-robin by every member's client, endorsed by E = MAJORITY (n/2+1) peers
(--endorsement any: the submitter's peer alone), on the kvtest chaincode "kv".

Workloads (comma-separated; each runs for --duration):
  blind-100  blind write of a fresh key, 100-byte value
  blind-1k   the same with a 1 KiB value
  rmw        kv:Incr of a random key of --keys keys, preloaded first
  hot-N      kv:Incr of one of N hot keys (contention)
  hot        the sweep hot-1, hot-4, hot-16, hot-64

By default the network runs in this process: --members members, each with one
orderer and one peer over mutual TLS on 127.0.0.1, in a temporary directory
(or --dir). With --devnet DIR the load goes to the network DIR/devnet.json
describes, as each member's --user; its CA bundle must hold the root and
every member's intermediate CA. CPU and bytes written then cover this
process (the load generator) only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runBench(ctx, cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&f.duration, "duration", 10*time.Second, "load duration of each workload")
	fl.Float64Var(&f.rate, "rate", 100, "offered transactions per second")
	fl.StringVar(&f.workloads, "workload", "blind-100", "workloads, comma-separated: blind-100, blind-1k, rmw, hot-N, hot")
	fl.BoolVar(&f.asJSON, "json", false, "print the report as JSON instead of a table")
	fl.IntVar(&f.members, "members", 3, "members of the in-process network (1 to 16)")
	fl.StringVar(&f.endorsement, "endorsement", "majority", "endorsement policy of the in-process network: majority or any")
	fl.IntVar(&f.keys, "keys", 1000, "preloaded keys of the rmw workload")
	fl.DurationVar(&f.batchTimeout, "batch-timeout", 0, "block cutting timeout of the in-process network (0: channel default)")
	fl.StringVar(&f.dir, "dir", "", "directory of the in-process network (default: a temporary directory, removed after)")
	fl.StringVar(&f.devnet, "devnet", "", "load a running network described by DIR/devnet.json instead")
	fl.StringVar(&f.user, "user", "acq", "with --devnet: the user of each member that submits")
	fl.DurationVar(&f.cryptoTime, "crypto-time", time.Second, "how long to measure each ECDSA rate, before and after each workload")
	return cmd
}

// parseWorkloads expands the --workload list.
func parseWorkloads(list string, keys int) ([]bench.Workload, error) {
	var out []bench.Workload
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "hot" {
			for _, n := range hotSweep {
				w, _ := bench.ParseWorkload(fmt.Sprintf("hot-%d", n), keys)
				out = append(out, w)
			}
			continue
		}
		w, err := bench.ParseWorkload(name, keys)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

func runBench(ctx context.Context, cmd *cobra.Command, f benchFlags) error {
	if f.rate <= 0 || f.rate > 1e6 || f.duration <= 0 || f.duration > 24*time.Hour {
		return &ExitError{Code: 2, Err: errors.New("--rate must be in (0, 1e6] and --duration in (0, 24h]")}
	}
	if f.keys < 1 || f.keys > 100_000_000 {
		return &ExitError{Code: 2, Err: errors.New("--keys must be in [1, 1e8]")}
	}
	workloads, err := parseWorkloads(f.workloads, f.keys)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	var target bench.Target
	if f.devnet != "" {
		if target, err = devnetTarget(f.devnet, f.user); err != nil {
			return err
		}
	} else {
		t, cleanup, err := startBenchNetwork(f)
		if err != nil {
			return err
		}
		defer cleanup()
		target = t
	}
	report := &bench.Report{Machine: bench.DescribeMachine()}
	preloaded := false
	for _, w := range workloads {
		if w.Kind == bench.KindRMW && !preloaded {
			if err := bench.Preload(ctx, target, w.Keys, 4); err != nil {
				return err
			}
			preloaded = true
		}
		res, err := bench.Run(ctx, target, bench.Options{Workload: w, Rate: f.rate, Duration: f.duration, CryptoTime: f.cryptoTime})
		if err != nil {
			return err
		}
		report.Results = append(report.Results, res)
	}
	out := cmd.OutOrStdout()
	if f.asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	return bench.WriteTable(out, report)
}

// startBenchNetwork lays out and starts the in-process network.
func startBenchNetwork(f benchFlags) (bench.Target, func(), error) {
	policy := map[string]string{"majority": "MAJORITY Endorsement", "any": "ANY Endorsement"}[f.endorsement]
	if policy == "" {
		return bench.Target{}, nil, &ExitError{Code: 2, Err: fmt.Errorf("--endorsement %q: want majority or any", f.endorsement)}
	}
	if f.members < 1 || f.members > localnet.MaxMembers {
		return bench.Target{}, nil, &ExitError{Code: 2, Err: fmt.Errorf("--members must be 1 to %d", localnet.MaxMembers)}
	}
	dir, remove := f.dir, func() {}
	if dir == "" {
		tmp, err := os.MkdirTemp("", "blossom-bench-")
		if err != nil {
			return bench.Target{}, nil, err
		}
		dir, remove = tmp, func() { os.RemoveAll(tmp) }
	}
	l, err := localnet.Create(localnet.Options{Dir: dir, Members: f.members, EndorsementPolicy: policy, BatchTimeout: f.batchTimeout})
	if err != nil {
		remove()
		return bench.Target{}, nil, err
	}
	net, err := l.Start(nil)
	if err != nil {
		remove()
		return bench.Target{}, nil, err
	}
	cleanup := func() { net.Close(); remove() }
	if err := net.WaitForLeader(30 * time.Second); err != nil {
		cleanup()
		return bench.Target{}, nil, err
	}
	t := bench.Target{InProcess: true, Endorsers: f.members/2 + 1}
	if f.endorsement == "any" {
		t.Endorsers = 1
	}
	for i := range l.Members {
		cfg, err := l.ClientConfig(i)
		if err != nil {
			cleanup()
			return bench.Target{}, nil, err
		}
		t.Members = append(t.Members, cfg)
		t.DataDirs = append(t.DataDirs, l.Members[i].PeerDataDir, l.Members[i].OrdererDataDir)
	}
	return t, cleanup, nil
}

// devnetTarget builds the target from DIR/devnet.json: each member's user
// submits through its own (first) peer; the peers and orderers are the
// ones devnet.json lists.
func devnetTarget(dir, user string) (bench.Target, error) {
	dn, err := ReadDevnet(dir)
	if err != nil {
		return bench.Target{}, err
	}
	if !dn.Ready {
		return bench.Target{}, fmt.Errorf("the devnet in %s is not ready", dir)
	}
	if dn.CABundle == "" || len(dn.Orderers) == 0 {
		return bench.Target{}, fmt.Errorf("%s: devnet.json names no CA bundle or no orderer", dir)
	}
	mgr, err := trustFromBundle(dn.CABundle)
	if err != nil {
		return bench.Target{}, err
	}
	trust := transport.NewTrustSource(mgr)
	var peers, orderers []client.Endpoint
	for _, m := range dn.Members {
		if len(m.Peers) == 0 {
			return bench.Target{}, fmt.Errorf("%s: member %s lists no peer", dir, m.Name)
		}
		peers = append(peers, client.Endpoint{Name: m.MSPID + "/" + hostPort(m.Peers[0]), Address: hostPort(m.Peers[0])})
	}
	for _, o := range dn.Orderers {
		orderers = append(orderers, client.Endpoint{Address: hostPort(o)})
	}
	t := bench.Target{Endorsers: len(dn.Members)/2 + 1}
	for i, m := range dn.Members {
		_, u, err := dn.User(m.Name, user)
		if err != nil {
			return bench.Target{}, err
		}
		tlsCert, err := tls.LoadX509KeyPair(u.Cert, u.Key)
		if err != nil {
			return bench.Target{}, fmt.Errorf("member %s user %s: %w", m.Name, user, err)
		}
		signer, err := identity.NewTLSSigner(tlsCert)
		if err != nil {
			return bench.Target{}, fmt.Errorf("member %s user %s: %w", m.Name, user, err)
		}
		cfg := client.Config{ChannelID: dn.Channel, Signer: signer, TLSCertificate: tlsCert, Trust: trust}
		for k := range peers {
			cfg.Peers = append(cfg.Peers, peers[(i+k)%len(peers)])
		}
		for k := range orderers {
			cfg.Orderers = append(cfg.Orderers, orderers[(i+k)%len(orderers)])
		}
		t.Members = append(t.Members, cfg)
	}
	return t, nil
}

// hostPort strips a URL scheme ("grpcs://host:port" -> "host:port").
func hostPort(s string) string {
	if _, rest, ok := strings.Cut(s, "://"); ok {
		return strings.TrimSuffix(rest, "/")
	}
	return s
}

// trustFromBundle builds the MSPs from a PEM bundle: self-signed
// certificates are roots, the others members' intermediate CAs, each
// member's MSP ID being its intermediate's subject O.
func trustFromBundle(path string) (*identity.Manager, error) {
	data, err := readBoundedFile(path, 4<<20)
	if err != nil {
		return nil, err
	}
	certs, err := pki.ParseCertificatesPEM(data)
	if err != nil {
		return nil, fmt.Errorf("CA bundle %s: %w", path, err)
	}
	var roots []*x509.Certificate
	byMSP := map[string][]*x509.Certificate{}
	var order []string
	for _, c := range certs {
		if c.CheckSignatureFrom(c) == nil {
			roots = append(roots, c)
			continue
		}
		if len(c.Subject.Organization) != 1 {
			return nil, fmt.Errorf("CA bundle %s: intermediate %q names no single member", path, c.Subject.CommonName)
		}
		id := c.Subject.Organization[0]
		if byMSP[id] == nil {
			order = append(order, id)
		}
		byMSP[id] = append(byMSP[id], c)
	}
	if len(roots) == 0 || len(order) == 0 {
		return nil, fmt.Errorf("CA bundle %s: want root and member intermediate CAs", path)
	}
	var cfgs []identity.MSPConfig
	for _, id := range order {
		cfgs = append(cfgs, identity.MSPConfig{ID: id, RootCerts: roots, IntermediateCerts: byMSP[id]})
	}
	return identity.NewManager(cfgs)
}
