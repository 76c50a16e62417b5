package orderer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/policy"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// Tuning of a chain.
const (
	// maxInflightBlocks bounds the blocks the leader has proposed and not
	// yet seen applied.
	maxInflightBlocks = 8
	// submitQueue is the capacity of the leader's queue of envelopes.
	submitQueue = 4096
	// raftTimeout bounds Raft operations the chain waits on (barrier,
	// membership changes, enqueueing an entry).
	raftTimeout     = 10 * time.Second
	retainSnapshots = 2
)

// chain is one channel on one orderer: its Raft group member, FSM (the
// chain of blocks), block cutter (while leader) and envelope routing.
type chain struct {
	id     string
	self   string
	dir    string
	node   *Node
	log    *slog.Logger
	store  *blockStore
	fsm    *fsm
	layer  *streamLayer
	trans  *raft.NetworkTransport
	logs   *raftStore
	raft   *raft.Raft
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	retired    atomic.Bool               // removed from the consenters
	raftRef    atomic.Pointer[raft.Raft] // c.raft, for the FSM goroutine
	submitCh   chan *pending
	snapshotCh chan struct{}
	leader     notifier // fires on every leader change

	forwardMu sync.Mutex
	forwards  map[string]*forwardStream // by leader consenter ID

	// pendingEnvelopes counts the broadcast envelopes this node holds not
	// yet answered (being checked, queued, forwarded or in a proposed
	// block), its own clients' and those other orderers forwarded to it;
	// admit refuses past maxPending (Config.MaxPendingEnvelopes).
	pendingEnvelopes atomic.Int64
	maxPending       int
}

// pending is an envelope waiting for the leader's verdict.
type pending struct {
	env  *checkedEnvelope
	done chan outcome // buffered 1
}

func (p *pending) reply(o outcome) {
	select {
	case p.done <- o:
	default:
	}
}

// outcome is the result of ordering one envelope.
type outcome struct {
	Status pb.Status
	Info   string
	// NotProposed: the envelope was never proposed to Raft (no leader, or
	// leadership moved first), so it is safe to submit again elsewhere.
	NotProposed bool
}

// Reasons prefixed to SERVICE_UNAVAILABLE answers, so that clients and
// forwarding orderers can tell "not ordered, resubmit" from "unknown".
const (
	reasonNotLeader      = "NOT_LEADER"
	reasonOutcomeUnknown = "OUTCOME_UNKNOWN"
	// ReasonOverloaded prefixes the answer of an orderer that already holds
	// its bound of envelopes not yet ordered: the envelope was not ordered,
	// and the client should pause before resubmitting (to any orderer: they
	// all feed the same leader).
	ReasonOverloaded = "OVERLOADED"
)

var (
	outcomeSuccess   = outcome{Status: pb.Status_SUCCESS}
	outcomeNotLeader = outcome{Status: pb.Status_SERVICE_UNAVAILABLE, Info: reasonNotLeader + ": this orderer is not the leader; the envelope was not ordered", NotProposed: true}
)

func outcomeUnknown(err error) outcome {
	return outcome{Status: pb.Status_SERVICE_UNAVAILABLE, Info: fmt.Sprintf("%s: %v; the envelope may or may not be ordered: resubmit it (an ordered envelope answers CONFLICT %s)", reasonOutcomeUnknown, err, duplicateTxID)}
}

func outcomeOverloaded(bound int) outcome {
	return outcome{Status: pb.Status_SERVICE_UNAVAILABLE, Info: fmt.Sprintf("%s: this orderer already holds %d envelopes not yet ordered; the envelope was not ordered: resubmit it after a pause", ReasonOverloaded, bound)}
}

// admit takes one place among the envelopes the chain holds not yet
// answered, or reports false when all maxPending are taken. release gives
// it back.
func (c *chain) admit() bool {
	if c.pendingEnvelopes.Add(1) > int64(c.maxPending) {
		c.pendingEnvelopes.Add(-1)
		return false
	}
	return true
}

func (c *chain) release() { c.pendingEnvelopes.Add(-1) }

func outcomeDuplicate(txID string) outcome {
	return outcome{Status: pb.Status_CONFLICT, Info: duplicateTxID + ": transaction " + txID + " is already ordered"}
}

// notifier lets goroutines wait for the next occurrence of an event.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

func (n *notifier) fire() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
}

