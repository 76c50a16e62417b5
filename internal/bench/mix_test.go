package bench

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/chaincode/asset"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

func TestParseMix(t *testing.T) {
	tests := []struct {
		spec, want string // want: the canonical form, "" for an error
	}{
		{DefaultMix, DefaultMix},
		{"vote=1, checkout=2", "checkout=2,vote=1"},
		{"query=5,swid=0", "query=5"},
		{"checkout=1000000", "checkout=1000000"},
		{"checkout=1,", "checkout=1"},
		{"", ""},
		{"checkout=0", ""},
		{"checkout", ""},
		{"checkout=x", ""},
		{"checkout=-1", ""},
		{"checkout=1000001", ""},
		{"checkout=1,checkout=2", ""},
		{"renew=1", ""},
		{"=1", ""},
	}
	for _, tt := range tests {
		m, err := ParseMix(tt.spec)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("ParseMix(%q) = %v, want an error", tt.spec, m)
		case tt.want != "" && (err != nil || m.String() != tt.want):
			t.Errorf("ParseMix(%q) = %v, %v; want %s", tt.spec, m, err, tt.want)
		}
	}
}

// FuzzParseMix: any spec is refused or gives a mix that weighs something
// and survives its canonical form.
func FuzzParseMix(f *testing.F) {
	for _, s := range []string{DefaultMix, "vote=1", "checkout=1,checkout=1", "swid=-3", "query=99999999999999999999", ",,", "a=b=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		m, err := ParseMix(spec)
		if err != nil {
			return
		}
		again, err := ParseMix(m.String())
		if err != nil || again.String() != m.String() || m.total() <= 0 {
			t.Fatalf("%q parsed as %v, canonical %q reparsed as %v (%v)", spec, m, m.String(), again, err)
		}
	})
}

// TestMixPick draws operations in proportion to their weights, never one
// of weight 0.
func TestMixPick(t *testing.T) {
	m, err := ParseMix("checkout=3,query=1,vote=0")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	counts := map[string]int{}
	const n = 8000
	for range n {
		counts[m.pick(rng)]++
	}
	if counts[OpCheckout]+counts[OpQuery] != n {
		t.Fatalf("picks %v", counts)
	}
	if share := float64(counts[OpCheckout]) / n; share < 0.72 || share > 0.78 {
		t.Errorf("checkout share %.3f, want about 0.75 (%v)", share, counts)
	}
}

