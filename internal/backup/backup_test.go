package backup

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/caserver"
	"github.com/blossom-ledger/blossom/internal/ledger"
	"github.com/blossom-ledger/blossom/internal/network/nettest"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/txn"
)

// TestPeerBackupRestore: a peer's ledger with transactions is backed up,
// wiped, restored: the same height, commit hash and state hash; the peer
// starts on it and catches up with blocks committed meanwhile.
func TestPeerBackupRestore(t *testing.T) {
	n := nettest.Start(t, nettest.Options{})
	cl := n.Client(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	submit := func(k string) uint64 {
		t.Helper()
		res, err := cl.Submit(ctx, txn.Request{Chaincode: nettest.KVChaincode, Function: "kv:Put", Args: [][]byte{[]byte(k), []byte("v-" + k)}}, n.PeerNames(0, 2))
		if err != nil {
			t.Fatal(err)
		}
		return res.Block
	}
	var last uint64
	for i := range 5 {
		last = submit(fmt.Sprintf("k%d", i))
	}
	n.WaitForHeight(t, last+1, 30*time.Second)
	peer1 := n.Members[1]
	n.StopPeer(1)

	before, err := ledger.Verify(filepath.Join(peer1.PeerDir, "channels", n.Channel))
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "peer1.tar.gz")
	m, err := Create(KindPeer, peer1.PeerDir, archive)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Channels) != 1 || m.Channels[0].Height != before.IndexedHeight || m.Channels[0].CommitHash != before.CommitHash || m.Channels[0].StateHash != before.StateHash {
		t.Fatalf("manifest %+v, ledger %+v", m, before)
	}
	if info, _ := os.Stat(archive); info.Mode().Perm() != 0o600 {
		t.Fatalf("archive mode %o", info.Mode().Perm())
	}
	// A second backup to the same file is refused.
	if _, err := Create(KindPeer, peer1.PeerDir, archive); err == nil {
		t.Fatal("backup overwrote an archive")
	}
	if err := os.RemoveAll(peer1.PeerDir); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(KindCA, archive, peer1.PeerDir); err == nil || !strings.Contains(err.Error(), "a peer backup, not a ca backup") {
		t.Fatalf("restore as CA: %v", err)
	}
	os.RemoveAll(peer1.PeerDir)
	if _, err := Restore(KindPeer, archive, peer1.PeerDir); err != nil {
		t.Fatal(err)
	}
	after, err := ledger.Verify(filepath.Join(peer1.PeerDir, "channels", n.Channel))
	if err != nil {
		t.Fatal(err)
	}
	if after.IndexedHeight != before.IndexedHeight || after.CommitHash != before.CommitHash || after.StateHash != before.StateHash {
		t.Fatalf("restored %+v, backed up %+v", after, before)
	}
	// Restoring over a non-empty directory is refused.
	if _, err := Restore(KindPeer, archive, peer1.PeerDir); err == nil {
		t.Fatal("restore over a ledger")
	}
	// The restored peer runs and catches up with what it missed.
	last = submit("while-restoring")
	n.RestartPeer(1)
	n.WaitForHeight(t, last+1, 30*time.Second)
	h0, err := n.PeerChannel(0).Ledger().CommitHash(last + 1)
	if err != nil {
		t.Fatal(err)
	}
	h1, err := n.PeerChannel(1).Ledger().CommitHash(last + 1)
	if err != nil || !bytes.Equal(h0, h1) {
		t.Fatalf("commit hashes differ after catching up: %x %x %v", h0, h1, err)
	}
}

// TestPeerBackupRefusesRunningPeer: a ledger a running peer holds is not
// archived.
func TestPeerBackupRefusesRunningPeer(t *testing.T) {
	n := nettest.Start(t, nettest.Options{Members: 3})
	out := filepath.Join(t.TempDir(), "b.tar.gz")
	if _, err := Create(KindPeer, n.Members[0].PeerDir, out); err == nil {
		t.Fatal("backed up a running peer")
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a partial archive was left")
	}
}

