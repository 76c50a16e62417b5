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
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/blossom-ledger/blossom/internal/bench"
	"github.com/blossom-ledger/blossom/internal/client"
	"github.com/blossom-ledger/blossom/internal/devnet"
	"github.com/blossom-ledger/blossom/internal/fsutil"
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
	findMax      bool
	startRate    float64
	maxRate      float64
	maxP99       time.Duration
	mix          string
	leases       int
	heldShare    float64
	seed         uint64
	cpuProfile   string
}

// hotSweep is the number of hot keys of each step of --workload hot.
var hotSweep = []int{1, 4, 16, 64}

func newBenchCommand() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure throughput and commit latency under open-loop load",
		Long: `Apply open-loop load and report valid transactions per second, latency to
commit (p50/p95/p99/max) on the submitter's peer and on all peers, failures by
validation code or cause, CPU seconds and bytes written per transaction, and the
machine's ECDSA P-256 sign and verify rates measured in the same run with the
ECDSA ceiling they imply for the workload:

  ceiling = 1 / (S/sign + V/verify) tx/s, S = 2 + E, V = E + 1 + P(1 + E)

with E endorsing peers and P peers (client signs proposal and envelope, each
endorser signs once; endorsers check the proposal, the receiving orderer the
envelope, every peer the creator and E endorsements).

Load is open-loop: transaction i is scheduled at start + i/rate and its latency
counts from that time, so queueing delay is never hidden. Transactions are sent
round-robin by every member's client, endorsed by E = MAJORITY (n/2+1) peers
(--endorsement any: the submitter's peer alone), on the kvtest chaincode "kv".

Rate: --rate R offers R tx/s for --duration (default 10s). Without --rate (or
with --find-max) the highest rate the network keeps up with is searched: steps
of --duration each (default 5s), doubling from --start-rate while steps keep
up (halving while they do not), then bisecting to within 10%. A step keeps up
when no send was an OVERLOAD (more than max(1000, 10 x rate) in flight), every
transaction sent committed on every peer, at least 95% of the scheduled
transactions are valid, and p99 latency to commit on the submitter's peer is
at most --max-p99. The best step is reported, with every step in "findMax".
ECDSA rates are measured before and after each workload (or whole search).

Workloads (comma-separated; each runs, or is searched, in turn):
  blind-100  blind write of a fresh key, 100-byte value (default)
  blind-1k   the same with a 1 KiB value
  rmw        kv:Incr of a random key of --keys keys, preloaded first
  hot-N      kv:Incr of one of N hot keys (contention)
  hot        the sweep hot-1, hot-4, hot-16, hot-64
  blossom-query  the BloSS@M authorization chaincode's account:GetAccounts
             submitted as a (read-only) transaction, for a "blossom up"
             devnet
  blossom-mix  the BloSS@M mix: license checkouts and returns, SWID reports,
             queries and votes, by users of the roles each needs (below)

blossom-mix: --rate counts operations per second; each scheduled slot draws an
operation by the --mix weights (default below) and starts it on an actor
whose precondition holds, else counts it skipped by cause: leases-busy (every
actor that could run it was running another: more --leases would have run
it; with --find-max a step where more than 5% of the operations were so
skipped did not keep up), no-free-license, no-held-lease, vote-in-progress. A step whose outcome is unknown (chaincode
refusal, not committed) stops its actor ("lostActors"). An operation's
transactions run in sequence, each sent once the previous one committed on
every peer; the first counts its latency from the scheduled time:
  checkout  order:GetQuote (agency tpoc), SendQuote (SP acq), InitiateOrder
            (tpoc), ApproveOrder (agency acq), AllocateLicenses (SP acq),
            SendLicenses (SP acq, after evaluating GetAllocateRequestForOrder)
  return    order:InitiateReturn (tpoc), DeallocateLicensesFromAccount,
            DeallocateLicensesFromSP (SP acq)
  swid      swid:ReportSWID on a held lease (tpoc)
  query     asset:GetAssets (tpoc) as a read-only transaction
  vote      vote:InitiateVote (SP ao: make an agency UNAUTHORIZED), vote:Vote
            "no" by every member's ao, vote:CertifyOngoingVote (the vote fails,
            so no account changes)
Each of --leases lease actors leases its own license of an asset added for the
run. Before the load, the authorization chaincode is bootstrapped and every
agency onboarded if needed (MOU, SignMOU, a vote, certification), a vote left
ongoing is finished, and the --held share of the actors check out their
license, so that the load starts with leases to return and report on. The in-process network then also runs the BloSS@M
chaincodes (natively, with the definitions of "blossom up"; member 0 is the
service provider) and issues its members users of the roles; with --devnet
the first user of each role of every member is used (a "blossom up" devnet
has ao, acq, lo at the service provider and ao, acq, tpoc at every agency).
The ceiling is computed from the run's valid transactions: S and V are the
means of their counts, plus one sign and one verify per evaluation. "mix" in
the JSON result gives per operation: scheduled, skipped{cause}, started,
completed, failed{cause}, transactions, validTransactions, latencyMs (to the
last step's commit on every peer), signsPerOp, verifiesPerOp and
ceilingOpsPerSec.

By default the network runs in this process: --members members, each with one
orderer and one peer over mutual TLS on 127.0.0.1, in a temporary directory
(or --dir). With --devnet DIR the load goes to the network DIR/devnet.json
describes, as each member's --user; its CA bundle must hold the root and
every member's intermediate CA (a "blossom up" devnet's devnet.json is such a
description; its users include "acq" at every member). Each workload's
chaincode is checked first: a "blossom up" devnet runs only authorization and
asset, so the kv workloads stop there with an error and blossom-query is the
workload to use, with blossom-mix. CPU and bytes written then cover this
process (the load generator) only.

--json prints one object: "machine" (CPU model, cores, OS), "commit" (the
binary's VCS commit, else the HEAD of the git checkout in the working
directory, else "unknown") and "results", one per workload, each carrying
validTxPerSec, ceilingTxPerSec, signPerSec, verifyPerSec,
latencyMs{p50,p95,p99,max} (submitter's peer), latencyAllPeersMs, failures
{code: n}, machine and commit, with more detail. When exactly one workload
ran, its result's fields are also at the top level (jq .validTxPerSec).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runBench(ctx, cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&f.duration, "duration", 0, "load duration of each workload, or of each --find-max step (default 10s, with --find-max 5s)")
	fl.Float64Var(&f.rate, "rate", 0, "offered transactions (blossom-mix: operations) per second (default: --find-max)")
	fl.BoolVar(&f.findMax, "find-max", false, "search the highest offered rate the network keeps up with (the default without --rate)")
	fl.Float64Var(&f.startRate, "start-rate", 50, "--find-max: the first step's offered rate")
	fl.Float64Var(&f.maxRate, "max-rate", 100000, "--find-max: the highest offered rate tried")
	fl.DurationVar(&f.maxP99, "max-p99", time.Second, "--find-max: the p99 latency bound of a step that keeps up")
	fl.StringVar(&f.workloads, "workload", "blind-100", "workloads, comma-separated: blind-100, blind-1k, rmw, hot-N, hot, blossom-query, blossom-mix")
	fl.BoolVar(&f.asJSON, "json", false, "print the report as JSON instead of a table")
	fl.IntVar(&f.members, "members", 3, "members of the in-process network (1 to 16)")
	fl.StringVar(&f.endorsement, "endorsement", "majority", "endorsement policy of the in-process network: majority or any")
	fl.IntVar(&f.keys, "keys", 1000, "preloaded keys of the rmw workload")
	fl.DurationVar(&f.batchTimeout, "batch-timeout", 0, "block cutting timeout of the in-process network (0: channel default)")
	fl.StringVar(&f.dir, "dir", "", "directory of the in-process network (default: a temporary directory, removed after)")
	fl.StringVar(&f.devnet, "devnet", "", "load a running network described by DIR/devnet.json instead")
	fl.StringVar(&f.user, "user", "acq", "with --devnet: the user of each member that submits")
	fl.DurationVar(&f.cryptoTime, "crypto-time", time.Second, "how long to measure each ECDSA rate, before and after each workload")
	fl.StringVar(&f.mix, "mix", bench.DefaultMix, "blossom-mix: operation weights, op=weight,... (ops: "+strings.Join(bench.OpKinds, ", ")+")")
	fl.IntVar(&f.leases, "leases", 64, "blossom-mix: lease actors, each leasing its own license of the asset added for the run")
	fl.Float64Var(&f.heldShare, "held", 0.5, "blossom-mix: share of the lease actors that check out their license before the load")
	fl.Uint64Var(&f.seed, "seed", 0, "seed of key and operation choice (0: random)")
	fl.StringVar(&f.cpuProfile, "cpuprofile", "", "write a pprof CPU profile of this process, from the first workload's start to the last one's end, to FILE (in-process: the whole network's)")
	return cmd
}

// parseWorkloads expands the --workload list; blossom-mix gets the
// weights of mix.
func parseWorkloads(list string, keys int, mix string) ([]bench.Workload, error) {
	weights, err := bench.ParseMix(mix)
	if err != nil {
		return nil, fmt.Errorf("--mix: %w", err)
	}
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
		if w.Kind == bench.KindMix {
			w.Mix = weights.String()
		}
		out = append(out, w)
	}
	return out, nil
}

// checkBenchFlags validates the flags and fills the rate mode's defaults.
func checkBenchFlags(cmd *cobra.Command, f *benchFlags) error {
	rateSet := cmd.Flags().Changed("rate")
	if rateSet && f.findMax {
		return errors.New("--rate and --find-max exclude each other")
	}
	f.findMax = !rateSet
	if f.duration == 0 && !cmd.Flags().Changed("duration") {
		f.duration = 10 * time.Second
		if f.findMax {
			f.duration = 5 * time.Second
		}
	}
	switch {
	case f.duration <= 0 || f.duration > 24*time.Hour:
		return errors.New("--duration must be in (0, 24h]")
	case rateSet && (f.rate <= 0 || f.rate > 1e6):
		return errors.New("--rate must be in (0, 1e6]")
	case f.findMax && (f.startRate < 1 || f.maxRate < f.startRate || f.maxRate > 1e6):
		return errors.New("--start-rate and --max-rate must satisfy 1 <= start <= max <= 1e6")
	case f.findMax && (f.maxP99 <= 0 || f.maxP99 > time.Hour):
		return errors.New("--max-p99 must be in (0, 1h]")
	case f.keys < 1 || f.keys > 100_000_000:
		return errors.New("--keys must be in [1, 1e8]")
	case f.leases < 1 || f.leases > bench.MaxLeases:
		return fmt.Errorf("--leases must be in [1, %d]", bench.MaxLeases)
	case f.heldShare < 0 || f.heldShare > 1:
		return errors.New("--held must be in [0, 1]")
	}
	return nil
}

func runBench(ctx context.Context, cmd *cobra.Command, f benchFlags) error {
	if err := checkBenchFlags(cmd, &f); err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	workloads, err := parseWorkloads(f.workloads, f.keys, f.mix)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	hasMix := slices.ContainsFunc(workloads, func(w bench.Workload) bool { return w.Kind == bench.KindMix })
	var target bench.Target
	if f.devnet != "" {
		if target, err = devnetTarget(f.devnet, f.user, hasMix); err != nil {
			return err
		}
		for _, w := range workloads {
			if err := bench.CheckChaincode(ctx, target, w); err != nil {
				return fmt.Errorf("the network of %s cannot run workload %s: %w (a \"blossom up\" devnet runs only the "+
					"authorization and asset chaincodes, not the kvtest chaincode \"kv\" the kv workloads need: "+
					"use --workload blossom-query or blossom-mix there)", f.devnet, w.Name, err)
			}
		}
	} else {
		for _, w := range workloads {
			if w.Kind == bench.KindQuery {
				return &ExitError{Code: 2, Err: fmt.Errorf("workload %s needs --devnet: it reads a BloSS@M consortium's accounts (in-process, blossom-mix prepares one)", w.Name)}
			}
		}
		t, cleanup, err := startBenchNetwork(f, hasMix)
		if err != nil {
			return err
		}
		defer cleanup()
		target = t
	}
	if f.cpuProfile != "" {
		stopProfile, err := startCPUProfile(f.cpuProfile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	report := bench.NewReport()
	var searchErr error
	preloaded := false
	for _, w := range workloads {
		if w.Kind == bench.KindRMW && !preloaded {
			if err := bench.Preload(ctx, target, w.Keys, 4); err != nil {
				return err
			}
			preloaded = true
		}
		opts := bench.Options{Workload: w, Rate: f.rate, Duration: f.duration, CryptoTime: f.cryptoTime, Seed: f.seed}
		if w.Kind == bench.KindMix {
			if opts.MixState, err = bench.PrepareMix(ctx, target, w, f.leases, int(f.heldShare*float64(f.leases))); err != nil {
				return err
			}
		}
		var res *bench.Result
		if f.findMax {
			progress := func(s bench.Step) {
				verdict := "kept up"
				if !s.KeptUp {
					verdict = "did not keep up: " + s.Why
				}
				unit := "tx/s"
				if w.Kind == bench.KindMix {
					unit = "ops/s"
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "bench: %s at %.0f %s: %.1f valid tx/s, p99 %.0f ms, %s\n",
					w.Name, s.OfferedRate, unit, s.ValidTxPerSec, s.P99Ms, verdict)
			}
			res, err = bench.FindMax(ctx, target, bench.FindMaxOptions{Options: opts, StartRate: f.startRate,
				MaxRate: f.maxRate, MaxP99: f.maxP99, Progress: progress})
			if errors.Is(err, bench.ErrNothingKeptUp) {
				searchErr = fmt.Errorf("%s: %w", w.Name, err)
				err = nil
			}
		} else {
			res, err = bench.Run(ctx, target, opts)
		}
		if err != nil {
			return err
		}
		report.Add(res)
	}
	if err := writeBenchReport(cmd, report, f.asJSON); err != nil {
		return err
	}
	if searchErr != nil {
		return &ExitError{Code: 1, Err: searchErr}
	}
	return nil
}

func writeBenchReport(cmd *cobra.Command, report *bench.Report, asJSON bool) error {
	out := cmd.OutOrStdout()
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	return bench.WriteTable(out, report)
}

// startBenchNetwork lays out and starts the in-process network; with
// blossam its peers also run the BloSS@M chaincodes (member 0 the service
// provider) and every member gets users of the roles blossom-mix needs.
func startBenchNetwork(f benchFlags, blossam bool) (bench.Target, func(), error) {
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
	l, err := localnet.Create(localnet.Options{Dir: dir, Members: f.members, EndorsementPolicy: policy, BatchTimeout: f.batchTimeout, BloSSAM: blossam})
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
		if blossam {
			roles, err := benchRoleUsers(l, i)
			if err != nil {
				cleanup()
				return bench.Target{}, nil, err
			}
			t.Roles = append(t.Roles, roles)
		}
	}
	return t, cleanup, nil
}

// benchRoleUsers issues member i of the in-process network a user of each
// role blossom-mix needs there (member 0 is the service provider).
func benchRoleUsers(l *localnet.Layout, i int) (map[string]client.Config, error) {
	need := bench.MixAgencyRoles
	if i == 0 {
		need = bench.MixAdminRoles
	}
	roles := map[string]client.Config{}
	for _, role := range need {
		name := fmt.Sprintf("bench%d-%s", i, strings.ToLower(strings.ReplaceAll(role, " ", "-")))
		cfg, err := l.UserConfig(i, name, map[string]string{pki.RoleAttribute: role})
		if err != nil {
			return nil, err
		}
		roles[role] = cfg
	}
	return roles, nil
}

// devnetTarget builds the target from DIR/devnet.json: each member's user
// submits through its own (first) peer; the peers and orderers are the
// ones devnet.json lists. With roles, Target.Roles holds the first user of
// each blossom.role of every member (for blossom-mix).
func devnetTarget(dir, user string, roles bool) (bench.Target, error) {
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
	mgr, err := devnetTrust(dir, dn.CABundle)
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
		config := func(u *DevnetUser) (client.Config, error) {
			tlsCert, err := tls.LoadX509KeyPair(u.Cert, u.Key)
			if err != nil {
				return client.Config{}, fmt.Errorf("member %s user %s: %w", m.Name, u.Name, err)
			}
			signer, err := identity.NewTLSSigner(tlsCert)
			if err != nil {
				return client.Config{}, fmt.Errorf("member %s user %s: %w", m.Name, u.Name, err)
			}
			cfg := client.Config{ChannelID: dn.Channel, Signer: signer, TLSCertificate: tlsCert, Trust: trust}
			for k := range peers {
				cfg.Peers = append(cfg.Peers, peers[(i+k)%len(peers)])
			}
			for k := range orderers {
				cfg.Orderers = append(cfg.Orderers, orderers[(i+k)%len(orderers)])
			}
			return cfg, nil
		}
		_, u, err := dn.User(m.Name, user)
		if err != nil {
			return bench.Target{}, err
		}
		cfg, err := config(u)
		if err != nil {
			return bench.Target{}, err
		}
		t.Members = append(t.Members, cfg)
		if m.Admin {
			t.Admin = i
		}
		if !roles {
			continue
		}
		byRole := map[string]client.Config{}
		for k := range m.Users {
			ru := &m.Users[k]
			if _, seen := byRole[ru.Role]; ru.Role == "" || seen {
				continue
			}
			if byRole[ru.Role], err = config(ru); err != nil {
				return bench.Target{}, err
			}
		}
		t.Roles = append(t.Roles, byRole)
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

// devnetTrust builds the members' MSPs: from the consortium `blossom up`
// made in dir (its bundle holds the root only; each member's intermediate
// CA is in its CA directory), else from the CA bundle alone.
func devnetTrust(dir, bundle string) (*identity.Manager, error) {
	c, err := devnet.Load(dir)
	if err != nil {
		return trustFromBundle(bundle)
	}
	data, err := fsutil.ReadFileBounded(bundle, 4<<20)
	if err != nil {
		return nil, err
	}
	roots, err := pki.ParseCertificatesPEM(data)
	if err != nil {
		return nil, fmt.Errorf("CA bundle %s: %w", bundle, err)
	}
	var cfgs []identity.MSPConfig
	for i := range c.Members {
		m := &c.Members[i]
		inter, err := pki.ReadCertificateFile(c.IntermediateCert(m))
		if err != nil {
			return nil, fmt.Errorf("member %s: %w", m.Name, err)
		}
		cfgs = append(cfgs, identity.MSPConfig{ID: m.MSPID, RootCerts: roots, IntermediateCerts: []*x509.Certificate{inter}})
	}
	return identity.NewManager(cfgs)
}

// trustFromBundle builds the MSPs from a PEM bundle: self-signed
// certificates are roots, the others members' intermediate CAs, each
// member's MSP ID being its intermediate's subject O.
func trustFromBundle(path string) (*identity.Manager, error) {
	data, err := fsutil.ReadFileBounded(path, 4<<20)
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

// startCPUProfile starts a pprof CPU profile written to path (created
// 0600, refused if it exists); the returned function stops it and closes
// the file.
func startCPUProfile(path string) (func(), error) {
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(out); err != nil {
		out.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		out.Close()
	}, nil
}
