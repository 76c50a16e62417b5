package channelconfig

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/blossom-ledger/blossom/internal/policy"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// MemberAdminsSuffix ends the name of a member-level mod policy,
// "<MSP ID>.Admins": satisfied by a valid signature of at least one admin
// of that member (DESIGN §5, §11 "Ordering"). One admin suffices so that a
// member can revoke a compromised identity without waiting for a second
// person; a member wanting two-person control keeps it off-ledger.
const MemberAdminsSuffix = ".Admins"

// MemberAdminsPolicy is the name of member mspID's mod policy.
func MemberAdminsPolicy(mspID string) string { return mspID + MemberAdminsSuffix }

// ModPolicy returns the name of the policy that governs the change of one
// element from old (c) to next: MemberAdminsPolicy(M) when the element is
// member M's MSP, M is a member before and after, and only its CRLs,
// intermediate CA certificates or peer endpoints change (its MSP ID and
// root certificates, in order, are kept); PolicyAdmins (the channel
// Admins policy, MAJORITY of member admins by default) for everything
// else: adding or removing a member, changing its roots, the orderer
// section (consenters, batch size and timeout, Raft options), any policy
// and the capability.
func ModPolicy(c, next *Config, element string) string {
	mspID, ok := strings.CutPrefix(element, elementMemberPrefix)
	if !ok {
		return PolicyAdmins
	}
	before, okBefore := c.cc.Members[mspID]
	after, okAfter := next.cc.Members[mspID]
	if !okBefore || !okAfter || !selfMaintenance(before, after) {
		return PolicyAdmins
	}
	return MemberAdminsPolicy(mspID)
}

// selfMaintenance reports whether after differs from before only in the
// fields a member maintains alone. It compares everything else with
// proto.Equal, so a field added to MemberConfig later is governed by the
// channel Admins policy until it is listed here.
func selfMaintenance(before, after *pb.MemberConfig) bool {
	masked := proto.CloneOf(after)
	masked.Crls = before.Crls
	masked.IntermediateCerts = before.IntermediateCerts
	masked.PeerEndpoints = before.PeerEndpoints
	return proto.Equal(before, masked)
}

// checkModPolicies checks signers against the mod policy of every changed
// element, reporting all unsatisfied policies in one error that wraps
// ErrUpdateRefused and policy.ErrNotSatisfied.
func (c *Config) checkModPolicies(nextCC *pb.ChannelConfig, changed []string, signers []policy.Signer) error {
	next := &Config{cc: nextCC}
	needed := map[string]bool{}
	var order []string
	for _, k := range changed {
		name := ModPolicy(c, next, k)
		if !needed[name] {
			needed[name] = true
			order = append(order, name)
		}
	}
	var failures []string
	var first error
	for _, name := range order {
		var err error
		if mspID, ok := strings.CutSuffix(name, MemberAdminsSuffix); ok && name != PolicyAdmins {
			p := policy.Signature(policy.SignedBy(mspID, "admin"))
			if err = policy.Evaluate(p, c.memberIDs, signers); err != nil {
				err = fmt.Errorf("member policy %s (one admin of %s): %w", name, mspID, err)
			}
		} else {
			err = c.EvaluatePolicy(name, signers)
		}
		if err != nil {
			if first == nil {
				first = err
			}
			failures = append(failures, err.Error())
		}
	}
	if first == nil {
		return nil
	}
	if len(failures) == 1 {
		return fmt.Errorf("%w: %w", ErrUpdateRefused, first)
	}
	return fmt.Errorf("%w: %w (and: %s)", ErrUpdateRefused, first, strings.Join(failures[1:], "; "))
}
