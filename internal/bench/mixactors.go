package bench

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/blossom-ledger/blossom/chaincode/asset"
	"github.com/blossom-ledger/blossom/chaincode/authorization"
	"github.com/blossom-ledger/blossom/internal/txn"
	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
)

// The BloSS@M roles the mix's users hold.
const (
	roleAO   = blossompolicy.RoleAuthorizingOfficial
	roleACQ  = blossompolicy.RoleAcquisitionOfficer
	roleLO   = blossompolicy.RoleLicenseOwner
	roleTPOC = blossompolicy.RoleTechnicalPointOfContact
)

// MixRoles are the roles blossom-mix needs at the service provider and
// at every agency (Target.Roles).
var (
	MixAdminRoles  = []string{roleAO, roleACQ, roleLO}
	MixAgencyRoles = []string{roleAO, roleACQ, roleTPOC}
)

// mixStep is one transaction of an operation: who sends it, what it
// calls, which peers endorse it.
type mixStep struct {
	member    int
	role      string
	chaincode string
	function  string
	args      []string
	request   any // marshalled under the transient key "request" (asset)
	endorsers []string
	// fetch, if set, is an asset function evaluated (as the same user, on
	// the first endorser) just before the step, whose result is the
	// step's request verbatim; advance then gets that result.
	fetch        string
	fetchRequest any
}

func (st mixStep) txRequest() (txn.Request, error) {
	return callRequest(st.chaincode, st.function, st.args, st.request)
}

// fetchRequest is the evaluation of st.fetch.
func (st mixStep) fetchTxRequest() (txn.Request, error) {
	return callRequest(st.chaincode, st.fetch, nil, st.fetchRequest)
}

// callRequest is a call of function with positional args and request
// marshalled under the transient key "request" (a json.RawMessage as is).
func callRequest(chaincode, function string, args []string, request any) (txn.Request, error) {
	req := txn.Request{Chaincode: chaincode, Function: function}
	for _, a := range args {
		req.Args = append(req.Args, []byte(a))
	}
	if request != nil {
		b, err := json.Marshal(request)
		if err != nil {
			return req, fmt.Errorf("bench: %s request: %w", function, err)
		}
		req.Transient = map[string][]byte{asset.RequestKey: b}
	}
	return req, nil
}

// actor is the state an operation runs on; its methods are called with
// MixState.mu held. An actor runs one operation at a time (busy).
type actor interface {
	// next is op's next transaction.
	next(st *MixState, op string) mixStep
	// advance applies the step's committed result (for a step with
	// fetch, the fetched input); finished ends op.
	advance(st *MixState, op string, payload []byte) (finished bool, err error)
	// release ends the operation; lost stops the actor for good (its
	// chain state is no longer known).
	release(lost bool)
}

// MixState is blossom-mix's prepared state (PrepareMix): the asset whose
// licenses the lease actors lease, and the actors. Runs share it, so the
// steps of a --find-max search continue where the previous one left
// every actor.
type MixState struct {
	// AssetID is the asset PrepareMix added, one license per lease actor.
	AssetID string

	mix      Mix
	admin    int
	msps     []string // MSP ID by member
	peers    []string // own peer name by member
	majority [][]string
	agencies []int

	mu      sync.Mutex
	leases  []*leaseActor
	vote    voteActor
	cursor  int // round-robin over the lease actors
	queries int // round-robin over the agencies for queries
}

// claim picks and marks busy an actor for op, or returns why none is
// ready.
func (st *MixState) claim(op string) (actor, string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	switch op {
	case OpQuery:
		st.queries++
		return &queryActor{agency: st.agencies[st.queries%len(st.agencies)]}, ""
	case OpVote:
		if st.vote.busy || st.vote.lost {
			return nil, SkipVoteOngoing
		}
		st.vote.busy = true
		return &st.vote, ""
	}
	ready := func(a *leaseActor) bool {
		switch op {
		case OpCheckout:
			return !a.held
		case OpReturn:
			return a.held
		}
		return a.held && a.step == 0 // swid: not while a return is under way
	}
	busy := false
	for k := range st.leases {
		a := st.leases[(st.cursor+k)%len(st.leases)]
		if a.lost || !ready(a) {
			continue
		}
		if a.busy {
			busy = true
			continue
		}
		st.cursor = (st.cursor + k + 1) % len(st.leases)
		a.busy = true
		return a, ""
	}
	switch {
	case busy:
		return nil, SkipLeasesBusy
	case op == OpCheckout:
		return nil, SkipNoFreeLicense
	}
	return nil, SkipNoHeldLease
}

