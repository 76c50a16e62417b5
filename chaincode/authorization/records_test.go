package authorization

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

func TestFormatInstant(t *testing.T) {
	for _, tc := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC), "2024-05-01T12:00:00Z"},
		{time.Date(2024, 9, 7, 16, 32, 36, 123_000_000, time.UTC), "2024-09-07T16:32:36.123Z"},
		{time.Date(2024, 9, 7, 16, 32, 36, 100_000_000, time.UTC), "2024-09-07T16:32:36.100Z"},
		{time.Date(2024, 9, 7, 16, 32, 36, 123_999_999, time.UTC), "2024-09-07T16:32:36.123Z"}, // truncated
		{time.Date(2024, 9, 7, 16, 32, 36, 999_999, time.UTC), "2024-09-07T16:32:36Z"},         // below 1 ms
		{time.Date(2024, 2, 29, 23, 59, 59, 1_000_000, time.FixedZone("EST", -5*3600)), "2024-03-01T04:59:59.001Z"},
	} {
		if got := formatInstant(tc.in); got != tc.want {
			t.Errorf("formatInstant(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestRecordsJSON(t *testing.T) {
	// Field names and order of spec §1.2.
	for _, tc := range []struct {
		v    any
		want string
	}{
		{Account{ID: "A", Status: blossompolicy.Pending, MOUVersion: 2}, `{"id":"A","status":"PENDING","mouVersion":2,"joined":false}`},
		{MOU{Text: "t", Version: 1, Timestamp: "x"}, `{"text":"t","version":1,"timestamp":"x"}`},
		{ATO{ID: "i", Version: 1, Feedback: []Feedback{{ATOVersion: 1, AccountID: "B", Comments: "c"}}},
			`{"id":"i","creationTimestamp":"","lastUpdatedTimestamp":"","version":1,"memo":"","artifacts":"","feedback":[{"atoVersion":1,"accountId":"B","comments":"c"}]}`},
		{Vote{ID: "v", Voters: []string{"T"}, SubmittedVotes: map[string]bool{"Z": true, "A": false}, Threshold: Majority, Result: Ongoing},
			`{"id":"v","initiatingAccountId":"","targetAccountId":"","statusChange":"","reason":"","threshold":"MAJORITY","voters":["T"],"submittedVotes":{"A":false,"Z":true},"result":"ONGOING"}`},
		{AccountHistorySnapshot{TxID: "t", Timestamp: "s", Account: Account{ID: "A", Status: blossompolicy.Authorized}},
			`{"txID":"t","timestamp":"s","account":{"id":"A","status":"AUTHORIZED","mouVersion":0,"joined":false}}`},
	} {
		if got := mustJSON(t, tc.v); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}

func TestDecodeRecordsRefuseCorruption(t *testing.T) {
	for _, tc := range []struct {
		name   string
		decode func([]byte) error
		in     string
	}{
		{"account unknown field", func(b []byte) error { _, err := decodeAccount("k", b); return err }, `{"id":"A","status":"PENDING","mouVersion":1,"joined":false,"x":1}`},
		{"account bad status", func(b []byte) error { _, err := decodeAccount("k", b); return err }, `{"id":"A","status":"Authorized","mouVersion":1,"joined":false}`},
		{"account bad id", func(b []byte) error { _, err := decodeAccount("k", b); return err }, `{"id":"A:B","status":"PENDING","mouVersion":1,"joined":false}`},
		{"account trailing data", func(b []byte) error { _, err := decodeAccount("k", b); return err }, `{"id":"A","status":"PENDING","mouVersion":1,"joined":false} {}`},
		{"vote without voters", func(b []byte) error { _, err := decodeVote("k", b); return err }, `{"id":"v","threshold":"MAJORITY","voters":[],"result":"ONGOING"}`},
		{"vote unknown threshold", func(b []byte) error { _, err := decodeVote("k", b); return err }, `{"id":"v","threshold":"HALF","voters":["A"],"result":"ONGOING"}`},
		{"ATO not JSON", func(b []byte) error { _, err := decodeATO("k", b); return err }, `ato`},
	} {
		if err := tc.decode([]byte(tc.in)); err == nil || !strings.HasPrefix(err.Error(), `stored record "k" is corrupt`) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestRecordSizeLimit(t *testing.T) {
	ato := &ATO{Memo: strings.Repeat("\x01", contract.MaxValueSize/6+1)} // each byte escapes to \u0001
	if _, err := encode("ATO of X", ato); err == nil || !strings.HasPrefix(err.Error(), "the ATO of X would be") {
		t.Fatalf("encode = %v", err)
	}
	// The input limits keep every record of a single input under the limit.
	worst := strings.Repeat("\x01", MaxMOUTextSize)
	if b, err := encode("MOU", MOU{Text: worst}); err != nil || len(b) > contract.MaxValueSize {
		t.Fatalf("worst-case MOU: %d bytes, %v", len(b), err)
	}
}

// TestDeterministic runs the same journey in two worlds: every stored byte
// must be identical (no map order or clock reaches the state).
func TestDeterministic(t *testing.T) {
	run := func() state {
		w := newWorld(t)
		agencies := []string{}
		for i := 1; i <= 6; i++ {
			agencies = append(agencies, fmt.Sprintf("Agency%dMSP", i))
		}
		w.consortium(agencies...)
		w.transient("memo", "m", "artifacts", "a")
		for _, a := range agencies {
			w.ok(a, "ato:CreateATO")
		}
		w.transient("targetAccountId", agency1, "atoVersion", "1", "comments", "c")
		w.ok(agency2, "ato:SubmitFeedback")
		w.ok(agency3, "vote:InitiateVote", admin, "PENDING", "")
		for i, a := range agencies {
			w.ok(a, "vote:Vote", fmt.Sprint(i%2 == 0))
		}
		return w.snapshot()
	}
	a, b := run(), run()
	if !maps.Equal(a, b) {
		t.Fatal("two identical runs stored different state")
	}
	if len(a) < 10 {
		t.Fatalf("snapshot too small: %d entries", len(a))
	}
}

// TestCorruptOrForeignState: state the chaincode did not write (or wrote
// for another admin member) is refused with a clear error, never used.
func TestCorruptOrForeignState(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(w *world)
		msp    string
		fn     string
		args   []string
		want   string
	}{
		{"policy of another admin", func(w *world) { w.stub.SetDefinitionParams(map[string]string{AdminMSPParam: "OtherMSP"}) },
			agency1, "mou:SignMOU", []string{"1"}, `stored ngac policy: stored policy lacks OA "OtherMSP" (is it the policy of admin MSP "OtherMSP"?)`},
		{"policy not JSON", func(w *world) { w.stub.SetState("policy", []byte("{")) },
			agency1, "mou:SignMOU", []string{"1"}, "stored ngac policy: "},
		{"ongoing vote without vote", func(w *world) { w.stub.SetState(ongoingVoteKey, []byte(agency2)) },
			agency1, "vote:Vote", []string{"true"}, `stored record "ongoing_vote" names Agency2MSP, which has no vote`},
		{"ongoing vote with bad id", func(w *world) { w.stub.SetState(ongoingVoteKey, []byte("a b")) },
			agency1, "vote:GetOngoingVote", nil, `stored record "ongoing_vote" is corrupt: bad member id`},
		{"ongoing vote already ended", func(w *world) {
			w.stub.SetState(ongoingVoteKey, []byte(agency1))
			w.stub.SetState(voteKey(agency1), []byte(mustJSON(t, Vote{ID: "v", TargetAccountID: agency1, Threshold: Majority, Voters: []string{agency1}, Result: Passed})))
		}, admin, "vote:CertifyOngoingVote", nil, `stored record "vote:Agency1MSP" is corrupt: not the ongoing vote on Agency1MSP`},
		{"account not JSON", func(w *world) { w.stub.SetState(accountKey(agency1), []byte("x")) },
			agency9, "account:GetAccounts", nil, `stored record "account:Agency1MSP" is corrupt: `},
		{"ATO not JSON", func(w *world) { w.stub.SetPrivateData(ImplicitCollection(agency1), atoKey(agency1), []byte("[]")) },
			agency1, "ato:GetATO", []string{agency1}, `stored record "ato:Agency1MSP" is corrupt: `},
		{"ATO full", func(w *world) {
			big := ATO{ID: "a", Version: 1, Memo: strings.Repeat("m", contract.MaxValueSize-200), Feedback: []Feedback{}}
			w.stub.SetPrivateData(ImplicitCollection(agency1), atoKey(agency1), []byte(mustJSON(t, big)))
			w.transient("targetAccountId", agency1, "atoVersion", "1", "comments", strings.Repeat("c", 300))
		}, admin, "ato:SubmitFeedback", nil, "the ATO of Agency1MSP would be "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.consortium(agency1)
			w.ok(agency2, "mou:SignMOU", "1")
			tc.damage(w)
			w.as(tc.msp)
			w.stub.Commit()
			_, err := w.cc.Invoke(w.stub, tc.fn, bytesArgs(tc.args))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error = %v, want prefix %q", err, tc.want)
			}
			if n := len(w.stub.Writes()) + len(w.stub.PrivateWrites()); n != 0 {
				t.Fatalf("%d writes", n)
			}
		})
	}
}

func bytesArgs(args []string) [][]byte {
	b := make([][]byte, len(args))
	for i, a := range args {
		b[i] = []byte(a)
	}
	return b
}
