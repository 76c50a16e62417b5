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
	// The test binary's shared cache directory holds the compiled module
	// once a runtime of the tests installed it (compiling is slow under
	// the race detector: do it once).
	dir := sharedCacheDir(t)
	newTestRuntime(t, Config{}, "kvtest")

	rounds, peers := 10, 8
	if raceEnabled {
		rounds, peers = 1, 3
	}
	for round := 0; round < rounds; round++ {
		cache, err := wazero.NewCompilationCacheWithDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		shared := newSharedCache(cache)
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
