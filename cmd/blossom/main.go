// Command blossom runs every role of a blossom consortium ledger: certificate
// authority, orderer, peer, gateway, the development consortium and the
// client tools. See README.md and docs/architecture.md.
package main

import (
	"os"
	"runtime/debug"

	"github.com/blossom-ledger/blossom/internal/cli"
)

// defaultGCPercent is the garbage collector's target when the environment
// sets no GOGC. A node allocates mostly short-lived protobuf messages and
// gRPC buffers over a small live heap, so Go's default of 100 collects very
// often: under load, 400 gave the ECDSA work a larger share of the CPU for
// about twice the resident memory (docs/operations.md, "Memory and the
// garbage collector"). GOGC, and GOMEMLIMIT to cap the heap, override it.
const defaultGCPercent = 400

func main() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
