package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/blossom-ledger/blossom/internal/chaincode/wasm"
	"github.com/blossom-ledger/blossom/internal/devnet"
	"github.com/blossom-ledger/blossom/internal/lifecycle"
	"github.com/blossom-ledger/blossom/internal/peer"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// deployChaincodes deploys the devnet's chaincodes through _lifecycle
// (DESIGN §10): it installs each wasm package on every member's peer as
// the member's admin (skipped where installed), then, for each chaincode
// whose definition is not committed yet, has a MAJORITY of the members'
// admins approve it and the service provider's admin commit it. A
// chaincode committed with another package is an error: the devnet's
// packages are kept in DIR/chaincodes so that this does not happen.
func deployChaincodes(ctx context.Context, c *devnet.Consortium, nodes *upNodes, pkgs *devnet.Packages) error {
	sessions := make([]*governanceSession, len(c.Members))
	defer func() {
		for _, s := range sessions {
			if s != nil {
				s.close()
			}
		}
	}()
	var g group
	for i := range c.Members {
		m := &c.Members[i]
		g.Go(func() error {
			s, err := (&governanceOptions{clientFile: c.AdminClientFile(m)}).open(ctx)
			if err != nil {
				return fmt.Errorf("connect as the admin of %s: %w", m.Name, err)
			}
			sessions[i] = s
			return installPackages(ctx, s, m, pkgs)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	ledger := func(i int) *lifecycle.Ledger {
		return &lifecycle.Ledger{Client: sessions[i].ledger.Client, EndorsingPeers: sessions[i].ledger.EndorsingPeers}
	}
	committed, err := ledger(0).List(ctx)
	if err != nil {
		return err
	}
	var todo []*lifecycle.Definition
	for _, cp := range pkgs.Packages {
		want := devnet.Definition(cp.Name, cp.ID, c.AdminMember().MSPID)
		i := slices.IndexFunc(committed, func(d *lifecycle.Definition) bool { return d.Name == cp.Name })
		switch {
		case i < 0:
			todo = append(todo, want)
		case committed[i].PackageID != cp.ID:
			return fmt.Errorf("chaincode %s is committed with package %s, but this devnet's package is %s (%s)", cp.Name, committed[i].PackageID, cp.ID, c.PackageDir())
		}
	}
	if len(todo) == 0 {
		return nil
	}
	// Approvals by a MAJORITY of the members, all at once; then the
	// service provider (member 0) commits once its peer holds them all.
	var blocks []uint64
	approvals := make(chan uint64, len(todo)*len(c.Members))
	for i := 0; i < len(c.Members)/2+1; i++ {
		for _, d := range todo {
			g.Go(func() error {
				b, err := ledger(i).Approve(ctx, d)
				if err != nil {
					return fmt.Errorf("approve %s as the admin of %s: %w", d.Name, c.Members[i].Name, err)
				}
				approvals <- b
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	close(approvals)
	for b := range approvals {
		blocks = append(blocks, b)
	}
	if err := waitPeerHeight(ctx, c, nodes, 0, slices.Max(blocks)+1); err != nil {
		return err
	}
	for _, d := range todo {
		g.Go(func() error {
			if _, err := ledger(0).Commit(ctx, d); err != nil {
				return fmt.Errorf("commit %s: %w", d.Name, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// installPackages installs the wasm packages on m's peer unless it holds
// them already (a peer reinstalls its packages at start).
func installPackages(ctx context.Context, s *governanceSession, m *devnet.Member, pkgs *devnet.Packages) error {
	if pkgs.Source == devnet.SourceNative {
		return nil
	}
	installed, err := lifecycle.ListInstalled(ctx, s.peer)
	if err != nil {
		return fmt.Errorf("peer of %s: %w", m.Name, err)
	}
	for _, cp := range pkgs.Packages {
		if slices.ContainsFunc(installed, func(p *pb.InstalledChaincode) bool { return p.GetPackageId() == cp.ID }) {
			continue
		}
		id, err := lifecycle.Install(ctx, s.peer, cp.Package)
		if err != nil {
			return fmt.Errorf("install %s on the peer of %s: %w", cp.Name, m.Name, err)
		}
		if id != cp.ID {
			return fmt.Errorf("the peer of %s installed %s as %s, not %s", m.Name, cp.Name, id, cp.ID)
		}
	}
	return nil
}

// waitPeerHeight waits until member i's peer reached height h.
func waitPeerHeight(ctx context.Context, c *devnet.Consortium, nodes *upNodes, i int, h uint64) error {
	return pollUntil(ctx, func() error {
		ch, ok := nodes.peers[i].Channel(c.Channel)
		if !ok {
			return fmt.Errorf("peer of %s has not joined %s", c.Members[i].Name, c.Channel)
		}
		if got := ch.Height(); got < h {
			return fmt.Errorf("peer of %s at height %d, waiting for %d", c.Members[i].Name, got, h)
		}
		return nil
	})
}

// group runs functions concurrently and joins their errors.
type group struct {
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error
}

func (g *group) Go(fn func() error) {
	g.wg.Go(func() {
		if err := fn(); err != nil {
			g.mu.Lock()
			g.errs = append(g.errs, err)
			g.mu.Unlock()
		}
	})
}

// Wait waits for every function and returns their errors, joined.
func (g *group) Wait() error {
	g.wg.Wait()
	err := errors.Join(g.errs...)
	g.errs = nil
	return err
}

// precompilePackages compiles the devnet's wasm packages in the
// background, each in a runtime of its own so that the modules compile
// on separate cores, into the compilation cache the process's peers
// share. The nodes start meanwhile; when deployChaincodes installs the
// packages, the peers find the modules compiled (or wait for the
// compilation under way) instead of compiling them one package at a
// time. The returned release, called once the packages are installed,
// waits for the compilations and frees their runtimes. A failed
// compilation is only logged: the peers' installs report it.
func precompilePackages(ctx context.Context, cacheDir string, pkgs *devnet.Packages, log *slog.Logger) (release func()) {
	if pkgs.Source == devnet.SourceNative {
		return func() {}
	}
	var wg sync.WaitGroup
	runtimes := make([]*wasm.Runtime, len(pkgs.Packages))
	for i, cp := range pkgs.Packages {
		wg.Go(func() {
			// The peers' configuration: a wall-clock limit changes the
			// compiled code (wazero's termination checks).
			rt, err := wasm.New(ctx, wasm.Config{CacheDir: cacheDir, WallClockLimit: peer.DefaultSimulationTimeout})
			if err == nil {
				_, err = rt.Install(ctx, cp.Package)
				runtimes[i] = rt
			}
			if err != nil {
				log.Warn("precompile chaincode package", "chaincode", cp.Name, "err", err.Error())
			}
		})
	}
	return func() {
		wg.Wait()
		for _, rt := range runtimes {
			if rt != nil {
				rt.Close(context.Background())
			}
		}
	}
}
