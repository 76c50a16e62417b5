package ledger

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"

	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// Errors returned by the ledger.
var (
	// ErrNotFound: no such block or transaction.
	ErrNotFound = errors.New("not found")
	// ErrClosed: the ledger was closed.
	ErrClosed = errors.New("ledger closed")
)

// Options tune a ledger. The zero value is the production setting.
type Options struct {
	// SegmentSize is the size at which a new block segment starts
	// (0: DefaultSegmentSize).
	SegmentSize int64
	// Logger receives recovery notices and Pebble's errors (nil: discard).
	Logger *slog.Logger
}

// CommitResult is the validator's verdict on a block.
type CommitResult struct {
	// Codes has one validation code per envelope of the block.
	Codes []pb.TxValidationCode
	// Writes has, per envelope, the public writes to apply: empty for
	// every transaction that is not VALID. They must be what
	// ExtractPublicWrites returns for the block (replay and Verify
	// re-extract them); nil makes Commit extract them itself.
	Writes [][]Write
	// Private has, per envelope (nil, shorter, or nil entries: none), the
	// private read/write sets this peer holds for the transaction, for
	// collections its member belongs to. Commit stores a collection's
	// writes only for a VALID transaction and only if they match the
	// block's hashed writes of that collection (SHA-256 of each key and
	// value); otherwise the collection is recorded as missing. Private data
	// never changes validation codes or the commit hash.
	Private []*pb.TxPvtReadWriteSet
	// PrivateHashes has, per envelope, the hashed private writes the
	// transaction commits: what ExtractPrivateWriteHashes returns for the
	// block (replay and Verify re-extract them, and the commit hash covers
	// them). nil makes Commit extract them itself.
	PrivateHashes [][]PrivateWriteHash
	// Eligible reports whether this peer's member belongs to a collection:
	// a valid transaction's hashed writes to such a collection for which
	// Private holds nothing are recorded as missing (MissingPrivateData).
	// nil: only collections present in Private are eligible.
	Eligible func(namespace, collection string) bool
	// BlockToLive returns a collection's blockToLive n (nil, or 0: keep
	// its data forever): the private data a transaction of this block b
	// writes to it, held or missing here, is purged by the commit of
	// block b+n+1 (ExpiringBlock; Fabric's rule), in that block's own
	// index batch. The hashed writes stay. See purge.go.
	BlockToLive func(namespace, collection string) uint64
}

// Ledger is one channel's ledger on a peer. Commit is serialised; every
// read method is safe to call concurrently with Commit and with each other.
type Ledger struct {
	dir    string
	log    *slog.Logger
	db     *pebble.DB
	blocks *blockStore

	commitMu sync.Mutex // serialises Commit, recovery and Close
	closed   bool
	// failed is set when a commit failed after its commit point: the block
	// is in the block file but not indexed. Only reopening (which replays
	// it) clears it.
	failed error

	// base is set for a ledger created from a snapshot (immutable).
	base *snapshotBase

	mu     sync.RWMutex // guards chain and changed
	chain  chain
	config *pb.ChannelConfig
	// changed is closed and replaced at every commit.
	changed chan struct{}

	// exports counts running ExportSnapshot calls: Close waits for them.
	exports sync.WaitGroup
	// snapshotWaiters are exports waiting for a height: the commit that
	// reaches it hands each a view of the index (guarded by commitMu).
	snapshotWaiters map[uint64][]chan *pebble.Snapshot

	// stageDirty says private data may be staged for a block not yet
	// committed (guarded by commitMu).
	stageDirty bool

	// txids holds every transaction ID of the index (see txIDFilter).
	txids *txIDFilter

	// afterAppend, if set (tests only), runs after the block record is
	// durable and before the index batch; an error aborts the commit there,
	// as a crash would.
	afterAppend func() error
	// afterIndex, if set (tests only), runs after the index batch is in
	// Pebble and before the in-memory height advances.
	afterIndex func()
}

