package orderer

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// applyResult is what the FSM returns for a block entry (the Response of
// the leader's ApplyFuture). A block is either appended or skipped; every
// replica reaches the same verdict because it depends only on the chain.
type applyResult struct {
	Number  uint64
	Applied bool
	Reason  string // why it was skipped
}

// fsm is a channel's Raft state machine: the chain of blocks. Apply appends
// a proposed block if and only if it is the next block (number = height,
// previous hash = last hash) and valid under the configuration in force
// (orderer signature by a consenter, transactions of the channel, no
// transaction ID among the recent ones, config blocks that follow from
// their update). The block store is the durable state; Raft entries
// replayed after a restart are recognised as already applied.
type fsm struct {
	channelID string
	log       *slog.Logger
	store     *blockStore
	// pull fetches blocks [from, to] from other orderers after a snapshot
	// restore that is ahead of the local chain; set by the chain.
	pull func(ctx context.Context, s snapshotState) error
	// onApplied runs (on the FSM goroutine, no lock held) after a block is
	// appended; config is set for a config block.
	onApplied func(number uint64, config *channelconfig.Config)
	ctx       context.Context // ends when the chain stops

	mu         sync.RWMutex
	height     uint64
	lastHash   []byte
	lastTime   int64
	config     *channelconfig.Config
	prevConfig *channelconfig.Config // before the last config block, if applied since start
	signers    consenterKeys         // of config
	lastConfig uint64
	txids      *recentTxIDs
	changed    chan struct{} // closed and replaced on every append
	halted     error
}

// newFSM opens the chain held by store, writing genesis first if the store
// is empty. A non-empty store must start with the same genesis block.
func newFSM(ctx context.Context, store *blockStore, genesis *pb.Block, recent int, log *slog.Logger) (*fsm, error) {
	f := &fsm{store: store, log: log, ctx: ctx, txids: newRecentTxIDs(recent), changed: make(chan struct{})}
	if store.Height() == 0 {
		if genesis == nil {
			return nil, errors.New("empty chain and no genesis block")
		}
		if _, _, err := channelconfig.FromBlock(genesis); err != nil {
			return nil, fmt.Errorf("genesis block: %w", err)
		}
		if genesis.Header.Number != 0 || len(genesis.Header.PreviousHash) != 0 {
			return nil, errors.New("genesis block: not block 0 or has a previous hash")
		}
		if err := store.Append(genesis); err != nil {
			return nil, err
		}
	} else if genesis != nil {
		first, err := store.Block(0)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(protocol.BlockHeaderHash(first.Header), protocol.BlockHeaderHash(genesis.Header)) {
			return nil, errors.New("the data directory holds another chain than this genesis block starts")
		}
	}
	if err := f.load(); err != nil {
		return nil, err
	}
	return f, nil
}

