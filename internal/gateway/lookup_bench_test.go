package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/gateway"
	"github.com/blossom-ledger/blossom/internal/gateway/gatewaytest"
)

// BenchmarkLookups compares, in one run, transaction lookups per second
// through the gateway (GET .../transactions/{txId} over HTTPS with a
// bearer token: authentication, binding check, the own peer's no-wait
// commit status and block, decoding, JSON) with the same two peer calls
// made by the Go client directly. 16 callers look up 64 committed
// transactions round-robin; the ratio is gateway over direct.
func BenchmarkLookups(b *testing.B) {
	const inflight = 16
	f := newFixture(b, gatewaytest.Options{})
	var txIDs []string
	for i := 0; i < 64; i++ {
		a := f.do(b, "POST", kvPath+"submit", f.token, invoke("kv:Put", fmt.Sprintf("lk%d", i), "v"))
		if a.status != 200 {
			b.Fatalf("submit: %d %s", a.status, a.body)
		}
		var res gateway.SubmitResponse
		if err := json.Unmarshal(a.body, &res); err != nil {
			b.Fatal(err)
		}
		txIDs = append(txIDs, res.TxID)
	}
	direct := f.Net.Client(b, 0)
	ctx := context.Background()
	modes := []struct {
		name string
		op   func(txID string) error
	}{
		{"direct", func(txID string) error {
			st, err := direct.TxStatus(ctx, "", "blossom", txID)
			if err != nil {
				return err
			}
			_, err = direct.Block(ctx, "", "blossom", st.Block)
			return err
		}},
		{"gateway", func(txID string) error {
			if a := f.do(b, "GET", "/api/v1/channels/blossom/transactions/"+txID, f.token, nil); a.status != 200 {
				return fmt.Errorf("lookup: %d %s", a.status, a.body)
			}
			return nil
		}},
	}
	rates := map[string]float64{}
	b.ResetTimer()
	for _, m := range modes {
		var next atomic.Int64
		var failed atomic.Pointer[error]
		start := time.Now()
		var wg sync.WaitGroup
		for w := 0; w < inflight; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
					if err := m.op(txIDs[int(i)%len(txIDs)]); err != nil {
						failed.CompareAndSwap(nil, &err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if err := failed.Load(); err != nil {
			b.Fatal(*err)
		}
		rates[m.name] = float64(b.N) / time.Since(start).Seconds()
	}
	b.StopTimer()
	b.ReportMetric(rates["direct"], "direct-lookups/s")
	b.ReportMetric(rates["gateway"], "gateway-lookups/s")
	b.ReportMetric(rates["gateway"]/rates["direct"], "gateway/direct")
}