// Open opens (creating if needed) the ledger in dir. It replays blocks that
// are in the block file but not yet indexed and truncates a record torn by
// a crash at the end of the last segment.
func Open(dir string, opts Options) (*Ledger, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	blocks, err := openBlockStore(filepath.Join(dir, "blocks"), opts.SegmentSize)
	if err != nil {
		return nil, fmt.Errorf("open block store: %w", err)
	}
	db, err := pebble.Open(filepath.Join(dir, "index"), pebbleOptions(log))
	if err != nil {
		blocks.close()
		return nil, fmt.Errorf("open index: %w", err)
	}
	l := &Ledger{dir: dir, log: log, db: db, blocks: blocks, changed: make(chan struct{})}
	if l.txids, err = loadTxIDFilter(db); err != nil {
		db.Close()
		blocks.close()
		return nil, fmt.Errorf("read transaction IDs: %w", err)
	}
	if err := l.load(); err != nil {
		l.db.Close()
		l.blocks.close()
		return nil, err
	}
	return l, nil
}

// pebbleOptions tunes the index database: Bloom filters, since every
// commit looks up each transaction ID, almost always absent.
func pebbleOptions(log *slog.Logger) *pebble.Options {
	opts := &pebble.Options{Logger: pebbleLogger{log}, CacheSize: 32 << 20}
	opts.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	return opts
}

// load reads the meta record and the current config, then recovers.
func (l *Ledger) load() error {
	m, err := readMeta(l.db)
	if err != nil {
		return err
	}
	if l.base, err = readBase(l.db); err != nil {
		return err
	}
	l.chain = chain{height: m.height, lastHash: m.lastHash, commitHash: m.commitHash, lastConfig: m.lastConfig}
	if m.height > 0 {
		cfgBlock, err := l.configBlock(m.lastConfig)
		if err != nil {
			return fmt.Errorf("read config block %d: %w", m.lastConfig, err)
		}
		cfg, ok, err := ConfigFromBlock(cfgBlock)
		if err != nil {
			return fmt.Errorf("last config block %d: %w", m.lastConfig, err)
		}
		if !ok {
			return fmt.Errorf("index names block %d as the last config block, but it is not a config block", m.lastConfig)
		}
		l.chain.config, l.chain.keys, l.config = cfg, newConsenterKeys(cfg), cfg
	}
	if err := l.recoverBlockFile(); err != nil {
		return err
	}
	return l.clearStaleStaging()
}

func readMeta(r pebble.Reader) (meta, error) {
	b, closer, err := r.Get(metaKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return meta{}, nil
	}
	if err != nil {
		return meta{}, fmt.Errorf("read ledger meta: %w", err)
	}
	defer closer.Close()
	return decodeMeta(b)
}

// recoverBlockFile replays the blocks beyond the indexed height and cuts a
// torn tail.
func (l *Ledger) recoverBlockFile() error {
	seg, off := uint32(1), int64(0)
	if l.chain.height > l.baseHeight() {
		e, err := l.blockEntry(l.chain.height - 1)
		if err != nil {
			return fmt.Errorf("index of block %d: %w", l.chain.height-1, err)
		}
		seg, off = e.loc.Segment, e.loc.end()
	}
	segs, err := listSegments(l.blocks.dir)
	if err != nil {
		return err
	}
	sc, err := newRecordScanner(l.blocks.dir, segs, seg, off)
	if err != nil {
		return fmt.Errorf("block file does not hold the indexed blocks: %w", err)
	}
	defer sc.close()
	replayed := 0
	for {
		payload, loc, err := sc.next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, ErrRecordTruncated) || errors.Is(err, ErrRecordCorrupt) {
			if !sc.lastSegment() {
				return fmt.Errorf("block file corrupt at %s offset %d: %w", segmentName(loc.Segment), loc.Offset, err)
			}
			size, serr := l.blocks.size(loc.Segment)
			if serr != nil {
				return serr
			}
			l.log.Warn("ledger: cutting a torn record at the end of the block file",
				"segment", segmentName(loc.Segment), "offset", loc.Offset, "bytes", size-loc.Offset, "reason", err.Error())
			if err := l.blocks.truncate(loc.Segment, loc.Offset); err != nil {
				return fmt.Errorf("cut torn record: %w", err)
			}
			break
		}
		if err != nil {
			return err
		}
		if err := l.replay(payload, loc); err != nil {
			return fmt.Errorf("replay block %d: %w", l.chain.height, err)
		}
		replayed++
	}
	if replayed > 0 {
		l.log.Info("ledger: replayed blocks missing from the index", "count", replayed, "height", l.chain.height)
	}
	return nil
}

