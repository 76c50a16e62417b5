package ledger

import (
	"bytes"
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
//	       ‖ uint64 count ‖ private hashes )    hashed private writes of the valid transactions
//
// Each write is `uint64 len(namespace) ‖ namespace ‖ uint64 len(key) ‖ key ‖
// byte is_delete ‖ uint64 len(value) ‖ value`, integers big-endian, and
// the writes are sorted by (namespace, key), ties kept in block order
// (transaction, then position in its read/write set). Each private write
// hash is `uint64 len(namespace) ‖ namespace ‖ uint64 len(collection) ‖
// collection ‖ uint64 len(key hash) ‖ key hash ‖ byte is_delete ‖ uint64
// len(value hash) ‖ value hash`, sorted by (namespace, collection, key
// hash), ties in block order. Only the hashes enter, never private values,
// so every peer computes the same commit hash whatever private data it
// holds; a block without private writes hashes as before (count 0).
func ComputeCommitHash(prev []byte, header *pb.BlockHeader, codes []byte, writes [][]Write, private [][]PrivateWriteHash) []byte {
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
	type orderedHash struct {
		h   *PrivateWriteHash
		seq int
	}
	var hashes []orderedHash
	for i := range private {
		for j := range private[i] {
			hashes = append(hashes, orderedHash{&private[i][j], len(hashes)})
		}
	}
	slices.SortFunc(hashes, func(a, b orderedHash) int {
		if c := cmp.Compare(a.h.Namespace, b.h.Namespace); c != 0 {
			return c
		}
		if c := cmp.Compare(a.h.Collection, b.h.Collection); c != 0 {
			return c
		}
		if c := bytes.Compare(a.h.KeyHash, b.h.KeyHash); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	putLen(len(hashes))
	for _, o := range hashes {
		putLen(len(o.h.Namespace))
		h.Write([]byte(o.h.Namespace))
		putLen(len(o.h.Collection))
		h.Write([]byte(o.h.Collection))
		putLen(len(o.h.KeyHash))
		h.Write(o.h.KeyHash)
		if o.h.IsDelete {
			h.Write([]byte{1})
		} else {
			h.Write([]byte{0})
		}
		putLen(len(o.h.ValueHash))
		h.Write(o.h.ValueHash)
	}
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
