package ledger

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/blossom-ledger/blossom/internal/ledger/ledgertest"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// snapshotFixture is a source ledger with public writes, private data
// (blockToLive 2) and a duplicate-prone transaction, plus the blocks that
// follow its snapshot.
type snapshotFixture struct {
	chain  *ledgertest.Chain
	src    *Ledger
	srcDir string
	// firstTxID is a transaction committed before the snapshot.
	firstTxID string
	// firstEnv is that transaction's envelope (replayed after the join).
	firstEnv []byte
}

func memberResult(b *pb.Block, pvt *pb.TxPvtReadWriteSet) CommitResult {
	res := CommitResult{Codes: make([]pb.TxValidationCode, len(b.Data.Envelopes)), Eligible: member, BlockToLive: purgeBTL}
	if pvt != nil {
		res.Private = []*pb.TxPvtReadWriteSet{pvt}
	}
	return res
}

// newSnapshotFixture commits blocks 0..4 to a source ledger: 1 writes
// public keys, 2 private data expiring at 5, 3 more private data
// (expiring at 6), 4 public again.
func newSnapshotFixture(t *testing.T) *snapshotFixture {
	f := &snapshotFixture{chain: ledgertest.NewChain(t, testChannel), srcDir: filepath.Join(t.TempDir(), "src")}
	f.src = openLedger(t, f.srcDir, Options{})
	t.Cleanup(func() { f.src.Close() })
	g := f.chain.Genesis()
	mustCommit(t, f.src, g, allValid(g))
	env, id := ledgertest.WriteTx(testChannel, "asset", ledgertest.Put("a", []byte("1")), ledgertest.Put("b\x00composite", []byte("2")))
	f.firstTxID, f.firstEnv = id, env
	env2, _ := ledgertest.WriteTx(testChannel, "_lifecycle", ledgertest.Put("namespaces/fields/asset/Sequence", []byte{1}))
	b := f.chain.Next(env, env2)
	mustCommit(t, f.src, b, allValid(b))
	penv, pvt := privateTx(ledgertest.Put("secret", []byte("s1")), ledgertest.Put("kept", []byte("k1")))
	b = f.chain.Next(penv)
	mustCommit(t, f.src, b, memberResult(b, pvt))
	penv, pvt = privateTx(ledgertest.Put("later", []byte("l3")))
	b = f.chain.Next(penv)
	mustCommit(t, f.src, b, memberResult(b, pvt))
	env, _ = ledgertest.WriteTx(testChannel, "asset", ledgertest.Put("a", []byte("4")), ledgertest.Del("b\x00composite"))
	b = f.chain.Next(env)
	mustCommit(t, f.src, b, allValid(b))
	return f
}

// export writes a snapshot of the source ledger into a new directory.
func (f *snapshotFixture) export(t *testing.T, opts ExportOptions) (string, *SnapshotInfo) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "snap")
	info, err := f.src.ExportSnapshot(context.Background(), dir, opts)
	if err != nil {
		t.Fatalf("ExportSnapshot: %v", err)
	}
	return dir, info
}

