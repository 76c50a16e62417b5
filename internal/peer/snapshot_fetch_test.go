package peer_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/blossom-ledger/blossom/internal/ledger"
	"github.com/blossom-ledger/blossom/internal/ledger/ledgertest"
	"github.com/blossom-ledger/blossom/internal/peer"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
	"github.com/blossom-ledger/blossom/internal/transport"
)

// hostileSnapshotServer serves Export from a canned list of chunks.
type hostileSnapshotServer struct {
	pb.UnimplementedSnapshotAdminServer
	chunks []*pb.SnapshotChunk
}

func (s *hostileSnapshotServer) Export(_ *pb.ExportSnapshotRequest, stream grpc.ServerStreamingServer[pb.SnapshotChunk]) error {
	for _, c := range s.chunks {
		if err := stream.Send(c); err != nil {
			return err
		}
	}
	return nil
}

// snapshotChunks exports a small real ledger and returns its files as a
// stream would carry them, one chunk per file.
func snapshotChunks(t *testing.T) ([]*pb.SnapshotChunk, *ledger.SnapshotInfo) {
	t.Helper()
	l, err := ledger.Open(filepath.Join(t.TempDir(), "l"), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c := ledgertest.NewChain(t, "ch")
	g := c.Genesis()
	if err := l.Commit(g, ledger.CommitResult{Codes: []pb.TxValidationCode{pb.TxValidationCode_VALID}}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "snap")
	info, err := l.ExportSnapshot(context.Background(), dir, ledger.ExportOptions{MSPID: "Org1MSP"})
	if err != nil {
		t.Fatal(err)
	}
	var chunks []*pb.SnapshotChunk
	for _, name := range ledger.SnapshotFileNames() {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, &pb.SnapshotChunk{Name: name, Data: data})
	}
	chunks[0].SnapshotHash, chunks[0].Height = info.Hash, info.Manifest.Height
	return chunks, info
}

// TestFetchSnapshotRefusesHostilePeer: FetchSnapshot writes only the
// snapshot's own file names, checks every file against the manifest and
// the manifest against the hash announced, and leaves nothing behind when
// it refuses.
func TestFetchSnapshotRefusesHostilePeer(t *testing.T) {
	good, info := snapshotChunks(t)
	c := testpki.NewConsortium(t, "Org1MSP")
	trust := transport.NewTrustSource(c.Manager())
	org1 := c.Member("Org1MSP")
	admin := org1.Issue(pki.RoleAdmin, "admin", nil)
	clone := func(edit func([]*pb.SnapshotChunk) []*pb.SnapshotChunk) []*pb.SnapshotChunk {
		out := make([]*pb.SnapshotChunk, len(good))
		for i, ch := range good {
			out[i] = &pb.SnapshotChunk{Name: ch.Name, Data: append([]byte(nil), ch.Data...), SnapshotHash: ch.SnapshotHash, Height: ch.Height}
		}
		return edit(out)
	}
	cases := []struct {
		name   string
		chunks []*pb.SnapshotChunk
		want   string // in the error; "" for success
	}{
		{"honest", clone(func(c []*pb.SnapshotChunk) []*pb.SnapshotChunk { return c }), ""},
		{"path in a file name", clone(func(c []*pb.SnapshotChunk) []*pb.SnapshotChunk {
			c[2].Name = "../escape"
			return c
		}), "unexpected file"},
		{"file sent twice", clone(func(c []*pb.SnapshotChunk) []*pb.SnapshotChunk {
			return append(c, &pb.SnapshotChunk{Name: c[2].Name, Data: c[2].Data})
		}), "unexpected file"},
		{"tampered file", clone(func(c []*pb.SnapshotChunk) []*pb.SnapshotChunk {
			c[len(c)-1].Data[len(c[len(c)-1].Data)-1] ^= 1
			return c
		}), "SHA-256"},
		{"announced hash of another snapshot", clone(func(c []*pb.SnapshotChunk) []*pb.SnapshotChunk {
			c[0].SnapshotHash = make([]byte, 32)
			return c
		}), "announced"},
		{"no hash announced", clone(func(c []*pb.SnapshotChunk) []*pb.SnapshotChunk {
			c[0].SnapshotHash = nil
			return c
		}), "no snapshot hash"},
		{"missing file", clone(func(c []*pb.SnapshotChunk) []*pb.SnapshotChunk { return c[:len(c)-1] }), "snapshot"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := transport.NewGRPCServer(transport.ServerTLSConfig(org1.Issue(pki.RolePeer, "peer0", nil).TLS, trust, nil, pki.RoleAdmin), trust)
			pb.RegisterSnapshotAdminServer(srv, &hostileSnapshotServer{chunks: tc.chunks})
			go srv.Serve(ln)
			defer srv.Stop()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, err := transport.Dial(ctx, ln.Addr().String(), transport.ClientTLSConfig(admin.TLS, trust, pki.RolePeer))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			out := filepath.Join(t.TempDir(), "out")
			got, err := peer.FetchSnapshot(ctx, conn, "ch", 0, false, out)
			if tc.want == "" {
				if err != nil || got.HashHex() != info.HashHex() {
					t.Fatalf("honest peer: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if _, serr := os.Stat(out); !errors.Is(serr, os.ErrNotExist) {
				t.Fatalf("a refused snapshot left %s behind", out)
			}
			if _, serr := os.Stat(filepath.Join(filepath.Dir(out), "escape")); !errors.Is(serr, os.ErrNotExist) {
				t.Fatal("a file escaped the snapshot directory")
			}
		})
	}
}
