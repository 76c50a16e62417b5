package ledger

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// buildLedger commits genesis and n workload blocks into dir and returns
// the workload and the blocks and results committed.
func buildLedger(t *testing.T, dir string, n int) (*workload, []*pb.Block, []CommitResult) {
	t.Helper()
	l := openLedger(t, dir, Options{})
	defer l.Close()
	w := newWorkload(t)
	b, res := w.genesis()
	blocks, results := []*pb.Block{b}, []CommitResult{res}
	mustCommit(t, l, b, res)
	for i := 0; i < n; i++ {
		b, res := w.next(4)
		mustCommit(t, l, b, res)
		blocks, results = append(blocks, b), append(results, res)
	}
	return w, blocks, results
}

func TestRecoverCrashBetweenAppendAndIndex(t *testing.T) {
	dir := t.TempDir()
	w, _, _ := buildLedger(t, dir, 5)
	l := openLedger(t, dir, Options{})
	crash := errors.New("simulated crash")
	l.afterAppend = func() error { return crash }
	b, res := w.next(6)
	if err := l.Commit(b, res); !errors.Is(err, crash) {
		t.Fatalf("Commit with crash hook = %v", err)
	}
	if l.Height() != 6 {
		t.Fatalf("height %d after the crashed commit, want 6 (not indexed)", l.Height())
	}
	l.afterAppend = nil
	b2, res2 := w.next(2)
	if err := l.Commit(b2, res2); err == nil || !strings.Contains(err.Error(), "reopening") {
		t.Fatalf("Commit after a failed commit = %v, want a refusal", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// The block file holds block 6, the index does not: Verify passes and
	// warns, Open replays it.
	rep, err := Verify(dir)
	if err != nil || rep.Blocks != 7 || rep.IndexedHeight != 6 || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "not indexed") {
		t.Fatalf("Verify before recovery: %v %+v", err, rep)
	}
	l = openLedger(t, dir, Options{})
	if l.Height() != 7 {
		t.Fatalf("height after recovery %d, want 7", l.Height())
	}
	// Block b2 was cut after the crashed block, so it commits now.
	mustCommit(t, l, b2, res2)
	checkAgainstModel(t, l, w.model)
	l.Close()
	if rep, err := Verify(dir); err != nil || len(rep.Warnings) != 0 || rep.IndexedHeight != 8 {
		t.Fatalf("Verify after recovery: %v %+v", err, rep)
	}
}

func TestRebuildIndexFromBlockFile(t *testing.T) {
	dir := t.TempDir()
	w, _, _ := buildLedger(t, dir, 8)
	l := openLedger(t, dir, Options{})
	commitHash, _ := l.CommitHash(l.Height())
	stateHash, _ := l.State().StateHash()
	l.Close()
	if err := os.RemoveAll(filepath.Join(dir, "index")); err != nil {
		t.Fatal(err)
	}
	l = openLedger(t, dir, Options{})
	defer l.Close()
	if l.Height() != 9 {
		t.Fatalf("rebuilt height %d", l.Height())
	}
	if got, _ := l.CommitHash(9); !bytes.Equal(got, commitHash) {
		t.Fatal("rebuilt commit hash differs")
	}
	if got, _ := l.State().StateHash(); !bytes.Equal(got, stateHash) {
		t.Fatal("rebuilt state hash differs")
	}
	checkAgainstModel(t, l, w.model)
	if n, cfg := l.LastConfig(); n != 0 || cfg == nil {
		t.Fatalf("rebuilt LastConfig = %d, %v", n, cfg)
	}
}

func TestRecoverTornTail(t *testing.T) {
	// A reference ledger holds one block more than the ledger under test;
	// the bytes of that block's record are what a crash could leave behind.
	ref := t.TempDir()
	w, blocks, results := buildLedger(t, ref, 4)
	next, nextRes := w.next(3)
	l := openLedger(t, ref, Options{})
	before := fileSize(t, segmentPaths(t, ref)[0])
	mustCommit(t, l, next, nextRes)
	l.Close()
	refSeg, err := os.ReadFile(segmentPaths(t, ref)[0])
	if err != nil {
		t.Fatal(err)
	}
	record := refSeg[before:]

	corrupted := append([]byte(nil), record...)
	corrupted[len(corrupted)/2] ^= 0x40
	cases := []struct {
		name       string
		tail       []byte
		wantHeight uint64
	}{
		{"half a record", record[:len(record)/2], 5},
		{"part of a header", record[:5], 5},
		{"zero fill", make([]byte, 4096), 5},
		{"checksum failure", corrupted, 5},
		{"complete unindexed record", record, 6},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLedger(t, dir, Options{})
			for i, b := range blocks {
				mustCommit(t, l, b, results[i])
			}
			l.Close()
			seg := segmentPaths(t, dir)[0]
			clean := fileSize(t, seg)
			f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(tc.tail); err != nil {
				t.Fatal(err)
			}
			f.Close()

			rep, err := Verify(dir)
			if err != nil || !rep.OK || len(rep.Warnings) != 1 {
				t.Fatalf("Verify with a tail after the indexed blocks: %v %+v", err, rep)
			}
			l = openLedger(t, dir, Options{})
			if l.Height() != tc.wantHeight {
				t.Fatalf("height %d after reopen, want %d", l.Height(), tc.wantHeight)
			}
			if tc.wantHeight == 5 {
				if got := fileSize(t, seg); got != clean {
					t.Fatalf("segment is %d bytes after recovery, want %d", got, clean)
				}
				mustCommit(t, l, next, nextRes)
			}
			checkAgainstModel(t, l, w.model)
			if got := fileSize(t, seg); got != int64(len(refSeg)) {
				t.Fatalf("segment is %d bytes, reference %d", got, len(refSeg))
			}
			l.Close()
			if rep, err := Verify(dir); err != nil || len(rep.Warnings) != 0 || rep.IndexedHeight != 6 {
				t.Fatalf("Verify after recovery: %v %+v", err, rep)
			}
		})
	}
}