func stateHash(t *testing.T, l *Ledger) []byte {
	t.Helper()
	h, err := l.State().StateHash()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func commitHashAt(t *testing.T, l *Ledger, h uint64) []byte {
	t.Helper()
	c, err := l.CommitHash(h)
	if err != nil {
		t.Fatalf("CommitHash(%d): %v", h, err)
	}
	return c
}

func TestSnapshotRoundTrip(t *testing.T) {
	f := newSnapshotFixture(t)
	snapDir, info := f.export(t, ExportOptions{MSPID: "Org1MSP"})
	const H = 5
	if info.Manifest.Height != H || info.Manifest.Channel != testChannel || info.Manifest.LastConfigBlock != 0 {
		t.Fatalf("manifest %+v", info.Manifest)
	}
	// A second export at the same height has the same snapshot hash.
	_, again := f.export(t, ExportOptions{MSPID: "Org2MSP", NoPrivate: true})
	if !bytes.Equal(again.Hash, info.Hash) {
		t.Fatal("snapshot hash depends on the exporting member")
	}

	dstDir := filepath.Join(t.TempDir(), "dst")
	got, err := CreateFromSnapshot(snapDir, dstDir, ImportOptions{MSPID: "Org1MSP", ExpectHash: info.Hash})
	if err != nil {
		t.Fatalf("CreateFromSnapshot: %v", err)
	}
	if !got.LocalImported {
		t.Fatal("same member: local files not imported")
	}
	dst := openLedger(t, dstDir, Options{})
	defer func() { dst.Close() }()

	if dst.Height() != H || dst.SnapshotHeight() != H {
		t.Fatalf("height %d, snapshot height %d", dst.Height(), dst.SnapshotHeight())
	}
	if !bytes.Equal(commitHashAt(t, dst, H), commitHashAt(t, f.src, H)) || !bytes.Equal(dst.LastBlockHash(), f.src.LastBlockHash()) {
		t.Fatal("commit hash or last block hash differ after import")
	}
	if !bytes.Equal(stateHash(t, dst), stateHash(t, f.src)) {
		t.Fatal("state hash differs after import")
	}
	if n, cfg := dst.LastConfig(); n != 0 || cfg.GetChannelId() != testChannel {
		t.Fatalf("last config %d %v", n, cfg.GetChannelId())
	}
	if hdr, err := dst.LastBlockHeader(); err != nil || hdr.Number != H-1 {
		t.Fatalf("LastBlockHeader: %v %v", hdr, err)
	}
	for _, n := range []uint64{1, H - 2} {
		if _, err := dst.Block(n); !errors.Is(err, ErrBeforeSnapshot) {
			t.Fatalf("Block(%d): %v, want ErrBeforeSnapshot", n, err)
		}
	}
	// The two blocks the snapshot carries are served: its last config
	// block (here the genesis block) and its last block.
	for _, n := range []uint64{0, H - 1} {
		got, err := dst.Block(n)
		want, _ := f.src.Block(n)
		if err != nil || !proto.Equal(got, want) {
			t.Fatalf("Block(%d) of the snapshot: %v", n, err)
		}
	}
	if _, err := dst.CommitHash(H - 1); !errors.Is(err, ErrBeforeSnapshot) {
		t.Fatalf("CommitHash(H-1): %v", err)
	}
	if vv, err := dst.State().GetPrivateData(testNS, testColl, "secret"); err != nil || string(vv.Value) != "s1" {
		t.Fatalf("private data after import: %v %v", vv, err)
	}
	if vv, err := dst.State().Get("_lifecycle", "namespaces/fields/asset/Sequence"); err != nil || vv == nil || vv.Version != (Version{1, 1}) {
		t.Fatalf("_lifecycle state after import: %v %v", vv, err)
	}
	if info, err := dst.Tx(f.firstTxID); err != nil || info.Block != 1 {
		t.Fatalf("Tx of a pre-snapshot transaction: %+v %v", info, err)
	}
	if _, err := dst.BlockByTxID(f.firstTxID); !errors.Is(err, ErrBeforeSnapshot) { // in block 1
		t.Fatalf("BlockByTxID of a pre-snapshot transaction: %v", err)
	}

	// History before H says so, both ways.
	for _, newest := range []bool{true, false} {
		it, err := dst.State().History("asset", "a", newest)
		if err != nil {
			t.Fatal(err)
		}
		for it.Next() {
		}
		if !errors.Is(it.Err(), ErrBeforeSnapshot) {
			t.Fatalf("history (newest first %v): %v", newest, it.Err())
		}
		it.Close()
	}

	// The next blocks commit on both ledgers alike: block 5 purges
	// "secret" and "kept" (blockToLive 2 from block 2), block 6 writes.
	env, _ := ledgertest.WriteTx(testChannel, "asset", ledgertest.Put("c", []byte("5")))
	b5 := f.chain.Next(env)
	penv, pvt := privateTx(ledgertest.Put("kept", []byte("k6")))
	b6 := f.chain.Next(penv)
	for _, l := range []*Ledger{f.src, dst} {
		mustCommit(t, l, b5, memberResult(b5, nil))
		mustCommit(t, l, b6, memberResult(b6, pvt))
	}
	for h := uint64(H + 1); h <= H+2; h++ {
		if !bytes.Equal(commitHashAt(t, dst, h), commitHashAt(t, f.src, h)) {
			t.Fatalf("commit hash at %d differs", h)
		}
	}
	if !bytes.Equal(stateHash(t, dst), stateHash(t, f.src)) {
		t.Fatal("state hash differs after more blocks")
	}
	if vv, err := dst.State().GetPrivateData(testNS, testColl, "secret"); err != nil || vv == nil || vv.Value != nil {
		t.Fatalf("purged private data after import: %+v %v", vv, err)
	}
	if vv, err := dst.State().GetPrivateData(testNS, testColl, "kept"); err != nil || string(vv.Value) != "k6" {
		t.Fatalf("rewritten private data: %+v %v", vv, err)
	}
	if _, err := dst.Block(H); err != nil {
		t.Fatalf("Block(H): %v", err)
	}
	// A duplicate of a pre-snapshot transaction is recognised.
	if exists, err := dst.TxIDExists(f.firstTxID); err != nil || !exists {
		t.Fatalf("TxIDExists of a pre-snapshot transaction: %v %v", exists, err)
	}
	b7 := f.chain.Next(f.firstEnv)
	res := CommitResult{Codes: []pb.TxValidationCode{pb.TxValidationCode_DUPLICATE_TXID}}
	mustCommit(t, dst, b7, res)
	mustCommit(t, f.src, b7, res)
	if info, err := dst.Tx(f.firstTxID); err != nil || info.Block != 1 {
		t.Fatalf("a replayed transaction took over the tx index: %+v %v", info, err)
	}

	// A ledger created from a snapshot exports snapshots in turn.
	reDir := filepath.Join(t.TempDir(), "resnap")
	reInfo, err := dst.ExportSnapshot(context.Background(), reDir, ExportOptions{MSPID: "Org1MSP"})
	if err != nil {
		t.Fatalf("export of a snapshot-created ledger: %v", err)
	}
	fromSrc, _ := f.export(t, ExportOptions{})
	srcInfo, err := ReadSnapshotInfo(fromSrc)
	if err != nil || !bytes.Equal(reInfo.Hash, srcInfo.Hash) {
		t.Fatalf("snapshot hashes of the source and the snapshot-created ledger at one height differ: %v", err)
	}
	again2 := filepath.Join(t.TempDir(), "dst2")
	if _, err := CreateFromSnapshot(reDir, again2, ImportOptions{MSPID: "Org1MSP"}); err != nil {
		t.Fatalf("import of a snapshot of a snapshot-created ledger: %v", err)
	}

	// Reopen, then verify from H on.
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	dst = openLedger(t, dstDir, Options{})
	if dst.Height() != H+3 {
		t.Fatalf("height after reopen %d", dst.Height())
	}
	want := stateHash(t, dst)
	dst.Close()
	rep, err := Verify(dstDir)
	if err != nil {
		t.Fatalf("Verify: %v (%+v)", err, rep)
	}
	if rep.SnapshotHeight != H || rep.Blocks != 3 || rep.IndexedHeight != H+3 || rep.StateHash != hex.EncodeToString(want) {
		t.Fatalf("report %+v", rep)
	}
	dst = openLedger(t, dstDir, Options{})
}

// TestSnapshotImportOtherMember: a peer of another member takes the
// public parts only; private values of pre-snapshot transactions are then
// reported missing, never invented.
func TestSnapshotImportOtherMember(t *testing.T) {
	f := newSnapshotFixture(t)
	snapDir, _ := f.export(t, ExportOptions{MSPID: "Org1MSP"})
	dstDir := filepath.Join(t.TempDir(), "dst")
	info, err := CreateFromSnapshot(snapDir, dstDir, ImportOptions{MSPID: "Org2MSP"})
	if err != nil {
		t.Fatal(err)
	}
	if info.LocalImported {
		t.Fatal("another member's local files imported")
	}
	if _, err := os.Stat(filepath.Join(dstDir, snapshotDirInLedger, privatePartName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("another member's private data kept in the ledger: %v", err)
	}
	dst := openLedger(t, dstDir, Options{})
	defer func() { dst.Close() }()
	if !bytes.Equal(stateHash(t, dst), stateHash(t, f.src)) {
		t.Fatal("state hash differs")
	}
	if _, err := dst.State().GetPrivateData(testNS, testColl, "secret"); !errors.Is(err, ErrPrivateDataMissing) {
		t.Fatalf("private data of another member: %v", err)
	}
	kh := sha256.Sum256([]byte("secret"))
	if vv, err := dst.State().GetPrivateDataHash(testNS, testColl, kh[:]); err != nil || !bytes.Equal(vv.Value, sum([]byte("s1"))) {
		t.Fatalf("private data hash: %v %v", vv, err)
	}

	// The peer's member turns out to belong to the collection: what it
	// lacks is recorded as missing once, then reconciled from a peer that
	// holds it, checked against the hashed state.
	n, err := dst.MarkSnapshotPrivateDataMissing(member, purgeBTL)
	if err != nil || n != 2 {
		t.Fatalf("MarkSnapshotPrivateDataMissing: %d %v", n, err)
	}
	if n, err := dst.MarkSnapshotPrivateDataMissing(member, purgeBTL); err != nil || n != 0 {
		t.Fatalf("second MarkSnapshotPrivateDataMissing: %d %v", n, err)
	}
	missing, err := dst.MissingPrivateData(0)
	if err != nil || len(missing) != 2 || missing[0] != (MissingPrivateData{Block: 2, Tx: 0, Namespace: testNS, Collection: testColl}) {
		t.Fatalf("missing after the mark: %+v %v", missing, err)
	}
	for _, m := range missing {
		data, err := f.src.PrivateDataOf(m.Block, m.Tx, m.Namespace, m.Collection)
		if err != nil || data == nil {
			t.Fatalf("source's private data of %+v: %v", m, err)
		}
		forged := proto.Clone(data).(*pb.CollectionPvtReadWriteSet)
		forged.Writes[0].Value = []byte("forged")
		if err := dst.ReconcilePrivateData(m, forged); err == nil {
			t.Fatal("forged private data reconciled")
		}
		partial := proto.Clone(data).(*pb.CollectionPvtReadWriteSet)
		partial.Writes = partial.Writes[:len(partial.Writes)-1]
		if err := dst.ReconcilePrivateData(m, partial); err == nil {
			t.Fatal("private data missing a key reconciled")
		}
		if err := dst.ReconcilePrivateData(m, data); err != nil {
			t.Fatalf("reconcile %+v: %v", m, err)
		}
	}
	if vv, err := dst.State().GetPrivateData(testNS, testColl, "secret"); err != nil || string(vv.Value) != "s1" {
		t.Fatalf("reconciled private data: %+v %v", vv, err)
	}
	if missing, _ := dst.MissingPrivateData(0); len(missing) != 0 {
		t.Fatalf("still missing: %+v", missing)
	}
	// Block 5 purges block 2's data (blockToLive 2), as on the source.
	env, _ := ledgertest.WriteTx(testChannel, "asset", ledgertest.Put("c", []byte("5")))
	b5 := f.chain.Next(env)
	mustCommit(t, f.src, b5, memberResult(b5, nil))
	mustCommit(t, dst, b5, memberResult(b5, nil))
	if vv, err := dst.State().GetPrivateData(testNS, testColl, "secret"); err != nil || vv == nil || vv.Value != nil {
		t.Fatalf("reconciled data not purged at its blockToLive: %+v %v", vv, err)
	}
	if vv, err := dst.State().GetPrivateData(testNS, testColl, "later"); err != nil || string(vv.Value) != "l3" {
		t.Fatalf("unexpired reconciled data: %+v %v", vv, err)
	}
	if !bytes.Equal(commitHashAt(t, dst, 6), commitHashAt(t, f.src, 6)) {
		t.Fatal("commit hashes diverge after reconciliation")
	}
	dst.Close()
	if rep, err := Verify(dstDir); err != nil || rep.SnapshotHeight != 5 {
		t.Fatalf("Verify of a reconciled snapshot ledger: %v %+v", err, rep)
	}
	dst = openLedger(t, dstDir, Options{})
}

// rewriteManifest edits snapshot.json and re-seals local.json to it, as
// a forger would.
func rewriteManifest(t *testing.T, dir string, edit func(*SnapshotManifest)) {
	t.Helper()
	info, err := ReadSnapshotInfo(dir)
	if err != nil {
		t.Fatal(err)
	}
	edit(&info.Manifest)
	raw, _ := json.MarshalIndent(info.Manifest, "", "  ")
	s := sha256.Sum256(raw)
	info.Local.SnapshotHash = hex.EncodeToString(s[:])
	local, _ := json.MarshalIndent(info.Local, "", "  ")
	writeFile(t, filepath.Join(dir, SnapshotManifestFile), raw)
	writeFile(t, filepath.Join(dir, SnapshotLocalFile), local)
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// resealFile updates the manifest entry of name to the file's current
// size and hash.
func resealFile(t *testing.T, dir, name string) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	rewriteManifest(t, dir, func(m *SnapshotManifest) {
		for i := range m.Files {
			if m.Files[i].Name == name {
				m.Files[i].SHA256, m.Files[i].Size = hex.EncodeToString(s[:]), int64(len(b))
			}
		}
	})
}

// rewritePart rewrites the records of a snapshot .data file with edit
// and re-seals the manifest that lists it, as a forger would.
func rewritePart(t *testing.T, dir, name string, edit func(k, v []byte) []byte) {
	t.Helper()
	part, _ := partByName(name)
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	w.Write(snapshotMagic)
	n, err := readSnapshotPart(filepath.Join(dir, name), part, 1<<62, func(k, v []byte) error {
		writeSnapshotRecord(w, k, edit(k, v))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	w.Flush()
	writeFile(t, filepath.Join(dir, name), buf.Bytes())
	sum := sha256.Sum256(buf.Bytes())
	sealed := SnapshotFile{Name: name, Size: int64(buf.Len()), SHA256: hex.EncodeToString(sum[:]), Records: n}
	if !part.local {
		rewriteManifest(t, dir, func(m *SnapshotManifest) {
			for i := range m.Files {
				if m.Files[i].Name == name {
					m.Files[i] = sealed
				}
			}
		})
		return
	}
	info, err := ReadSnapshotInfo(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range info.Local.Files {
		if info.Local.Files[i].Name == name {
			info.Local.Files[i] = sealed
		}
	}
	local, _ := json.MarshalIndent(info.Local, "", "  ")
	writeFile(t, filepath.Join(dir, SnapshotLocalFile), local)
}

func TestSnapshotImportRefusesBadInput(t *testing.T) {
	f := newSnapshotFixture(t)
	_, good := f.export(t, ExportOptions{MSPID: "Org1MSP"})
	cases := []struct {
		name   string
		mutate func(t *testing.T, dir string)
		opts   ImportOptions
		want   string // in the error, if set
	}{
		{"tampered state part", func(t *testing.T, dir string) { flipByte(t, filepath.Join(dir, "state.data"), 20) }, ImportOptions{}, ""},
		{"tampered private part", func(t *testing.T, dir string) { flipByte(t, filepath.Join(dir, "private.data"), 30) }, ImportOptions{MSPID: "Org1MSP"}, ""},
		{"truncated txids part", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, "txids.data"))
			writeFile(t, filepath.Join(dir, "txids.data"), b[:len(b)-3])
		}, ImportOptions{}, ""},
		{"missing part", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "pvthashes.data")) }, ImportOptions{}, ""},
		{"manifest edited, local.json not", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, SnapshotManifestFile))
			writeFile(t, filepath.Join(dir, SnapshotManifestFile), bytes.Replace(b, []byte(`"height": 5`), []byte(`"height": 4`), 1))
		}, ImportOptions{}, ""},
		{"not the snapshot the admins compared", func(t *testing.T, dir string) {}, ImportOptions{ExpectHash: make([]byte, 32)}, "expected"},
		{"state part re-sealed: state hash recomputed", func(t *testing.T, dir string) {
			rewritePart(t, dir, "state.data", func(k, v []byte) []byte {
				ver, _, _ := decodeStateValue(v)
				return encodeStateValue(ver, []byte("tampered"))
			})
		}, ImportOptions{}, "state hash"},
		{"forged commit hash", func(t *testing.T, dir string) {
			rewriteManifest(t, dir, func(m *SnapshotManifest) { m.CommitHash = hex.EncodeToString(make([]byte, 32)) })
		}, ImportOptions{}, "commit hash"},
		{"forged height", func(t *testing.T, dir string) {
			rewriteManifest(t, dir, func(m *SnapshotManifest) { m.Height = 4 })
		}, ImportOptions{}, ""},
		{"last block tampered and re-sealed", func(t *testing.T, dir string) {
			flipByte(t, filepath.Join(dir, "last.block"), 200)
			resealFile(t, dir, "last.block")
		}, ImportOptions{}, ""},
		{"private value forged, local.json re-sealed", func(t *testing.T, dir string) {
			rewritePart(t, dir, "private.data", func(k, v []byte) []byte {
				if k[0] != prefixPrivate {
					return v
				}
				ver, _, _ := decodeStateValue(v)
				return encodeStateValue(ver, []byte("forged"))
			})
		}, ImportOptions{MSPID: "Org1MSP"}, "does not match the hashed private state"},
		{"unknown manifest field", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, SnapshotLocalFile))
			writeFile(t, filepath.Join(dir, SnapshotLocalFile), bytes.Replace(b, []byte("{"), []byte(`{"extra": 1,`), 1))
		}, ImportOptions{}, ""},
		{"future format version", func(t *testing.T, dir string) {
			rewriteManifest(t, dir, func(m *SnapshotManifest) { m.Version = 2 })
		}, ImportOptions{}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, info := f.export(t, ExportOptions{MSPID: "Org1MSP"})
			if !bytes.Equal(info.Hash, good.Hash) {
				t.Fatal("exports at one height differ")
			}
			tc.mutate(t, dir)
			dst := filepath.Join(t.TempDir(), "dst")
			_, err := CreateFromSnapshot(dir, dst, tc.opts)
			if !errors.Is(err, ErrSnapshotInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CreateFromSnapshot: %v, want ErrSnapshotInvalid (%q)", err, tc.want)
			}
			if _, serr := os.Stat(dst); !errors.Is(serr, os.ErrNotExist) {
				t.Fatalf("a refused import left %s behind (%v)", dst, serr)
			}
			entries, _ := os.ReadDir(filepath.Dir(dst))
			if len(entries) != 0 {
				t.Fatalf("a refused import left %d entries behind", len(entries))
			}
		})
	}
}

