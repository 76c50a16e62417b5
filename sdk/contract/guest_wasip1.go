//go:build wasip1

package contract

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"time"
	"unsafe"

	"github.com/blossom-ledger/blossom/sdk/contract/wasmabi"
)

// The guest half of sdk/contract/wasmabi: the exports the host calls and
// a Stub that forwards every method to the host.

//go:wasmimport blossom call
func hostCall(req unsafe.Pointer, reqLen uint32, resp unsafe.Pointer, respCap uint32) uint32

//go:wasmimport blossom take
func hostTake(ptr unsafe.Pointer, n uint32) int32

// maxGoStack bounds a goroutine's stack, so that runaway recursion ends
// in Go's own deterministic "stack overflow" (counted in the module's
// linear memory) long before the host's native call stack is exhausted.
const maxGoStack = 16 << 20

// ioBufferSize is the initial size of the request, response and result
// buffers, allocated during the warm-up so that transactions start with
// them in place.
const ioBufferSize = 64 << 10

var (
	request  wasmabi.Encoder // the request being sent to the host
	response []byte          // where the host writes responses
	result   wasmabi.Encoder // the last invocation's result, read by the host
)

// warmup is the fixed warm-up the host runs once before it snapshots the
// instance: every transaction then starts from the state it leaves.
//
//go:wasmexport blossom_warmup
func warmup() {
	debug.SetMaxStack(maxGoStack)
	request.Buf = make([]byte, 0, ioBufferSize)
	response = make([]byte, ioBufferSize)
	result.Buf = make([]byte, 0, ioBufferSize)
	// The JSON shapes chaincodes commonly return.
	WarmJSON("", 0, int64(0), false, []string{}, map[string]string{}, map[string]any{}, []any{}, KV{}, KeyModification{})
	if w, ok := Served().(Warmer); ok {
		w.Warmup()
	}
	runtime.GC()
	// Grow this goroutine's stack, the one every invocation runs on, after
	// the collection (which shrinks idle stacks): otherwise each
	// transaction that calls deeper than the warm-up pays a stack copy,
	// since each starts from the snapshot.
	growStack(warmStack / stackFrame)
}

// warmStack is the goroutine stack the warm-up leaves for invocations.
const (
	warmStack  = 128 << 10
	stackFrame = 4 << 10
)

// growStack uses about n*stackFrame bytes of stack.
//
//go:noinline
func growStack(n int) byte {
	var frame [stackFrame]byte
	frame[n%stackFrame] = byte(n)
	if n > 1 {
		frame[0] += growStack(n - 1)
	}
	return frame[0]
}

// invoke runs one invocation staged by the host and returns ptr<<32|len
// of the encoded result.
//
//go:wasmexport blossom_invoke
func invoke(n uint32) uint64 {
	var res wasmabi.Result
	var in []byte
	if n <= wasmabi.MaxMessage {
		in = make([]byte, n)
	}
	if in == nil || hostTake(unsafe.Pointer(unsafe.SliceData(in)), n) != 0 {
		res = wasmabi.Result{Status: wasmabi.ResultError, Message: "blossom: no invocation staged"}
	} else if inv, err := wasmabi.DecodeInvocation(in); err != nil {
		res = wasmabi.Result{Status: wasmabi.ResultError, Message: "blossom: " + err.Error()}
	} else {
		res = run(inv)
	}
	result.Reset()
	wasmabi.EncodeResult(&result, res)
	return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(result.Buf))))<<32 | uint64(len(result.Buf))
}

func run(inv wasmabi.Invocation) (res wasmabi.Result) {
	cc := Served()
	if cc == nil {
		return wasmabi.Result{Status: wasmabi.ResultError, Message: "blossom: no chaincode registered: call contract.Serve from an init function of package main"}
	}
	defer func() {
		if r := recover(); r != nil {
			res = wasmabi.Result{Status: wasmabi.ResultPanic, Message: fmt.Sprint(r)}
		}
	}()
	payload, err := cc.Invoke(&guestStub{}, inv.Function, inv.Args)
	if err != nil {
		return wasmabi.Result{Status: wasmabi.ResultError, Message: err.Error()}
	}
	return wasmabi.Result{Status: wasmabi.ResultOK, Payload: payload}
}

// guestStub is the Stub of one invocation inside the module.
type guestStub struct{}

var _ Stub = (*guestStub)(nil)

// begin starts a request for op.
func begin(op wasmabi.Op) *wasmabi.Encoder {
	request.Reset()
	request.Byte(byte(op))
	return &request
}

