package authorization

import (
	"errors"
	"fmt"
	"slices"

	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// ongoingVote returns the ongoing vote, or nil when none is ongoing.
func ongoingVote(stub contract.Stub) (*Vote, error) {
	target, err := stub.GetState(ongoingVoteKey)
	if err != nil || target == nil {
		return nil, err
	}
	m := string(target)
	if blossompolicy.ValidateMemberID(m) != nil {
		return nil, fmt.Errorf("stored record %q is corrupt: bad member id", ongoingVoteKey)
	}
	data, err := stub.GetState(voteKey(m))
	if err != nil {
		return nil, err
	}
	if data == nil {
		return nil, fmt.Errorf("stored record %q names %s, which has no vote", ongoingVoteKey, m)
	}
	v, err := decodeVote(voteKey(m), data)
	if err != nil {
		return nil, err
	}
	if v.TargetAccountID != m || v.Result != Ongoing {
		return nil, fmt.Errorf("stored record %s is corrupt: not the ongoing vote on %s", contract.QuoteKey(voteKey(m)), m)
	}
	return v, nil
}

// initiateVote is vote:InitiateVote(targetAccountId, statusChange[,
// reason]) (transition V1): an AUTHORIZED member's Authorizing Official
// proposes a status for another member. The voters are the target, then
// every member AUTHORIZED now; votes on the admin member need a
// super-majority.
func initiateVote(stub contract.Stub, args [][]byte) ([]byte, error) {
	if len(args) != 2 && len(args) != 3 {
		return nil, fmt.Errorf("%w: want 2 or 3 (targetAccountId, statusChange, reason), got %d", contract.ErrArgs, len(args))
	}
	target, err := parseAccountID("targetAccountId", string(args[0]))
	if err != nil {
		return nil, err
	}
	var reason string
	if len(args) == 3 {
		reason = string(args[2])
	}
	if err := checkText("reason", reason, MaxReasonSize); err != nil {
		return nil, err
	}
	ongoing, err := stub.GetState(ongoingVoteKey)
	if err != nil {
		return nil, err
	}
	if ongoing != nil {
		return nil, fmt.Errorf("there is an ongoing vote on account %s", ongoing)
	}
	if acc, err := getAccount(stub, target); err != nil {
		return nil, err
	} else if acc == nil {
		return nil, fmt.Errorf("an account with id %s does not exist", target)
	}
	pol, err := loadPolicy(stub)
	if err != nil {
		return nil, err
	}
	c, err := getCreator(stub)
	if err != nil {
		return nil, err
	}
	if err := authorize(pol, c, blossompolicy.RightInitiateVote, blossompolicy.AccountTarget(target), "cid is not authorized to initiate a vote on "+target); err != nil {
		return nil, err
	}
	status, err := parseStatus(string(args[1]))
	if err != nil {
		return nil, err
	}
	accounts, err := listAccounts(stub)
	if err != nil {
		return nil, err
	}
	voters := []string{target}
	for _, a := range accounts {
		if a.Status == blossompolicy.Authorized && a.ID != target {
			voters = append(voters, a.ID)
		}
	}
	admin := pol.AdminMSP()
	if len(voters) == 1 && target != admin {
		return nil, fmt.Errorf("only votes on the ADMINMSP %s are allowed when there are no authorized members", admin)
	}
	v := &Vote{
		ID:                  stub.GetTxID(),
		InitiatingAccountID: c.MSPID,
		TargetAccountID:     target,
		StatusChange:        status,
		Reason:              reason,
		Threshold:           Majority,
		Voters:              voters,
		SubmittedVotes:      map[string]bool{},
		Result:              Ongoing,
	}
	if target == admin {
		v.Threshold = SuperMajority
	}
	if err := pol.InitiateVote(c.MSPID, target); err != nil {
		return nil, err
	}
	if err := savePolicy(stub, pol); err != nil {
		return nil, err
	}
	if err := stub.PutState(ongoingVoteKey, []byte(target)); err != nil {
		return nil, err
	}
	return nil, putVote(stub, EventInitiateVote, v)
}

// putVote stores v under "vote:<target>" and makes it the event's payload.
func putVote(stub contract.Stub, event string, v *Vote) error {
	b, err := encode("vote", v)
	if err != nil {
		return err
	}
	if err := stub.PutState(voteKey(v.TargetAccountID), b); err != nil {
		return err
	}
	return stub.SetEvent(event, b)
}

// vote is vote:Vote(value) (transition V2): a voter's ballot, true for
// yes; a later ballot replaces the voter's earlier one.
func vote(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 1); err != nil {
		return nil, err
	}
	value, err := parseBallot(string(args[0]))
	if err != nil {
		return nil, err
	}
	v, err := ongoingVote(stub)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, errNoOngoingVote
	}
	pol, err := loadPolicy(stub)
	if err != nil {
		return nil, err
	}
	c, err := getCreator(stub)
	if err != nil {
		return nil, err
	}
	target := v.TargetAccountID
	if err := authorize(pol, c, blossompolicy.RightVote, blossompolicy.VoteTarget(target), "cid is not authorized to vote on "+target); err != nil {
		return nil, err
	}
	if !slices.Contains(v.Voters, c.MSPID) {
		return nil, fmt.Errorf("%s is not a voter in the ongoing vote", c.MSPID)
	}
	v.SubmittedVotes[c.MSPID] = value
	return nil, putVote(stub, EventVote, v)
}

