// Package channelconfig is the Go view of a channel's configuration
// (pb.ChannelConfig): its members and their MSPs, the ordering service's
// consenters, batch and Raft settings, the channel policies and the
// capability level. It fills the documented defaults, validates a
// configuration as a whole, builds the genesis block from a consortium
// description, reads the configuration back from a config block, and
// validates config updates and computes the configuration they produce.
//
// A Config is immutable and safe for concurrent use; a new configuration
// means a new Config (and a new identity.Manager, so CRLs and removed
// members take effect with the config block that carries them).
package channelconfig

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/policy"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// Defaults applied to fields a configuration leaves at zero.
const (
	DefaultMaxMessageCount   = 500
	DefaultAbsoluteMaxBytes  = 2 << 20
	DefaultPreferredMaxBytes = 2 << 20
	DefaultBatchTimeout      = 100 * time.Millisecond

	// The LAN Raft profile: orderers on one site or a low-latency network.
	DefaultHeartbeatTimeout       = 100 * time.Millisecond
	DefaultElectionTimeout        = 300 * time.Millisecond
	DefaultLeaderLeaseTimeout     = 100 * time.Millisecond
	DefaultCommitTimeout          = 10 * time.Millisecond
	DefaultSnapshotIntervalBlocks = 1000
	DefaultTrailingLogs           = 1000
)

// Bounds a configuration must respect. A configuration arrives from other
// members in config blocks, so everything is bounded.
const (
	MaxMessageCount      = 100_000
	MaxAbsoluteMaxBytes  = 32 << 20 // a block must stay under protocol.MaxMessageBytes
	MinAbsoluteMaxBytes  = 64 << 10
	MaxBatchTimeout      = time.Minute
	MaxConsenters        = 32
	MaxPeerEndpoints     = 64
	MaxPolicies          = 64
	MaxPolicyNameLength  = 64
	MaxEndpointLength    = 256
	MaxChannelIDLength   = 64
	MaxRaftTimeout       = time.Minute
	MaxSnapshotInterval  = 1 << 30
	MaxTrailingLogs      = 1 << 30
	MaxVersionKeys       = 4 * identity.MaxMembers
	MaxSignaturePolicyOp = 1000
)

// Capability levels. A node refuses a channel whose level it does not
// support (SupportedCapability) with a clear error.
const (
	CapabilityV1        = 1
	SupportedCapability = CapabilityV1
)

// Channel policy names.
const (
	PolicyAdmins               = "Admins"
	PolicyReaders              = "Readers"
	PolicyWriters              = "Writers"
	PolicyEndorsement          = "Endorsement"
	PolicyLifecycleEndorsement = "LifecycleEndorsement"
)

// RequiredPolicies must be present in every configuration.
var RequiredPolicies = []string{PolicyAdmins, PolicyReaders, PolicyWriters, PolicyEndorsement, PolicyLifecycleEndorsement}

// Element keys of ChannelConfig.versions and ConfigUpdate.read_versions.
const (
	ElementOrderer       = "orderer"
	ElementCapability    = "capability"
	elementMemberPrefix  = "member/"
	elementPolicyPrefix  = "policy/"
	genesisSequence      = 0
	maxRaftTimeoutMillis = uint32(MaxRaftTimeout / time.Millisecond)
)

// MemberElement is the version key of member mspID.
func MemberElement(mspID string) string { return elementMemberPrefix + mspID }

// PolicyElement is the version key of policy name.
func PolicyElement(name string) string { return elementPolicyPrefix + name }

