package orderer

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
)

func testBlock(n uint64, prev []byte, envs ...[]byte) *pb.Block {
	data := &pb.BlockData{Envelopes: envs}
	return &pb.Block{
		Header:   &pb.BlockHeader{Number: n, PreviousHash: prev, DataHash: protocol.BlockDataHash(data), TimestampUnixNano: int64(n)},
		Data:     data,
		Metadata: &pb.BlockMetadata{LastConfig: 0},
	}
}

func TestBlockEntry(t *testing.T) {
	b := testBlock(7, bytes.Repeat([]byte{1}, 32), []byte("env"))
	entry, err := encodeBlockEntry(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeBlockEntry(entry)
	if err != nil {
		t.Fatal(err)
	}
	if got.Header.Number != 7 || !bytes.Equal(got.Data.Envelopes[0], []byte("env")) {
		t.Errorf("round trip = %v", got)
	}
	noMeta := testBlock(1, nil)
	noMeta.Metadata = nil
	noMetaEntry, _ := encodeBlockEntry(noMeta)
	tests := []struct {
		name  string
		entry []byte
		want  string
	}{
		{"empty", nil, "empty"},
		{"unknown kind", append([]byte{9}, entry[1:]...), "unknown log entry kind 9"},
		{"not a block", []byte{entryBlock, 0xff, 0xff}, "malformed"},
		{"missing metadata", noMetaEntry, "metadata missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeBlockEntry(tt.entry); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestSnapshotCodec(t *testing.T) {
	hash := sha256.Sum256([]byte("x"))
	s := snapshotState{Height: 10, LastHash: hash[:], LastConfig: 4, LastConfigBlock: []byte("config block")}
	raw := encodeSnapshot(s)
	got, err := decodeSnapshot(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got.Height != 10 || got.LastConfig != 4 || !bytes.Equal(got.LastHash, hash[:]) || string(got.LastConfigBlock) != "config block" {
		t.Errorf("round trip = %+v", got)
	}
	bad := func(mut func(*snapshotState)) []byte {
		c := s
		mut(&c)
		return encodeSnapshot(c)
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"not a snapshot", []byte("hello world"), "not a blossom orderer snapshot"},
		{"version", append([]byte("BLSN\x07"), raw[5:]...), "version 7"},
		{"truncated", raw[:len(raw)-3], "truncated"},
		{"trailing", append(append([]byte(nil), raw...), 0), "trailing"},
		{"empty chain", bad(func(s *snapshotState) { s.Height = 0 }), "empty chain"},
		{"short hash", bad(func(s *snapshotState) { s.LastHash = s.LastHash[:5] }), "5 bytes"},
		{"config beyond height", bad(func(s *snapshotState) { s.LastConfig = 10 }), "not below its height"},
		{"no config block", bad(func(s *snapshotState) { s.LastConfigBlock = nil }), "without its last config block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeSnapshot(tt.data); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestPreambleAndVerdict(t *testing.T) {
	raw := encodePreamble(preamble{ChannelID: "blossom", ServerID: "orderer0"})
	p, err := readPreamble(bytes.NewReader(raw))
	if err != nil || p.ChannelID != "blossom" || p.ServerID != "orderer0" {
		t.Fatalf("round trip = %+v, %v", p, err)
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "EOF"},
		{"version", append([]byte{2}, raw[1:]...), "version 2"},
		{"truncated", raw[:5], "EOF"},
		{"bad channel", encodePreamble(preamble{ChannelID: "Bad Channel", ServerID: "orderer0"}), "channel ID"},
		{"bad server ID", encodePreamble(preamble{ChannelID: "blossom", ServerID: "a b"}), "server ID"},
		{"empty server ID", encodePreamble(preamble{ChannelID: "blossom"}), "server ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := readPreamble(bytes.NewReader(tt.data)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
	var buf bytes.Buffer
	writeVerdict(&buf, "")
	if err := readVerdict(&buf); err != nil {
		t.Errorf("accept verdict: %v", err)
	}
	buf.Reset()
	writeVerdict(&buf, "no\nway")
	if err := readVerdict(&buf); !errors.Is(err, errStreamRefused) || !strings.Contains(err.Error(), "no?way") {
		t.Errorf("refusal verdict: %v", err)
	}
	if err := readVerdict(bytes.NewReader([]byte{5})); err == nil {
		t.Error("unknown verdict accepted")
	}
}

func TestRecentTxIDs(t *testing.T) {
	r := newRecentTxIDs(3)
	for _, id := range []string{"a", "b", "c", "a", "d"} {
		r.add(id)
	}
	for id, want := range map[string]bool{"a": false, "b": true, "c": true, "d": true} {
		if r.contains(id) != want {
			t.Errorf("contains(%s) = %v", id, !want)
		}
	}
	if r.len() != 3 {
		t.Errorf("len = %d", r.len())
	}
}

func TestBlockStoreRecovery(t *testing.T) {
	dir := t.TempDir()
	s, err := openBlockStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	var prev []byte
	for n := uint64(0); n < 5; n++ {
		b := testBlock(n, prev, []byte{byte(n)})
		if err := s.Append(b); err != nil {
			t.Fatal(err)
		}
		prev = protocol.BlockHeaderHash(b.Header)
	}
	if err := s.Append(testBlock(9, prev)); err == nil {
		t.Error("a block out of sequence was appended")
	}
	s.close()

	tests := []struct {
		name   string
		damage func(t *testing.T)
		height uint64
	}{
		{"intact", func(t *testing.T) {}, 5},
		{"torn record at the end", func(t *testing.T) {
			f, _ := os.OpenFile(filepath.Join(dir, "blocks.dat"), os.O_WRONLY|os.O_APPEND, 0)
			f.Write([]byte{0, 0, 1, 0, 1, 2, 3, 4, 5})
			f.Close()
		}, 5},
		{"index lost", func(t *testing.T) { os.Truncate(filepath.Join(dir, "blocks.idx"), 0) }, 5},
		{"index tail lost and partial", func(t *testing.T) { os.Truncate(filepath.Join(dir, "blocks.idx"), 8*2+3) }, 5},
		{"index ahead of the data", func(t *testing.T) {
			st, _ := os.Stat(filepath.Join(dir, "blocks.dat"))
			os.Truncate(filepath.Join(dir, "blocks.dat"), st.Size()-4)
		}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.damage(t)
			s, err := openBlockStore(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer s.close()
			if s.Height() != tt.height {
				t.Fatalf("height %d, want %d", s.Height(), tt.height)
			}
			var prev []byte
			for n := uint64(0); n < s.Height(); n++ {
				b, err := s.Block(n)
				if err != nil {
					t.Fatal(err)
				}
				if b.Header.Number != n || !bytes.Equal(b.Header.PreviousHash, prev) {
					t.Fatalf("block %d: number %d or link wrong", n, b.Header.Number)
				}
				prev = protocol.BlockHeaderHash(b.Header)
			}
			if _, err := s.Block(s.Height()); !errors.Is(err, ErrNoBlock) {
				t.Errorf("block at height: %v", err)
			}
		})
	}
	// After recovery, appends continue the chain.
	s, _ = openBlockStore(dir)
	defer s.close()
	last, _ := s.Block(s.Height() - 1)
	if err := s.Append(testBlock(s.Height(), protocol.BlockHeaderHash(last.Header))); err != nil {
		t.Fatal(err)
	}
}

func FuzzDecodeBlockEntry(f *testing.F) {
	entry, _ := encodeBlockEntry(testBlock(3, bytes.Repeat([]byte{2}, 32), []byte("a"), []byte("b")))
	f.Add(entry)
	f.Add([]byte{entryBlock})
	f.Add([]byte{2, 1, 2, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := decodeBlockEntry(data)
		if err == nil && (b.Header == nil || b.Data == nil || b.Metadata == nil) {
			t.Fatal("decoded a block without header, data or metadata")
		}
	})
}

func FuzzDecodeSnapshot(f *testing.F) {
	hash := sha256.Sum256(nil)
	f.Add(encodeSnapshot(snapshotState{Height: 3, LastHash: hash[:], LastConfig: 1, LastConfigBlock: []byte("b")}))
	f.Add([]byte("BLSN\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := decodeSnapshot(data)
		if err != nil {
			return
		}
		if s.Height == 0 || len(s.LastHash) != 32 || s.LastConfig >= s.Height {
			t.Fatalf("accepted an inconsistent snapshot %+v", s)
		}
		if !bytes.Equal(encodeSnapshot(s), data) {
			t.Fatal("snapshot does not re-encode to its input")
		}
	})
}

func FuzzReadPreamble(f *testing.F) {
	f.Add(encodePreamble(preamble{ChannelID: "blossom", ServerID: "orderer0"}))
	f.Add([]byte{1, 0, 0})
	f.Add([]byte{1, 255})
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := readPreamble(bytes.NewReader(data))
		if err != nil {
			return
		}
		if channelconfig.ValidateChannelID(p.ChannelID) != nil || pki.ValidateEnrollmentID(p.ServerID) != nil {
			t.Fatalf("accepted an invalid preamble %+v", p)
		}
	})
}

func FuzzReadVerdict(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte{1, 3, 'a', 'b', 'c'})
	f.Fuzz(func(t *testing.T, data []byte) {
		err := readVerdict(bytes.NewReader(data))
		if err != nil && strings.ContainsAny(err.Error(), "\n\r") {
			t.Fatal("a refusal reason carries a line break into logs")
		}
	})
}

// FuzzCheckEnvelope feeds arbitrary bytes to the broadcast admission
// checks: they must never panic, and whatever they accept must be a
// correctly signed envelope of the channel.
func FuzzCheckEnvelope(f *testing.F) {
	cfg, client := fuzzChannel(f)
	valid, _ := newEnvelope(f, client, "blossom", 20)
	f.Add(valid)
	f.Add([]byte{})
	f.Add(protocol.MustMarshal(&pb.Envelope{Payload: []byte{1, 2, 3}}))
	now := time.Now()
	f.Fuzz(func(t *testing.T, raw []byte) {
		ce, ref := checkEnvelope(cfg, raw, now)
		if ref != nil {
			if ref.Status == pb.Status_SUCCESS || ref.Info == "" {
				t.Fatalf("refusal without a status or reason: %+v", ref)
			}
			return
		}
		env, _, hdr, err := protocol.OpenEnvelope(ce.Raw, 0)
		if err != nil || hdr.ChannelId != "blossom" || hdr.TxId != ce.TxID {
			t.Fatalf("accepted an envelope that does not open: %v", err)
		}
		creator, err := protocol.ParseSerializedIdentity(hdr.Creator)
		if err != nil {
			t.Fatal(err)
		}
		ident, err := cfg.Manager().Validate(creator.MspId, creator.CertDer, 0xff, now)
		if err != nil || ident.Verify(env.Payload, env.Signature) != nil {
			t.Fatal("accepted an envelope whose creator or signature is invalid")
		}
	})
}

// FuzzTrustForwarded feeds arbitrary bytes and claimed sequences to the
// leader's admission of a consenter's forward: it must never panic, and
// it may admit only an endorser transaction of the channel, within the
// size bound, claimed at the configuration's own sequence.
func FuzzTrustForwarded(f *testing.F) {
	cfg, client := fuzzChannel(f)
	valid, _ := newEnvelope(f, client, "blossom", 20)
	f.Add(valid, uint64(0))
	f.Add(valid, uint64(1))
	f.Add([]byte{}, uint64(0))
	f.Add(protocol.MustMarshal(&pb.Envelope{Payload: []byte{1, 2, 3}}), uint64(0))
	f.Fuzz(func(t *testing.T, raw []byte, seq uint64) {
		ce, ok := trustForwarded(cfg, raw, seq)
		if !ok {
			return
		}
		if seq != cfg.Sequence() || len(raw) > cfg.BatchSize().AbsoluteMaxBytes {
			t.Fatalf("admitted at sequence %d (config %d), %d bytes", seq, cfg.Sequence(), len(raw))
		}
		_, _, hdr, err := protocol.OpenEnvelope(ce.Raw, 0)
		if err != nil || hdr.ChannelId != "blossom" || hdr.TxId != ce.TxID || hdr.Type != pb.HeaderType_ENDORSER_TRANSACTION || ce.Type != hdr.Type {
			t.Fatalf("admitted an envelope that is not an endorser transaction of the channel: %v", err)
		}
	})
}

// fuzzChannel is a one-member channel configuration for the fuzz targets,
// with a client of that member.
func fuzzChannel(f *testing.F) (*channelconfig.Config, *testpki.Credential) {
	c := testpki.NewConsortium(f, "Org1MSP")
	m := c.Member("Org1MSP")
	ord := m.Issue(pki.RoleOrderer, "orderer0", nil)
	cc := &pb.ChannelConfig{
		ChannelId: "blossom", Capability: 1,
		Members:  map[string]*pb.MemberConfig{"Org1MSP": {MspId: "Org1MSP", RootCerts: [][]byte{c.Root.Cert.Raw}, IntermediateCerts: [][]byte{m.CA.Cert.Raw}}},
		Orderer:  &pb.OrdererConfig{Consenters: []*pb.Consenter{{Id: "orderer0", MspId: "Org1MSP", Address: "127.0.0.1:7050", CertDer: ord.Cert.Raw}}},
		Policies: channelconfig.DefaultPolicies(),
	}
	cfg, err := channelconfig.New(cc)
	if err != nil {
		f.Fatal(err)
	}
	return cfg, m.Issue(pki.RoleClient, "client0", nil)
}

func TestRaftStore(t *testing.T) {
	dir := t.TempDir()
	s, err := openRaftStore(dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetUint64([]byte("CurrentTerm")); err == nil || err.Error() != "not found" {
		t.Fatalf("missing key: %v", err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 7); err != nil {
		t.Fatal(err)
	}
	var logs []*raft.Log
	for i := uint64(1); i <= 10; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: 1, Type: raft.LogCommand, Data: []byte{byte(i)}, Extensions: []byte("x"), AppendedAt: time.Unix(0, int64(i))})
	}
	if err := s.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRange(1, 3); err != nil { // compaction
		t.Fatal(err)
	}
	if err := s.DeleteRange(9, 10); err != nil { // suffix truncation
		t.Fatal(err)
	}
	s.Close()
	// Everything survives a reopen.
	if s, err = openRaftStore(dir, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	if first != 4 || last != 8 {
		t.Fatalf("bounds %d..%d, want 4..8", first, last)
	}
	var l raft.Log
	if err := s.GetLog(3, &l); !errors.Is(err, raft.ErrLogNotFound) {
		t.Errorf("deleted entry: %v", err)
	}
	if err := s.GetLog(5, &l); err != nil || l.Index != 5 || l.Term != 1 || l.Data[0] != 5 || string(l.Extensions) != "x" || l.AppendedAt.UnixNano() != 5 {
		t.Errorf("entry 5 = %+v, %v", l, err)
	}
	if v, err := s.GetUint64([]byte("CurrentTerm")); err != nil || v != 7 {
		t.Errorf("term = %d, %v", v, err)
	}
	for _, bad := range [][]byte{nil, make([]byte, 20), append(encodeRaftLog(&raft.Log{Index: 1, Data: []byte("abc")}), 0)} {
		if err := decodeRaftLog(bad, &l); err == nil {
			t.Errorf("decoded a malformed entry %x", bad)
		}
	}
}
