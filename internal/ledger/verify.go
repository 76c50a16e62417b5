package ledger

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// Report is the outcome of Verify.
type Report struct {
	Dir               string   `json:"dir"`
	OK                bool     `json:"ok"`
	Segments          int      `json:"segments"`
	Blocks            uint64   `json:"blocks"`        // good blocks read from the block files
	IndexedHeight     uint64   `json:"indexedHeight"` // height recorded in the index
	Transactions      uint64   `json:"transactions"`
	ValidTransactions uint64   `json:"validTransactions"`
	StateKeys         uint64   `json:"stateKeys"`
	LastBlockHash     string   `json:"lastBlockHash,omitempty"` // hex, at the indexed height
	CommitHash        string   `json:"commitHash,omitempty"`    // hex, at the indexed height
	StateHash         string   `json:"stateHash,omitempty"`     // hex, of the state DB
	BadBlock          *uint64  `json:"badBlock,omitempty"`      // the first bad block
	Problem           string   `json:"problem,omitempty"`
	Warnings          []string `json:"warnings,omitempty"`

	// SnapshotHeight and SnapshotHash are set for a ledger created from a
	// snapshot: verification starts from the snapshot's state at that
	// height (the copy kept in the ledger's snapshot/ directory).
	SnapshotHeight uint64 `json:"snapshotHeight,omitempty"`
	SnapshotHash   string `json:"snapshotHash,omitempty"`
}

// VerifyError names the first bad block Verify found.
type VerifyError struct {
	Block  uint64
	Reason string
}

func (e *VerifyError) Error() string { return fmt.Sprintf("block %d: %s", e.Block, e.Reason) }

// Verify re-checks the ledger in dir, which no process may have open: every
// block record's checksum, the hash chain, each block's data hash, every
// orderer signature against the consenters of the config in force before
// the block, metadata.last_config, each commit hash, the block and tx
// indexes, and the state DB against a replay of every block's public writes
// (kept in memory). A ledger that fails returns a *VerifyError naming the
// first bad block, and a report with OK false; any other error means the
// ledger could not be read. Blocks in the block file beyond the indexed
// height (a crash before indexing) are checked but only warned about, as is
// a torn record after them: Open replays or cuts them. A ledger created
// from a snapshot at height H is verified from H on: its kept copy of the
// snapshot is re-checked (file hashes, last block, records) and seeds the
// replayed state, and block H must chain onto the snapshot's last block.
func Verify(dir string) (Report, error) {
	rep := Report{Dir: dir}
	err := verify(dir, &rep)
	var verr *VerifyError
	if errors.As(err, &verr) {
		rep.BadBlock = &verr.Block
		rep.Problem = verr.Error()
	} else if err != nil {
		rep.Problem = err.Error()
	}
	rep.OK = err == nil
	return rep, err
}

