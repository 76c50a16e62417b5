package peer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/blossom-ledger/blossom/internal/chaincode/ccpackage"
	"github.com/blossom-ledger/blossom/internal/chaincode/wasm"
	"github.com/blossom-ledger/blossom/internal/fsutil"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/transport"
)

// packageFileSuffix ends the name of a stored package:
// <hex SHA-256 of the package>.ccpkg in <DataDir>/chaincodes/packages.
const packageFileSuffix = ".ccpkg"

// packageStore holds the chaincode packages installed on a peer: their
// bytes on disk (files of mode 0600) and their compiled modules in the
// peer's wasm runtime, whose compilation cache lives on disk too.
type packageStore struct {
	dir string
	rt  *wasm.Runtime
	mu  sync.Mutex // serialises install
}

// openPackageStore opens (creating) the package directory and installs
// every stored package in a new wasm runtime. A stored package the
// runtime refuses is an error naming its file.
func openPackageStore(ctx context.Context, dir, cacheDir string, wallClock time.Duration, log *slog.Logger) (*packageStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("chaincode package directory: %w", err)
	}
	rt, err := wasm.New(ctx, wasm.Config{CacheDir: cacheDir, Logger: log, WallClockLimit: wallClock})
	if err != nil {
		return nil, err
	}
	s := &packageStore{dir: dir, rt: rt}
	entries, err := os.ReadDir(dir)
	if err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("chaincode package directory: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), packageFileSuffix) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		b, err := fsutil.ReadFileBounded(path, ccpackage.MaxPackageSize)
		if err == nil {
			_, err = rt.Install(ctx, b)
		}
		if err != nil {
			rt.Close(ctx)
			return nil, fmt.Errorf("installed chaincode package %s: %w", path, err)
		}
	}
	return s, nil
}

// install checks, compiles and stores a package; installing one again is
// a no-op. It returns the package ID and label.
func (s *packageStore) install(ctx context.Context, pkg []byte) (id, label string, err error) {
	p, err := ccpackage.Parse(pkg)
	if err != nil {
		return "", "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, err = s.rt.Install(ctx, pkg); err != nil {
		return "", "", err
	}
	sum := sha256.Sum256(pkg)
	path := filepath.Join(s.dir, hex.EncodeToString(sum[:])+packageFileSuffix)
	if _, err := os.Stat(path); err == nil {
		return id, p.Label, nil
	}
	if err := fsutil.WriteFileAtomic(path, pkg, 0o600); err != nil {
		return "", "", &storeError{err}
	}
	return id, p.Label, nil
}

// storeError is a failure to store a package on disk (not the caller's
// fault).
type storeError struct{ err error }

func (e *storeError) Error() string { return "store the package: " + e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// installed lists the installed package IDs, sorted.
func (s *packageStore) installed() []string { return s.rt.Installed() }

// holds reports whether package id is installed.
func (s *packageStore) holds(id string) bool {
	for _, have := range s.rt.Installed() {
		if have == id {
			return true
		}
	}
	return false
}

// withLabelOf lists the installed packages with the label of package id.
func (s *packageStore) withLabelOf(id string) []string {
	label := packageLabel(id)
	var out []string
	for _, have := range s.rt.Installed() {
		if packageLabel(have) == label {
			out = append(out, have)
		}
	}
	return out
}

func (s *packageStore) close(ctx context.Context) error { return s.rt.Close(ctx) }

// installChunkLimit bounds one chunk of an Install stream.
const installChunkLimit = 1 << 20

// chaincodeAdmin implements pb.ChaincodeAdminServer: installing and
// listing packages, for admins of the peer's own member only.
type chaincodeAdmin struct {
	pb.UnimplementedChaincodeAdminServer
	node *Node
}

// authorize admits an admin certificate of the peer's own member.
func (a *chaincodeAdmin) authorize(ctx context.Context) error {
	return a.node.authorizeOwnAdmin(ctx, "manage this peer's chaincode packages")
}

// authorizeOwnAdmin admits the caller if its certificate is an admin's of
// the peer's own member; otherwise PermissionDenied naming action.
func (n *Node) authorizeOwnAdmin(ctx context.Context, action string) error {
	id, ok := transport.IdentityFromContext(ctx)
	if !ok || id.MSPID() != n.mspID || id.Role() != pki.RoleAdmin {
		return status.Errorf(codes.PermissionDenied, "only an admin of %s may %s", n.mspID, action)
	}
	return nil
}

func (a *chaincodeAdmin) Install(stream pb.ChaincodeAdmin_InstallServer) error {
	ctx := stream.Context()
	if err := a.authorize(ctx); err != nil {
		return err
	}
	var pkg []byte
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		chunk := req.GetChunk()
		if len(chunk) > installChunkLimit {
			return status.Errorf(codes.InvalidArgument, "chunk of %d bytes (at most %d)", len(chunk), installChunkLimit)
		}
		if len(pkg)+len(chunk) > ccpackage.MaxPackageSize {
			return status.Errorf(codes.InvalidArgument, "package larger than %d bytes", ccpackage.MaxPackageSize)
		}
		pkg = append(pkg, chunk...)
	}
	id, label, err := a.node.packages.install(ctx, pkg)
	if err != nil {
		var se *storeError
		if errors.As(err, &se) {
			a.node.log.Error("chaincode package not stored", "error", err)
			return status.Errorf(codes.Internal, "%v", err)
		}
		return status.Errorf(codes.InvalidArgument, "install: %v", err)
	}
	caller, _ := transport.IdentityFromContext(ctx)
	a.node.log.Info("chaincode package installed", "package_id", id, "by", caller.String())
	return stream.SendAndClose(&pb.InstallChaincodeResponse{PackageId: id, Label: label})
}

func (a *chaincodeAdmin) ListInstalled(ctx context.Context, _ *pb.ListInstalledChaincodesRequest) (*pb.ListInstalledChaincodesResponse, error) {
	if err := a.authorize(ctx); err != nil {
		return nil, err
	}
	resp := &pb.ListInstalledChaincodesResponse{}
	for _, id := range a.node.packages.installed() {
		resp.Installed = append(resp.Installed, &pb.InstalledChaincode{PackageId: id, Label: packageLabel(id)})
	}
	return resp, nil
}
