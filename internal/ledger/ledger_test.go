package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/blossom-ledger/blossom/internal/ledger/ledgertest"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

func TestCommitManyBlocksAndReopen(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 16 << 10} // small segments: the chain spans several
	l := openLedger(t, dir, opts)
	w := newWorkload(t)
	b, res := w.genesis()
	mustCommit(t, l, b, res)
	const blocks = 40
	var stored []*pb.Block
	for i := 0; i < blocks; i++ {
		b, res := w.next(1 + i%9)
		mustCommit(t, l, b, res)
		stored = append(stored, b)
	}
	if got := l.Height(); got != blocks+1 {
		t.Fatalf("Height = %d, want %d", got, blocks+1)
	}
	if n := len(segmentPaths(t, dir)); n < 3 {
		t.Fatalf("%d segments, want the chain to span at least 3", n)
	}
	checkAgainstModel(t, l, w.model)
	commitHash, _ := l.CommitHash(l.Height())
	stateHash, err := l.State().StateHash()
	if err != nil {
		t.Fatal(err)
	}
	lastHash := l.LastBlockHash()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l = openLedger(t, dir, opts)
	defer l.Close()
	if got := l.Height(); got != blocks+1 {
		t.Fatalf("reopened Height = %d, want %d", got, blocks+1)
	}
	checkAgainstModel(t, l, w.model)
	if got, _ := l.CommitHash(l.Height()); !bytes.Equal(got, commitHash) {
		t.Fatal("commit hash changed across reopen")
	}
	if got, _ := l.State().StateHash(); !bytes.Equal(got, stateHash) {
		t.Fatal("state hash changed across reopen")
	}
	if !bytes.Equal(l.LastBlockHash(), lastHash) || !bytes.Equal(lastHash, protocol.BlockHeaderHash(stored[len(stored)-1].Header)) {
		t.Fatal("last block hash is not the last block's header hash")
	}
	// Blocks read back carry the codes and commit hashes, and chain up.
	var prevCommit []byte
	for n := uint64(0); n < l.Height(); n++ {
		got, err := l.Block(n)
		if err != nil {
			t.Fatal(err)
		}
		if got.Header.Number != n {
			t.Fatalf("Block(%d) is block %d", n, got.Header.Number)
		}
		ch, _ := l.CommitHash(n + 1)
		if !bytes.Equal(got.Metadata.CommitHash, ch) {
			t.Fatalf("block %d metadata commit hash differs from CommitHash(%d)", n, n+1)
		}
		codes := DecodeValidationCodes(got.Metadata.ValidationCodes)
		writes, err := ExtractPublicWrites(got, codes)
		if err != nil {
			t.Fatal(err)
		}
		if want := ComputeCommitHash(prevCommit, got.Header, got.Metadata.ValidationCodes, writes, nil); !bytes.Equal(want, ch) {
			t.Fatalf("block %d: stored commit hash is not the recomputed one", n)
		}
		prevCommit = ch
		if n > 0 && !proto.Equal(got.Data, stored[n-1].Data) {
			t.Fatalf("block %d data differs from what was committed", n)
		}
	}
	if _, err := l.Block(l.Height()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Block(height) = %v, want ErrNotFound", err)
	}
	for id, info := range w.model.txs {
		b, err := l.BlockByTxID(id)
		if err != nil || b.Header.Number != info.Block {
			t.Fatalf("BlockByTxID(%s) = block %v, %v; want %d", id, b.GetHeader().GetNumber(), err, info.Block)
		}
		break
	}
	if _, err := l.Tx("no such tx"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Tx(unknown) = %v, want ErrNotFound", err)
	}
	// The reopened ledger's transaction ID filter holds every ID indexed
	// before the reopen.
	for id := range w.model.txs {
		if exists, err := l.TxIDExists(id); err != nil || !exists {
			t.Fatalf("TxIDExists(%s) after reopen = %v, %v", id, exists, err)
		}
	}
	if exists, err := l.TxIDExists("no such tx"); err != nil || exists {
		t.Fatalf("TxIDExists(unknown) = %v, %v", exists, err)
	}
	rep, err := Verify(dir + "-missing")
	if err == nil || rep.OK {
		t.Fatal("Verify of a missing directory passed")
	}
	l.Close()
	rep, err = Verify(dir)
	if err != nil || !rep.OK {
		t.Fatalf("Verify: %v (%+v)", err, rep)
	}
	if rep.Blocks != blocks+1 || rep.IndexedHeight != blocks+1 || rep.StateHash == "" {
		t.Fatalf("Verify report %+v", rep)
	}
	if rep.StateHash != hexString(stateHash) {
		t.Fatal("Verify's state hash differs from StateHash")
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	var sb strings.Builder
	for _, c := range b {
		sb.WriteByte(digits[c>>4])
		sb.WriteByte(digits[c&15])
	}
	return sb.String()
}

