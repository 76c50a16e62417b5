// Package ledgertest builds signed test chains for packages that store,
// serve or validate blocks (ledger, orderer, peer): an orderer identity with
// a real certificate chain, a genesis config block listing it as consenter,
// and further blocks that are hash-chained, carry the right data hash and
// last_config, and are signed the way the ordering service signs them.
//
// The transactions it makes are structurally valid ENDORSER_TRANSACTION
// envelopes with a read/write set, but unsigned and unendorsed: good for the
// ledger, which does not check endorsements, not for a validator.
package ledgertest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// Orderer is an ordering node's signing identity.
type Orderer struct {
	ID    string // Raft server ID (the certificate's enrollment ID)
	MSPID string
	Cert  *x509.Certificate
	Key   crypto.Signer
	// RootCert and CACert are the member's root and intermediate CA.
	RootCert, CACert *x509.Certificate
}

// NewOrderer creates an orderer identity of member mspID with key algorithm
// alg (pki.ECDSAP256 or pki.Ed25519): a fresh root CA, the member's
// intermediate CA and an orderer certificate issued by it.
func NewOrderer(t testing.TB, id, mspID string, alg pki.KeyAlgorithm) *Orderer {
	t.Helper()
	root, err := pki.NewRootCA(pki.RootRequest{CommonName: "ledgertest root CA", Organization: "ledgertest"})
	if err != nil {
		t.Fatalf("ledgertest: root CA: %v", err)
	}
	caKey, csr, err := pki.NewIntermediateCSR(mspID, pki.ECDSAP256)
	if err != nil {
		t.Fatalf("ledgertest: CSR: %v", err)
	}
	caCert, err := root.SignIntermediate(csr, 0, time.Time{})
	if err != nil {
		t.Fatalf("ledgertest: intermediate: %v", err)
	}
	ca := &pki.CA{Cert: caCert, Signer: caKey, Chain: []*x509.Certificate{root.Cert}}
	key, err := pki.GenerateKey(alg)
	if err != nil {
		t.Fatalf("ledgertest: orderer key: %v", err)
	}
	cert, err := ca.Issue(pki.IssueRequest{PublicKey: key.Public(), EnrollmentID: id, Role: pki.RoleOrderer, DNSNames: []string{"localhost"}})
	if err != nil {
		t.Fatalf("ledgertest: orderer certificate: %v", err)
	}
	return &Orderer{ID: id, MSPID: mspID, Cert: cert, Key: key, RootCert: root.Cert, CACert: caCert}
}

// Identity is the orderer's marshalled SerializedIdentity.
func (o *Orderer) Identity() []byte { return protocol.SerializeIdentity(o.MSPID, o.Cert.Raw) }

// Consenter describes the orderer in a channel config.
func (o *Orderer) Consenter() *pb.Consenter {
	return &pb.Consenter{Id: o.ID, MspId: o.MSPID, Address: "127.0.0.1:0", CertDer: o.Cert.Raw}
}

// SignBlock sets block's orderer signature (over the header hash and
// metadata.last_config) made with o's key: ECDSA ASN.1 over the SHA-256 of
// protocol.OrdererSignedBytes, or Ed25519 over the bytes themselves.
func (o *Orderer) SignBlock(t testing.TB, block *pb.Block) {
	t.Helper()
	if block.Metadata == nil {
		block.Metadata = new(pb.BlockMetadata)
	}
	msg := protocol.OrdererSignedBytes(protocol.BlockHeaderHash(block.Header), block.Metadata.LastConfig)
	var sig []byte
	var err error
	switch k := o.Key.(type) {
	case *ecdsa.PrivateKey:
		digest := sha256.Sum256(msg)
		sig, err = ecdsa.SignASN1(rand.Reader, k, digest[:])
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, msg)
	default:
		digest := sha256.Sum256(msg)
		sig, err = o.Key.Sign(rand.Reader, digest[:], crypto.SHA256)
	}
	if err != nil {
		t.Fatalf("ledgertest: sign block: %v", err)
	}
	block.Metadata.Signature = &pb.OrdererSignature{Signer: o.Identity(), Signature: sig}
}