// replay indexes a block found in the block file beyond the indexed height.
func (l *Ledger) replay(payload []byte, loc location) error {
	block := new(pb.Block)
	if err := protocol.Unmarshal(payload, block, MaxRecordBytes); err != nil {
		return err
	}
	cb, err := l.chain.check(block)
	if err != nil {
		return err
	}
	codes, writes, private, err := l.chain.storedEffects(cb)
	if err != nil {
		return err
	}
	return l.apply(cb, codes, writes, private, block.Metadata.CommitHash, loc)
}

// Close waits for a running commit and closes the ledger. Iterators and
// snapshots must be closed first.
func (l *Ledger) Close() error {
	l.commitMu.Lock()
	if l.closed {
		l.commitMu.Unlock()
		return nil
	}
	l.closed = true
	// Exports waiting for a height give up; running ones finish first.
	for _, ws := range l.snapshotWaiters {
		for _, w := range ws {
			close(w)
		}
	}
	l.snapshotWaiters = nil
	l.commitMu.Unlock()
	l.exports.Wait()
	l.commitMu.Lock()
	defer l.commitMu.Unlock()
	err := l.db.Close()
	if berr := l.blocks.close(); err == nil {
		err = berr
	}
	return err
}

// Commit stores a validated block: it fills the block's metadata with the
// validation codes and the commit hash (on a copy: the caller's block is
// not changed), appends it to the block file and fsyncs (the commit point),
// then applies state, history, indexes and height in one synchronous Pebble
// batch. It refuses, changing nothing, a block that does not follow the
// ledger (number, previous hash, data hash, last_config, orderer signature
// against the config in force) or whose result does not fit it. A config
// block takes effect whatever its validation code: the ordering service
// validated it.
func (l *Ledger) Commit(block *pb.Block, result CommitResult) error {
	l.commitMu.Lock()
	defer l.commitMu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.failed != nil {
		return fmt.Errorf("ledger needs reopening after a failed commit: %w", l.failed)
	}
	number := block.GetHeader().GetNumber()
	cb, err := l.chain.check(block)
	if err != nil {
		return fmt.Errorf("block %d refused: %w", number, err)
	}
	envs := block.GetData().GetEnvelopes()
	codeBytes, err := EncodeValidationCodes(result.Codes)
	if err == nil && len(result.Codes) != len(envs) {
		err = fmt.Errorf("%d validation codes for %d transactions", len(result.Codes), len(envs))
	}
	if err != nil {
		return fmt.Errorf("block %d refused: %w", number, err)
	}
	writes := result.Writes
	if writes == nil {
		if writes, err = ExtractPublicWrites(block, result.Codes); err != nil {
			return fmt.Errorf("block %d refused: %w", number, err)
		}
	} else if err := checkWrites(writes, result.Codes); err != nil {
		return fmt.Errorf("block %d refused: %w", number, err)
	}
	private := result.PrivateHashes
	if private == nil {
		if private, err = ExtractPrivateWriteHashes(block, result.Codes); err != nil {
			return fmt.Errorf("block %d refused: %w", number, err)
		}
	} else if err := checkPrivateHashes(private, result.Codes); err != nil {
		return fmt.Errorf("block %d refused: %w", number, err)
	}
	if len(result.Private) > len(envs) {
		return fmt.Errorf("block %d refused: private data for %d transactions, block has %d", number, len(result.Private), len(envs))
	}
	commitHash := ComputeCommitHash(l.chain.commitHash, block.Header, codeBytes, writes, private)
	// Private values are durable before the commit point (DESIGN §11):
	// staged now, moved into the private store with the block's index batch
	// (or by the replay after a crash).
	pvtWrites, missing := make([][]privateWrite, len(envs)), make([][]collRef, len(envs))
	for i := range envs {
		var held *pb.TxPvtReadWriteSet
		if i < len(result.Private) {
			held = result.Private[i]
		}
		pvtWrites[i], missing[i] = matchPrivateData(private[i], held, result.Eligible)
	}
	if err := l.stagePrivate(number, pvtWrites, missing, result.BlockToLive); err != nil {
		return fmt.Errorf("block %d: stage private data: %w", number, err)
	}
	stored := &pb.Block{
		Header: block.Header,
		Data:   block.Data,
		Metadata: &pb.BlockMetadata{
			Signature:       block.GetMetadata().GetSignature(),
			LastConfig:      block.GetMetadata().GetLastConfig(),
			ValidationCodes: codeBytes,
			CommitHash:      commitHash,
		},
	}
	payload, err := protocol.Marshal(stored)
	if err != nil {
		return fmt.Errorf("block %d: marshal: %w", number, err)
	}
	if len(payload) > MaxRecordBytes {
		return fmt.Errorf("block %d refused: %d bytes (limit %d)", number, len(payload), MaxRecordBytes)
	}
	loc, err := l.blocks.append(encodeRecord(payload))
	if err != nil {
		return fmt.Errorf("block %d: %w", number, err)
	}
	// The block is committed from here on: a failure below leaves it in the
	// block file for the next Open to replay.
	if l.afterAppend != nil {
		if err := l.afterAppend(); err != nil {
			l.failed = err
			return fmt.Errorf("block %d: %w", number, err)
		}
	}
	cb.block = stored
	if err := l.apply(cb, result.Codes, writes, private, commitHash, loc); err != nil {
		l.failed = err
		return fmt.Errorf("block %d: index: %w", number, err)
	}
	l.stageDirty = false
	return nil
}