// send sends the request and returns a decoder positioned after the
// status of a successful response, or the error the host answered. A
// response the guest cannot read means the host and this SDK disagree on
// the ABI; it panics, failing the invocation.
func send() (*wasmabi.Decoder, error) {
	n := hostCall(unsafe.Pointer(unsafe.SliceData(request.Buf)), uint32(len(request.Buf)),
		unsafe.Pointer(unsafe.SliceData(response)), uint32(len(response)))
	buf := response[:min(int(n), len(response))]
	if int(n) > len(response) {
		buf = make([]byte, n)
		if n <= 4<<20 {
			response = buf // keep moderately larger buffers for the next calls
		}
		if hostTake(unsafe.Pointer(unsafe.SliceData(buf)), n) != 0 {
			panic("blossom: host response lost")
		}
	}
	d := wasmabi.NewDecoder(buf)
	switch d.Byte() {
	case wasmabi.StatusOK:
		return d, nil
	case wasmabi.StatusError:
		return nil, decodeError(d)
	}
	panic("blossom: malformed host response")
}

func decodeError(d *wasmabi.Decoder) error {
	kind := wasmabi.ErrorKind(d.Byte())
	msg := d.String()
	var err error
	switch kind {
	case wasmabi.ErrInvoke:
		err = &InvokeError{Chaincode: d.String(), Message: msg}
	case wasmabi.ErrCallDepth:
		err = ErrCallDepth
	case wasmabi.ErrPrivateQueryAfterWrite:
		err = ErrPrivateQueryAfterWrite
	case wasmabi.ErrWriteAfterPrivateQuery:
		err = ErrWriteAfterPrivateQuery
	default:
		err = errors.New(msg)
	}
	finish(d)
	return err
}

// finish checks that a response was read entirely.
func finish(d *wasmabi.Decoder) {
	if err := d.Finish(); err != nil {
		panic("blossom: host response: " + err.Error())
	}
}

// clone copies a byte string out of the response buffer, keeping nil.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

func stringCall(op wasmabi.Op) string {
	begin(op)
	d, err := send()
	if err != nil {
		panic("blossom: " + err.Error())
	}
	s := d.String()
	finish(d)
	return s
}

func (*guestStub) GetTxID() string      { return stringCall(wasmabi.OpTxID) }
func (*guestStub) GetChannelID() string { return stringCall(wasmabi.OpChannelID) }
func (*guestStub) GetMSPID() string     { return stringCall(wasmabi.OpMSPID) }

func (*guestStub) GetTxTimestamp() time.Time {
	begin(wasmabi.OpTxTimestamp)
	d, err := send()
	if err != nil {
		panic("blossom: " + err.Error())
	}
	sec, nsec := d.Varint(), d.Uvarint()
	finish(d)
	return time.Unix(sec, int64(nsec)).UTC()
}

func (*guestStub) GetCreator() (string, []byte) {
	begin(wasmabi.OpCreator)
	d, err := send()
	if err != nil {
		panic("blossom: " + err.Error())
	}
	msp, cert := d.String(), clone(d.Bytes())
	finish(d)
	return msp, cert
}

func (*guestStub) GetAttribute(name string) (string, bool, error) {
	begin(wasmabi.OpAttribute).String(name)
	d, err := send()
	if err != nil {
		return "", false, err
	}
	found, value := d.Bool(), d.String()
	finish(d)
	return value, found, nil
}

func (*guestStub) GetTransient() map[string][]byte {
	begin(wasmabi.OpTransient)
	d, err := send()
	if err != nil {
		panic("blossom: " + err.Error())
	}
	n := d.Count()
	out := make(map[string][]byte, n)
	for i := 0; i < n; i++ {
		k := d.String()
		out[k] = clone(d.Bytes())
	}
	finish(d)
	return out
}

func (*guestStub) GetDefinitionParam(name string) (string, bool) {
	begin(wasmabi.OpDefinitionParam).String(name)
	d, err := send()
	if err != nil {
		panic("blossom: " + err.Error())
	}
	found, value := d.Bool(), d.String()
	finish(d)
	return value, found
}

// valueCall sends the request begun by the caller and returns a nilable
// byte string result.
func valueCall() ([]byte, error) {
	d, err := send()
	if err != nil {
		return nil, err
	}
	v := clone(d.Nilable())
	finish(d)
	return v, nil
}

// emptyCall sends the request begun by the caller, which returns nothing.
func emptyCall() error {
	d, err := send()
	if err != nil {
		return err
	}
	finish(d)
	return nil
}

func (*guestStub) GetState(key string) ([]byte, error) {
	begin(wasmabi.OpGetState).String(key)
	return valueCall()
}

func (*guestStub) PutState(key string, value []byte) error {
	e := begin(wasmabi.OpPutState)
	e.String(key)
	e.Bytes(value)
	return emptyCall()
}

func (*guestStub) DelState(key string) error {
	begin(wasmabi.OpDelState).String(key)
	return emptyCall()
}

func (*guestStub) CreateCompositeKey(objectType string, attributes []string) (string, error) {
	return CreateCompositeKey(objectType, attributes)
}

func (*guestStub) SplitCompositeKey(key string) (string, []string, error) {
	return SplitCompositeKey(key)
}

func encodeStrings(e *wasmabi.Encoder, ss []string) {
	e.Uvarint(uint64(len(ss)))
	for _, s := range ss {
		e.String(s)
	}
}

