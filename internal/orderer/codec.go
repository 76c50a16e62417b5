package orderer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// Raft log entries. A command entry is a one-byte kind and its body: for
// entryBlock, one block proposed by the leader (the marshalled pb.Block);
// entryNoop entries (any body) change nothing and let an operator or a
// benchmark measure Raft itself.
const (
	entryNoop  byte = 0
	entryBlock byte = 1
)

// errNoopEntry is what decodeBlockEntry returns for a no-op entry.
var errNoopEntry = errors.New("no-op entry")

// maxEntryBytes bounds a log entry (a block plus its framing).
const maxEntryBytes = protocol.MaxMessageBytes

// encodeBlockEntry frames a block as a Raft log entry.
func encodeBlockEntry(b *pb.Block) ([]byte, error) {
	body, err := protocol.Marshal(b)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1, 1+len(body))
	out[0] = entryBlock
	return append(out, body...), nil
}

// decodeBlockEntry decodes a Raft log entry into the block it proposes. It
// checks only the framing and that header, data and metadata are present;
// the FSM checks the block against the chain.
func decodeBlockEntry(data []byte) (*pb.Block, error) {
	if len(data) == 0 {
		return nil, errors.New("empty log entry")
	}
	if len(data) > maxEntryBytes {
		return nil, fmt.Errorf("log entry of %d bytes (limit %d)", len(data), maxEntryBytes)
	}
	if data[0] == entryNoop {
		return nil, errNoopEntry
	}
	if data[0] != entryBlock {
		return nil, fmt.Errorf("unknown log entry kind %d", data[0])
	}
	b := new(pb.Block)
	if err := protocol.Unmarshal(data[1:], b, maxEntryBytes); err != nil {
		return nil, err
	}
	if b.Header == nil || b.Data == nil || b.Metadata == nil {
		return nil, errors.New("malformed block: header, data or metadata missing")
	}
	return b, nil
}

// snapshotState is what a Raft snapshot of a channel holds: the chain's
// height and last block hash, and the last config block (number and the
// block itself), from which a restored follower knows the configuration in
// force and whom to pull the missing blocks from.
type snapshotState struct {
	Height          uint64
	LastHash        []byte
	LastConfig      uint64
	LastConfigBlock []byte // marshalled pb.Block
}

// Snapshot layout: "BLSN" ‖ version ‖ height ‖ len(hash) ‖ hash ‖
// last config ‖ len(config block) ‖ config block, integers big-endian
// (uint64 for numbers, uint8 for the hash length, uint32 for the block
// length).
var snapshotMagic = []byte("BLSN")

const snapshotVersion = 1

func encodeSnapshot(s snapshotState) []byte {
	out := make([]byte, 0, 4+1+8+1+len(s.LastHash)+8+4+len(s.LastConfigBlock))
	out = append(out, snapshotMagic...)
	out = append(out, snapshotVersion)
	out = binary.BigEndian.AppendUint64(out, s.Height)
	out = append(out, byte(len(s.LastHash)))
	out = append(out, s.LastHash...)
	out = binary.BigEndian.AppendUint64(out, s.LastConfig)
	out = binary.BigEndian.AppendUint32(out, uint32(len(s.LastConfigBlock)))
	return append(out, s.LastConfigBlock...)
}

// maxSnapshotBytes bounds a snapshot (a config block plus a few fields).
const maxSnapshotBytes = protocol.MaxMessageBytes + 64

// decodeSnapshot parses a snapshot written by encodeSnapshot. It checks the
// layout and the invariants between fields (a non-empty chain, a 32-byte
// hash, a last config below the height), not the config block's contents.
func decodeSnapshot(data []byte) (snapshotState, error) {
	var s snapshotState
	if len(data) > maxSnapshotBytes {
		return s, fmt.Errorf("snapshot of %d bytes (limit %d)", len(data), maxSnapshotBytes)
	}
	if len(data) < 5 || !bytes.Equal(data[:4], snapshotMagic) {
		return s, errors.New("not a blossom orderer snapshot")
	}
	if data[4] != snapshotVersion {
		return s, fmt.Errorf("snapshot version %d not supported", data[4])
	}
	r := data[5:]
	take := func(n int) ([]byte, error) {
		if len(r) < n {
			return nil, errors.New("snapshot truncated")
		}
		v := r[:n]
		r = r[n:]
		return v, nil
	}
	v, err := take(9)
	if err != nil {
		return s, err
	}
	s.Height = binary.BigEndian.Uint64(v)
	if s.LastHash, err = take(int(v[8])); err != nil {
		return s, err
	}
	if v, err = take(12); err != nil {
		return s, err
	}
	s.LastConfig = binary.BigEndian.Uint64(v)
	n := binary.BigEndian.Uint32(v[8:])
	if s.LastConfigBlock, err = take(int(n)); err != nil {
		return s, err
	}
	if len(r) != 0 {
		return s, errors.New("snapshot has trailing bytes")
	}
	switch {
	case s.Height == 0:
		return s, errors.New("snapshot of an empty chain")
	case len(s.LastHash) != 32:
		return s, fmt.Errorf("snapshot last hash has %d bytes, want 32", len(s.LastHash))
	case s.LastConfig >= s.Height:
		return s, fmt.Errorf("snapshot last config %d is not below its height %d", s.LastConfig, s.Height)
	case len(s.LastConfigBlock) == 0:
		return s, errors.New("snapshot without its last config block")
	}
	s.LastHash = bytes.Clone(s.LastHash)
	s.LastConfigBlock = bytes.Clone(s.LastConfigBlock)
	return s, nil
}
