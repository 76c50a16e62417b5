package peer

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/blossom-ledger/blossom/chaincode/kvtest"
	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/ledger/ledgertest"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
	"github.com/blossom-ledger/blossom/internal/transport"
	"github.com/blossom-ledger/blossom/internal/txn"
)

const testChannel = "testchannel"

// fixture is a peer node that is not serving (its services are called in
// process) on a one-member channel whose consenter never runs: the test
// cuts and signs the blocks itself.
type fixture struct {
	t       testing.TB
	pki     *testpki.Consortium
	node    *Node
	ch      *Channel
	orderer *ledgertest.Orderer // signs blocks as the channel's consenter
	rogue   *ledgertest.Orderer // a valid orderer of the member that is not a consenter
	user    *testpki.Credential
	peerID  *identity.Identity
	genesis *pb.Block
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	c := testpki.NewConsortium(t, "Org1MSP")
	m := c.Member("Org1MSP")
	ordCred := m.Issue(pki.RoleOrderer, "orderer0", nil)
	rogueCred := m.Issue(pki.RoleOrderer, "orderer9", nil)
	peerCred := m.Issue(pki.RolePeer, "peer0", nil)
	cc := &pb.ChannelConfig{
		ChannelId:  testChannel,
		Capability: channelconfig.CapabilityV1,
		Members: map[string]*pb.MemberConfig{"Org1MSP": {
			MspId: "Org1MSP", RootCerts: [][]byte{c.Root.Cert.Raw}, IntermediateCerts: [][]byte{m.CA.Cert.Raw},
		}},
		Orderer: &pb.OrdererConfig{
			Consenters: []*pb.Consenter{{Id: "orderer0", MspId: "Org1MSP", Address: "127.0.0.1:1", CertDer: ordCred.Cert.Raw}},
			BatchSize:  &pb.BatchSize{MaxMessageCount: 10},
		},
		Policies: channelconfig.DefaultPolicies(),
	}
	genesis, err := channelconfig.GenesisBlock(cc, time.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	node, err := New(Config{
		DataDir:       t.TempDir(),
		Certificate:   peerCred.TLS,
		GenesisBlocks: []*pb.Block{genesis},
		Chaincodes:    []Definition{{Name: "kv", EndorsementPolicy: "MAJORITY Endorsement", Chaincode: kvtest.New()}},
		Logger:        slog.New(slog.DiscardHandler),
		// Short, so that fuzzed proposals asking for a future height
		// do not stall the fuzzer.
		MinHeightWait: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Stop() })
	ch, _ := node.Channel(testChannel)
	peerID, err := ch.Config().Manager().Validate("Org1MSP", peerCred.Cert.Raw, identity.AnyRole, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	asOrderer := func(cred *testpki.Credential, id string) *ledgertest.Orderer {
		return &ledgertest.Orderer{ID: id, MSPID: "Org1MSP", Cert: cred.Cert, Key: cred.Key}
	}
	return &fixture{
		t: t, pki: c, node: node, ch: ch, genesis: genesis,
		orderer: asOrderer(ordCred, "orderer0"),
		rogue:   asOrderer(rogueCred, "orderer9"),
		user:    m.Issue(pki.RoleClient, "user0", nil),
		peerID:  peerID,
	}
}

// callerContext is a context carrying the identity of a caller, as the
// gRPC interceptors set it.
func (f *fixture) callerContext() context.Context {
	return transport.ContextWithIdentity(context.Background(), f.peerID)
}

// proposal signs a proposal of the user for the test channel.
func (f *fixture) proposal(function string, args ...string) *txn.Proposal {
	f.t.Helper()
	req := txn.Request{ChannelID: testChannel, Chaincode: "kv", Function: function}
	for _, a := range args {
		req.Args = append(req.Args, []byte(a))
	}
	prop, err := txn.NewProposal(f.user.Signer, req)
	if err != nil {
		f.t.Fatal(err)
	}
	return prop
}

// endorsedTx returns an envelope endorsed by the fixture's peer.
func (f *fixture) endorsedTx(function string, args ...string) []byte {
	f.t.Helper()
	prop := f.proposal(function, args...)
	resp, err := f.node.processProposal(f.callerContext(), prop.Signed)
	if err != nil {
		f.t.Fatal(err)
	}
	env, err := txn.Assemble(f.user.Signer, prop, []*pb.ProposalResponse{resp})
	if err != nil {
		f.t.Fatal(err)
	}
	return env
}

// forgedWriteTx returns an envelope, validly endorsed by the fixture's
// peer key, whose read/write set writes key in namespace kv: the simulator
// would never produce a key the ledger refuses, but a peer's key can sign
// anything.
func (f *fixture) forgedWriteTx(key string) []byte {
	f.t.Helper()
	prop := f.proposal("kv:Put", "k", "v")
	rw := &pb.TxReadWriteSet{NsRwsets: []*pb.NsReadWriteSet{{Namespace: "kv", Writes: []*pb.KVWrite{{Key: key, Value: []byte("v")}}}}}
	resp, err := txn.Endorse(f.node.signer, prop.ProposalHash, &pb.Response{Status: 200}, rw, &pb.ChaincodeEvents{})
	if err != nil {
		f.t.Fatal(err)
	}
	env, err := txn.Assemble(f.user.Signer, prop, []*pb.ProposalResponse{resp})
	if err != nil {
		f.t.Fatal(err)
	}
	return env
}

// nextBlock cuts the next block of envelopes after the channel's ledger,
// signed by signer (nil: the consenter).
func (f *fixture) nextBlock(signer *ledgertest.Orderer, envs ...[]byte) *pb.Block {
	f.t.Helper()
	last, err := f.ch.ledger.Block(f.ch.Height() - 1)
	if err != nil {
		f.t.Fatal(err)
	}
	data := &pb.BlockData{Envelopes: envs}
	b := &pb.Block{
		Header: &pb.BlockHeader{
			Number:            f.ch.Height(),
			PreviousHash:      protocol.BlockHeaderHash(last.Header),
			DataHash:          protocol.BlockDataHash(data),
			TimestampUnixNano: time.Now().UnixNano(),
		},
		Data:     data,
		Metadata: &pb.BlockMetadata{LastConfig: f.ch.current().lastConfig},
	}
	f.sign(signer, b)
	return b
}

func (f *fixture) sign(signer *ledgertest.Orderer, b *pb.Block) {
	if signer == nil {
		signer = f.orderer
	}
	signer.SignBlock(f.t, b)
}

// clone deep-copies a block.
func clone(b *pb.Block) *pb.Block { return proto.Clone(b).(*pb.Block) }
