package authorization

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
)

func TestVoteCount(t *testing.T) {
	voters := func(n int) []string {
		return []string{"T", "A", "B", "C", "D", "E", "F"}[:n]
	}
	for _, tc := range []struct {
		name      string
		n         int
		threshold Threshold
		ballots   map[string]bool
		want      outcome
	}{
		{"N=1 no ballot", 1, Majority, nil, undecided},
		{"N=1 yes", 1, SuperMajority, map[string]bool{"T": true}, passed},
		{"N=1 no", 1, Majority, map[string]bool{"T": false}, failed},
		{"N=2 one yes", 2, Majority, map[string]bool{"A": true}, undecided},
		{"N=2 two yes", 2, Majority, map[string]bool{"A": true, "T": true}, passed},
		{"N=2 one no", 2, Majority, map[string]bool{"A": false}, failed},
		{"N=3 two yes", 3, Majority, map[string]bool{"A": true, "B": true}, passed},
		{"N=3 two no", 3, Majority, map[string]bool{"A": false, "B": false}, failed},
		{"N=3 split", 3, Majority, map[string]bool{"A": true, "B": false}, undecided},
		{"N=3 super two yes (0.667 > 0.66)", 3, SuperMajority, map[string]bool{"A": true, "B": true}, passed},
		{"N=3 super two no", 3, SuperMajority, map[string]bool{"A": false, "T": false}, failed},
		{"N=3 super one no", 3, SuperMajority, map[string]bool{"A": false}, undecided},
		{"N=5 majority three yes", 5, Majority, map[string]bool{"A": true, "B": true, "C": true}, passed},
		{"N=5 super three yes", 5, SuperMajority, map[string]bool{"A": true, "B": true, "C": true}, undecided},
		{"N=5 super four yes", 5, SuperMajority, map[string]bool{"A": true, "B": true, "C": true, "D": true}, passed},
		{"N=5 super two no", 5, SuperMajority, map[string]bool{"A": false, "B": false}, failed},
		{"N=4 exactly half", 4, Majority, map[string]bool{"T": true, "A": true, "B": false, "C": false}, failed},
		{"N=2 ballots of non-voters ignored", 2, Majority, map[string]bool{"X": true, "Y": true, "T": true}, undecided},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &Vote{Voters: voters(tc.n), Threshold: tc.threshold, SubmittedVotes: tc.ballots}
			if got := v.count(); got != tc.want {
				t.Fatalf("count = %d, want %d", got, tc.want)
			}
		})
	}
}

func decodeVoteJSON(t *testing.T, b []byte) Vote {
	t.Helper()
	var v Vote
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return v
}

