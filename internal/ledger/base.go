package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"

	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// ErrBeforeSnapshot: the ledger was created from a snapshot at height H
// (CreateFromSnapshot) and the block, commit hash or history asked for
// lies before H, which this ledger never held (of the blocks before H it
// holds only the snapshot's last config block and last block).
var ErrBeforeSnapshot = errors.New("before the snapshot this ledger was created from")

// A ledger created from a snapshot keeps what it was bootstrapped with in
// three records (see keys.go):
//
//	"Bm"  uint64 height ‖ last block hash ‖ commit hash ‖ SHA-256 of snapshot.json
//	"Bc"  the last config block at the snapshot height (marshalled pb.Block)
//	"Bl"  block height-1 as the snapshot carried it (marshalled pb.Block)
//
// A ledger that started from block 0 has none of them.
var (
	baseMetaKey        = []byte{prefixBase, 'm'}
	baseConfigBlockKey = []byte{prefixBase, 'c'}
	baseLastBlockKey   = []byte{prefixBase, 'l'}
)

// snapshotBase is where a ledger created from a snapshot starts.
type snapshotBase struct {
	height       uint64
	lastHash     []byte
	commitHash   []byte
	snapshotHash []byte
	configBlock  *pb.Block
	lastBlock    *pb.Block
}

func (b *snapshotBase) encodeMeta() []byte {
	out := binary.BigEndian.AppendUint64(nil, b.height)
	out = append(out, b.lastHash...)
	out = append(out, b.commitHash...)
	return append(out, b.snapshotHash...)
}

// writeBase adds b's records to batch.
func writeBase(batch *pebble.Batch, b *snapshotBase) error {
	cfg, err := protocol.Marshal(b.configBlock)
	if err != nil {
		return err
	}
	last, err := protocol.Marshal(b.lastBlock)
	if err != nil {
		return err
	}
	for _, kv := range [][2][]byte{{baseMetaKey, b.encodeMeta()}, {baseConfigBlockKey, cfg}, {baseLastBlockKey, last}} {
		if err := batch.Set(kv[0], kv[1], nil); err != nil {
			return err
		}
	}
	return nil
}

// readBase reads the snapshot base records (nil for a ledger that started
// from block 0).
func readBase(r pebble.Reader) (*snapshotBase, error) {
	raw, err := getRaw(r, baseMetaKey)
	if err != nil || raw == nil {
		return nil, err
	}
	if len(raw) != 8+3*hashSize {
		return nil, fmt.Errorf("snapshot base record of %d bytes", len(raw))
	}
	b := &snapshotBase{
		height:       binary.BigEndian.Uint64(raw[:8]),
		lastHash:     raw[8 : 8+hashSize],
		commitHash:   raw[8+hashSize : 8+2*hashSize],
		snapshotHash: raw[8+2*hashSize:],
	}
	for _, p := range []struct {
		key []byte
		dst **pb.Block
	}{{baseConfigBlockKey, &b.configBlock}, {baseLastBlockKey, &b.lastBlock}} {
		raw, err := getRaw(r, p.key)
		if err != nil {
			return nil, err
		}
		if raw == nil {
			return nil, errors.New("snapshot base record without its blocks")
		}
		*p.dst = new(pb.Block)
		if err := protocol.Unmarshal(raw, *p.dst, MaxRecordBytes); err != nil {
			return nil, fmt.Errorf("snapshot base block: %w", err)
		}
	}
	return b, nil
}

// getRaw returns a copy of the value of k, or nil if absent.
func getRaw(r pebble.Reader, k []byte) ([]byte, error) {
	v, closer, err := r.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return append([]byte(nil), v...), nil
}

// baseHeight is the height the ledger started from (0: block 0).
func (l *Ledger) baseHeight() uint64 {
	if l.base == nil {
		return 0
	}
	return l.base.height
}

// SnapshotHeight is the height of the snapshot the ledger was created from
// (CreateFromSnapshot), 0 for a ledger that started from block 0: blocks,
// commit hashes and history before it are not on this ledger.
func (l *Ledger) SnapshotHeight() uint64 { return l.baseHeight() }

// beforeSnapshot is the error for block number of a ledger created from a
// snapshot.
func (l *Ledger) beforeSnapshot(what string, number uint64) error {
	return fmt.Errorf("%s %d: %w (created at height %d)", what, number, ErrBeforeSnapshot, l.base.height)
}

// snapshotBlock returns block number < the snapshot height if the
// snapshot carried it (its last config block and its last block), a copy.
func (l *Ledger) snapshotBlock(number uint64) (*pb.Block, error) {
	for _, b := range []*pb.Block{l.base.lastBlock, l.base.configBlock} {
		if b.GetHeader().GetNumber() == number {
			return proto.Clone(b).(*pb.Block), nil
		}
	}
	return nil, l.beforeSnapshot("block", number)
}

// configBlock returns config block number, which may be the snapshot's.
func (l *Ledger) configBlock(number uint64) (*pb.Block, error) {
	if l.base != nil && number == l.base.configBlock.GetHeader().GetNumber() {
		return l.base.configBlock, nil
	}
	return l.Block(number)
}

// lastBlockBefore returns block height-1, which may be the snapshot's last
// block.
func (l *Ledger) lastBlockBefore(height uint64) (*pb.Block, error) {
	if l.base != nil && height == l.base.height {
		return l.base.lastBlock, nil
	}
	return l.Block(height - 1)
}

// LastBlockHeader returns the header of the last committed block (for a
// ledger just created from a snapshot, that of the snapshot's last block).
func (l *Ledger) LastBlockHeader() (*pb.BlockHeader, error) {
	h := l.Height()
	if h == 0 {
		return nil, fmt.Errorf("last block: %w (empty ledger)", ErrNotFound)
	}
	b, err := l.lastBlockBefore(h)
	if err != nil {
		return nil, err
	}
	return b.GetHeader(), nil
}
