// Package bench is blossom's load generator and measurement, in the terms
// of Hyperledger's performance working group: throughput of valid
// transactions, latency percentiles, failures by cause.
//
// Load is open-loop: transaction i of a run is scheduled at
// start + i/rate and sent then whatever happened to earlier ones, and its
// latency is measured from that scheduled time, not from when a sender
// got round to it, so a slow system cannot hide its queueing delay
// (no coordinated omission). Commits are observed by block streams from
// every peer (Peer.Deliver), so each transaction's latency is known on
// the submitter's own peer and on all peers, with its validation code.
//
// Beside the figures a run reports the machine's ECDSA P-256 sign and
// verify rates measured in the same process just before the load, and the
// ECDSA ceiling they imply for the workload (see CeilingFor).
package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blossom-ledger/blossom/internal/client"
	"github.com/blossom-ledger/blossom/internal/cpugate"
	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/txn"
)

// Workload kinds.
const (
	KindBlind = "blind" // blind write of one fresh key
	KindRMW   = "rmw"   // read-modify-write (kv:Incr) of a random preloaded key
	KindHot   = "hot"   // read-modify-write of one of a few hot keys
	// KindQuery submits the BloSS@M authorization chaincode's
	// account:GetAccounts as a transaction: a read-only transaction that
	// orders and commits, on a `blossom up` devnet.
	KindQuery = "blossom-query"
	// KindMix is the BloSS@M mix (mix.go): license checkouts and returns,
	// SWID reports, queries and votes, by users of the roles they need.
	KindMix = "blossom-mix"
)

// Workload is what each transaction does (on the kvtest chaincode, or
// for blossom-query on the authorization chaincode).
type Workload struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// ValueSize is the written value's size (blind).
	ValueSize int `json:"valueSize,omitempty"`
	// Keys is the key space: preloaded keys (rmw) or hot keys (hot).
	Keys int `json:"keys,omitempty"`
	// Mix holds blossom-mix's operation weights (ParseMix syntax).
	Mix string `json:"mix,omitempty"`
}

// ParseWorkload reads a workload name: blind-100, blind-1k, rmw (keys
// from the keys argument), hot-N (N hot keys), blossom-query.
func ParseWorkload(name string, keys int) (Workload, error) {
	switch {
	case name == KindQuery:
		return Workload{Name: name, Kind: KindQuery}, nil
	case name == KindMix:
		return Workload{Name: name, Kind: KindMix, Mix: DefaultMix}, nil
	case name == "blind-100":
		return Workload{Name: name, Kind: KindBlind, ValueSize: 100}, nil
	case name == "blind-1k":
		return Workload{Name: name, Kind: KindBlind, ValueSize: 1024}, nil
	case name == "rmw":
		if keys < 1 {
			return Workload{}, fmt.Errorf("bench: rmw needs at least one key")
		}
		return Workload{Name: name, Kind: KindRMW, Keys: keys}, nil
	case strings.HasPrefix(name, "hot-"):
		n, err := strconv.Atoi(strings.TrimPrefix(name, "hot-"))
		if err != nil || n < 1 || n > 1<<20 {
			return Workload{}, fmt.Errorf("bench: workload %q: want hot-N with 1 <= N <= 1048576", name)
		}
		return Workload{Name: name, Kind: KindHot, Keys: n}, nil
	}
	return Workload{}, fmt.Errorf("bench: unknown workload %q (blind-100, blind-1k, rmw, hot-N, blossom-query, blossom-mix)", name)
}

// request is transaction seq's chaincode call.
func (w Workload) request(seq int, rng *rand.Rand, value []byte) txn.Request {
	switch w.Kind {
	case KindRMW:
		return incr(fmt.Sprintf("r/%d", rng.IntN(w.Keys)))
	case KindHot:
		return incr(fmt.Sprintf("h/%d", rng.IntN(w.Keys)))
	case KindQuery:
		return w.probe()
	}
	return txn.Request{Chaincode: Chaincode, Function: "kv:Put", Args: [][]byte{[]byte(fmt.Sprintf("b/%d", seq)), value}}
}