func TestHistoricalWrite(t *testing.T) {
	l := openLedger(t, t.TempDir(), Options{})
	defer l.Close()
	c := ledgertest.NewChain(t, testChannel)
	g := c.Genesis()
	mustCommit(t, l, g, allValid(g))
	e1, id1 := ledgertest.WriteTx(testChannel, "cc", ledgertest.Put("k", []byte("v1")))
	e2, id2 := ledgertest.WriteTx(testChannel, "cc", ledgertest.Del("k"))
	b := c.Next(e1, e2)
	mustCommit(t, l, b, allValid(b))
	it, err := l.State().History("cc", "k", false)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var got []HistoricalWrite
	for it.Next() {
		hw, err := l.HistoricalWrite("cc", "k", it.Entry().Version)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, *hw)
	}
	if len(got) != 2 || got[0].TxID != id1 || string(got[0].Value) != "v1" || got[0].IsDelete ||
		got[1].TxID != id2 || !got[1].IsDelete || got[1].TimestampUnixNano == 0 {
		t.Fatalf("history = %+v", got)
	}
	if vv, _ := l.State().Get("cc", "k"); vv != nil {
		t.Fatalf("deleted key reads %v", vv)
	}
	if _, err := l.HistoricalWrite("cc", "other", Version{Block: 1, Tx: 0}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("HistoricalWrite of an unwritten key = %v", err)
	}
}

func TestRangeBounds(t *testing.T) {
	l := openLedger(t, t.TempDir(), Options{})
	defer l.Close()
	c := ledgertest.NewChain(t, testChannel)
	g := c.Genesis()
	mustCommit(t, l, g, allValid(g))
	keys := []string{"a", "b", "b\x00x", "ba", "c", "d"}
	var kvs []ledgertest.KV
	for _, k := range keys {
		kvs = append(kvs, ledgertest.Put(k, []byte(k)))
	}
	e1, _ := ledgertest.WriteTx(testChannel, "cc", kvs...)
	e2, _ := ledgertest.WriteTx(testChannel, "cc2", ledgertest.Put("a", []byte("other namespace")))
	e3, _ := ledgertest.WriteTx(testChannel, "c", ledgertest.Put("zz", []byte("prefix namespace")))
	b := c.Next(e1, e2, e3)
	mustCommit(t, l, b, allValid(b))
	for _, tc := range []struct {
		start, end string
		want       []string
	}{
		{"", "", keys},
		{"b", "c", []string{"b", "b\x00x", "ba"}},
		{"b\x00", "b\x01", []string{"b\x00x"}},
		{"c", "", []string{"c", "d"}},
		{"e", "", nil},
		{"a", "a", nil},
	} {
		it, err := l.State().Range("cc", tc.start, tc.end)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for it.Next() {
			got = append(got, it.Key())
		}
		it.Close()
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("Range(%q, %q) = %q, want %q", tc.start, tc.end, got, tc.want)
		}
	}
	if _, err := l.State().Range("cc", "b", "a"); err == nil {
		t.Error("Range with start after end succeeded")
	}
}

