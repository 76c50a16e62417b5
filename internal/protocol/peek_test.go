package protocol

import (
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

func TestEnvelopeTxID(t *testing.T) {
	header := func(txID string) []byte {
		return MustMarshal(&pb.Header{Type: pb.HeaderType_ENDORSER_TRANSACTION, ChannelId: "ch", TxId: txID})
	}
	envelope := func(hdr []byte) []byte {
		return MustMarshal(&pb.Envelope{Payload: MustMarshal(&pb.Payload{Header: hdr, Data: []byte("data")}), Signature: []byte("sig")})
	}
	// A repeated field: protobuf keeps the last occurrence.
	twice := protowire.AppendTag(header("first"), headerTxIDField, protowire.BytesType)
	twice = protowire.AppendString(twice, "second")
	// The tx_id field number with another wire type decodes as unknown.
	otherType := protowire.AppendTag(header("kept"), headerTxIDField, protowire.VarintType)
	otherType = protowire.AppendVarint(otherType, 7)
	truncated := envelope(header("x"))
	tests := []struct {
		name    string
		env     []byte
		want    string
		wantErr bool
	}{
		{"plain", envelope(header("abc123")), "abc123", false},
		{"no tx_id", envelope(header("")), "", false},
		{"last occurrence wins", envelope(twice), "second", false},
		{"other wire type skipped", envelope(otherType), "kept", false},
		{"empty", nil, "", false},
		{"truncated", truncated[:len(truncated)-2], "", true},
		{"garbage", []byte{0xff, 0xff, 0xff}, "", true},
		{"not UTF-8", envelope(protowire.AppendString(protowire.AppendTag(nil, headerTxIDField, protowire.BytesType), "\xff")), "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := EnvelopeTxID(tc.env)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("EnvelopeTxID = %q, %v; want %q, error %v", got, err, tc.want, tc.wantErr)
			}
			if _, _, hdr, err := OpenEnvelope(tc.env, 0); err == nil && hdr.TxId != got {
				t.Fatalf("OpenEnvelope reads tx_id %q, EnvelopeTxID %q", hdr.TxId, got)
			}
		})
	}
}

// FuzzEnvelopeTxID checks EnvelopeTxID against the full decoding: whenever
// OpenEnvelope accepts the bytes, both read the same transaction ID.
func FuzzEnvelopeTxID(f *testing.F) {
	f.Add(validEnvelope())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := EnvelopeTxID(b)
		_, _, hdr, openErr := OpenEnvelope(b, 0)
		if openErr != nil {
			return
		}
		if err != nil || got != hdr.TxId {
			t.Fatalf("OpenEnvelope reads tx_id %q; EnvelopeTxID = %q, %v", hdr.TxId, got, err)
		}
	})
}
