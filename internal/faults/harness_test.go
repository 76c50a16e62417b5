package faults

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/blossom-ledger/blossom/internal/client"
	"github.com/blossom-ledger/blossom/internal/network/localnet"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/transport"
	"github.com/blossom-ledger/blossom/internal/txn"
)

// binDir holds the built binary ("" until built).
var binDir string

// buildBinary builds cmd/blossom once per test binary run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "blossom-faults-bin-")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "blossom")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/blossom-ledger/blossom/cmd/blossom").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// TestMain removes the built binary after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// proc is one node process.
type proc struct {
	name   string // "orderer1", "peer0"
	member int
	config string
	log    string
	health string // http://host:port/healthz
	// prefix, if set, runs the node under a wrapper ("ip netns exec NS").
	prefix []string
	cmd    *exec.Cmd
	done   chan struct{}
	// logOffset is the log file's size when the current process started.
	logOffset int64
	starts    int
}

func (p *proc) isOrderer() bool { return strings.HasPrefix(p.name, "orderer") }

// cluster is a network whose nodes run as processes of the built binary.
type cluster struct {
	t       *testing.T
	bin     string
	layout  *localnet.Layout
	procs   []*proc // orderers, then peers, by member
	configs []client.Config
	clients []*client.Client
	rng     *rand.Rand
}

// startCluster lays out a network in a temporary directory and starts
// every node as a process; beforeStart (may be nil) may adjust the layout
// and the processes first.
func startCluster(t *testing.T, opts localnet.Options, beforeStart func(*cluster)) *cluster {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	if opts.BatchTimeout == 0 {
		opts.BatchTimeout = 20 * time.Millisecond
	}
	opts.LogLevel = "info"
	l, err := localnet.Create(opts)
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, bin: bin, layout: l, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))}
	t.Logf("fault run seed: %d", c.rng.Uint64())
	for i, m := range l.Members {
		c.procs = append(c.procs, &proc{name: fmt.Sprintf("orderer%d", i), member: i, config: m.OrdererConfig,
			log: filepath.Join(m.Dir, "orderer.log"), health: "http://" + m.OrdererHealth + "/healthz"})
	}
	for i, m := range l.Members {
		c.procs = append(c.procs, &proc{name: fmt.Sprintf("peer%d", i), member: i, config: m.PeerConfig,
			log: filepath.Join(m.Dir, "peer.log"), health: "http://" + m.PeerHealth + "/healthz"})
	}
	if beforeStart != nil {
		beforeStart(c)
	}
	t.Cleanup(c.stopAll)
	for _, p := range c.procs {
		c.start(p)
	}
	for _, p := range c.procs {
		c.waitHealthy(p, 30*time.Second)
	}
	for i := range l.Members {
		cfg, err := l.ClientConfig(i)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cl, err := client.Connect(ctx, cfg)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Close() })
		c.configs = append(c.configs, cfg)
		c.clients = append(c.clients, cl)
	}
	return c
}

func (c *cluster) proc(name string) *proc {
	for _, p := range c.procs {
		if p.name == name {
			return p
		}
	}
	c.t.Fatalf("no process %s", name)
	return nil
}

// start runs p's node process, its output appended to p.log.
func (c *cluster) start(p *proc) {
	c.t.Helper()
	kind := "peer"
	if p.isOrderer() {
		kind = "orderer"
	}
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		c.t.Fatal(err)
	}
	info, _ := f.Stat()
	p.logOffset = info.Size()
	args := append(append([]string(nil), p.prefix...), c.bin, kind, "--config", p.config)
	p.cmd = exec.Command(args[0], args[1:]...)
	// Through a pipe (a plain io.Writer), so that the node's own file-size
	// limit never applies to its log (see TestDiskFull).
	out := struct{ io.Writer }{f}
	p.cmd.Stdout, p.cmd.Stderr = out, out
	if err := p.cmd.Start(); err != nil {
		f.Close()
		c.t.Fatalf("start %s: %v", p.name, err)
	}
	p.starts++
	p.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		cmd.Wait()
		f.Close()
		close(done)
	}(p.cmd, p.done)
}

