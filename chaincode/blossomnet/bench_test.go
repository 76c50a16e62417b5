package blossomnet

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/chaincode/asset"
	"github.com/blossom-ledger/blossom/internal/testutil/ecdsarate"
)

// The costs of one lease (buy of a new order) in transactions and in
// ECDSA operations, all on this machine. Transactions: GetQuote,
// SendQuote, InitiateOrder, ApproveOrder, AllocateLicenses, SendLicenses;
// three have one endorser, three two. A transaction with e endorsers
// costs e verifications of the proposal by the endorsers, one of the
// envelope by the receiving orderer and 1+e on each of the three peers
// (8 or 12), and 2+e signatures (proposal, envelope, endorsements). The
// four queries (GetOrder twice, GetLicensesToAllocateForOrder,
// GetAllocateRequestForOrder) cost one signature and one verification
// each. Block signatures and TLS handshakes are left out.
const (
	leaseTransactions  = 6
	leaseVerifications = 3*8 + 3*12 + 4
	leaseSignatures    = 3*3 + 3*4 + 4
)

// BenchmarkLicenseJourney measures committed license-journey transactions
// per second on a three-member network running the wasm chaincodes: each
// op is one lease of one license (the six transactions of buy, with their
// queries), every transaction endorsed by the service provider's peer
// (and the agency's where the journey needs it), ordered and committed
// on all three peers before the next step. "leases=N" leases run
// concurrently, alternating between the two agencies; each has its own
// asset, so that concurrent allocations never read the same license
// markers. A lease is a chain of dependent steps, each waiting for a
// block (the batch timeout is 100 ms), so concurrency sets the rate
// until the machine saturates. Beside it, the same
// run measures the machine's ECDSA P-256 sign and verify rates on every
// CPU (before and after the timed part, averaged).
//
//	go test -run '^$' -bench LicenseJourney -benchtime 96x ./chaincode/blossomnet
func BenchmarkLicenseJourney(b *testing.B) {
	for _, workers := range []int{8, 32} {
		b.Run(fmt.Sprintf("leases=%d", workers), func(b *testing.B) { benchmarkLeases(b, workers) })
	}
}

func benchmarkLeases(b *testing.B, benchWorkers int) {
	n := Start(b)
	bootstrap(b, n)
	for _, m := range []int{1, 2} {
		apply(b, n, m)
		admit(b, n, m, initiateVote(b, n, m))
	}
	perWorker := (b.N + benchWorkers - 1) / benchWorkers
	assets := make([]string, benchWorkers)
	for w := range assets {
		var id asset.IDResponse
		if err := json.Unmarshal(n.Submit(b, assetCall(sp, lo, "asset:AddAsset", map[string]any{
			"name": "bench", "endDate": "2099-12-31 23:59:59", "licenses": newLicenses(b, perWorker)}, sp)), &id); err != nil {
			b.Fatal(err)
		}
		assets[w] = id.ID
	}
	before, err := ecdsarate.Measure(500 * time.Millisecond)
	if err != nil {
		b.Fatal(err)
	}

	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := range benchWorkers {
		wg.Go(func() {
			for i := w; i < b.N; i += benchWorkers {
				buy(b, n, 1+w%2, assets[w], "", 1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()

	after, err := ecdsarate.Measure(500 * time.Millisecond)
	if err != nil {
		b.Fatal(err)
	}
	sign, verify := (before.SignPerSec+after.SignPerSec)/2, (before.VerifyPerSec+after.VerifyPerSec)/2
	ceiling := leaseTransactions / (leaseSignatures/sign + leaseVerifications/verify)
	txPerSec := float64(b.N*leaseTransactions) / elapsed.Seconds()
	b.ReportMetric(txPerSec, "tx/s")
	b.ReportMetric(sign, "sign/s")
	b.ReportMetric(verify, "verify/s")
	b.ReportMetric(ceiling, "ceiling-tx/s")
	b.ReportMetric(txPerSec/ceiling, "of-ceiling")
}
