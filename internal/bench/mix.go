package bench

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Operations of the BloSS@M mix (blossom-mix). Each is one business
// operation of one or more transactions, run in sequence (a step is sent
// once the previous one committed on every peer):
//
//	checkout  a lease of one license by an agency: order:GetQuote,
//	          SendQuote, InitiateOrder, ApproveOrder, AllocateLicenses,
//	          SendLicenses (6 transactions)
//	return    the return of a leased license: order:InitiateReturn,
//	          DeallocateLicensesFromAccount, DeallocateLicensesFromSP (3)
//	swid      swid:ReportSWID on a leased license (1)
//	query     asset:GetAssets as an agency's Technical Point of Contact,
//	          submitted as a (read-only) transaction (1)
//	vote      a ballot round: vote:InitiateVote, vote:Vote by every voter,
//	          vote:CertifyOngoingVote (2 + members)
const (
	OpCheckout = "checkout"
	OpReturn   = "return"
	OpSWID     = "swid"
	OpQuery    = "query"
	OpVote     = "vote"
)

// OpKinds are the mix's operations, in report order.
var OpKinds = []string{OpCheckout, OpReturn, OpSWID, OpQuery, OpVote}

// DefaultMix is blossom-mix's default weights: as many returns as
// checkouts so that leases cycle, a SWID report for every second lease,
// queries, and an occasional vote (votes are serialised by the chaincode:
// one ongoing vote at a time).
const DefaultMix = "checkout=30,return=30,swid=15,query=20,vote=5"

// maxWeight bounds one operation's weight.
const maxWeight = 1_000_000

// Mix is the weight of each operation: an operation is chosen for each
// scheduled slot with probability weight/total.
type Mix map[string]int

// ParseMix reads "op=weight,..." (ops of OpKinds, integer weights from 0
// to 1000000, each op at most once, total above 0); ops left out weigh 0.
func ParseMix(spec string) (Mix, error) {
	m := Mix{}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		op, w, ok := strings.Cut(part, "=")
		op = strings.TrimSpace(op)
		if !ok || !slices.Contains(OpKinds, op) {
			return nil, fmt.Errorf("bench: mix %q: want op=weight with op one of %s", part, strings.Join(OpKinds, ", "))
		}
		if _, dup := m[op]; dup {
			return nil, fmt.Errorf("bench: mix names %s twice", op)
		}
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || n < 0 || n > maxWeight {
			return nil, fmt.Errorf("bench: mix weight of %s: want an integer from 0 to %d", op, maxWeight)
		}
		m[op] = n
	}
	if m.total() == 0 {
		return nil, fmt.Errorf("bench: mix %q gives no operation a weight", spec)
	}
	return m, nil
}

func (m Mix) total() int {
	t := 0
	for _, w := range m {
		t += w
	}
	return t
}

// String is the mix in ParseMix's syntax, in OpKinds order.
func (m Mix) String() string {
	var parts []string
	for _, op := range OpKinds {
		if w := m[op]; w > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", op, w))
		}
	}
	return strings.Join(parts, ",")
}

// pick chooses an operation with probability weight/total.
func (m Mix) pick(rng *rand.Rand) string {
	x := rng.IntN(m.total())
	for _, op := range OpKinds {
		if x < m[op] {
			return op
		}
		x -= m[op]
	}
	panic("bench: mix weights changed") // unreachable: total() covers every op
}

// Skip causes: a scheduled operation whose precondition did not hold.
// SkipLeasesBusy is a shortage of actors (every actor in a state to run
// the operation was running another), so more --leases would have run
// it; the others are the actors' state: no actor was in a state to run
// it (SkipVoteOngoing: the chaincode allows one ongoing vote).
const (
	SkipLeasesBusy    = "leases-busy"     // every lease actor that could run it was busy
	SkipNoFreeLicense = "no-free-license" // checkout: every lease actor holds its license
	SkipNoHeldLease   = "no-held-lease"   // return, swid: no lease actor holds its license
	SkipVoteOngoing   = "vote-in-progress"
)

