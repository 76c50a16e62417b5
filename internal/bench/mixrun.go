package bench

import (
	"context"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/blossom-ledger/blossom/chaincode/asset"
	"github.com/blossom-ledger/blossom/chaincode/authorization"
	"github.com/blossom-ledger/blossom/internal/txn"
	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
)

// MaxLeases bounds PrepareMix's lease actors (licenses of one asset).
const MaxLeases = 10_000

// runMix applies blossom-mix: for each scheduled slot an operation is
// drawn by weight and started on an actor whose precondition holds, or
// counted as skipped by cause; its steps run in sequence, each sent once
// the previous one committed on every peer. It returns once every started
// operation ended (chains may run past the schedule, up to the drain).
func (s *session) runMix(ctx context.Context, opts Options, start time.Time, seed uint64) *MixResult {
	st := opts.MixState
	res := newMixResult(st)
	var mu sync.Mutex // guards res
	rng := rand.New(rand.NewPCG(seed, 0x6d6978))
	sem := make(chan struct{}, opts.MaxInFlight)
	cctx, cancel := context.WithDeadline(ctx, start.Add(opts.Duration+opts.Drain))
	defer cancel()
	var wg sync.WaitGroup
	pace(ctx, start, opts, func(_ int, at time.Time) {
		op := st.mix.pick(rng)
		stats := res.Ops[op]
		a, skip := st.claim(op)
		mu.Lock()
		stats.Scheduled++
		if skip != "" {
			stats.Skipped[skip]++
			mu.Unlock()
			return
		}
		mu.Unlock()
		select {
		case sem <- struct{}{}:
		default:
			s.tracker.fail(at, st.admin, FailOverload)
			st.mu.Lock()
			a.release(false)
			st.mu.Unlock()
			mu.Lock()
			stats.Started++
			stats.Failed[FailOverload]++
			mu.Unlock()
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := s.runOp(cctx, st, op, a, at)
			mu.Lock()
			o.addTo(stats)
			mu.Unlock()
			<-sem
		}()
	})
	wg.Wait()
	res.LostActors = st.lost()
	return res
}

// opOutcome is what one operation did.
type opOutcome struct {
	failure         string // "" if completed
	txs, valid      int
	signs, verifies int
	latencyMs       float64
}

func (o opOutcome) addTo(st *OpStats) {
	st.Started++
	st.Transactions += o.txs
	st.ValidTransactions += o.valid
	if o.failure != "" {
		st.Failed[o.failure]++
		return
	}
	st.Completed++
	st.latencies = append(st.latencies, o.latencyMs)
	st.signs += o.signs
	st.verifies += o.verifies
}

// Failures of a mix step that are not transaction outcomes.
const (
	FailBadResult = "BAD_RESULT"      // a step's result was not what the next step needs
	FailEvaluate  = "EVALUATE_FAILED" // the evaluation a step needs first failed
)

// runOp runs op's steps on actor a from its current step until the
// operation finishes or a step fails, and releases a.
func (s *session) runOp(ctx context.Context, st *MixState, op string, a actor, at time.Time) (o opOutcome) {
	lost := false
	defer func() {
		st.mu.Lock()
		a.release(lost)
		st.mu.Unlock()
	}()
	stepAt := at
	for {
		st.mu.Lock()
		step := a.next(st, op)
		st.mu.Unlock()
		c := s.roles[step.member][step.role]
		var fetched []byte
		if step.fetch != "" {
			freq, err := step.fetchTxRequest()
			if err == nil {
				s.evaluations.Add(1)
				o.signs, o.verifies = o.signs+1, o.verifies+1
				fetched, err = c.Evaluate(ctx, freq, step.endorsers[0])
			}
			if err != nil {
				o.failure = FailEvaluate
				return o
			}
			step.request = json.RawMessage(fetched)
		}
		req, err := step.txRequest()
		if err != nil {
			o.failure, lost = FailBadResult, true
			return o
		}
		rec, payload := s.submit(ctx, stepAt, step.member, c, s.target.Roles[step.member][step.role].Signer, req, step.endorsers)
		if step.fetch != "" {
			payload = fetched
		}
		o.txs++
		cause := FailEndorse
		if rec != nil {
			cause = s.tracker.outcome(ctx, rec)
		}
		if cause != "" {
			o.failure = cause
			// The outcome of a refused or unordered step is known (nothing
			// changed) and the step is retried; otherwise the actor's chain
			// state is unknown and it stops.
			lost = cause == FailBroadcast || cause == FailNoCommit || cause == FailChaincode
			return o
		}
		o.valid++
		sg, vf := TxCost(len(step.endorsers), len(s.peers))
		o.signs, o.verifies = o.signs+sg, o.verifies+vf
		st.mu.Lock()
		finished, err := a.advance(st, op, payload)
		st.mu.Unlock()
		if err != nil {
			o.failure, lost = FailBadResult, true
			return o
		}
		if finished {
			o.latencyMs = float64(s.tracker.lastCommit(rec).Sub(at)) / 1e6
			return o
		}
		stepAt = time.Now()
	}
}

