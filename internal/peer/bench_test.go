package peer

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/blossom-ledger/blossom/internal/chaincode/ccpackage"
)

// BenchmarkPeerStart measures opening a peer (New then Stop: its channel
// ledger, and its installed kvtest package loaded into the wasm runtime)
// with the compilation cache in three states. cold: an empty cache (every
// start compiles); warm-disk: a populated cache directory this process has
// not opened yet (a restarted peer); no-packages: a peer without installed
// packages, the floor.
func BenchmarkPeerStart(b *testing.B) {
	f := newFixture(b)
	cfg := f.node.cfg
	pkg, _, err := ccpackage.Build(context.Background(), "", filepath.Join("..", "..", "chaincode", "kvtest", "wasm"), "kvtest", ccpackage.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := f.node.packages.install(context.Background(), pkg); err != nil {
		b.Fatal(err)
	}
	if err := f.node.Stop(); err != nil {
		b.Fatal(err)
	}
	warm := cfg.WasmCacheDir // populated by the install
	start := func(b *testing.B, cfg Config) {
		n, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if len(n.packages.installed()) != 1 && cfg.DataDir == f.node.cfg.DataDir {
			b.Fatal("the package is not installed")
		}
		if err := n.Stop(); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			c := cfg
			c.WasmCacheDir = b.TempDir()
			b.StartTimer()
			start(b, c)
		}
	})
	b.Run("warm-disk", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			c := cfg
			c.WasmCacheDir = filepath.Join(b.TempDir(), "cache")
			if err := os.CopyFS(c.WasmCacheDir, os.DirFS(warm)); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			start(b, c)
		}
	})
	b.Run("no-packages", func(b *testing.B) {
		empty := newFixture(b).node
		c := empty.cfg
		if err := empty.Stop(); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			start(b, c)
		}
	})
}