// GenesisConfig returns a channel config whose consenters are orderers and
// whose members are the orderers' MSPs.
func GenesisConfig(channelID string, orderers ...*Orderer) *pb.ChannelConfig {
	cfg := &pb.ChannelConfig{
		ChannelId: channelID,
		Members:   make(map[string]*pb.MemberConfig),
		Orderer: &pb.OrdererConfig{
			BatchSize:      &pb.BatchSize{MaxMessageCount: 500, AbsoluteMaxBytes: 2 << 20, PreferredMaxBytes: 2 << 20},
			BatchTimeoutMs: 100,
		},
		Versions: map[string]uint64{"orderer": 0},
	}
	for _, o := range orderers {
		cfg.Orderer.Consenters = append(cfg.Orderer.Consenters, o.Consenter())
		if _, ok := cfg.Members[o.MSPID]; !ok {
			cfg.Members[o.MSPID] = &pb.MemberConfig{MspId: o.MSPID, RootCerts: [][]byte{o.RootCert.Raw}, IntermediateCerts: [][]byte{o.CACert.Raw}}
			cfg.Versions["member/"+o.MSPID] = 0
		}
	}
	return cfg
}

// Chain cuts a sequence of signed blocks the way the ordering service does.
// It is not safe for concurrent use.
type Chain struct {
	t         testing.TB
	ChannelID string
	// Signer signs the next blocks; it must be a consenter of the config in
	// force (the last config block's).
	Signer *Orderer
	Config *pb.ChannelConfig // the config in force after the last block cut

	next       uint64
	prevHash   []byte
	lastConfig uint64
	start      time.Time
}

// NewChain starts a chain on channelID whose genesis config lists the given
// orderers as consenters (one new ECDSA orderer "orderer0" of "OrdererMSP"
// if none); the first orderer signs.
func NewChain(t testing.TB, channelID string, orderers ...*Orderer) *Chain {
	t.Helper()
	if len(orderers) == 0 {
		orderers = []*Orderer{NewOrderer(t, "orderer0", "OrdererMSP", pki.ECDSAP256)}
	}
	return &Chain{
		t:         t,
		ChannelID: channelID,
		Signer:    orderers[0],
		Config:    GenesisConfig(channelID, orderers...),
		start:     time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	}
}

// Height is the number of blocks cut so far.
func (c *Chain) Height() uint64 { return c.next }

// Genesis cuts block 0: the config block of c.Config. Call it first.
func (c *Chain) Genesis() *pb.Block {
	c.t.Helper()
	if c.next != 0 {
		c.t.Fatalf("ledgertest: Genesis after %d blocks", c.next)
	}
	return c.NextConfig(c.Config)
}

// NextConfig cuts a config block carrying cfg (its sequence is set to the
// config block count); later blocks name it as last config. The signer is
// c.Signer, checked against the previous config; set c.Signer afterwards to
// sign with a consenter of the new config.
func (c *Chain) NextConfig(cfg *pb.ChannelConfig) *pb.Block {
	c.t.Helper()
	cfg = proto.Clone(cfg).(*pb.ChannelConfig)
	if c.next > 0 {
		cfg.Sequence = c.Config.Sequence + 1
	}
	env := Envelope(c.ChannelID, pb.HeaderType_CONFIG, protocol.MustMarshal(&pb.ConfigEnvelope{Config: cfg}))
	c.lastConfig = c.next
	block := c.cut([][]byte{env})
	c.Config = cfg
	return block
}

// Next cuts a block of the given envelopes.
func (c *Chain) Next(envelopes ...[]byte) *pb.Block {
	c.t.Helper()
	return c.cut(envelopes)
}