// ErrInvalid is wrapped by every error that says a configuration (or an
// update) is malformed or inconsistent.
var ErrInvalid = errors.New("invalid channel configuration")

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// DefaultPolicies returns the channel policies of a new channel: Admins =
// MAJORITY Admins, Readers = ANY Readers, Writers = ANY Writers,
// Endorsement = MAJORITY Endorsement, LifecycleEndorsement = MAJORITY
// Endorsement.
func DefaultPolicies() map[string]*pb.Policy {
	return map[string]*pb.Policy{
		PolicyAdmins:               policy.ImplicitMeta(pb.ImplicitMetaPolicy_MAJORITY, "Admins"),
		PolicyReaders:              policy.ImplicitMeta(pb.ImplicitMetaPolicy_ANY, "Readers"),
		PolicyWriters:              policy.ImplicitMeta(pb.ImplicitMetaPolicy_ANY, "Writers"),
		PolicyEndorsement:          policy.ImplicitMeta(pb.ImplicitMetaPolicy_MAJORITY, "Endorsement"),
		PolicyLifecycleEndorsement: policy.ImplicitMeta(pb.ImplicitMetaPolicy_MAJORITY, "Endorsement"),
	}
}

// BatchSize bounds a block, with defaults filled in.
type BatchSize struct {
	MaxMessageCount   int
	AbsoluteMaxBytes  int // also the largest envelope accepted
	PreferredMaxBytes int
}

// RaftOptions is the consensus timing, with defaults filled in.
type RaftOptions struct {
	HeartbeatTimeout       time.Duration
	ElectionTimeout        time.Duration
	LeaderLeaseTimeout     time.Duration
	CommitTimeout          time.Duration
	SnapshotIntervalBlocks uint64
	TrailingLogs           uint64
}

// Config is a validated, immutable channel configuration.
type Config struct {
	cc         *pb.ChannelConfig // private; never handed out without cloning
	manager    *identity.Manager
	memberIDs  []string
	consenters []*pb.Consenter
	batch      BatchSize
	timeout    time.Duration
	raft       RaftOptions
}

// New validates cc and returns its view. It checks structure and
// consistency that do not depend on time: names, bounds, member MSPs
// (certificates parse and CRLs are signed by the member's CAs), consenters
// (unique IDs and addresses, certificate CN = ID, subject O = a member's MSP
// ID, role orderer, issued by that member's CAs), batch and Raft settings,
// policies and version keys. Time-dependent checks (certificate validity)
// are done when an update is accepted (see ApplyUpdate and CheckAt).
// New keeps its own copy of cc.
func New(cc *pb.ChannelConfig) (*Config, error) {
	if cc == nil {
		return nil, invalidf("no configuration")
	}
	cc = proto.CloneOf(cc)
	if err := ValidateChannelID(cc.ChannelId); err != nil {
		return nil, err
	}
	if cc.Capability == 0 {
		return nil, invalidf("capability level is 0")
	}
	if cc.Capability > SupportedCapability {
		return nil, fmt.Errorf("%w: channel %s requires capability %d; this node supports up to %d", ErrUnsupportedCapability, cc.ChannelId, cc.Capability, SupportedCapability)
	}
	c := &Config{cc: cc}
	var err error
	if c.manager, c.memberIDs, err = buildManager(cc.Members); err != nil {
		return nil, err
	}
	if err := c.checkOrderer(); err != nil {
		return nil, err
	}
	if err := checkPolicies(cc.Policies); err != nil {
		return nil, err
	}
	if err := checkVersions(cc); err != nil {
		return nil, err
	}
	return c, nil
}

// ErrUnsupportedCapability reports a configuration whose capability level
// this node does not implement; the node must stop serving the channel.
var ErrUnsupportedCapability = errors.New("unsupported channel capability")

// ValidateChannelID checks a channel ID: 1 to 64 characters, lowercase
// letters, digits, '.', '_' and '-', starting with a letter or digit. The
// ID names directories and travels in stream preambles, so it is strict.
func ValidateChannelID(id string) error {
	if id == "" || len(id) > MaxChannelIDLength {
		return invalidf("channel ID must be 1 to %d characters", MaxChannelIDLength)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && (c == '.' || c == '_' || c == '-'))
		if !ok {
			return invalidf("channel ID %q: want lowercase letters, digits, '.', '_' or '-', starting with a letter or digit", id)
		}
	}
	return nil
}

