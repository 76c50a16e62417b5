// Package wasmabi is the binary interface between blossom's WebAssembly
// chaincode runtime (the host, internal/chaincode/wasm) and a chaincode
// built with sdk/contract for GOOS=wasip1 GOARCH=wasm (the guest). Both
// sides import it, so the constants and the encoding below are the whole
// contract; it depends only on the standard library.
//
// # Module shape
//
// A chaincode is a WASI reactor: `go build -buildmode=c-shared` with
// GOOS=wasip1 GOARCH=wasm. It exports its linear memory as "memory",
// "_initialize" (the Go runtime and package initialisers, which register
// the chaincode through contract.Serve), [ExportWarmup] and
// [ExportInvoke]. It imports the two functions of [HostModule] and a
// subset of wasi_snapshot_preview1 that the host answers
// deterministically.
//
// # Calls
//
// The host runs one invocation as follows: it stages the encoded
// invocation ([EncodeInvocation]) and calls blossom_invoke(len). The guest
// allocates len bytes, copies the staged bytes into them with
// blossom.take(ptr, len), runs the chaincode and returns ptr<<32 | len of
// its encoded result ([EncodeResult]) in its own memory; the host copies
// the result out before anything else runs in the instance.
//
// While the chaincode runs, each Stub method is one request: the guest
// encodes an operation code and its arguments ([Encoder]) and calls
// blossom.call(req_ptr, req_len, resp_ptr, resp_cap), which returns the
// length of the encoded response. If it is at most resp_cap the host has
// written the response at resp_ptr; otherwise the host keeps it staged and
// the guest fetches it with blossom.take into a buffer of that length.
// Every response starts with [StatusOK] followed by the operation's
// results, or [StatusError], an error kind and the message.
//
// # Memory
//
// The first ReservedMemory bytes of linear memory belong to the runtime,
// which keeps bookkeeping there (Go's linker leaves this nil page empty);
// a module may not place data segments in it and should not write to it.
// The memory may grow up to the cap of the chaincode's definition;
// memory.grow beyond it returns -1.
//
// # Encoding
//
// Fields are concatenated without tags: unsigned integers as uvarints,
// signed ones as varints (encoding/binary), booleans as one byte 0 or 1,
// strings and byte strings as a uvarint length and the bytes, and
// "nilable" byte strings as a uvarint of length+1, 0 meaning nil, so that
// nil and empty survive the trip apart. A decoder refuses truncated input,
// lengths beyond the input, varints in other than their shortest form and
// trailing bytes, so each message has exactly one encoding.
package wasmabi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ReservedMemory is the size of the runtime's area at the start of linear
// memory.
const ReservedMemory = 4096

// Names of the imports and exports.
const (
	// HostModule is the import module of the host functions.
	HostModule = "blossom"
	// ImportCall is blossom.call(req_ptr, req_len, resp_ptr, resp_cap i32) i32.
	ImportCall = "call"
	// ImportTake is blossom.take(ptr, len i32) i32: it copies the staged
	// bytes (an invocation or a response too large for the caller's
	// buffer) to ptr and returns 0, or returns -1 if nothing of exactly
	// len bytes is staged.
	ImportTake = "take"

	// ExportInvoke is blossom_invoke(len i32) i64.
	ExportInvoke = "blossom_invoke"
	// ExportWarmup is blossom_warmup(): the fixed warm-up the host runs
	// once, after _initialize and before it snapshots the instance (the
	// SDK's runs the chaincode's contract.Warmer).
	ExportWarmup = "blossom_warmup"
	// ExportInitialize is the reactor initialiser of wasip1 modules.
	ExportInitialize = "_initialize"
	// ExportMemory is the exported linear memory.
	ExportMemory = "memory"
)

// Op is a Stub operation requested by the guest. Arguments and results
// are listed as the fields that follow the op byte in the request and the
// StatusOK byte in the response.
type Op byte

