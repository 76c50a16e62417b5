package backup

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/blossom-ledger/blossom/internal/ledger"
	"github.com/blossom-ledger/blossom/internal/ledger/ledgertest"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// TestBackupOfSnapshotLedger: a peer ledger created from a snapshot (with
// its kept snapshot copy) backs up and restores to the same height,
// commit hash and state hash, and still verifies from the snapshot.
func TestBackupOfSnapshotLedger(t *testing.T) {
	chain := ledgertest.NewChain(t, "ch")
	src, err := ledger.Open(filepath.Join(t.TempDir(), "src"), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	commit := func(l *ledger.Ledger, b *pb.Block) {
		t.Helper()
		if err := l.Commit(b, ledger.CommitResult{Codes: make([]pb.TxValidationCode, len(b.Data.Envelopes))}); err != nil {
			t.Fatal(err)
		}
	}
	commit(src, chain.Genesis())
	env, _ := ledgertest.WriteTx("ch", "asset", ledgertest.Put("a", []byte("1")))
	commit(src, chain.Next(env))
	snap := filepath.Join(t.TempDir(), "snap")
	if _, err := src.ExportSnapshot(context.Background(), snap, ledger.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	ledgerDir := filepath.Join(dataDir, channelsDir, "ch")
	if _, err := ledger.CreateFromSnapshot(snap, ledgerDir, ledger.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(ledgerDir, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	env, _ = ledgertest.WriteTx("ch", "asset", ledgertest.Put("b", []byte("2")))
	commit(l, chain.Next(env))
	l.Close()

	archive := filepath.Join(t.TempDir(), "peer.tar.gz")
	made, err := Create(KindPeer, dataDir, archive)
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	restored := filepath.Join(t.TempDir(), "restored")
	got, err := Restore(KindPeer, archive, restored)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if len(got.Channels) != 1 || got.Channels[0] != made.Channels[0] || got.Channels[0].Height != 3 {
		t.Fatalf("restored %+v, backed up %+v", got.Channels, made.Channels)
	}
	rep, err := ledger.Verify(filepath.Join(restored, channelsDir, "ch"))
	if err != nil || rep.SnapshotHeight != 2 || rep.CommitHash != made.Channels[0].CommitHash {
		t.Fatalf("verify of the restored ledger: %v %+v", err, rep)
	}
}