func TestCommitRefusesBadBlocks(t *testing.T) {
	dir := t.TempDir()
	l := openLedger(t, dir, Options{})
	defer l.Close()
	c := ledgertest.NewChain(t, testChannel)
	g := c.Genesis()
	mustCommit(t, l, g, allValid(g))
	stranger := ledgertest.NewOrderer(t, "stranger", "OtherMSP", pki.ECDSAP256)
	env, _ := ledgertest.WriteTx(testChannel, "cc", ledgertest.Put("k", []byte("v")))
	good := c.Next(env)
	clone := func() *pb.Block { return proto.Clone(good).(*pb.Block) }

	cases := []struct {
		name  string
		block func() *pb.Block
		res   func(*pb.Block) CommitResult
		want  string
	}{
		{"wrong number", func() *pb.Block { b := clone(); b.Header.Number = 5; c.Signer.SignBlock(t, b); return b }, allValid, "block number 5, expected 1"},
		{"wrong previous hash", func() *pb.Block {
			b := clone()
			b.Header.PreviousHash = make([]byte, 32)
			c.Signer.SignBlock(t, b)
			return b
		}, allValid, "previous hash mismatch"},
		{"data hash mismatch", func() *pb.Block {
			b := clone()
			b.Data.Envelopes = append(b.Data.Envelopes, env)
			return b
		}, allValid, "data hash mismatch"},
		{"no signature", func() *pb.Block { b := clone(); b.Metadata.Signature = nil; return b }, allValid, "orderer signature missing"},
		{"signature by a stranger", func() *pb.Block { b := clone(); stranger.SignBlock(t, b); return b }, allValid, "not a consenter"},
		{"forged signature", func() *pb.Block {
			b := clone()
			b.Metadata.Signature.Signature = append([]byte(nil), b.Metadata.Signature.Signature...)
			b.Metadata.Signature.Signature[10] ^= 1
			return b
		}, allValid, "orderer signature"},
		{"wrong last config", func() *pb.Block { b := clone(); b.Metadata.LastConfig = 1; c.Signer.SignBlock(t, b); return b }, allValid, "last_config 1, expected 0"},
		{"codes count", clone, func(*pb.Block) CommitResult { return CommitResult{} }, "0 validation codes for 1 transactions"},
		{"code out of range", clone, func(*pb.Block) CommitResult { return CommitResult{Codes: []pb.TxValidationCode{300}} }, "out of range"},
		{"writes for an invalid tx", clone, func(*pb.Block) CommitResult {
			return CommitResult{Codes: []pb.TxValidationCode{pb.TxValidationCode_MVCC_READ_CONFLICT}, Writes: [][]Write{{{Namespace: "cc", Key: "k", Value: []byte("v")}}}}
		}, "has writes"},
		{"delete with a value", clone, func(*pb.Block) CommitResult {
			return CommitResult{Codes: []pb.TxValidationCode{0}, Writes: [][]Write{{{Namespace: "cc", Key: "k", IsDelete: true, Value: []byte("v")}}}}
		}, "carries a value"},
		{"namespace with NUL", clone, func(*pb.Block) CommitResult {
			return CommitResult{Codes: []pb.TxValidationCode{0}, Writes: [][]Write{{{Namespace: "c\x00c", Key: "k"}}}}
		}, "NUL"},
		{"empty key", clone, func(*pb.Block) CommitResult {
			return CommitResult{Codes: []pb.TxValidationCode{0}, Writes: [][]Write{{{Namespace: "cc"}}}}
		}, "empty key"},
		{"writes count", clone, func(*pb.Block) CommitResult {
			return CommitResult{Codes: []pb.TxValidationCode{0}, Writes: [][]Write{}}
		}, "writes for 0 transactions"},
		{"hashed private writes count", clone, func(*pb.Block) CommitResult {
			return CommitResult{Codes: []pb.TxValidationCode{0}, PrivateHashes: [][]PrivateWriteHash{}}
		}, "hashed private writes for 0 transactions"},
		{"hashed private writes for an invalid tx", clone, func(*pb.Block) CommitResult {
			h := PrivateWriteHash{Namespace: "cc", Collection: "c", KeyHash: make([]byte, 32), ValueHash: make([]byte, 32)}
			return CommitResult{Codes: []pb.TxValidationCode{pb.TxValidationCode_MVCC_READ_CONFLICT}, PrivateHashes: [][]PrivateWriteHash{{h}}}
		}, "has hashed private writes"},
		{"malformed hashed private write", clone, func(*pb.Block) CommitResult {
			h := PrivateWriteHash{Namespace: "cc", Collection: "c", KeyHash: []byte("short")}
			return CommitResult{Codes: []pb.TxValidationCode{0}, PrivateHashes: [][]PrivateWriteHash{{h}}}
		}, "malformed hashed private write"},
	}
	segs := segmentPaths(t, dir)
	sizeBefore := fileSize(t, segs[len(segs)-1])
	hashBefore, _ := l.State().StateHash()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.block()
			err := l.Commit(b, tc.res(b))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Commit = %v, want an error containing %q", err, tc.want)
			}
			if l.Height() != 1 {
				t.Fatalf("height %d after a refused block", l.Height())
			}
			if got := fileSize(t, segs[len(segs)-1]); got != sizeBefore {
				t.Fatalf("block file grew from %d to %d bytes", sizeBefore, got)
			}
			if got, _ := l.State().StateHash(); !bytes.Equal(got, hashBefore) {
				t.Fatal("state changed")
			}
		})
	}
	// The good block still commits, and the caller's block is untouched.
	before := proto.Clone(good)
	mustCommit(t, l, good, allValid(good))
	if !proto.Equal(before, good) {
		t.Fatal("Commit changed the caller's block")
	}
	if vv, _ := l.State().Get("cc", "k"); vv == nil || string(vv.Value) != "v" || vv.Version != (Version{1, 0}) {
		t.Fatalf("state after commit: %v", vv)
	}
}