// testMixState is a mix state of three members, member 0 the service
// provider, without a network.
func testMixState(leases int) *MixState {
	st := &MixState{AssetID: "asset1", admin: 0, msps: []string{"SP", "A1", "A2"}, peers: []string{"p0", "p1", "p2"},
		majority: [][]string{{"p0", "p1"}, {"p1", "p2"}, {"p2", "p0"}}, agencies: []int{1, 2}}
	for k := range leases {
		st.leases = append(st.leases, &leaseActor{agency: st.agencies[k%2], license: "mix-" + string(rune('0'+k))})
	}
	return st
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// runSteps drives op on a (claimed) through its steps, checking each
// step's function, caller and endorsers, answering with payloads.
func runSteps(t *testing.T, st *MixState, a actor, op string, want []mixStep, payloads [][]byte) {
	t.Helper()
	for i, w := range want {
		got := a.next(st, op)
		if got.function != w.function || got.member != w.member || got.role != w.role || !slices.Equal(got.endorsers, w.endorsers) || got.fetch != w.fetch {
			t.Fatalf("%s step %d: %s by %d %q on %v (fetch %q), want %s by %d %q on %v (fetch %q)", op, i, got.function, got.member, got.role,
				got.endorsers, got.fetch, w.function, w.member, w.role, w.endorsers, w.fetch)
		}
		if _, err := got.txRequest(); err != nil {
			t.Fatal(err)
		}
		finished, err := a.advance(st, op, payloads[i])
		if err != nil {
			t.Fatalf("%s step %d: %v", op, i, err)
		}
		if finished != (i == len(want)-1) {
			t.Fatalf("%s step %d: finished %v", op, i, finished)
		}
	}
	a.release(false)
}

// TestLeaseActor runs a lease actor through checkout, a SWID report and
// return, with the skips of operations whose precondition does not hold
// and the resumption of a chain after a failed step.
func TestLeaseActor(t *testing.T) {
	st := testMixState(1)
	for _, op := range []string{OpReturn, OpSWID} {
		if _, skip := st.claim(op); skip != SkipNoHeldLease {
			t.Fatalf("%s before any lease: skip %q", op, skip)
		}
	}
	a, skip := st.claim(OpCheckout)
	if skip != "" {
		t.Fatal(skip)
	}
	if _, skip := st.claim(OpCheckout); skip != SkipLeasesBusy {
		t.Fatalf("second checkout with one busy actor: skip %q", skip)
	}
	// A GetQuote answer that is no order ID is a bad result.
	if _, err := a.advance(st, OpCheckout, []byte("nope")); err == nil {
		t.Fatal("GetQuote answer without an ID accepted")
	}
	// The first step succeeds, the second fails: the next checkout
	// resumes at SendQuote.
	if _, err := a.advance(st, OpCheckout, mustJSON(t, asset.IDResponse{ID: "o1"})); err != nil {
		t.Fatal(err)
	}
	a.release(false)
	a, skip = st.claim(OpCheckout)
	if skip != "" {
		t.Fatal(skip)
	}
	sp, ag := []string{"p0"}, []string{"p0", "p1"}
	lease := asset.LicensesRequest{Account: "A1", AssetID: "asset1", OrderID: "o1", Expiration: "2027-11-24 00:00:00", Licenses: []string{"mix-0"}}
	runSteps(t, st, a, OpCheckout, []mixStep{
		{member: 0, role: roleACQ, function: "order:SendQuote", endorsers: sp},
		{member: 1, role: roleTPOC, function: "order:InitiateOrder", endorsers: ag},
		{member: 1, role: roleACQ, function: "order:ApproveOrder", endorsers: ag},
		{member: 0, role: roleACQ, function: "order:AllocateLicenses", endorsers: sp},
		{member: 0, role: roleACQ, function: "order:SendLicenses", endorsers: ag, fetch: "order:GetAllocateRequestForOrder"},
	}, [][]byte{nil, nil, nil, mustJSON(t, asset.IDResponse{ID: "o1"}), mustJSON(t, lease)})
	l := st.leases[0]
	if !l.held || l.step != 0 || l.lease.Expiration != lease.Expiration {
		t.Fatalf("after checkout: %+v", l)
	}
	if _, skip := st.claim(OpCheckout); skip != SkipNoFreeLicense {
		t.Fatalf("checkout with the only license held: skip %q", skip)
	}

	a, _ = st.claim(OpSWID)
	swid := a.next(st, OpSWID)
	req, err := swid.txRequest()
	if err != nil || swid.function != "swid:ReportSWID" || !slices.Equal(swid.endorsers, []string{"p1"}) ||
		!strings.Contains(string(req.Transient[asset.RequestKey]), `"licenseId":"mix-0"`) {
		t.Fatalf("swid step %+v %v", swid, err)
	}
	runSteps(t, st, a, OpSWID, []mixStep{swid}, [][]byte{nil})

	a, _ = st.claim(OpReturn)
	if _, skip := st.claim(OpSWID); skip != SkipLeasesBusy {
		t.Fatalf("swid while the only held lease is being returned: skip %q", skip)
	}
	ret := a.next(st, OpReturn)
	if req, _ := ret.txRequest(); string(req.Transient[asset.RequestKey]) != string(mustJSON(t, lease)) {
		t.Fatalf("InitiateReturn input %s, want the allocated %s", req.Transient[asset.RequestKey], mustJSON(t, lease))
	}
	runSteps(t, st, a, OpReturn, []mixStep{
		{member: 1, role: roleTPOC, function: "order:InitiateReturn", endorsers: ag},
		{member: 0, role: roleACQ, function: "order:DeallocateLicensesFromAccount", endorsers: ag},
		{member: 0, role: roleACQ, function: "order:DeallocateLicensesFromSP", endorsers: sp},
	}, [][]byte{nil, nil, nil})
	if l.held || l.orderID != "" || l.swids != 1 {
		t.Fatalf("after return: %+v", l)
	}

	// A lost actor is never claimed again.
	a, _ = st.claim(OpCheckout)
	a.release(true)
	if _, skip := st.claim(OpCheckout); skip != SkipNoFreeLicense || st.lost() != 1 {
		t.Fatalf("lost actor: skip %q, lost %d", skip, st.lost())
	}
}

// TestVoteActor runs two ballot rounds: proposal by the service
// provider, a no from the target first and every other member, and
// certification; targets alternate between the agencies, and a vote op
// while a round is under way is skipped.
func TestVoteActor(t *testing.T) {
	st := testMixState(0)
	for _, target := range []string{"A1", "A2"} {
		a, skip := st.claim(OpVote)
		if skip != "" {
			t.Fatal(skip)
		}
		if _, skip := st.claim(OpVote); skip != SkipVoteOngoing {
			t.Fatalf("second vote: skip %q", skip)
		}
		first := a.next(st, OpVote)
		if first.function != "vote:InitiateVote" || first.args[0] != target || first.args[1] != "UNAUTHORIZED" {
			t.Fatalf("initiation %+v", first)
		}
		voters := []int{1, 0, 2} // the target first, then the others in member order
		if target == "A2" {
			voters = []int{2, 0, 1}
		}
		want := []mixStep{first}
		for _, v := range voters {
			want = append(want, mixStep{member: v, role: roleAO, function: "vote:Vote", endorsers: st.majority[v]})
		}
		want = append(want, mixStep{member: 0, role: roleAO, function: "vote:CertifyOngoingVote", endorsers: st.majority[0]})
		runSteps(t, st, a, OpVote, want, make([][]byte, len(want)))
	}
}

func TestCeilingForMix(t *testing.T) {
	rates := CryptoRates{SignPerSec: 1000, VerifyPerSec: 500}
	// Two E=1 (S=3, V=8) and two E=2 (S=4, V=12) on 3 peers, and two
	// evaluations (1 and 1 each): S = 16/4, V = 42/4.
	c := CeilingForMix(rates, map[int]int{1: 2, 2: 2}, 2, 3)
	if c.SignsPerTx != 4 || c.VerifiesPerTx != 10.5 || c.TxPerSec != 1/(4.0/1000+10.5/500) || !strings.Contains(c.Formula, "4 valid transactions") {
		t.Errorf("%+v", c)
	}
	if c := CeilingForMix(rates, map[int]int{}, 3, 3); c.TxPerSec != 0 {
		t.Errorf("no valid transaction: %+v", c)
	}
}

// TestTrackerOutcome: a record's outcome is known once it is final.
func TestTrackerOutcome(t *testing.T) {
	tr := newTracker(2)
	now := time.Now()
	valid := tr.register("v", now, 0, 1)
	tr.commit(0, "v", pb.TxValidationCode_VALID, now.Add(time.Millisecond))
	tr.commit(1, "v", pb.TxValidationCode_VALID, now.Add(3*time.Millisecond))
	conflict := tr.register("c", now, 0, 1)
	tr.commit(0, "c", pb.TxValidationCode_MVCC_READ_CONFLICT, now)
	tr.commit(1, "c", pb.TxValidationCode_MVCC_READ_CONFLICT, now)
	refused := tr.register("r", now, 0, 1)
	tr.settle(refused, FailChaincode)
	open := tr.register("o", now, 0, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for r, want := range map[*record]string{valid: "", conflict: "MVCC_READ_CONFLICT", refused: FailChaincode} {
		if got := tr.outcome(ctx, r); got != want {
			t.Errorf("outcome %q, want %q", got, want)
		}
	}
	if got := tr.lastCommit(valid); !got.Equal(now.Add(3 * time.Millisecond)) {
		t.Errorf("last commit %v", got)
	}
	done, stop := context.WithCancel(context.Background())
	stop()
	if got := tr.outcome(done, open); got != FailNoCommit {
		t.Errorf("open record after the context ended: %q", got)
	}
}