// openChain opens (or creates from genesis) a channel's chain under dir:
// its block store and FSM. start starts its Raft node.
func openChain(n *Node, dir string, genesis *pb.Block) (*chain, error) {
	store, err := openBlockStore(filepath.Join(dir, "blocks"))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &chain{
		self:       n.id,
		node:       n,
		dir:        dir,
		store:      store,
		ctx:        ctx,
		cancel:     cancel,
		submitCh:   make(chan *pending, submitQueue),
		snapshotCh: make(chan struct{}, 1),
		forwards:   map[string]*forwardStream{},
		maxPending: n.cfg.MaxPendingEnvelopes,
	}
	f, err := newFSM(ctx, store, genesis, n.cfg.RecentTxIDs, n.log)
	if err != nil {
		cancel()
		store.close()
		return nil, err
	}
	c.fsm = f
	c.id = f.channelID
	c.log = n.log.With("channel", c.id)
	f.log = c.log
	f.pull = c.pull
	f.onApplied = c.onApplied
	return c, nil
}

// start starts the chain's Raft node: its log and snapshots under the
// chain's directory, its stream layer on the node's listener, and the
// goroutines that cut blocks (while leading) and take snapshots.
func (c *chain) start() (err error) {
	cfg := c.fsm.Config()
	hl := newHCLog(c.log, "raft")
	c.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: c.layer, MaxPool: 3, Timeout: raftTimeout, Logger: hl.Named("net"),
		// No pipelined replication. hashicorp/raft v1.8's pipeline can
		// wedge a leader's replication to a follower for good: when the
		// follower answers with a newer term or a failure, the response
		// decoder stops, the transport's decoding goroutine blocks handing
		// it the next response, and the next pipelined AppendEntries
		// blocks on the full in-flight channel, which nothing drains until
		// the pipeline is closed, which happens only after that send
		// returns. Raft.Shutdown then waits forever (seen in CI: an orderer
		// of `blossom up` never stopped). Without pipelining each
		// AppendEntries waits for its answer; entries that arrive meanwhile
		// go in the next one, so batching keeps the throughput.
		MaxRPCsInFlight: 1,
	})
	defer func() {
		if err != nil {
			c.trans.Close()
			if c.logs != nil {
				c.logs.Close()
			}
		}
	}()
	if err := os.MkdirAll(filepath.Join(c.dir, "raft"), 0o700); err != nil {
		return err
	}
	if c.logs, err = openRaftStore(filepath.Join(c.dir, "raft", "log"), c.log); err != nil {
		return err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(c.dir, "raft"), retainSnapshots, hl.Named("snapshots"))
	if err != nil {
		return fmt.Errorf("raft snapshots: %w", err)
	}
	rc := raftConfig(c.self, cfg.Raft(), hl)
	existing, err := raft.HasExistingState(c.logs, c.logs, snaps)
	if err != nil {
		return err
	}
	// A fresh node whose chain is only the genesis block and who is one of
	// its consenters bootstraps the group with the genesis consenters (every
	// genesis consenter does so with the same configuration, which Raft
	// allows). Any other fresh node waits for the leader to add it.
	if !existing && c.store.Height() == 1 {
		if _, ok := cfg.Consenter(c.self); ok {
			var servers []raft.Server
			for _, id := range cfg.ConsenterIDs() {
				servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(id), Address: raft.ServerAddress(id)})
			}
			if err := raft.BootstrapCluster(rc, c.logs, c.logs, snaps, c.trans, raft.Configuration{Servers: servers}); err != nil {
				return fmt.Errorf("bootstrap raft: %w", err)
			}
		}
	}
	observations := make(chan raft.Observation, 16)
	if c.raft, err = raft.NewRaft(rc, c.fsm, c.logs, c.logs, snaps, c.trans); err != nil {
		return fmt.Errorf("start raft: %w", err)
	}
	c.raftRef.Store(c.raft)
	c.raft.RegisterObserver(raft.NewObserver(observations, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	}))
	c.wg.Add(3)
	go func() { defer c.wg.Done(); c.run() }()
	go func() { defer c.wg.Done(); c.snapshotter() }()
	go func() {
		defer c.wg.Done()
		for {
			select {
			case <-observations:
				c.leader.fire()
			case <-c.ctx.Done():
				return
			}
		}
	}()
	c.log.Info("channel started", "height", c.fsm.Height(), "orderer", c.self, "raft_state_existed", existing)
	return nil
}

