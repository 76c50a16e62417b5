// Command ccbuild builds a chaincode main package to WebAssembly
// reproducibly and writes its package (see internal/chaincode/ccpackage):
//
//	go run ./internal/chaincode/ccpackage/ccbuild -dir ./chaincode/kvtest/wasm -label kvtest -o bin/chaincodes/kvtest.tar.gz
//
// It prints the package ID. The same source built with the same Go
// toolchain gives the same package and ID on any machine (`make
// chaincodes` builds every chaincode of the repository).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/blossom-ledger/blossom/internal/chaincode/ccpackage"
	"github.com/blossom-ledger/blossom/internal/fsutil"
)

func main() {
	dir := flag.String("dir", ".", "directory of the chaincode's main package")
	label := flag.String("label", "", "package label (required)")
	out := flag.String("o", "", "output file (required)")
	fuel := flag.Uint64("fuel", 0, "default execution budget (0: the runtime's default)")
	memory := flag.Uint64("memory", 0, "default memory cap in bytes, a multiple of 64 KiB (0: the runtime's default)")
	goCmd := flag.String("go", "", "go command (default: go on PATH)")
	flag.Parse()
	if *label == "" || *out == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	pkg, id, err := ccpackage.Build(ctx, *goCmd, *dir, *label, ccpackage.Limits{Fuel: *fuel, MemoryBytes: *memory})
	if err != nil {
		fmt.Fprintln(os.Stderr, "ccbuild:", err)
		os.Exit(1)
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "ccbuild:", err)
		os.Exit(1)
	}
	if err := fsutil.WriteFileAtomic(*out, pkg, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "ccbuild:", err)
		os.Exit(1)
	}
	fmt.Println(id)
}
