package blossomnet

import (
	"fmt"
	"testing"

	"github.com/blossom-ledger/blossom/chaincode/authorization"
	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
)

const (
	ao   = blossompolicy.RoleAuthorizingOfficial
	lo   = blossompolicy.RoleLicenseOwner
	acq  = blossompolicy.RoleAcquisitionOfficer
	tpoc = blossompolicy.RoleTechnicalPointOfContact
)

// majority are the members whose peers endorse the authorization
// chaincode's public writes (MAJORITY Endorsement of three members).
var majority = []int{Admin, 1}

// auth is a call of the authorization chaincode by member m's
// Authorizing Official.
func auth(m int, function string, args ...string) Call {
	return Call{Member: m, Role: ao, Chaincode: authorization.ChaincodeName, Function: function, Args: args, Endorsers: majority}
}

// onATOOwner makes c a call endorsed by (or answered on) the peer of
// owner, whose implicit collection holds its ATO.
func onATOOwner(c Call, owner int) Call {
	c.Endorsers = []int{owner}
	return c
}

func (n *Network) account(t testing.TB, m int) authorization.Account {
	t.Helper()
	var a authorization.Account
	n.Query(t, auth(m, "account:GetAccount", n.MSP(m)), &a)
	return a
}

func (n *Network) requireAccount(t testing.TB, m int, want authorization.Account) {
	t.Helper()
	if got := n.account(t, m); got != want {
		t.Fatalf("account of %s: %+v, want %+v", n.MSP(m), got, want)
	}
}

// bootstrap runs Bootstrap and publishes MOU version 1 as the admin's
// Authorizing Official.
func bootstrap(t testing.TB, n *Network) {
	t.Helper()
	n.Submit(t, auth(Admin, "bootstrap:Bootstrap"))
	n.requireAccount(t, Admin, authorization.Account{ID: n.AdminMSP, Status: blossompolicy.Authorized, Joined: true})
	n.Submit(t, auth(Admin, "mou:UpdateMOU", "The BloSS@M members agree to share licenses"))
}

// apply runs the first half of agency m's onboarding journey (spec
// §3.1): it signs the current MOU (its account appears, PENDING), files
// its ATO and receives the admin's feedback on it. It returns the ATO's
// memo, unique to this run.
func apply(t testing.TB, n *Network, m int) string {
	t.Helper()
	msp := n.MSP(m)
	var mou authorization.MOU
	n.Query(t, auth(m, "mou:GetMOU"), &mou)
	n.Submit(t, auth(m, "mou:SignMOU", fmt.Sprint(mou.Version)))
	n.requireAccount(t, m, authorization.Account{ID: msp, Status: blossompolicy.Pending, MOUVersion: mou.Version})

	memo := "SSP of " + msp + " " + newLicenses(t, 1)[0]["salt"]
	n.Submit(t, onATOOwner(Call{Member: m, Role: ao, Chaincode: authorization.ChaincodeName, Function: "ato:CreateATO",
		Transient: map[string]string{"memo": memo, "artifacts": "https://" + msp + ".example/ato"}}, m))
	n.Submit(t, onATOOwner(Call{Member: Admin, Role: ao, Chaincode: authorization.ChaincodeName, Function: "ato:SubmitFeedback",
		Transient: map[string]string{"targetAccountId": msp, "atoVersion": "1", "comments": "Add the incident response plan"}}, m))
	var ato authorization.ATO
	n.Query(t, onATOOwner(auth(Admin, "ato:GetATO", msp), m), &ato)
	if ato.Version != 1 || ato.Memo != memo || len(ato.Feedback) != 1 || ato.Feedback[0].AccountID != n.AdminMSP {
		t.Fatalf("ATO of %s read by the admin: %+v", msp, ato)
	}
	return memo
}

// initiateVote has the admin propose agency m AUTHORIZED and returns the
// ongoing vote.
func initiateVote(t testing.TB, n *Network, m int) authorization.Vote {
	t.Helper()
	n.Submit(t, auth(Admin, "vote:InitiateVote", n.MSP(m), string(blossompolicy.Authorized), "ATO reviewed"))
	var vote authorization.Vote
	n.Query(t, auth(m, "vote:GetOngoingVote"), &vote)
	if vote.TargetAccountID != n.MSP(m) || vote.InitiatingAccountID != n.AdminMSP {
		t.Fatalf("ongoing vote: %+v", vote)
	}
	return vote
}

// admit ends agency m's onboarding: every voter approves, the admin
// certifies the vote (AUTHORIZED) and the agency joins.
func admit(t testing.TB, n *Network, m int, vote authorization.Vote) {
	t.Helper()
	for _, voter := range vote.Voters {
		n.Submit(t, auth(n.member(t, voter), "vote:Vote", "true"))
	}
	if out := n.Submit(t, auth(Admin, "vote:CertifyOngoingVote")); string(out) != "true" {
		t.Fatalf("CertifyOngoingVote on %s: %q, want true", n.MSP(m), out)
	}
	n.Submit(t, auth(m, "account:Join"))
	account := n.account(t, m)
	if account.Status != blossompolicy.Authorized || !account.Joined {
		t.Fatalf("account after the vote and Join: %+v", account)
	}
}

// member returns the index of the member whose MSP ID is msp.
func (n *Network) member(t testing.TB, msp string) int {
	t.Helper()
	for i := range n.Members {
		if n.MSP(i) == msp {
			return i
		}
	}
	t.Fatalf("no member %s", msp)
	return -1
}

// TestBloSSAMOnNetwork deploys both chaincodes built to wasm through the
// lifecycle on three members and runs, on one network, the onboarding
// journey of both agencies, the license journey, the privacy checks and
// the abuse table; every transaction is endorsed, ordered and committed
// on every peer with agreeing commit hashes.
func TestBloSSAMOnNetwork(t *testing.T) {
	n := Start(t)
	memos := map[int]string{}
	if !t.Run("onboarding", func(t *testing.T) {
		bootstrap(t, n)
		memos[1] = apply(t, n, 1)
		memos[2] = apply(t, n, 2)
		vote := initiateVote(t, n, 1)
		// Agency 2 is PENDING: not a voter on agency 1.
		n.requireRefused(t, auth(2, "vote:Vote", "false"), "cid is not authorized to vote on "+n.MSP(1))
		admit(t, n, 1, vote)
		admit(t, n, 2, initiateVote(t, n, 2))
	}) {
		t.FailNow()
	}
	var p *pool
	if !t.Run("license journey", func(t *testing.T) { p = licenseJourney(t, n, 1) }) {
		t.FailNow()
	}
	t.Run("privacy", func(t *testing.T) { checkPrivacy(t, n, p, 1, memos) })
	t.Run("abuse", func(t *testing.T) { checkAbuse(t, n, p) })
}
