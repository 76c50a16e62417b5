// Package policy evaluates blossom's endorsement and governance policies:
// signature policies (AND, OR, OutOf over member principals such as
// Agency1MSP.peer) and implicit meta policies (ANY, ALL or MAJORITY of the
// channel's current members), which are computed from the member list in
// force and never maintained by hand.
//
// Evaluation takes already validated signers: checking certificates and
// signatures is the identity layer's job; this package only decides whether
// a set of (member, role) signers satisfies a policy. Each distinct signer
// satisfies at most one principal of a policy, as in Hyperledger Fabric.
package policy

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// RoleMember matches a valid identity of the member in any role.
const RoleMember = "member"

// Signer is one validated signer of a request.
type Signer struct {
	ID    string // distinct per certificate (e.g. hash of the certificate); duplicates count once
	MSPID string
	Role  string // "admin", "client", "peer", "orderer", "gateway"
}

// ErrNotSatisfied is wrapped by every evaluation failure.
var ErrNotSatisfied = errors.New("policy not satisfied")

// subPolicyRoles maps an implicit meta policy's sub-policy to the role each
// member must sign in.
var subPolicyRoles = map[string]string{
	"Admins":      "admin",
	"Readers":     RoleMember,
	"Writers":     RoleMember,
	"Endorsement": "peer",
}

// SubPolicyRole returns the member-level role an implicit meta sub-policy
// stands for, or false if the name is unknown.
func SubPolicyRole(subPolicy string) (string, bool) {
	role, ok := subPolicyRoles[subPolicy]
	return role, ok
}

// Evaluate reports whether signers satisfy p given the channel's current
// members (their MSP IDs). A nil error means satisfied; otherwise the error
// wraps ErrNotSatisfied and says what was missing.
func Evaluate(p *pb.Policy, members []string, signers []Signer) error {
	if p == nil {
		return fmt.Errorf("%w: no policy", ErrNotSatisfied)
	}
	signers = dedupe(signers)
	switch k := p.Kind.(type) {
	case *pb.Policy_Signature:
		used := make([]bool, len(signers))
		if !evalSignature(k.Signature, signers, used, 0) {
			return fmt.Errorf("%w: %s", ErrNotSatisfied, Describe(p))
		}
		return nil
	case *pb.Policy_ImplicitMeta:
		return evalImplicitMeta(k.ImplicitMeta, members, signers)
	}
	return fmt.Errorf("%w: empty policy", ErrNotSatisfied)
}

// maxDepth bounds policy nesting so a hostile config cannot exhaust the stack.
const maxDepth = 16

func evalSignature(sp *pb.SignaturePolicy, signers []Signer, used []bool, depth int) bool {
	if sp == nil || depth > maxDepth {
		return false
	}
	switch k := sp.Kind.(type) {
	case *pb.SignaturePolicy_SignedBy:
		for i, s := range signers {
			if !used[i] && principalMatches(k.SignedBy, s) {
				used[i] = true
				return true
			}
		}
		return false
	case *pb.SignaturePolicy_NOutOf:
		if k.NOutOf.N == 0 {
			return true
		}
		satisfied := uint32(0)
		for _, rule := range k.NOutOf.Rules {
			trial := append([]bool(nil), used...)
			if evalSignature(rule, signers, trial, depth+1) {
				copy(used, trial)
				satisfied++
				if satisfied >= k.NOutOf.N {
					return true
				}
			}
		}
		return false
	}
	return false
}

func principalMatches(p *pb.Principal, s Signer) bool {
	if p == nil || p.MspId != s.MSPID {
		return false
	}
	return p.Role == RoleMember || p.Role == s.Role
}

func evalImplicitMeta(m *pb.ImplicitMetaPolicy, members []string, signers []Signer) error {
	role, ok := subPolicyRoles[m.SubPolicy]
	if !ok {
		return fmt.Errorf("%w: unknown sub-policy %q", ErrNotSatisfied, m.SubPolicy)
	}
	need, err := Threshold(m.Rule, len(members))
	if err != nil {
		return err
	}
	got := 0
	var missing []string
	for _, msp := range members {
		found := false
		for _, s := range signers {
			if s.MSPID == msp && (role == RoleMember || s.Role == role) {
				found = true
				break
			}
		}
		if found {
			got++
		} else {
			missing = append(missing, msp)
		}
	}
	if got >= need {
		return nil
	}
	sort.Strings(missing)
	return fmt.Errorf("%w: %s %s needs %d of %d members, got %d (missing %s)",
		ErrNotSatisfied, m.Rule, m.SubPolicy, need, len(members), got, strings.Join(missing, ", "))
}