// PrepareMix readies a network for blossom-mix and returns the state runs
// share: it bootstraps the authorization chaincode if needed, onboards
// every agency that is not AUTHORIZED (MOU, SignMOU, a vote every member
// wins, certification), finishes a vote left ongoing (every missing voter
// votes no, then certification), as the service provider's License Owner
// adds an asset of leases licenses, one per lease actor (leases are spread
// over the agencies in turn), and checks out the licenses of the first
// held actors (their chains concurrently), so that the load starts with
// leases to return and to report on, as a pool in use would. Every
// transaction waits for its commit on every peer.
func PrepareMix(ctx context.Context, target Target, w Workload, leases, held int) (*MixState, error) {
	mix, err := ParseMix(w.Mix)
	switch {
	case w.Kind != KindMix:
		return nil, fmt.Errorf("bench: workload %s is not blossom-mix", w.Name)
	case err != nil:
		return nil, err
	case len(target.Members) < 2:
		return nil, errors.New("bench: blossom-mix needs the service provider and at least one agency (2 members)")
	case target.Admin < 0 || target.Admin >= len(target.Members):
		return nil, fmt.Errorf("bench: admin member %d out of range", target.Admin)
	case leases < 1 || leases > MaxLeases:
		return nil, fmt.Errorf("bench: leases must be 1 to %d", MaxLeases)
	case held < 0 || held > leases:
		return nil, fmt.Errorf("bench: held leases must be 0 to %d", leases)
	case len(target.Roles) != len(target.Members):
		return nil, errors.New("bench: blossom-mix needs role users at every member")
	}
	for i := range target.Members {
		need := MixAgencyRoles
		if i == target.Admin {
			need = MixAdminRoles
		}
		for _, r := range need {
			if _, ok := target.Roles[i][r]; !ok {
				return nil, fmt.Errorf("bench: member %s has no user of role %q", target.Members[i].Signer.MSPID(), r)
			}
		}
	}
	s, err := newSession(ctx, target)
	if err != nil {
		return nil, err
	}
	defer s.close()
	st := &MixState{mix: mix, admin: target.Admin}
	for i, cfg := range target.Members {
		st.msps = append(st.msps, cfg.Signer.MSPID())
		st.peers = append(st.peers, cfg.Peers[0].Name)
		st.majority = append(st.majority, s.majority(i))
		if i != target.Admin {
			st.agencies = append(st.agencies, i)
		}
	}
	p := &preparer{ctx: ctx, s: s, st: st}
	if err := p.onboard(); err != nil {
		return nil, fmt.Errorf("bench: preparing blossom-mix: %w", err)
	}
	if err := p.addAsset(leases); err != nil {
		return nil, fmt.Errorf("bench: preparing blossom-mix: %w", err)
	}
	for k := range leases {
		st.leases = append(st.leases, &leaseActor{agency: st.agencies[k%len(st.agencies)], license: "mix-" + strconv.Itoa(k)})
	}
	errs := make([]error, held)
	var wg sync.WaitGroup
	for k := range held {
		wg.Go(func() { errs[k] = p.checkout(st.leases[k]) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("bench: preparing blossom-mix: %w", err)
	}
	return st, nil
}

// checkout runs a's checkout chain, each step once the previous one
// committed on every peer.
func (p *preparer) checkout(a *leaseActor) error {
	for {
		p.st.mu.Lock()
		step := a.next(p.st, OpCheckout)
		p.st.mu.Unlock()
		var out []byte
		var err error
		if step.fetch != "" {
			if out, err = p.fetch(step); err != nil {
				return err
			}
			step.request = json.RawMessage(out)
			_, err = p.submit(step)
		} else {
			out, err = p.submit(step)
		}
		if err != nil {
			return err
		}
		p.st.mu.Lock()
		finished, err := a.advance(p.st, OpCheckout, out)
		p.st.mu.Unlock()
		if err != nil || finished {
			return err
		}
	}
}

// fetch evaluates step's fetch as its caller on its first endorser.
func (p *preparer) fetch(step mixStep) ([]byte, error) {
	req, err := step.fetchTxRequest()
	if err != nil {
		return nil, err
	}
	out, err := p.s.roles[step.member][step.role].Evaluate(p.ctx, req, step.endorsers[0])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", step.fetch, err)
	}
	return out, nil
}

// preparer runs PrepareMix's transactions one at a time.
type preparer struct {
	ctx context.Context
	s   *session
	st  *MixState
}

// submit runs one step and waits until every peer committed its block.
func (p *preparer) submit(step mixStep) ([]byte, error) {
	req, err := step.txRequest()
	if err != nil {
		return nil, err
	}
	c := p.s.roles[step.member][step.role]
	res, err := c.Submit(p.ctx, req, step.endorsers)
	if err != nil {
		return nil, fmt.Errorf("%s as %s %s: %w", step.function, p.st.msps[step.member], step.role, err)
	}
	for i, c := range p.s.clients {
		if err := waitHeight(p.ctx, c, p.s.peers[i], res.Block+1); err != nil {
			return nil, err
		}
	}
	return res.Result, nil
}

// query evaluates an authorization function as the admin's AO.
func (p *preparer) query(fn string, out any) error {
	c := p.s.roles[p.st.admin][roleAO]
	raw, err := c.Evaluate(p.ctx, txn.Request{Chaincode: authorization.ChaincodeName, Function: fn})
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, out)
}