// load reads the chain's state from the store: height, last hash, last
// config and the recent transaction IDs.
func (f *fsm) load() error {
	h := f.store.Height()
	last, err := f.store.Block(h - 1)
	if err != nil {
		return err
	}
	lastConfig := last.GetMetadata().GetLastConfig()
	if h == 1 {
		lastConfig = 0
	}
	cb, err := f.store.Block(lastConfig)
	if err != nil {
		return fmt.Errorf("last config block %d: %w", lastConfig, err)
	}
	cfg, _, err := channelconfig.FromBlock(cb)
	if err != nil {
		return fmt.Errorf("last config block %d: %w", lastConfig, err)
	}
	// The last capacity transaction IDs, in chain order.
	var blocks [][]string
	count := 0
	for n := h; n > 0 && count < f.txids.capacity; n-- {
		b, err := f.store.Block(n - 1)
		if err != nil {
			return err
		}
		ids := blockTxIDs(b)
		blocks = append(blocks, ids)
		count += len(ids)
	}
	txids := newRecentTxIDs(f.txids.capacity)
	for i := len(blocks) - 1; i >= 0; i-- {
		for _, id := range blocks[i] {
			txids.add(id)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.channelID = cfg.ChannelID()
	f.height = h
	f.lastHash = protocol.BlockHeaderHash(last.Header)
	f.lastTime = last.Header.TimestampUnixNano
	f.config, f.signers, f.lastConfig = cfg, newConsenterKeys(cfg), lastConfig
	f.txids = txids
	return nil
}

// blockTxIDs lists the transaction IDs a stored block holds: each
// envelope's, and for a config block also its update's.
func blockTxIDs(b *pb.Block) []string {
	var ids []string
	config := channelconfig.IsConfigBlock(b)
	for _, env := range b.GetData().GetEnvelopes() {
		if !config {
			// Every envelope of a normal block was checked before it
			// was ordered: only its ID is needed.
			if txID, err := protocol.EnvelopeTxID(env); err == nil {
				ids = append(ids, txID)
			}
			continue
		}
		_, payload, hdr, err := protocol.OpenEnvelope(env, 0)
		if err != nil {
			continue
		}
		if hdr.Type == pb.HeaderType_CONFIG {
			ce := new(pb.ConfigEnvelope)
			if protocol.Unmarshal(payload.Data, ce, 0) == nil && len(ce.LastUpdate) > 0 {
				if _, _, uh, err := protocol.OpenEnvelope(ce.LastUpdate, 0); err == nil {
					ids = append(ids, uh.TxId)
				}
			}
		}
		ids = append(ids, hdr.TxId)
	}
	return ids
}

// state is a consistent view of the chain's tip.
type chainState struct {
	Height     uint64
	LastHash   []byte
	LastTime   int64
	Config     *channelconfig.Config
	LastConfig uint64
}

func (f *fsm) state() chainState {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return chainState{Height: f.height, LastHash: f.lastHash, LastTime: f.lastTime, Config: f.config, LastConfig: f.lastConfig}
}

// Height returns the chain's height.
func (f *fsm) Height() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.height
}

// Config returns the configuration in force.
func (f *fsm) Config() *channelconfig.Config {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.config
}

// previousConfig returns the configuration before the last config block,
// or nil if that block was applied before this process started.
func (f *fsm) previousConfig() *channelconfig.Config {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.prevConfig
}

// changedCh returns a channel closed at the next append.
func (f *fsm) changedCh() <-chan struct{} {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.changed
}

// hasTxID reports whether txID is among the chain's recent transaction IDs.
func (f *fsm) hasTxID(txID string) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.txids.contains(txID)
}

// Halted returns the error that stopped the chain, if any.
func (f *fsm) Halted() error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.halted
}

// Apply implements raft.FSM.
func (f *fsm) Apply(l *raft.Log) interface{} {
	if l.Type != raft.LogCommand {
		return nil
	}
	b, err := decodeBlockEntry(l.Data)
	if errors.Is(err, errNoopEntry) {
		return applyResult{Reason: "no-op"}
	}
	if err != nil {
		f.log.Warn("raft: skipping malformed log entry", "channel", f.channelID, "index", l.Index, "error", err)
		return applyResult{Reason: err.Error()}
	}
	return f.applyBlock(b)
}

// applyBlock checks b against the chain and appends it. Only the FSM
// goroutine (Apply, Restore) calls it, so it reads its own state unlocked
// and takes the lock only to publish the new tip.
func (f *fsm) applyBlock(b *pb.Block) applyResult {
	n := b.Header.Number
	res := applyResult{Number: n}
	if f.halted != nil {
		res.Reason = "chain halted: " + f.halted.Error()
		return res
	}
	if n < f.height {
		stored, err := f.store.Block(n)
		if err == nil && bytes.Equal(protocol.BlockHeaderHash(stored.Header), protocol.BlockHeaderHash(b.Header)) {
			res.Applied = true // a replay after restart: already in the chain
			res.Reason = "already applied"
			return res
		}
		res.Reason = fmt.Sprintf("stale block %d: the chain is at height %d", n, f.height)
		return res
	}
	next, txids, err := f.check(b)
	if errors.Is(err, channelconfig.ErrUnsupportedCapability) {
		// The others apply this block; skipping it would fork the chain.
		f.halt(fmt.Errorf("block %d: %w; upgrade this orderer", n, err))
		res.Reason = "chain halted: " + err.Error()
		return res
	}
	if err != nil {
		res.Reason = err.Error()
		f.log.Warn("raft: skipping block", "channel", f.channelID, "block", n, "reason", res.Reason)
		return res
	}
	if err := f.store.Append(b); err != nil {
		f.halt(fmt.Errorf("store block %d: %w", n, err))
		res.Reason = "chain halted: " + err.Error()
		return res
	}
	f.mu.Lock()
	f.height = n + 1
	f.lastHash = protocol.BlockHeaderHash(b.Header)
	f.lastTime = b.Header.TimestampUnixNano
	for _, id := range txids {
		f.txids.add(id)
	}
	if next != nil {
		f.prevConfig = f.config
		f.config, f.signers, f.lastConfig = next, newConsenterKeys(next), n
	}
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
	if next != nil {
		f.log.Info("config block applied", "channel", f.channelID, "block", n, "sequence", next.Sequence(), "consenters", next.ConsenterIDs())
	}
	if f.onApplied != nil {
		f.onApplied(n, next)
	}
	res.Applied = true
	return res
}