// OpStats is one operation's record in a mix run.
type OpStats struct {
	// Scheduled operations = Skipped + Started.
	Scheduled int `json:"scheduled"`
	// Skipped counts the scheduled operations whose precondition did not
	// hold, by cause (Skip*); they sent nothing.
	Skipped map[string]int `json:"skipped"`
	Started int            `json:"started"`
	// Completed operations had every transaction committed VALID.
	Completed int `json:"completed"`
	// Failed counts started operations by the cause or validation code of
	// their failing step; the actor resumes at that step next time.
	Failed map[string]int `json:"failed"`
	// Transactions sent, and of them committed VALID on every peer.
	Transactions      int `json:"transactions"`
	ValidTransactions int `json:"validTransactions"`
	// LatencyMs: from the operation's scheduled time to its last
	// transaction's commit on every peer, over completed operations.
	LatencyMs Latency `json:"latencyMs"`
	// SignsPerOp and VerifiesPerOp are the mean ECDSA counts (TxCost)
	// of a completed operation; CeilingOpsPerSec the ECDSA ceiling of a
	// load of this operation alone.
	SignsPerOp       float64 `json:"signsPerOp"`
	VerifiesPerOp    float64 `json:"verifiesPerOp"`
	CeilingOpsPerSec float64 `json:"ceilingOpsPerSec"`

	latencies       []float64
	signs, verifies int // over completed operations
}

// MixResult is a blossom-mix run's per-operation record.
type MixResult struct {
	Weights Mix    `json:"weights"`
	Leases  int    `json:"leases"`
	AssetID string `json:"assetId"`
	// OpsPerSec is completed operations over the run's window.
	OpsPerSec float64             `json:"opsPerSec"`
	Ops       map[string]*OpStats `json:"ops"`
	// Evaluations counts the queries evaluated beside the transactions
	// (order:GetAllocateRequestForOrder before each SendLicenses).
	Evaluations int `json:"evaluations"`
	// LostActors counts the actors stopped after a step whose effect is
	// unknown (a chaincode refusal, or a transaction not seen committed).
	LostActors int `json:"lostActors"`
}

func newMixResult(state *MixState) *MixResult {
	r := &MixResult{Weights: state.mix, Leases: len(state.leases), AssetID: state.AssetID, Ops: map[string]*OpStats{}}
	for _, op := range OpKinds {
		r.Ops[op] = &OpStats{Skipped: map[string]int{}, Failed: map[string]int{}}
	}
	return r
}

// finish summarises latencies and means once the run is over.
func (r *MixResult) finish(window float64) {
	completed := 0
	for _, st := range r.Ops {
		st.LatencyMs = summarize(st.latencies)
		completed += st.Completed
		if st.Completed > 0 {
			st.SignsPerOp = round3(float64(st.signs) / float64(st.Completed))
			st.VerifiesPerOp = round3(float64(st.verifies) / float64(st.Completed))
		}
	}
	if window > 0 {
		r.OpsPerSec = round3(float64(completed) / window)
	}
}

// setCeilings computes each operation's ECDSA ceiling in operations per
// second from its mean counts.
func (r *MixResult) setCeilings(rates CryptoRates, peers int) {
	if r == nil {
		return
	}
	for _, st := range r.Ops {
		if st.SignsPerOp > 0 {
			st.CeilingOpsPerSec = round3(ceilingOf(rates, st.SignsPerOp, st.VerifiesPerOp, "").TxPerSec)
		}
	}
}

// busySkips counts the operations skipped for a shortage of actors, and
// all scheduled operations.
func (r *MixResult) busySkips() (busy, scheduled int) {
	for _, st := range r.Ops {
		busy += st.Skipped[SkipLeasesBusy]
		scheduled += st.Scheduled
	}
	return busy, scheduled
}

// causes formats a count map as "a=1 b=2", sorted.
func causes(m map[string]int) string {
	var out []string
	for k, v := range m {
		out = append(out, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}