// checkWrites checks writes handed to Commit against the codes.
func checkWrites(writes [][]Write, codes []pb.TxValidationCode) error {
	return checkPerTx("writes", writes, codes, checkWrite)
}

// checkPrivateHashes checks a caller's hashed private writes the way
// checkWrites checks its public ones.
func checkPrivateHashes(private [][]PrivateWriteHash, codes []pb.TxValidationCode) error {
	return checkPerTx("hashed private writes", private, codes, func(h PrivateWriteHash) error {
		if !h.wellFormed() {
			return fmt.Errorf("malformed hashed private write in %s/%s", h.Namespace, h.Collection)
		}
		return nil
	})
}

// checkPerTx checks per-transaction effects (what names them) handed to
// Commit: one entry per transaction, none for a transaction that is not
// VALID, each passing check.
func checkPerTx[T any](what string, perTx [][]T, codes []pb.TxValidationCode, check func(T) error) error {
	if len(perTx) != len(codes) {
		return fmt.Errorf("%s for %d transactions, %d validation codes", what, len(perTx), len(codes))
	}
	for i, effects := range perTx {
		if codes[i] != pb.TxValidationCode_VALID && len(effects) > 0 {
			return fmt.Errorf("transaction %d is %s but has %s", i, codes[i], what)
		}
		for _, e := range effects {
			if err := check(e); err != nil {
				return fmt.Errorf("transaction %d: %w", i, err)
			}
		}
	}
	return nil
}

// apply writes a block's index entries, effects and the new meta in one
// synchronous batch, then advances the in-memory chain and wakes waiters.
func (l *Ledger) apply(cb *checkedBlock, codes []pb.TxValidationCode, writes [][]Write, private [][]PrivateWriteHash, commitHash []byte, loc location) error {
	number := cb.block.Header.Number
	batch := l.db.NewBatch()
	defer batch.Close()
	set := func(k, v []byte) error { return batch.Set(k, v, nil) }

	if err := set(blockKey(number), blockEntry{loc: loc, commitHash: commitHash}.encode()); err != nil {
		return err
	}
	seen := make(map[string]bool, len(codes))
	for i, env := range cb.block.Data.GetEnvelopes() {
		txID := envelopeTxID(env)
		if txID == "" || len(txID) > MaxTxIDBytes || seen[txID] {
			continue
		}
		seen[txID] = true
		// The first occurrence of a txID keeps the index entry.
		exists, err := l.TxIDExists(txID)
		if err != nil {
			return err
		}
		if exists {
			continue
		}
		l.txids.add(txID) // before the batch: the filter never lacks an indexed ID
		if err := set(txKey(txID), TxInfo{Block: number, Index: uint32(i), Code: codes[i]}.encode()); err != nil {
			return err
		}
	}
	for i, ws := range writes {
		v := Version{Block: number, Tx: uint64(i)}
		for _, w := range ws {
			var err error
			if w.IsDelete {
				err = batch.Delete(stateKey(w.Namespace, w.Key), nil)
			} else {
				err = set(stateKey(w.Namespace, w.Key), encodeStateValue(v, w.Value))
			}
			if err == nil {
				flag := []byte{0}
				if w.IsDelete {
					flag[0] = 1
				}
				err = set(historyKey(w.Namespace, w.Key, v), flag)
			}
			if err != nil {
				return err
			}
		}
	}
	// Purge first: a key this block rewrites keeps its new value.
	if err := l.purgeExpired(batch, number); err != nil {
		return err
	}
	if err := l.applyPrivate(batch, number, private); err != nil {
		return err
	}
	if err := l.schedulePurges(batch, number, private); err != nil {
		return err
	}
	next := l.chain
	next.advance(cb, commitHash)
	m := meta{height: next.height, lastConfig: next.lastConfig, lastHash: next.lastHash, commitHash: next.commitHash}
	if err := set(metaKey, m.encode()); err != nil {
		return err
	}
	if err := l.db.Apply(batch, pebble.Sync); err != nil {
		return err
	}
	if l.afterIndex != nil {
		l.afterIndex()
	}
	if ws := l.snapshotWaiters[next.height]; len(ws) > 0 {
		for _, w := range ws {
			w <- l.db.NewSnapshot()
		}
		delete(l.snapshotWaiters, next.height)
	}

	l.mu.Lock()
	l.chain = next
	l.config = next.config
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
	return nil
}

