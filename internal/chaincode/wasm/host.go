package wasm

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/blossom-ledger/blossom/sdk/contract"
	"github.com/blossom-ledger/blossom/sdk/contract/wasmabi"
)

// The host module "blossom": blossom.call forwards a Stub request to the
// simulator's stub of the running invocation, blossom.take hands staged
// bytes to the guest. See sdk/contract/wasmabi for the protocol.

// instantiateHost adds the blossom host module to rt.
func instantiateHost(ctx context.Context, rt wazero.Runtime) error {
	_, err := rt.NewHostModuleBuilder(wasmabi.HostModule).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(hostCall), []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}).
		Export(wasmabi.ImportCall).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(hostTake), []api.ValueType{i32, i32}, []api.ValueType{i32}).
		Export(wasmabi.ImportTake).
		Instantiate(ctx)
	return err
}

// errGuestMemory ends an invocation whose host call named memory outside
// the module's.
var errGuestMemory = errors.New("host call with an invalid memory range")

func hostCall(ctx context.Context, _ api.Module, stack []uint64) {
	s := sessionFrom(ctx)
	reqPtr, reqLen, respPtr, respCap := uint32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	if reqLen > wasmabi.MaxMessage {
		panic(errGuestMemory)
	}
	req, ok := s.mem.slice(reqPtr, reqLen)
	if !ok {
		panic(errGuestMemory)
	}
	s.charge(hostCallFuel + uint64(reqLen)/bytesPerFuel)
	resp := s.handle(req)
	s.charge(uint64(len(resp)) / bytesPerFuel)
	if uint32(len(resp)) <= respCap {
		dst, ok := s.mem.slice(respPtr, uint32(len(resp)))
		if !ok {
			panic(errGuestMemory)
		}
		copy(dst, resp)
		s.staged = nil
	} else {
		s.staged = resp
	}
	stack[0] = uint64(uint32(len(resp)))
}

func hostTake(ctx context.Context, _ api.Module, stack []uint64) {
	s := sessionFrom(ctx)
	ptr, n := uint32(stack[0]), uint32(stack[1])
	s.charge(hostCallFuel + uint64(n)/bytesPerFuel)
	if s.staged == nil || uint32(len(s.staged)) != n {
		stack[0] = uint64(0xFFFFFFFF) // -1
		return
	}
	dst, ok := s.mem.slice(ptr, n)
	if !ok {
		panic(errGuestMemory)
	}
	copy(dst, s.staged)
	s.staged = nil
	stack[0] = 0
}

// request is a decoded guest request: its operation and the arguments
// its shape has.
type request struct {
	op     wasmabi.Op
	strs   [3]string // string arguments in order
	list   []string  // composite key attributes
	args   [][]byte  // InvokeChaincode arguments (alias the request)
	value  []byte    // the byte string argument (aliases the request)
	handle uint64    // an iterator handle
}

// shape is the argument layout of an operation: strs strings, then the
// optional fields in this order.
type shape struct {
	strs   int
	list   bool // uvarint n, n × string
	args   bool // uvarint n, n × bytes
	value  bool // bytes
	handle bool // uvarint
}

var shapes = map[wasmabi.Op]shape{
	wasmabi.OpTxID:                    {},
	wasmabi.OpChannelID:               {},
	wasmabi.OpTxTimestamp:             {},
	wasmabi.OpCreator:                 {},
	wasmabi.OpMSPID:                   {},
	wasmabi.OpAttribute:               {strs: 1},
	wasmabi.OpTransient:               {},
	wasmabi.OpDefinitionParam:         {strs: 1},
	wasmabi.OpGetState:                {strs: 1},
	wasmabi.OpPutState:                {strs: 1, value: true},
	wasmabi.OpDelState:                {strs: 1},
	wasmabi.OpStateByRange:            {strs: 2},
	wasmabi.OpStateByPartialKey:       {strs: 1, list: true},
	wasmabi.OpHistoryForKey:           {strs: 1},
	wasmabi.OpGetPrivateData:          {strs: 2},
	wasmabi.OpGetPrivateDataHash:      {strs: 2},
	wasmabi.OpPutPrivateData:          {strs: 2, value: true},
	wasmabi.OpDelPrivateData:          {strs: 2},
	wasmabi.OpPrivateDataByRange:      {strs: 3},
	wasmabi.OpPrivateDataByPartialKey: {strs: 2, list: true},
	wasmabi.OpSetEvent:                {strs: 1, value: true},
	wasmabi.OpInvokeChaincode:         {strs: 2, args: true},
	wasmabi.OpIterHasNext:             {handle: true},
	wasmabi.OpIterNext:                {handle: true},
	wasmabi.OpIterClose:               {handle: true},
	wasmabi.OpHistoryHasNext:          {handle: true},
	wasmabi.OpHistoryNext:             {handle: true},
	wasmabi.OpHistoryClose:            {handle: true},
}

