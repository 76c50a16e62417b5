package ledger

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/blossom-ledger/blossom/internal/ledger/ledgertest"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

func FuzzDecodeRecord(f *testing.F) {
	c := ledgertest.NewChain(f, testChannel)
	valid := encodeRecord(protocol.MustMarshal(c.Genesis()))
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add(append(append([]byte(nil), valid...), valid...))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5})
	f.Add(encodeRecord([]byte("x")))
	f.Fuzz(func(t *testing.T, buf []byte) {
		payload, size, err := DecodeRecord(buf)
		if err != nil {
			if !errors.Is(err, ErrRecordTruncated) && !errors.Is(err, ErrRecordCorrupt) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if size > len(buf) || !bytes.Equal(encodeRecord(payload), buf[:size]) {
			t.Fatal("decoded record does not re-encode to its bytes")
		}
		// A decoded payload is untrusted input to the block decoder too.
		_ = protocol.Unmarshal(payload, new(pb.Block), MaxRecordBytes)
	})
}

// FuzzScanSegment feeds arbitrary bytes as a segment file to the scanner
// used by recovery and Verify: every record it returns must decode the same
// way with DecodeRecord, and it must stop with EOF or a record error.
func FuzzScanSegment(f *testing.F) {
	a, b := encodeRecord([]byte("first block")), encodeRecord([]byte("second"))
	f.Add(append(append([]byte(nil), a...), b...))
	f.Add(append(append([]byte(nil), a...), b[:5]...))
	f.Add(append(append([]byte(nil), a...), make([]byte, 20)...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segmentName(1)), data, 0o600); err != nil {
			t.Fatal(err)
		}
		sc, err := newRecordScanner(dir, []uint32{1}, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer sc.close()
		for {
			payload, loc, err := sc.next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if !errors.Is(err, ErrRecordTruncated) && !errors.Is(err, ErrRecordCorrupt) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				return
			}
			want, _, derr := DecodeRecord(data[loc.Offset:])
			if derr != nil || !bytes.Equal(want, payload) || int(loc.Length) != len(payload) {
				t.Fatalf("scanner and DecodeRecord disagree at offset %d", loc.Offset)
			}
		}
	})
}

func checkExtracted(t *testing.T, writes []Write) {
	for _, w := range writes {
		if err := CheckWriteKey(w.Namespace, w.Key); err != nil {
			t.Fatalf("extracted a write Commit refuses: %v", err)
		}
		if w.IsDelete && w.Value != nil {
			t.Fatal("extracted a delete with a value")
		}
	}
}

// FuzzExtractPublicWrites decodes arbitrary envelope bytes as the single
// VALID transaction of a block.
func FuzzExtractPublicWrites(f *testing.F) {
	env, _ := ledgertest.WriteTx(testChannel, "cc", ledgertest.Put("k", []byte("v")), ledgertest.Del("d"))
	f.Add(env)
	f.Add(ledgertest.Envelope(testChannel, pb.HeaderType_CONFIG, nil))
	f.Add(ledgertest.Envelope(testChannel, pb.HeaderType_CONFIG_UPDATE, []byte{1}))
	f.Add([]byte{0x0a, 0x02, 0x0a, 0x00})
	f.Fuzz(func(t *testing.T, env []byte) {
		block := &pb.Block{Data: &pb.BlockData{Envelopes: [][]byte{env}}}
		writes, err := ExtractPublicWrites(block, []pb.TxValidationCode{pb.TxValidationCode_VALID})
		if err != nil {
			return
		}
		checkExtracted(t, writes[0])
		// Not VALID: nothing is extracted, whatever the bytes.
		none, err := ExtractPublicWrites(block, []pb.TxValidationCode{pb.TxValidationCode_BAD_RWSET})
		if err != nil || len(none[0]) != 0 {
			t.Fatalf("writes extracted from an invalid transaction: %v %v", none, err)
		}
	})
}

