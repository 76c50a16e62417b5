package peer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/ledger"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/transient"
	"github.com/blossom-ledger/blossom/internal/validator"
)

// Channel is one channel on a peer: its ledger, the configuration in force
// (rebuilt after every config block), block intake (check, validate,
// commit) and commit events. Reads are safe for concurrent use; blocks are
// committed by one goroutine at a time (the block puller).
type Channel struct {
	id     string
	ledger *ledger.Ledger
	// transient holds endorsed private read/write sets until they commit.
	transient *transient.Store
	reg       *registry
	val       *validator.Validator
	log       *slog.Logger
	self      string // this peer's MSP ID
	// onConfig runs after a config block is committed (the node refreshes
	// its TLS trust from it).
	onConfig func()

	state atomic.Pointer[channelState]
	// definitions are the chaincode definitions committed through
	// _lifecycle as of the last committed block.
	definitions atomic.Pointer[definitionSet]

	intakeMu sync.Mutex // serialises prepare+commit
	lastTime int64      // timestamp of the last committed block (guarded by intakeMu)

	halted atomic.Pointer[error] // set when the channel stopped committing for good

	// ordererHeight is the highest chain height an orderer has shown the
	// puller (its newest block when the puller connects, and every block
	// it streams); 0 until one answered.
	ordererHeight atomic.Uint64

	subMu sync.Mutex
	subs  map[*subscription]struct{}
}

// channelOptions are what a node hands each of its channels.
type channelOptions struct {
	dir      string
	genesis  *pb.Block // may be nil for a channel that already has a ledger
	reg      *registry
	val      *validator.Validator
	log      *slog.Logger
	self     string
	onConfig func()
}

// openChannel opens (or creates) the ledger in o.dir. A new ledger joins
// the channel from o.genesis, which must be a valid genesis block; an
// existing ledger must hold o.genesis (if given) as its block 0.
func openChannel(o channelOptions) (c *Channel, err error) {
	l, err := ledger.Open(o.dir, ledger.Options{Logger: o.log})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	ts, err := transient.Open(filepath.Join(o.dir, "transient"))
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			ts.Close()
		}
	}()
	if l.Height() == 0 {
		if o.genesis == nil {
			return nil, errors.New("the ledger is empty and no genesis block was given")
		}
		if err := verifyGenesis(o.genesis); err != nil {
			return nil, err
		}
		if err := l.Commit(o.genesis, ledger.CommitResult{Codes: []pb.TxValidationCode{pb.TxValidationCode_VALID}}); err != nil {
			return nil, fmt.Errorf("join from genesis block: %w", err)
		}
	} else if o.genesis != nil {
		if err := checkGenesisOf(l, o.genesis); err != nil {
			return nil, err
		}
	}
	last, err := l.LastBlockHeader()
	if err != nil {
		return nil, err
	}
	number, cc := l.LastConfig()
	c = &Channel{
		id:        cc.GetChannelId(),
		ledger:    l,
		transient: ts,
		reg:       o.reg,
		val:       o.val,
		self:      o.self,
		onConfig:  o.onConfig,
		lastTime:  last.GetTimestampUnixNano(),
		subs:      make(map[*subscription]struct{}),
	}
	c.log = o.log.With("channel", c.id)
	st, err := newChannelState(cc, number)
	if err != nil {
		return nil, err
	}
	c.state.Store(st)
	defs, err := loadDefinitions(l.State())
	if err != nil {
		return nil, err
	}
	c.definitions.Store(defs)
	if l.SnapshotHeight() > 0 {
		// Private data before the snapshot that this peer's member should
		// hold and the snapshot did not bring: reconciled from its peers.
		members := st.validator.Members
		n, err := l.MarkSnapshotPrivateDataMissing(c.memberOf(members), c.collections(members).blockToLive)
		if err != nil {
			return nil, fmt.Errorf("private data before the snapshot: %w", err)
		}
		if n > 0 {
			c.log.Info("private data before the snapshot recorded as missing; reconciling it from the collections' peers", "items", n)
		}
	}
	return c, nil
}

// checkGenesisOf checks that an existing ledger belongs to the chain of
// genesis: its block 0 is genesis or, for a ledger created from a
// snapshot that does not hold block 0, it is of genesis's channel.
func checkGenesisOf(l *ledger.Ledger, genesis *pb.Block) error {
	b0, err := l.Block(0)
	if errors.Is(err, ledger.ErrBeforeSnapshot) {
		cfg, _, err := ledger.ConfigFromBlock(genesis)
		if err != nil {
			return fmt.Errorf("genesis block: %w", err)
		}
		if _, cc := l.LastConfig(); cfg.GetChannelId() != cc.GetChannelId() {
			return fmt.Errorf("the ledger (created from a snapshot) is of channel %s, the genesis block given of %s", cc.GetChannelId(), cfg.GetChannelId())
		}
		return nil
	}
	if err != nil {
		return err
	}
	if !bytes.Equal(protocol.BlockHeaderHash(b0.Header), protocol.BlockHeaderHash(genesis.GetHeader())) {
		return errors.New("the ledger's block 0 is not the genesis block given")
	}
	return nil
}

