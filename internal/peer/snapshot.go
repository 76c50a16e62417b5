package peer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/blossom-ledger/blossom/internal/fsutil"
	"github.com/blossom-ledger/blossom/internal/ledger"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/transport"
)

// snapshotChunkBytes is the size of the chunks a snapshot streams in.
const snapshotChunkBytes = 1 << 20

// snapshotAdmin implements pb.SnapshotAdminServer: a snapshot of a
// channel's ledger at its current height, for admins of the peer's own
// member only (the snapshot holds the member's private data). One export
// runs at a time.
type snapshotAdmin struct {
	pb.UnimplementedSnapshotAdminServer
	node *Node
	busy sync.Mutex
}

func (a *snapshotAdmin) Export(req *pb.ExportSnapshotRequest, stream grpc.ServerStreamingServer[pb.SnapshotChunk]) error {
	ctx := stream.Context()
	if err := a.node.authorizeOwnAdmin(ctx, "export this peer's ledger snapshots"); err != nil {
		return err
	}
	ch, ok := a.node.Channel(req.GetChannelId())
	if !ok {
		return status.Errorf(codes.NotFound, "this peer has no channel %q", req.GetChannelId())
	}
	if !a.busy.TryLock() {
		return status.Error(codes.ResourceExhausted, "a snapshot export is already running on this peer")
	}
	defer a.busy.Unlock()
	root := filepath.Join(a.node.cfg.DataDir, "snapshots")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return status.Errorf(codes.Internal, "snapshot directory: %v", err)
	}
	tmp, err := os.MkdirTemp(root, "export-*")
	if err != nil {
		return status.Errorf(codes.Internal, "snapshot directory: %v", err)
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "snapshot")
	info, err := ch.ledger.ExportSnapshot(ctx, dir, ledger.ExportOptions{MSPID: a.node.mspID, NoPrivate: req.GetNoPrivate(), Height: req.GetHeight()})
	switch {
	case err != nil && ctx.Err() != nil:
		return status.FromContextError(ctx.Err()).Err()
	case err != nil && req.GetHeight() != 0 && req.GetHeight() < ch.Height():
		return status.Errorf(codes.FailedPrecondition, "snapshot: %v", err)
	case err != nil:
		a.node.log.Error("ledger snapshot failed", "channel", ch.id, "error", err)
		return status.Errorf(codes.Internal, "snapshot: %v", err)
	}
	caller, _ := transport.IdentityFromContext(ctx)
	a.node.log.Info("ledger snapshot exported", "channel", ch.id, "height", info.Manifest.Height,
		"snapshot_hash", info.HashHex(), "private_data", !req.GetNoPrivate(), "by", caller.String())
	first := true
	for _, name := range ledger.SnapshotFileNames() {
		f, err := os.Open(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue // private.data, exported without private data
		}
		if err != nil {
			return status.Errorf(codes.Internal, "snapshot: %v", err)
		}
		err = streamFile(f, func(data []byte) error {
			chunk := &pb.SnapshotChunk{Name: name, Data: data}
			if first {
				chunk.SnapshotHash, chunk.Height, first = info.Hash, info.Manifest.Height, false
			}
			return stream.Send(chunk)
		})
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// removeStaleExports removes what exports interrupted by a crash left in
// the data directory's snapshots/ directory.
func removeStaleExports(dataDir string) error {
	stale, err := filepath.Glob(filepath.Join(dataDir, "snapshots", "export-*"))
	if err != nil {
		return err
	}
	for _, d := range stale {
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("remove an interrupted snapshot export: %w", err)
		}
	}
	return nil
}

// streamFile calls send with successive chunks of r, at least one.
func streamFile(r io.Reader, send func([]byte) error) error {
	buf := make([]byte, snapshotChunkBytes)
	sent := false
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 || !sent {
			if serr := send(buf[:n]); serr != nil {
				return serr
			}
			sent = true
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// FetchSnapshot asks the peer behind conn (as one of its member's admins)
// for a snapshot of channel at height (0: its current height; a future
// height waits for the peer to commit it) and writes it into outDir,
// which must not exist. It checks every file against the
// snapshot's manifests and that the manifest is the one the peer
// announced. On error nothing is left at outDir.
func FetchSnapshot(ctx context.Context, conn grpc.ClientConnInterface, channel string, height uint64, noPrivate bool, outDir string) (info *ledger.SnapshotInfo, err error) {
	stream, err := pb.NewSnapshotAdminClient(conn).Export(ctx, &pb.ExportSnapshotRequest{ChannelId: channel, NoPrivate: noPrivate, Height: height})
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	if err := os.Mkdir(outDir, 0o700); err != nil {
		return nil, fmt.Errorf("snapshot directory: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(outDir)
		}
	}()
	allowed := ledger.SnapshotFileNames()
	var announced []byte
	var cur *os.File
	var curName string
	var curBytes int64
	seen := map[string]bool{}
	closeCur := func() error {
		if cur == nil {
			return nil
		}
		err := cur.Sync()
		if cerr := cur.Close(); err == nil {
			err = cerr
		}
		cur = nil
		return err
	}
	defer closeCur()
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("snapshot: %w", err)
		}
		if announced == nil {
			if len(chunk.GetSnapshotHash()) == 0 {
				return nil, errors.New("snapshot: the peer announced no snapshot hash")
			}
			announced = chunk.GetSnapshotHash()
		}
		if len(chunk.GetData()) > snapshotChunkBytes {
			return nil, fmt.Errorf("snapshot: chunk of %d bytes (at most %d)", len(chunk.GetData()), snapshotChunkBytes)
		}
		if chunk.GetName() != curName || cur == nil {
			name := chunk.GetName()
			if !slices.Contains(allowed, name) || seen[name] {
				return nil, fmt.Errorf("snapshot: unexpected file %q", name)
			}
			if err := closeCur(); err != nil {
				return nil, err
			}
			seen[name], curName, curBytes = true, name, 0
			if cur, err = os.OpenFile(filepath.Join(outDir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err != nil {
				return nil, err
			}
		}
		if curBytes += int64(len(chunk.GetData())); curBytes > ledger.MaxSnapshotFileBytes {
			return nil, fmt.Errorf("snapshot: file %s larger than %d bytes", curName, int64(ledger.MaxSnapshotFileBytes))
		}
		if _, err := cur.Write(chunk.GetData()); err != nil {
			return nil, err
		}
	}
	if err := closeCur(); err != nil {
		return nil, err
	}
	if err := fsutil.SyncDir(outDir); err != nil {
		return nil, err
	}
	if info, err = ledger.CheckSnapshot(outDir); err != nil {
		return nil, err
	}
	if !bytes.Equal(info.Hash, announced) {
		return nil, fmt.Errorf("snapshot: received manifest hashes to %s, the peer announced %x", info.HashHex(), announced)
	}
	return info, nil
}
