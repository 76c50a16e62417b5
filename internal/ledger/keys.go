package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// Pebble key layout. Every key starts with a one-byte prefix:
//
//	'm'                                    meta: height ‖ last config ‖ last hash ‖ commit hash
//	'b' ‖ uint64 number                    block index: segment ‖ offset ‖ length ‖ commit hash
//	't' ‖ txID                             tx index: block ‖ uint32 tx number ‖ byte code
//	's' ‖ ns ‖ 0x00 ‖ key                  state: uint64 block ‖ uint64 tx ‖ value
//	'h' ‖ ns ‖ 0x00 ‖ uint32 len(key) ‖ key ‖ uint64 block ‖ uint64 tx    history: byte is_delete
//	'a' ‖ uint64 block ‖ uint64 tx ‖ ns ‖ 0x00 ‖ coll   committed private writes of a collection (served to reconciling peers)
//	'k' ‖ ns ‖ 0x00 ‖ coll ‖ 0x00 ‖ SHA-256(key)      hashed private state: uint64 block ‖ uint64 tx ‖ SHA-256(value)
//	'p' ‖ ns ‖ 0x00 ‖ coll ‖ 0x00 ‖ key              private state: uint64 block ‖ uint64 tx ‖ value
//	'q' ‖ uint64 block ‖ uint64 tx                   private writes staged before the block's commit point
//	'x' ‖ uint64 block ‖ uint64 tx ‖ ns ‖ 0x00 ‖ coll   private data this peer misses: empty
//	'r' ‖ uint64 block ‖ uint64 tx ‖ ns ‖ 0x00 ‖ coll   expiry staged before the block's commit point: uint64 block
//	'e' ‖ uint64 expiry ‖ uint64 block ‖ uint64 tx ‖ ns ‖ 0x00 ‖ coll   purge schedule: SHA-256 key hashes
//	'u' ‖ ns ‖ 0x00 ‖ coll ‖ 0x00 ‖ SHA-256(key)      purged private value: uint64 block ‖ uint64 tx
//	'B' ‖ byte                                        snapshot base of a ledger created from a snapshot (base.go)
//
// Integers are big-endian so keys sort numerically. A namespace holds no NUL,
// so 's' keys sort by (namespace, key).
const (
	prefixMeta    = 'm'
	prefixBlock   = 'b'
	prefixTx      = 't'
	prefixState   = 's'
	prefixHistory = 'h'
	prefixArchive = 'a'
	prefixHashed  = 'k'
	prefixPrivate = 'p'
	prefixPending = 'q'
	prefixMissing = 'x'

	prefixRetention = 'r'
	prefixSchedule  = 'e'
	prefixPurged    = 'u'

	prefixBase = 'B'
)

// MaxTxIDBytes bounds the transaction IDs the tx index records (a txID is 64
// hex characters; longer ones are not indexed).
const MaxTxIDBytes = 256

var metaKey = []byte{prefixMeta}

// meta is the ledger's summary record.
type meta struct {
	height     uint64
	lastConfig uint64
	lastHash   []byte // 32 bytes once height > 0
	commitHash []byte
}

const hashSize = 32

func (m meta) encode() []byte {
	out := make([]byte, 16, 16+2*hashSize)
	binary.BigEndian.PutUint64(out[0:8], m.height)
	binary.BigEndian.PutUint64(out[8:16], m.lastConfig)
	out = append(out, padHash(m.lastHash)...)
	return append(out, padHash(m.commitHash)...)
}

func padHash(h []byte) []byte {
	if len(h) == 0 {
		return make([]byte, hashSize)
	}
	return h
}

func decodeMeta(b []byte) (meta, error) {
	if len(b) != 16+2*hashSize {
		return meta{}, fmt.Errorf("ledger meta record of %d bytes", len(b))
	}
	m := meta{height: binary.BigEndian.Uint64(b[0:8]), lastConfig: binary.BigEndian.Uint64(b[8:16])}
	if m.height > 0 {
		m.lastHash = append([]byte(nil), b[16:16+hashSize]...)
		m.commitHash = append([]byte(nil), b[16+hashSize:]...)
	}
	return m, nil
}

func blockKey(number uint64) []byte {
	k := make([]byte, 9)
	k[0] = prefixBlock
	binary.BigEndian.PutUint64(k[1:], number)
	return k
}

// blockEntry is a block index value.
type blockEntry struct {
	loc        location
	commitHash []byte
}

func (e blockEntry) encode() []byte {
	out := make([]byte, 16, 16+hashSize)
	binary.BigEndian.PutUint32(out[0:4], e.loc.Segment)
	binary.BigEndian.PutUint64(out[4:12], uint64(e.loc.Offset))
	binary.BigEndian.PutUint32(out[12:16], e.loc.Length)
	return append(out, e.commitHash...)
}

func decodeBlockEntry(b []byte) (blockEntry, error) {
	if len(b) != 16+hashSize {
		return blockEntry{}, fmt.Errorf("block index entry of %d bytes", len(b))
	}
	return blockEntry{
		loc: location{
			Segment: binary.BigEndian.Uint32(b[0:4]),
			Offset:  int64(binary.BigEndian.Uint64(b[4:12])),
			Length:  binary.BigEndian.Uint32(b[12:16]),
		},
		commitHash: append([]byte(nil), b[16:]...),
	}, nil
}

