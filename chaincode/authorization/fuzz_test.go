package authorization

import (
	"bytes"
	"maps"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// maxErrorLen bounds every refusal: errors never echo large inputs.
const maxErrorLen = 512

func checkError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if msg := err.Error(); len(msg) > maxErrorLen || !utf8.ValidString(msg) {
		t.Fatalf("error of %d bytes (valid UTF-8: %v): %.200q", len(msg), utf8.ValidString(msg), msg)
	}
}

func FuzzDecodeFeedbackInput(f *testing.F) {
	f.Add("Agency1MSP", "1", "comment", uint8(7))
	f.Add("", "x", "", uint8(5))
	f.Add("Agency 1", "+2", "\xff", uint8(7))
	f.Add("A", "99999999999", "c", uint8(7))
	f.Fuzz(func(t *testing.T, target, version, comments string, present uint8) {
		m := map[string][]byte{}
		if present&1 != 0 {
			m[transientTargetAccountID] = []byte(target)
		}
		if present&2 != 0 {
			m[transientATOVersion] = []byte(version)
		}
		if present&4 != 0 {
			m[transientComments] = []byte(comments)
		}
		in, err := decodeFeedbackInput(m)
		checkError(t, err)
		if err != nil {
			return
		}
		if in.TargetAccountID != target || blossompolicy.ValidateMemberID(in.TargetAccountID) != nil {
			t.Fatalf("target %q accepted as %q", target, in.TargetAccountID)
		}
		if in.Comments != comments || comments == "" || !utf8.ValidString(comments) || len(comments) > MaxCommentsSize {
			t.Fatalf("comments %q accepted", comments)
		}
		if got, err := parseInt("v", version); err != nil || got != in.ATOVersion {
			t.Fatalf("version %q decoded as %d", version, in.ATOVersion)
		}
	})
}

func FuzzDecodeATOInput(f *testing.F) {
	f.Add("memo", "artifacts", true, true)
	f.Add("", "\xc3", false, true)
	f.Fuzz(func(t *testing.T, memo, artifacts string, hasMemo, hasArtifacts bool) {
		m := map[string][]byte{}
		if hasMemo {
			m[transientMemo] = []byte(memo)
		}
		if hasArtifacts {
			m[transientArtifacts] = []byte(artifacts)
		}
		in, err := decodeATOInput(m)
		checkError(t, err)
		if err != nil {
			return
		}
		if !utf8.ValidString(in.Memo) || !utf8.ValidString(in.Artifacts) {
			t.Fatal("invalid UTF-8 accepted")
		}
		if hasMemo && in.Memo != memo || !hasMemo && in.Memo != "" {
			t.Fatalf("memo %q decoded as %q", memo, in.Memo)
		}
	})
}

// FuzzParseArguments covers the decoders of plain arguments.
func FuzzParseArguments(f *testing.F) {
	for _, s := range []string{"1", "-1", "true", "false", "AUTHORIZED", "PENDING", "Agency1MSP", "", "\xff", "a:b", strings.Repeat("A", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseInt("version", s)
		checkError(t, err)
		if err == nil {
			if back, err := parseInt("version", strconv.Itoa(n)); err != nil || back != n || strings.TrimSpace(s) != s {
				t.Fatalf("integer %q -> %d", s, n)
			}
		}
		b, err := parseBallot(s)
		checkError(t, err)
		if err == nil && (s == "true") != b {
			t.Fatalf("ballot %q -> %v", s, b)
		}
		st, err := parseStatus(s)
		checkError(t, err)
		if err == nil && string(st) != s {
			t.Fatalf("status %q -> %q", s, st)
		}
		id, err := parseAccountID("accountId", s)
		checkError(t, err)
		if err == nil && (id != s || strings.ContainsAny(s, ": ")) {
			t.Fatalf("account id %q accepted", s)
		}
	})
}