func verify(dir string, rep *Report) error {
	blockDir := filepath.Join(dir, "blocks")
	if _, err := os.Stat(blockDir); err != nil {
		return fmt.Errorf("no ledger in %s: %w", dir, err)
	}
	segs, err := listSegments(blockDir)
	if err != nil {
		return err
	}
	rep.Segments = len(segs)
	db, err := pebble.Open(filepath.Join(dir, "index"), verifyPebbleOptions())
	if err != nil {
		return fmt.Errorf("open index: %w", err)
	}
	defer db.Close()
	m, err := readMeta(db)
	if err != nil {
		return err
	}
	rep.IndexedHeight = m.height

	v := &verifier{db: db, blockDir: blockDir, state: make(map[string]replayed), hashed: make(map[string]replayed)}
	base, err := readBase(db)
	if err != nil {
		return err
	}
	var start uint64
	if base != nil {
		if err := v.startFromSnapshot(filepath.Join(dir, snapshotDirInLedger), base); err != nil {
			return &VerifyError{base.height, err.Error()}
		}
		start = base.height
		rep.SnapshotHeight, rep.SnapshotHash = base.height, hex.EncodeToString(base.snapshotHash)
		if m.height == start && (!bytes.Equal(m.lastHash, base.lastHash) || !bytes.Equal(m.commitHash, base.commitHash)) {
			return &VerifyError{start, "index meta record disagrees with the snapshot the ledger was created from"}
		}
	}
	sc, err := newRecordScanner(blockDir, segs, 1, 0)
	if err != nil {
		return err
	}
	defer sc.close()
	for {
		number := v.chain.height
		payload, loc, err := sc.next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, ErrRecordTruncated) || errors.Is(err, ErrRecordCorrupt) {
			if number >= m.height && sc.lastSegment() {
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("torn record after block %d at %s offset %d (cut on next open): %v", int64(number)-1, segmentName(loc.Segment), loc.Offset, err))
				break
			}
			return &VerifyError{number, fmt.Sprintf("%s offset %d: %v", segmentName(loc.Segment), loc.Offset, err)}
		}
		if err != nil {
			return err
		}
		if err := v.block(payload, loc, number < m.height); err != nil {
			return &VerifyError{number, err.Error()}
		}
		rep.Blocks++
		rep.Transactions += v.txs
		rep.ValidTransactions += v.valid
		if v.chain.height == m.height {
			if !bytes.Equal(v.chain.lastHash, m.lastHash) || !bytes.Equal(v.chain.commitHash, m.commitHash) || v.chain.lastConfig != m.lastConfig {
				return &VerifyError{number, "index meta record disagrees with the block file"}
			}
		}
	}
	if end := start + rep.Blocks; end < m.height {
		return &VerifyError{end, fmt.Sprintf("missing from the block file (index height %d)", m.height)}
	} else if end > m.height {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("blocks %d..%d are not indexed yet (replayed on next open)", m.height, end-1))
	}
	if m.height > 0 {
		rep.LastBlockHash = hex.EncodeToString(m.lastHash)
		rep.CommitHash = hex.EncodeToString(m.commitHash)
	}
	if err := v.compareState(rep); err != nil {
		return err
	}
	if err := v.comparePrivateState(); err != nil {
		return err
	}
	if m.height > 0 {
		return v.checkHistoryCount(m.height)
	}
	return nil
}

