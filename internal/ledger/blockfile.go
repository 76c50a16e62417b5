package ledger

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/blossom-ledger/blossom/internal/fsutil"
)

// DefaultSegmentSize is the size at which the block store starts a new
// segment file.
const DefaultSegmentSize = 64 << 20

const segmentSuffix = ".seg"

// location is where a block record lives: its segment, the offset of its
// header and its payload length.
type location struct {
	Segment uint32
	Offset  int64
	Length  uint32
}

// end is the offset just past the record.
func (l location) end() int64 { return l.Offset + RecordHeaderSize + int64(l.Length) }

func segmentName(n uint32) string { return fmt.Sprintf("%06d%s", n, segmentSuffix) }

// listSegments returns the segment numbers in dir in order. They must run
// 1, 2, 3, ... without gaps.
func listSegments(dir string) ([]uint32, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []uint32
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, segmentSuffix) || e.IsDir() {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(name, segmentSuffix), 10, 32)
		if err != nil || n == 0 || segmentName(uint32(n)) != name {
			return nil, fmt.Errorf("unexpected file %q in block directory", name)
		}
		segs = append(segs, uint32(n))
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i] < segs[j] })
	for i, n := range segs {
		if n != uint32(i+1) {
			return nil, fmt.Errorf("block segment %s is missing", segmentName(uint32(i+1)))
		}
	}
	return segs, nil
}

// blockStore appends block records to segment files and reads them back.
// Appends are serialised by the caller (the ledger's commit lock); reads may
// run concurrently with appends and with each other.
type blockStore struct {
	dir         string
	segmentSize int64

	// Append side, owned by the committer.
	active     *os.File
	activeSeg  uint32
	activeSize int64
	// broken is set when a failed append could not be cut back: the
	// segment may end in garbage, so no record may follow until Open
	// recovers it.
	broken error

	mu      sync.Mutex
	readers map[uint32]*os.File // read-only handles by segment
}

// openBlockStore opens (creating if needed) the segment files in dir. The
// last segment becomes the append target at its current size; recovery
// (Ledger.Open) truncates any torn tail before the first append.
func openBlockStore(dir string, segmentSize int64) (*blockStore, error) {
	if segmentSize <= 0 {
		segmentSize = DefaultSegmentSize
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	segs, err := listSegments(dir)
	if err != nil {
		return nil, err
	}
	s := &blockStore{dir: dir, segmentSize: segmentSize, readers: make(map[uint32]*os.File)}
	last := uint32(1)
	if len(segs) > 0 {
		last = segs[len(segs)-1]
	}
	if err := s.openActive(last, len(segs) == 0); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *blockStore) openActive(seg uint32, create bool) error {
	flags := os.O_RDWR
	if create {
		flags |= os.O_CREATE | os.O_EXCL
	}
	f, err := os.OpenFile(filepath.Join(s.dir, segmentName(seg)), flags, 0o600)
	if err != nil {
		return err
	}
	if create {
		// Make the new file's name durable (and, for the first segment, the
		// block directory's own).
		err := fsutil.SyncDir(s.dir)
		if err == nil && seg == 1 {
			err = fsutil.SyncDir(filepath.Dir(s.dir))
		}
		if err != nil {
			f.Close()
			return err
		}
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	if s.active != nil {
		s.active.Close()
	}
	s.active, s.activeSeg, s.activeSize = f, seg, st.Size()
	return nil
}

// append writes rec at the end of the active segment (starting a new one if
// rec would carry it past the segment size) and fsyncs it. On a write or sync
// error it cuts the segment back to its previous size, so a failed append
// leaves no trace; if even that fails the caller must stop appending.
func (s *blockStore) append(rec []byte) (location, error) {
	if s.broken != nil {
		return location{}, fmt.Errorf("block store needs reopening: %w", s.broken)
	}
	if s.activeSize > 0 && s.activeSize+int64(len(rec)) > s.segmentSize {
		if err := s.openActive(s.activeSeg+1, true); err != nil {
			return location{}, fmt.Errorf("start segment %s: %w", segmentName(s.activeSeg+1), err)
		}
	}
	loc := location{Segment: s.activeSeg, Offset: s.activeSize, Length: uint32(len(rec) - RecordHeaderSize)}
	_, err := s.active.WriteAt(rec, s.activeSize)
	if err == nil {
		err = s.active.Sync()
	}
	if err != nil {
		if terr := s.truncate(s.activeSeg, loc.Offset); terr != nil {
			s.broken = terr
			return location{}, fmt.Errorf("append block record: %w (and cutting it back failed: %v)", err, terr)
		}
		return location{}, fmt.Errorf("append block record: %w", err)
	}
	s.activeSize += int64(len(rec))
	return loc, nil
}

// truncate cuts segment seg (which must be the last one) to size and fsyncs
// it.
func (s *blockStore) truncate(seg uint32, size int64) error {
	if seg != s.activeSeg {
		return fmt.Errorf("truncate segment %s: only the last segment %s may be cut", segmentName(seg), segmentName(s.activeSeg))
	}
	if err := s.active.Truncate(size); err != nil {
		return err
	}
	if err := s.active.Sync(); err != nil {
		return err
	}
	s.activeSize = size
	return nil
}

func (s *blockStore) reader(seg uint32) (*os.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.readers[seg]; ok {
		return f, nil
	}
	f, err := os.Open(filepath.Join(s.dir, segmentName(seg)))
	if err != nil {
		return nil, err
	}
	s.readers[seg] = f
	return f, nil
}

// read returns the checked payload of the record at loc.
func (s *blockStore) read(loc location) ([]byte, error) {
	f, err := s.reader(loc.Segment)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, RecordHeaderSize+int(loc.Length))
	if _, err := f.ReadAt(buf, loc.Offset); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %s offset %d", ErrRecordTruncated, segmentName(loc.Segment), loc.Offset)
		}
		return nil, err
	}
	payload, _, err := DecodeRecord(buf)
	if err != nil {
		return nil, fmt.Errorf("%s offset %d: %w", segmentName(loc.Segment), loc.Offset, err)
	}
	if len(payload) != int(loc.Length) {
		return nil, fmt.Errorf("%w: %s offset %d: length %d, index says %d", ErrRecordCorrupt, segmentName(loc.Segment), loc.Offset, len(payload), loc.Length)
	}
	return payload, nil
}

