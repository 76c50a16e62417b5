package ledger

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"github.com/blossom-ledger/blossom/internal/fsutil"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// Ledger snapshots (Fabric's `peer snapshot submitrequest` and `peer
// channel joinbysnapshot`).
//
// A snapshot is a directory of files:
//
//	snapshot.json    the manifest: channel, height, last block hash, commit
//	                 hash and state hash at the height, the last config
//	                 block's number, and name, size, SHA-256 and record
//	                 count of each file below
//	config.block     the last config block at the height (marshalled pb.Block)
//	last.block       block height-1 as committed (with its commit hash)
//	state.data       the public state of every namespace with versions
//	                 (chaincode state and _lifecycle's definitions alike)
//	txids.data       the transaction index: every transaction ID committed
//	                 below the height with where and how it committed, so
//	                 that a transaction replayed later is still refused as
//	                 a duplicate (Fabric's snapshot carries its txids too)
//	pvthashes.data   the hashed private state every peer keeps
//	local.json       the member-local manifest: the exporting peer's MSP ID,
//	                 the SHA-256 of snapshot.json, and the files below
//	purge.data       the block-to-live purge schedule and purge records
//	private.data     the private values this peer's member holds (and the
//	                 copies it serves to reconciling peers); absent when
//	                 exported without private data
//
// Every file of snapshot.json is the same on every peer of the channel at
// the same height, whatever member runs it, so the SHA-256 of
// snapshot.json (the snapshot hash) is what admins of different members
// compare before a new peer joins from it. local.json's files depend on
// the collections the exporting member belongs to: they are imported only
// by a peer of the same member.
//
// A .data file is the 8 bytes "BLSNAP1\n" followed by records
// `uint32 len(key) ‖ key ‖ uint32 len(value) ‖ value` (big-endian): the
// ledger's own index records, keys strictly ascending, each checked on
// import (decodeSnapshotPart).
//
// The history index and the block files before the height are not in a
// snapshot: a ledger created from one starts at the height.

// Snapshot file names.
const (
	SnapshotManifestFile = "snapshot.json"
	SnapshotLocalFile    = "local.json"
	snapshotConfigFile   = "config.block"
	snapshotLastFile     = "last.block"
)

// Snapshot format identifiers.
const (
	snapshotFormat      = "blossom-ledger-snapshot"
	snapshotLocalFormat = "blossom-ledger-snapshot-local"
	// SnapshotVersion is the snapshot format version this code writes and
	// reads.
	SnapshotVersion = 1
)

// Bounds on snapshot input.
const (
	maxSnapshotManifestBytes = 64 << 10
	// maxSnapshotKeyBytes bounds a record's key: the longest key the
	// ledger writes is a private state key.
	maxSnapshotKeyBytes   = 3 + MaxNamespaceBytes + MaxCollectionBytes + MaxKeyBytes + 2*sha256.Size
	maxSnapshotValueBytes = MaxRecordBytes
	// MaxSnapshotFileBytes bounds one snapshot file (1 TiB).
	MaxSnapshotFileBytes = 1 << 40
)

var snapshotMagic = []byte("BLSNAP1\n")

// snapshotPart is one .data file: the index records of some prefixes.
type snapshotPart struct {
	name     string
	prefixes []byte // ascending
	local    bool   // in local.json, not snapshot.json
}

var snapshotParts = []snapshotPart{
	{name: "state.data", prefixes: []byte{prefixState}},
	{name: "txids.data", prefixes: []byte{prefixTx}},
	{name: "pvthashes.data", prefixes: []byte{prefixHashed}},
	{name: "purge.data", prefixes: []byte{prefixSchedule, prefixPurged}, local: true},
	{name: "private.data", prefixes: []byte{prefixArchive, prefixPrivate}, local: true},
}

const privatePartName = "private.data"

func partByName(name string) (snapshotPart, bool) {
	for _, p := range snapshotParts {
		if p.name == name {
			return p, true
		}
	}
	return snapshotPart{}, false
}