// verifyGenesis checks a block offered as a channel's genesis block: number
// 0 with no previous hash, its data hash, a single CONFIG envelope carrying
// a valid configuration of sequence 0 whose consenters are valid orderers
// at the block's time, and metadata naming itself as the last config.
func verifyGenesis(b *pb.Block) error {
	if b.GetHeader().GetNumber() != 0 || len(b.GetHeader().GetPreviousHash()) != 0 {
		return errors.New("genesis block: not block 0 of a chain")
	}
	cfg, _, err := channelconfig.FromBlock(b)
	if err != nil {
		return fmt.Errorf("genesis block: %w", err)
	}
	if cfg.Sequence() != 0 {
		return fmt.Errorf("genesis block: configuration sequence %d, want 0", cfg.Sequence())
	}
	if err := cfg.CheckAt(time.Unix(0, b.Header.TimestampUnixNano)); err != nil {
		return fmt.Errorf("genesis block: %w", err)
	}
	return nil
}

// close closes the ledger; subscribers' channels are closed.
func (c *Channel) close() error {
	c.subMu.Lock()
	for s := range c.subs {
		s.end()
	}
	c.subs = map[*subscription]struct{}{}
	c.subMu.Unlock()
	c.intakeMu.Lock()
	defer c.intakeMu.Unlock()
	err := c.ledger.Close()
	if terr := c.transient.Close(); err == nil {
		err = terr
	}
	return err
}

// ID is the channel ID.
func (c *Channel) ID() string { return c.id }

// Height is the number of blocks committed.
func (c *Channel) Height() uint64 { return c.ledger.Height() }

// OrdererHeight is the highest height of the channel's chain an orderer
// has shown this peer (0: none answered yet).
func (c *Channel) OrdererHeight() uint64 { return c.ordererHeight.Load() }

// learnOrdererHeight raises OrdererHeight to h.
func (c *Channel) learnOrdererHeight(h uint64) {
	for {
		cur := c.ordererHeight.Load()
		if h <= cur || c.ordererHeight.CompareAndSwap(cur, h) {
			return
		}
	}
}

// Config returns the configuration in force (that of the last config
// block committed).
func (c *Channel) Config() *channelconfig.Config { return c.state.Load().config }

func (c *Channel) current() *channelState { return c.state.Load() }

// CommitHash returns the commit hash at the current height: two peers
// committed the same effects up to a height iff these agree there.
func (c *Channel) CommitHash() (height uint64, hash []byte, err error) {
	h := c.ledger.Height()
	hash, err = c.ledger.CommitHash(h)
	return h, hash, err
}

// StateHash hashes the whole committed state (ledger.StateReader.StateHash).
func (c *Channel) StateHash() ([]byte, error) { return c.ledger.State().StateHash() }

// Ledger returns the channel's ledger for reading (blocks, state, history).
// Only the channel commits to it.
func (c *Channel) Ledger() *ledger.Ledger { return c.ledger }

// Err reports why the channel stopped committing blocks, or nil.
func (c *Channel) Err() error {
	if p := c.halted.Load(); p != nil {
		return *p
	}
	return nil
}

func (c *Channel) halt(err error) {
	if c.halted.CompareAndSwap(nil, &err) {
		c.log.Error("channel stopped committing blocks: fix the cause and restart the peer", "error", err)
	}
}

// WaitForTx blocks until transaction txID is committed on this peer (in a
// block, valid or not) or ctx ends, and returns where and with which code.
func (c *Channel) WaitForTx(ctx context.Context, txID string) (ledger.TxInfo, error) {
	for {
		// Take the change notification before looking, so that a commit
		// between the look and the wait still wakes us.
		changed := c.ledger.Changed()
		info, err := c.ledger.Tx(txID)
		if err == nil {
			return info, nil
		}
		if !errors.Is(err, ledger.ErrNotFound) {
			return ledger.TxInfo{}, err
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ledger.TxInfo{}, ctx.Err()
		}
	}
}

// ErrBadBlock is wrapped by every reason a block offered to the channel is
// refused before validation: it does not follow the ledger, or is not
// signed by a consenter of the configuration in force, or breaks the
// channel's batch bounds. The block puller fails over to another orderer.
var ErrBadBlock = errors.New("block refused")

