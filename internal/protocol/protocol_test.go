package protocol

import (
	"bytes"
	"errors"
	"testing"

	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

func TestTxIDDependsOnNonceAndCreator(t *testing.T) {
	a := ComputeTxID([]byte("nonce-1"), []byte("creator"))
	if len(a) != 64 {
		t.Fatalf("tx ID %q is not 32 bytes of hex", a)
	}
	if a == ComputeTxID([]byte("nonce-2"), []byte("creator")) || a == ComputeTxID([]byte("nonce-1"), []byte("creatos")) {
		t.Fatal("tx ID does not depend on both nonce and creator")
	}
}

func TestProposalHashIsUnambiguous(t *testing.T) {
	// Moving a byte from header to invocation must change the hash.
	h1 := ProposalHash([]byte("ab"), []byte("c"))
	h2 := ProposalHash([]byte("a"), []byte("bc"))
	if bytes.Equal(h1, h2) {
		t.Fatal("proposal hash does not separate header from invocation")
	}
}

func TestBlockHashes(t *testing.T) {
	d1 := BlockDataHash(&pb.BlockData{Envelopes: [][]byte{[]byte("ab"), []byte("c")}})
	d2 := BlockDataHash(&pb.BlockData{Envelopes: [][]byte{[]byte("a"), []byte("bc")}})
	if bytes.Equal(d1, d2) {
		t.Fatal("data hash does not separate envelopes")
	}
	hdr := &pb.BlockHeader{Number: 1, PreviousHash: []byte{1}, DataHash: d1, TimestampUnixNano: 5}
	base := BlockHeaderHash(hdr)
	for name, mutate := range map[string]func(h *pb.BlockHeader){
		"number":    func(h *pb.BlockHeader) { h.Number = 2 },
		"previous":  func(h *pb.BlockHeader) { h.PreviousHash = []byte{2} },
		"data":      func(h *pb.BlockHeader) { h.DataHash = d2 },
		"timestamp": func(h *pb.BlockHeader) { h.TimestampUnixNano = 6 },
	} {
		c := &pb.BlockHeader{Number: hdr.Number, PreviousHash: hdr.PreviousHash, DataHash: hdr.DataHash, TimestampUnixNano: hdr.TimestampUnixNano}
		mutate(c)
		if bytes.Equal(BlockHeaderHash(c), base) {
			t.Errorf("header hash ignores %s", name)
		}
	}
	if bytes.Equal(OrdererSignedBytes(base, 1), OrdererSignedBytes(base, 2)) {
		t.Fatal("orderer signed bytes ignore the last config number")
	}
}

func TestUnmarshalLimit(t *testing.T) {
	env := MustMarshal(&pb.Envelope{Payload: make([]byte, 100)})
	if err := Unmarshal(env, new(pb.Envelope), 50); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Unmarshal over limit = %v, want ErrTooLarge", err)
	}
	if err := Unmarshal([]byte{0xff, 0xff}, new(pb.Envelope), 0); err == nil {
		t.Fatal("Unmarshal of garbage succeeded")
	}
}

func validEnvelope() []byte {
	hdr := MustMarshal(&pb.Header{Type: pb.HeaderType_ENDORSER_TRANSACTION, ChannelId: "ch", TxId: "x"})
	return MustMarshal(&pb.Envelope{Payload: MustMarshal(&pb.Payload{Header: hdr, Data: []byte("d")}), Signature: []byte("s")})
}

func TestOpenEnvelope(t *testing.T) {
	_, payload, hdr, err := OpenEnvelope(validEnvelope(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if hdr.ChannelId != "ch" || string(payload.Data) != "d" {
		t.Fatalf("decoded %v %v", hdr, payload)
	}
	noChannel := MustMarshal(&pb.Envelope{Payload: MustMarshal(&pb.Payload{Header: MustMarshal(&pb.Header{Type: pb.HeaderType_CONFIG})})})
	noType := MustMarshal(&pb.Envelope{Payload: MustMarshal(&pb.Payload{Header: MustMarshal(&pb.Header{ChannelId: "ch"})})})
	for name, b := range map[string][]byte{"no channel": noChannel, "no type": noType, "garbage": []byte{1, 2, 3}, "empty": nil} {
		if _, _, _, err := OpenEnvelope(b, 0); err == nil {
			t.Errorf("%s: OpenEnvelope succeeded", name)
		}
	}
}

func FuzzOpenEnvelope(f *testing.F) {
	f.Add(validEnvelope())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, hdr, err := OpenEnvelope(b, 1<<20)
		if err == nil && (hdr.ChannelId == "" || hdr.Type == pb.HeaderType_HEADER_TYPE_UNSPECIFIED) {
			t.Fatal("accepted a header without channel or type")
		}
	})
}

func FuzzParseSerializedIdentity(f *testing.F) {
	f.Add(SerializeIdentity("Org1MSP", []byte{1, 2, 3}))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := ParseSerializedIdentity(b)
		if err == nil && (id.MspId == "" || len(id.CertDer) == 0) {
			t.Fatal("accepted an empty identity")
		}
	})
}
