package channelconfig

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/policy"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/txn"
)

// Bounds on a config update.
const (
	// MaxConfigSignatures bounds the admin signatures on one update.
	MaxConfigSignatures = 2 * identity.MaxMembers
	// MaxUpdateElements bounds the elements one update reads or changes.
	MaxUpdateElements = 4 * identity.MaxMembers
)

// ErrUpdateRefused is wrapped by every reason a config update is refused:
// a malformed update, a stale read version, missing or bad signatures, or a
// resulting configuration that is invalid.
var ErrUpdateRefused = errors.New("config update refused")

func refusedf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUpdateRefused, fmt.Sprintf(format, args...))
}

// ApplyUpdateEnvelope checks a whole CONFIG_UPDATE envelope as the ordering
// service receives it: the header (type, channel, transaction ID), the
// creator's identity (a valid identity of a member at time at) and its
// signature over the payload, then the update itself (see ApplyUpdate).
// It returns the configuration the update produces.
func (c *Config) ApplyUpdateEnvelope(envBytes []byte, at time.Time) (*Config, error) {
	env, payload, hdr, err := protocol.OpenEnvelope(envBytes, 0)
	if err != nil {
		return nil, refusedf("%v", err)
	}
	if hdr.Type != pb.HeaderType_CONFIG_UPDATE {
		return nil, refusedf("envelope type is %s, not CONFIG_UPDATE", hdr.Type)
	}
	if hdr.ChannelId != c.ChannelID() {
		return nil, refusedf("envelope is for channel %q, not %s", hdr.ChannelId, c.ChannelID())
	}
	if len(hdr.Nonce) != protocol.NonceSize || protocol.ComputeTxID(hdr.Nonce, hdr.Creator) != hdr.TxId {
		return nil, refusedf("transaction ID does not match nonce and creator")
	}
	creator, err := protocol.ParseSerializedIdentity(hdr.Creator)
	if err != nil {
		return nil, refusedf("creator: %v", err)
	}
	id, err := c.manager.Validate(creator.MspId, creator.CertDer, identity.AnyRole, at)
	if err != nil {
		return nil, refusedf("creator: %v", err)
	}
	if err := id.Verify(env.Payload, env.Signature); err != nil {
		return nil, refusedf("creator %s: envelope signature: %v", id, err)
	}
	upd := new(pb.ConfigUpdateEnvelope)
	if err := protocol.Unmarshal(payload.Data, upd, 0); err != nil {
		return nil, refusedf("%v", err)
	}
	return c.ApplyUpdate(upd, at)
}

// ApplyUpdate validates a config update against c and returns the
// configuration it produces (sequence + 1). Each changed element is
// checked against its mod policy (see ModPolicy): a member's own
// maintenance of its MSP (CRLs, intermediate CA certificates, peer
// endpoints) needs that member's Admins, every other change the channel
// Admins policy; an update mixing both needs all of them. The signatures
// are checked at time at (a block's timestamp when validating a config
// block). Every element the update changes must be listed in its read
// versions with the version it has now, and every listed version must
// still be current. At most one consenter may be added or removed by one
// update, and new or changed consenter certificates must be valid at at.
func (c *Config) ApplyUpdate(env *pb.ConfigUpdateEnvelope, at time.Time) (*Config, error) {
	if env == nil || len(env.ConfigUpdate) == 0 {
		return nil, refusedf("empty config update")
	}
	upd := new(pb.ConfigUpdate)
	if err := protocol.Unmarshal(env.ConfigUpdate, upd, 0); err != nil {
		return nil, refusedf("%v", err)
	}
	if upd.ChannelId != c.ChannelID() {
		return nil, refusedf("update is for channel %q, not %s", upd.ChannelId, c.ChannelID())
	}
	signers, err := c.configSigners(env, at)
	if err != nil {
		return nil, err
	}
	next, changed, err := c.apply(upd)
	if err != nil {
		return nil, err
	}
	if len(changed) == 0 {
		return nil, refusedf("the update changes nothing")
	}
	if err := c.checkModPolicies(next, changed, signers); err != nil {
		return nil, err
	}
	if err := checkReadVersions(c, upd.ReadVersions, changed); err != nil {
		return nil, err
	}
	nc, err := New(next)
	if err != nil {
		return nil, fmt.Errorf("%w: resulting configuration: %w", ErrUpdateRefused, err)
	}
	if err := checkConsenterChange(c, nc, at); err != nil {
		return nil, err
	}
	return nc, nil
}