func incr(key string) txn.Request {
	return txn.Request{Chaincode: Chaincode, Function: "kv:Incr", Args: [][]byte{[]byte(key)}}
}

// probe is a request that checks, evaluated, that the workload's
// chaincode runs on the target.
func (w Workload) probe() txn.Request {
	if w.Kind == KindQuery || w.Kind == KindMix {
		return txn.Request{Chaincode: QueryChaincode, Function: "account:GetAccounts"}
	}
	return txn.Request{Chaincode: Chaincode, Function: "kv:Get", Args: [][]byte{[]byte("b/0")}}
}

// Chaincode is the chaincode the kv workloads call (kvtest).
const Chaincode = "kv"

// QueryChaincode is the chaincode blossom-query calls.
const QueryChaincode = "authorization"

// Target is the network under load.
type Target struct {
	// Members holds one client configuration per member; each lists its
	// own peer first and every peer of the network (in the same set).
	Members []client.Config
	// Endorsers is how many peers endorse each transaction (the
	// submitter's own first): MAJORITY of n is n/2+1.
	Endorsers int
	// InProcess: the nodes run in this process, so its CPU time and
	// bytes written are the network's.
	InProcess bool
	// DataDirs, if known, are measured for growth (ledger bytes per tx).
	DataDirs []string
	// Roles, for blossom-mix, holds per member a client configuration
	// for a user of each BloSS@M role it needs, by blossom.role value
	// (peers and orderers as in Members).
	Roles []map[string]client.Config
	// Admin is the index in Members of the BloSS@M service provider (the
	// chaincodes' adminMSP), for blossom-mix.
	Admin int
}

// Options of one run.
type Options struct {
	Workload Workload
	Rate     float64       // offered transactions per second
	Duration time.Duration // of the load
	// Drain bounds waiting for the last transactions' commits (0: 30 s).
	Drain time.Duration
	// MaxInFlight bounds transactions sent and not yet committed; a
	// scheduled send beyond it is counted as an OVERLOAD failure
	// (0: max(1000, 10 x rate)).
	MaxInFlight int
	// Seed for key choice (0: random).
	Seed uint64
	// CryptoTime is how long each ECDSA rate is measured, just before and
	// just after the load (0: 500 ms); the report gives their mean, so
	// outside load on a shared machine weighs on the ceiling as on the run.
	CryptoTime time.Duration
	// MixState is blossom-mix's prepared state (PrepareMix); Rate then
	// counts operations per second, each of one or more transactions.
	MixState *MixState
}

// Run preloads nothing, applies the load and returns the measurement.
// Use Preload first for rmw.
func Run(ctx context.Context, target Target, opts Options) (*Result, error) {
	opts, err := checkOptions(target, opts)
	if err != nil {
		return nil, err
	}
	before, err := MeasureCrypto(opts.CryptoTime)
	if err != nil {
		return nil, err
	}
	res, err := runLoad(ctx, target, opts)
	if err != nil {
		return nil, err
	}
	after, err := MeasureCrypto(opts.CryptoTime)
	if err != nil {
		return nil, err
	}
	res.setCrypto(target, before, after)
	return res, nil
}

// checkOptions validates a run's options and fills their defaults.
func checkOptions(target Target, opts Options) (Options, error) {
	if opts.Rate <= 0 || opts.Duration <= 0 {
		return opts, errors.New("bench: rate and duration must be positive")
	}
	if len(target.Members) == 0 || target.Endorsers < 1 || target.Endorsers > len(target.Members[0].Peers) {
		return opts, errors.New("bench: target needs members and 1 to #peers endorsers")
	}
	if opts.Drain <= 0 {
		opts.Drain = 30 * time.Second
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = max(1000, int(10*opts.Rate))
	}
	if opts.CryptoTime <= 0 {
		opts.CryptoTime = 500 * time.Millisecond
	}
	if opts.Workload.Kind == KindMix && opts.MixState == nil {
		return opts, errors.New("bench: blossom-mix needs PrepareMix's state")
	}
	return opts, nil
}