func TestGenesisMustBeConfigBlock(t *testing.T) {
	l := openLedger(t, t.TempDir(), Options{})
	defer l.Close()
	c := ledgertest.NewChain(t, testChannel)
	env, _ := ledgertest.WriteTx(testChannel, "cc", ledgertest.Put("k", nil))
	b := c.Next(env) // block 0 that is not a config block
	if err := l.Commit(b, allValid(b)); err == nil || !strings.Contains(err.Error(), "genesis block is not a config block") {
		t.Fatalf("Commit = %v", err)
	}
}

func TestConfigTracking(t *testing.T) {
	dir := t.TempDir()
	l := openLedger(t, dir, Options{})
	first := ledgertest.NewOrderer(t, "orderer0", "OrdererMSP", pki.ECDSAP256)
	second := ledgertest.NewOrderer(t, "orderer1", "Orderer2MSP", pki.Ed25519)
	c := ledgertest.NewChain(t, testChannel, first)
	g := c.Genesis()
	mustCommit(t, l, g, allValid(g))
	if n, cfg := l.LastConfig(); n != 0 || cfg.ChannelId != testChannel || len(cfg.Orderer.Consenters) != 1 {
		t.Fatalf("LastConfig = %d, %v", n, cfg)
	}
	env, _ := ledgertest.WriteTx(testChannel, "cc", ledgertest.Put("k", []byte("v")))
	b := c.Next(env)
	mustCommit(t, l, b, allValid(b))

	// A config block that replaces the first orderer by the second one.
	cfg := proto.Clone(c.Config).(*pb.ChannelConfig)
	cfg.Orderer.Consenters = []*pb.Consenter{second.Consenter()}
	cb := c.NextConfig(cfg)
	mustCommit(t, l, cb, allValid(cb))
	if n, got := l.LastConfig(); n != 2 || got.Sequence != 1 || got.Orderer.Consenters[0].Id != "orderer1" {
		t.Fatalf("LastConfig = %d, %v", n, got)
	}

	// The old orderer may no longer sign; the new one (Ed25519) may.
	env2, _ := ledgertest.WriteTx(testChannel, "cc", ledgertest.Put("k", []byte("v2")))
	old := c.Next(env2)
	if err := l.Commit(old, allValid(old)); err == nil || !strings.Contains(err.Error(), "not a consenter") {
		t.Fatalf("block signed by a removed orderer: %v", err)
	}
	second.SignBlock(t, old)
	mustCommit(t, l, old, allValid(old))
	l.Close()

	l = openLedger(t, dir, Options{})
	defer l.Close()
	if n, got := l.LastConfig(); n != 2 || got.Orderer.Consenters[0].Id != "orderer1" {
		t.Fatalf("reopened LastConfig = %d, %v", n, got)
	}
	c.Signer = second
	b = c.Next()
	mustCommit(t, l, b, allValid(b))
	l.Close()
	if rep, err := Verify(dir); err != nil {
		t.Fatalf("Verify: %v (%+v)", err, rep)
	}
}