// errFatal wraps failures after which the channel cannot go on (a commit
// that failed on disk, an unsupported capability): the puller stops.
type errFatal struct{ err error }

func (e *errFatal) Error() string { return e.err.Error() }
func (e *errFatal) Unwrap() error { return e.err }

func badBlock(number uint64, format string, args ...any) error {
	return fmt.Errorf("%w: block %d: %s", ErrBadBlock, number, fmt.Sprintf(format, args...))
}

// preparedBlock is a block that passed the intake checks and validation.
type preparedBlock struct {
	block   *pb.Block
	results []validator.TxResult
	commit  ledger.CommitResult
	next    *channelState // the new configuration, for a config block
	// definitionsChanged: the block commits chaincode definitions.
	definitionsChanged bool
}

// checkBlock applies the intake checks to block as the next block of the
// channel, whose configuration in force is st: it must have a header, data
// and metadata; its number must be the height; its previous hash the last
// block's hash; its data hash must match its data; its timestamp must not
// go back; it must hold 1 to MaxMessageCount envelopes of at most
// AbsoluteMaxBytes in all (a normal block); metadata.last_config must name
// the last config block (or itself, for a config block); and it must carry
// a valid signature by one of st's consenters (a signer whose certificate
// is listed in the configuration). A config block must follow from st
// (channelconfig.VerifyConfigBlock); the new configuration is returned.
func (c *Channel) checkBlock(block *pb.Block, st *channelState) (*channelconfig.Config, error) {
	hdr := block.GetHeader()
	if hdr == nil || block.GetData() == nil || block.GetMetadata() == nil {
		return nil, fmt.Errorf("%w: block without header, data or metadata", ErrBadBlock)
	}
	n := hdr.Number
	if height := c.ledger.Height(); n != height {
		return nil, badBlock(n, "expected block %d (the ledger height)", height)
	}
	if !bytes.Equal(hdr.PreviousHash, c.ledger.LastBlockHash()) {
		return nil, badBlock(n, "previous hash does not match block %d", n-1)
	}
	if !bytes.Equal(hdr.DataHash, protocol.BlockDataHash(block.Data)) {
		return nil, badBlock(n, "data hash does not match its data")
	}
	if hdr.TimestampUnixNano < c.lastTime {
		return nil, badBlock(n, "timestamp before the previous block's")
	}
	envs := block.Data.Envelopes
	isConfig := channelconfig.IsConfigBlock(block)
	bs := st.config.BatchSize()
	switch {
	case len(envs) == 0:
		return nil, badBlock(n, "no transactions")
	case !isConfig && len(envs) > bs.MaxMessageCount:
		return nil, badBlock(n, "%d transactions (batch max %d)", len(envs), bs.MaxMessageCount)
	}
	if !isConfig {
		total := 0
		for _, env := range envs {
			total += len(env)
		}
		if total > bs.AbsoluteMaxBytes {
			return nil, badBlock(n, "%d bytes of transactions (absolute max %d)", total, bs.AbsoluteMaxBytes)
		}
	}
	wantLast := st.lastConfig
	if isConfig {
		wantLast = n
	}
	if got := block.Metadata.LastConfig; got != wantLast {
		return nil, badBlock(n, "metadata names block %d as last config, want %d", got, wantLast)
	}
	if err := ledger.VerifyOrdererSignature(block, st.proto()); err != nil {
		return nil, badBlock(n, "%v", err)
	}
	if !isConfig {
		return nil, nil
	}
	next, err := channelconfig.VerifyConfigBlock(st.config, block)
	if err != nil {
		if errors.Is(err, channelconfig.ErrUnsupportedCapability) {
			return nil, &errFatal{fmt.Errorf("block %d: %w", n, err)}
		}
		return nil, badBlock(n, "%v", err)
	}
	return next, nil
}