// SnapshotFile describes one file of a snapshot.
type SnapshotFile struct {
	Name    string `json:"name"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
	Records uint64 `json:"records"` // records of a .data file (0 for a block)
}

// SnapshotManifest is snapshot.json.
type SnapshotManifest struct {
	Format          string         `json:"format"`
	Version         int            `json:"version"`
	Channel         string         `json:"channel"`
	Height          uint64         `json:"height"`
	LastBlockHash   string         `json:"lastBlockHash"`
	CommitHash      string         `json:"commitHash"`
	StateHash       string         `json:"stateHash"`
	LastConfigBlock uint64         `json:"lastConfigBlock"`
	Files           []SnapshotFile `json:"files"`
}

// SnapshotLocal is local.json.
type SnapshotLocal struct {
	Format       string         `json:"format"`
	Version      int            `json:"version"`
	SnapshotHash string         `json:"snapshotHash"`
	MSPID        string         `json:"mspId"`
	Files        []SnapshotFile `json:"files"`
}

// SnapshotInfo is a snapshot's manifests and its hash.
type SnapshotInfo struct {
	Manifest SnapshotManifest
	Local    SnapshotLocal
	// Hash is the SHA-256 of snapshot.json: equal on every peer of the
	// channel at the same height.
	Hash []byte
	// LocalImported is set by CreateFromSnapshot when it imported
	// local.json's files (the importing peer is of the exporting member).
	LocalImported bool
}

// HashHex is Hash in hex, as admins compare it.
func (s *SnapshotInfo) HashHex() string { return hex.EncodeToString(s.Hash) }

// ExportOptions tune ExportSnapshot.
type ExportOptions struct {
	// MSPID is the exporting peer's member, recorded in local.json.
	MSPID string
	// NoPrivate leaves the private values out (private.data).
	NoPrivate bool
	// Height is the height to export at (0: the current height).
	Height uint64
}

// viewAt returns a view of the index at height (0: the current one),
// waiting for the commit that reaches it. On success it has counted one
// more running export (l.exports): the caller must call l.exports.Done.
func (l *Ledger) viewAt(ctx context.Context, height uint64) (*pebble.Snapshot, error) {
	l.commitMu.Lock()
	if l.closed {
		l.commitMu.Unlock()
		return nil, ErrClosed
	}
	cur := l.chain.height
	switch {
	case height == 0 || height == cur:
		l.exports.Add(1)
		snap := l.db.NewSnapshot()
		l.commitMu.Unlock()
		return snap, nil
	case height < cur:
		l.commitMu.Unlock()
		return nil, fmt.Errorf("snapshot at height %d: the ledger is already at height %d", height, cur)
	}
	w := make(chan *pebble.Snapshot, 1)
	if l.snapshotWaiters == nil {
		l.snapshotWaiters = make(map[uint64][]chan *pebble.Snapshot)
	}
	l.snapshotWaiters[height] = append(l.snapshotWaiters[height], w)
	l.exports.Add(1)
	l.commitMu.Unlock()
	select {
	case snap := <-w:
		if snap == nil {
			l.exports.Done()
			return nil, ErrClosed
		}
		return snap, nil
	case <-ctx.Done():
		l.commitMu.Lock()
		if l.snapshotWaiters != nil {
			l.snapshotWaiters[height] = slices.DeleteFunc(l.snapshotWaiters[height], func(c chan *pebble.Snapshot) bool { return c == w })
		}
		l.commitMu.Unlock()
		select {
		case snap := <-w: // handed over meanwhile
			if snap != nil {
				snap.Close()
			}
		default:
		}
		l.exports.Done()
		return nil, ctx.Err()
	}
}

// ExportSnapshot writes a snapshot of the ledger into dir, which must not
// exist (it is created, mode 0700, files 0600): at its current height, or
// at opts.Height, waiting for the commit that reaches it (a height already
// passed is an error), so that peers of several members can export the
// same height and compare snapshot hashes. It reads one consistent view
// while commits go on, so a running peer can export; Close waits for a
// running export and ends a waiting one. It stops when ctx ends. On error
// nothing is left at dir.
func (l *Ledger) ExportSnapshot(ctx context.Context, dir string, opts ExportOptions) (info *SnapshotInfo, err error) {
	snap, err := l.viewAt(ctx, opts.Height)
	if err != nil {
		return nil, err
	}
	defer l.exports.Done()
	defer snap.Close()
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("snapshot directory: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	m, err := readMeta(snap)
	if err != nil {
		return nil, err
	}
	if m.height == 0 {
		return nil, errors.New("snapshot of an empty ledger")
	}
	cfgBlock, err := l.configBlock(m.lastConfig)
	if err != nil {
		return nil, err
	}
	cfg, _, err := ConfigFromBlock(cfgBlock)
	if err != nil {
		return nil, err
	}
	last, err := l.lastBlockBefore(m.height)
	if err != nil {
		return nil, err
	}
	man := SnapshotManifest{
		Format: snapshotFormat, Version: SnapshotVersion, Channel: cfg.GetChannelId(), Height: m.height,
		LastBlockHash: hex.EncodeToString(m.lastHash), CommitHash: hex.EncodeToString(m.commitHash),
		LastConfigBlock: m.lastConfig,
	}
	local := SnapshotLocal{Format: snapshotLocalFormat, Version: SnapshotVersion, MSPID: opts.MSPID}
	for _, b := range []struct {
		name  string
		block *pb.Block
	}{{snapshotConfigFile, cfgBlock}, {snapshotLastFile, last}} {
		raw, err := protocol.Marshal(b.block)
		if err != nil {
			return nil, err
		}
		if err := writeSnapshotFile(filepath.Join(dir, b.name), raw); err != nil {
			return nil, err
		}
		sum := sha256.Sum256(raw)
		man.Files = append(man.Files, SnapshotFile{Name: b.name, Size: int64(len(raw)), SHA256: hex.EncodeToString(sum[:])})
	}
	for _, part := range snapshotParts {
		if part.name == privatePartName && opts.NoPrivate {
			continue
		}
		f, stateHash, err := exportPart(ctx, snap, filepath.Join(dir, part.name), part)
		if err != nil {
			return nil, fmt.Errorf("snapshot %s: %w", part.name, err)
		}
		if part.local {
			local.Files = append(local.Files, f)
		} else {
			man.Files = append(man.Files, f)
		}
		if stateHash != nil {
			man.StateHash = hex.EncodeToString(stateHash)
		}
	}
	manRaw, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeSnapshotFile(filepath.Join(dir, SnapshotManifestFile), manRaw); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(manRaw)
	local.SnapshotHash = hex.EncodeToString(sum[:])
	localRaw, err := json.MarshalIndent(local, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeSnapshotFile(filepath.Join(dir, SnapshotLocalFile), localRaw); err != nil {
		return nil, err
	}
	if err := fsutil.SyncDir(dir); err != nil {
		return nil, err
	}
	return &SnapshotInfo{Manifest: man, Local: local, Hash: sum[:]}, nil
}

func writeSnapshotFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// exportPart writes one .data file from the view r. For the state part it
// also returns the state hash.
func exportPart(ctx context.Context, r pebble.Reader, path string, part snapshotPart) (SnapshotFile, []byte, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return SnapshotFile{}, nil, err
	}
	defer f.Close()
	h := sha256.New()
	cw := &countingWriter{w: io.MultiWriter(f, h)}
	w := bufio.NewWriterSize(cw, 1<<20)
	var stateHash *stateHasher
	if slices.Contains(part.prefixes, prefixState) {
		stateHash = newStateHasher()
	}
	if _, err := w.Write(snapshotMagic); err != nil {
		return SnapshotFile{}, nil, err
	}
	var records uint64
	for _, p := range part.prefixes {
		it, err := r.NewIter(&pebble.IterOptions{LowerBound: []byte{p}, UpperBound: []byte{p + 1}})
		if err != nil {
			return SnapshotFile{}, nil, err
		}
		for it.First(); it.Valid(); it.Next() {
			k := it.Key()
			v, err := it.ValueAndErr()
			if err != nil {
				it.Close()
				return SnapshotFile{}, nil, err
			}
			if stateHash != nil {
				ns, key, _ := splitStateKey(k)
				ver, value, err := decodeStateValue(v)
				if err != nil {
					it.Close()
					return SnapshotFile{}, nil, err
				}
				stateHash.add(ns, key, ver, value)
			}
			writeSnapshotRecord(w, k, v)
			records++
			if records%4096 == 0 && ctx.Err() != nil {
				it.Close()
				return SnapshotFile{}, nil, ctx.Err()
			}
		}
		if err := it.Close(); err != nil {
			return SnapshotFile{}, nil, err
		}
	}
	if err := w.Flush(); err != nil {
		return SnapshotFile{}, nil, err
	}
	if err := f.Sync(); err != nil {
		return SnapshotFile{}, nil, err
	}
	out := SnapshotFile{Name: part.name, Size: cw.n, SHA256: hex.EncodeToString(h.Sum(nil)), Records: records}
	if stateHash != nil {
		return out, stateHash.sum(), nil
	}
	return out, nil, nil
}

func writeSnapshotRecord(w *bufio.Writer, k, v []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(k)))
	w.Write(n[:])
	w.Write(k)
	binary.BigEndian.PutUint32(n[:], uint32(len(v)))
	w.Write(n[:])
	w.Write(v)
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// decodeSnapshotPart reads a .data file of part from r, checks every
// record (checkSnapshotRecord) and that keys strictly ascend, and calls fn
// with each (key and value are only valid during the call). It returns
// the number of records.
func decodeSnapshotPart(r io.Reader, part snapshotPart, height uint64, fn func(k, v []byte) error) (uint64, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(br, magic); err != nil || !bytes.Equal(magic, snapshotMagic) {
		return 0, fmt.Errorf("%s: not a blossom snapshot file", part.name)
	}
	var prev, k, v []byte
	var records uint64
	readField := func(limit int, buf []byte, what string) ([]byte, error) {
		var n [4]byte
		if _, err := io.ReadFull(br, n[:]); err != nil {
			return nil, fmt.Errorf("%s record %d: truncated %s length", part.name, records, what)
		}
		size := binary.BigEndian.Uint32(n[:])
		if uint64(size) > uint64(limit) {
			return nil, fmt.Errorf("%s record %d: %s of %d bytes (limit %d)", part.name, records, what, size, limit)
		}
		// Grow with the data actually read, not with the length claimed.
		buf = buf[:0]
		for remaining := int(size); remaining > 0; {
			n := min(remaining, 1<<20)
			buf = slices.Grow(buf, n)
			if _, err := io.ReadFull(br, buf[len(buf):len(buf)+n]); err != nil {
				return nil, fmt.Errorf("%s record %d: truncated %s", part.name, records, what)
			}
			buf, remaining = buf[:len(buf)+n], remaining-n
		}
		return buf, nil
	}
	for {
		if _, err := br.Peek(1); err == io.EOF {
			return records, nil
		}
		var err error
		if k, err = readField(maxSnapshotKeyBytes, k, "key"); err != nil {
			return records, err
		}
		if v, err = readField(maxSnapshotValueBytes, v, "value"); err != nil {
			return records, err
		}
		if len(k) == 0 || !slices.Contains(part.prefixes, k[0]) {
			return records, fmt.Errorf("%s record %d: key of a record type this file does not hold", part.name, records)
		}
		if records > 0 && bytes.Compare(prev, k) >= 0 {
			return records, fmt.Errorf("%s record %d: keys out of order", part.name, records)
		}
		if err := checkSnapshotRecord(k, v, height); err != nil {
			return records, fmt.Errorf("%s record %d: %w", part.name, records, err)
		}
		if err := fn(k, v); err != nil {
			return records, err
		}
		prev = append(prev[:0], k...)
		records++
	}
}

// checkSnapshotRecord checks one imported index record as the ledger
// would have written it below height.
func checkSnapshotRecord(k, v []byte, height uint64) error {
	var ver Version
	switch k[0] {
	case prefixState:
		ns, key, err := splitStateKey(k)
		if err != nil {
			return err
		}
		if err := CheckWriteKey(ns, key); err != nil {
			return err
		}
		if ver, _, err = decodeStateValue(v); err != nil {
			return err
		}
	case prefixTx:
		if len(k) < 2 || len(k)-1 > MaxTxIDBytes {
			return fmt.Errorf("transaction ID of %d bytes", len(k)-1)
		}
		info, err := decodeTxInfo(v)
		if err != nil {
			return err
		}
		ver.Block = info.Block
	case prefixHashed, prefixPurged:
		ns, coll, rest, err := splitCollectionKey(k)
		if err != nil {
			return err
		}
		if err := CheckCollection(ns, coll); err != nil {
			return err
		}
		if len(rest) != sha256.Size {
			return fmt.Errorf("key hash of %d bytes", len(rest))
		}
		want := 16 + sha256.Size
		if k[0] == prefixPurged {
			want = 16
		}
		if len(v) != want {
			return fmt.Errorf("value of %d bytes, want %d", len(v), want)
		}
		ver, _, _ = decodeStateValue(v)
	case prefixPrivate:
		ns, coll, key, err := splitCollectionKey(k)
		if err != nil {
			return err
		}
		if err := CheckCollection(ns, coll); err != nil {
			return err
		}
		if err := CheckWriteKey(ns, string(key)); err != nil {
			return err
		}
		if ver, _, err = decodeStateValue(v); err != nil {
			return err
		}
	case prefixSchedule:
		e, err := decodeScheduleEntry(k, v)
		if err != nil {
			return err
		}
		if e.expiry < height {
			return fmt.Errorf("purge due at block %d, before the snapshot height %d", e.expiry, height)
		}
		ver = e.version
	case prefixArchive:
		if len(k) < 18 {
			return errors.New("short archived private data key")
		}
		ns, coll, ok := bytes.Cut(k[17:], []byte{0})
		if !ok {
			return errors.New("archived private data key without namespace terminator")
		}
		if err := CheckCollection(string(ns), string(coll)); err != nil {
			return err
		}
		set := new(pb.CollectionPvtReadWriteSet)
		if err := protocol.Unmarshal(v, set, MaxRecordBytes); err != nil {
			return fmt.Errorf("archived private data: %w", err)
		}
		if set.Collection != string(coll) {
			return errors.New("archived private data of another collection")
		}
		ver.Block = binary.BigEndian.Uint64(k[1:9])
	default:
		return fmt.Errorf("record type %q is not part of a snapshot", k[0])
	}
	if ver.Block >= height {
		return fmt.Errorf("version of block %d, at or beyond the snapshot height %d", ver.Block, height)
	}
	return nil
}

// splitCollectionKey splits prefix ‖ ns ‖ 0x00 ‖ coll ‖ 0x00 ‖ rest.
func splitCollectionKey(k []byte) (ns, coll string, rest []byte, err error) {
	n, after, ok1 := bytes.Cut(k[1:], []byte{0})
	c, rest, ok2 := bytes.Cut(after, []byte{0})
	if !ok1 || !ok2 {
		return "", "", nil, errors.New("malformed collection key")
	}
	return string(n), string(c), rest, nil
}

// hashingReader hashes and counts what is read through it.
type hashingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}
