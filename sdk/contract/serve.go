package contract

import (
	"encoding/json"
	"reflect"
	"sync"
)

// served is the chaincode registered by Serve.
var served struct {
	sync.Mutex
	cc Chaincode
}

// Serve registers cc as the chaincode of this program. A chaincode's main
// package calls it from an init function:
//
//	func init() { contract.Serve(mychaincode.New()) }
//
//	func main() {}
//
// Built with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared, the program is
// a WASI reactor whose main function never runs: the host runs the
// initialisers (which call Serve) and then calls the exports of
// sdk/contract/wasmabi, which run cc. Built for any other platform, Serve
// only records cc (see Served), so the same main package compiles and can
// be tested natively; native runtimes register chaincodes directly.
//
// Serve panics if cc is nil or if it is called twice.
func Serve(cc Chaincode) {
	if cc == nil {
		panic("contract.Serve: nil chaincode")
	}
	served.Lock()
	defer served.Unlock()
	if served.cc != nil {
		panic("contract.Serve: called twice")
	}
	served.cc = cc
}

// Served returns the chaincode registered by Serve, or nil.
func Served() Chaincode {
	served.Lock()
	defer served.Unlock()
	return served.cc
}

// Warmer is implemented by a chaincode that prepares caches ahead of its
// transactions. In a wasm module Warmup runs once, after the package
// initialisers and before the runtime snapshots the module, and every
// transaction starts from what it prepared. Since each transaction
// otherwise starts from the same cold state, work done once per process
// (encoding/json's per-type encoders and decoders, compiled regular
// expressions, lookup tables) is paid by every transaction unless it is
// done here or in an init function: encode and decode each record type
// once. Warmup must be deterministic: it may not use the Stub, and a
// panic fails the installation of the package.
type Warmer interface {
	Warmup()
}

// WithWarmup returns cc with warmup as its Warmer.
func WithWarmup(cc Chaincode, warmup func()) Chaincode {
	return warmed{cc, warmup}
}

type warmed struct {
	Chaincode
	warmup func()
}

func (w warmed) Warmup() {
	if w.warmup != nil {
		w.warmup()
	}
}

// WarmJSON encodes each value with CanonicalJSON and decodes the result
// into a new value of the same type, so that encoding/json's caches hold
// the types; errors are ignored. Call it from a Warmup function with
// zero values of the chaincode's record types.
func WarmJSON(values ...any) {
	for _, v := range values {
		b, err := CanonicalJSON(v)
		if err != nil || v == nil {
			continue
		}
		p := reflect.New(reflect.TypeOf(v))
		_ = json.Unmarshal(b, p.Interface())
	}
}