// TrustManager returns an identity manager that accepts the members of
// every configuration given (a node serving several channels trusts the
// union of their members' CAs and applies all their CRLs). It does not
// modify the configurations.
func TrustManager(configs []*pb.ChannelConfig) (*identity.Manager, error) {
	merged := map[string]*pb.MemberConfig{}
	for _, cc := range configs {
		for id, m := range cc.GetMembers() {
			have := merged[id]
			if have == nil {
				have = &pb.MemberConfig{MspId: m.MspId}
				merged[id] = have
			}
			have.RootCerts = appendUnique(have.RootCerts, m.RootCerts)
			have.IntermediateCerts = appendUnique(have.IntermediateCerts, m.IntermediateCerts)
			have.Crls = appendUnique(have.Crls, m.Crls)
		}
	}
	cfgs, err := MSPConfigs(merged)
	if err != nil {
		return nil, err
	}
	return identity.NewManager(cfgs)
}

// appendUnique appends to dst the elements of src it does not hold yet.
func appendUnique(dst, src [][]byte) [][]byte {
	for _, b := range src {
		if !slices.ContainsFunc(dst, func(d []byte) bool { return bytes.Equal(d, b) }) {
			dst = append(dst, b)
		}
	}
	return dst
}

// MSPConfigs converts the members of a configuration into identity MSP
// configurations, checking each (certificates parse, intermediates and CRLs
// issued by the member's CAs).
func MSPConfigs(members map[string]*pb.MemberConfig) ([]identity.MSPConfig, error) {
	if len(members) == 0 {
		return nil, invalidf("no members")
	}
	if len(members) > identity.MaxMembers {
		return nil, invalidf("%d members (at most %d)", len(members), identity.MaxMembers)
	}
	ids := slices.Sorted(maps.Keys(members))
	out := make([]identity.MSPConfig, 0, len(ids))
	for _, id := range ids {
		m := members[id]
		if m == nil {
			return nil, invalidf("member %q has no configuration", id)
		}
		if m.MspId != id {
			return nil, invalidf("member key %q holds the MSP of %q", id, m.MspId)
		}
		if len(m.PeerEndpoints) > MaxPeerEndpoints {
			return nil, invalidf("member %s: %d peer endpoints (at most %d)", id, len(m.PeerEndpoints), MaxPeerEndpoints)
		}
		for _, ep := range m.PeerEndpoints {
			if err := checkEndpoint(ep); err != nil {
				return nil, invalidf("member %s: peer endpoint: %v", id, err)
			}
		}
		cfg, err := identity.ParseMSPConfigDER(id, m.RootCerts, m.IntermediateCerts, m.Crls)
		if err != nil {
			return nil, fmt.Errorf("%w: member %s: %w", ErrInvalid, id, err)
		}
		out = append(out, cfg)
	}
	return out, nil
}

func buildManager(members map[string]*pb.MemberConfig) (*identity.Manager, []string, error) {
	cfgs, err := MSPConfigs(members)
	if err != nil {
		return nil, nil, err
	}
	mgr, err := identity.NewManager(cfgs)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return mgr, mgr.MSPIDs(), nil
}

func checkEndpoint(ep string) error {
	if ep == "" || len(ep) > MaxEndpointLength {
		return fmt.Errorf("endpoint must be 1 to %d characters", MaxEndpointLength)
	}
	i := strings.LastIndexByte(ep, ':')
	if i <= 0 || i == len(ep)-1 {
		return fmt.Errorf("endpoint %q is not host:port", ep)
	}
	for _, c := range ep {
		if c <= ' ' || c == 0x7f || c == '/' {
			return fmt.Errorf("endpoint %q has a space, control character or slash", ep)
		}
	}
	return nil
}