// startFromSnapshot sets the verifier up at the snapshot a ledger was
// created from: the chain at its height, and the replayed state and hashed
// private state as its (re-checked) files hold them.
func (v *verifier) startFromSnapshot(dir string, base *snapshotBase) error {
	info, err := ReadSnapshotInfo(dir)
	if err != nil {
		return err
	}
	if !bytes.Equal(info.Hash, base.snapshotHash) {
		return fmt.Errorf("the ledger's snapshot copy hashes to %s, the ledger was created from %x", info.HashHex(), base.snapshotHash)
	}
	copied, err := checkSnapshotBlocks(dir, info)
	if err != nil {
		return err
	}
	if !bytes.Equal(copied.lastHash, base.lastHash) || !bytes.Equal(copied.commitHash, base.commitHash) {
		return errors.New("the ledger's snapshot record disagrees with its snapshot copy")
	}
	cfg, _, err := ConfigFromBlock(base.configBlock)
	if err != nil {
		return err
	}
	v.chain = chain{height: base.height, lastHash: base.lastHash, commitHash: base.commitHash,
		lastConfig: base.configBlock.Header.Number, config: cfg, keys: newConsenterKeys(cfg)}
	for _, f := range info.Manifest.Files {
		part, ok := partByName(f.Name)
		if !ok {
			continue
		}
		if err := streamChecked(filepath.Join(dir, f.Name), io.Discard, f); err != nil {
			return err
		}
		_, err := readSnapshotPart(filepath.Join(dir, f.Name), part, base.height, func(k, val []byte) error {
			switch k[0] {
			case prefixState:
				ns, key, _ := splitStateKey(k)
				ver, value, _ := decodeStateValue(val)
				v.state[ns+"\x00"+key] = replayed{ver, append([]byte(nil), value...)}
			case prefixHashed:
				ver, vh, _ := decodeStateValue(val)
				v.hashed[string(k)] = replayed{ver, append([]byte(nil), vh...)}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func verifyPebbleOptions() *pebble.Options {
	opts := pebbleOptions(slog.New(slog.DiscardHandler))
	opts.ReadOnly, opts.ErrorIfNotExists = true, true
	return opts
}

// replayed is a key's value in the in-memory replay of the blocks.
type replayed struct {
	version Version
	value   []byte
}

type verifier struct {
	db       *pebble.DB
	blockDir string
	chain    chain
	state    map[string]replayed // ns ‖ 0x00 ‖ key -> value
	// hashed is the replayed hashed private state: the key of its
	// Pebble entry -> value hash.
	hashed map[string]replayed
	// history counts the history entries the indexed blocks account for.
	history uint64
	// per-block counters
	txs, valid uint64
}

// block checks one block read from the block file. indexed says the index
// claims it; only indexed blocks are replayed into the state.
func (v *verifier) block(payload []byte, loc location, indexed bool) error {
	block := new(pb.Block)
	if err := protocol.Unmarshal(payload, block, MaxRecordBytes); err != nil {
		return err
	}
	cb, err := v.chain.check(block)
	if err != nil {
		return err
	}
	codes, writes, private, err := v.chain.storedEffects(cb)
	if err != nil {
		return err
	}
	number := block.Header.Number
	v.txs, v.valid = uint64(len(codes)), 0
	for _, c := range codes {
		if c == pb.TxValidationCode_VALID {
			v.valid++
		}
	}
	if indexed {
		if err := v.checkIndex(cb, codes, loc); err != nil {
			return err
		}
		if err := v.checkHistory(number, writes); err != nil {
			return err
		}
		for i, ws := range writes {
			for _, w := range ws {
				k := w.Namespace + "\x00" + w.Key
				if w.IsDelete {
					delete(v.state, k)
				} else {
					v.state[k] = replayed{Version{number, uint64(i)}, w.Value}
				}
			}
		}
		for i, hs := range private {
			for _, h := range hs {
				k := string(hashedKey(h.Namespace, h.Collection, h.KeyHash))
				if h.IsDelete {
					delete(v.hashed, k)
				} else {
					v.hashed[k] = replayed{Version{number, uint64(i)}, h.ValueHash}
				}
			}
		}
	}
	v.chain.advance(cb, block.Metadata.CommitHash)
	return nil
}

// checkIndex compares a block's index entries with the block itself.
func (v *verifier) checkIndex(cb *checkedBlock, codes []pb.TxValidationCode, loc location) error {
	number := cb.block.Header.Number
	b, closer, err := v.db.Get(blockKey(number))
	if err != nil {
		return fmt.Errorf("block index entry: %v", err)
	}
	e, err := decodeBlockEntry(b)
	closer.Close()
	if err != nil {
		return err
	}
	if e.loc != loc || !bytes.Equal(e.commitHash, cb.block.Metadata.CommitHash) {
		return errors.New("block index entry disagrees with the block file")
	}
	for i, env := range cb.block.Data.Envelopes {
		txID := envelopeTxID(env)
		if txID == "" || len(txID) > MaxTxIDBytes {
			continue
		}
		b, closer, err := v.db.Get(txKey(txID))
		if err != nil {
			return fmt.Errorf("transaction %d (%s) missing from the tx index: %v", i, txID, err)
		}
		info, err := decodeTxInfo(b)
		closer.Close()
		if err != nil {
			return err
		}
		// Later duplicates keep the first occurrence's entry.
		if info.Block > number || (info.Block == number && info.Index > uint32(i)) {
			return fmt.Errorf("transaction %d (%s): tx index points at a later position", i, txID)
		}
		if info.Block == number && info.Index == uint32(i) && info.Code != codes[i] {
			return fmt.Errorf("transaction %d (%s): tx index code %d, block says %d", i, txID, info.Code, codes[i])
		}
	}
	return nil
}

// checkHistory checks that the history index holds an entry for every key
// a block writes, with the right delete flag.
func (v *verifier) checkHistory(number uint64, writes [][]Write) error {
	for i, ws := range writes {
		// The last write of a key in a transaction sets its entry.
		last := make(map[string]bool, len(ws))
		for _, w := range ws {
			last[w.Namespace+"\x00"+w.Key] = w.IsDelete
		}
		for k, isDelete := range last {
			ns, key, _ := strings.Cut(k, "\x00")
			b, closer, err := v.db.Get(historyKey(ns, key, Version{number, uint64(i)}))
			if err != nil {
				return fmt.Errorf("transaction %d: history entry of %s: %v", i, printableKey(k), err)
			}
			ok := len(b) == 1 && (b[0] == 1) == isDelete
			closer.Close()
			if !ok {
				return fmt.Errorf("transaction %d: history entry of %s is wrong", i, printableKey(k))
			}
		}
		v.history += uint64(len(last))
	}
	return nil
}

// checkHistoryCount compares the number of history entries with the number
// the blocks account for; an entry no block accounts for is named by the
// block its version points at.
func (v *verifier) checkHistoryCount(height uint64) error {
	it, err := v.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixHistory}, UpperBound: []byte{prefixHistory + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	var n uint64
	var firstBad *uint64
	for ok := it.First(); ok; ok = it.Next() {
		n++
		k := it.Key()
		if len(k) < 16 {
			return &VerifyError{0, "malformed history index entry"}
		}
		if b := binary.BigEndian.Uint64(k[len(k)-16:]); b >= height && firstBad == nil {
			firstBad = &b
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	if firstBad != nil {
		return &VerifyError{*firstBad, "history index holds an entry of a block beyond the indexed height"}
	}
	if n != v.history {
		return v.findExtraHistory(n)
	}
	return nil
}

// findExtraHistory names the block of the first history entry that no
// write accounts for, re-reading blocks (a failure path only).
func (v *verifier) findExtraHistory(n uint64) error {
	it, err := v.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixHistory}, UpperBound: []byte{prefixHistory + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	cache := make(map[uint64][][]Write)
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		ns, rest, found := bytes.Cut(k[1:], []byte{0})
		if !found || len(rest) < 4+16 || int(binary.BigEndian.Uint32(rest))+4+16 != len(rest) {
			return &VerifyError{0, "malformed history index entry"}
		}
		key := rest[4 : len(rest)-16]
		ver := Version{binary.BigEndian.Uint64(rest[len(rest)-16:]), binary.BigEndian.Uint64(rest[len(rest)-8:])}
		writes, ok := cache[ver.Block]
		if !ok {
			if writes, err = v.blockWrites(ver.Block); err != nil {
				return err
			}
			if len(cache) > 256 {
				clear(cache)
			}
			cache[ver.Block] = writes
		}
		accounted := false
		if ver.Tx < uint64(len(writes)) {
			for _, w := range writes[ver.Tx] {
				accounted = accounted || (w.Namespace == string(ns) && w.Key == string(key))
			}
		}
		if !accounted {
			return &VerifyError{ver.Block, fmt.Sprintf("history index holds an entry for %s/%q that transaction %d does not write", ns, key, ver.Tx)}
		}
	}
	return &VerifyError{0, fmt.Sprintf("history index holds %d entries, the blocks account for %d", n, v.history)}
}

// blockWrites reads an indexed block back and extracts its writes.
func (v *verifier) blockWrites(number uint64) ([][]Write, error) {
	b, closer, err := v.db.Get(blockKey(number))
	if err != nil {
		return nil, &VerifyError{number, fmt.Sprintf("block index entry: %v", err)}
	}
	e, err := decodeBlockEntry(b)
	closer.Close()
	if err != nil {
		return nil, &VerifyError{number, err.Error()}
	}
	f, err := os.Open(filepath.Join(v.blockDir, segmentName(e.loc.Segment)))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, RecordHeaderSize+int(e.loc.Length))
	if _, err := f.ReadAt(buf, e.loc.Offset); err != nil {
		return nil, err
	}
	payload, _, err := DecodeRecord(buf)
	if err != nil {
		return nil, &VerifyError{number, err.Error()}
	}
	block := new(pb.Block)
	if err := protocol.Unmarshal(payload, block, MaxRecordBytes); err != nil {
		return nil, &VerifyError{number, err.Error()}
	}
	return ExtractPublicWrites(block, DecodeValidationCodes(block.GetMetadata().GetValidationCodes()))
}

// compareState walks the state DB and the replayed state in key order and
// names the block behind the first difference.
func (v *verifier) compareState(rep *Report) error {
	keys := make([]string, 0, len(v.state))
	for k := range v.state {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmp.Compare[string])
	h := newStateHasher()
	i := 0
	err := StateReader{r: v.db}.forEachState(func(ns, key string, ver Version, value []byte) error {
		h.add(ns, key, ver, value)
		rep.StateKeys++
		k := ns + "\x00" + key
		if i < len(keys) && keys[i] < k {
			r := v.state[keys[i]]
			return &VerifyError{r.version.Block, fmt.Sprintf("state DB lacks %s written by this block", printableKey(keys[i]))}
		}
		if i >= len(keys) || keys[i] > k {
			return &VerifyError{ver.Block, fmt.Sprintf("state DB holds %s, which no block leaves there", printableKey(k))}
		}
		r := v.state[keys[i]]
		i++
		if r.version != ver || !bytes.Equal(r.value, value) {
			return &VerifyError{max(r.version.Block, ver.Block), fmt.Sprintf("state DB value of %s differs from the replayed blocks", printableKey(k))}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if i < len(keys) {
		r := v.state[keys[i]]
		return &VerifyError{r.version.Block, fmt.Sprintf("state DB lacks %s written by this block", printableKey(keys[i]))}
	}
	rep.StateHash = hex.EncodeToString(h.sum())
	return nil
}

// printableKey renders ns ‖ 0x00 ‖ key as ns/"key".
func printableKey(k string) string {
	ns, key, _ := bytes.Cut([]byte(k), []byte{0})
	return fmt.Sprintf("%s/%q", ns, key)
}

// comparePrivateState checks the hashed private state against the replayed
// blocks, and that every private value stored at the version its hashed
// state names hashes to that state's value hash (older values, kept while
// the newer one is missing, are never served and not checked).
func (v *verifier) comparePrivateState() error {
	it, err := v.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixHashed}, UpperBound: []byte{prefixHashed + 1}})
	if err != nil {
		return err
	}
	seen := 0
	for it.First(); it.Valid(); it.Next() {
		ver, vh, err := decodeStateValue(it.Value())
		if err != nil {
			it.Close()
			return err
		}
		r, ok := v.hashed[string(it.Key())]
		if !ok || r.version != ver || !bytes.Equal(r.value, vh) {
			it.Close()
			return &VerifyError{ver.Block, "hashed private state disagrees with the replayed blocks"}
		}
		seen++
	}
	if err := it.Close(); err != nil {
		return err
	}
	if seen != len(v.hashed) {
		for _, r := range v.hashed {
			return &VerifyError{r.version.Block, fmt.Sprintf("hashed private state lacks %d entries the blocks write", len(v.hashed)-seen)}
		}
	}
	pit, err := v.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixPrivate}, UpperBound: []byte{prefixPrivate + 1}})
	if err != nil {
		return err
	}
	defer pit.Close()
	for pit.First(); pit.Valid(); pit.Next() {
		rest := pit.Key()[1:]
		ns, after, ok1 := bytes.Cut(rest, []byte{0})
		coll, key, ok2 := bytes.Cut(after, []byte{0})
		if !ok1 || !ok2 {
			return errors.New("malformed private state key")
		}
		ver, value, err := decodeStateValue(pit.Value())
		if err != nil {
			return err
		}
		kh := sha256.Sum256(key)
		r, ok := v.hashed[string(hashedKey(string(ns), string(coll), kh[:]))]
		if !ok || r.version != ver {
			continue
		}
		if vh := sha256.Sum256(value); !bytes.Equal(vh[:], r.value) {
			return &VerifyError{ver.Block, fmt.Sprintf("private value in %s/%s does not match the block's hash", ns, coll)}
		}
	}
	return pit.Error()
}
