package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/blossom-ledger/blossom/internal/protocol"
)

// RecordHeaderSize is the size of a block record's header: uint32 length ‖
// uint32 CRC32C, big-endian.
const RecordHeaderSize = 8

// MaxRecordBytes bounds one record's payload (a marshalled block): the same
// bound as any protobuf message a node accepts.
const MaxRecordBytes = protocol.MaxMessageBytes

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Record decoding errors. ErrRecordTruncated means the input ended inside a
// record (a torn write when it is the end of the last segment);
// ErrRecordCorrupt means the record can never decode (bad length or
// checksum).
var (
	ErrRecordTruncated = errors.New("block record truncated")
	ErrRecordCorrupt   = errors.New("block record corrupt")
)

// encodeRecord frames payload as a block record.
func encodeRecord(payload []byte) []byte {
	rec := make([]byte, RecordHeaderSize+len(payload))
	binary.BigEndian.PutUint32(rec[0:4], uint32(len(payload)))
	binary.BigEndian.PutUint32(rec[4:8], crc32.Checksum(payload, crcTable))
	copy(rec[RecordHeaderSize:], payload)
	return rec
}

// parseRecordHeader checks a record header and returns the payload length
// and checksum it announces.
func parseRecordHeader(hdr []byte) (length int, sum uint32, err error) {
	n := binary.BigEndian.Uint32(hdr[0:4])
	if n == 0 || n > MaxRecordBytes {
		return 0, 0, fmt.Errorf("%w: length %d out of range (1..%d)", ErrRecordCorrupt, n, MaxRecordBytes)
	}
	return int(n), binary.BigEndian.Uint32(hdr[4:8]), nil
}

// checkRecordPayload verifies payload against the header's checksum.
func checkRecordPayload(payload []byte, sum uint32) error {
	if got := crc32.Checksum(payload, crcTable); got != sum {
		return fmt.Errorf("%w: checksum %08x, header says %08x", ErrRecordCorrupt, got, sum)
	}
	return nil
}

// DecodeRecord decodes the block record at the start of buf. It returns the
// payload (a sub-slice of buf, not copied) and the record's total size. The
// payload is not parsed as a block.
func DecodeRecord(buf []byte) (payload []byte, size int, err error) {
	if len(buf) < RecordHeaderSize {
		return nil, 0, fmt.Errorf("%w: %d header bytes of %d", ErrRecordTruncated, len(buf), RecordHeaderSize)
	}
	n, sum, err := parseRecordHeader(buf[:RecordHeaderSize])
	if err != nil {
		return nil, 0, err
	}
	if len(buf)-RecordHeaderSize < n {
		return nil, 0, fmt.Errorf("%w: %d payload bytes of %d", ErrRecordTruncated, len(buf)-RecordHeaderSize, n)
	}
	payload = buf[RecordHeaderSize : RecordHeaderSize+n]
	if err := checkRecordPayload(payload, sum); err != nil {
		return nil, 0, err
	}
	return payload, RecordHeaderSize + n, nil
}