// FuzzTxReadWriteSet puts arbitrary bytes where the TxReadWriteSet goes in
// an otherwise well-formed transaction.
func FuzzTxReadWriteSet(f *testing.F) {
	f.Add(protocol.MustMarshal(&pb.TxReadWriteSet{NsRwsets: []*pb.NsReadWriteSet{{
		Namespace: "cc",
		Writes:    []*pb.KVWrite{{Key: "k", Value: []byte("v")}, {Key: "d", IsDelete: true, Value: []byte("ignored")}},
	}}}))
	f.Add(protocol.MustMarshal(&pb.TxReadWriteSet{NsRwsets: []*pb.NsReadWriteSet{{Namespace: "c\x00c", Writes: []*pb.KVWrite{{Key: "k"}}}}}))
	f.Add([]byte{0x0a, 0x03, 0x0a, 0x01, 0x61})
	f.Fuzz(func(t *testing.T, results []byte) {
		prp := protocol.MustMarshal(&pb.ProposalResponsePayload{Results: results})
		tx := protocol.MustMarshal(&pb.EndorsedTransaction{ResponsePayload: prp})
		env := ledgertest.Envelope(testChannel, pb.HeaderType_ENDORSER_TRANSACTION, tx)
		writes, err := TxPublicWrites(env)
		if err != nil {
			return
		}
		checkExtracted(t, writes)
	})
}

// FuzzDecodeSnapshotPart feeds arbitrary bytes as each kind of snapshot
// .data file: the decoder must return an error or records that pass its
// own checks, in strictly ascending key order, never panic.
func FuzzDecodeSnapshotPart(f *testing.F) {
	rec := func(k, v []byte) []byte {
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		writeSnapshotRecord(w, k, v)
		w.Flush()
		return buf.Bytes()
	}
	state := append(append([]byte(nil), snapshotMagic...), rec(stateKey("asset", "a"), encodeStateValue(Version{1, 0}, []byte("v")))...)
	f.Add(uint8(0), state)
	f.Add(uint8(0), append(append([]byte(nil), state...), rec(stateKey("asset", "a"), encodeStateValue(Version{1, 0}, nil))...))
	f.Add(uint8(1), append(append([]byte(nil), snapshotMagic...), rec(txKey("tx1"), TxInfo{Block: 2}.encode())...))
	f.Add(uint8(2), append(append([]byte(nil), snapshotMagic...), rec(hashedKey("kv", "c", make([]byte, 32)), encodeStateValue(Version{1, 0}, make([]byte, 32)))...))
	f.Add(uint8(3), append(append([]byte(nil), snapshotMagic...), rec(scheduleKey(9, 1, 0, "kv", "c"), make([]byte, 32))...))
	f.Add(uint8(4), append(append([]byte(nil), snapshotMagic...), rec(privateKey("kv", "c", "k"), encodeStateValue(Version{1, 0}, []byte("x")))...))
	f.Add(uint8(0), []byte("BLSNAP1\n\xff\xff\xff\xff"))
	f.Add(uint8(0), []byte{})
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		part := snapshotParts[int(which)%len(snapshotParts)]
		var prev []byte
		_, _ = decodeSnapshotPart(bytes.NewReader(data), part, 5, func(k, v []byte) error {
			if prev != nil && bytes.Compare(prev, k) >= 0 {
				t.Fatal("records out of order")
			}
			if err := checkSnapshotRecord(k, v, 5); err != nil {
				t.Fatalf("decoder passed a record its check refuses: %v", err)
			}
			prev = append([]byte(nil), k...)
			return nil
		})
	})
}

// FuzzParseSnapshotManifests feeds arbitrary snapshot.json and local.json:
// a manifest accepted must be self-consistent.
func FuzzParseSnapshotManifests(f *testing.F) {
	c := ledgertest.NewChain(f, testChannel)
	dir := filepath.Join(f.TempDir(), "l")
	l, err := Open(dir, Options{})
	if err != nil {
		f.Fatal(err)
	}
	g := c.Genesis()
	if err := l.Commit(g, allValid(g)); err != nil {
		f.Fatal(err)
	}
	snap := filepath.Join(f.TempDir(), "s")
	if _, err := l.ExportSnapshot(context.Background(), snap, ExportOptions{MSPID: "Org1MSP"}); err != nil {
		f.Fatal(err)
	}
	l.Close()
	man, _ := os.ReadFile(filepath.Join(snap, SnapshotManifestFile))
	local, _ := os.ReadFile(filepath.Join(snap, SnapshotLocalFile))
	f.Add(man, local)
	f.Add(man, []byte(`{}`))
	f.Add([]byte(`{"format":"blossom-ledger-snapshot","version":1}`), local)
	f.Fuzz(func(t *testing.T, man, local []byte) {
		info, err := parseSnapshotManifests(man, local)
		if err != nil {
			if !errors.Is(err, ErrSnapshotInvalid) {
				t.Fatalf("error does not wrap ErrSnapshotInvalid: %v", err)
			}
			return
		}
		if info.Manifest.Height == 0 || info.Local.SnapshotHash != info.HashHex() {
			t.Fatalf("inconsistent manifest accepted: %+v", info)
		}
	})
}