// check validates b as the next block. It returns the new configuration
// for a config block and the transaction IDs b adds.
func (f *fsm) check(b *pb.Block) (*channelconfig.Config, []string, error) {
	n := b.Header.Number
	if n > f.height {
		return nil, nil, fmt.Errorf("block %d leaves a gap: the chain is at height %d", n, f.height)
	}
	if !bytes.Equal(b.Header.PreviousHash, f.lastHash) {
		return nil, nil, fmt.Errorf("block %d does not link to block %d (previous hash mismatch)", n, n-1)
	}
	if !bytes.Equal(protocol.BlockDataHash(b.Data), b.Header.DataHash) {
		return nil, nil, fmt.Errorf("block %d: data hash does not match its data", n)
	}
	if b.Header.TimestampUnixNano < f.lastTime {
		return nil, nil, fmt.Errorf("block %d: timestamp before the previous block's", n)
	}
	if err := f.signers.verify(b); err != nil {
		return nil, nil, fmt.Errorf("block %d: %w", n, err)
	}
	if len(b.Data.Envelopes) == 0 {
		return nil, nil, fmt.Errorf("block %d is empty", n)
	}
	var next *channelconfig.Config
	var txids []string
	if channelconfig.IsConfigBlock(b) {
		cfg, err := channelconfig.VerifyConfigBlock(f.config, b)
		if err != nil {
			return nil, nil, err
		}
		next = cfg
		txids = blockTxIDs(b)
	} else {
		if got := b.Metadata.LastConfig; got != f.lastConfig {
			return nil, nil, fmt.Errorf("block %d names last config %d, want %d", n, got, f.lastConfig)
		}
		bs := f.config.BatchSize()
		if len(b.Data.Envelopes) > bs.MaxMessageCount {
			return nil, nil, fmt.Errorf("block %d holds %d envelopes (batch max %d)", n, len(b.Data.Envelopes), bs.MaxMessageCount)
		}
		total := 0
		for i, env := range b.Data.Envelopes {
			total += len(env)
			_, _, hdr, err := protocol.OpenEnvelope(env, bs.AbsoluteMaxBytes)
			if err != nil {
				return nil, nil, fmt.Errorf("block %d envelope %d: %w", n, i, err)
			}
			if hdr.Type != pb.HeaderType_ENDORSER_TRANSACTION || hdr.ChannelId != f.channelID {
				return nil, nil, fmt.Errorf("block %d envelope %d: a %s envelope of channel %q in a normal block", n, i, hdr.Type, hdr.ChannelId)
			}
			txids = append(txids, hdr.TxId)
		}
		if total > bs.AbsoluteMaxBytes {
			return nil, nil, fmt.Errorf("block %d holds %d bytes of envelopes (absolute max %d)", n, total, bs.AbsoluteMaxBytes)
		}
	}
	seen := make(map[string]bool, len(txids))
	for _, id := range txids {
		if seen[id] || f.txids.contains(id) {
			return nil, nil, fmt.Errorf("block %d: %s %s", n, duplicateTxID, id)
		}
		seen[id] = true
	}
	return next, txids, nil
}

// duplicateTxID is the reason for refusing an already ordered transaction.
const duplicateTxID = "DUPLICATE_TXID"