// runLoad applies one load with its own clients and block watchers.
func runLoad(ctx context.Context, target Target, opts Options) (*Result, error) {
	s, err := newSession(ctx, target)
	if err != nil {
		return nil, err
	}
	defer s.close()
	res, err := s.run(ctx, opts)
	if err != nil {
		return nil, err
	}
	res.Members, res.Endorsers = len(target.Members), target.Endorsers
	return res, nil
}

// setCrypto records the ECDSA rates measured before and after the load,
// their means and the ceiling they imply.
func (res *Result) setCrypto(target Target, before, after CryptoRates) {
	res.SignPerSec = round3((before.SignPerSec + after.SignPerSec) / 2)
	res.VerifyPerSec = round3((before.VerifyPerSec + after.VerifyPerSec) / 2)
	res.CryptoBefore, res.CryptoAfter = before, after
	rates := CryptoRates{SignPerSec: res.SignPerSec, VerifyPerSec: res.VerifyPerSec}
	if res.Workload.Kind == KindMix {
		res.Ceiling = CeilingForMix(rates, res.validByEndorsers, res.Mix.Evaluations, len(target.Members))
		res.Mix.setCeilings(rates, len(target.Members))
	} else {
		res.Ceiling = CeilingFor(rates, target.Endorsers, len(target.Members))
	}
	res.CeilingTxPerSec = round3(res.Ceiling.TxPerSec)
	res.CeilingRatio = 0
	if res.CeilingTxPerSec > 0 {
		res.CeilingRatio = round3(res.ValidTxPerSec / res.CeilingTxPerSec)
	}
}

// session is a run's clients and block watchers.
type session struct {
	target  Target
	clients []*client.Client
	// roles are the clients of Target.Roles (blossom-mix only).
	roles   []map[string]*client.Client
	peers   []string // every peer's name, in member order
	tracker *tracker
	watch   *watchers
	// signing bounds the load generator's concurrent signing, so its
	// goroutines do not crowd the nodes' out of the run queue (cpugate).
	signing *cpugate.Gate
	// evaluations counts the queries a run evaluated beside its
	// transactions (blossom-mix), for the ceiling.
	evaluations atomic.Int64
}

func newSession(ctx context.Context, target Target) (*session, error) {
	s := &session{target: target, signing: cpugate.New(0)}
	connect := func(cfg client.Config) (*client.Client, error) {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		c, err := client.Connect(cctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("bench: connect: %w", err)
		}
		return c, nil
	}
	for _, cfg := range target.Members {
		c, err := connect(cfg)
		if err != nil {
			s.close()
			return nil, err
		}
		s.clients = append(s.clients, c)
		s.peers = append(s.peers, cfg.Peers[0].Name)
	}
	for _, byRole := range target.Roles {
		cs := map[string]*client.Client{}
		s.roles = append(s.roles, cs)
		for role, cfg := range byRole {
			c, err := connect(cfg)
			if err != nil {
				s.close()
				return nil, err
			}
			cs[role] = c
		}
	}
	s.tracker = newTracker(len(s.peers))
	return s, nil
}

func (s *session) close() {
	if s.watch != nil {
		s.watch.stop()
	}
	for _, c := range s.clients {
		c.Close()
	}
	for _, cs := range s.roles {
		for _, c := range cs {
			c.Close()
		}
	}
}

