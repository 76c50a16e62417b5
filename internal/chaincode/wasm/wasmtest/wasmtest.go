// Package wasmtest lets chaincode tests run a chaincode package built to
// WebAssembly behind the contract.Chaincode interface, so the same mock
// stub (sdk/contract/contracttest) drives the wasm and the native build.
package wasmtest

import (
	"context"
	"errors"
	"testing"

	"github.com/blossom-ledger/blossom/internal/chaincode/ccpackage"
	"github.com/blossom-ledger/blossom/internal/chaincode/wasm"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// Build compiles the chaincode main package in dir to wasm, installs it
// in a new runtime (closed at the end of the test) and defines it as name
// with default limits.
func Build(t testing.TB, dir, name string) contract.Chaincode {
	t.Helper()
	ctx := context.Background()
	pkg, _, err := ccpackage.Build(ctx, "", dir, name, ccpackage.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := wasm.New(ctx, wasm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(ctx) })
	id, err := rt.Install(ctx, pkg)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Define(name, id, ccpackage.Limits{}); err != nil {
		t.Fatal(err)
	}
	return chaincode{rt: rt, name: name}
}

// chaincode runs a defined wasm chaincode; a response of status 400 or
// more becomes an error carrying the chaincode's message.
type chaincode struct {
	rt   *wasm.Runtime
	name string
}

func (c chaincode) Invoke(stub contract.Stub, function string, args [][]byte) ([]byte, error) {
	res, err := c.rt.Invoke(context.Background(), stub, c.name, function, args)
	if err != nil {
		return nil, err
	}
	if res.Status >= 400 {
		return nil, errors.New(res.Message)
	}
	return res.Payload, nil
}
