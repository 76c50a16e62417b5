package wasm

import (
	"context"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
)

// TestConcurrentInstallFromDiskCache installs one package on many
// runtimes at once that share a compilation cache whose directory already
// holds the compiled module: the peers of a restarted `blossom up`. wazero
// publishes a module loaded from disk to its other runtimes before that
// module's entry code exists, so an unserialised second Install could
// instantiate it half-built and crash the process.
func TestConcurrentInstallFromDiskCache(t *testing.T) {
	ctx := context.Background()
	pkg := buildPackage(t, "kvtest")
	dir := t.TempDir()
	populate, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	first, err := newRuntime(ctx, Config{}, newSharedCache(populate))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.Install(ctx, pkg); err != nil {
		t.Fatal(err)
	}
	first.Close(ctx)
	populate.Close(ctx)

	for round := 0; round < 10; round++ {
		cache, err := wazero.NewCompilationCacheWithDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		shared := newSharedCache(cache)
		const peers = 8
		runtimes := make([]*Runtime, peers)
		for i := range runtimes {
			if runtimes[i], err = newRuntime(ctx, Config{}, shared); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		errs := make([]error, peers)
		for i, rt := range runtimes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = rt.Install(ctx, pkg)
			}()
		}
		wg.Wait()
		for i, rt := range runtimes {
			if errs[i] != nil {
				t.Fatalf("round %d runtime %d: %v", round, i, errs[i])
			}
			rt.Close(ctx)
		}
		cache.Close(ctx)
	}
}
