package wasmabi

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

func TestFieldsRoundTrip(t *testing.T) {
	var e Encoder
	e.Byte(7)
	e.Uvarint(math.MaxUint64)
	e.Varint(math.MinInt64)
	e.Varint(-1)
	e.Bool(true)
	e.String("héllo")
	e.Bytes(nil)
	e.Nilable(nil)
	e.Nilable([]byte{})
	e.Nilable([]byte("x"))
	d := NewDecoder(e.Buf)
	if d.Byte() != 7 || d.Uvarint() != math.MaxUint64 || d.Varint() != math.MinInt64 || d.Varint() != -1 ||
		!d.Bool() || d.String() != "héllo" {
		t.Fatal("scalar fields")
	}
	if b := d.Bytes(); b == nil || len(b) != 0 {
		t.Fatalf("Bytes of an empty string: %v", b)
	}
	if d.Nilable() != nil {
		t.Fatal("nil lost")
	}
	if b := d.Nilable(); b == nil || len(b) != 0 {
		t.Fatal("empty became nil")
	}
	if string(d.Nilable()) != "x" {
		t.Fatal("nilable value")
	}
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
}

func TestDecoderRefuses(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		read func(d *Decoder)
	}{
		{"truncated byte", nil, func(d *Decoder) { d.Byte() }},
		{"non-minimal uvarint", []byte{0x80, 0x00}, func(d *Decoder) { d.Uvarint() }},
		{"overlong uvarint", bytes.Repeat([]byte{0xff}, 11), func(d *Decoder) { d.Uvarint() }},
		{"bad bool", []byte{2}, func(d *Decoder) { d.Bool() }},
		{"length beyond message", []byte{5, 'a'}, func(d *Decoder) { d.Bytes() }},
		{"nilable beyond message", []byte{3, 'a'}, func(d *Decoder) { d.Nilable() }},
		{"huge nilable", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, func(d *Decoder) { d.Nilable() }},
		{"count beyond message", []byte{3, 1, 'a'}, func(d *Decoder) { d.Strings() }},
		{"trailing bytes", []byte{1, 2}, func(d *Decoder) { d.Byte() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(tt.in)
			tt.read(d)
			if err := d.Finish(); !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v, want ErrMalformed", err)
			}
		})
	}
}

func TestInvocationAndResult(t *testing.T) {
	var e Encoder
	inv := Invocation{Function: "kv:Put", Args: [][]byte{[]byte("k"), {}, []byte("v")}}
	EncodeInvocation(&e, inv)
	got, err := DecodeInvocation(e.Buf)
	if err != nil || got.Function != inv.Function || len(got.Args) != 3 || string(got.Args[2]) != "v" {
		t.Fatalf("%+v, %v", got, err)
	}
	for _, r := range []Result{
		{Status: ResultOK, Payload: []byte("p")},
		{Status: ResultOK},
		{Status: ResultError, Message: "no"},
		{Status: ResultPanic, Message: "boom"},
	} {
		e.Reset()
		EncodeResult(&e, r)
		got, err := DecodeResult(e.Buf)
		if err != nil || got.Status != r.Status || got.Message != r.Message || !bytes.Equal(got.Payload, r.Payload) || (got.Payload == nil) != (r.Payload == nil) {
			t.Fatalf("%+v -> %+v, %v", r, got, err)
		}
	}
	if _, err := DecodeResult([]byte{9}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("unknown status: %v", err)
	}
}

func TestOps(t *testing.T) {
	if Op(0).Valid() || !OpTxID.Valid() || !OpHistoryClose.Valid() || opEnd.Valid() {
		t.Fatal("Op.Valid")
	}
	if !ErrPlain.Valid() || errKindEnd.Valid() {
		t.Fatal("ErrorKind.Valid")
	}
}

// FuzzDecodeInvocation: the guest's decoder of host invocations never
// panics and accepts only canonical encodings.
func FuzzDecodeInvocation(f *testing.F) {
	var e Encoder
	EncodeInvocation(&e, Invocation{Function: "kv:Put", Args: [][]byte{[]byte("k"), []byte("v")}})
	f.Add(e.Buf)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		inv, err := DecodeInvocation(b)
		if err != nil {
			return
		}
		var e Encoder
		EncodeInvocation(&e, inv)
		if !bytes.Equal(e.Buf, b) {
			t.Fatalf("accepted %x, re-encodes as %x", b, e.Buf)
		}
	})
}

// FuzzDecodeResult: the host's decoder of guest results never panics and
// accepts only canonical encodings.
func FuzzDecodeResult(f *testing.F) {
	for _, r := range []Result{{Status: ResultOK, Payload: []byte("p")}, {Status: ResultOK}, {Status: ResultPanic, Message: "m"}} {
		var e Encoder
		EncodeResult(&e, r)
		f.Add(e.Buf)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeResult(b)
		if err != nil {
			return
		}
		var e Encoder
		EncodeResult(&e, r)
		if !bytes.Equal(e.Buf, b) {
			t.Fatalf("accepted %x, re-encodes as %x", b, e.Buf)
		}
	})
}