func TestInitiateVote(t *testing.T) {
	w := newWorld(t)
	w.refuseAs(admin, "vote:InitiateVote", "an account with id Agency1MSP does not exist", agency1, "AUTHORIZED", "")
	w.consortium(agency1)
	w.ok(agency2, "mou:SignMOU", "1") // PENDING

	const notID = `: an account id has 1 to 128 ASCII letters, digits, '.', '-' or '_'`
	for _, tc := range []struct {
		name, msp, role, want string
		args                  []string
	}{
		{"one argument", agency1, ao, "wrong number of arguments: want 2 or 3 (targetAccountId, statusChange, reason), got 1", []string{agency2}},
		{"bad target", agency1, ao, `invalid targetAccountId "a:b"` + notID, []string{"a:b", "AUTHORIZED"}},
		{"reason too long", agency1, ao, "reason is 16385 bytes long (at most 16384)", []string{agency2, "AUTHORIZED", strings.Repeat("r", MaxReasonSize+1)}},
		{"target without account, before the status", agency1, ao, "an account with id Agency9MSP does not exist", []string{agency9, "BOGUS"}},
		{"role", agency1, blossompolicy.RoleAcquisitionOfficer, "unknown user role: Acquisition Officer", []string{agency2, "AUTHORIZED"}},
		{"forged role (R-01)", agency2, "authorized", "unknown user role: authorized", []string{admin, "PENDING"}},
		{"caller without account", agency9, ao, "account Agency9MSP does not exist", []string{agency2, "AUTHORIZED"}},
		{"PENDING initiator, before the status", agency2, ao, "cid is not authorized to initiate a vote on Agency1MSP", []string{agency1, "BOGUS"}},
		{"vote on itself", agency1, ao, "cid is not authorized to initiate a vote on Agency1MSP", []string{agency1, "PENDING"}},
		{"admin on itself while others are AUTHORIZED (R-14)", admin, ao, "cid is not authorized to initiate a vote on SAMSMSP", []string{admin, "PENDING"}},
		{"unknown status", agency1, ao, "unknown Status: MAYBE", []string{agency2, "MAYBE"}},
		{"status is case-sensitive", agency1, ao, "unknown Status: authorized", []string{agency2, "authorized"}},
		{"README's NOT_AUTHORIZED does not exist", agency1, ao, "unknown Status: NOT_AUTHORIZED", []string{agency2, "NOT_AUTHORIZED"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.as(tc.msp, tc.role)
			w.refuse("vote:InitiateVote", tc.want, tc.args...)
		})
	}

	// V1: an AUTHORIZED member initiates a vote on a PENDING member.
	w.stub.SetTxID("vote-1")
	w.ok(agency1, "vote:InitiateVote", agency2, "AUTHORIZED", "ATO reviewed")
	want := Vote{ID: "vote-1", InitiatingAccountID: agency1, TargetAccountID: agency2, StatusChange: blossompolicy.Authorized,
		Reason: "ATO reviewed", Threshold: Majority, Voters: []string{agency2, agency1, admin}, SubmittedVotes: map[string]bool{}, Result: Ongoing}
	stored, _ := w.stub.State(voteKey(agency2))
	if s := mustJSON(t, want); string(stored) != s {
		t.Fatalf("stored vote:\n got %s\nwant %s", stored, s)
	}
	w.requireEvent(EventInitiateVote, string(stored))
	if v, _ := w.stub.State(ongoingVoteKey); string(v) != agency2 {
		t.Fatalf("ongoing_vote = %q", v)
	}
	if !w.policy().Graph().IsAssigned(blossompolicy.AccountUsers(agency1), blossompolicy.VoteInitiators(agency2)) {
		t.Fatal("initiator not recorded in the policy")
	}
	requireJSON(t, w.ok(agency9, "vote:GetOngoingVote"), want)

	// V6: one vote at a time, checked first.
	w.refuseAs(admin, "vote:InitiateVote", "there is an ongoing vote on account Agency2MSP", agency1, "PENDING")
	w.refuseAs(agency9, "vote:InitiateVote", "there is an ongoing vote on account Agency2MSP", agency9, "BOGUS")
}

func TestAdminVoteNeedsSuperMajority(t *testing.T) {
	w := newWorld(t)
	w.consortium(agency1, agency2, agency3)
	w.ok("Agency4MSP", "mou:SignMOU", "1")
	w.setStatus(admin, "Agency4MSP", blossompolicy.Authorized)
	// Voters: SAMSMSP and four agencies; 3 of 5 is a majority but not > 0.66.
	w.ok(agency1, "vote:InitiateVote", admin, "UNAUTHORIZED", "")
	v := w.ongoing()
	if v.Threshold != SuperMajority || len(v.Voters) != 5 || v.Voters[0] != admin {
		t.Fatalf("vote on the admin = %+v", v)
	}
	for _, m := range []string{agency1, agency2, agency3} {
		w.ok(m, "vote:Vote", "true")
	}
	w.refuseAs(agency1, "vote:CertifyOngoingVote", "not enough votes to certify")
	w.ok("Agency4MSP", "vote:Vote", "true")
	if got := w.ok(agency1, "vote:CertifyOngoingVote"); string(got) != "true" {
		t.Fatalf("certify = %s", got)
	}
	w.requireStatus(admin, blossompolicy.Unauthorized)

	// The demoted admin may no longer certify others' votes (S13): only the initiator can.
	w.ok(agency2, "vote:InitiateVote", agency3, "PENDING", "")
	for _, m := range []string{agency1, agency2, agency3} {
		w.ok(m, "vote:Vote", "false")
	}
	w.refuseAs(admin, "vote:CertifyOngoingVote", "cid is not authorized to certify a vote on Agency3MSP")
	if got := w.ok(agency2, "vote:CertifyOngoingVote"); string(got) != "false" {
		t.Fatalf("certify = %s", got)
	}
	w.requireStatus(agency3, blossompolicy.Authorized)
}

