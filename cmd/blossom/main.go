// Command blossom runs every role of a blossom consortium ledger: certificate
// authority, orderer, peer, gateway, the development consortium and the
// client tools. See README.md and docs/architecture.md.
package main

import (
	"os"

	"github.com/blossom-ledger/blossom/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
