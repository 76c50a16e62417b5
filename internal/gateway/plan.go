package gateway

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/blossom-ledger/blossom/internal/lifecycle"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/policy"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/txn"
)

// Endorsement planning (DESIGN §6, §11): a submit is endorsed by the
// smallest set of members whose peers satisfy the chaincode's endorsement
// policy, the gateway's own member first. The policy is, in order:
// Config.Policies[chaincode] when configured (an operator's override), else
// the policy of the chaincode's definition committed on the channel (read
// from the member's own peer through _lifecycle and reused for
// definitionPolicyTTL), else MAJORITY Endorsement (chaincodes without a
// committed definition, such as the system chaincodes).

// definitionPolicyTTL is how long a committed definition's policy is reused
// before it is read again. A submit planned from a policy an upgrade just
// replaced fails validation (ENDORSEMENT_POLICY_FAILURE) and can be retried.
const definitionPolicyTTL = 2 * time.Second

// maxPlannedMembers bounds the members whose subsets the planner searches;
// beyond it a definition's policy is planned with every member.
const maxPlannedMembers = 12

// parsedPolicy is a configured endorsement policy.
type parsedPolicy struct {
	majority bool
	member   string // "<MSPID>.peer"
}

func parsePolicy(s string) (parsedPolicy, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "MAJORITY Endorsement" {
		return parsedPolicy{majority: true}, nil
	}
	if m, ok := strings.CutSuffix(s, ".peer"); ok && m != "" && !strings.ContainsAny(m, " ,()'") {
		return parsedPolicy{member: m}, nil
	}
	return parsedPolicy{}, fmt.Errorf("unsupported policy %q (want \"MAJORITY Endorsement\" or \"<MSPID>.peer\")", s)
}

// definitionPolicies caches committed definitions' endorsement policies by
// (channel, chaincode). The zero value is ready; lookup, if set (tests),
// replaces the read through _lifecycle.
type definitionPolicies struct {
	mu      sync.Mutex
	entries map[[2]string]cachedPolicy
	lookup  func(ctx context.Context, channel, chaincode string) (*pb.Policy, error)
}

type cachedPolicy struct {
	policy *pb.Policy // nil: no committed definition
	at     time.Time
}

// definitionPolicy returns the endorsement policy of chaincode's committed
// definition on channel, or nil if it has none or it cannot be read now.
func (g *Gateway) definitionPolicy(ctx context.Context, channel, chaincode string) *pb.Policy {
	c := &g.policies
	key := [2]string{channel, chaincode}
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && time.Since(e.at) < definitionPolicyTTL {
		return e.policy
	}
	lookup := c.lookup
	if lookup == nil {
		lookup = g.queryDefinitionPolicy
	}
	p, err := lookup(ctx, channel, chaincode)
	if err != nil {
		// Not committed (a static or system chaincode), or the peer did
		// not answer: plan with the default and look again next time.
		g.log.Debug("gateway: no committed definition to plan from", "channel", channel, "chaincode", chaincode, "error", err)
		return nil
	}
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[[2]string]cachedPolicy{}
	}
	c.entries[key] = cachedPolicy{policy: p, at: time.Now()}
	c.mu.Unlock()
	return p
}

// queryDefinitionPolicy reads chaincode's committed definition on the
// member's own peer and parses its endorsement policy.
func (g *Gateway) queryDefinitionPolicy(ctx context.Context, channel, chaincode string) (*pb.Policy, error) {
	raw, err := g.cfg.Client.Evaluate(ctx, txn.Request{ChannelID: channel, Chaincode: lifecycle.Name,
		Function: "lifecycle:QueryDefinition", Args: [][]byte{[]byte(chaincode)}})
	if err != nil {
		return nil, err
	}
	d, err := lifecycle.DecodeDefinition(raw)
	if err != nil {
		return nil, err
	}
	return policy.Parse(d.EndorsementPolicy)
}