func TestConfigFromBlock(t *testing.T) {
	c := ledgertest.NewChain(t, testChannel)
	g := c.Genesis()
	cfg, ok, err := ConfigFromBlock(g)
	if err != nil || !ok || cfg.ChannelId != testChannel {
		t.Fatalf("ConfigFromBlock(genesis) = %v, %v, %v", cfg, ok, err)
	}
	env, _ := ledgertest.WriteTx(testChannel, "cc", ledgertest.Put("k", nil))
	if _, ok, err := ConfigFromBlock(c.Next(env)); ok || err != nil {
		t.Fatalf("ConfigFromBlock(normal block) = %v, %v", ok, err)
	}
	bad := ledgertest.Envelope(testChannel, pb.HeaderType_CONFIG, []byte{0xff, 0xff})
	if _, ok, err := ConfigFromBlock(c.Next(bad)); !ok || err == nil {
		t.Fatalf("ConfigFromBlock(malformed config) = %v, %v", ok, err)
	}
	noConsenters := ledgertest.Envelope(testChannel, pb.HeaderType_CONFIG, protocol.MustMarshal(&pb.ConfigEnvelope{Config: &pb.ChannelConfig{ChannelId: "x"}}))
	if _, _, err := ConfigFromBlock(c.Next(noConsenters)); err == nil {
		t.Fatal("ConfigFromBlock accepted a config without consenters")
	}
	if err := VerifyOrdererSignature(g, cfg); err != nil {
		t.Fatalf("VerifyOrdererSignature(genesis): %v", err)
	}
}

func TestWaitForHeight(t *testing.T) {
	l := openLedger(t, t.TempDir(), Options{})
	defer l.Close()
	c := ledgertest.NewChain(t, testChannel)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		h, err := l.WaitForHeight(ctx, 3)
		if err == nil && h < 3 {
			err = errors.New("returned below the height")
		}
		done <- err
	}()
	changed := l.Changed()
	g := c.Genesis()
	mustCommit(t, l, g, allValid(g))
	select {
	case <-changed:
	case <-ctx.Done():
		t.Fatal("Changed not closed by a commit")
	}
	for i := 0; i < 2; i++ {
		select {
		case err := <-done:
			t.Fatalf("WaitForHeight returned at height %d: %v", l.Height(), err)
		default:
		}
		b := c.Next()
		mustCommit(t, l, b, allValid(b))
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if h, err := l.WaitForHeight(ctx, 2); err != nil || h != 3 {
		t.Fatalf("WaitForHeight below the height = %d, %v", h, err)
	}
	short, cancelShort := context.WithCancel(context.Background())
	cancelShort()
	if _, err := l.WaitForHeight(short, 10); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitForHeight with a cancelled context = %v", err)
	}
}

