package peer

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// FuzzProcessProposal: the endorser path never panics on arbitrary signed
// proposal bytes, and endorses nothing but the one proposal the user signed.
func FuzzProcessProposal(f *testing.F) {
	fx := newFixture(f)
	good := fx.proposal("kv:Put", "k", "v").Signed
	f.Add(good.Proposal, good.Signature)
	f.Add(fx.proposal("kv:Get", "k").Signed.Proposal, good.Signature)
	f.Add([]byte{}, []byte{})
	f.Add([]byte("\x0a\x03abc\x12\x02xy"), []byte("sig"))
	f.Add(protocol.MustMarshal(&pb.Proposal{Header: []byte("garbage"), Invocation: []byte{0xff}}), []byte{})
	f.Fuzz(func(t *testing.T, proposal, signature []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := fx.node.processProposal(ctx, &pb.SignedProposal{Proposal: proposal, Signature: signature})
		if err != nil {
			return
		}
		if resp.GetEndorsement() != nil && !bytes.Equal(proposal, good.Proposal) {
			t.Fatalf("endorsed a proposal nobody signed: %x", proposal)
		}
	})
}

// FuzzBlockIntake: block intake never panics on arbitrary blocks, neither
// on raw input (refused by the checks) nor on input re-chained and
// re-signed by the consenter so that it reaches validation; whatever it
// prepares has one code per transaction and writes only for valid ones.
func FuzzBlockIntake(f *testing.F) {
	fx := newFixture(f)
	seed := fx.nextBlock(nil, fx.endorsedTx("kv:Put", "k", "v"), fx.endorsedTx("kv:Incr", "n"))
	f.Add(protocol.MustMarshal(seed), false)
	f.Add(protocol.MustMarshal(seed), true)
	f.Add(protocol.MustMarshal(fx.genesis), true)
	f.Add([]byte("garbage"), true)
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, data []byte, rechain bool) {
		b := new(pb.Block)
		if protocol.Unmarshal(data, b, 0) != nil {
			return
		}
		if rechain {
			fx.rechain(t, b)
		}
		p, err := fx.ch.prepare(b)
		if err != nil {
			return
		}
		envs := b.GetData().GetEnvelopes()
		if len(p.commit.Codes) != len(envs) || len(p.commit.Writes) != len(envs) {
			t.Fatalf("%d codes, %d writes for %d envelopes", len(p.commit.Codes), len(p.commit.Writes), len(envs))
		}
		for i, c := range p.commit.Codes {
			if c != pb.TxValidationCode_VALID && len(p.commit.Writes[i]) > 0 {
				t.Fatalf("transaction %d is %s but writes", i, c)
			}
		}
	})
}

// rechain makes b follow the channel's ledger (number, previous hash, data
// hash, last config) and signs it as the consenter.
func (f *fixture) rechain(t *testing.T, b *pb.Block) {
	if b.Header == nil {
		b.Header = new(pb.BlockHeader)
	}
	if b.Data == nil {
		b.Data = new(pb.BlockData)
	}
	if b.Metadata == nil {
		b.Metadata = new(pb.BlockMetadata)
	}
	b.Header.Number = f.ch.Height()
	b.Header.PreviousHash = f.ch.ledger.LastBlockHash()
	b.Header.DataHash = protocol.BlockDataHash(b.Data)
	if b.Header.TimestampUnixNano < f.ch.lastTime {
		b.Header.TimestampUnixNano = f.ch.lastTime
	}
	b.Metadata.LastConfig = f.ch.current().lastConfig
	if channelconfig.IsConfigBlock(b) {
		b.Metadata.LastConfig = b.Header.Number
	}
	f.orderer.SignBlock(t, b)
}
