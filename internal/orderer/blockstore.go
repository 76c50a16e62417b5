package orderer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/blossom-ledger/blossom/internal/fsutil"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// blockStore is an orderer's append-only copy of a channel's chain: every
// block Raft applied, so that Deliver can serve any height.
//
// Two files in one directory:
//
//	blocks.dat  records `uint32 length ‖ uint32 CRC32C ‖ marshalled pb.Block`
//	blocks.idx  one big-endian uint64 per block: its record's offset
//
// Append writes the record and fsyncs blocks.dat: that is the durability
// point. The index entry is written without fsync; Open re-checks the
// index's tail against the data file and rebuilds what is missing by
// scanning, and truncates a record torn by a crash.
//
// (internal/ledger's block store couples blocks with validation codes,
// commit hashes and state, which an orderer does not have, so the orderer
// keeps this smaller store.)
type blockStore struct {
	mu      sync.RWMutex
	dat     *os.File
	idx     *os.File
	height  uint64
	datSize int64
	recent  map[uint64]*pb.Block // the last recentBlocks blocks, for Deliver at the tip
}

const (
	recordHeaderSize = 8
	recentBlocks     = 64
	maxRecordBytes   = protocol.MaxMessageBytes
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func openBlockStore(dir string) (*blockStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	dat, err := os.OpenFile(filepath.Join(dir, "blocks.dat"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	idx, err := os.OpenFile(filepath.Join(dir, "blocks.idx"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		dat.Close()
		return nil, err
	}
	s := &blockStore{dat: dat, idx: idx, recent: make(map[uint64]*pb.Block)}
	if err := s.recover(); err != nil {
		dat.Close()
		idx.Close()
		return nil, fmt.Errorf("block store %s: %w", dir, err)
	}
	if err := fsutil.SyncDir(dir); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// recover finds the last index entry whose record is intact, re-indexes
// any intact records after it, and truncates whatever follows.
func (s *blockStore) recover() error {
	st, err := s.idx.Stat()
	if err != nil {
		return err
	}
	n := uint64(st.Size() / 8)
	var end int64
	for n > 0 {
		off, err := s.offset(n - 1)
		if err != nil {
			return err
		}
		if b, size, err := s.readRecord(off); err == nil && b.GetHeader().GetNumber() == n-1 {
			end = off + size
			break
		}
		n--
	}
	// Scan the data file forward from the end of the last indexed record.
	indexed := int64(n) * 8
	var entries []byte
	for {
		b, size, err := s.readRecord(end)
		if err != nil || b.GetHeader().GetNumber() != n {
			break
		}
		entries = binary.BigEndian.AppendUint64(entries, uint64(end))
		end += size
		n++
	}
	if err := s.dat.Truncate(end); err != nil {
		return err
	}
	if err := s.idx.Truncate(indexed); err != nil {
		return err
	}
	if _, err := s.idx.WriteAt(entries, indexed); err != nil {
		return err
	}
	if err := s.dat.Sync(); err != nil {
		return err
	}
	if err := s.idx.Sync(); err != nil {
		return err
	}
	s.height, s.datSize = n, end
	return nil
}

func (s *blockStore) offset(n uint64) (int64, error) {
	var b [8]byte
	if _, err := s.idx.ReadAt(b[:], int64(n)*8); err != nil {
		return 0, fmt.Errorf("index entry %d: %w", n, err)
	}
	return int64(binary.BigEndian.Uint64(b[:])), nil
}

// readRecord reads and checks the record at off; it returns the block and
// the record's size.
func (s *blockStore) readRecord(off int64) (*pb.Block, int64, error) {
	var hdr [recordHeaderSize]byte
	if _, err := s.dat.ReadAt(hdr[:], off); err != nil {
		return nil, 0, err
	}
	length := binary.BigEndian.Uint32(hdr[:4])
	if length == 0 || length > maxRecordBytes {
		return nil, 0, fmt.Errorf("record at %d: bad length %d", off, length)
	}
	payload := make([]byte, length)
	if _, err := s.dat.ReadAt(payload, off+recordHeaderSize); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, 0, fmt.Errorf("record at %d: truncated", off)
		}
		return nil, 0, err
	}
	if crc32.Checksum(payload, crcTable) != binary.BigEndian.Uint32(hdr[4:]) {
		return nil, 0, fmt.Errorf("record at %d: checksum mismatch", off)
	}
	b := new(pb.Block)
	if err := protocol.Unmarshal(payload, b, maxRecordBytes); err != nil {
		return nil, 0, fmt.Errorf("record at %d: %w", off, err)
	}
	return b, recordHeaderSize + int64(length), nil
}

// Height is the number of blocks stored.
func (s *blockStore) Height() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.height
}

// Append stores b, which must be the next block, and fsyncs it. The caller
// has checked it links to the chain. b must not be modified afterwards.
func (s *blockStore) Append(b *pb.Block) error {
	payload, err := protocol.Marshal(b)
	if err != nil {
		return err
	}
	if len(payload) > maxRecordBytes {
		return fmt.Errorf("block %d of %d bytes (limit %d)", b.GetHeader().GetNumber(), len(payload), maxRecordBytes)
	}
	rec := make([]byte, recordHeaderSize, recordHeaderSize+len(payload))
	binary.BigEndian.PutUint32(rec[:4], uint32(len(payload)))
	binary.BigEndian.PutUint32(rec[4:], crc32.Checksum(payload, crcTable))
	rec = append(rec, payload...)

	s.mu.Lock()
	defer s.mu.Unlock()
	if n := b.GetHeader().GetNumber(); n != s.height {
		return fmt.Errorf("append block %d at height %d", n, s.height)
	}
	if _, err := s.dat.WriteAt(rec, s.datSize); err != nil {
		return err
	}
	if err := s.dat.Sync(); err != nil {
		return err
	}
	var e [8]byte
	binary.BigEndian.PutUint64(e[:], uint64(s.datSize))
	if _, err := s.idx.WriteAt(e[:], int64(s.height)*8); err != nil {
		return err
	}
	s.datSize += int64(len(rec))
	s.recent[s.height] = b
	if s.height >= recentBlocks {
		delete(s.recent, s.height-recentBlocks)
	}
	s.height++
	return nil
}

// ErrNoBlock reports a block number at or above the height.
var ErrNoBlock = errors.New("no such block")

// Block returns block n. The block is shared: callers must not modify it.
func (s *blockStore) Block(n uint64) (*pb.Block, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if n >= s.height {
		return nil, fmt.Errorf("%w: %d (height %d)", ErrNoBlock, n, s.height)
	}
	if b, ok := s.recent[n]; ok {
		return b, nil
	}
	off, err := s.offset(n)
	if err != nil {
		return nil, err
	}
	b, _, err := s.readRecord(off)
	if err != nil {
		return nil, fmt.Errorf("block %d: %w", n, err)
	}
	if b.GetHeader().GetNumber() != n {
		return nil, fmt.Errorf("block %d: record holds block %d", n, b.GetHeader().GetNumber())
	}
	return b, nil
}

func (s *blockStore) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.idx.Sync(), s.dat.Close(), s.idx.Close())
}