func TestSnapshotIsConsistent(t *testing.T) {
	l := openLedger(t, t.TempDir(), Options{})
	defer l.Close()
	c := ledgertest.NewChain(t, testChannel)
	g := c.Genesis()
	mustCommit(t, l, g, allValid(g))
	e1, _ := ledgertest.WriteTx(testChannel, "cc", ledgertest.Put("a", []byte("1")), ledgertest.Put("b", []byte("1")))
	b := c.Next(e1)
	mustCommit(t, l, b, allValid(b))
	snap, err := l.NewSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	e2, _ := ledgertest.WriteTx(testChannel, "cc", ledgertest.Put("a", []byte("2")), ledgertest.Del("b"), ledgertest.Put("c", []byte("2")))
	b = c.Next(e2)
	mustCommit(t, l, b, allValid(b))

	if snap.Height() != 2 {
		t.Fatalf("snapshot height %d, want 2", snap.Height())
	}
	if vv, _ := snap.Get("cc", "a"); vv == nil || string(vv.Value) != "1" {
		t.Fatalf("snapshot a = %v", vv)
	}
	if v, ok, _ := snap.GetVersion("cc", "b"); !ok || v != (Version{1, 0}) {
		t.Fatalf("snapshot version of b = %v %v", v, ok)
	}
	it, _ := snap.Range("cc", "", "")
	n := 0
	for it.Next() {
		n++
	}
	it.Close()
	if n != 2 {
		t.Fatalf("snapshot range holds %d keys, want 2", n)
	}
	if vv, _ := l.State().Get("cc", "a"); vv == nil || string(vv.Value) != "2" || vv.Version != (Version{2, 0}) {
		t.Fatalf("live a = %v", vv)
	}
	if _, ok, _ := l.State().GetVersion("cc", "b"); ok {
		t.Fatal("live b still present after delete")
	}
}

func TestCommitHashComparesPeers(t *testing.T) {
	c := ledgertest.NewChain(t, testChannel)
	g := c.Genesis()
	e1, _ := ledgertest.WriteTx(testChannel, "cc", ledgertest.Put("a", []byte("1")))
	e2, _ := ledgertest.WriteTx(testChannel, "cc", ledgertest.Put("b", []byte("1")))
	b := c.Next(e1, e2)

	commit := func(codes []pb.TxValidationCode) ([]byte, []byte) {
		l := openLedger(t, t.TempDir(), Options{})
		defer l.Close()
		mustCommit(t, l, g, allValid(g))
		mustCommit(t, l, b, CommitResult{Codes: codes})
		ch, err := l.CommitHash(2)
		if err != nil {
			t.Fatal(err)
		}
		sh, _ := l.State().StateHash()
		g0, _ := l.CommitHash(1)
		if bytes.Equal(g0, ch) {
			t.Fatal("commit hash did not change with a block")
		}
		return ch, sh
	}
	valid := []pb.TxValidationCode{0, 0}
	ch1, sh1 := commit(valid)
	ch2, sh2 := commit(valid)
	if !bytes.Equal(ch1, ch2) || !bytes.Equal(sh1, sh2) {
		t.Fatal("two peers committing the same block disagree")
	}
	ch3, sh3 := commit([]pb.TxValidationCode{0, pb.TxValidationCode_MVCC_READ_CONFLICT})
	if bytes.Equal(ch1, ch3) || bytes.Equal(sh1, sh3) {
		t.Fatal("a different verdict gives the same commit or state hash")
	}
}