// configSigners validates each signature of the update and returns the
// signers for policy evaluation. A signature that does not verify, or by an
// identity that is not valid at at, refuses the whole update.
func (c *Config) configSigners(env *pb.ConfigUpdateEnvelope, at time.Time) ([]policy.Signer, error) {
	if len(env.Signatures) > MaxConfigSignatures {
		return nil, refusedf("%d signatures (at most %d)", len(env.Signatures), MaxConfigSignatures)
	}
	signers := make([]policy.Signer, 0, len(env.Signatures))
	for i, s := range env.Signatures {
		si, err := protocol.ParseSerializedIdentity(s.GetSigner())
		if err != nil {
			return nil, refusedf("signature %d: signer: %v", i, err)
		}
		id, err := c.manager.Validate(si.MspId, si.CertDer, identity.AnyRole, at)
		if err != nil {
			return nil, refusedf("signature %d: signer: %v", i, err)
		}
		if err := id.Verify(protocol.ConfigSignatureSignedBytes(env.ConfigUpdate, s.Signer), s.Signature); err != nil {
			return nil, refusedf("signature %d by %s: %v", i, id, err)
		}
		signers = append(signers, policy.Signer{ID: id.ID(), MSPID: id.MSPID(), Role: string(id.Role())})
	}
	return signers, nil
}

// apply builds the next configuration message and lists the element keys
// the update changes.
func (c *Config) apply(upd *pb.ConfigUpdate) (*pb.ChannelConfig, []string, error) {
	if len(upd.SetMembers)+len(upd.RemoveMembers)+len(upd.SetPolicies)+len(upd.ReadVersions) > MaxUpdateElements {
		return nil, nil, refusedf("the update touches more than %d elements", MaxUpdateElements)
	}
	next := proto.CloneOf(c.cc)
	next.Sequence = c.cc.Sequence + 1
	if next.Members == nil {
		next.Members = map[string]*pb.MemberConfig{}
	}
	if next.Versions == nil {
		next.Versions = map[string]uint64{}
	}
	changed := map[string]bool{}
	for _, id := range slices.Sorted(maps.Keys(upd.SetMembers)) {
		m := upd.SetMembers[id]
		if m == nil || m.MspId != id {
			return nil, nil, refusedf("set_members[%q] must hold the MSP of %q", id, id)
		}
		next.Members[id] = proto.CloneOf(m)
		changed[MemberElement(id)] = true
	}
	for _, id := range upd.RemoveMembers {
		if _, ok := upd.SetMembers[id]; ok {
			return nil, nil, refusedf("member %q is both set and removed", id)
		}
		if _, ok := c.cc.Members[id]; !ok {
			return nil, nil, refusedf("cannot remove %q: not a member", id)
		}
		delete(next.Members, id)
		changed[MemberElement(id)] = true
	}
	if upd.Orderer != nil {
		next.Orderer = proto.CloneOf(upd.Orderer)
		changed[ElementOrderer] = true
	}
	for _, name := range slices.Sorted(maps.Keys(upd.SetPolicies)) {
		if err := checkPolicy(name, upd.SetPolicies[name]); err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrUpdateRefused, err)
		}
		next.Policies[name] = proto.CloneOf(upd.SetPolicies[name])
		changed[PolicyElement(name)] = true
	}
	if upd.Capability != 0 && upd.Capability != c.cc.Capability {
		if upd.Capability < c.cc.Capability {
			return nil, nil, refusedf("capability cannot go down from %d to %d", c.cc.Capability, upd.Capability)
		}
		next.Capability = upd.Capability
		changed[ElementCapability] = true
	}
	keys := slices.Sorted(maps.Keys(changed))
	for _, k := range keys {
		// A removed member keeps its version as a tombstone, so that an old
		// update adding it cannot be replayed.
		next.Versions[k] = next.Sequence
	}
	return next, keys, nil
}

