package ledger

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// ComputeCommitHash is the commit hash of a block (DESIGN §11):
//
//	SHA-256( uint64 len(prev) ‖ prev            previous block's commit hash; empty for block 0
//	       ‖ header hash                        protocol.BlockHeaderHash, 32 bytes
//	       ‖ uint64 len(codes) ‖ codes          metadata.validation_codes, one byte per transaction
//	       ‖ uint64 count ‖ writes              every public write of the valid transactions
//	       ‖ uint64 count ‖ private hashes )    private write hashes: none yet, so count 0
//
// Each write is `uint64 len(namespace) ‖ namespace ‖ uint64 len(key) ‖ key ‖
// byte is_delete ‖ uint64 len(value) ‖ value`, integers big-endian, and
// the writes are sorted by (namespace, key), ties kept in block order
// (transaction, then position in its read/write set).
func ComputeCommitHash(prev []byte, header *pb.BlockHeader, codes []byte, writes [][]Write) []byte {
	type ordered struct {
		w   *Write
		seq int
	}
	var all []ordered
	for i := range writes {
		for j := range writes[i] {
			all = append(all, ordered{&writes[i][j], len(all)})
		}
	}
	slices.SortFunc(all, func(a, b ordered) int {
		if c := cmp.Compare(a.w.Namespace, b.w.Namespace); c != 0 {
			return c
		}
		if c := cmp.Compare(a.w.Key, b.w.Key); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})

	h := sha256.New()
	var n [8]byte
	putLen := func(l int) {
		binary.BigEndian.PutUint64(n[:], uint64(l))
		h.Write(n[:])
	}
	putLen(len(prev))
	h.Write(prev)
	h.Write(protocol.BlockHeaderHash(header))
	putLen(len(codes))
	h.Write(codes)
	putLen(len(all))
	for _, o := range all {
		putLen(len(o.w.Namespace))
		h.Write([]byte(o.w.Namespace))
		putLen(len(o.w.Key))
		h.Write([]byte(o.w.Key))
		if o.w.IsDelete {
			h.Write([]byte{1})
		} else {
			h.Write([]byte{0})
		}
		putLen(len(o.w.Value))
		h.Write(o.w.Value)
	}
	putLen(0) // private write hashes
	return h.Sum(nil)
}

// EncodeValidationCodes packs codes one byte each, as metadata carries them.
func EncodeValidationCodes(codes []pb.TxValidationCode) ([]byte, error) {
	out := make([]byte, len(codes))
	for i, c := range codes {
		if c < 0 || c > 255 {
			return nil, fmt.Errorf("transaction %d: validation code %d out of range", i, c)
		}
		out[i] = byte(c)
	}
	return out, nil
}

// DecodeValidationCodes unpacks metadata.validation_codes.
func DecodeValidationCodes(b []byte) []pb.TxValidationCode {
	codes := make([]pb.TxValidationCode, len(b))
	for i, c := range b {
		codes[i] = pb.TxValidationCode(c)
	}
	return codes
}
