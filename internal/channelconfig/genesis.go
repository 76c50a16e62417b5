package channelconfig

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/blossom-ledger/blossom/internal/fsutil"

	"google.golang.org/protobuf/proto"

	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/policy"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// Bounds on the files a consortium description names.
const (
	MaxSpecFileBytes = 1 << 20
	MaxPEMFileBytes  = 16 << 20 // a CRL file may be large
)

// Spec is a consortium description: the input of `blossom channel create`.
// It is read from a JSON file; relative file names are resolved against
// the directory of that file.
//
//	{
//	  "channel": "blossom",
//	  "members": [{"mspId": "SAMSMSP", "rootCerts": ["root.pem"],
//	               "intermediateCerts": ["sams-ca.pem"], "peers": ["peer0.sams:7051"]}],
//	  "orderers": [{"id": "orderer0", "mspId": "SAMSMSP",
//	                "address": "orderer0.sams:7050", "cert": "orderer0.pem"}],
//	  "batch": {"maxMessageCount": 500, "timeout": "100ms"}
//	}
type Spec struct {
	Channel    string            `json:"channel"`
	Capability uint32            `json:"capability,omitempty"` // 0: CapabilityV1
	Members    []MemberSpec      `json:"members"`
	Orderers   []OrdererSpec     `json:"orderers"`
	Batch      *BatchSpec        `json:"batch,omitempty"`
	Raft       *RaftSpec         `json:"raft,omitempty"`
	Policies   map[string]string `json:"policies,omitempty"` // overrides, in policy.Parse syntax
	// dir resolves relative file names (the spec file's directory).
	dir string
}

// MemberSpec describes one member: PEM files of its root and intermediate
// CA certificates (each file may hold several), optional CRL files (PEM or
// DER) and its peers' endpoints.
type MemberSpec struct {
	MSPID             string   `json:"mspId"`
	RootCerts         []string `json:"rootCerts"`
	IntermediateCerts []string `json:"intermediateCerts,omitempty"`
	CRLs              []string `json:"crls,omitempty"`
	Peers             []string `json:"peers,omitempty"`
}

// OrdererSpec describes one consenter: its Raft ID (its certificate's
// enrollment ID), member, address and a PEM file of its certificate.
type OrdererSpec struct {
	ID      string `json:"id"`
	MSPID   string `json:"mspId"`
	Address string `json:"address"`
	Cert    string `json:"cert"`
}

// BatchSpec overrides the batch defaults; zero fields keep the default.
type BatchSpec struct {
	MaxMessageCount   uint32 `json:"maxMessageCount,omitempty"`
	AbsoluteMaxBytes  uint32 `json:"absoluteMaxBytes,omitempty"`
	PreferredMaxBytes uint32 `json:"preferredMaxBytes,omitempty"`
	Timeout           string `json:"timeout,omitempty"` // Go duration, e.g. "100ms"
}

// RaftSpec overrides the LAN Raft profile; zero fields keep the default.
type RaftSpec struct {
	HeartbeatTimeout       string `json:"heartbeatTimeout,omitempty"`
	ElectionTimeout        string `json:"electionTimeout,omitempty"`
	LeaderLeaseTimeout     string `json:"leaderLeaseTimeout,omitempty"`
	CommitTimeout          string `json:"commitTimeout,omitempty"`
	SnapshotIntervalBlocks uint32 `json:"snapshotIntervalBlocks,omitempty"`
	TrailingLogs           uint32 `json:"trailingLogs,omitempty"`
}