// The operations. Iterator handles are uvarints chosen by the host.
const (
	OpTxID                    Op = iota + 1 // () → string
	OpChannelID                             // () → string
	OpTxTimestamp                           // () → varint unix seconds, uvarint nanoseconds
	OpCreator                               // () → string mspID, bytes certDER
	OpMSPID                                 // () → string
	OpAttribute                             // (string name) → bool found, string value
	OpTransient                             // () → uvarint n, n × (string key, bytes value), keys sorted
	OpDefinitionParam                       // (string name) → bool found, string value
	OpGetState                              // (string key) → nilable value
	OpPutState                              // (string key, bytes value) → ()
	OpDelState                              // (string key) → ()
	OpStateByRange                          // (string start, string end) → uvarint handle
	OpStateByPartialKey                     // (string objectType, uvarint n, n × string attribute) → uvarint handle
	OpHistoryForKey                         // (string key) → uvarint handle
	OpGetPrivateData                        // (string collection, string key) → nilable value
	OpGetPrivateDataHash                    // (string collection, string key) → nilable hash
	OpPutPrivateData                        // (string collection, string key, bytes value) → ()
	OpDelPrivateData                        // (string collection, string key) → ()
	OpPrivateDataByRange                    // (string collection, string start, string end) → uvarint handle
	OpPrivateDataByPartialKey               // (string collection, string objectType, uvarint n, n × string) → uvarint handle
	OpSetEvent                              // (string name, bytes payload) → ()
	OpInvokeChaincode                       // (string chaincode, string function, uvarint n, n × bytes arg) → nilable payload
	OpIterHasNext                           // (uvarint handle) → bool
	OpIterNext                              // (uvarint handle) → string key, nilable value
	OpIterClose                             // (uvarint handle) → ()
	OpHistoryHasNext                        // (uvarint handle) → bool
	OpHistoryNext                           // (uvarint handle) → string txID, varint seconds, uvarint nanos, nilable value, bool isDelete
	OpHistoryClose                          // (uvarint handle) → ()
	opEnd
)

// Valid reports whether op is a defined operation.
func (op Op) Valid() bool { return op >= OpTxID && op < opEnd }

// Response statuses.
const (
	StatusOK    byte = 0
	StatusError byte = 1
)

// ErrorKind says which error value the guest rebuilds from an error
// response, so that errors.Is and errors.As behave as with the native
// stub.
type ErrorKind byte

const (
	// ErrPlain is errors.New(message).
	ErrPlain ErrorKind = iota
	// ErrInvoke is a *contract.InvokeError; the response carries the
	// callee's name after the message.
	ErrInvoke
	// ErrCallDepth is contract.ErrCallDepth.
	ErrCallDepth
	// ErrPrivateQueryAfterWrite is contract.ErrPrivateQueryAfterWrite.
	ErrPrivateQueryAfterWrite
	// ErrWriteAfterPrivateQuery is contract.ErrWriteAfterPrivateQuery.
	ErrWriteAfterPrivateQuery
	errKindEnd
)

// Valid reports whether k is a defined error kind.
func (k ErrorKind) Valid() bool { return k < errKindEnd }

// Result statuses of an invocation (the first byte of EncodeResult).
const (
	ResultOK    byte = 0 // nilable payload
	ResultError byte = 1 // string message: the chaincode returned an error
	ResultPanic byte = 2 // string value: the chaincode panicked, fmt.Sprint of the value
)

// Limits of the encoding, enforced by both sides.
const (
	// MaxMessage bounds an invocation, a request, a response and a result.
	// It is above every limit of the simulator (a 4 MiB value, an 8 MiB
	// response payload) with room for framing.
	MaxMessage = 16 << 20
	// MaxCount bounds a count of fields (arguments, attributes, transient
	// entries); each counted field also needs at least one byte.
	MaxCount = 1 << 16
)

// Encoder appends fields to a buffer. The zero value is ready to use.
type Encoder struct {
	Buf []byte
}

// Reset empties the buffer, keeping its storage.
func (e *Encoder) Reset() { e.Buf = e.Buf[:0] }

// Byte appends one byte.
func (e *Encoder) Byte(b byte) { e.Buf = append(e.Buf, b) }

// Uvarint appends an unsigned varint.
func (e *Encoder) Uvarint(u uint64) { e.Buf = binary.AppendUvarint(e.Buf, u) }

// Varint appends a signed varint.
func (e *Encoder) Varint(i int64) { e.Buf = binary.AppendVarint(e.Buf, i) }

// Bool appends 0 or 1.
func (e *Encoder) Bool(b bool) {
	if b {
		e.Buf = append(e.Buf, 1)
	} else {
		e.Buf = append(e.Buf, 0)
	}
}

// String appends a length-prefixed string.
func (e *Encoder) String(s string) {
	e.Uvarint(uint64(len(s)))
	e.Buf = append(e.Buf, s...)
}

// Bytes appends a length-prefixed byte string (nil encodes as empty).
func (e *Encoder) Bytes(b []byte) {
	e.Uvarint(uint64(len(b)))
	e.Buf = append(e.Buf, b...)
}

// Nilable appends a byte string that keeps nil apart from empty.
func (e *Encoder) Nilable(b []byte) {
	if b == nil {
		e.Uvarint(0)
		return
	}
	e.Uvarint(uint64(len(b)) + 1)
	e.Buf = append(e.Buf, b...)
}

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("malformed message")

// Decoder reads fields from a message. After the first failure every
// method returns a zero value and Err reports the failure, so that a
// caller may decode several fields and check once.
type Decoder struct {
	b   []byte
	err error
}

// NewDecoder returns a decoder of b. Strings are copied out of b; byte
// strings returned by Bytes and Nilable alias b.
func NewDecoder(b []byte) *Decoder { return &Decoder{b: b} }