func (s *session) run(ctx context.Context, opts Options) (*Result, error) {
	w, err := startWatchers(ctx, s.target, s.peers, s.tracker)
	if err != nil {
		return nil, err
	}
	s.watch = w
	before := readSysStats(s.target)
	seed := opts.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	start := time.Now()
	var mix *MixResult
	if opts.Workload.Kind == KindMix {
		mix = s.runMix(ctx, opts, start, seed)
	} else {
		s.runKV(ctx, opts, start, seed)
	}
	loadEnd := time.Now()
	dctx, dcancel := context.WithTimeout(ctx, opts.Drain)
	defer dcancel()
	drained := s.tracker.waitAllCommitted(dctx)
	after := readSysStats(s.target)
	res := s.tracker.result(start, opts)
	res.Drained = drained == nil
	res.LoadSeconds = loadEnd.Sub(start).Seconds()
	res.System = after.sub(before, res.Valid)
	if mix != nil {
		mix.Evaluations = int(s.evaluations.Load())
		mix.finish(res.WindowSeconds)
		res.Mix = mix
	}
	return res, nil
}

// pace calls fn for each of total operations at its scheduled time,
// start + i x interval, whatever happened to earlier ones (open loop).
func pace(ctx context.Context, start time.Time, opts Options, fn func(i int, at time.Time)) {
	interval := time.Duration(float64(time.Second) / opts.Rate)
	total := int(opts.Duration.Seconds() * opts.Rate)
	for i := 0; i < total && ctx.Err() == nil; i++ {
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			time.Sleep(d) // the schedule itself: open-loop pacing
		}
		fn(i, at)
	}
}

// runKV applies a kv workload (or blossom-query): one transaction per
// scheduled slot, sent round-robin by the members' clients.
func (s *session) runKV(ctx context.Context, opts Options, start time.Time, seed uint64) {
	value := make([]byte, max(opts.Workload.ValueSize, 0))
	for i := range value {
		value[i] = 'a' + byte(i%26)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, opts.MaxInFlight)
	rng := rand.New(rand.NewPCG(seed, 0x626c6f73736f6d))
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pace(ctx, start, opts, func(i int, at time.Time) {
		member := i % len(s.clients)
		req := opts.Workload.request(i, rng, value)
		select {
		case sem <- struct{}{}:
		default:
			s.tracker.fail(at, member, FailOverload)
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.send(sctx, at, member, req)
			<-sem
		}()
	})
	wg.Wait()
}

// send runs one transaction of a kv workload as member's user, endorsed
// by the first Target.Endorsers peers of its list.
func (s *session) send(ctx context.Context, at time.Time, member int, req txn.Request) {
	cfg := s.target.Members[member]
	s.submit(ctx, at, member, s.clients[member], cfg.Signer, req, s.majority(member))
}

// majority names the first Target.Endorsers peers of member's list (its
// own first).
func (s *session) majority(member int) []string {
	cfg := s.target.Members[member]
	endorsers := make([]string, s.target.Endorsers)
	for k := range endorsers {
		endorsers[k] = cfg.Peers[k].Name
	}
	return endorsers
}

// submit runs one transaction: proposal (by c, whose signer is signer),
// endorsement by endorsers, assembly, broadcast. The commit is observed
// by the watchers. It returns the transaction's record (nil if no
// proposal could be made) and the endorsed result.
func (s *session) submit(ctx context.Context, at time.Time, member int, c *client.Client, signer identity.Signer, req txn.Request, endorsers []string) (*record, []byte) {
	if s.signing.Enter(ctx) != nil {
		s.tracker.fail(at, member, FailEndorse)
		return nil, nil
	}
	prop, err := c.NewProposal(req)
	s.signing.Leave()
	if err != nil {
		s.tracker.fail(at, member, FailEndorse)
		return nil, nil
	}
	rec := s.tracker.register(prop.TxID, at, member, len(endorsers))
	responses, err := c.Endorse(ctx, prop, endorsers)
	if err != nil {
		s.tracker.settle(rec, endorseFailure(err))
		return rec, nil
	}
	if s.signing.Enter(ctx) != nil {
		s.tracker.settle(rec, FailEndorse)
		return rec, nil
	}
	env, err := txn.Assemble(signer, prop, responses)
	s.signing.Leave()
	if err != nil {
		s.tracker.settle(rec, FailEndorse)
		return rec, nil
	}
	if err := c.Broadcast(ctx, env); err != nil {
		s.tracker.settle(rec, FailBroadcast)
		return rec, nil
	}
	s.tracker.acknowledge(rec)
	return rec, responses[0].GetResponse().GetPayload()
}