// openIterator sends the request begun by the caller, which returns an
// iterator handle.
func openIterator() (*guestIterator, error) {
	d, err := send()
	if err != nil {
		return nil, err
	}
	h := d.Uvarint()
	finish(d)
	return &guestIterator{handle: h}, nil
}

func (*guestStub) GetStateByRange(startKey, endKey string) (StateIterator, error) {
	e := begin(wasmabi.OpStateByRange)
	e.String(startKey)
	e.String(endKey)
	return openIterator()
}

func (*guestStub) GetStateByPartialCompositeKey(objectType string, attributes []string) (StateIterator, error) {
	e := begin(wasmabi.OpStateByPartialKey)
	e.String(objectType)
	encodeStrings(e, attributes)
	return openIterator()
}

func (*guestStub) GetHistoryForKey(key string) (HistoryIterator, error) {
	begin(wasmabi.OpHistoryForKey).String(key)
	it, err := openIterator()
	if err != nil {
		return nil, err
	}
	return &guestHistoryIterator{handle: it.handle}, nil
}

func (*guestStub) GetPrivateData(collection, key string) ([]byte, error) {
	e := begin(wasmabi.OpGetPrivateData)
	e.String(collection)
	e.String(key)
	return valueCall()
}

func (*guestStub) GetPrivateDataHash(collection, key string) ([]byte, error) {
	e := begin(wasmabi.OpGetPrivateDataHash)
	e.String(collection)
	e.String(key)
	return valueCall()
}

func (*guestStub) PutPrivateData(collection, key string, value []byte) error {
	e := begin(wasmabi.OpPutPrivateData)
	e.String(collection)
	e.String(key)
	e.Bytes(value)
	return emptyCall()
}

func (*guestStub) DelPrivateData(collection, key string) error {
	e := begin(wasmabi.OpDelPrivateData)
	e.String(collection)
	e.String(key)
	return emptyCall()
}

func (*guestStub) GetPrivateDataByRange(collection, startKey, endKey string) (StateIterator, error) {
	e := begin(wasmabi.OpPrivateDataByRange)
	e.String(collection)
	e.String(startKey)
	e.String(endKey)
	return openIterator()
}

func (*guestStub) GetPrivateDataByPartialCompositeKey(collection, objectType string, attributes []string) (StateIterator, error) {
	e := begin(wasmabi.OpPrivateDataByPartialKey)
	e.String(collection)
	e.String(objectType)
	encodeStrings(e, attributes)
	return openIterator()
}

func (*guestStub) SetEvent(name string, payload []byte) error {
	e := begin(wasmabi.OpSetEvent)
	e.String(name)
	e.Bytes(payload)
	return emptyCall()
}

func (*guestStub) InvokeChaincode(chaincode, function string, args [][]byte) ([]byte, error) {
	e := begin(wasmabi.OpInvokeChaincode)
	e.String(chaincode)
	e.String(function)
	e.Uvarint(uint64(len(args)))
	for _, a := range args {
		e.Bytes(a)
	}
	return valueCall()
}

// guestIterator is a range iterator held by the host under handle.
type guestIterator struct {
	handle uint64
}

func hasNext(op wasmabi.Op, handle uint64) bool {
	begin(op).Uvarint(handle)
	d, err := send()
	if err != nil {
		return false
	}
	ok := d.Bool()
	finish(d)
	return ok
}

func closeIterator(op wasmabi.Op, handle uint64) error {
	begin(op).Uvarint(handle)
	return emptyCall()
}

func (it *guestIterator) HasNext() bool { return hasNext(wasmabi.OpIterHasNext, it.handle) }

func (it *guestIterator) Next() (*KV, error) {
	begin(wasmabi.OpIterNext).Uvarint(it.handle)
	d, err := send()
	if err != nil {
		return nil, err
	}
	kv := &KV{Key: d.String(), Value: clone(d.Nilable())}
	finish(d)
	return kv, nil
}

func (it *guestIterator) Close() error { return closeIterator(wasmabi.OpIterClose, it.handle) }

// guestHistoryIterator is a history iterator held by the host.
type guestHistoryIterator struct {
	handle uint64
}

func (it *guestHistoryIterator) HasNext() bool { return hasNext(wasmabi.OpHistoryHasNext, it.handle) }

func (it *guestHistoryIterator) Next() (*KeyModification, error) {
	begin(wasmabi.OpHistoryNext).Uvarint(it.handle)
	d, err := send()
	if err != nil {
		return nil, err
	}
	m := &KeyModification{TxID: d.String()}
	sec, nsec := d.Varint(), d.Uvarint()
	m.Timestamp = time.Unix(sec, int64(nsec)).UTC()
	m.Value = clone(d.Nilable())
	m.IsDelete = d.Bool()
	finish(d)
	return m, nil
}

func (it *guestHistoryIterator) Close() error {
	return closeIterator(wasmabi.OpHistoryClose, it.handle)
}