// segmentSize returns the current size of segment seg.
func (s *blockStore) size(seg uint32) (int64, error) {
	if seg == s.activeSeg {
		return s.activeSize, nil
	}
	st, err := os.Stat(filepath.Join(s.dir, segmentName(seg)))
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

func (s *blockStore) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first error
	for seg, f := range s.readers {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
		delete(s.readers, seg)
	}
	if s.active != nil {
		if err := s.active.Close(); err != nil && first == nil {
			first = err
		}
		s.active = nil
	}
	return first
}

// recordScanner reads the records of segments in order, starting at a
// given segment and offset.
type recordScanner struct {
	dir  string
	segs []uint32 // all segments of the directory

	idx  int // index into segs of the open segment
	f    *os.File
	r    *bufio.Reader
	size int64
	off  int64
}

// newRecordScanner starts scanning at (seg, off); segs lists the directory's
// segments.
func newRecordScanner(dir string, segs []uint32, seg uint32, off int64) (*recordScanner, error) {
	sc := &recordScanner{dir: dir, segs: segs, idx: -1}
	for i, n := range segs {
		if n == seg {
			sc.idx = i
		}
	}
	if sc.idx < 0 {
		if len(segs) == 0 && off == 0 {
			return sc, nil
		}
		return nil, fmt.Errorf("block segment %s is missing", segmentName(seg))
	}
	if err := sc.open(off); err != nil {
		return nil, err
	}
	return sc, nil
}

func (sc *recordScanner) open(off int64) error {
	if sc.f != nil {
		sc.f.Close()
		sc.f = nil
	}
	f, err := os.Open(filepath.Join(sc.dir, segmentName(sc.segs[sc.idx])))
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	if off > st.Size() {
		f.Close()
		return fmt.Errorf("block segment %s is %d bytes, shorter than the index expects (%d)", segmentName(sc.segs[sc.idx]), st.Size(), off)
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		f.Close()
		return err
	}
	sc.f, sc.r, sc.size, sc.off = f, bufio.NewReaderSize(f, 1<<20), st.Size(), off
	return nil
}

// position is the segment and offset of the next record.
func (sc *recordScanner) position() (uint32, int64) {
	if sc.idx < 0 {
		return 1, 0
	}
	return sc.segs[sc.idx], sc.off
}

// lastSegment reports whether the scanner is in the directory's last segment.
func (sc *recordScanner) lastSegment() bool { return sc.idx == len(sc.segs)-1 }

// next returns the next record's payload and location. At the clean end of
// the last segment it returns io.EOF; a record that runs past the end of its
// segment gives ErrRecordTruncated and a bad length or checksum
// ErrRecordCorrupt, with the location of the bad record.
func (sc *recordScanner) next() ([]byte, location, error) {
	if sc.idx < 0 {
		return nil, location{}, io.EOF
	}
	for sc.off == sc.size {
		if sc.lastSegment() {
			return nil, location{}, io.EOF
		}
		sc.idx++
		if err := sc.open(0); err != nil {
			return nil, location{}, err
		}
	}
	loc := location{Segment: sc.segs[sc.idx], Offset: sc.off}
	if sc.size-sc.off < RecordHeaderSize {
		return nil, loc, fmt.Errorf("%w: %d header bytes at the end of %s", ErrRecordTruncated, sc.size-sc.off, segmentName(loc.Segment))
	}
	var hdr [RecordHeaderSize]byte
	if _, err := io.ReadFull(sc.r, hdr[:]); err != nil {
		return nil, loc, err
	}
	n, sum, err := parseRecordHeader(hdr[:])
	if err != nil {
		return nil, loc, err
	}
	loc.Length = uint32(n)
	if sc.size-sc.off-RecordHeaderSize < int64(n) {
		return nil, loc, fmt.Errorf("%w: record of %d bytes runs past the end of %s", ErrRecordTruncated, n, segmentName(loc.Segment))
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(sc.r, payload); err != nil {
		return nil, loc, err
	}
	if err := checkRecordPayload(payload, sum); err != nil {
		return nil, loc, err
	}
	sc.off += RecordHeaderSize + int64(n)
	return payload, loc, nil
}

func (sc *recordScanner) close() {
	if sc.f != nil {
		sc.f.Close()
		sc.f = nil
	}
}