// checkOrderer validates the orderer section and fills the defaults.
func (c *Config) checkOrderer() error {
	o := c.cc.Orderer
	if o == nil {
		return invalidf("no orderer section")
	}
	if len(o.Consenters) == 0 {
		return invalidf("no consenters")
	}
	if len(o.Consenters) > MaxConsenters {
		return invalidf("%d consenters (at most %d)", len(o.Consenters), MaxConsenters)
	}
	ids := make(map[string]bool, len(o.Consenters))
	addrs := make(map[string]bool, len(o.Consenters))
	for i, cs := range o.Consenters {
		if cs == nil {
			return invalidf("consenter %d is empty", i)
		}
		if err := pki.ValidateEnrollmentID(cs.Id); err != nil {
			return invalidf("consenter %d: %v", i, err)
		}
		if ids[cs.Id] {
			return invalidf("consenter %s appears twice", cs.Id)
		}
		ids[cs.Id] = true
		if err := checkEndpoint(cs.Address); err != nil {
			return invalidf("consenter %s: address: %v", cs.Id, err)
		}
		if addrs[cs.Address] {
			return invalidf("consenter %s: address %s is used by another consenter", cs.Id, cs.Address)
		}
		addrs[cs.Address] = true
		if err := checkConsenterCert(c.manager, cs); err != nil {
			return err
		}
		c.consenters = append(c.consenters, cs)
	}
	bs := o.BatchSize
	c.batch = BatchSize{
		MaxMessageCount:   int(orU32(bs.GetMaxMessageCount(), DefaultMaxMessageCount)),
		AbsoluteMaxBytes:  int(orU32(bs.GetAbsoluteMaxBytes(), DefaultAbsoluteMaxBytes)),
		PreferredMaxBytes: int(orU32(bs.GetPreferredMaxBytes(), DefaultPreferredMaxBytes)),
	}
	switch {
	case c.batch.MaxMessageCount > MaxMessageCount:
		return invalidf("batch max message count %d (at most %d)", c.batch.MaxMessageCount, MaxMessageCount)
	case c.batch.AbsoluteMaxBytes > MaxAbsoluteMaxBytes || c.batch.AbsoluteMaxBytes < MinAbsoluteMaxBytes:
		return invalidf("batch absolute max bytes %d (want %d to %d)", c.batch.AbsoluteMaxBytes, MinAbsoluteMaxBytes, MaxAbsoluteMaxBytes)
	case c.batch.PreferredMaxBytes > c.batch.AbsoluteMaxBytes:
		return invalidf("batch preferred max bytes %d exceeds absolute max bytes %d", c.batch.PreferredMaxBytes, c.batch.AbsoluteMaxBytes)
	}
	c.timeout = time.Duration(orU32(o.BatchTimeoutMs, uint32(DefaultBatchTimeout/time.Millisecond))) * time.Millisecond
	if c.timeout > MaxBatchTimeout {
		return invalidf("batch timeout %s (at most %s)", c.timeout, MaxBatchTimeout)
	}
	r := o.Raft
	ms := func(v uint32, def time.Duration) time.Duration {
		return time.Duration(orU32(v, uint32(def/time.Millisecond))) * time.Millisecond
	}
	c.raft = RaftOptions{
		HeartbeatTimeout:       ms(r.GetHeartbeatTimeoutMs(), DefaultHeartbeatTimeout),
		ElectionTimeout:        ms(r.GetElectionTimeoutMs(), DefaultElectionTimeout),
		LeaderLeaseTimeout:     ms(r.GetLeaderLeaseTimeoutMs(), DefaultLeaderLeaseTimeout),
		CommitTimeout:          ms(r.GetCommitTimeoutMs(), DefaultCommitTimeout),
		SnapshotIntervalBlocks: uint64(orU32(r.GetSnapshotIntervalBlocks(), DefaultSnapshotIntervalBlocks)),
		TrailingLogs:           uint64(orU32(r.GetTrailingLogs(), DefaultTrailingLogs)),
	}
	for _, v := range []uint32{r.GetHeartbeatTimeoutMs(), r.GetElectionTimeoutMs(), r.GetLeaderLeaseTimeoutMs(), r.GetCommitTimeoutMs()} {
		if v > maxRaftTimeoutMillis {
			return invalidf("raft timeout %d ms (at most %s)", v, MaxRaftTimeout)
		}
	}
	// hashicorp/raft's own rules (raft.ValidateConfig), checked here so that
	// a bad update is refused instead of stopping the orderers.
	switch {
	case c.raft.HeartbeatTimeout < 5*time.Millisecond:
		return invalidf("raft heartbeat timeout %s (at least 5ms)", c.raft.HeartbeatTimeout)
	case c.raft.ElectionTimeout < c.raft.HeartbeatTimeout:
		return invalidf("raft election timeout %s is shorter than the heartbeat timeout %s", c.raft.ElectionTimeout, c.raft.HeartbeatTimeout)
	case c.raft.LeaderLeaseTimeout < 5*time.Millisecond || c.raft.LeaderLeaseTimeout > c.raft.HeartbeatTimeout:
		return invalidf("raft leader lease timeout %s must be 5ms to the heartbeat timeout %s", c.raft.LeaderLeaseTimeout, c.raft.HeartbeatTimeout)
	case c.raft.CommitTimeout < time.Millisecond:
		return invalidf("raft commit timeout %s (at least 1ms)", c.raft.CommitTimeout)
	case c.raft.SnapshotIntervalBlocks > MaxSnapshotInterval || c.raft.TrailingLogs > MaxTrailingLogs:
		return invalidf("raft snapshot interval %d or trailing logs %d over %d", c.raft.SnapshotIntervalBlocks, c.raft.TrailingLogs, MaxSnapshotInterval)
	}
	return nil
}