// LoadSpec reads a consortium description (JSON, unknown fields refused).
func LoadSpec(path string) (*Spec, error) {
	data, err := fsutil.ReadFileBounded(path, MaxSpecFileBytes)
	if err != nil {
		return nil, err
	}
	spec, err := ParseSpec(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	spec.dir = filepath.Dir(path)
	return spec, nil
}

// ParseSpec decodes a consortium description from JSON. Relative file
// names in it are resolved against the working directory.
func ParseSpec(data []byte) (*Spec, error) {
	if len(data) > MaxSpecFileBytes {
		return nil, fmt.Errorf("consortium description larger than %d bytes", MaxSpecFileBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	spec := new(Spec)
	if err := dec.Decode(spec); err != nil {
		return nil, fmt.Errorf("consortium description: %w", err)
	}
	if dec.More() {
		return nil, errors.New("consortium description: data after the JSON object")
	}
	return spec, nil
}

func (s *Spec) path(name string) string {
	if filepath.IsAbs(name) || s.dir == "" {
		return name
	}
	return filepath.Join(s.dir, name)
}

// certsDER reads the CERTIFICATE blocks of PEM files.
func (s *Spec) certsDER(files []string) ([][]byte, error) {
	var out [][]byte
	for _, name := range files {
		data, err := fsutil.ReadFileBounded(s.path(name), MaxPEMFileBytes)
		if err != nil {
			return nil, err
		}
		certs, err := pki.ParseCertificatesPEM(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for _, c := range certs {
			out = append(out, c.Raw)
		}
	}
	return out, nil
}

// crlsDER reads CRL files, PEM ("X509 CRL" blocks) or DER.
func (s *Spec) crlsDER(files []string) ([][]byte, error) {
	var out [][]byte
	for _, name := range files {
		data, err := fsutil.ReadFileBounded(s.path(name), MaxPEMFileBytes)
		if err != nil {
			return nil, err
		}
		if !bytes.Contains(data, []byte("-----BEGIN")) {
			out = append(out, data)
			continue
		}
		for {
			var block *pem.Block
			block, data = pem.Decode(data)
			if block == nil {
				break
			}
			if block.Type != "X509 CRL" {
				return nil, fmt.Errorf("%s: unexpected PEM block %q (want X509 CRL)", name, block.Type)
			}
			out = append(out, block.Bytes)
		}
	}
	return out, nil
}

func specDuration(what, s string) (uint32, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	if d < time.Millisecond || d > MaxRaftTimeout || d%time.Millisecond != 0 {
		return 0, fmt.Errorf("%s %s: want whole milliseconds from 1ms to %s", what, s, MaxRaftTimeout)
	}
	return uint32(d / time.Millisecond), nil
}

// ChannelConfig reads the files the description names and builds the
// genesis configuration (sequence 0), defaults written out explicitly. It
// validates the result (see New).
func (s *Spec) ChannelConfig() (*pb.ChannelConfig, error) {
	if err := ValidateChannelID(s.Channel); err != nil {
		return nil, err
	}
	cc := &pb.ChannelConfig{
		ChannelId:  s.Channel,
		Capability: s.Capability,
		Members:    map[string]*pb.MemberConfig{},
		Policies:   DefaultPolicies(),
		Versions:   map[string]uint64{ElementOrderer: 0, ElementCapability: 0},
	}
	if cc.Capability == 0 {
		cc.Capability = CapabilityV1
	}
	if len(s.Members) == 0 {
		return nil, invalidf("the description names no member")
	}
	for _, m := range s.Members {
		if err := pki.ValidateMSPID(m.MSPID); err != nil {
			return nil, invalidf("member: %v", err)
		}
		if _, dup := cc.Members[m.MSPID]; dup {
			return nil, invalidf("member %s appears twice", m.MSPID)
		}
		roots, err := s.certsDER(m.RootCerts)
		if err != nil {
			return nil, fmt.Errorf("member %s: root certificates: %w", m.MSPID, err)
		}
		inters, err := s.certsDER(m.IntermediateCerts)
		if err != nil {
			return nil, fmt.Errorf("member %s: intermediate certificates: %w", m.MSPID, err)
		}
		crls, err := s.crlsDER(m.CRLs)
		if err != nil {
			return nil, fmt.Errorf("member %s: CRLs: %w", m.MSPID, err)
		}
		cc.Members[m.MSPID] = &pb.MemberConfig{
			MspId: m.MSPID, RootCerts: roots, IntermediateCerts: inters, Crls: crls, PeerEndpoints: m.Peers,
		}
		cc.Versions[MemberElement(m.MSPID)] = 0
	}
	o := &pb.OrdererConfig{BatchSize: &pb.BatchSize{}, Raft: &pb.RaftOptions{}}
	for _, os := range s.Orderers {
		certs, err := s.certsDER([]string{os.Cert})
		if err != nil {
			return nil, fmt.Errorf("orderer %s: %w", os.ID, err)
		}
		o.Consenters = append(o.Consenters, &pb.Consenter{Id: os.ID, MspId: os.MSPID, Address: os.Address, CertDer: certs[0]})
	}
	b := s.Batch
	if b == nil {
		b = &BatchSpec{}
	}
	o.BatchSize.MaxMessageCount = orU32(b.MaxMessageCount, DefaultMaxMessageCount)
	o.BatchSize.AbsoluteMaxBytes = orU32(b.AbsoluteMaxBytes, DefaultAbsoluteMaxBytes)
	o.BatchSize.PreferredMaxBytes = orU32(b.PreferredMaxBytes, DefaultPreferredMaxBytes)
	var err error
	if o.BatchTimeoutMs, err = specDuration("batch timeout", b.Timeout); err != nil {
		return nil, invalidf("%v", err)
	}
	o.BatchTimeoutMs = orU32(o.BatchTimeoutMs, uint32(DefaultBatchTimeout/time.Millisecond))
	r := s.Raft
	if r == nil {
		r = &RaftSpec{}
	}
	for _, d := range []struct {
		what string
		in   string
		out  *uint32
		def  time.Duration
	}{
		{"raft heartbeat timeout", r.HeartbeatTimeout, &o.Raft.HeartbeatTimeoutMs, DefaultHeartbeatTimeout},
		{"raft election timeout", r.ElectionTimeout, &o.Raft.ElectionTimeoutMs, DefaultElectionTimeout},
		{"raft leader lease timeout", r.LeaderLeaseTimeout, &o.Raft.LeaderLeaseTimeoutMs, DefaultLeaderLeaseTimeout},
		{"raft commit timeout", r.CommitTimeout, &o.Raft.CommitTimeoutMs, DefaultCommitTimeout},
	} {
		v, err := specDuration(d.what, d.in)
		if err != nil {
			return nil, invalidf("%v", err)
		}
		*d.out = orU32(v, uint32(d.def/time.Millisecond))
	}
	o.Raft.SnapshotIntervalBlocks = orU32(r.SnapshotIntervalBlocks, DefaultSnapshotIntervalBlocks)
	o.Raft.TrailingLogs = orU32(r.TrailingLogs, DefaultTrailingLogs)
	cc.Orderer = o
	for name, text := range s.Policies {
		p, err := policy.Parse(text)
		if err != nil {
			return nil, invalidf("policy %s: %v", name, err)
		}
		cc.Policies[name] = p
	}
	for name := range cc.Policies {
		cc.Versions[PolicyElement(name)] = 0
	}
	if _, err := New(cc); err != nil {
		return nil, err
	}
	return cc, nil
}

// GenesisBlock builds block 0 of a channel: a single CONFIG envelope whose
// data is a ConfigEnvelope carrying cc (which must have sequence 0 and be
// valid at time at, the block's timestamp). Block 0 is not signed by an
// orderer: it is the channel's trust anchor, handed to every node out of
// band.
func GenesisBlock(cc *pb.ChannelConfig, at time.Time) (*pb.Block, error) {
	if cc.GetSequence() != genesisSequence {
		return nil, invalidf("a genesis configuration has sequence 0, not %d", cc.GetSequence())
	}
	c, err := New(cc)
	if err != nil {
		return nil, err
	}
	if err := c.CheckAt(at); err != nil {
		return nil, err
	}
	env, err := NewConfigEnvelope(cc, nil, nil, at)
	if err != nil {
		return nil, err
	}
	data := &pb.BlockData{Envelopes: [][]byte{env}}
	return &pb.Block{
		Header: &pb.BlockHeader{
			Number:            0,
			DataHash:          protocol.BlockDataHash(data),
			TimestampUnixNano: at.UnixNano(),
		},
		Data:     data,
		Metadata: &pb.BlockMetadata{LastConfig: 0},
	}, nil
}

// NewConfigEnvelope builds the CONFIG envelope of a config block carrying
// cc. lastUpdate is the CONFIG_UPDATE envelope that produced cc (nil at
// genesis). signer, the orderer cutting the block, creates and signs the
// envelope; with a nil signer (genesis) the envelope has no creator and no
// signature.
func NewConfigEnvelope(cc *pb.ChannelConfig, lastUpdate []byte, signer identity.Signer, at time.Time) ([]byte, error) {
	nonce := make([]byte, protocol.NonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	var creator []byte
	if signer != nil {
		creator = protocol.SerializeIdentity(signer.MSPID(), signer.Certificate().Raw)
	}
	hdr := protocol.MustMarshal(&pb.Header{
		Type:              pb.HeaderType_CONFIG,
		ChannelId:         cc.ChannelId,
		TxId:              protocol.ComputeTxID(nonce, creator),
		TimestampUnixNano: at.UnixNano(),
		Creator:           creator,
		Nonce:             nonce,
	})
	data, err := protocol.Marshal(&pb.ConfigEnvelope{Config: cc, LastUpdate: lastUpdate})
	if err != nil {
		return nil, err
	}
	payload := protocol.MustMarshal(&pb.Payload{Header: hdr, Data: data})
	var sig []byte
	if signer != nil {
		if sig, err = signer.Sign(payload); err != nil {
			return nil, fmt.Errorf("sign config envelope: %w", err)
		}
	}
	return protocol.MustMarshal(&pb.Envelope{Payload: payload, Signature: sig}), nil
}

// ErrNotConfigBlock reports a block that does not hold exactly one CONFIG
// envelope.
var ErrNotConfigBlock = errors.New("not a config block")

// IsConfigBlock reports whether b holds a single CONFIG envelope. It only
// reads headers; FromBlock validates.
func IsConfigBlock(b *pb.Block) bool {
	envs := b.GetData().GetEnvelopes()
	if len(envs) != 1 {
		return false
	}
	_, _, hdr, err := protocol.OpenEnvelope(envs[0], 0)
	return err == nil && hdr.Type == pb.HeaderType_CONFIG
}

// FromBlock reads and validates the configuration a config block carries
// (block 0 or any later config block). It checks the block's data hash,
// that the block holds exactly one CONFIG envelope for the configuration's
// channel, and that its metadata names itself as the last config block.
// It does not check how the configuration was reached: see
// VerifyConfigBlock.
func FromBlock(b *pb.Block) (*Config, *pb.ConfigEnvelope, error) {
	if b.GetHeader() == nil || b.GetData() == nil {
		return nil, nil, fmt.Errorf("%w: block without header or data", ErrNotConfigBlock)
	}
	if !bytes.Equal(protocol.BlockDataHash(b.Data), b.Header.DataHash) {
		return nil, nil, fmt.Errorf("%w: block %d data hash does not match its data", ErrInvalid, b.Header.Number)
	}
	if len(b.Data.Envelopes) != 1 {
		return nil, nil, fmt.Errorf("%w: block %d holds %d envelopes", ErrNotConfigBlock, b.Header.Number, len(b.Data.Envelopes))
	}
	_, payload, hdr, err := protocol.OpenEnvelope(b.Data.Envelopes[0], 0)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: block %d: %w", ErrNotConfigBlock, b.Header.Number, err)
	}
	if hdr.Type != pb.HeaderType_CONFIG {
		return nil, nil, fmt.Errorf("%w: block %d holds a %s envelope", ErrNotConfigBlock, b.Header.Number, hdr.Type)
	}
	ce := new(pb.ConfigEnvelope)
	if err := protocol.Unmarshal(payload.Data, ce, 0); err != nil {
		return nil, nil, fmt.Errorf("%w: block %d: %w", ErrInvalid, b.Header.Number, err)
	}
	if ce.Config == nil {
		return nil, nil, fmt.Errorf("%w: block %d: config envelope without a configuration", ErrInvalid, b.Header.Number)
	}
	if hdr.ChannelId != ce.Config.ChannelId {
		return nil, nil, fmt.Errorf("%w: block %d: envelope channel %q differs from the configuration's %q", ErrInvalid, b.Header.Number, hdr.ChannelId, ce.Config.ChannelId)
	}
	if b.GetMetadata().GetLastConfig() != b.Header.Number {
		return nil, nil, fmt.Errorf("%w: config block %d names block %d as its last config", ErrInvalid, b.Header.Number, b.GetMetadata().GetLastConfig())
	}
	c, err := New(ce.Config)
	if err != nil {
		return nil, nil, fmt.Errorf("block %d: %w", b.Header.Number, err)
	}
	return c, ce, nil
}

// VerifyConfigBlock checks that config block b follows from prev, the
// configuration in force before it: its configuration has the next
// sequence and equals what its last update, applied to prev at the block's
// timestamp, produces (creator, admin signatures, read versions and all).
// It returns the new configuration.
func VerifyConfigBlock(prev *Config, b *pb.Block) (*Config, error) {
	c, ce, err := FromBlock(b)
	if err != nil {
		return nil, err
	}
	if c.ChannelID() != prev.ChannelID() {
		return nil, fmt.Errorf("%w: config block %d is for channel %s, not %s", ErrInvalid, b.Header.Number, c.ChannelID(), prev.ChannelID())
	}
	if c.Sequence() != prev.Sequence()+1 {
		return nil, fmt.Errorf("%w: config block %d has sequence %d, want %d", ErrInvalid, b.Header.Number, c.Sequence(), prev.Sequence()+1)
	}
	at := time.Unix(0, b.Header.TimestampUnixNano)
	want, err := prev.ApplyUpdateEnvelope(ce.LastUpdate, at)
	if err != nil {
		return nil, fmt.Errorf("config block %d: %w", b.Header.Number, err)
	}
	if !proto.Equal(want.cc, c.cc) {
		return nil, fmt.Errorf("%w: config block %d carries a configuration its update does not produce", ErrInvalid, b.Header.Number)
	}
	return c, nil
}