// lost counts the actors stopped after an unknown outcome.
func (st *MixState) lost() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	n := 0
	for _, a := range st.leases {
		if a.lost {
			n++
		}
	}
	if st.vote.lost {
		n++
	}
	return n
}

// leaseActor leases one license of the mix's asset for one agency, over
// and over: checkout (6 steps), SWID reports while held, return (3 steps).
// step is the next step of the chain under way (checkout while not held,
// return while held); a failed step is retried by the next operation of
// its kind.
type leaseActor struct {
	agency  int
	license string
	busy    bool
	lost    bool
	held    bool
	step    int
	orderID string
	lease   asset.LicensesRequest // as allocated: the return's input
	swids   int
}

func (a *leaseActor) release(lost bool) {
	a.busy = false
	a.lost = a.lost || lost
}

func (a *leaseActor) next(st *MixState, op string) mixStep {
	sp, ag := st.admin, a.agency
	both := []string{st.peers[sp], st.peers[ag]}
	call := func(member int, role, fn string, request any, endorsers []string) mixStep {
		return mixStep{member: member, role: role, chaincode: asset.ChaincodeName, function: fn, request: request, endorsers: endorsers}
	}
	msp := st.msps[ag]
	ref := map[string]string{"orderId": a.orderID, "account": msp}
	spOnly := []string{st.peers[sp]}
	switch op {
	case OpSWID:
		tag := fmt.Sprintf("bench-%s-%d", a.license, a.swids)
		return call(ag, roleTPOC, "swid:ReportSWID", map[string]string{"account": msp, "primaryTag": tag, "orderId": a.orderID,
			"licenseId": a.license, "xml": `<SoftwareIdentity xmlns="http://standards.iso.org/iso/19770/-2/2015/schema.xsd" tagId="` + tag + `" name="Bench Suite" version="1.0"/>`},
			[]string{st.peers[ag]})
	case OpReturn:
		switch a.step {
		case 0:
			return call(ag, roleTPOC, "order:InitiateReturn", a.lease, both)
		case 1:
			return call(sp, roleACQ, "order:DeallocateLicensesFromAccount", a.lease, both)
		}
		return call(sp, roleACQ, "order:DeallocateLicensesFromSP", ref, spOnly)
	}
	switch a.step {
	case 0:
		return call(ag, roleTPOC, "order:GetQuote", map[string]any{"account": msp, "assetId": st.AssetID, "amount": 1, "duration": 1}, spOnly)
	case 1:
		return call(sp, roleACQ, "order:SendQuote", map[string]any{"orderId": a.orderID, "account": msp, "price": 100}, spOnly)
	case 2:
		return call(ag, roleTPOC, "order:InitiateOrder", ref, both)
	case 3:
		return call(ag, roleACQ, "order:ApproveOrder", ref, both)
	case 4:
		return call(sp, roleACQ, "order:AllocateLicenses", map[string]any{"orderId": a.orderID, "account": msp, "licenses": []string{a.license}}, spOnly)
	}
	// AllocateLicenses returns only the order ID (the license IDs stay
	// off the public block): the pending allocation is read back first.
	send := call(sp, roleACQ, "order:SendLicenses", nil, both)
	send.fetch, send.fetchRequest = "order:GetAllocateRequestForOrder", map[string]string{"orderId": a.orderID}
	return send
}

// Steps of the lease chains.
const (
	checkoutSteps = 6
	returnSteps   = 3
)