// envelopeTxID returns an envelope's txID, or "" if its header does not
// decode.
func envelopeTxID(env []byte) string {
	_, _, hdr, err := protocol.OpenEnvelope(env, MaxRecordBytes)
	if err != nil {
		return ""
	}
	return hdr.TxId
}

// Height is the number of committed blocks.
func (l *Ledger) Height() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.chain.height
}

// LastBlockHash is the header hash of the last committed block (nil at
// height 0).
func (l *Ledger) LastBlockHash() []byte {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return append([]byte(nil), l.chain.lastHash...)
}

// CommitHash returns the commit hash at height (that of block height-1):
// two peers committed the same effects up to height iff these agree.
func (l *Ledger) CommitHash(height uint64) ([]byte, error) {
	if height == 0 || height > l.Height() {
		return nil, fmt.Errorf("commit hash at height %d: %w (height %d)", height, ErrNotFound, l.Height())
	}
	if b := l.base; b != nil && height <= b.height {
		if height == b.height {
			return append([]byte(nil), b.commitHash...), nil
		}
		return nil, l.beforeSnapshot("commit hash at height", height)
	}
	e, err := l.blockEntry(height - 1)
	if err != nil {
		return nil, err
	}
	return e.commitHash, nil
}

// LastConfig returns the number of the last config block and the channel
// configuration it carries (nil at height 0). The configuration is shared:
// callers must not modify it.
func (l *Ledger) LastConfig() (uint64, *pb.ChannelConfig) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.chain.lastConfig, l.config
}

// Changed returns a channel that is closed at the next commit. Take it,
// check the height, then wait on it: no commit can be missed.
func (l *Ledger) Changed() <-chan struct{} {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.changed
}

// WaitForHeight blocks until the ledger height is at least height (block
// height-1 is committed) or ctx ends, and returns the height it saw.
func (l *Ledger) WaitForHeight(ctx context.Context, height uint64) (uint64, error) {
	for {
		l.mu.RLock()
		h, ch := l.chain.height, l.changed
		l.mu.RUnlock()
		if h >= height {
			return h, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return h, ctx.Err()
		}
	}
}

func (l *Ledger) blockEntry(number uint64) (blockEntry, error) {
	if l.base != nil && number < l.base.height {
		return blockEntry{}, l.beforeSnapshot("block", number)
	}
	b, closer, err := l.db.Get(blockKey(number))
	if errors.Is(err, pebble.ErrNotFound) {
		return blockEntry{}, fmt.Errorf("block %d: %w", number, ErrNotFound)
	}
	if err != nil {
		return blockEntry{}, err
	}
	defer closer.Close()
	return decodeBlockEntry(b)
}

// Block returns committed block number, with its validation codes and
// commit hash in the metadata. A block beyond the height is ErrNotFound;
// on a ledger created from a snapshot, a block before it is
// ErrBeforeSnapshot, except the two the snapshot carries: its last config
// block and its last block.
func (l *Ledger) Block(number uint64) (*pb.Block, error) {
	if b := l.base; b != nil && number < b.height {
		return l.snapshotBlock(number)
	}
	e, err := l.blockEntry(number)
	if err != nil {
		return nil, err
	}
	payload, err := l.blocks.read(e.loc)
	if err != nil {
		return nil, fmt.Errorf("block %d: %w", number, err)
	}
	block := new(pb.Block)
	if err := protocol.Unmarshal(payload, block, MaxRecordBytes); err != nil {
		return nil, fmt.Errorf("block %d: %w", number, err)
	}
	if block.GetHeader().GetNumber() != number {
		return nil, fmt.Errorf("block %d: index points at block %d", number, block.GetHeader().GetNumber())
	}
	return block, nil
}