// endorseFailure names why an endorsement failed.
func endorseFailure(err error) string {
	var cc *client.ChaincodeError
	switch {
	case errors.Is(err, client.ErrMismatch):
		return FailMismatch
	case errors.As(err, &cc):
		return FailChaincode
	}
	return FailEndorse
}

// Preload writes keys r/0 .. r/(n-1) with value "0" (what rmw reads) by
// kv:Fill transactions of preloadChunk keys, concurrency at a time, each
// waiting for its commit on the submitter's peer, and waits until every
// peer has the last block.
func Preload(ctx context.Context, target Target, n, concurrency int) error {
	s, err := newSession(ctx, target)
	if err != nil {
		return err
	}
	defer s.close()
	if concurrency < 1 {
		concurrency = 64
	}
	jobs := make(chan int)
	errs := make(chan error, concurrency)
	var last sync.Mutex
	var top uint64
	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := w % len(s.clients)
			endorsers := make([]string, target.Endorsers)
			for k := range endorsers {
				endorsers[k] = target.Members[m].Peers[k].Name
			}
			for i := range jobs {
				count := min(preloadChunk, n-i)
				req := txn.Request{Chaincode: Chaincode, Function: "kv:Fill", Args: [][]byte{[]byte("r/"),
					[]byte(strconv.Itoa(i)), []byte(strconv.Itoa(count)), []byte("0")}}
				res, err := s.clients[m].Submit(ctx, req, endorsers)
				if err != nil {
					errs <- fmt.Errorf("bench: preload r/%d..: %w", i, err)
					return
				}
				last.Lock()
				top = max(top, res.Block)
				last.Unlock()
			}
		}()
	}
	var failed error
feed:
	for i := 0; i < n; i += preloadChunk {
		select {
		case jobs <- i:
		case failed = <-errs:
			break feed
		case <-ctx.Done():
			failed = ctx.Err()
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if failed == nil {
		select {
		case failed = <-errs:
		default:
		}
	}
	if failed != nil {
		return failed
	}
	for i, c := range s.clients {
		if err := waitHeight(ctx, c, s.peers[i], top+1); err != nil {
			return err
		}
	}
	return nil
}

// preloadChunk is how many keys one preload transaction writes.
const preloadChunk = 2000

// waitHeight polls peer's channel height until it reaches height (the
// peer service offers no height notification to clients).
func waitHeight(ctx context.Context, c *client.Client, peer string, height uint64) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		info, err := c.ChannelInfo(ctx, peer, "")
		if err == nil && info.Height >= height {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: peer %s not at height %d: %w", peer, height, ctx.Err())
		case <-tick.C:
		}
	}
}

// CheckChaincode checks that the target runs the chaincode workload
// calls, by evaluating a read of it through the first member's peer.
func CheckChaincode(ctx context.Context, target Target, w Workload) error {
	if len(target.Members) == 0 {
		return errors.New("bench: target has no member")
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := client.Connect(cctx, target.Members[0])
	if err != nil {
		return fmt.Errorf("bench: connect: %w", err)
	}
	defer c.Close()
	req := w.probe()
	if _, err := c.Evaluate(cctx, req); err != nil {
		return fmt.Errorf("bench: workload %s: chaincode %q: %w", w.Name, req.Chaincode, err)
	}
	return nil
}
