// Package contract is the SDK that blossom chaincode authors import.
//
// A chaincode is a set of named contracts, each a set of named functions;
// clients address a function as "contract:Function". [New] builds the
// router that a runtime invokes:
//
//	cc := contract.New(contract.Contract{
//		Name: "account",
//		Functions: map[string]contract.Function{
//			"GetAccount": getAccount,
//		},
//	})
//
// A function receives a [Stub], the chaincode's view of one transaction,
// modelled on Hyperledger Fabric's shim: world state (get, put, delete,
// range and composite-key queries, history), private data and its hashes,
// transient input, the creator's identity and attributes, transaction ID
// and timestamp, one event, calls to other chaincodes on the same channel,
// and the named parameters of the chaincode's definition.
//
// # Transaction semantics
//
// These hold for every Stub implementation (the peer's simulator, the
// wasm guest and the [contracttest] double):
//
//   - Reads see the state committed before the transaction, never the
//     transaction's own pending writes (Fabric's rule): PutState followed
//     by GetState of the same key returns the old value. Each read is
//     recorded with the version it saw so that commit can detect conflicts.
//   - Writes are buffered; the last write to a key wins. PutState with an
//     empty value deletes the key, as in Fabric (an empty value could not
//     be told apart from an absent key).
//   - If a function returns an error (or panics) nothing it wrote takes
//     effect and its event is dropped; the error text reaches the client
//     verbatim.
//   - A transaction carries at most one event per chaincode: SetEvent
//     replaces an earlier event of the same chaincode.
//   - InvokeChaincode runs another chaincode of the same channel inside the
//     same transaction with the same creator, transient data and
//     timestamp. Its reads and writes join the transaction under the
//     callee's namespace. If the callee fails, its writes and event are
//     discarded and the caller gets an [*InvokeError]; its reads stay
//     recorded. Calls nest at most [MaxCallDepth] deep.
//   - A range query over private data (GetPrivateDataByRange,
//     GetPrivateDataByPartialCompositeKey) is allowed only in a transaction
//     that writes nothing, before or after it: private range reads cannot
//     be re-validated at commit (Fabric's rule).
//
// Keys are non-empty valid UTF-8 of at most [MaxKeyLength] bytes; a key
// that starts with U+0000 must be a composite key built by
// [CreateCompositeKey]. Values are at most [MaxValueSize] bytes.
//
// # WebAssembly
//
// The same chaincode source runs natively (registered with the peer's
// native runtime, or in contracttest) and as a WebAssembly module run by
// the peer's wasm runtime. A module is a main package that registers the
// chaincode from an init function, built as a WASI reactor:
//
//	package main
//
//	func init() { contract.Serve(mychaincode.New()) }
//
//	func main() {}
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o cc.wasm .
//
// (internal/chaincode/ccpackage builds and packages it reproducibly). In
// the module the Stub forwards every call to the peer over the small ABI
// of sdk/contract/wasmabi. The sandbox is deterministic: time.Now reads a
// virtual clock that starts at the transaction's timestamp, crypto/rand
// is seeded by the transaction ID, map iteration and goroutine scheduling
// repeat exactly, files and the network are unreachable, and every
// transaction starts from the same snapshot of the module, so package
// variables never carry anything from one transaction to the next. Work
// that a long-running program would do once (encoding/json's per-type
// encoders, compiled regular expressions) is therefore paid by every
// transaction unless the chaincode does it in an init function or in a
// Warmup method (see Warmer, WithWarmup and WarmJSON), which run before
// the snapshot is taken.
//
// The package depends only on the standard library and builds for
// GOOS=wasip1 GOARCH=wasm.
package contract