// decodeRequest parses a guest request. It never panics: any input that
// is not exactly one well-formed request is an error.
func decodeRequest(b []byte) (*request, error) {
	d := wasmabi.NewDecoder(b)
	r := &request{op: wasmabi.Op(d.Byte())}
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	sh, ok := shapes[r.op]
	if !ok {
		return nil, fmt.Errorf("request: %w: unknown operation %d", wasmabi.ErrMalformed, r.op)
	}
	for i := 0; i < sh.strs; i++ {
		r.strs[i] = d.String()
	}
	if sh.list {
		r.list = d.Strings()
	}
	if sh.args {
		n := d.Count()
		r.args = make([][]byte, 0, n)
		for i := 0; i < n && d.Err() == nil; i++ {
			r.args = append(r.args, d.Bytes())
		}
	}
	if sh.value {
		r.value = d.Bytes()
	}
	if sh.handle {
		r.handle = d.Uvarint()
	}
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("request %d: %w", r.op, err)
	}
	return r, nil
}

// handle runs one request against the session's stub and returns the
// encoded response, which stays valid until the next request.
func (s *session) handle(b []byte) []byte {
	e := &s.resp
	e.Reset()
	req, err := decodeRequest(b)
	if err != nil {
		encodeError(e, err)
		return e.Buf
	}
	if s.stub == nil {
		encodeError(e, errNoStub)
		return e.Buf
	}
	if err := s.dispatch(req, e); err != nil {
		e.Reset()
		encodeError(e, err)
	}
	return e.Buf
}

// encodeError writes an error response, keeping the identity of the
// errors the SDK defines.
func encodeError(e *wasmabi.Encoder, err error) {
	e.Byte(wasmabi.StatusError)
	var ie *contract.InvokeError
	switch {
	case errors.As(err, &ie):
		e.Byte(byte(wasmabi.ErrInvoke))
		e.String(ie.Message)
		e.String(ie.Chaincode)
		return
	case errors.Is(err, contract.ErrCallDepth) && err.Error() == contract.ErrCallDepth.Error():
		e.Byte(byte(wasmabi.ErrCallDepth))
	case errors.Is(err, contract.ErrPrivateQueryAfterWrite) && err.Error() == contract.ErrPrivateQueryAfterWrite.Error():
		e.Byte(byte(wasmabi.ErrPrivateQueryAfterWrite))
	case errors.Is(err, contract.ErrWriteAfterPrivateQuery) && err.Error() == contract.ErrWriteAfterPrivateQuery.Error():
		e.Byte(byte(wasmabi.ErrWriteAfterPrivateQuery))
	default:
		e.Byte(byte(wasmabi.ErrPlain))
	}
	e.String(err.Error())
}

// errNoStub answers Stub calls made while no transaction runs: during
// the package initialisers and the warm-up.
var errNoStub = errors.New("the Stub is not available outside a transaction (during initialisation or warm-up)")

// maxHandles bounds the iterator handles an invocation holds; the stub's
// own limit on open iterators is far lower.
const maxHandles = 4096

func (s *session) addIterator(it any) (uint64, error) {
	if len(s.iters) >= maxHandles {
		return 0, fmt.Errorf("more than %d iterators", maxHandles)
	}
	s.nextHandle++
	s.iters[s.nextHandle] = it
	return s.nextHandle, nil
}

var errNoIterator = errors.New("no such iterator")

func (s *session) stateIterator(h uint64) (contract.StateIterator, error) {
	it, ok := s.iters[h].(contract.StateIterator)
	if !ok {
		return nil, errNoIterator
	}
	return it, nil
}

func (s *session) historyIterator(h uint64) (contract.HistoryIterator, error) {
	it, ok := s.iters[h].(contract.HistoryIterator)
	if !ok {
		return nil, errNoIterator
	}
	return it, nil
}