func txKey(txID string) []byte {
	k := make([]byte, 1+len(txID))
	k[0] = prefixTx
	copy(k[1:], txID)
	return k
}

// TxInfo is where a transaction was committed and with which verdict.
type TxInfo struct {
	Block uint64
	Index uint32 // position in the block
	Code  pb.TxValidationCode
}

func (t TxInfo) encode() []byte {
	out := make([]byte, 13)
	binary.BigEndian.PutUint64(out[0:8], t.Block)
	binary.BigEndian.PutUint32(out[8:12], t.Index)
	out[12] = byte(t.Code)
	return out
}

func decodeTxInfo(b []byte) (TxInfo, error) {
	if len(b) != 13 {
		return TxInfo{}, fmt.Errorf("tx index entry of %d bytes", len(b))
	}
	return TxInfo{Block: binary.BigEndian.Uint64(b[0:8]), Index: binary.BigEndian.Uint32(b[8:12]), Code: pb.TxValidationCode(b[12])}, nil
}

// stateNSPrefix is the prefix of every state key of namespace ns.
func stateNSPrefix(ns string) []byte {
	k := make([]byte, 0, 2+len(ns))
	k = append(k, prefixState)
	k = append(k, ns...)
	return append(k, 0)
}

func stateKey(ns, key string) []byte {
	k := make([]byte, 0, 2+len(ns)+len(key))
	k = append(k, prefixState)
	k = append(k, ns...)
	k = append(k, 0)
	return append(k, key...)
}

// splitStateKey returns the namespace and key of a state key.
func splitStateKey(k []byte) (ns, key string, err error) {
	if len(k) < 2 || k[0] != prefixState {
		return "", "", errors.New("not a state key")
	}
	for i := 1; i < len(k); i++ {
		if k[i] == 0 {
			return string(k[1:i]), string(k[i+1:]), nil
		}
	}
	return "", "", errors.New("state key without namespace terminator")
}

// Version is the position of the transaction that last wrote a key.
type Version struct {
	Block uint64
	Tx    uint64
}

func encodeStateValue(v Version, value []byte) []byte {
	out := make([]byte, 16+len(value))
	binary.BigEndian.PutUint64(out[0:8], v.Block)
	binary.BigEndian.PutUint64(out[8:16], v.Tx)
	copy(out[16:], value)
	return out
}

// decodeStateValue splits a state value; the returned value aliases b.
func decodeStateValue(b []byte) (Version, []byte, error) {
	if len(b) < 16 {
		return Version{}, nil, fmt.Errorf("state value of %d bytes", len(b))
	}
	return Version{Block: binary.BigEndian.Uint64(b[0:8]), Tx: binary.BigEndian.Uint64(b[8:16])}, b[16:], nil
}

// historyKeyPrefix is the prefix of every history entry of (ns, key).
func historyKeyPrefix(ns, key string) []byte {
	k := make([]byte, 0, 6+len(ns)+len(key)+16)
	k = append(k, prefixHistory)
	k = append(k, ns...)
	k = append(k, 0)
	k = binary.BigEndian.AppendUint32(k, uint32(len(key)))
	return append(k, key...)
}

func historyKey(ns, key string, v Version) []byte {
	k := historyKeyPrefix(ns, key)
	k = binary.BigEndian.AppendUint64(k, v.Block)
	return binary.BigEndian.AppendUint64(k, v.Tx)
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil // p is all 0xff: no upper bound
}

// collectionKey is prefix ‖ ns ‖ 0x00 ‖ coll ‖ 0x00 ‖ key.
func collectionKey(prefix byte, ns, coll string, key []byte) []byte {
	k := make([]byte, 0, 3+len(ns)+len(coll)+len(key))
	k = append(k, prefix)
	k = append(k, ns...)
	k = append(k, 0)
	k = append(k, coll...)
	k = append(k, 0)
	return append(k, key...)
}

func hashedKey(ns, coll string, keyHash []byte) []byte {
	return collectionKey(prefixHashed, ns, coll, keyHash)
}

func privateKey(ns, coll, key string) []byte {
	return collectionKey(prefixPrivate, ns, coll, []byte(key))
}

// pendingBlockPrefix is the prefix of every pending record of block number.
func pendingBlockPrefix(number uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixPending}, number)
}

func pendingKey(number, tx uint64) []byte {
	return binary.BigEndian.AppendUint64(pendingBlockPrefix(number), tx)
}

// missingBlockPrefix is the prefix of every missing record of block number.
func missingBlockPrefix(number uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixMissing}, number)
}

func missingKey(number, tx uint64, ns, coll string) []byte {
	return txCollectionKey(prefixMissing, number, tx, ns, coll)
}

func decodeMissingKey(k []byte) (MissingPrivateData, error) {
	if len(k) < 18 || k[0] != prefixMissing {
		return MissingPrivateData{}, errors.New("not a missing private data key")
	}
	ns, coll, ok := bytes.Cut(k[17:], []byte{0})
	if !ok {
		return MissingPrivateData{}, errors.New("missing private data key without namespace terminator")
	}
	return MissingPrivateData{
		Block:      binary.BigEndian.Uint64(k[1:9]),
		Tx:         binary.BigEndian.Uint64(k[9:17]),
		Namespace:  string(ns),
		Collection: string(coll),
	}, nil
}

func archiveKey(number, tx uint64, ns, coll string) []byte {
	return txCollectionKey(prefixArchive, number, tx, ns, coll)
}
