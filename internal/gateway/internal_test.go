package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/client"
	"github.com/blossom-ledger/blossom/internal/policy"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

func TestRateLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newRateLimiter(2, 3, 2)
	for i := 0; i < 3; i++ {
		if !l.allow("a", now) {
			t.Fatalf("request %d within the burst refused", i)
		}
	}
	if l.allow("a", now) {
		t.Fatal("request beyond the burst allowed")
	}
	if !l.allow("b", now) {
		t.Fatal("another user is limited by a's bucket")
	}
	if l.allow("c", now) {
		t.Fatal("a third user allowed beyond maxUsers while both buckets are in use")
	}
	if !l.allow("a", now.Add(500*time.Millisecond)) {
		t.Fatal("a token did not refill after 0.5 s at 2/s")
	}
	if l.allow("a", now.Add(500*time.Millisecond)) {
		t.Fatal("more than one token refilled")
	}
	if !l.allow("c", now.Add(time.Hour)) {
		t.Fatal("full buckets were not pruned for a new user")
	}
}

func TestParsePolicy(t *testing.T) {
	tests := []struct {
		in       string
		majority bool
		member   string
		ok       bool
	}{
		{"", true, "", true},
		{"MAJORITY Endorsement", true, "", true},
		{"SAMSMSP.peer", false, "SAMSMSP", true},
		{".peer", false, "", false},
		{"OR('A.peer','B.peer')", false, "", false},
		{"ANY Endorsement", false, "", false},
	}
	for _, tc := range tests {
		p, err := parsePolicy(tc.in)
		if (err == nil) != tc.ok || (tc.ok && (p.majority != tc.majority || p.member != tc.member)) {
			t.Errorf("parsePolicy(%q) = %+v, %v", tc.in, p, err)
		}
	}
}

func TestPlan(t *testing.T) {
	committed := map[string]string{ // chaincode -> committed definition's policy
		"pdc":   "OR('D.peer', 'E.peer')",
		"both":  "AND('A.peer', 'C.peer')",
		"maj":   "MAJORITY Endorsement",
		"own":   "OR('B.peer', 'A.peer')",
		"asset": "'E.peer'", // the configured policy wins
		"none":  "'Z.peer'", // no known member can endorse
	}
	lookups := 0
	g := &Gateway{log: slog.New(slog.DiscardHandler), cfg: Config{MSPID: "B", Members: map[string][]string{
		"A": {"A/peer0"}, "B": {"B/peer0"}, "C": {"C/peer0"}, "D": {"D/peer0"}, "E": {"E/peer0"},
	}, Policies: map[string]string{"asset": "A.peer"}}}
	g.policies.lookup = func(_ context.Context, channel, chaincode string) (*pb.Policy, error) {
		lookups++
		text, ok := committed[chaincode]
		if !ok || channel != "blossom" {
			return nil, errors.New("no committed definition")
		}
		return policy.Parse(text)
	}
	tests := []struct {
		chaincode string
		override  []string
		want      []string
	}{
		{"kv", nil, []string{"B/peer0", "A/peer0", "C/peer0"}}, // no definition: own first, majority of 5
		{"asset", nil, []string{"A/peer0"}},
		{"kv", []string{"E", "B", "E"}, []string{"B/peer0", "E/peer0"}},
		{"pdc", nil, []string{"D/peer0"}},
		{"both", nil, []string{"A/peer0", "C/peer0"}},
		{"maj", nil, []string{"B/peer0", "A/peer0", "C/peer0"}},
		{"own", nil, []string{"B/peer0"}},
	}
	for _, tc := range tests {
		got, e := g.plan(context.Background(), "blossom", tc.chaincode, tc.override)
		if e != nil || !slices.Equal(got, tc.want) {
			t.Fatalf("plan(%s, %v) = %v, %v; want %v", tc.chaincode, tc.override, got, e, tc.want)
		}
	}
	if _, e := g.plan(context.Background(), "blossom", "kv", []string{"Z"}); e == nil || e.status != http.StatusBadRequest {
		t.Fatalf("unknown member: %v", e)
	}
	if _, e := g.plan(context.Background(), "blossom", "none", nil); e == nil || e.code != "NO_ENDORSER" {
		t.Fatalf("unsatisfiable policy: %v", e)
	}
	// A definition's policy is reused within the TTL; a missing one is
	// looked up again.
	before := lookups
	g.plan(context.Background(), "blossom", "pdc", nil)
	g.plan(context.Background(), "blossom", "kv", nil)
	if lookups != before+1 {
		t.Fatalf("%d lookups for a cached and a missing definition, want 1", lookups-before)
	}
}