func (a *leaseActor) advance(st *MixState, op string, payload []byte) (bool, error) {
	if op == OpSWID {
		a.swids++
		return true, nil
	}
	switch {
	case op == OpCheckout && a.step == 0:
		var id asset.IDResponse
		if err := json.Unmarshal(payload, &id); err != nil || id.ID == "" {
			return false, fmt.Errorf("bench: order:GetQuote answered %.100q", payload)
		}
		a.orderID = id.ID
	case op == OpCheckout && a.step == checkoutSteps-1:
		var lease asset.LicensesRequest
		if err := json.Unmarshal(payload, &lease); err != nil || len(lease.Licenses) != 1 || lease.Licenses[0] != a.license || lease.OrderID != a.orderID {
			return false, fmt.Errorf("bench: order:GetAllocateRequestForOrder answered %.200q", payload)
		}
		a.lease = lease
	}
	a.step++
	switch {
	case op == OpCheckout && a.step == checkoutSteps:
		a.held, a.step = true, 0
		return true, nil
	case op == OpReturn && a.step == returnSteps:
		a.held, a.step, a.orderID, a.lease = false, 0, "", asset.LicensesRequest{}
		return true, nil
	}
	return false, nil
}

// queryActor is one query: asset:GetAssets as an agency's Technical
// Point of Contact, endorsed by the service provider's peer (the assets
// are in its implicit collection).
type queryActor struct{ agency int }

func (q *queryActor) next(st *MixState, _ string) mixStep {
	return mixStep{member: q.agency, role: roleTPOC, chaincode: asset.ChaincodeName, function: "asset:GetAssets", endorsers: []string{st.peers[st.admin]}}
}

func (q *queryActor) advance(*MixState, string, []byte) (bool, error) { return true, nil }
func (q *queryActor) release(bool)                                    {}

// voteActor runs ballot rounds, one at a time (the chaincode allows one
// ongoing vote): the service provider's Authorizing Official proposes to
// make an agency (in turn) UNAUTHORIZED, every voter (the target first,
// then every other member) votes no, and the initiator certifies the
// failed vote. A failed vote changes no account, so the agencies' asset
// transactions, which read their account's status, are not invalidated
// by the round; what it writes are the vote records and the
// authorization policy.
type voteActor struct {
	busy, lost bool
	target     string // MSP ID of the ongoing vote's target ("": none)
	pending    []int  // voters still to vote
	round      int
}

func (v *voteActor) release(lost bool) {
	v.busy = false
	v.lost = v.lost || lost
}

func (v *voteActor) next(st *MixState, _ string) mixStep {
	call := func(member int, fn string, args ...string) mixStep {
		return mixStep{member: member, role: roleAO, chaincode: authorization.ChaincodeName, function: fn, args: args, endorsers: st.majority[member]}
	}
	switch {
	case v.target == "":
		target := st.msps[st.agencies[v.round%len(st.agencies)]]
		return call(st.admin, "vote:InitiateVote", target, string(blossompolicy.Unauthorized), "blossom bench: a suspension proposal the members reject")
	case len(v.pending) > 0:
		return call(v.pending[0], "vote:Vote", "false")
	}
	return call(st.admin, "vote:CertifyOngoingVote")
}

func (v *voteActor) advance(st *MixState, _ string, _ []byte) (bool, error) {
	switch {
	case v.target == "":
		v.target = st.msps[st.agencies[v.round%len(st.agencies)]]
		v.pending = votersOf(st, v.target)
	case len(v.pending) > 0:
		v.pending = v.pending[1:]
	default:
		v.target, v.round = "", v.round+1
		return true, nil
	}
	return false, nil
}

// votersOf lists the members who vote on target: the target first, then
// every other member (all are AUTHORIZED after PrepareMix).
func votersOf(st *MixState, target string) []int {
	var out []int
	for i, m := range st.msps {
		if m == target {
			out = append([]int{i}, out...)
		} else {
			out = append(out, i)
		}
	}
	return out
}