func raftConfig(self string, ro channelconfig.RaftOptions, logger hclog.Logger) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(self)
	rc.HeartbeatTimeout = ro.HeartbeatTimeout
	rc.ElectionTimeout = ro.ElectionTimeout
	rc.LeaderLeaseTimeout = ro.LeaderLeaseTimeout
	rc.CommitTimeout = ro.CommitTimeout
	rc.SnapshotThreshold = ro.SnapshotIntervalBlocks
	rc.TrailingLogs = ro.TrailingLogs
	rc.MaxAppendEntries = 16
	rc.NoLegacyTelemetry = true
	rc.Logger = logger
	return rc
}

// onApplied runs on the FSM goroutine after each appended block.
func (c *chain) onApplied(number uint64, cfg *channelconfig.Config) {
	r := c.raftRef.Load() // nil while NewRaft is still starting
	if cfg != nil {
		c.node.refreshTrust()
		c.node.switchToStaged(cfg)
		if c.removedBy(cfg) && r != nil && r.State() != raft.Leader {
			// A removed follower may never learn of its removal from Raft
			// (the leader stops replicating to it), so it retires itself. A
			// removed leader removes itself from Raft last (reconcile).
			c.retired.Store(true)
			c.log.Warn("this orderer is no longer a consenter of the channel: stopping its Raft node (Deliver keeps serving the blocks it has)", "block", number)
			go func() {
				if err := r.Shutdown().Error(); err == nil {
					c.log.Info("raft node stopped: no longer a consenter")
				}
			}()
		}
		if r != nil {
			ro := cfg.Raft()
			rc := r.ReloadableConfig()
			rc.HeartbeatTimeout, rc.ElectionTimeout = ro.HeartbeatTimeout, ro.ElectionTimeout
			rc.SnapshotThreshold, rc.TrailingLogs = ro.SnapshotIntervalBlocks, ro.TrailingLogs
			if err := r.ReloadConfig(rc); err != nil {
				c.log.Warn("raft: could not apply the new timing", "error", err)
			}
		}
	}
	if iv := c.fsm.Config().Raft().SnapshotIntervalBlocks; iv > 0 && number%iv == 0 {
		select {
		case c.snapshotCh <- struct{}{}:
		default:
		}
	}
}

// removedBy reports whether config block cfg, just applied, removed this
// orderer from the consenters: it is not one of cfg's, and was one of the
// configuration before. A new consenter replaying the log from the start
// applies earlier config blocks that do not list it yet: those do not
// remove it.
func (c *chain) removedBy(cfg *channelconfig.Config) bool {
	if _, ok := cfg.Consenter(c.self); ok {
		return false
	}
	prev := c.fsm.previousConfig()
	if prev == nil {
		return true
	}
	_, was := prev.Consenter(c.self)
	return was
}

// snapshotter takes a Raft snapshot every snapshot-interval blocks.
func (c *chain) snapshotter() {
	for {
		select {
		case <-c.snapshotCh:
			if err := c.raft.Snapshot().Error(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) && !errors.Is(err, raft.ErrRaftShutdown) {
				c.log.Warn("raft snapshot failed", "error", err)
			}
		case <-c.ctx.Done():
			return
		}
	}
}

// run owns the submit queue: it cuts blocks while this node leads and
// turns envelopes away (NOT_LEADER) otherwise.
func (c *chain) run() {
	leaderCh := c.raft.LeaderCh()
	for {
		select {
		case isLeader := <-leaderCh:
			for isLeader {
				isLeader = c.lead(leaderCh)
			}
		case p := <-c.submitCh:
			p.reply(outcomeNotLeader)
		case <-c.ctx.Done():
			return
		}
	}
}

// proposal is a block the leader proposed and awaits.
type proposal struct {
	block    *pb.Block
	pendings []*pending
	config   bool
}

type proposalResult struct {
	number uint64
	err    error
	res    applyResult
}

// leader is the block cutter's state during one term of leadership.
type leader struct {
	c          *chain
	next       uint64 // number of the next block to cut
	prevHash   []byte
	lastTime   int64
	batch      []*pending
	batchBytes int
	batchTx    map[string]bool
	timer      *time.Timer
	timerC     <-chan time.Time
	inflight   map[uint64]*proposal
	inflightTx map[string]bool
	results    chan proposalResult
	broken     bool        // a proposal was skipped: drain, then resync
	skipped    []*proposal // skipped proposals, to re-queue after the drain
	config     *pending    // a config update waiting for the pipeline to drain
	configBusy bool        // a config block is in flight
	held       []*pending  // envelopes that arrived behind a config update
}