func (d *Decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrMalformed, what)
	}
	d.b = nil
}

// Err returns the first decoding failure.
func (d *Decoder) Err() error { return d.err }

// Finish returns the first decoding failure, or an error if bytes remain.
func (d *Decoder) Finish() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	return d.err
}

// Remaining returns how many bytes are left.
func (d *Decoder) Remaining() int { return len(d.b) }

// Byte reads one byte.
func (d *Decoder) Byte() byte {
	if len(d.b) < 1 {
		d.fail("truncated")
		return 0
	}
	b := d.b[0]
	d.b = d.b[1:]
	return b
}

// Uvarint reads an unsigned varint in its minimal encoding.
func (d *Decoder) Uvarint() uint64 {
	u, n := binary.Uvarint(d.b)
	if n <= 0 || n > 1 && d.b[n-1] == 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return u
}

// Varint reads a signed varint in its minimal encoding.
func (d *Decoder) Varint() int64 {
	u := d.Uvarint()
	// binary.AppendVarint's zig-zag encoding.
	i := int64(u >> 1)
	if u&1 != 0 {
		i = ^i
	}
	return i
}

// Bool reads a boolean (0 or 1).
func (d *Decoder) Bool() bool {
	switch d.Byte() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail("bad boolean")
	return false
}

// Count reads a uvarint count of fields that each take at least one byte:
// a count above MaxCount or above the bytes left is refused.
func (d *Decoder) Count() int {
	n := d.Uvarint()
	if n > MaxCount || n > uint64(len(d.b)) {
		d.fail("count out of range")
		return 0
	}
	return int(n)
}

func (d *Decoder) take(n uint64) []byte {
	if n > uint64(len(d.b)) {
		d.fail("length beyond message")
		return nil
	}
	out := d.b[:n:n]
	d.b = d.b[n:]
	return out
}

// Bytes reads a length-prefixed byte string (never nil after success).
func (d *Decoder) Bytes() []byte {
	n := d.Uvarint()
	if d.err != nil {
		return nil
	}
	b := d.take(n)
	if b == nil && d.err == nil {
		b = []byte{}
	}
	return b
}

// String reads a length-prefixed string.
func (d *Decoder) String() string { return string(d.Bytes()) }

// Nilable reads a byte string written by Encoder.Nilable.
func (d *Decoder) Nilable() []byte {
	n := d.Uvarint()
	if d.err != nil || n == 0 {
		return nil
	}
	if n == math.MaxUint64 {
		d.fail("length beyond message")
		return nil
	}
	b := d.take(n - 1)
	if b == nil && d.err == nil {
		b = []byte{}
	}
	return b
}

// Strings reads a count and that many strings.
func (d *Decoder) Strings() []string {
	n := d.Count()
	if d.err != nil {
		return nil
	}
	out := make([]string, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, d.String())
	}
	return out
}

// Invocation is what the host asks the guest to run.
type Invocation struct {
	Function string
	Args     [][]byte
}

// EncodeInvocation appends inv to e: string function, uvarint n, n × bytes.
func EncodeInvocation(e *Encoder, inv Invocation) {
	e.String(inv.Function)
	e.Uvarint(uint64(len(inv.Args)))
	for _, a := range inv.Args {
		e.Bytes(a)
	}
}

// DecodeInvocation parses an encoded invocation; the arguments alias b.
func DecodeInvocation(b []byte) (Invocation, error) {
	d := NewDecoder(b)
	inv := Invocation{Function: d.String()}
	n := d.Count()
	if d.Err() == nil {
		inv.Args = make([][]byte, 0, n)
		for i := 0; i < n && d.Err() == nil; i++ {
			inv.Args = append(inv.Args, d.Bytes())
		}
	}
	if err := d.Finish(); err != nil {
		return Invocation{}, fmt.Errorf("invocation: %w", err)
	}
	return inv, nil
}

// Result is the guest's answer to an invocation.
type Result struct {
	Status  byte   // ResultOK, ResultError or ResultPanic
	Payload []byte // ResultOK
	Message string // ResultError: the error text; ResultPanic: the panic value
}

// EncodeResult appends r to e.
func EncodeResult(e *Encoder, r Result) {
	e.Byte(r.Status)
	if r.Status == ResultOK {
		e.Nilable(r.Payload)
	} else {
		e.String(r.Message)
	}
}

// DecodeResult parses an encoded result; the payload aliases b.
func DecodeResult(b []byte) (Result, error) {
	d := NewDecoder(b)
	r := Result{Status: d.Byte()}
	switch r.Status {
	case ResultOK:
		r.Payload = d.Nilable()
	case ResultError, ResultPanic:
		r.Message = d.String()
	default:
		if d.Err() == nil {
			d.fail("unknown result status")
		}
	}
	if err := d.Finish(); err != nil {
		return Result{}, fmt.Errorf("result: %w", err)
	}
	return r, nil
}