func (p *preparer) auth(member int, fn string, args ...string) mixStep {
	return mixStep{member: member, role: roleAO, chaincode: authorization.ChaincodeName, function: fn, args: args, endorsers: p.st.majority[member]}
}

// benchMOU is the MOU PrepareMix publishes when the network has none.
const benchMOU = "blossom bench MOU: members pool and share software licenses under the service provider's terms."

func (p *preparer) onboard() error {
	st := p.st
	var accounts []authorization.Account
	if err := p.query("account:GetAccounts", &accounts); err != nil {
		return fmt.Errorf("account:GetAccounts: %w", err)
	}
	status := map[string]blossompolicy.Status{}
	for _, a := range accounts {
		status[a.ID] = a.Status
	}
	if _, ok := status[st.msps[st.admin]]; !ok {
		if _, err := p.submit(p.auth(st.admin, "bootstrap:Bootstrap")); err != nil {
			return err
		}
		status[st.msps[st.admin]] = blossompolicy.Authorized
	}
	var ongoing authorization.Vote
	if err := p.query("vote:GetOngoingVote", &ongoing); err == nil && ongoing.TargetAccountID != "" {
		if err := p.finishVote(ongoing, "false"); err != nil {
			return err
		}
	}
	for _, ag := range st.agencies {
		msp := st.msps[ag]
		if status[msp] == blossompolicy.Authorized {
			continue
		}
		if _, ok := status[msp]; !ok {
			version, err := p.mouVersion()
			if err != nil {
				return err
			}
			if _, err := p.submit(p.auth(ag, "mou:SignMOU", strconv.Itoa(version))); err != nil {
				return err
			}
		}
		if _, err := p.submit(p.auth(st.admin, "vote:InitiateVote", msp, string(blossompolicy.Authorized), "blossom bench: onboarding")); err != nil {
			return err
		}
		var v authorization.Vote
		if err := p.query("vote:GetOngoingVote", &v); err != nil {
			return fmt.Errorf("vote:GetOngoingVote: %w", err)
		}
		if err := p.finishVote(v, "true"); err != nil {
			return err
		}
		status[msp] = blossompolicy.Authorized
	}
	return nil
}

// mouVersion returns the MOU's version, publishing benchMOU if there is
// none.
func (p *preparer) mouVersion() (int, error) {
	var mou struct {
		Version int `json:"version"`
	}
	if err := p.query("mou:GetMOU", &mou); err == nil && mou.Version > 0 {
		return mou.Version, nil
	}
	if _, err := p.submit(p.auth(p.st.admin, "mou:UpdateMOU", benchMOU)); err != nil {
		return 0, err
	}
	if err := p.query("mou:GetMOU", &mou); err != nil || mou.Version == 0 {
		return 0, fmt.Errorf("mou:GetMOU after publishing: version %d (%v)", mou.Version, err)
	}
	return mou.Version, nil
}

// finishVote has every voter of v who has not voted vote ballot, then
// certifies v as the service provider's AO.
func (p *preparer) finishVote(v authorization.Vote, ballot string) error {
	for _, voter := range v.Voters {
		if _, voted := v.SubmittedVotes[voter]; voted {
			continue
		}
		m := p.memberOf(voter)
		if m < 0 {
			return fmt.Errorf("vote on %s: voter %s is not a member of the target", v.TargetAccountID, voter)
		}
		if _, err := p.submit(p.auth(m, "vote:Vote", ballot)); err != nil {
			return err
		}
	}
	_, err := p.submit(p.auth(p.st.admin, "vote:CertifyOngoingVote"))
	return err
}

func (p *preparer) memberOf(msp string) int {
	for i, m := range p.st.msps {
		if m == msp {
			return i
		}
	}
	return -1
}

// addAsset adds the mix's asset: licenses mix-0 .. mix-(n-1), random salts.
func (p *preparer) addAsset(n int) error {
	licenses := make([]map[string]string, n)
	for k := range licenses {
		licenses[k] = map[string]string{"id": "mix-" + strconv.Itoa(k), "salt": crand.Text()}
	}
	req := map[string]any{"name": "blossom bench mix " + time.Now().UTC().Format(time.RFC3339), "endDate": "2099-12-31 23:59:59", "licenses": licenses}
	out, err := p.submit(mixStep{member: p.st.admin, role: roleLO, chaincode: asset.ChaincodeName, function: "asset:AddAsset", request: req,
		endorsers: []string{p.st.peers[p.st.admin]}})
	if err != nil {
		return err
	}
	var id asset.IDResponse
	if err := json.Unmarshal(out, &id); err != nil || id.ID == "" {
		return fmt.Errorf("asset:AddAsset answered %.100q", out)
	}
	p.st.AssetID = id.ID
	return nil
}