// running reports whether p's process has not exited.
func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// kill sends sig to p and, for SIGKILL, waits for the process to exit.
func (c *cluster) kill(p *proc, sig syscall.Signal) {
	c.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		c.t.Fatalf("signal %s to %s: %v", sig, p.name, err)
	}
	if sig == syscall.SIGKILL {
		<-p.done
	}
}

// stopAll stops every running node: SIGCONT (in case one is stopped),
// SIGTERM, and SIGKILL after 10 s.
func (c *cluster) stopAll() {
	for _, p := range c.procs {
		if p.cmd != nil && p.running() {
			p.cmd.Process.Signal(syscall.SIGCONT)
			p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, p := range c.procs {
		if p.cmd == nil {
			continue
		}
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
	}
	if c.t.Failed() {
		for _, p := range c.procs {
			data, _ := os.ReadFile(p.log)
			if len(data) > 4000 {
				data = data[len(data)-4000:]
			}
			c.t.Logf("--- %s log (tail) ---\n%s", p.name, data)
		}
	}
}

// waitHealthy polls p's /healthz until it answers 200 (nothing notifies a
// separate process's readiness).
func (c *cluster) waitHealthy(p *proc, timeout time.Duration) {
	c.t.Helper()
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := hc.Get(p.health)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = errors.New(resp.Status)
		}
		if !p.running() {
			c.t.Fatalf("%s exited while waiting for it to be healthy", p.name)
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s not healthy within %s: %v", p.name, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// leader returns the orderer process whose log, since its current start,
// last said it leads ("raft: cutting blocks") rather than that it lost
// leadership; nil if none claims it.
func (c *cluster) leader() *proc {
	for _, p := range c.procs[:len(c.layout.Members)] {
		if p.running() && p.leadsPerLog() {
			return p
		}
	}
	return nil
}

func (p *proc) leadsPerLog() bool {
	f, err := os.Open(p.log)
	if err != nil {
		return false
	}
	defer f.Close()
	if _, err := f.Seek(p.logOffset, 0); err != nil {
		return false
	}
	leads := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		switch line := sc.Text(); {
		case strings.Contains(line, "raft: cutting blocks"):
			leads = true
		case strings.Contains(line, "raft: lost leadership"):
			leads = false
		}
	}
	return leads
}

// waitNewLeader waits until an orderer other than old claims leadership
// and returns how long that took from since.
func (c *cluster) waitNewLeader(old *proc, since time.Time, timeout time.Duration) time.Duration {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, p := range c.procs[:len(c.layout.Members)] {
			if p != old && p.running() && p.leadsPerLog() {
				return time.Since(since)
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no new leader within %s after %s", timeout, old.name)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// load submits blind writes of fresh keys at a steady rate from every
// member and records the transactions the ordering service acknowledged.
type load struct {
	mu       sync.Mutex
	acked    map[string]string // tx ID -> key
	attempts atomic.Int64
	notify   chan struct{}
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

func (c *cluster) startLoad(rate float64, workers int) *load {
	ctx, cancel := context.WithCancel(context.Background())
	ld := &load{acked: map[string]string{}, notify: make(chan struct{}, 1), cancel: cancel}
	ticks := make(chan int)
	ld.wg.Add(1)
	go func() { // the pacer: one send slot every 1/rate
		defer ld.wg.Done()
		defer close(ticks)
		tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer tick.Stop()
		for seq := 0; ; seq++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			select {
			case ticks <- seq:
			default: // every worker busy: skip the slot
			}
		}
	}()
	for w := range workers {
		ld.wg.Add(1)
		go func() {
			defer ld.wg.Done()
			member := w % len(c.clients)
			for seq := range ticks {
				ld.submit(ctx, c, member, fmt.Sprintf("f/%d/%d", w, seq))
			}
		}()
	}
	return ld
}

// endorserSets are the pairs of peers (indexes into a client's peers,
// own first) tried in turn: MAJORITY of 3 with one peer down.
var endorserSets = [][2]int{{0, 1}, {0, 2}, {1, 2}}

func (ld *load) submit(ctx context.Context, c *cluster, member int, key string) {
	ld.attempts.Add(1)
	cl, cfg := c.clients[member], c.configs[member]
	prop, err := cl.NewProposal(txn.Request{Chaincode: localnet.DefaultChaincode, Function: "kv:Put", Args: [][]byte{[]byte(key), []byte(key)}})
	if err != nil {
		return
	}
	var responses []*pb.ProposalResponse
	for _, set := range endorserSets {
		ectx, cancel := context.WithTimeout(ctx, 3*time.Second)
		responses, err = cl.Endorse(ectx, prop, []string{cfg.Peers[set[0]].Name, cfg.Peers[set[1]].Name})
		cancel()
		if err == nil {
			break
		}
	}
	if err != nil {
		return
	}
	env, err := txn.Assemble(cfg.Signer, prop, responses)
	if err != nil {
		return
	}
	bctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := cl.Broadcast(bctx, env); err != nil {
		return
	}
	ld.mu.Lock()
	ld.acked[prop.TxID] = key
	ld.mu.Unlock()
	select {
	case ld.notify <- struct{}{}:
	default:
	}
}

func (ld *load) count() int {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	return len(ld.acked)
}

// waitProgress waits until at least n more transactions than before were
// acknowledged: the network orders under the current fault.
func (ld *load) waitProgress(t *testing.T, before, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for ld.count() < before+n {
		select {
		case <-ld.notify:
		case <-deadline.C:
			t.Fatalf("no progress: %d acknowledged, want %d within %s", ld.count(), before+n, timeout)
		}
	}
}

func (ld *load) stop() map[string]string {
	ld.cancel()
	ld.wg.Wait()
	ld.mu.Lock()
	defer ld.mu.Unlock()
	return ld.acked
}

// killAndRestart kills p with SIGKILL, restarts it and waits until it is
// healthy again; for the leader it also returns the failover time (from
// the kill to another orderer leading).
func (c *cluster) killAndRestart(p *proc) (failover time.Duration) {
	c.t.Helper()
	wasLeader := p.isOrderer() && p.leadsPerLog()
	killed := time.Now()
	c.kill(p, syscall.SIGKILL)
	if wasLeader {
		failover = c.waitNewLeader(p, killed, 20*time.Second)
	}
	c.start(p)
	c.waitHealthy(p, 30*time.Second)
	return failover
}

// verify checks the end state: every acknowledged transaction committed
// exactly once on every peer (and valid, with requireValid), the peers
// agree on height, block hash and commit hash, and (after stopping the
// nodes) every ledger passes `blossom ledger verify`.
func (c *cluster) verify(acked map[string]string, requireValid bool) {
	t := c.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, p := range c.procs {
		if !p.running() {
			t.Fatalf("%s is not running at the end", p.name)
		}
	}
	// Wait for the peers to agree (non-acknowledged envelopes may still be
	// in flight, so poll until equal).
	var infos []*pb.ChannelInfoResponse
	for {
		infos = infos[:0]
		var err error
		for i := range c.layout.Members {
			var info *pb.ChannelInfoResponse
			// A client connection to a restarted peer may still be in its
			// reconnect backoff: retried until the deadline.
			if info, err = c.clients[0].ChannelInfo(ctx, c.layout.Members[i].PeerName(), ""); err != nil {
				err = fmt.Errorf("channel info of peer %d: %w", i, err)
				break
			}
			infos = append(infos, info)
		}
		if err == nil && agree(infos) && c.allCommitted(ctx, infos[0].Height, acked) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("peers do not converge: %v %v", infos, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := range c.layout.Members {
		seen := c.scanLedger(ctx, i, infos[i].Height)
		valid := 0
		for txID, codes := range seen {
			if len(codes) > 1 && countValid(codes) > 0 {
				t.Errorf("peer %d: transaction %s appears %d times (codes %v)", i, txID, len(codes), codes)
			}
			valid += countValid(codes)
		}
		invalid := 0
		for txID, key := range acked {
			codes := seen[txID]
			if len(codes) != 1 {
				t.Errorf("peer %d: acknowledged transaction %s (key %s) committed %d times (%v), want exactly once", i, txID, key, len(codes), codes)
				continue
			}
			if codes[0] != pb.TxValidationCode_VALID {
				invalid++
				if requireValid {
					t.Errorf("peer %d: acknowledged transaction %s (key %s) committed as %s", i, txID, key, codes[0])
				}
			}
		}
		if invalid > 0 {
			t.Logf("peer %d: %d acknowledged transactions committed invalid", i, invalid)
		}
		t.Logf("peer %d: height %d, %d valid transactions, %d acknowledged", i, infos[i].Height, valid, len(acked))
	}
	// Spot-check state through an endorser (valid writes only).
	n := 0
	for _, key := range acked {
		if !requireValid {
			break
		}
		// Any peer: the own one may still be in its reconnect backoff.
		cl := c.clients[n%len(c.clients)]
		got, err := cl.Evaluate(ctx, txn.Request{Chaincode: localnet.DefaultChaincode, Function: "kv:Get", Args: [][]byte{[]byte(key)}}, cl.Peers()...)
		if err != nil || string(got) != key {
			t.Errorf("kv:Get(%s) = %q, %v", key, got, err)
		}
		if n++; n == 20 {
			break
		}
	}
	c.stopAll()
	for i := range c.layout.Members {
		out, err := exec.Command(c.bin, "ledger", "verify", c.layout.LedgerDir(i)).CombinedOutput()
		if err != nil {
			t.Errorf("ledger verify of peer %d: %v\n%s", i, err, out)
		}
	}
}

func agree(infos []*pb.ChannelInfoResponse) bool {
	for _, in := range infos[1:] {
		if in.Height != infos[0].Height || string(in.CurrentBlockHash) != string(infos[0].CurrentBlockHash) || string(in.CommitHash) != string(infos[0].CommitHash) {
			return false
		}
	}
	return true
}

// allCommitted reports whether every acknowledged transaction is below
// height on peer 0 (CommitStatus answers at once for committed ones).
func (c *cluster) allCommitted(ctx context.Context, height uint64, acked map[string]string) bool {
	for txID := range acked {
		sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		res, err := c.clients[0].WaitForCommit(sctx, "", txID)
		cancel()
		if (err != nil && res == nil) || res.Block >= height {
			return false
		}
	}
	return true
}

func countValid(codes []pb.TxValidationCode) int {
	n := 0
	for _, c := range codes {
		if c == pb.TxValidationCode_VALID {
			n++
		}
	}
	return n
}

// scanLedger reads blocks [0, height) from member i's peer and returns
// every transaction ID with the validation codes of its occurrences.
func (c *cluster) scanLedger(ctx context.Context, i int, height uint64) map[string][]pb.TxValidationCode {
	t := c.t
	t.Helper()
	cfg := c.configs[i]
	conn, err := transport.Dial(ctx, c.layout.Members[i].PeerAddr, transport.ClientTLSConfig(cfg.TLSCertificate, cfg.Trust, pki.RolePeer))
	if err != nil {
		t.Fatalf("dial peer %d: %v", i, err)
	}
	defer conn.Close()
	stream, err := pb.NewPeerClient(conn).Deliver(ctx, &pb.DeliverRequest{ChannelId: c.layout.Channel,
		Start: &pb.SeekPosition{Kind: &pb.SeekPosition_Specified{Specified: 0}},
		Stop:  &pb.SeekPosition{Kind: &pb.SeekPosition_Specified{Specified: height - 1}}}, grpc.MaxCallRecvMsgSize(64<<20))
	if err != nil {
		t.Fatalf("deliver from peer %d: %v", i, err)
	}
	seen := map[string][]pb.TxValidationCode{}
	for next := uint64(0); next < height; next++ {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("peer %d: block %d: %v", i, next, err)
		}
		b := resp.GetBlock()
		if b.GetHeader().GetNumber() != next {
			t.Fatalf("peer %d: got block %d, want %d (%v)", i, b.GetHeader().GetNumber(), next, resp)
		}
		codes := b.GetMetadata().GetValidationCodes()
		for k, env := range b.GetData().GetEnvelopes() {
			_, _, hdr, err := protocol.OpenEnvelope(env, 64<<20)
			if err != nil {
				t.Fatalf("peer %d: block %d envelope %d: %v", i, next, k, err)
			}
			if hdr.TxId != "" && k < len(codes) {
				seen[hdr.TxId] = append(seen[hdr.TxId], pb.TxValidationCode(codes[k]))
			}
		}
	}
	return seen
}