// Threshold is how many of n members an implicit meta rule requires:
// ANY 1, ALL n, MAJORITY n/2+1. With no members nothing is satisfiable.
func Threshold(rule pb.ImplicitMetaPolicy_Rule, n int) (int, error) {
	if n == 0 {
		return 0, fmt.Errorf("%w: the channel has no members", ErrNotSatisfied)
	}
	switch rule {
	case pb.ImplicitMetaPolicy_ANY:
		return 1, nil
	case pb.ImplicitMetaPolicy_ALL:
		return n, nil
	case pb.ImplicitMetaPolicy_MAJORITY:
		return n/2 + 1, nil
	}
	return 0, fmt.Errorf("%w: unknown rule %v", ErrNotSatisfied, rule)
}

func dedupe(signers []Signer) []Signer {
	seen := make(map[string]bool, len(signers))
	out := make([]Signer, 0, len(signers))
	for _, s := range signers {
		key := s.ID
		if key == "" {
			key = s.MSPID + "\x00" + s.Role
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, s)
	}
	return out
}

// SignedBy returns a policy satisfied by one signer of msp in role.
func SignedBy(msp, role string) *pb.SignaturePolicy {
	return &pb.SignaturePolicy{Kind: &pb.SignaturePolicy_SignedBy{SignedBy: &pb.Principal{MspId: msp, Role: role}}}
}

// OutOf returns a policy satisfied when n of rules are.
func OutOf(n int, rules ...*pb.SignaturePolicy) *pb.SignaturePolicy {
	return &pb.SignaturePolicy{Kind: &pb.SignaturePolicy_NOutOf{NOutOf: &pb.NOutOf{N: uint32(n), Rules: rules}}}
}

// And is satisfied when every rule is.
func And(rules ...*pb.SignaturePolicy) *pb.SignaturePolicy { return OutOf(len(rules), rules...) }

// Or is satisfied when any rule is.
func Or(rules ...*pb.SignaturePolicy) *pb.SignaturePolicy { return OutOf(1, rules...) }

// Signature wraps a signature policy as a Policy.
func Signature(sp *pb.SignaturePolicy) *pb.Policy {
	return &pb.Policy{Kind: &pb.Policy_Signature{Signature: sp}}
}

// ImplicitMeta returns an implicit meta policy.
func ImplicitMeta(rule pb.ImplicitMetaPolicy_Rule, subPolicy string) *pb.Policy {
	return &pb.Policy{Kind: &pb.Policy_ImplicitMeta{ImplicitMeta: &pb.ImplicitMetaPolicy{Rule: rule, SubPolicy: subPolicy}}}
}

// Describe renders p in the syntax Parse accepts.
func Describe(p *pb.Policy) string {
	switch k := p.GetKind().(type) {
	case *pb.Policy_Signature:
		return describeSignature(k.Signature)
	case *pb.Policy_ImplicitMeta:
		return k.ImplicitMeta.Rule.String() + " " + k.ImplicitMeta.SubPolicy
	}
	return "<empty>"
}

func describeSignature(sp *pb.SignaturePolicy) string {
	switch k := sp.GetKind().(type) {
	case *pb.SignaturePolicy_SignedBy:
		return "'" + k.SignedBy.MspId + "." + k.SignedBy.Role + "'"
	case *pb.SignaturePolicy_NOutOf:
		parts := make([]string, len(k.NOutOf.Rules))
		for i, r := range k.NOutOf.Rules {
			parts[i] = describeSignature(r)
		}
		switch {
		case int(k.NOutOf.N) == len(parts) && len(parts) > 0:
			return "AND(" + strings.Join(parts, ", ") + ")"
		case k.NOutOf.N == 1:
			return "OR(" + strings.Join(parts, ", ") + ")"
		}
		return fmt.Sprintf("OutOf(%d, %s)", k.NOutOf.N, strings.Join(parts, ", "))
	}
	return "<empty>"
}
