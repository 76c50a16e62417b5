// Package protocol holds blossom's wire messages (generated into pb/ from
// proto/) and the byte-level rules every node must agree on: how a
// transaction ID, a proposal hash, a block hash and the orderer's signed
// bytes are computed, and bounded decoding of network input.
//
// Hashes are computed over fixed binary layouts of raw bytes, never over a
// re-marshalled protobuf, so that two implementations agree byte for byte.
package protocol

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// Limits on decoded network input.
const (
	// MaxMessageBytes bounds any single protobuf message read from the
	// network (a block may hold up to BatchSize.absolute_max_bytes of
	// envelopes plus metadata).
	MaxMessageBytes = 64 << 20
	// NonceSize is the length of a header nonce.
	NonceSize = 24
	// MaxTimestampSkewSeconds is how far a proposal's timestamp may be from
	// an endorser's clock (DESIGN §11).
	MaxTimestampSkewSeconds = 5 * 60
)

// ErrTooLarge reports input over a size limit.
var ErrTooLarge = errors.New("message too large")

// Unmarshal decodes a protobuf message of at most limit bytes (limit <= 0:
// MaxMessageBytes). Unknown fields are discarded so they cannot smuggle
// data past signature checks that re-read fields.
func Unmarshal(data []byte, m proto.Message, limit int) error {
	if limit <= 0 {
		limit = MaxMessageBytes
	}
	if len(data) > limit {
		return fmt.Errorf("%w: %d bytes (limit %d)", ErrTooLarge, len(data), limit)
	}
	if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, m); err != nil {
		return fmt.Errorf("malformed %s: %w", m.ProtoReflect().Descriptor().Name(), err)
	}
	return nil
}

// Marshal encodes m deterministically (map fields in key order).
func Marshal(m proto.Message) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

// MustMarshal is Marshal for messages built in code, where an error is a bug.
func MustMarshal(m proto.Message) []byte {
	b, err := Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("protocol: marshal %T: %v", m, err))
	}
	return b
}

// ComputeTxID returns the transaction ID for a nonce and marshalled creator:
// lowercase hex SHA-256(nonce ‖ creator).
func ComputeTxID(nonce, creator []byte) string {
	h := sha256.New()
	h.Write(nonce)
	h.Write(creator)
	return hex.EncodeToString(h.Sum(nil))
}

// ProposalHash is what endorsers sign and transactions bind to:
// SHA-256(uint64 len(header) ‖ header ‖ invocation), both marshalled bytes
// as carried in the Proposal. The transient map is deliberately excluded.
func ProposalHash(header, invocation []byte) []byte {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(header)))
	h.Write(n[:])
	h.Write(header)
	h.Write(invocation)
	return h.Sum(nil)
}

// EndorsementSignedBytes is what an endorser signs: the response payload
// bytes followed by its own serialized identity.
func EndorsementSignedBytes(responsePayload, endorser []byte) []byte {
	out := make([]byte, 0, len(responsePayload)+len(endorser))
	out = append(out, responsePayload...)
	return append(out, endorser...)
}

// ConfigSignatureSignedBytes is what an admin signs to approve a config
// update: the update bytes followed by the admin's serialized identity.
func ConfigSignatureSignedBytes(configUpdate, signer []byte) []byte {
	return EndorsementSignedBytes(configUpdate, signer)
}

// BlockDataHash is SHA-256 over each envelope as uint64 length ‖ bytes.
func BlockDataHash(data *pb.BlockData) []byte {
	h := sha256.New()
	var n [8]byte
	for _, env := range data.GetEnvelopes() {
		binary.BigEndian.PutUint64(n[:], uint64(len(env)))
		h.Write(n[:])
		h.Write(env)
	}
	return h.Sum(nil)
}

// BlockHeaderHash is the block's hash: SHA-256(number ‖ timestamp ‖
// len(prev) ‖ prev ‖ len(data hash) ‖ data hash), integers big-endian.
func BlockHeaderHash(hdr *pb.BlockHeader) []byte {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], hdr.GetNumber())
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(hdr.GetTimestampUnixNano()))
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(len(hdr.GetPreviousHash())))
	h.Write(n[:])
	h.Write(hdr.GetPreviousHash())
	binary.BigEndian.PutUint64(n[:], uint64(len(hdr.GetDataHash())))
	h.Write(n[:])
	h.Write(hdr.GetDataHash())
	return h.Sum(nil)
}

// OrdererSignedBytes is what the cutting orderer signs for a block: the
// header hash followed by the last config block number (big-endian).
func OrdererSignedBytes(headerHash []byte, lastConfig uint64) []byte {
	out := make([]byte, len(headerHash), len(headerHash)+8)
	copy(out, headerHash)
	return binary.BigEndian.AppendUint64(out, lastConfig)
}

// SerializeIdentity marshals a SerializedIdentity.
func SerializeIdentity(mspID string, certDER []byte) []byte {
	return MustMarshal(&pb.SerializedIdentity{MspId: mspID, CertDer: certDER})
}

// ParseSerializedIdentity decodes creator or signer bytes (bounded to 64 KiB).
func ParseSerializedIdentity(b []byte) (*pb.SerializedIdentity, error) {
	id := new(pb.SerializedIdentity)
	if err := Unmarshal(b, id, 64<<10); err != nil {
		return nil, err
	}
	if id.MspId == "" || len(id.CertDer) == 0 {
		return nil, errors.New("malformed SerializedIdentity: empty MSP ID or certificate")
	}
	return id, nil
}

// OpenEnvelope decodes an envelope's payload and header (without checking
// the signature: callers verify env.Signature over env.Payload with the
// creator they validated).
func OpenEnvelope(envBytes []byte, limit int) (*pb.Envelope, *pb.Payload, *pb.Header, error) {
	env := new(pb.Envelope)
	if err := Unmarshal(envBytes, env, limit); err != nil {
		return nil, nil, nil, err
	}
	payload := new(pb.Payload)
	if err := Unmarshal(env.Payload, payload, limit); err != nil {
		return nil, nil, nil, err
	}
	hdr := new(pb.Header)
	if err := Unmarshal(payload.Header, hdr, 64<<10+4096); err != nil {
		return nil, nil, nil, err
	}
	if hdr.Type == pb.HeaderType_HEADER_TYPE_UNSPECIFIED {
		return nil, nil, nil, errors.New("malformed Header: type unspecified")
	}
	if hdr.ChannelId == "" {
		return nil, nil, nil, errors.New("malformed Header: empty channel ID")
	}
	return env, payload, hdr, nil
}