// dispatch runs req and encodes its results after StatusOK.
func (s *session) dispatch(req *request, e *wasmabi.Encoder) error {
	stub := s.stub
	a := req.strs
	ok := func() { e.Byte(wasmabi.StatusOK) }
	switch req.op {
	case wasmabi.OpTxID:
		ok()
		e.String(stub.GetTxID())
	case wasmabi.OpChannelID:
		ok()
		e.String(stub.GetChannelID())
	case wasmabi.OpTxTimestamp:
		ts := stub.GetTxTimestamp()
		ok()
		e.Varint(ts.Unix())
		e.Uvarint(uint64(ts.Nanosecond()))
	case wasmabi.OpCreator:
		msp, cert := stub.GetCreator()
		ok()
		e.String(msp)
		e.Bytes(cert)
	case wasmabi.OpMSPID:
		ok()
		e.String(stub.GetMSPID())
	case wasmabi.OpAttribute:
		v, found, err := stub.GetAttribute(a[0])
		if err != nil {
			return err
		}
		ok()
		e.Bool(found)
		e.String(v)
	case wasmabi.OpTransient:
		m := stub.GetTransient()
		ok()
		e.Uvarint(uint64(len(m)))
		for _, k := range slices.Sorted(maps.Keys(m)) {
			e.String(k)
			e.Bytes(m[k])
		}
	case wasmabi.OpDefinitionParam:
		v, found := stub.GetDefinitionParam(a[0])
		ok()
		e.Bool(found)
		e.String(v)
	case wasmabi.OpGetState:
		v, err := stub.GetState(a[0])
		return nilable(e, v, err)
	case wasmabi.OpPutState:
		return empty(e, stub.PutState(a[0], req.value))
	case wasmabi.OpDelState:
		return empty(e, stub.DelState(a[0]))
	case wasmabi.OpStateByRange:
		it, err := stub.GetStateByRange(a[0], a[1])
		return s.openIterator(e, it, err)
	case wasmabi.OpStateByPartialKey:
		it, err := stub.GetStateByPartialCompositeKey(a[0], req.list)
		return s.openIterator(e, it, err)
	case wasmabi.OpHistoryForKey:
		it, err := stub.GetHistoryForKey(a[0])
		if err != nil {
			return err
		}
		return s.openIterator(e, it, nil)
	case wasmabi.OpGetPrivateData:
		v, err := stub.GetPrivateData(a[0], a[1])
		return nilable(e, v, err)
	case wasmabi.OpGetPrivateDataHash:
		v, err := stub.GetPrivateDataHash(a[0], a[1])
		return nilable(e, v, err)
	case wasmabi.OpPutPrivateData:
		return empty(e, stub.PutPrivateData(a[0], a[1], req.value))
	case wasmabi.OpDelPrivateData:
		return empty(e, stub.DelPrivateData(a[0], a[1]))
	case wasmabi.OpPrivateDataByRange:
		it, err := stub.GetPrivateDataByRange(a[0], a[1], a[2])
		return s.openIterator(e, it, err)
	case wasmabi.OpPrivateDataByPartialKey:
		it, err := stub.GetPrivateDataByPartialCompositeKey(a[0], a[1], req.list)
		return s.openIterator(e, it, err)
	case wasmabi.OpSetEvent:
		return empty(e, stub.SetEvent(a[0], req.value))
	case wasmabi.OpInvokeChaincode:
		v, err := stub.InvokeChaincode(a[0], a[1], req.args)
		return nilable(e, v, err)
	case wasmabi.OpIterHasNext:
		it, err := s.stateIterator(req.handle)
		if err != nil {
			return err
		}
		has := it.HasNext()
		ok()
		e.Bool(has)
	case wasmabi.OpIterNext:
		it, err := s.stateIterator(req.handle)
		if err != nil {
			return err
		}
		kv, err := it.Next()
		if err != nil {
			return err
		}
		ok()
		e.String(kv.Key)
		e.Nilable(kv.Value)
	case wasmabi.OpIterClose:
		it, err := s.stateIterator(req.handle)
		if err != nil {
			return err
		}
		delete(s.iters, req.handle)
		return empty(e, it.Close())
	case wasmabi.OpHistoryHasNext:
		it, err := s.historyIterator(req.handle)
		if err != nil {
			return err
		}
		has := it.HasNext()
		ok()
		e.Bool(has)
	case wasmabi.OpHistoryNext:
		it, err := s.historyIterator(req.handle)
		if err != nil {
			return err
		}
		m, err := it.Next()
		if err != nil {
			return err
		}
		ok()
		e.String(m.TxID)
		e.Varint(m.Timestamp.Unix())
		e.Uvarint(uint64(m.Timestamp.Nanosecond()))
		e.Nilable(m.Value)
		e.Bool(m.IsDelete)
	case wasmabi.OpHistoryClose:
		it, err := s.historyIterator(req.handle)
		if err != nil {
			return err
		}
		delete(s.iters, req.handle)
		return empty(e, it.Close())
	default:
		return fmt.Errorf("%w: unknown operation %d", wasmabi.ErrMalformed, req.op)
	}
	return nil
}

func nilable(e *wasmabi.Encoder, v []byte, err error) error {
	if err != nil {
		return err
	}
	e.Byte(wasmabi.StatusOK)
	e.Nilable(v)
	return nil
}

func empty(e *wasmabi.Encoder, err error) error {
	if err != nil {
		return err
	}
	e.Byte(wasmabi.StatusOK)
	return nil
}

func (s *session) openIterator(e *wasmabi.Encoder, it any, err error) error {
	if err != nil {
		return err
	}
	h, err := s.addIterator(it)
	if err != nil {
		return err
	}
	e.Byte(wasmabi.StatusOK)
	e.Uvarint(h)
	return nil
}
