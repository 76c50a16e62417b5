package ledgertest_test

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/blossom-ledger/blossom/internal/ledger"
	"github.com/blossom-ledger/blossom/internal/ledger/ledgertest"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

func TestChainBlocksAreChainedAndSigned(t *testing.T) {
	ed := ledgertest.NewOrderer(t, "orderer1", "EdMSP", pki.Ed25519)
	c := ledgertest.NewChain(t, "ch")
	g := c.Genesis()
	cfg, ok, err := ledger.ConfigFromBlock(g)
	if err != nil || !ok || cfg.ChannelId != "ch" || len(cfg.Orderer.Consenters) != 1 {
		t.Fatalf("genesis config: %v %v %v", cfg, ok, err)
	}
	env, txID := ledgertest.WriteTx("ch", "cc", ledgertest.Put("k", []byte("v")), ledgertest.Del("d"))
	b1 := c.Next(env)
	next := proto.Clone(c.Config).(*pb.ChannelConfig)
	next.Orderer.Consenters = append(next.Orderer.Consenters, ed.Consenter())
	b2 := c.NextConfig(next)
	c.Signer = ed
	b3 := c.Next()

	prev := g
	for i, b := range []*pb.Block{b1, b2, b3} {
		if b.Header.Number != uint64(i+1) || !bytes.Equal(b.Header.PreviousHash, protocol.BlockHeaderHash(prev.Header)) {
			t.Fatalf("block %d does not chain", i+1)
		}
		if !bytes.Equal(b.Header.DataHash, protocol.BlockDataHash(b.Data)) {
			t.Fatalf("block %d data hash", i+1)
		}
		prev = b
	}
	if err := ledger.VerifyOrdererSignature(b1, cfg); err != nil {
		t.Fatal(err)
	}
	if err := ledger.VerifyOrdererSignature(b3, cfg); err == nil {
		t.Fatal("a block signed by an orderer added later verifies against the genesis config")
	}
	if err := ledger.VerifyOrdererSignature(b3, c.Config); err != nil {
		t.Fatalf("Ed25519 signature: %v", err)
	}
	if b2.Metadata.LastConfig != 2 || b3.Metadata.LastConfig != 2 || b1.Metadata.LastConfig != 0 || c.Config.Sequence != 1 {
		t.Fatal("last_config / sequence not tracked")
	}
	writes, err := ledger.TxPublicWrites(env)
	if err != nil || len(writes) != 2 || writes[0].Key != "k" || !writes[1].IsDelete {
		t.Fatalf("writes of WriteTx: %v %v", writes, err)
	}
	_, _, hdr, err := protocol.OpenEnvelope(env, 0)
	if err != nil || hdr.TxId != txID || hdr.TxId != protocol.ComputeTxID(hdr.Nonce, hdr.Creator) {
		t.Fatalf("txID %q, header %v, %v", txID, hdr, err)
	}
}