// TestCABackupRestore: a member CA directory round-trips and opens.
func TestCABackupRestore(t *testing.T) {
	dir := t.TempDir()
	root, caDir := filepath.Join(dir, "root"), filepath.Join(dir, "ca")
	rootCert, err := caserver.InitRoot(root, caserver.RootOptions{Name: "root", Algorithm: pki.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	csr, err := caserver.Init(caDir, "Org1MSP", pki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := caserver.SignIntermediateCSR(root, csr, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := caserver.Install(caDir, cert, pki.EncodeCertificatePEM(rootCert.Raw), caserver.InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "ca.tar.gz")
	if _, err := Create(KindCA, caDir, archive); err != nil {
		t.Fatal(err)
	}
	keyBefore, _ := os.ReadFile(filepath.Join(caDir, caserver.KeyFile))
	restored := filepath.Join(dir, "restored")
	if _, err := Restore(KindCA, archive, restored); err != nil {
		t.Fatal(err)
	}
	keyAfter, err := os.ReadFile(filepath.Join(restored, caserver.KeyFile))
	if err != nil || !bytes.Equal(keyBefore, keyAfter) {
		t.Fatal("CA key not restored")
	}
	if info, _ := os.Stat(filepath.Join(restored, caserver.KeyFile)); info.Mode().Perm() != 0o600 {
		t.Fatalf("restored key mode %o", info.Mode().Perm())
	}
	srv, err := caserver.Open(caserver.Config{Dir: restored})
	if err != nil {
		t.Fatalf("restored CA does not open: %v", err)
	}
	srv.Close()
	if _, err := Create(KindPeer, caDir, filepath.Join(dir, "x.tar.gz")); err == nil {
		t.Fatal("a CA directory backed up as a peer")
	}
}

// archiveWith builds an archive with a valid manifest and extra entries.
func archiveWith(t testing.TB, entries ...*tar.Header) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	man := []byte(`{"format":1,"kind":"ca","created":"2026-01-01T00:00:00Z"}`)
	tw.WriteHeader(&tar.Header{Name: ManifestName, Mode: 0o600, Size: int64(len(man)), Typeflag: tar.TypeReg})
	tw.Write(man)
	for _, h := range entries {
		tw.WriteHeader(h)
		if h.Typeflag == tar.TypeReg {
			tw.Write(make([]byte, h.Size))
		}
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// TestRestoreRefusesUnsafeEntries: path traversal, absolute paths, links.
func TestRestoreRefusesUnsafeEntries(t *testing.T) {
	tests := []struct {
		name string
		h    *tar.Header
	}{
		{"dot-dot", &tar.Header{Name: "data/../../evil", Size: 1, Typeflag: tar.TypeReg, Mode: 0o600}},
		{"absolute", &tar.Header{Name: "/etc/evil", Size: 1, Typeflag: tar.TypeReg, Mode: 0o600}},
		{"outside data", &tar.Header{Name: "evil", Size: 1, Typeflag: tar.TypeReg, Mode: 0o600}},
		{"symlink", &tar.Header{Name: "data/link", Linkname: "/etc/passwd", Typeflag: tar.TypeSymlink}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "a.tar.gz")
			os.WriteFile(path, archiveWith(t, tc.h), 0o600)
			if _, err := Restore(KindCA, path, filepath.Join(dir, "out")); err == nil {
				t.Fatal("unsafe archive restored")
			}
			if _, err := os.Stat(filepath.Join(dir, "evil")); err == nil {
				t.Fatal("a file escaped the restore directory")
			}
		})
	}
}

func FuzzReadArchive(f *testing.F) {
	f.Add(archiveWith(f))
	f.Add(archiveWith(f, &tar.Header{Name: "data/x", Size: 3, Typeflag: tar.TypeReg, Mode: 0o600}))
	f.Add([]byte("not gzip"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if _, err := extract(bytes.NewReader(data), KindCA, filepath.Join(dir, "out")); err != nil {
			return
		}
		// Whatever was extracted stays under out.
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 || entries[0].Name() != "out" {
			t.Fatalf("extraction wrote outside its directory: %v", entries)
		}
	})
}