// certifyOngoingVote is vote:CertifyOngoingVote (transitions V3 to V5,
// A4, A5): ends a decided vote; if it passed, the target's status becomes
// the vote's statusChange. Returns true if the vote passed. Checks follow
// ongoing vote, decidability, authorization, then effects.
func certifyOngoingVote(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 0); err != nil {
		return nil, err
	}
	v, err := ongoingVote(stub)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, errNoOngoingVote
	}
	result := v.count()
	if result == undecided {
		return nil, errors.New("not enough votes to certify")
	}
	pol, err := loadPolicy(stub)
	if err != nil {
		return nil, err
	}
	c, err := getCreator(stub)
	if err != nil {
		return nil, err
	}
	target := v.TargetAccountID
	if err := authorize(pol, c, blossompolicy.RightCertifyVote, blossompolicy.VoteTarget(target), "cid is not authorized to certify a vote on "+target); err != nil {
		return nil, err
	}
	if err := pol.CertifyVote(target, result == passed, v.StatusChange); err != nil {
		return nil, err
	}
	v.Result = Failed
	if result == passed {
		v.Result = Passed
		acc, err := getAccount(stub, target)
		if err != nil {
			return nil, err
		}
		if acc == nil {
			return nil, fmt.Errorf("account %s does not exist", target)
		}
		acc.Status = v.StatusChange
		if err := putJSON(stub, accountKey(target), "account", acc); err != nil {
			return nil, err
		}
	}
	if err := endVote(stub, pol, EventVoteCompleted, v); err != nil {
		return nil, err
	}
	if result == passed {
		return []byte("true"), nil
	}
	return []byte("false"), nil
}

// endVote stores the final vote, clears the ongoing vote and saves the
// policy.
func endVote(stub contract.Stub, pol *blossompolicy.AuthorizationPolicy, event string, v *Vote) error {
	if err := savePolicy(stub, pol); err != nil {
		return err
	}
	if err := stub.DelState(ongoingVoteKey); err != nil {
		return err
	}
	return putVote(stub, event, v)
}

// abortOngoingVote is vote:AbortOngoingVote: ends an undecided
// vote with result ABORTED, so that a vote that can no longer be decided
// does not block every other vote. Allowed to whoever may certify the vote
// (its initiator, or the admin member's Authorizing Official while the
// admin member is AUTHORIZED), except that the admin may not abort a vote
// on itself that another member initiated. A decided vote must be
// certified instead.
func abortOngoingVote(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 0); err != nil {
		return nil, err
	}
	v, err := ongoingVote(stub)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, errNoOngoingVote
	}
	target := v.TargetAccountID
	if v.count() != undecided {
		return nil, fmt.Errorf("the vote on %s is decided: certify it with vote:CertifyOngoingVote", target)
	}
	pol, err := loadPolicy(stub)
	if err != nil {
		return nil, err
	}
	c, err := getCreator(stub)
	if err != nil {
		return nil, err
	}
	denied := "cid is not authorized to abort a vote on " + target
	if err := authorize(pol, c, blossompolicy.RightCertifyVote, blossompolicy.VoteTarget(target), denied); err != nil {
		return nil, err
	}
	if admin := pol.AdminMSP(); c.MSPID == admin && target == admin && v.InitiatingAccountID != admin {
		return nil, errors.New(denied)
	}
	if err := pol.AbortVote(target); err != nil {
		return nil, err
	}
	v.Result = Aborted
	return nil, endVote(stub, pol, EventVoteAborted, v)
}

// getOngoingVote is vote:GetOngoingVote.
func getOngoingVote(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 0); err != nil {
		return nil, err
	}
	v, err := ongoingVote(stub)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, errNoOngoingVote
	}
	return marshalResponse(v)
}

// getVoteHistory is vote:GetVoteHistory(member): every stored state of
// the votes on member (initiation, each ballot, the end), newest first.
func getVoteHistory(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 1); err != nil {
		return nil, err
	}
	m, err := parseAccountID("member", string(args[0]))
	if err != nil {
		return nil, err
	}
	key := voteKey(m)
	it, err := stub.GetHistoryForKey(key)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	history := []Vote{}
	for it.HasNext() {
		mod, err := it.Next()
		if err != nil {
			return nil, err
		}
		if mod.IsDelete {
			continue
		}
		v, err := decodeVote(key, mod.Value)
		if err != nil {
			return nil, err
		}
		history = append(history, *v)
	}
	return marshalResponse(history)
}