func (f *fsm) halt(err error) {
	f.log.Error("chain halted: restart the orderer once the cause is fixed", "channel", f.channelID, "error", err)
	f.mu.Lock()
	f.halted = err
	f.mu.Unlock()
}

// Snapshot implements raft.FSM: the tip of the chain and its last config
// block. The blocks themselves are in the block store.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	st := f.state()
	cb, err := f.store.Block(st.LastConfig)
	if err != nil {
		return nil, err
	}
	raw, err := protocol.Marshal(cb)
	if err != nil {
		return nil, err
	}
	return &fsmSnapshot{data: encodeSnapshot(snapshotState{
		Height: st.Height, LastHash: st.LastHash, LastConfig: st.LastConfig, LastConfigBlock: raw,
	})}, nil
}

type fsmSnapshot struct{ data []byte }

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s.data); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {}

// Restore implements raft.FSM. A snapshot at or below the local height
// must agree with the local chain; one above it makes the follower pull the
// missing blocks from another orderer (validating each as Apply does) until
// its chain reaches the snapshot's height and last hash.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxSnapshotBytes+1))
	if err != nil {
		return err
	}
	s, err := decodeSnapshot(data)
	if err != nil {
		return err
	}
	return f.restore(s)
}

func (f *fsm) restore(s snapshotState) error {
	if f.height < s.Height {
		f.log.Info("raft: snapshot is ahead of the local chain; pulling blocks", "channel", f.channelID, "height", f.height, "snapshot_height", s.Height)
		if f.pull == nil {
			return errors.New("snapshot is ahead of the local chain and no block source is configured")
		}
		if err := f.pull(f.ctx, s); err != nil {
			return fmt.Errorf("catch up to snapshot height %d: %w", s.Height, err)
		}
	}
	b, err := f.store.Block(s.Height - 1)
	if err != nil {
		return err
	}
	if !bytes.Equal(protocol.BlockHeaderHash(b.Header), s.LastHash) {
		err := fmt.Errorf("block %d differs from the snapshot's: this orderer's chain has diverged", s.Height-1)
		f.halt(err)
		return err
	}
	return nil
}

// waitHeight blocks until the chain is higher than n or ctx ends.
func (f *fsm) waitHeight(ctx context.Context, n uint64) error {
	for {
		ch := f.changedCh()
		if f.Height() > n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// blockTime returns a block timestamp for a new block: now, but never
// before the previous block's.
func blockTime(prev int64) int64 {
	now := time.Now().UnixNano()
	if now < prev {
		return prev
	}
	return now
}

// consenterKeys holds the consenters' public keys by certificate DER, for
// checking block signatures.
type consenterKeys map[string]crypto.PublicKey

func newConsenterKeys(cfg *channelconfig.Config) consenterKeys {
	keys := consenterKeys{}
	for _, cs := range cfg.Consenters() {
		if cert, err := x509.ParseCertificate(cs.CertDer); err == nil {
			keys[string(cs.CertDer)] = cert.PublicKey
		}
	}
	return keys
}

// verify checks a block's orderer signature: by a consenter of the
// configuration in force, over protocol.OrdererSignedBytes(header hash,
// last config), ECDSA P-256 (ASN.1 over SHA-256) or Ed25519.
func (keys consenterKeys) verify(b *pb.Block) error {
	sig := b.GetMetadata().GetSignature()
	if sig == nil || len(sig.Signature) == 0 {
		return errors.New("orderer signature missing")
	}
	signer, err := protocol.ParseSerializedIdentity(sig.Signer)
	if err != nil {
		return fmt.Errorf("orderer signature: %w", err)
	}
	pub, ok := keys[string(signer.CertDer)]
	if !ok {
		return errors.New("orderer signature: the signer is not a consenter")
	}
	msg := protocol.OrdererSignedBytes(protocol.BlockHeaderHash(b.Header), b.Metadata.LastConfig)
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		digest := sha256.Sum256(msg)
		ok = ecdsa.VerifyASN1(k, digest[:], sig.Signature)
	case ed25519.PublicKey:
		ok = ed25519.Verify(k, msg, sig.Signature)
	default:
		ok = false
	}
	if !ok {
		return errors.New("orderer signature does not verify")
	}
	return nil
}