func TestSnapshotIntoNonEmptyDirRefused(t *testing.T) {
	f := newSnapshotFixture(t)
	dir, _ := f.export(t, ExportOptions{})
	if _, err := CreateFromSnapshot(dir, f.srcDir, ImportOptions{}); err == nil {
		t.Fatal("import over an existing ledger accepted")
	}
	if _, err := f.src.ExportSnapshot(context.Background(), dir, ExportOptions{}); err == nil {
		t.Fatal("export into an existing directory accepted")
	}
	f.src.Close()
	if _, err := f.src.ExportSnapshot(context.Background(), dir+"2", ExportOptions{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("export of a closed ledger: %v", err)
	}
}

// TestVerifySnapshotLedgerDetectsTampering: Verify of a ledger created from
// a snapshot re-checks the snapshot copy it starts from, and the first
// block after it must chain onto the snapshot.
func TestVerifySnapshotLedgerDetectsTampering(t *testing.T) {
	f := newSnapshotFixture(t)
	dir, _ := f.export(t, ExportOptions{})
	dstDir := filepath.Join(t.TempDir(), "dst")
	if _, err := CreateFromSnapshot(dir, dstDir, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	dst := openLedger(t, dstDir, Options{})
	// A block that does not chain onto the snapshot's last block.
	other := ledgertest.NewChain(t, testChannel)
	other.Genesis()
	for other.Height() < 5 {
		other.Next()
	}
	if err := dst.Commit(other.Next(), CommitResult{Codes: []pb.TxValidationCode{}}); err == nil {
		t.Fatal("a block of another chain was committed at the snapshot height")
	}
	dst.Close()
	if rep, err := Verify(dstDir); err != nil || rep.SnapshotHeight != 5 {
		t.Fatalf("Verify of a fresh snapshot ledger: %v %+v", err, rep)
	}
	flipByte(t, filepath.Join(dstDir, snapshotDirInLedger, "state.data"), 25)
	rep, err := Verify(dstDir)
	var verr *VerifyError
	if !errors.As(err, &verr) || rep.OK {
		t.Fatalf("Verify of a tampered snapshot copy: %v", err)
	}
}

// TestSnapshotAtRequestedHeight: an export at a future height waits for
// the commit that reaches it and exports exactly that height although
// more blocks commit meanwhile; a passed height is refused; a cancelled
// or closed wait gives up and leaves nothing behind.
func TestSnapshotAtRequestedHeight(t *testing.T) {
	f := newSnapshotFixture(t)
	const H = 5
	if _, err := f.src.ExportSnapshot(context.Background(), filepath.Join(t.TempDir(), "old"), ExportOptions{Height: H - 1}); err == nil {
		t.Fatal("export at a passed height accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancelled := filepath.Join(t.TempDir(), "cancelled")
	gaveUp := make(chan error, 1)
	go func() {
		_, err := f.src.ExportSnapshot(ctx, cancelled, ExportOptions{Height: H + 10})
		gaveUp <- err
	}()
	type result struct {
		info *SnapshotInfo
		err  error
	}
	done := make(chan result, 1)
	dir := filepath.Join(t.TempDir(), "snap")
	go func() {
		info, err := f.src.ExportSnapshot(context.Background(), dir, ExportOptions{Height: H + 2})
		done <- result{info, err}
	}()
	waitForSnapshotWaiter(t, f.src, H+2)
	// Commit past the requested height while the export runs.
	for f.src.Height() < H+3 {
		env, _ := ledgertest.WriteTx(testChannel, "asset", ledgertest.Put("n", []byte{byte(f.src.Height())}))
		b := f.chain.Next(env)
		mustCommit(t, f.src, b, allValid(b))
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	want := commitHashAt(t, f.src, H+2)
	if r.info.Manifest.Height != H+2 || r.info.Manifest.CommitHash != hex.EncodeToString(want) {
		t.Fatalf("export at %d: manifest height %d commit %s", H+2, r.info.Manifest.Height, r.info.Manifest.CommitHash)
	}
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled export: %v", err)
	}
	if _, err := os.Stat(cancelled); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a cancelled export left %s", cancelled)
	}
	closed := make(chan error, 1)
	go func() {
		_, err := f.src.ExportSnapshot(context.Background(), filepath.Join(t.TempDir(), "closed"), ExportOptions{Height: H + 10})
		closed <- err
	}()
	// Close ends the wait whether it started before or after.
	f.src.Close()
	if err := <-closed; !errors.Is(err, ErrClosed) {
		t.Fatalf("export waiting while the ledger closed: %v", err)
	}
}

// waitForSnapshotWaiter waits until an export waits for height.
func waitForSnapshotWaiter(t *testing.T, l *Ledger, height uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.commitMu.Lock()
		n := len(l.snapshotWaiters[height])
		l.commitMu.Unlock()
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no export waits for height %d", height)
		}
		runtime.Gosched()
	}
}