func checkReadVersions(c *Config, read map[string]uint64, changed []string) error {
	for _, k := range changed {
		if _, ok := read[k]; !ok {
			return refusedf("element %s is changed but not in the update's read versions", k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(read)) {
		if err := checkElementKey(k); err != nil {
			return fmt.Errorf("%w: %w", ErrUpdateRefused, err)
		}
		if have := c.Version(k); read[k] != have {
			return refusedf("element %s was read at version %d but is now at version %d (the update is stale: rebuild it from the current config)", k, read[k], have)
		}
	}
	return nil
}

// checkConsenterChange allows at most one consenter to join or leave per
// update and checks new or changed consenter certificates at time at.
func checkConsenterChange(old, next *Config, at time.Time) error {
	added, removed := ConsenterChanges(old, next)
	if len(added)+len(removed) > 1 {
		return refusedf("the update adds %d and removes %d consenters; change one consenter per update", len(added), len(removed))
	}
	for _, cs := range next.consenters {
		prev, ok := old.Consenter(cs.Id)
		if ok && bytes.Equal(prev.CertDer, cs.CertDer) && prev.MspId == cs.MspId {
			continue
		}
		if _, err := next.manager.Check(identity.Request{
			MSPID: cs.MspId, Cert: cs.CertDer, Roles: identity.Roles(pki.RoleOrderer),
			Usage: identity.UsageTLSServer, At: at,
		}); err != nil {
			return refusedf("consenter %s: %v", cs.Id, err)
		}
	}
	return nil
}

// ConsenterChanges lists the consenter IDs in next but not in old (added)
// and in old but not in next (removed), sorted.
func ConsenterChanges(old, next *Config) (added, removed []string) {
	was := make(map[string]bool)
	for _, id := range old.ConsenterIDs() {
		was[id] = true
	}
	for _, id := range next.ConsenterIDs() {
		if !was[id] {
			added = append(added, id)
		}
		delete(was, id)
	}
	removed = slices.Sorted(maps.Keys(was))
	return added, removed
}

// NewUpdate returns an update of c's channel whose read versions are the
// current versions of the given elements: the starting point for an
// update that changes exactly those elements.
func (c *Config) NewUpdate(elements ...string) *pb.ConfigUpdate {
	read := make(map[string]uint64, len(elements))
	for _, e := range elements {
		read[e] = c.Version(e)
	}
	return &pb.ConfigUpdate{ChannelId: c.ChannelID(), ReadVersions: read}
}

// SignUpdate returns signer's approval of the marshalled update: its
// signature over protocol.ConfigSignatureSignedBytes(update, signer).
func SignUpdate(update []byte, signer identity.Signer) (*pb.ConfigSignature, error) {
	si := protocol.SerializeIdentity(signer.MSPID(), signer.Certificate().Raw)
	sig, err := signer.Sign(protocol.ConfigSignatureSignedBytes(update, si))
	if err != nil {
		return nil, fmt.Errorf("sign config update: %w", err)
	}
	return &pb.ConfigSignature{Signer: si, Signature: sig}, nil
}

// NewUpdateEnvelope wraps a marshalled update and its signatures into a
// CONFIG_UPDATE envelope for channelID, created and signed by creator.
func NewUpdateEnvelope(creator identity.Signer, channelID string, update []byte, sigs []*pb.ConfigSignature, now time.Time) ([]byte, string, error) {
	hdr, txID, err := txn.NewHeader(creator, pb.HeaderType_CONFIG_UPDATE, channelID, now)
	if err != nil {
		return nil, "", err
	}
	data := protocol.MustMarshal(&pb.ConfigUpdateEnvelope{ConfigUpdate: update, Signatures: sigs})
	env, err := txn.SignEnvelope(creator, hdr, data)
	if err != nil {
		return nil, "", err
	}
	return env, txID, nil
}