// checkConsenterCert checks what does not depend on time: the certificate
// parses, names the consenter (CN = ID), its member (O = msp_id, a channel
// member) and the orderer role (OU), and its chain is one of the member's
// (checked at the certificate's own issuance time).
func checkConsenterCert(mgr *identity.Manager, cs *pb.Consenter) error {
	if len(cs.CertDer) == 0 || len(cs.CertDer) > identity.MaxCertificateSize {
		return invalidf("consenter %s: certificate empty or larger than %d bytes", cs.Id, identity.MaxCertificateSize)
	}
	cert, err := x509.ParseCertificate(cs.CertDer)
	if err != nil {
		return invalidf("consenter %s: certificate does not parse: %v", cs.Id, err)
	}
	if cert.Subject.CommonName != cs.Id {
		return invalidf("consenter %s: certificate CN is %q; the consenter ID must equal the certificate's enrollment ID", cs.Id, cert.Subject.CommonName)
	}
	if !mgr.HasMember(cs.MspId) {
		return invalidf("consenter %s: MSP %q is not a channel member", cs.Id, cs.MspId)
	}
	// At NotBefore+1s the certificate itself is valid; its CAs were valid
	// when they issued it.
	if _, err := mgr.Check(identity.Request{
		MSPID: cs.MspId, Cert: cs.CertDer, Roles: identity.Roles(pki.RoleOrderer),
		Usage: identity.UsageTLSServer, At: cert.NotBefore.Add(time.Second),
	}); err != nil {
		return invalidf("consenter %s: %v", cs.Id, err)
	}
	return nil
}

func checkPolicies(ps map[string]*pb.Policy) error {
	if len(ps) > MaxPolicies {
		return invalidf("%d policies (at most %d)", len(ps), MaxPolicies)
	}
	for _, name := range RequiredPolicies {
		if ps[name] == nil {
			return invalidf("policy %s is missing", name)
		}
	}
	for name, p := range ps {
		if err := checkPolicy(name, p); err != nil {
			return err
		}
	}
	return nil
}