// plan returns the endorsing peers for chaincode on channel: the members
// named by override, else those the chaincode's policy needs (see above).
// The first peer is where the first simulation goes (the own peer when the
// own member is named).
func (g *Gateway) plan(ctx context.Context, channel, chaincode string, override []string) ([]string, *apiError) {
	var members []string
	switch {
	case len(override) > 0:
		seen := map[string]bool{}
		for _, m := range override {
			if len(g.cfg.Members[m]) == 0 {
				return nil, badRequest("endorsingMembers names %q, which has no known peer", m)
			}
			if !seen[m] {
				seen[m] = true
				members = append(members, m)
			}
		}
		sort.SliceStable(members, func(i, j int) bool { return members[i] == g.cfg.MSPID && members[j] != g.cfg.MSPID })
	case g.cfg.Policies[chaincode] != "":
		pol, _ := parsePolicy(g.cfg.Policies[chaincode]) // checked by New
		if pol.member == "" {
			members = g.majority()
			break
		}
		if len(g.cfg.Members[pol.member]) == 0 {
			return nil, &apiError{http.StatusBadGateway, "NO_ENDORSER", "no peer of the member the policy names is known"}
		}
		members = []string{pol.member}
	default:
		p := g.definitionPolicy(ctx, channel, chaincode)
		if p == nil {
			members = g.majority()
			break
		}
		var ok bool
		if members, ok = g.satisfying(p); !ok {
			return nil, &apiError{http.StatusBadGateway, "NO_ENDORSER",
				"no set of the members this gateway knows satisfies the chaincode's endorsement policy"}
		}
	}
	peers := make([]string, 0, len(members))
	for _, m := range members {
		peers = append(peers, g.cfg.Members[m][0])
	}
	return peers, nil
}

// orderedMembers lists the known members, the own member first, then the
// others sorted.
func (g *Gateway) orderedMembers() []string {
	out := []string{g.cfg.MSPID}
	others := make([]string, 0, len(g.cfg.Members))
	for m := range g.cfg.Members {
		if m != g.cfg.MSPID {
			others = append(others, m)
		}
	}
	sort.Strings(others)
	return append(out, others...)
}

// majority returns the own member and enough others for a MAJORITY.
func (g *Gateway) majority() []string {
	return g.orderedMembers()[:len(g.cfg.Members)/2+1]
}

// satisfying returns the smallest set of known members whose peers'
// endorsements satisfy p, preferring sets with the own member and then the
// others in sorted order; false if even all of them do not.
func (g *Gateway) satisfying(p *pb.Policy) ([]string, bool) {
	ordered := g.orderedMembers()
	channelMembers := slices.Sorted(func(yield func(string) bool) {
		for m := range g.cfg.Members {
			if !yield(m) {
				return
			}
		}
	})
	satisfies := func(set []string) bool {
		signers := make([]policy.Signer, len(set))
		for i, m := range set {
			signers[i] = policy.Signer{ID: m, MSPID: m, Role: string(pki.RolePeer)}
		}
		return policy.Evaluate(p, channelMembers, signers) == nil
	}
	if len(ordered) > maxPlannedMembers {
		return ordered, satisfies(ordered)
	}
	// Subsets by size, each size in lexicographic order of positions in
	// ordered, so the own member (position 0) comes first.
	idx := make([]int, 0, len(ordered))
	var found []string
	var choose func(start, k int) bool
	choose = func(start, k int) bool {
		if k == 0 {
			set := make([]string, len(idx))
			for i, j := range idx {
				set[i] = ordered[j]
			}
			if satisfies(set) {
				found = set
				return true
			}
			return false
		}
		for j := start; j <= len(ordered)-k; j++ {
			idx = append(idx, j)
			if choose(j+1, k-1) {
				return true
			}
			idx = idx[:len(idx)-1]
		}
		return false
	}
	for k := 1; k <= len(ordered); k++ {
		if choose(0, k) {
			return found, true
		}
	}
	return nil, false
}