// FuzzDecodeRecords: stored records either decode to a value that
// re-encodes to a stable form, or are refused as corrupt.
func FuzzDecodeRecords(f *testing.F) {
	f.Add([]byte(`{"id":"A","status":"PENDING","mouVersion":1,"joined":false}`))
	f.Add([]byte(`{"id":"v","initiatingAccountId":"A","targetAccountId":"B","statusChange":"AUTHORIZED","reason":"","threshold":"MAJORITY","voters":["B","A"],"submittedVotes":{"A":true},"result":"ONGOING"}`))
	f.Add([]byte(`{"id":"i","creationTimestamp":"","lastUpdatedTimestamp":"","version":1,"memo":"","artifacts":"","feedback":[]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		roundTrip := func(v any) {
			b1, err := contract.CanonicalJSON(v)
			if err != nil {
				t.Fatal(err)
			}
			b2, err := contract.CanonicalJSON(v)
			if err != nil || !bytes.Equal(b1, b2) {
				t.Fatal("unstable encoding")
			}
		}
		if a, err := decodeAccount("k", data); err == nil {
			roundTrip(a)
			if _, err := blossompolicy.ParseStatus(string(a.Status)); err != nil {
				t.Fatalf("account with status %q accepted", a.Status)
			}
		} else {
			checkError(t, err)
		}
		if v, err := decodeVote("k", data); err == nil {
			roundTrip(v)
			_ = v.count()
			if v.SubmittedVotes == nil {
				t.Fatal("nil ballots")
			}
		} else {
			checkError(t, err)
		}
		if a, err := decodeATO("k", data); err == nil {
			roundTrip(a)
			if a.Feedback == nil {
				t.Fatal("nil feedback")
			}
		} else {
			checkError(t, err)
		}
	})
}

// fuzzBase is a consortium in mid-life (AUTHORIZED, PENDING members, ATOs,
// feedback, an ongoing vote), captured once and copied into a fresh world
// for every fuzz input.
var fuzzBase struct {
	once    sync.Once
	public  map[string][]byte
	private map[string][]byte // by member
}

func newFuzzWorld(t testing.TB) *world {
	fuzzBase.once.Do(func() {
		w := newWorld(t)
		w.consortium(agency1)
		w.ok(agency2, "mou:SignMOU", "1")
		w.transient("memo", "m")
		w.ok(agency1, "ato:CreateATO")
		w.ok(agency2, "ato:CreateATO")
		w.transient("targetAccountId", agency2, "atoVersion", "1", "comments", "c")
		w.ok(agency1, "ato:SubmitFeedback")
		w.ok(agency1, "vote:InitiateVote", agency2, "AUTHORIZED", "")
		w.ok(agency2, "vote:Vote", "true")
		fuzzBase.public, fuzzBase.private = map[string][]byte{}, map[string][]byte{}
		for _, k := range w.stub.StateKeys() {
			fuzzBase.public[k], _ = w.stub.State(k)
		}
		for _, m := range members {
			if v, ok := w.stub.PrivateData(ImplicitCollection(m), atoKey(m)); ok {
				fuzzBase.private[m] = v
			}
		}
	})
	w := newWorld(t)
	for k, v := range fuzzBase.public {
		w.stub.SetState(k, v)
	}
	for m, v := range fuzzBase.private {
		w.stub.SetPrivateData(ImplicitCollection(m), atoKey(m), v)
	}
	return w
}

var fuzzFunctions = []string{"bootstrap:Bootstrap", "account:Join", "account:GetAccount", "account:GetAccountStatus",
	"account:GetAccountHistory", "mou:UpdateMOU", "mou:SignMOU", "ato:CreateATO", "ato:UpdateATO", "ato:GetATO",
	"ato:SubmitFeedback", "vote:InitiateVote", "vote:Vote", "vote:CertifyOngoingVote", "vote:AbortOngoingVote",
	"vote:GetOngoingVote", "vote:GetVoteHistory", "account:GetAccounts", "mou:GetMOU"}

var fuzzCallers = []struct{ msp, role string }{
	{admin, ao}, {agency1, ao}, {agency2, ao}, {agency9, ao}, {agency1, "Blossom Admin"}, {admin, blossompolicy.RoleLicenseOwner}, {agency2, noRole},
}

// FuzzInvoke calls any function with any arguments and transient input as
// any caller: nothing panics, a refusal is bounded text and leaves no
// write, and a success leaves a state every query can still read.
func FuzzInvoke(f *testing.F) {
	f.Add(uint8(12), uint8(1), []byte("true"), []byte(""))
	f.Add(uint8(11), uint8(0), []byte("Agency1MSP\x00UNAUTHORIZED\x00r"), []byte(""))
	f.Add(uint8(10), uint8(2), []byte(""), []byte("targetAccountId\x00Agency1MSP\x00atoVersion\x001\x00comments\x00hi"))
	f.Add(uint8(6), uint8(2), []byte("1"), []byte(""))
	f.Add(uint8(13), uint8(1), []byte(""), []byte(""))
	f.Fuzz(func(t *testing.T, fn, who uint8, args, transient []byte) {
		w := newFuzzWorld(t)
		caller := fuzzCallers[int(who)%len(fuzzCallers)]
		w.as(caller.msp, caller.role)
		var argv [][]byte
		if len(args) > 0 {
			argv = bytes.Split(args, []byte{0})
		}
		tm := map[string][]byte{}
		parts := bytes.Split(transient, []byte{0})
		for i := 0; i+1 < len(parts); i += 2 {
			tm[string(parts[i])] = parts[i+1]
		}
		w.stub.SetTransient(tm)
		w.stub.Commit()
		name := fuzzFunctions[int(fn)%len(fuzzFunctions)]
		before := w.snapshot()
		_, err := w.cc.Invoke(w.stub, name, argv)
		if err != nil {
			checkError(t, err)
			if n := len(w.stub.Writes()) + len(w.stub.PrivateWrites()) + len(w.stub.Events()); n != 0 {
				t.Fatalf("%s refused (%v) but wrote %d entries", name, err, n)
			}
			w.stub.Commit()
			if after := w.snapshot(); !maps.Equal(before, after) {
				t.Fatal("state changed")
			}
			return
		}
		w.stub.Commit()
		for _, q := range []string{"account:GetAccounts", "mou:GetMOU"} {
			if _, err := w.cc.Invoke(w.stub, q, nil); err != nil {
				t.Fatalf("after %s: %s: %v", name, q, err)
			}
		}
		if _, err := w.cc.Invoke(w.stub, "account:GetAccountStatus", nil); err != nil && caller.msp != agency9 {
			t.Fatalf("after %s: GetAccountStatus: %v", name, err)
		}
		if _, ok := w.stub.State(blossompolicy.PolicyKey); !ok {
			t.Fatal("policy lost")
		}
	})
}