func checkPolicy(name string, p *pb.Policy) error {
	if name == "" || len(name) > MaxPolicyNameLength || strings.ContainsAny(name, "/ \t\n") {
		return invalidf("policy name %q: 1 to %d characters, no slash or space", name, MaxPolicyNameLength)
	}
	switch k := p.GetKind().(type) {
	case *pb.Policy_ImplicitMeta:
		if _, ok := policy.SubPolicyRole(k.ImplicitMeta.SubPolicy); !ok {
			return invalidf("policy %s: unknown sub-policy %q", name, k.ImplicitMeta.SubPolicy)
		}
		if _, ok := pb.ImplicitMetaPolicy_Rule_name[int32(k.ImplicitMeta.Rule)]; !ok {
			return invalidf("policy %s: unknown rule %d", name, k.ImplicitMeta.Rule)
		}
		return nil
	case *pb.Policy_Signature:
		ops := 0
		if err := checkSignaturePolicy(k.Signature, 0, &ops); err != nil {
			return invalidf("policy %s: %v", name, err)
		}
		return nil
	}
	return invalidf("policy %s is empty", name)
}

func checkSignaturePolicy(sp *pb.SignaturePolicy, depth int, ops *int) error {
	*ops++
	if *ops > MaxSignaturePolicyOp {
		return fmt.Errorf("more than %d rules", MaxSignaturePolicyOp)
	}
	if depth > 16 {
		return errors.New("nested deeper than 16")
	}
	switch k := sp.GetKind().(type) {
	case *pb.SignaturePolicy_SignedBy:
		if err := pki.ValidateMSPID(k.SignedBy.GetMspId()); err != nil {
			return err
		}
		if k.SignedBy.GetRole() != policy.RoleMember {
			if _, err := pki.ParseRole(k.SignedBy.GetRole()); err != nil {
				return err
			}
		}
		return nil
	case *pb.SignaturePolicy_NOutOf:
		if int(k.NOutOf.GetN()) > len(k.NOutOf.GetRules()) {
			return fmt.Errorf("OutOf(%d) has only %d rules", k.NOutOf.GetN(), len(k.NOutOf.GetRules()))
		}
		for _, r := range k.NOutOf.GetRules() {
			if err := checkSignaturePolicy(r, depth+1, ops); err != nil {
				return err
			}
		}
		return nil
	}
	return errors.New("empty signature policy")
}

func checkVersions(cc *pb.ChannelConfig) error {
	if len(cc.Versions) > MaxVersionKeys {
		return invalidf("%d version keys (at most %d)", len(cc.Versions), MaxVersionKeys)
	}
	for k, v := range cc.Versions {
		if err := checkElementKey(k); err != nil {
			return err
		}
		if v > cc.Sequence {
			return invalidf("element %s has version %d, after the config sequence %d", k, v, cc.Sequence)
		}
	}
	return nil
}

func checkElementKey(k string) error {
	switch {
	case k == ElementOrderer || k == ElementCapability:
		return nil
	case strings.HasPrefix(k, elementMemberPrefix):
		if err := pki.ValidateMSPID(k[len(elementMemberPrefix):]); err != nil {
			return invalidf("element %q: %v", k, err)
		}
		return nil
	case strings.HasPrefix(k, elementPolicyPrefix):
		name := k[len(elementPolicyPrefix):]
		if name == "" || len(name) > MaxPolicyNameLength || strings.ContainsAny(name, "/ \t\n") {
			return invalidf("element %q: bad policy name", k)
		}
		return nil
	}
	return invalidf("unknown element key %q (want orderer, capability, member/<MSPID> or policy/<name>)", k)
}

func orU32(v, def uint32) uint32 {
	if v == 0 {
		return def
	}
	return v
}

// ChannelID returns the channel's ID.
func (c *Config) ChannelID() string { return c.cc.ChannelId }

// Sequence returns the config sequence (0 at genesis, +1 per config block).
func (c *Config) Sequence() uint64 { return c.cc.Sequence }