// lead cuts blocks until leadership is lost. It returns true if
// leadership was lost and regained meanwhile (so lead must start over).
func (c *chain) lead(leaderCh <-chan bool) (regained bool) {
	c.log.Info("raft: leading; waiting for the log to be applied")
	barrier := c.raft.Barrier(raftTimeout)
	if err := barrier.Error(); err != nil {
		c.log.Warn("raft: barrier failed; not cutting blocks", "error", err)
		select {
		case v := <-leaderCh:
			return v
		case <-c.ctx.Done():
			return false
		}
	}
	c.reconcile()
	st := c.fsm.state()
	l := &leader{
		c: c, next: st.Height, prevHash: st.LastHash, lastTime: st.LastTime,
		batchTx: map[string]bool{}, inflight: map[uint64]*proposal{}, inflightTx: map[string]bool{},
		results: make(chan proposalResult, maxInflightBlocks+1),
	}
	c.log.Info("raft: cutting blocks", "height", st.Height)
	defer l.stop()
	for {
		var in <-chan *pending
		bs := c.fsm.Config().BatchSize()
		if len(l.inflight) < maxInflightBlocks && !l.broken && l.config == nil && !l.configBusy && len(l.batch) < bs.MaxMessageCount {
			in = c.submitCh
		}
		select {
		case v := <-leaderCh:
			if !v {
				c.log.Info("raft: lost leadership")
			}
			return v
		case p := <-in:
			l.add(p)
		case <-l.timerC:
			l.timerC = nil
			l.cut()
		case r := <-l.results:
			l.handle(r)
		case <-c.ctx.Done():
			return false
		}
	}
}

// add takes one envelope into the batch (or, for a config update, sets it
// aside to be cut alone).
func (l *leader) add(p *pending) {
	cfg := l.c.fsm.Config()
	if _, ok := cfg.Consenter(l.c.self); !ok {
		p.reply(outcomeNotLeader) // removed from the channel; stepping down
		return
	}
	if p.env.ConfigSeq != cfg.Sequence() {
		// The configuration changed since the envelope was checked.
		start := time.Now()
		ce, ref := checkEnvelope(cfg, p.env.Raw, start)
		st := pb.Status_SUCCESS
		if ref != nil {
			st = ref.Status
		}
		l.c.node.cfg.Metrics.observeValidate(l.c.id, st, time.Since(start))
		if ref != nil {
			p.reply(outcome{Status: ref.Status, Info: ref.Info})
			return
		}
		p.env = ce
	}
	tx := p.env.TxID
	if l.batchTx[tx] || l.inflightTx[tx] || l.c.fsm.hasTxID(tx) {
		p.reply(outcomeDuplicate(tx))
		return
	}
	if l.config != nil || l.configBusy {
		// Behind a config update: they go into blocks after its config
		// block, and are re-checked against its configuration.
		l.held = append(l.held, p)
		return
	}
	if p.env.Type == pb.HeaderType_CONFIG_UPDATE {
		l.cut()
		l.config = p
		l.maybeProposeConfig()
		return
	}
	bs := cfg.BatchSize()
	if len(l.batch) > 0 && l.batchBytes+len(p.env.Raw) > bs.PreferredMaxBytes {
		l.cut()
	}
	l.batch = append(l.batch, p)
	l.batchBytes += len(p.env.Raw)
	l.batchTx[tx] = true
	if l.batchBytes >= bs.PreferredMaxBytes || len(l.batch) >= bs.MaxMessageCount {
		l.cut()
		return
	}
	if len(l.batch) == 1 {
		d := cfg.BatchTimeout()
		if l.timer == nil {
			l.timer = time.NewTimer(d)
		} else {
			l.timer.Reset(d)
		}
		l.timerC = l.timer.C
	}
}

// cut proposes the current batch as the next block.
func (l *leader) cut() {
	if l.timer != nil {
		l.timer.Stop()
	}
	l.timerC = nil
	if len(l.batch) == 0 {
		return
	}
	batch := l.batch
	l.batch, l.batchBytes, l.batchTx = nil, 0, map[string]bool{}
	envs := make([][]byte, len(batch))
	for i, p := range batch {
		envs[i] = p.env.Raw
	}
	at := blockTime(l.lastTime)
	b, err := l.c.newBlock(l.next, l.prevHash, envs, at, l.c.fsm.state().LastConfig)
	if err != nil {
		l.c.log.Error("cannot build block", "error", err)
		for _, p := range batch {
			p.reply(outcome{Status: pb.Status_INTERNAL_SERVER_ERROR, Info: "the orderer could not sign the block"})
		}
		return
	}
	l.propose(&proposal{block: b, pendings: batch})
}

