package wasm

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/blossom-ledger/blossom/chaincode/kvtest"
	"github.com/blossom-ledger/blossom/sdk/contract"
	"github.com/blossom-ledger/blossom/sdk/contract/contracttest"
	"github.com/blossom-ledger/blossom/sdk/contract/wasmabi"
)

// encodeRequest is the inverse of decodeRequest (the guest's encoding).
func encodeRequest(r *request) []byte {
	var e wasmabi.Encoder
	e.Byte(byte(r.op))
	sh := shapes[r.op]
	for i := 0; i < sh.strs; i++ {
		e.String(r.strs[i])
	}
	if sh.list {
		e.Uvarint(uint64(len(r.list)))
		for _, s := range r.list {
			e.String(s)
		}
	}
	if sh.args {
		e.Uvarint(uint64(len(r.args)))
		for _, a := range r.args {
			e.Bytes(a)
		}
	}
	if sh.value {
		e.Bytes(r.value)
	}
	if sh.handle {
		e.Uvarint(r.handle)
	}
	return e.Buf
}

// seedRequests is one well-formed request per operation.
func seedRequests() [][]byte {
	var out [][]byte
	for op := range shapes {
		r := &request{op: op, strs: [3]string{"coll", "key", "end"}, list: []string{"a", "b"},
			args: [][]byte{[]byte("x"), {}}, value: []byte("value"), handle: 1}
		out = append(out, encodeRequest(r))
	}
	return out
}

func TestDecodeRequestRoundTrip(t *testing.T) {
	for _, b := range seedRequests() {
		r, err := decodeRequest(b)
		if err != nil {
			t.Fatalf("%x: %v", b, err)
		}
		if again := encodeRequest(r); !bytes.Equal(again, b) {
			t.Fatalf("round trip %x -> %x", b, again)
		}
	}
	for _, bad := range [][]byte{nil, {0}, {byte(wasmabi.OpGetState)}, {byte(wasmabi.OpGetState), 5, 'a'}, {255},
		append(encodeRequest(&request{op: wasmabi.OpTxID}), 0)} {
		if _, err := decodeRequest(bad); !errors.Is(err, wasmabi.ErrMalformed) {
			t.Fatalf("%x: error %v, want ErrMalformed", bad, err)
		}
	}
}

// FuzzDecodeRequest: the decoder of guest requests never panics, and
// whatever it accepts re-encodes to the same bytes (one encoding per
// request).
func FuzzDecodeRequest(f *testing.F) {
	for _, b := range seedRequests() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRequest(b)
		if err != nil {
			return
		}
		if again := encodeRequest(r); !bytes.Equal(again, b) {
			t.Fatalf("accepted %x but re-encodes as %x", b, again)
		}
	})
}

// newTestSession is a session over a contracttest stub.
func newTestSession() *session {
	stub := contracttest.NewStub("kv", kvtest.New())
	stub.SetState("a", []byte("A"))
	stub.SetPrivateData("c", "p", []byte("P"))
	stub.SetTransient(map[string][]byte{"z": []byte("1"), "a": []byte("2")})
	return &session{stub: stub, iters: make(map[uint64]any)}
}

// FuzzHandle: any request, well-formed or not, gets a well-formed
// response and never panics the host.
func FuzzHandle(f *testing.F) {
	for _, b := range seedRequests() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := newTestSession()
		for i := 0; i < 2; i++ { // twice: iterator handles now exist
			resp := s.handle(b)
			d := wasmabi.NewDecoder(resp)
			switch d.Byte() {
			case wasmabi.StatusOK:
			case wasmabi.StatusError:
				if k := wasmabi.ErrorKind(d.Byte()); !k.Valid() {
					t.Fatalf("error kind %d", k)
				}
			default:
				t.Fatalf("response %x has no valid status", resp)
			}
		}
	})
}

func TestHandleAnswers(t *testing.T) {
	s := newTestSession()
	call := func(r *request) *wasmabi.Decoder {
		t.Helper()
		d := wasmabi.NewDecoder(bytes.Clone(s.handle(encodeRequest(r))))
		return d
	}
	d := call(&request{op: wasmabi.OpGetState, strs: [3]string{"a"}})
	if d.Byte() != wasmabi.StatusOK || string(d.Nilable()) != "A" || d.Finish() != nil {
		t.Fatal("GetState a")
	}
	d = call(&request{op: wasmabi.OpGetState, strs: [3]string{"missing"}})
	if d.Byte() != wasmabi.StatusOK || d.Nilable() != nil || d.Finish() != nil {
		t.Fatal("GetState of an absent key must answer nil")
	}
	d = call(&request{op: wasmabi.OpTransient})
	if d.Byte() != wasmabi.StatusOK || d.Count() != 2 || d.String() != "a" {
		t.Fatal("transient keys not sorted")
	}
	d = call(&request{op: wasmabi.OpIterNext, handle: 42})
	if d.Byte() != wasmabi.StatusError || wasmabi.ErrorKind(d.Byte()) != wasmabi.ErrPlain || d.String() != "no such iterator" {
		t.Fatal("unknown handle")
	}
	d = call(&request{op: wasmabi.OpStateByRange, strs: [3]string{"", ""}})
	if d.Byte() != wasmabi.StatusOK || d.Uvarint() != 1 {
		t.Fatal("range handle")
	}
	d = call(&request{op: wasmabi.OpHistoryNext, handle: 1})
	if d.Byte() != wasmabi.StatusError {
		t.Fatal("a range handle used as a history handle")
	}
}

func TestEncodeErrorKinds(t *testing.T) {
	tests := []struct {
		err  error
		kind wasmabi.ErrorKind
	}{
		{errors.New("plain"), wasmabi.ErrPlain},
		{contract.ErrCallDepth, wasmabi.ErrCallDepth},
		{contract.ErrPrivateQueryAfterWrite, wasmabi.ErrPrivateQueryAfterWrite},
		{contract.ErrWriteAfterPrivateQuery, wasmabi.ErrWriteAfterPrivateQuery},
		{fmt.Errorf("wrapped: %w", contract.ErrCallDepth), wasmabi.ErrPlain}, // the text differs: kept verbatim
		{&contract.InvokeError{Chaincode: "cc", Message: "no"}, wasmabi.ErrInvoke},
	}
	for _, tt := range tests {
		var e wasmabi.Encoder
		encodeError(&e, tt.err)
		d := wasmabi.NewDecoder(e.Buf)
		if d.Byte() != wasmabi.StatusError || wasmabi.ErrorKind(d.Byte()) != tt.kind || d.String() != tt.err.Error() {
			t.Fatalf("%v: encoded %x", tt.err, e.Buf)
		}
		if tt.kind == wasmabi.ErrInvoke && d.String() != "cc" {
			t.Fatal("invoke error lost its chaincode")
		}
		if err := d.Finish(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHandleWithoutStub(t *testing.T) {
	s := &session{iters: make(map[uint64]any)}
	d := wasmabi.NewDecoder(s.handle(encodeRequest(&request{op: wasmabi.OpTxID})))
	if d.Byte() != wasmabi.StatusError || wasmabi.ErrorKind(d.Byte()) != wasmabi.ErrPlain || d.String() != errNoStub.Error() {
		t.Fatal("a Stub call without a transaction must be refused")
	}
}