func TestOpenRefusesIndexAheadOfBlockFile(t *testing.T) {
	dir := t.TempDir()
	buildLedger(t, dir, 3)
	seg := segmentPaths(t, dir)[0]
	if err := os.Truncate(seg, fileSize(t, seg)-10); err != nil {
		t.Fatal(err)
	}
	if l, err := Open(dir, Options{}); err == nil {
		l.Close()
		t.Fatal("Open accepted a block file that lost an indexed block")
	}
	rep, err := Verify(dir)
	var verr *VerifyError
	if !errors.As(err, &verr) || verr.Block != 3 || rep.OK || rep.BadBlock == nil || *rep.BadBlock != 3 {
		t.Fatalf("Verify = %v, %+v; want block 3 named", err, rep)
	}
}

func TestOpenRefusesGapInSegments(t *testing.T) {
	dir := t.TempDir()
	l := openLedger(t, dir, Options{SegmentSize: 1024})
	w := newWorkload(t)
	b, res := w.genesis()
	mustCommit(t, l, b, res)
	for i := 0; i < 6; i++ {
		b, res := w.next(4)
		mustCommit(t, l, b, res)
	}
	l.Close()
	segs := segmentPaths(t, dir)
	if len(segs) < 3 {
		t.Fatalf("%d segments, want at least 3", len(segs))
	}
	if err := os.Remove(segs[1]); err != nil {
		t.Fatal(err)
	}
	if l, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "missing") {
		if l != nil {
			l.Close()
		}
		t.Fatalf("Open with a missing segment = %v", err)
	}
}

// A transaction is reported committed only once its block is below the
// height, even though the index batch reaches Pebble a moment earlier: a
// client told "committed" must be able to read what it wrote.
func TestTxNotVisibleBeforeHeightAdvances(t *testing.T) {
	dir := t.TempDir()
	w, _, _ := buildLedger(t, dir, 1)
	l := openLedger(t, dir, Options{})
	defer l.Close()
	b, res := w.next(3)
	txID := envelopeTxID(b.Data.Envelopes[0])
	var during error
	l.afterIndex = func() { _, during = l.Tx(txID) }
	mustCommit(t, l, b, res)
	if !errors.Is(during, ErrNotFound) {
		t.Fatalf("Tx between index and height advance = %v, want ErrNotFound", during)
	}
	if info, err := l.Tx(txID); err != nil || info.Block != b.Header.Number {
		t.Fatalf("Tx after commit = %+v, %v", info, err)
	}
}