func TestVoteBallots(t *testing.T) {
	w := newWorld(t)
	w.refuseAs(agency1, "vote:Vote", "there is no ongoing vote", "true")
	w.consortium(agency1)
	w.ok(agency2, "mou:SignMOU", "1") // PENDING target
	w.ok(agency3, "mou:SignMOU", "1") // PENDING, not a voter
	w.refuseAs(agency1, "vote:Vote", "there is no ongoing vote", "true")
	w.refuseAs(agency1, "vote:GetOngoingVote", "there is no ongoing vote")
	w.ok(agency1, "vote:InitiateVote", agency2, "AUTHORIZED")

	for _, tc := range []struct {
		name, msp, role, want string
		args                  []string
	}{
		{"arguments", agency1, ao, "wrong number of arguments: want 1, got 0", nil},
		{"not a boolean", agency1, ao, "value must be true or false", []string{"yes"}},
		{"JSON-ish boolean", agency1, ao, "value must be true or false", []string{"True"}},
		{"role", agency1, blossompolicy.RoleTechnicalPointOfContact, "unknown user role: Technical Point of Contact", []string{"true"}},
		{"caller without account", agency9, ao, "account Agency9MSP does not exist", []string{"true"}},
		{"PENDING member on another member's vote", agency3, ao, "cid is not authorized to vote on Agency2MSP", []string{"true"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.as(tc.msp, tc.role)
			w.refuse("vote:Vote", tc.want, tc.args...)
		})
	}

	// V2: ballots are recorded; a later ballot overwrites; the PENDING target votes on its own vote.
	w.ok(agency1, "vote:Vote", "false")
	ev := w.event()
	if ev.Name != EventVote || decodeVoteJSON(t, ev.Payload).SubmittedVotes[agency1] != false {
		t.Fatalf("event = %s %s", ev.Name, ev.Payload)
	}
	w.ok(agency1, "vote:Vote", "true")
	w.ok(agency2, "vote:Vote", "true")
	stored, _ := w.stub.State(voteKey(agency2))
	w.requireEvent(EventVote, string(stored))
	if got := w.ongoing().SubmittedVotes; len(got) != 2 || !got[agency1] || !got[agency2] {
		t.Fatalf("submittedVotes = %v", got)
	}

	// a member the policy lets vote but that is not in the voters
	// (seeded: statuses cannot change during a vote through the API).
	v := w.ongoing()
	v.Voters = []string{agency2, agency1}
	w.stub.SetState(voteKey(agency2), []byte(mustJSON(t, v)))
	w.refuseAs(admin, "vote:Vote", "SAMSMSP is not a voter in the ongoing vote", "false")
}