// maybeProposeConfig cuts a waiting config update alone once nothing else
// is in flight, computing its configuration from the one in force.
func (l *leader) maybeProposeConfig() {
	if l.config == nil || len(l.inflight) > 0 || l.broken {
		return
	}
	p := l.config
	l.config = nil
	cfg := l.c.fsm.Config()
	at := blockTime(l.lastTime)
	next, err := cfg.ApplyUpdateEnvelope(p.env.Raw, time.Unix(0, at))
	if err != nil {
		st := pb.Status_BAD_REQUEST
		if errors.Is(err, policy.ErrNotSatisfied) {
			st = pb.Status_FORBIDDEN
		}
		p.reply(outcome{Status: st, Info: err.Error()})
		l.releaseHeld()
		return
	}
	env, err := channelconfig.NewConfigEnvelope(next.Proto(), p.env.Raw, l.c.node.cred.Current(), time.Unix(0, at))
	if err == nil {
		var b *pb.Block
		if b, err = l.c.newBlock(l.next, l.prevHash, [][]byte{env}, at, l.next); err == nil {
			l.configBusy = true
			l.propose(&proposal{block: b, pendings: []*pending{p}, config: true})
			return
		}
	}
	l.c.log.Error("cannot build config block", "error", err)
	p.reply(outcome{Status: pb.Status_INTERNAL_SERVER_ERROR, Info: "the orderer could not build the config block"})
}

func (l *leader) propose(pr *proposal) {
	entry, err := encodeBlockEntry(pr.block)
	if err != nil {
		for _, p := range pr.pendings {
			p.reply(outcome{Status: pb.Status_INTERNAL_SERVER_ERROR, Info: "could not encode the block"})
		}
		return
	}
	n := pr.block.Header.Number
	l.inflight[n] = pr
	for _, p := range pr.pendings {
		l.inflightTx[p.env.TxID] = true
	}
	l.next = n + 1
	l.prevHash = protocol.BlockHeaderHash(pr.block.Header)
	l.lastTime = pr.block.Header.TimestampUnixNano
	future := l.c.raft.Apply(entry, raftTimeout)
	results := l.results
	go func() {
		r := proposalResult{number: n, err: future.Error()}
		if r.err == nil {
			r.res, _ = future.Response().(applyResult)
		}
		results <- r
	}()
}

// handle processes the verdict on one proposed block.
func (l *leader) handle(r proposalResult) {
	pr := l.inflight[r.number]
	delete(l.inflight, r.number)
	if pr == nil {
		return
	}
	for _, p := range pr.pendings {
		delete(l.inflightTx, p.env.TxID)
	}
	switch {
	case r.err != nil:
		// Leadership lost or Raft shut down: the entry may still commit.
		for _, p := range pr.pendings {
			p.reply(outcomeUnknown(r.err))
		}
		l.broken = true
	case r.res.Applied:
		l.c.node.cfg.Metrics.countOrdered(l.c.id, len(pr.pendings))
		for _, p := range pr.pendings {
			p.reply(outcomeSuccess)
		}
		if pr.config {
			l.configBusy = false
			l.c.reconcile()
			l.releaseHeld()
		}
	case pr.config:
		// Config blocks are proposed with nothing else in flight, so a skip
		// is a verdict on the update itself.
		l.configBusy = false
		o := outcome{Status: pb.Status_BAD_REQUEST, Info: "config update refused: " + r.res.Reason}
		if containsDuplicate(r.res.Reason) {
			o = outcomeDuplicate(pr.pendings[0].env.TxID)
		}
		pr.pendings[0].reply(o)
		l.broken = true
		defer l.releaseHeld()
	default:
		l.c.log.Info("proposed block skipped; re-queueing its envelopes", "block", r.number, "reason", r.res.Reason)
		l.skipped = append(l.skipped, pr)
		l.broken = true
	}
	if len(l.inflight) == 0 && l.broken {
		l.resync()
	}
	l.maybeProposeConfig()
}

