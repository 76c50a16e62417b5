// Command wasm is the BloSS@M asset chaincode as a WebAssembly module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o asset.wasm ./chaincode/asset/wasm
//
// (see internal/chaincode/ccpackage for the reproducible build and the
// package). Natively it builds too and does nothing.
package main

import (
	"github.com/blossom-ledger/blossom/chaincode/asset"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// A reactor's main never runs: the chaincode is registered by init.
func init() { contract.Serve(asset.New()) }

func main() {}