func TestCertifyOngoingVote(t *testing.T) {
	w := newWorld(t)
	w.refuseAs(admin, "vote:CertifyOngoingVote", "there is no ongoing vote")
	w.consortium(agency1, agency3)
	w.ok(agency2, "mou:SignMOU", "1")
	w.stub.SetTxID("vote-1")
	w.ok(agency1, "vote:InitiateVote", agency2, "AUTHORIZED", "r")

	// V5 and R-11: undecidable first, whoever asks.
	w.refuseAs(agency1, "vote:CertifyOngoingVote", "not enough votes to certify")
	w.as(agency9, blossompolicy.RoleLicenseOwner)
	w.refuse("vote:CertifyOngoingVote", "not enough votes to certify")
	w.ok(agency2, "vote:Vote", "true")
	w.ok(agency3, "vote:Vote", "true")
	w.ok(admin, "vote:Vote", "false")
	w.refuseAs(agency1, "vote:CertifyOngoingVote", "not enough votes to certify") // 2 of 4
	w.ok(admin, "vote:Vote", "true")

	// Decided (3 of 4 yes): only the initiator or the AUTHORIZED admin may certify.
	for _, tc := range []struct{ name, msp, role, want string }{
		{"role", agency1, blossompolicy.RoleLicenseOwner, "unknown user role: License Owner"},
		{"no account", agency9, ao, "account Agency9MSP does not exist"},
		{"AUTHORIZED non-initiator", agency3, ao, "cid is not authorized to certify a vote on Agency2MSP"},
		{"the PENDING target", agency2, ao, "cid is not authorized to certify a vote on Agency2MSP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.as(tc.msp, tc.role)
			w.refuse("vote:CertifyOngoingVote", tc.want)
		})
	}
	w.refuseAs(agency1, "vote:CertifyOngoingVote", "wrong number of arguments: want 0, got 1", "x")

	// V3 / A4: passed.
	w.stub.SetTxID("certify-1")
	if got := w.ok(agency1, "vote:CertifyOngoingVote"); string(got) != "true" {
		t.Fatalf("certify = %s", got)
	}
	final := Vote{ID: "vote-1", InitiatingAccountID: agency1, TargetAccountID: agency2, StatusChange: blossompolicy.Authorized, Reason: "r",
		Threshold: Majority, Voters: []string{agency2, agency1, agency3, admin},
		SubmittedVotes: map[string]bool{agency2: true, agency3: true, admin: true}, Result: Passed}
	stored, _ := w.stub.State(voteKey(agency2))
	if s := mustJSON(t, final); string(stored) != s {
		t.Fatalf("final vote:\n got %s\nwant %s", stored, s)
	}
	w.requireEvent(EventVoteCompleted, string(stored))
	if _, ok := w.stub.State(ongoingVoteKey); ok {
		t.Fatal("ongoing_vote kept")
	}
	w.requireStatus(agency2, blossompolicy.Authorized)
	if a := w.account(agency2); a.MOUVersion != 1 || a.Joined {
		t.Fatalf("account = %+v", a)
	}
	w.refuseAs(agency1, "vote:CertifyOngoingVote", "there is no ongoing vote")

	// agency1's certify right ended with its vote. The admin
	// initiates the next vote on agency2; agency1 may not certify it.
	w.ok(admin, "vote:InitiateVote", agency2, "UNAUTHORIZED", "")
	for _, m := range []string{agency1, agency2, agency3} {
		w.ok(m, "vote:Vote", "false")
	}
	w.refuseAs(agency1, "vote:CertifyOngoingVote", "cid is not authorized to certify a vote on Agency2MSP")
	// V4 / A5: failed; status unchanged. Certified here by the initiator.
	if got := w.ok(admin, "vote:CertifyOngoingVote"); string(got) != "false" {
		t.Fatalf("certify = %s", got)
	}
	if got := decodeVoteJSON(t, w.event().Payload); got.Result != Failed {
		t.Fatalf("result = %s", got.Result)
	}
	w.requireStatus(agency2, blossompolicy.Authorized)

	// The AUTHORIZED admin certifies a vote another member initiated; X may equal the current status.
	w.ok(agency3, "vote:InitiateVote", agency1, "AUTHORIZED", "")
	for _, m := range []string{agency1, agency2, agency3} {
		w.ok(m, "vote:Vote", "true")
	}
	if got := w.ok(admin, "vote:CertifyOngoingVote"); string(got) != "true" {
		t.Fatalf("certify = %s", got)
	}
	w.requireStatus(agency1, blossompolicy.Authorized)
	if g := w.policy().Graph(); len(g.Children(blossompolicy.VoteInitiators(agency1))) != 0 || len(g.Children(blossompolicy.VoteInitiators(agency2))) != 0 {
		t.Fatal("initiators kept after certification (R-04)")
	}
}

func TestAbortOngoingVote(t *testing.T) {
	w := newWorld(t)
	w.refuseAs(admin, "vote:AbortOngoingVote", "there is no ongoing vote")
	w.consortium(agency1, agency2)
	w.ok(agency3, "mou:SignMOU", "1")

	// The initiator aborts an undecided vote.
	w.ok(agency1, "vote:InitiateVote", agency3, "AUTHORIZED", "")
	w.ok(agency3, "vote:Vote", "true")
	for _, tc := range []struct{ name, msp, role, want string }{
		{"role", agency1, blossompolicy.RoleLicenseOwner, "unknown user role: License Owner"},
		{"AUTHORIZED non-initiator", agency2, ao, "cid is not authorized to abort a vote on Agency3MSP"},
		{"the target", agency3, ao, "cid is not authorized to abort a vote on Agency3MSP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.as(tc.msp, tc.role)
			w.refuse("vote:AbortOngoingVote", tc.want)
		})
	}
	w.ok(agency1, "vote:AbortOngoingVote")
	stored, _ := w.stub.State(voteKey(agency3))
	if v := decodeVoteJSON(t, stored); v.Result != Aborted || v.SubmittedVotes[agency3] != true {
		t.Fatalf("aborted vote = %s", stored)
	}
	w.requireEvent(EventVoteAborted, string(stored))
	w.requireStatus(agency3, blossompolicy.Pending)
	w.refuseAs(agency1, "vote:GetOngoingVote", "there is no ongoing vote")

	// The AUTHORIZED admin aborts another member's vote; the initiator's right is gone.
	w.ok(agency1, "vote:InitiateVote", agency3, "AUTHORIZED", "")
	w.ok(admin, "vote:AbortOngoingVote")
	w.ok(agency2, "vote:InitiateVote", agency3, "AUTHORIZED", "")
	w.refuseAs(agency1, "vote:AbortOngoingVote", "cid is not authorized to abort a vote on Agency3MSP")

	// A decided vote must be certified.
	for _, m := range []string{agency1, agency2, agency3} {
		w.ok(m, "vote:Vote", "true")
	}
	w.refuseAs(agency2, "vote:AbortOngoingVote", "the vote on Agency3MSP is decided: certify it with vote:CertifyOngoingVote")
	w.ok(agency2, "vote:CertifyOngoingVote")

	// The admin may not abort a vote on itself that another member initiated.
	w.ok(agency1, "vote:InitiateVote", admin, "PENDING", "")
	w.refuseAs(admin, "vote:AbortOngoingVote", "cid is not authorized to abort a vote on SAMSMSP")
	w.ok(agency1, "vote:AbortOngoingVote")
}