// releaseHeld re-adds the envelopes held behind a config update.
func (l *leader) releaseHeld() {
	if l.config != nil || l.configBusy || l.broken {
		return
	}
	held := l.held
	l.held = nil
	for i, p := range held {
		l.add(p)
		if l.config != nil || l.configBusy {
			l.held = append(l.held, held[i+1:]...)
			return
		}
	}
}

func containsDuplicate(reason string) bool {
	for i := 0; i+len(duplicateTxID) <= len(reason); i++ {
		if reason[i:i+len(duplicateTxID)] == duplicateTxID {
			return true
		}
	}
	return false
}

// resync restarts cutting from the chain's tip after skipped proposals,
// re-queueing their envelopes in their original order ahead of the batch.
func (l *leader) resync() {
	st := l.c.fsm.state()
	l.next, l.prevHash, l.lastTime = st.Height, st.LastHash, st.LastTime
	l.broken = false
	slices.SortFunc(l.skipped, func(a, b *proposal) int {
		return int(a.block.Header.Number) - int(b.block.Header.Number)
	})
	var requeue []*pending
	for _, pr := range l.skipped {
		requeue = append(requeue, pr.pendings...)
	}
	l.skipped = nil
	rest := l.batch
	l.batch, l.batchBytes, l.batchTx = nil, 0, map[string]bool{}
	l.held = append(append(requeue, rest...), l.held...)
	l.releaseHeld()
}

// stop ends a term: envelopes not proposed are answered NOT_LEADER (the
// caller re-routes them), and proposals in flight are awaited, since Raft
// resolves each (committed, or leadership lost).
func (l *leader) stop() {
	if l.timer != nil {
		l.timer.Stop()
	}
	for _, p := range l.batch {
		p.reply(outcomeNotLeader)
	}
	if l.config != nil {
		l.config.reply(outcomeNotLeader)
	}
	for _, p := range l.held {
		p.reply(outcomeNotLeader)
	}
	for _, pr := range l.skipped {
		for _, p := range pr.pendings {
			p.reply(outcomeNotLeader)
		}
	}
	for len(l.inflight) > 0 {
		var r proposalResult
		select {
		case r = <-l.results:
		case <-l.c.ctx.Done():
			// The chain is closing and Raft is being shut down. hashicorp/raft
			// does not resolve futures of entries still queued for its FSM
			// when it shuts down, so waiting for them could hang the close
			// forever; those envelopes' outcome is unknown (they may have
			// committed), and their clients resubmit.
			for _, pr := range l.inflight {
				for _, p := range pr.pendings {
					p.reply(outcomeUnknown(errChainClosing))
				}
			}
			clear(l.inflight)
			return
		}
		pr := l.inflight[r.number]
		delete(l.inflight, r.number)
		if pr == nil {
			continue
		}
		o := outcomeNotLeader
		switch {
		case r.err != nil:
			o = outcomeUnknown(r.err)
		case r.res.Applied:
			o = outcomeSuccess
			l.c.node.cfg.Metrics.countOrdered(l.c.id, len(pr.pendings))
		}
		for _, p := range pr.pendings {
			p.reply(o)
		}
	}
}

// errChainClosing is the outcome cause of envelopes in flight when the
// chain closes.
var errChainClosing = errors.New("orderer shutting down")

// newBlock builds and signs a block.
func (c *chain) newBlock(number uint64, prev []byte, envs [][]byte, at int64, lastConfig uint64) (*pb.Block, error) {
	data := &pb.BlockData{Envelopes: envs}
	hdr := &pb.BlockHeader{Number: number, PreviousHash: prev, DataHash: protocol.BlockDataHash(data), TimestampUnixNano: at}
	signer := c.node.cred.Current() // one certificate and its key
	sig, err := signer.Sign(protocol.OrdererSignedBytes(protocol.BlockHeaderHash(hdr), lastConfig))
	if err != nil {
		return nil, err
	}
	return &pb.Block{
		Header: hdr,
		Data:   data,
		Metadata: &pb.BlockMetadata{
			LastConfig: lastConfig,
			Signature:  &pb.OrdererSignature{Signer: protocol.SerializeIdentity(signer.MSPID(), signer.Certificate().Raw), Signature: sig},
		},
	}, nil
}