// Tx returns where transaction txID was committed and its validation code
// (for a txID that occurs more than once, its first occurrence).
func (l *Ledger) Tx(txID string) (TxInfo, error) {
	b, closer, err := l.db.Get(txKey(txID))
	if errors.Is(err, pebble.ErrNotFound) {
		return TxInfo{}, fmt.Errorf("transaction %q: %w", txID, ErrNotFound)
	}
	if err != nil {
		return TxInfo{}, err
	}
	defer closer.Close()
	info, err := decodeTxInfo(b)
	if err != nil {
		return TxInfo{}, err
	}
	// The index batch is visible in Pebble a moment before the in-memory
	// height advances: a transaction counts as committed only once its
	// block is below the height, so that whoever learns of it can also
	// read the state it produced (read-after-write, DESIGN §11).
	if info.Block >= l.Height() {
		return TxInfo{}, fmt.Errorf("transaction %q: %w", txID, ErrNotFound)
	}
	return info, nil
}

// TxIDExists reports whether txID occurs in a committed block (valid or
// not), for duplicate detection.
func (l *Ledger) TxIDExists(txID string) (bool, error) {
	if !l.txids.mayContain(txID) {
		return false, nil
	}
	_, closer, err := l.db.Get(txKey(txID))
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	closer.Close()
	return true, nil
}

// BlockByTxID returns the block holding transaction txID.
func (l *Ledger) BlockByTxID(txID string) (*pb.Block, error) {
	info, err := l.Tx(txID)
	if err != nil {
		return nil, err
	}
	return l.Block(info.Block)
}

// State reads the latest committed state.
func (l *Ledger) State() StateReader { return StateReader{r: l.db, historyFrom: l.baseHeight()} }

// NewSnapshot returns a consistent view of the state at the current height.
func (l *Ledger) NewSnapshot() (*Snapshot, error) {
	snap := l.db.NewSnapshot()
	m, err := readMeta(snap)
	if err != nil {
		snap.Close()
		return nil, err
	}
	return &Snapshot{StateReader: StateReader{r: snap, historyFrom: l.baseHeight()}, snap: snap, height: m.height}, nil
}

// HistoricalWrite is what one version of a key's history wrote.
type HistoricalWrite struct {
	TxID              string
	TimestampUnixNano int64 // the transaction header's timestamp
	IsDelete          bool
	Value             []byte
}

// HistoricalWrite returns what transaction v wrote to key in namespace ns,
// read back from its block (v comes from a History iterator).
func (l *Ledger) HistoricalWrite(ns, key string, v Version) (*HistoricalWrite, error) {
	block, err := l.Block(v.Block)
	if err != nil {
		return nil, err
	}
	envs := block.GetData().GetEnvelopes()
	if v.Tx >= uint64(len(envs)) {
		return nil, fmt.Errorf("version %d/%d: %w", v.Block, v.Tx, ErrNotFound)
	}
	_, _, hdr, err := protocol.OpenEnvelope(envs[v.Tx], MaxRecordBytes)
	if err != nil {
		return nil, err
	}
	writes, err := TxPublicWrites(envs[v.Tx])
	if err != nil {
		return nil, err
	}
	var found *Write
	for i := range writes {
		if writes[i].Namespace == ns && writes[i].Key == key {
			found = &writes[i] // the last write of the key wins, as in Commit
		}
	}
	if found == nil {
		return nil, fmt.Errorf("version %d/%d does not write %s/%q: %w", v.Block, v.Tx, ns, key, ErrNotFound)
	}
	return &HistoricalWrite{TxID: hdr.TxId, TimestampUnixNano: hdr.TimestampUnixNano, IsDelete: found.IsDelete, Value: found.Value}, nil
}

// pebbleLogger sends Pebble's messages to slog: errors as errors, the rest
// at debug level.
type pebbleLogger struct{ log *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.log.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.log.Error("pebble: " + fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := "pebble: " + fmt.Sprintf(format, args...)
	p.log.Error(msg)
	panic(msg)
}