// TestNoAuthorizedMember covers the recovery rule (R-14, S18) on seeded
// state: while no member is AUTHORIZED only the admin may initiate, and
// only on itself.
func TestNoAuthorizedMember(t *testing.T) {
	w := newWorld(t)
	w.seed(map[string]Status{admin: blossompolicy.Unauthorized, agency1: blossompolicy.Pending})
	w.refuseAs(admin, "vote:InitiateVote", "only votes on the ADMINMSP SAMSMSP are allowed when there are no authorized members", agency1, "AUTHORIZED")
	w.refuseAs(agency1, "vote:InitiateVote", "cid is not authorized to initiate a vote on SAMSMSP", admin, "AUTHORIZED")
	w.refuseAs(admin, "mou:UpdateMOU", "cid is not authorized to update the Blossom MOU", "x")

	w.ok(admin, "vote:InitiateVote", admin, "AUTHORIZED", "recovery")
	v := w.ongoing()
	if v.Threshold != SuperMajority || len(v.Voters) != 1 || v.Voters[0] != admin {
		t.Fatalf("recovery vote = %+v", v)
	}
	w.refuseAs(agency1, "vote:Vote", "cid is not authorized to vote on SAMSMSP", "true")
	w.ok(admin, "vote:Vote", "true")
	if got := w.ok(admin, "vote:CertifyOngoingVote"); string(got) != "true" {
		t.Fatalf("certify = %s", got)
	}
	w.requireStatus(admin, blossompolicy.Authorized)
	// Back to normal: no self-vote, and the admin governs again.
	w.refuseAs(admin, "vote:InitiateVote", "cid is not authorized to initiate a vote on SAMSMSP", admin, "PENDING")
	w.ok(admin, "mou:UpdateMOU", "v2")
	w.setStatus(admin, agency1, blossompolicy.Authorized)
}

// TestVoteHistory: two votes with three ballots each give ten entries
// (S19), newest first.
func TestVoteHistory(t *testing.T) {
	w := newWorld(t)
	w.consortium(agency1)
	w.ok(agency2, "mou:SignMOU", "1")
	if got := w.ok(agency9, "vote:GetVoteHistory", agency2); string(got) != "[]" {
		t.Fatalf("history before any vote = %s", got)
	}
	all := map[string]bool{admin: true, agency1: true, agency2: true}
	if !w.runVote(admin, agency2, blossompolicy.Authorized, all) {
		t.Fatal("first vote failed")
	}
	if w.runVote(agency1, agency2, blossompolicy.Unauthorized, map[string]bool{admin: false, agency1: true, agency2: false}) {
		t.Fatal("second vote passed")
	}
	var hist []Vote
	if err := json.Unmarshal(w.ok(agency9, "vote:GetVoteHistory", agency2), &hist); err != nil {
		t.Fatal(err)
	}
	if len(hist) != 10 {
		t.Fatalf("history has %d entries, want 10", len(hist))
	}
	wantResults := []Result{Failed, Ongoing, Ongoing, Ongoing, Ongoing, Passed, Ongoing, Ongoing, Ongoing, Ongoing}
	for i, v := range hist {
		if v.Result != wantResults[i] {
			t.Fatalf("history[%d].result = %s, want %s", i, v.Result, wantResults[i])
		}
	}
	if hist[4].InitiatingAccountID != agency1 || len(hist[4].SubmittedVotes) != 0 || hist[9].InitiatingAccountID != admin {
		t.Fatalf("history order: %+v", hist)
	}
	w.refuseAs(agency9, "vote:GetVoteHistory", `invalid member "": an account id has 1 to 128 ASCII letters, digits, '.', '-' or '_'`, "")
}