// prepare checks block (checkBlock) and validates it against the
// configuration in force, producing what Commit needs. It changes nothing.
func (c *Channel) prepare(block *pb.Block) (*preparedBlock, error) {
	st := c.current()
	nextCfg, err := c.checkBlock(block, st)
	if err != nil {
		return nil, err
	}
	defs := c.reg.forMembers(st.validator.Members, c.definitions.Load())
	results, err := c.val.Validate(block, st.validator, defs, committedState{c.ledger})
	if err != nil {
		return nil, fmt.Errorf("block %d: %w", block.Header.Number, err)
	}
	p := &preparedBlock{
		block:   block,
		results: results,
		commit: ledger.CommitResult{
			Codes:         make([]pb.TxValidationCode, len(results)),
			Writes:        make([][]ledger.Write, len(results)),
			PrivateHashes: make([][]ledger.PrivateWriteHash, len(results)),
		},
	}
	for i := range results {
		r := &results[i]
		if r.Code == pb.TxValidationCode_VALID && r.RWSet != nil {
			ws, err := publicWrites(r.RWSet)
			if err != nil {
				// The validator refuses writes the ledger cannot store
				// (Config.CheckWriteKey), so this is a bug, not bad input.
				return nil, &errFatal{fmt.Errorf("block %d tx %d: valid transaction with unstorable writes: %w", block.Header.Number, i, err)}
			}
			p.commit.Writes[i] = ws
			p.commit.PrivateHashes[i] = ledger.RWSetPrivateWriteHashes(r.RWSet)
		}
		p.commit.Codes[i] = r.Code
	}
	if p.commit.Private, err = c.privateData(results, st.validator.Members); err != nil {
		return nil, &errFatal{fmt.Errorf("block %d: %w", block.Header.Number, err)}
	}
	p.commit.Eligible = c.memberOf(st.validator.Members)
	p.commit.BlockToLive = c.collections(st.validator.Members).blockToLive
	p.definitionsChanged = writesDefinitions(p.commit.Writes)
	if nextCfg != nil {
		if p.results[0].Code != pb.TxValidationCode_VALID {
			return nil, badBlock(block.Header.Number, "config transaction is %s: %s", p.results[0].Code, p.results[0].Reason)
		}
		if p.next, err = newChannelState(nextCfg.Proto(), block.Header.Number); err != nil {
			return nil, &errFatal{err}
		}
	}
	return p, nil
}

// publicWrites converts a valid transaction's read/write set into the
// ledger's writes, exactly as ledger.TxPublicWrites extracts them from the
// envelope (rwset order, deletes without value), checking every key.
func publicWrites(rwset *pb.TxReadWriteSet) ([]ledger.Write, error) {
	var out []ledger.Write
	for _, ns := range rwset.NsRwsets {
		for _, w := range ns.Writes {
			if err := ledger.CheckWriteKey(ns.Namespace, w.Key); err != nil {
				return nil, err
			}
			write := ledger.Write{Namespace: ns.Namespace, Key: w.Key, IsDelete: w.IsDelete}
			if !w.IsDelete {
				write.Value = w.Value
			}
			out = append(out, write)
		}
	}
	return out, nil
}

// commit stores a prepared block, switches to its configuration if it is
// a config block, and publishes the block's event. A failure is fatal for
// the channel.
func (c *Channel) commit(p *preparedBlock) error {
	n := p.block.Header.Number
	if err := c.ledger.Commit(p.block, p.commit); err != nil {
		return &errFatal{fmt.Errorf("commit block %d: %w", n, err)}
	}
	c.lastTime = p.block.Header.TimestampUnixNano
	if p.definitionsChanged {
		defs, err := loadDefinitions(c.ledger.State())
		if err != nil {
			return &errFatal{fmt.Errorf("after block %d: %w", n, err)}
		}
		c.definitions.Store(defs)
		c.log.Info("chaincode definitions committed", "block", n, "definitions", defs.summary())
	}
	c.afterCommitPrivate(p.results, n+1)
	if p.next != nil {
		c.state.Store(p.next)
		c.log.Info("config block committed", "block", n, "sequence", p.next.config.Sequence(), "members", p.next.config.MemberIDs())
		for _, w := range p.next.config.Manager().StaleCRLs(time.Unix(0, p.block.Header.TimestampUnixNano)) {
			c.log.Warn("stale CRL in the channel configuration (still applied)", "crl", w)
		}
		if c.onConfig != nil {
			c.onConfig()
		}
	}
	valid := 0
	for i, r := range p.results {
		if r.Code == pb.TxValidationCode_VALID {
			valid++
		} else {
			c.log.Debug("transaction invalid", "block", n, "tx", i, "tx_id", r.TxID, "code", r.Code.String(), "reason", r.Reason)
		}
	}
	c.log.Debug("block committed", "block", n, "transactions", len(p.results), "valid", valid)
	c.publish(p)
	return nil
}

// processBlock runs block intake: prepare, then commit.
func (c *Channel) processBlock(block *pb.Block) error {
	c.intakeMu.Lock()
	defer c.intakeMu.Unlock()
	if err := c.Err(); err != nil {
		return &errFatal{err}
	}
	p, err := c.prepare(block)
	if err == nil {
		err = c.commit(p)
	}
	var fatal *errFatal
	if errors.As(err, &fatal) {
		c.halt(fatal.err)
	}
	return err
}