func TestComputeCommitHashIsUnambiguous(t *testing.T) {
	hdr := &pb.BlockHeader{Number: 1}
	base := ComputeCommitHash(nil, hdr, []byte{0}, [][]Write{{{Namespace: "ab", Key: "c", Value: []byte("v")}}}, nil)
	for name, h := range map[string][]byte{
		"namespace/key boundary": ComputeCommitHash(nil, hdr, []byte{0}, [][]Write{{{Namespace: "a", Key: "bc", Value: []byte("v")}}}, nil),
		"delete":                 ComputeCommitHash(nil, hdr, []byte{0}, [][]Write{{{Namespace: "ab", Key: "c", IsDelete: true}}}, nil),
		"value":                  ComputeCommitHash(nil, hdr, []byte{0}, [][]Write{{{Namespace: "ab", Key: "c", Value: []byte("w")}}}, nil),
		"previous":               ComputeCommitHash([]byte{1}, hdr, []byte{0}, [][]Write{{{Namespace: "ab", Key: "c", Value: []byte("v")}}}, nil),
		"codes":                  ComputeCommitHash(nil, hdr, []byte{1}, [][]Write{{{Namespace: "ab", Key: "c", Value: []byte("v")}}}, nil),
		"header":                 ComputeCommitHash(nil, &pb.BlockHeader{Number: 2}, []byte{0}, [][]Write{{{Namespace: "ab", Key: "c", Value: []byte("v")}}}, nil),
	} {
		if bytes.Equal(h, base) {
			t.Errorf("commit hash ignores the %s", name)
		}
	}
	// Sorted: the order of transactions writing different keys does not
	// matter, the order of writes to the same key does.
	x := Write{Namespace: "n", Key: "x", Value: []byte("1")}
	y := Write{Namespace: "n", Key: "y", Value: []byte("2")}
	x2 := Write{Namespace: "n", Key: "x", Value: []byte("3")}
	if !bytes.Equal(ComputeCommitHash(nil, hdr, nil, [][]Write{{x}, {y}}, nil), ComputeCommitHash(nil, hdr, nil, [][]Write{{y}, {x}}, nil)) {
		t.Error("commit hash depends on the order of writes to different keys")
	}
	if bytes.Equal(ComputeCommitHash(nil, hdr, nil, [][]Write{{x}, {x2}}, nil), ComputeCommitHash(nil, hdr, nil, [][]Write{{x2}, {x}}, nil)) {
		t.Error("commit hash ignores which write to a key came last")
	}
}

func TestClosedLedgerRefusesCommit(t *testing.T) {
	l := openLedger(t, t.TempDir(), Options{})
	c := ledgertest.NewChain(t, testChannel)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	g := c.Genesis()
	if err := l.Commit(g, allValid(g)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Commit after Close = %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

func TestConcurrentReadersDuringCommits(t *testing.T) {
	l := openLedger(t, t.TempDir(), Options{})
	defer l.Close()
	w := newWorkload(t)
	g, res := w.genesis()
	mustCommit(t, l, g, res)
	const blocks = 20
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errs := make(chan error, 3)
	// A follower that reads every block as soon as it is committed, as the
	// deliver service does.
	go func() {
		for n := uint64(0); n <= blocks; n++ {
			if _, err := l.WaitForHeight(ctx, n+1); err != nil {
				errs <- err
				return
			}
			b, err := l.Block(n)
			if err != nil || b.Header.Number != n || len(b.Metadata.CommitHash) != 32 {
				errs <- fmt.Errorf("block %d read during commits: %v", n, err)
				return
			}
		}
		errs <- nil
	}()
	// Snapshots taken during commits see a state matching their height.
	go func() {
		for {
			changed := l.Changed()
			if l.Height() > blocks {
				break
			}
			snap, err := l.NewSnapshot()
			if err != nil {
				errs <- err
				return
			}
			it, err := snap.Range("asset", "", "")
			if err != nil {
				errs <- err
				return
			}
			for it.Next() {
				if it.Version().Block >= snap.Height() {
					errs <- fmt.Errorf("snapshot at height %d sees version %v", snap.Height(), it.Version())
				}
			}
			it.Close()
			snap.Close()
			select {
			case <-changed:
			case <-ctx.Done():
			}
		}
		errs <- nil
	}()
	for i := 0; i < blocks; i++ {
		b, res := w.next(10)
		mustCommit(t, l, b, res)
	}
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
