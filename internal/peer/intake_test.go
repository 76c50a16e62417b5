package peer

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/ledger"
	"github.com/blossom-ledger/blossom/internal/ledger/ledgertest"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// TestBlockIntakeRefusesBadBlocks: every intake check refuses its kind of
// bad block, with ErrBadBlock and a reason, and changes nothing.
func TestBlockIntakeRefusesBadBlocks(t *testing.T) {
	f := newFixture(t)
	env := f.endorsedTx("kv:Put", "k", "v")
	tests := []struct {
		name   string
		mutate func(b *pb.Block) // then re-signed by the consenter unless noResign
		signer *ledgertest.Orderer
		keep   bool // do not re-sign after mutate
		want   string
	}{
		{name: "no header", mutate: func(b *pb.Block) { b.Header = nil }, keep: true, want: "without header"},
		{name: "no metadata", mutate: func(b *pb.Block) { b.Metadata = nil }, keep: true, want: "without header, data or metadata"},
		{name: "number ahead of the ledger", mutate: func(b *pb.Block) { b.Header.Number++ }, want: "expected block 1"},
		{name: "number of a committed block", mutate: func(b *pb.Block) { b.Header.Number = 0 }, want: "expected block 1"},
		{name: "previous hash", mutate: func(b *pb.Block) { b.Header.PreviousHash = make([]byte, 32) }, want: "previous hash"},
		{name: "data hash", mutate: func(b *pb.Block) { b.Data.Envelopes = append(b.Data.Envelopes, env) }, want: "data hash"},
		{name: "timestamp before the previous block", mutate: func(b *pb.Block) { b.Header.TimestampUnixNano = f.genesis.Header.TimestampUnixNano - 1 }, want: "timestamp"},
		{name: "empty block", mutate: func(b *pb.Block) {
			b.Data.Envelopes = nil
			b.Header.DataHash = protocol.BlockDataHash(b.Data)
		}, want: "no transactions"},
		{name: "more envelopes than the batch size", mutate: func(b *pb.Block) {
			for len(b.Data.Envelopes) <= 10 {
				b.Data.Envelopes = append(b.Data.Envelopes, env)
			}
			b.Header.DataHash = protocol.BlockDataHash(b.Data)
		}, want: "batch max 10"},
		{name: "wrong last config", mutate: func(b *pb.Block) { b.Metadata.LastConfig = 1 }, want: "last config"},
		{name: "unsigned", mutate: func(b *pb.Block) { b.Metadata.Signature = nil }, keep: true, want: "orderer signature missing"},
		{name: "signed by an orderer that is not a consenter", signer: f.rogue, want: "not a consenter"},
		{name: "signature over another header", mutate: func(b *pb.Block) { b.Header.TimestampUnixNano++ }, keep: true, want: "does not verify"},
		{name: "signer claims another member", mutate: func(b *pb.Block) {
			b.Metadata.Signature.Signer = protocol.SerializeIdentity("Org2MSP", f.orderer.Cert.Raw)
		}, keep: true, want: "claims MSP"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := f.ch.Height()
			b := f.nextBlock(tc.signer, env)
			if tc.mutate != nil {
				tc.mutate(b)
				if !tc.keep {
					f.sign(tc.signer, b)
				}
			}
			err := f.ch.processBlock(b)
			if !errors.Is(err, ErrBadBlock) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a bad block error containing %q", err, tc.want)
			}
			if f.ch.Height() != before || f.ch.Err() != nil {
				t.Fatalf("height %d (was %d), channel error %v", f.ch.Height(), before, f.ch.Err())
			}
		})
	}
	// The good block still commits afterwards, and is then refused as a
	// replay.
	b := f.nextBlock(nil, env)
	if err := f.ch.processBlock(b); err != nil {
		t.Fatal(err)
	}
	if err := f.ch.processBlock(b); !errors.Is(err, ErrBadBlock) {
		t.Fatalf("replayed block: %v", err)
	}
}

// TestBlockIntakeCommitsAndPublishes: a good block is validated, committed
// with its codes and writes, and published; a non-endorsed transaction in
// the same block is recorded invalid and writes nothing.
func TestBlockIntakeCommitsAndPublishes(t *testing.T) {
	f := newFixture(t)
	events, cancel := f.ch.Subscribe(1)
	defer cancel()
	good := f.endorsedTx("kv:Put", "k", "v")
	unsigned, _ := ledgertest.WriteTx(testChannel, "kv", ledgertest.Put("k2", []byte("x")))
	badKey := f.forgedWriteTx("") // the ledger refuses empty keys
	b := f.nextBlock(nil, good, unsigned, badKey)
	if err := f.ch.processBlock(b); err != nil {
		t.Fatal(err)
	}
	ev := <-events
	want := []pb.TxValidationCode{pb.TxValidationCode_VALID, pb.TxValidationCode_BAD_CREATOR, pb.TxValidationCode_INVALID_WRITESET}
	for i, tx := range ev.Transactions {
		if tx.Code != want[i] {
			t.Fatalf("tx %d: %s, want %s", i, tx.Code, want[i])
		}
	}
	stored, err := f.ch.ledger.Block(b.Header.Number)
	if err != nil {
		t.Fatal(err)
	}
	if got := stored.Metadata.ValidationCodes; !bytes.Equal(got, []byte{0, byte(pb.TxValidationCode_BAD_CREATOR), byte(pb.TxValidationCode_INVALID_WRITESET)}) {
		t.Fatalf("stored codes %v", got)
	}
	if v, err := f.ch.ledger.State().Get("kv", "k"); err != nil || v == nil || string(v.Value) != "v" {
		t.Fatalf("k = %v, %v", v, err)
	}
	if v, err := f.ch.ledger.State().Get("kv", "k2"); err != nil || v != nil {
		t.Fatalf("invalid transaction wrote k2: %v, %v", v, err)
	}
	// WaitForTx answers at once for a committed transaction.
	_, _, hdr, _ := protocol.OpenEnvelope(good, 0)
	ctx, cancelWait := context.WithTimeout(context.Background(), time.Second)
	defer cancelWait()
	info, err := f.ch.WaitForTx(ctx, hdr.TxId)
	if err != nil || info.Block != b.Header.Number || info.Code != pb.TxValidationCode_VALID {
		t.Fatalf("WaitForTx: %+v %v", info, err)
	}
}

// TestPublicWritesMatchLedgerExtraction: the writes the channel hands the
// ledger are exactly what the ledger would extract itself.
func TestPublicWritesMatchLedgerExtraction(t *testing.T) {
	rw := &pb.TxReadWriteSet{NsRwsets: []*pb.NsReadWriteSet{
		{Namespace: "a", Writes: []*pb.KVWrite{{Key: "x", Value: []byte("1")}, {Key: "y", IsDelete: true, Value: []byte("ignored")}}},
		{Namespace: "b", Writes: []*pb.KVWrite{{Key: "z", Value: []byte("2")}}},
	}}
	env, _ := ledgertest.EndorserTx(testChannel, rw)
	got, err := publicWrites(rw)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ledger.TxPublicWrites(env)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d writes, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].Namespace != want[i].Namespace || got[i].Key != want[i].Key || got[i].IsDelete != want[i].IsDelete || !bytes.Equal(got[i].Value, want[i].Value) {
			t.Fatalf("write %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if _, err := publicWrites(&pb.TxReadWriteSet{NsRwsets: []*pb.NsReadWriteSet{{Namespace: "a", Writes: []*pb.KVWrite{{Key: ""}}}}}); err == nil {
		t.Fatal("an empty key was accepted")
	}
}