// reconcile makes the Raft voters the channel's consenters (leader only).
// The leader removes itself last.
func (c *chain) reconcile() {
	cfg := c.fsm.Config()
	want := map[string]bool{}
	for _, id := range cfg.ConsenterIDs() {
		want[id] = true
	}
	fut := c.raft.GetConfiguration()
	if err := fut.Error(); err != nil {
		c.log.Warn("raft: cannot read the membership", "error", err)
		return
	}
	have := map[string]bool{}
	for _, s := range fut.Configuration().Servers {
		have[string(s.ID)] = true
	}
	for _, id := range cfg.ConsenterIDs() {
		if have[id] {
			continue
		}
		c.log.Info("raft: adding consenter", "consenter", id)
		if err := c.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(id), 0, raftTimeout).Error(); err != nil {
			c.log.Warn("raft: adding consenter failed", "consenter", id, "error", err)
		}
	}
	removeSelf := false
	for id := range have {
		if want[id] {
			continue
		}
		if id == c.self {
			removeSelf = true
			continue
		}
		// A removed follower learns of its removal only from the config
		// block; once it is out of the Raft group it is sent nothing more.
		// So wait (bounded) until it has that block.
		if prev := c.fsm.previousConfig(); prev == nil {
			c.log.Info("raft: cannot confirm the consenter being removed has its config block (applied before this start)", "consenter", id)
		} else if err := c.waitForBlock(prev, id, c.fsm.state().LastConfig); err != nil {
			c.log.Warn("raft: the consenter being removed did not confirm the config block; removing it anyway", "consenter", id, "error", err)
		}
		c.log.Info("raft: removing consenter", "consenter", id)
		if err := c.raft.RemoveServer(raft.ServerID(id), 0, raftTimeout).Error(); err != nil {
			c.log.Warn("raft: removing consenter failed", "consenter", id, "error", err)
		}
	}
	if removeSelf {
		c.log.Info("raft: removing this orderer, which the config no longer lists")
		if err := c.raft.RemoveServer(raft.ServerID(c.self), 0, raftTimeout).Error(); err != nil {
			c.log.Warn("raft: removing this orderer failed", "error", err)
			return
		}
		// Raft shuts this node down once out of the group: it serves
		// Deliver only, as a removed follower does.
		c.retired.Store(true)
	}
}

// waitForBlock waits until orderer id (a consenter of prev, the config
// before its removal) has block number, by asking its Deliver for it.
func (c *chain) waitForBlock(prev *channelconfig.Config, id string, number uint64) error {
	ctx, cancel := context.WithTimeout(c.ctx, removalWait)
	defer cancel()
	cs, ok := prev.Consenter(id)
	if !ok {
		return fmt.Errorf("%s is unknown", id)
	}
	conn, err := dialConsenterConn(ctx, c.node.clientTLS, cs.Address, id, cs.CertDer)
	if err != nil {
		return err
	}
	defer conn.Close()
	at := &pb.SeekPosition{Kind: &pb.SeekPosition_Specified{Specified: number}}
	stream, err := pb.NewAtomicBroadcastClient(conn).Deliver(ctx, &pb.DeliverRequest{ChannelId: c.id, Start: at, Stop: at})
	if err != nil {
		return err
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			return err
		}
		if st, ok := resp.Kind.(*pb.DeliverResponse_Status); ok {
			if st.Status == pb.Status_SUCCESS {
				return nil
			}
			return fmt.Errorf("%s: %s", st.Status, resp.Info)
		}
	}
}

// removalWait bounds how long the leader waits for a consenter being
// removed to confirm it has the config block removing it.
const removalWait = 5 * time.Second

// isLeader reports whether this node is the channel's Raft leader.
func (c *chain) isLeader() bool { return c.raft.State() == raft.Leader }

// close stops the chain. With transfer set and this node leading, it first
// hands leadership to another consenter so the channel does not wait for an
// election timeout.
func (c *chain) close(transfer bool) error {
	if c.raft == nil {
		c.cancel()
		return c.store.close()
	}
	if transfer && c.isLeader() {
		if err := c.raft.LeadershipTransfer().Error(); err != nil {
			c.log.Warn("raft: leadership transfer failed", "error", err)
		}
	}
	c.cancel()
	err := c.raft.Shutdown().Error()
	c.wg.Wait()
	c.forwardMu.Lock()
	for _, fs := range c.forwards {
		fs.close()
	}
	c.forwards = map[string]*forwardStream{}
	c.forwardMu.Unlock()
	return errors.Join(err, c.trans.Close(), c.logs.Close(), c.store.close())
}