// Capability returns the channel's capability level.
func (c *Config) Capability() uint32 { return c.cc.Capability }

// Proto returns a copy of the underlying configuration message.
func (c *Config) Proto() *pb.ChannelConfig { return proto.CloneOf(c.cc) }

// Manager returns the identity manager over the channel's members.
func (c *Config) Manager() *identity.Manager { return c.manager }

// MemberIDs returns the members' MSP IDs, sorted.
func (c *Config) MemberIDs() []string { return slices.Clone(c.memberIDs) }

// Member returns a copy of member mspID's configuration.
func (c *Config) Member(mspID string) (*pb.MemberConfig, bool) {
	m, ok := c.cc.Members[mspID]
	if !ok {
		return nil, false
	}
	return proto.CloneOf(m), true
}

// PeerEndpoints returns every member's peer endpoints, by MSP ID.
func (c *Config) PeerEndpoints() map[string][]string {
	out := make(map[string][]string, len(c.cc.Members))
	for id, m := range c.cc.Members {
		out[id] = slices.Clone(m.PeerEndpoints)
	}
	return out
}

// Consenters returns copies of the consenters, in configuration order.
func (c *Config) Consenters() []*pb.Consenter {
	out := make([]*pb.Consenter, len(c.consenters))
	for i, cs := range c.consenters {
		out[i] = proto.CloneOf(cs)
	}
	return out
}

// Consenter returns a copy of the consenter with Raft server ID id.
func (c *Config) Consenter(id string) (*pb.Consenter, bool) {
	for _, cs := range c.consenters {
		if cs.Id == id {
			return proto.CloneOf(cs), true
		}
	}
	return nil, false
}

// ConsenterIDs returns the consenters' IDs, sorted.
func (c *Config) ConsenterIDs() []string {
	ids := make([]string, len(c.consenters))
	for i, cs := range c.consenters {
		ids[i] = cs.Id
	}
	sort.Strings(ids)
	return ids
}

// BatchSize returns the block size bounds.
func (c *Config) BatchSize() BatchSize { return c.batch }

// BatchTimeout is how long the leader waits before cutting a non-full block.
func (c *Config) BatchTimeout() time.Duration { return c.timeout }

// Raft returns the consensus timing.
func (c *Config) Raft() RaftOptions { return c.raft }

// Policy returns a copy of the channel policy name.
func (c *Config) Policy(name string) (*pb.Policy, bool) {
	p, ok := c.cc.Policies[name]
	if !ok {
		return nil, false
	}
	return proto.CloneOf(p), true
}

// EvaluatePolicy reports whether signers satisfy the channel policy name
// under the current members. The error wraps policy.ErrNotSatisfied.
func (c *Config) EvaluatePolicy(name string, signers []policy.Signer) error {
	p, ok := c.cc.Policies[name]
	if !ok {
		return fmt.Errorf("%w: channel %s has no policy %s", policy.ErrNotSatisfied, c.cc.ChannelId, name)
	}
	if err := policy.Evaluate(p, c.memberIDs, signers); err != nil {
		return fmt.Errorf("channel policy %s: %w", name, err)
	}
	return nil
}

// Version returns the version (config sequence of the last change) of an
// element key; elements never changed have version 0.
func (c *Config) Version(element string) uint64 { return c.cc.Versions[element] }

// CheckAt checks what depends on time: every consenter's certificate is a
// valid orderer identity of its member at time at.
func (c *Config) CheckAt(at time.Time) error {
	for _, cs := range c.consenters {
		if _, err := c.manager.Check(identity.Request{
			MSPID: cs.MspId, Cert: cs.CertDer, Roles: identity.Roles(pki.RoleOrderer),
			Usage: identity.UsageTLSServer, At: at,
		}); err != nil {
			return invalidf("consenter %s: %v", cs.Id, err)
		}
	}
	return nil
}
