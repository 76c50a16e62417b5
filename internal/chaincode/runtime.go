package chaincode

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// Response statuses, as in Fabric: a status of StatusErrorThreshold or
// more is a chaincode refusal.
const (
	StatusOK             = 200
	StatusErrorThreshold = 400
	StatusError          = 500
)

// Runtime runs chaincodes. Invoke runs function of chaincode against stub
// and returns the chaincode's answer: a refusal (an error returned by the
// chaincode, a panic or a trap) is a Response with a status of
// StatusErrorThreshold or more and the chaincode's message; an error means
// the runtime could not run the chaincode at all (for example
// ErrChaincodeNotFound), which fails the whole simulation.
//
// Implementations: NativeRuntime (in-process Go chaincodes) and the wasm
// runtime.
type Runtime interface {
	Invoke(ctx context.Context, stub contract.Stub, chaincode, function string, args [][]byte) (*pb.Response, error)
}

// ErrChaincodeNotFound is wrapped by a Runtime's error for a chaincode it
// does not run.
var ErrChaincodeNotFound = errors.New("chaincode not found")

// NativeRuntime runs chaincodes compiled into the process: unit tests and
// built-in system chaincodes. It is safe for concurrent use.
type NativeRuntime struct {
	mu         sync.RWMutex
	chaincodes map[string]contract.Chaincode
}

// NewNativeRuntime returns an empty registry.
func NewNativeRuntime() *NativeRuntime {
	return &NativeRuntime{chaincodes: make(map[string]contract.Chaincode)}
}

// Register makes cc available under name. A name can be registered once.
func (r *NativeRuntime) Register(name string, cc contract.Chaincode) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	if cc == nil {
		return fmt.Errorf("chaincode %s: nil chaincode", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.chaincodes[name]; ok {
		return fmt.Errorf("chaincode %s is already registered", name)
	}
	r.chaincodes[name] = cc
	return nil
}

// Invoke implements Runtime. A panic in the chaincode is recovered into a
// refusal "chaincode <name> panicked: <value>". The chaincode runs on the
// caller's goroutine; ctx is observed by the stub at each state access.
func (r *NativeRuntime) Invoke(ctx context.Context, stub contract.Stub, chaincode, function string, args [][]byte) (*pb.Response, error) {
	r.mu.RLock()
	cc := r.chaincodes[chaincode]
	r.mu.RUnlock()
	if cc == nil {
		return nil, fmt.Errorf("%w: %s", ErrChaincodeNotFound, chaincode)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return callNative(cc, stub, chaincode, function, args), nil
}

// InvokeNative runs a native chaincode as chaincode name, like
// NativeRuntime.Invoke does for a registered one: for runtimes that
// resolve the implementation per transaction.
func InvokeNative(ctx context.Context, cc contract.Chaincode, stub contract.Stub, name, function string, args [][]byte) (*pb.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return callNative(cc, stub, name, function, args), nil
}

func callNative(cc contract.Chaincode, stub contract.Stub, name, function string, args [][]byte) (resp *pb.Response) {
	defer func() {
		if r := recover(); r != nil {
			resp = panicResponse(name, r)
		}
	}()
	payload, err := cc.Invoke(stub, function, args)
	if err != nil {
		return &pb.Response{Status: StatusError, Message: err.Error()}
	}
	return &pb.Response{Status: StatusOK, Payload: payload}
}

func panicResponse(name string, value any) *pb.Response {
	return &pb.Response{Status: StatusError, Message: fmt.Sprintf("chaincode %s panicked: %v", name, value)}
}