func (c *Chain) cut(envs [][]byte) *pb.Block {
	data := &pb.BlockData{Envelopes: envs}
	block := &pb.Block{
		Header: &pb.BlockHeader{
			Number:            c.next,
			PreviousHash:      c.prevHash,
			DataHash:          protocol.BlockDataHash(data),
			TimestampUnixNano: c.start.Add(time.Duration(c.next) * time.Second).UnixNano(),
		},
		Data:     data,
		Metadata: &pb.BlockMetadata{LastConfig: c.lastConfig},
	}
	c.Signer.SignBlock(c.t, block)
	c.prevHash = protocol.BlockHeaderHash(block.Header)
	c.next++
	return block
}

// Envelope builds an envelope of the given type and payload data with a
// fresh header (random nonce, txID derived from it, a fixed test creator).
// It is not signed.
func Envelope(channelID string, typ pb.HeaderType, data []byte) []byte {
	env, _ := envelope(channelID, typ, data)
	return env
}

// TestCreator is the creator identity of the envelopes ledgertest builds.
var TestCreator = protocol.SerializeIdentity("ClientMSP", []byte("ledgertest creator certificate"))

func envelope(channelID string, typ pb.HeaderType, data []byte) ([]byte, string) {
	nonce := make([]byte, protocol.NonceSize)
	if _, err := rand.Read(nonce); err != nil {
		panic(fmt.Sprintf("ledgertest: nonce: %v", err))
	}
	txID := protocol.ComputeTxID(nonce, TestCreator)
	hdr := protocol.MustMarshal(&pb.Header{
		Type:              typ,
		ChannelId:         channelID,
		TxId:              txID,
		TimestampUnixNano: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(),
		Creator:           TestCreator,
		Nonce:             nonce,
	})
	payload := protocol.MustMarshal(&pb.Payload{Header: hdr, Data: data})
	return protocol.MustMarshal(&pb.Envelope{Payload: payload, Signature: []byte("unsigned")}), txID
}

// KV is one write of a test transaction: a put of Value, or a delete.
type KV struct {
	Key    string
	Value  []byte
	Delete bool
}

// Put is a KV that writes value to key.
func Put(key string, value []byte) KV { return KV{Key: key, Value: value} }

// Del is a KV that deletes key.
func Del(key string) KV { return KV{Key: key, Delete: true} }

// WriteTx builds an ENDORSER_TRANSACTION envelope whose read/write set
// writes kvs into namespace ns, and returns it with its txID.
func WriteTx(channelID, ns string, kvs ...KV) ([]byte, string) {
	rw := &pb.NsReadWriteSet{Namespace: ns}
	for _, kv := range kvs {
		w := &pb.KVWrite{Key: kv.Key, IsDelete: kv.Delete}
		if !kv.Delete {
			w.Value = kv.Value
		}
		rw.Writes = append(rw.Writes, w)
	}
	return EndorserTx(channelID, &pb.TxReadWriteSet{NsRwsets: []*pb.NsReadWriteSet{rw}})
}

// EndorserTx builds an ENDORSER_TRANSACTION envelope carrying rwset (as
// EndorsedTransaction -> ProposalResponsePayload -> TxReadWriteSet) and
// returns it with its txID.
func EndorserTx(channelID string, rwset *pb.TxReadWriteSet) ([]byte, string) {
	prp := protocol.MustMarshal(&pb.ProposalResponsePayload{
		ProposalHash: make([]byte, 32),
		Results:      protocol.MustMarshal(rwset),
		Response:     &pb.Response{Status: 200},
	})
	tx := protocol.MustMarshal(&pb.EndorsedTransaction{
		Invocation:      protocol.MustMarshal(&pb.ChaincodeInvocation{Chaincode: "test", Function: "test:Write"}),
		ResponsePayload: prp,
	})
	return envelope(channelID, pb.HeaderType_ENDORSER_TRANSACTION, tx)
}