// FuzzDecodeInvoke feeds arbitrary bodies to the request decoder: it
// never panics, and whatever it accepts is within bounds.
func FuzzDecodeInvoke(f *testing.F) {
	f.Add([]byte(`{"function":"kv:Put","args":["a","b"],"transient":{"k":"v"},"endorsingMembers":["Org1MSP"],"minBlock":3}`))
	f.Add([]byte(`{"function":`))
	f.Add([]byte(`{"function":"f","x":1}`))
	f.Add([]byte(`{"function":"f"} []`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		w := httptest.NewRecorder()
		r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
		var req InvokeRequest
		if e := decodeJSON(r, &req); e != nil {
			if e.status != http.StatusBadRequest && e.status != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d", e.status)
			}
			if bytes.Contains([]byte(e.message), body) && len(body) > 16 {
				t.Fatal("the error echoes the body")
			}
			return
		}
		if e := checkInvoke(&req); e == nil {
			if req.Function == "" || len(req.Args) > maxArgs || len(req.Transient) > maxTransientEntries {
				t.Fatal("out-of-bounds request accepted")
			}
		}
	})
}

func TestStreamSlots(t *testing.T) {
	s := &streamSlots{perUser: 2, maxTotal: 3, count: map[string]int{}}
	steps := []struct {
		acquire bool
		user    string
		want    bool
	}{
		{true, "a", true},
		{true, "a", true},
		{true, "a", false}, // a's limit
		{true, "b", true},
		{true, "c", false}, // the total
		{false, "a", true},
		{true, "c", true},
		{true, "b", false}, // the total again
	}
	for i, st := range steps {
		if !st.acquire {
			s.release(st.user)
			continue
		}
		if got := s.acquire(st.user); got != st.want {
			t.Fatalf("step %d: acquire(%s) = %v", i, st.user, got)
		}
	}
	if s.total != 3 || s.count["a"] != 1 || s.count["b"] != 1 || s.count["c"] != 1 {
		t.Fatalf("counts %d %v", s.total, s.count)
	}
}

// TestMapBroadcastError: the ordering service's refusals map to HTTP
// statuses a caller can act on (503 for "retry later").
func TestMapBroadcastError(t *testing.T) {
	tests := []struct {
		status   pb.Status
		info     string
		wantHTTP int
		wantCode string
	}{
		{pb.Status_SERVICE_UNAVAILABLE, "OVERLOADED: 4096 envelopes pending", http.StatusServiceUnavailable, "ORDERER_UNAVAILABLE"},
		{pb.Status_SERVICE_UNAVAILABLE, "no Raft leader", http.StatusServiceUnavailable, "ORDERER_UNAVAILABLE"},
		{pb.Status_CONFLICT, "DUPLICATE_TXID: tx", http.StatusConflict, "ORDERER_CONFLICT"},
		{pb.Status_FORBIDDEN, "creator not allowed", http.StatusBadGateway, "ORDERER_REFUSED"},
	}
	for _, tt := range tests {
		err := fmt.Errorf("broadcast failed on every orderer: %w", &client.BroadcastError{Orderer: "o1", Status: tt.status, Info: tt.info})
		got := mapError(err)
		if got.status != tt.wantHTTP || got.code != tt.wantCode {
			t.Errorf("%s %q: %d %s, want %d %s", tt.status, tt.info, got.status, got.code, tt.wantHTTP, tt.wantCode)
		}
	}
}
