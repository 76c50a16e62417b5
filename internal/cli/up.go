package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/blossom-ledger/blossom/internal/devnet"
	"github.com/blossom-ledger/blossom/internal/fsutil"
	"github.com/blossom-ledger/blossom/internal/gateway"
	"github.com/blossom-ledger/blossom/internal/gateway/oidcprovider"
	"github.com/blossom-ledger/blossom/internal/orderer"
	"github.com/blossom-ledger/blossom/internal/peer"
	"github.com/blossom-ledger/blossom/internal/txn"
)

// ReadyLine is what `blossom up` prints once the consortium is ready.
const ReadyLine = "blossom: consortium ready"

type upOptions struct {
	dir      string
	members  int
	basePort int
	demo     bool
	timeout  time.Duration
	// nativeChaincodes runs the chaincodes' native implementations, not
	// WebAssembly (tests).
	nativeChaincodes bool
}

func newUpCommand() *cobra.Command {
	var o upOptions
	cmd := &cobra.Command{
		Use:   "up --dir DIR [--members N] [--base-port P] [--demo]",
		Short: "Start a whole development consortium in the foreground",
		Long: `Start a development consortium in the foreground until SIGINT or SIGTERM.

On first use DIR (missing or empty) receives a consortium of N members: "sams"
(SAMSMSP, the BloSS@M service provider) and agency1 (Agency1MSP) ... agency(N-1),
each with a root-signed member CA, one orderer, one peer and one gateway on
127.0.0.1, and demo users admin, ao (Authorizing Official), acq (Acquisition
Officer), and lo (License Owner) at sams or tpoc (Technical Point of Contact)
at each agency. Channel "blossom" carries the chaincodes authorization
(MAJORITY Endorsement) and asset (SAMSMSP.peer); sams' Authorizing Official
runs bootstrap:Bootstrap once. With --demo an MOU is published, every agency
signs it, is voted AUTHORIZED and joins, and a sample asset is added.

Ports are free ones chosen on first start, or P+10*i+k for member i with
--base-port P; a later run on the same DIR resumes the same ledgers on the
same ports. DIR/devnet.json (mode 0600) describes the consortium: it says
"ready": false until every node answers, every peer has the orderers' height
and both chaincodes answer on every peer; then "ready": true and the line
"` + ReadyLine + `" is printed. Passwords are only in devnet.json. Node
logs go to DIR/logs/nodes.log.

The chaincodes are deployed through the lifecycle on the first start:
installed on every peer, approved by a MAJORITY of the members' admins and
committed by sams' admin. Their WebAssembly packages are those of an
earlier start (DIR/chaincodes), else the ones bundled in the binary (make
bundle), else built from the blossom source tree around the working
directory with the go command; failing all three, the binary's native
implementations run under package IDs (the banner says so). The peers share
the compilation cache $BLOSSOM_WASM_CACHE (default: the user cache
directory's blossom/wasm).

Each member also runs a built-in OpenID provider with its users (the
passwords of devnet.json, "oidcIssuer"); its gateway accepts the provider's
tokens and signs browsers in at GATEWAY/auth/login, each user's first
sign-in approved by the member admin at start.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.dir == "" {
				return usageError("up needs --dir")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runUp(ctx, o, cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.dir, "dir", "", "consortium directory (created on first use)")
	fl.IntVar(&o.members, "members", 0, fmt.Sprintf("number of members, %d to %d (default %d on a new directory)", devnet.MinMembers, devnet.MaxMembers, devnet.MinMembers))
	fl.IntVar(&o.basePort, "base-port", 0, "first port (member i uses P+10*i ... P+10*i+6); default: free ports chosen once")
	fl.BoolVar(&o.demo, "demo", false, "also publish an MOU, onboard every agency and add a sample asset")
	fl.DurationVar(&o.timeout, "ready-timeout", 2*time.Minute, "how long to wait for the consortium to become ready")
	return cmd
}

// devnetFor describes c as devnet.json (DESIGN §10).
func devnetFor(c *devnet.Consortium, ready bool) *Devnet {
	d := &Devnet{Ready: ready, Channel: c.Channel, CABundle: c.CABundle(), Orderers: []string{}}
	for i := range c.Members {
		m := &c.Members[i]
		d.Orderers = append(d.Orderers, m.Address(devnet.NodeOrderer))
		dm := DevnetMember{
			Name: m.Name, MSPID: m.MSPID, Admin: m.Admin,
			Gateway: "https://" + m.Address(devnet.NodeGateway),
			CAURL:   "https://" + m.Address(devnet.NodeCA),
			Peers:   []string{m.Address(devnet.NodePeer)},
			// The dashboard is served by the gateway, on its origin.
			Dashboard:  "https://" + m.Address(devnet.NodeGateway) + "/",
			OIDCIssuer: c.OIDCIssuer(m),
		}
		for _, u := range m.Users {
			ud := c.UserDir(m, u.Name)
			dm.Users = append(dm.Users, DevnetUser{Name: u.Name, Role: u.Role, Password: u.Password,
				Cert: filepath.Join(ud, devnet.CertFile), Key: filepath.Join(ud, devnet.KeyFile)})
		}
		d.Members = append(d.Members, dm)
	}
	return d
}

// writeDevnet writes DIR/devnet.json atomically, mode 0600, from the
// consortium as saved (users `blossom devnet add-user` added included).
func writeDevnet(c *devnet.Consortium, ready bool) error {
	if fresh, err := devnet.Load(c.Dir()); err == nil {
		c = fresh
	}
	data, err := json.MarshalIndent(devnetFor(c, ready), "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	return fsutil.WriteFileAtomic(filepath.Join(c.Dir(), DevnetFile), data, 0o600)
}

// upNodes are the running nodes of a consortium, as their run functions
// report them.
type upNodes struct {
	orderers  []*orderer.Node
	peers     []*peer.Node
	providers []*oidcprovider.Provider
}

// runUp creates or resumes the consortium in o.dir and runs it until ctx
// ends or a node fails.
func runUp(ctx context.Context, o upOptions, stdout io.Writer) error {
	c, err := devnet.Prepare(o.dir, devnet.Options{Members: o.members, BasePort: o.basePort})
	if err != nil {
		return err
	}
	unlock, err := lockDir(c.Dir())
	if err != nil {
		return err
	}
	defer unlock()
	if err := writeDevnet(c, false); err != nil {
		return err
	}
	if err := c.EnsureOIDCPorts(); err != nil {
		return err
	}
	pkgs, err := c.ChaincodePackages(ctx, devnet.PackageOptions{Native: o.nativeChaincodes})
	if err != nil {
		return fmt.Errorf("chaincode packages: %w", err)
	}
	if err := c.RewriteNodeConfigs(pkgs.Natives()); err != nil {
		return err
	}
	logs, err := openNodeLog(c.Dir())
	if err != nil {
		return err
	}
	defer logs.Close()
	lw := &nodeLogWriter{w: logs}
	log := slog.New(slog.NewTextHandler(lw, nil))
	// Libraries that log through the standard logger (Pebble's WAL
	// recovery lines) write to the node log too, not to the terminal.
	defer stdlog.SetOutput(stdlog.Writer())
	stdlog.SetOutput(lw)

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &upRunner{ctx: runCtx, failed: make(chan error, 4*len(c.Members))}
	defer func() {
		cancel()
		r.wg.Wait()
		if err := writeDevnet(c, false); err != nil {
			log.Error("write devnet.json", "err", err.Error())
		}
	}()
	releasePrecompiled := precompilePackages(runCtx, c.WasmCacheDir(), pkgs, log)
	nodes, err := r.start(c, lw, log)
	if err != nil {
		releasePrecompiled()
		return err
	}
	readyCtx, readyCancel := context.WithTimeout(runCtx, o.timeout)
	defer readyCancel()
	log.Info("chaincode packages", "source", pkgs.Source, "detail", pkgs.Detail)
	if err := r.await(readyCtx, func() error { return pollUntil(readyCtx, func() error { return nodesInStep(c, nodes) }) }); err != nil {
		return fmt.Errorf("the consortium did not become ready: %w (logs: %s)", err, filepath.Join(c.Dir(), "logs", "nodes.log"))
	}
	err = r.await(readyCtx, func() error { return deployChaincodes(readyCtx, c, nodes, pkgs) })
	releasePrecompiled()
	if err != nil {
		return fmt.Errorf("deploy the chaincodes: %w", err)
	}
	if err := r.await(readyCtx, func() error { return waitConsortiumReady(readyCtx, c, nodes) }); err != nil {
		return fmt.Errorf("the consortium did not become ready: %w (logs: %s)", err, filepath.Join(c.Dir(), "logs", "nodes.log"))
	}
	if err := r.await(readyCtx, func() error { return approveUsers(readyCtx, c, nodes.providers) }); err != nil {
		return err
	}
	if err := r.await(readyCtx, func() error { return bootstrapConsortium(readyCtx, c, o.demo) }); err != nil {
		return err
	}
	if err := writeDevnet(c, true); err != nil {
		return err
	}
	printReadyBanner(stdout, c, pkgs)
	select {
	case <-ctx.Done():
		fmt.Fprintln(stdout, "blossom: stopping")
		return nil
	case err := <-r.failed:
		return err
	}
}

// upRunner runs the nodes' goroutines.
type upRunner struct {
	ctx    context.Context
	wg     sync.WaitGroup
	failed chan error
}

// goNode runs fn until ctx ends; an early return is a failure.
func (r *upRunner) goNode(name string, fn func() error) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		err := fn()
		if r.ctx.Err() == nil {
			if err == nil {
				err = errors.New("stopped")
			}
			r.failed <- fmt.Errorf("%s: %w", name, err)
		}
	}()
}

// await runs step, giving up early if a node fails.
func (r *upRunner) await(ctx context.Context, step func() error) error {
	done := make(chan error, 1)
	go func() { done <- step() }()
	select {
	case err := <-done:
		return err
	case err := <-r.failed:
		return err
	case <-r.ctx.Done():
		<-done
		return r.ctx.Err()
	}
}

// start starts every member's CA, orderer, peer and OpenID provider,
// then the gateways once their peers serve.
func (r *upRunner) start(c *devnet.Consortium, lw io.Writer, log *slog.Logger) (*upNodes, error) {
	n := len(c.Members)
	nodes := &upNodes{orderers: make([]*orderer.Node, n), peers: make([]*peer.Node, n)}
	type started struct {
		i int
		o *orderer.Node
		p *peer.Node
	}
	ch := make(chan started, 2*n)
	for i := range c.Members {
		m := &c.Members[i]
		r.goNode(m.Name+" CA", func() error { return runCANode(r.ctx, c.CAConfig(m), lw, nil) })
		r.goNode(m.Name+" orderer", func() error {
			return runOrderer(r.ctx, c.OrdererConfig(m), lw, func(o *orderer.Node) { ch <- started{i: i, o: o} })
		})
		r.goNode(m.Name+" peer", func() error {
			return runPeer(r.ctx, c.PeerConfig(m), lw, func(p *peer.Node) { ch <- started{i: i, p: p} })
		})
	}
	providers, err := r.startProviders(c, log)
	if err != nil {
		return nil, err
	}
	nodes.providers = providers
	for k := 0; k < 2*n; k++ {
		select {
		case s := <-ch:
			if s.o != nil {
				nodes.orderers[s.i] = s.o
			} else {
				nodes.peers[s.i] = s.p
			}
		case err := <-r.failed:
			return nil, err
		case <-r.ctx.Done():
			return nil, r.ctx.Err()
		}
	}
	gw := make(chan string, n)
	for i := range c.Members {
		m := &c.Members[i]
		r.goNode(m.Name+" gateway", func() error {
			return runGateway(r.ctx, c.GatewayConfig(m), lw, func(addr string) { gw <- addr })
		})
	}
	for k := 0; k < n; k++ {
		select {
		case <-gw:
		case err := <-r.failed:
			return nil, err
		case <-r.ctx.Done():
			return nil, r.ctx.Err()
		}
	}
	return nodes, nil
}

// openNodeLog opens DIR/logs/nodes.log for appending (0600).
func openNodeLog(dir string) (*os.File, error) {
	logDir := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logDir, 0o700); err != nil {
		return nil, err
	}
	return os.OpenFile(filepath.Join(logDir, "nodes.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
}

// readyPoll is how often readiness is re-checked: orderer leadership and
// peers catching up notify nothing a caller can wait on across nodes.
const readyPoll = 20 * time.Millisecond

// waitConsortiumReady waits until every orderer has a leader and every
// peer is healthy at the orderers' height, then until both chaincodes
// answer on every member's peer through its gateway.
func waitConsortiumReady(ctx context.Context, c *devnet.Consortium, nodes *upNodes) error {
	if err := pollUntil(ctx, func() error { return nodesInStep(c, nodes) }); err != nil {
		return err
	}
	return pollUntil(ctx, func() error { return chaincodesAnswer(ctx, c) })
}

// pollUntil calls check every readyPoll until it returns nil or ctx ends
// (then it returns check's last error).
func pollUntil(ctx context.Context, check func() error) error {
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	for {
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-tick.C:
		}
	}
}

// nodesInStep checks health and heights: every orderer's chain and every
// peer's ledger at the same height.
func nodesInStep(c *devnet.Consortium, nodes *upNodes) error {
	var want uint64
	for i, o := range nodes.orderers {
		if err := o.Healthy(); err != nil {
			return fmt.Errorf("orderer of %s: %w", c.Members[i].Name, err)
		}
		h, err := o.Height(c.Channel)
		if err != nil {
			return err
		}
		if i > 0 && h != want {
			return fmt.Errorf("orderers at heights %d and %d", want, h)
		}
		want = h
	}
	for i, p := range nodes.peers {
		if err := p.Healthy(); err != nil {
			return fmt.Errorf("peer of %s: %w", c.Members[i].Name, err)
		}
		ch, ok := p.Channel(c.Channel)
		if !ok {
			return fmt.Errorf("peer of %s has not joined %s", c.Members[i].Name, c.Channel)
		}
		if h := ch.Height(); h != want {
			return fmt.Errorf("peer of %s at height %d, orderers at %d", c.Members[i].Name, h, want)
		}
	}
	return nil
}

// chaincodesAnswer evaluates a read-only function of each chaincode on
// every member's own peer, through the member's gateway.
func chaincodesAnswer(ctx context.Context, c *devnet.Consortium) error {
	for i := range c.Members {
		m := &c.Members[i]
		remote, err := userRemote(c, m, "ao")
		if err != nil {
			return err
		}
		for _, probe := range []struct{ cc, fn string }{
			{devnet.AuthorizationChaincode, "bootstrap:Test"},
			{devnet.AssetChaincode, "ngac:GetAllRoles"},
		} {
			req := txn.Request{ChannelID: c.Channel, Chaincode: probe.cc, Function: probe.fn}
			if _, err := remote.Evaluate(ctx, req, []string{m.MSPID}); err != nil {
				return fmt.Errorf("%s on the peer of %s: %w", probe.cc, m.Name, err)
			}
		}
	}
	return nil
}

// userRemote returns a gateway client of member m acting as its demo user.
func userRemote(c *devnet.Consortium, m *devnet.Member, user string) (*gateway.Remote, error) {
	ud := c.UserDir(m, user)
	t := &txTarget{url: "https://" + m.Address(devnet.NodeGateway), certFile: filepath.Join(ud, devnet.CertFile),
		keyFile: filepath.Join(ud, devnet.KeyFile), caFile: c.CABundle()}
	remote, err := t.remote()
	if err != nil {
		return nil, err
	}
	remote.HTTP.Timeout = 30 * time.Second
	return remote, nil
}

// allMSPs lists every member's MSP ID, for commit waits.
func allMSPs(c *devnet.Consortium) []string {
	out := make([]string, len(c.Members))
	for i := range c.Members {
		out[i] = c.Members[i].MSPID
	}
	return out
}

// bootstrapConsortium runs bootstrap:Bootstrap as the service provider's
// Authorizing Official once, and the demo journey once if asked.
func bootstrapConsortium(ctx context.Context, c *devnet.Consortium, demo bool) error {
	if !c.Bootstrapped {
		sp := c.AdminMember()
		remote, err := userRemote(c, sp, "ao")
		if err != nil {
			return err
		}
		req := txn.Request{ChannelID: c.Channel, Chaincode: devnet.AuthorizationChaincode, Function: "bootstrap:Bootstrap"}
		if err := submitValid(ctx, remote, req, nil, allMSPs(c)); err != nil {
			return fmt.Errorf("bootstrap:Bootstrap: %w", err)
		}
		if err := c.Update(func(c *devnet.Consortium) { c.Bootstrapped = true }); err != nil {
			return err
		}
	}
	if demo && !c.Demo {
		if err := runDemoJourney(ctx, c); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		if err := c.Update(func(c *devnet.Consortium) { c.Demo = true }); err != nil {
			return err
		}
	}
	return nil
}

// submitValid submits req and waits for every member's peer to commit it;
// anything but VALID is an error.
func submitValid(ctx context.Context, remote *gateway.Remote, req txn.Request, endorsers, commit []string) error {
	res, err := remote.Submit(ctx, req, endorsers, commit)
	if err != nil {
		return err
	}
	if res.Status != "VALID" {
		return fmt.Errorf("transaction %s invalidated: %s", res.TxID, res.Status)
	}
	return nil
}

// printReadyBanner prints the endpoints and the sign-ins (never the
// passwords), then the ready line, last so that a script that waits for
// it has read everything.
func printReadyBanner(w io.Writer, c *devnet.Consortium, pkgs *devnet.Packages) {
	var b strings.Builder
	fmt.Fprintf(&b, "consortium in %s:\n", c.Dir())
	fmt.Fprintf(&b, "  channel %s, %d members, chaincodes %s and %s committed through the lifecycle\n", c.Channel, len(c.Members), devnet.AuthorizationChaincode, devnet.AssetChaincode)
	if pkgs.Source == devnet.SourceNative {
		fmt.Fprintf(&b, "  chaincode packages: NATIVE implementations, not WebAssembly (%s)\n", pkgs.Detail)
	} else {
		fmt.Fprintf(&b, "  chaincode packages (WebAssembly, %s %s):", pkgs.Source, pkgs.Detail)
		for _, p := range pkgs.Packages {
			fmt.Fprintf(&b, " %s", p.ID)
		}
		fmt.Fprintln(&b)
	}
	for i := range c.Members {
		m := &c.Members[i]
		fmt.Fprintf(&b, "  %-9s %-11s dashboard https://%s/  CA https://%s  OIDC %s\n", m.Name, m.MSPID, m.Address(devnet.NodeGateway), m.Address(devnet.NodeCA), c.OIDCIssuer(m))
	}
	fmt.Fprintln(&b, "  the dashboard URL is also the member's gateway (REST API under /api/v1); open it and sign in with a demo user")
	fmt.Fprintf(&b, "  demo sign-ins (passwords in %s):\n", filepath.Join(c.Dir(), DevnetFile))
	for i := range c.Members {
		m := &c.Members[i]
		for _, u := range m.Users {
			fmt.Fprintf(&b, "    %s/%s (%s)\n", m.Name, u.Name, roleLabel(u.Role))
		}
	}
	fmt.Fprintln(&b, "  Ctrl-C stops the consortium; blossom up --dir on the same directory resumes it.")
	fmt.Fprintln(&b, ReadyLine)
	io.WriteString(w, b.String())
}

// nodeLogWriter serialises writes from many nodes' loggers.
type nodeLogWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *nodeLogWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// lockDir takes an exclusive lock on DIR/up.lock, so that a second
// `blossom up` on the same directory fails at once instead of rewriting
// the running one's devnet.json.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, "up.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another blossom up is running on %s", dir)
	}
	return func() { f.Close() }, nil
}
