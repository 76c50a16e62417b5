package gateway_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/gateway"
	"github.com/blossom-ledger/blossom/internal/gateway/gatewaytest"
	"github.com/blossom-ledger/blossom/internal/txn"
)

// BenchmarkGatewayThroughput compares, in one run on one 3-member
// network, transactions per second submitted (a) by the Go client straight
// to the peers and orderers, (b) through the gateway with custodial
// signing (bearer token; the gateway signs with the user's wallet key),
// and (c) through the gateway's client-signed routes (gateway.Remote, as
// `blossom tx` uses them). Each op is a kv:Put of a 100-byte value to its
// own key, endorsed by two peers (MAJORITY of 3), answered once the own
// peer committed it; `inflight` callers submit concurrently. Each mode
// runs b.N transactions; ratios are gateway tx/s over direct tx/s.
func BenchmarkGatewayThroughput(b *testing.B) {
	for _, inflight := range []int{16, 64} {
		b.Run(fmt.Sprintf("inflight=%d", inflight), func(b *testing.B) {
			benchmarkGateway(b, inflight)
		})
	}
}

func benchmarkGateway(b *testing.B, inflight int) {
	f := newFixture(b, gatewaytest.Options{})
	app := f.AppCredential(b, "bench-app", "Acquisition Officer")
	appHTTP := f.HTTPClient(&app.TLS)
	appHTTP.Transport.(*http.Transport).MaxIdleConnsPerHost = inflight
	f.http.Transport.(*http.Transport).MaxIdleConnsPerHost = inflight
	remote := &gateway.Remote{URL: f.URL, HTTP: appHTTP, Signer: app.Signer}
	direct := f.Net.Client(b, 0)
	peers := f.Net.PeerNames(0, 1)
	raw := make([]byte, 50)
	rand.Read(raw)
	value := hex.EncodeToString(raw) // 100 bytes
	ctx := context.Background()
	var seq atomic.Int64

	modes := []struct {
		name string
		op   func(key string) error
	}{
		{"direct", func(key string) error {
			_, err := direct.Submit(ctx, txn.Request{ChannelID: "blossom", Chaincode: "kv", Function: "kv:Put",
				Args: [][]byte{[]byte(key), []byte(value)}}, peers)
			return err
		}},
		{"custodial", func(key string) error {
			a := f.do(b, "POST", kvPath+"submit", f.token, invoke("kv:Put", key, value))
			if a.status != 200 {
				return fmt.Errorf("custodial submit: %d %s", a.status, a.body)
			}
			return nil
		}},
		{"client-signed", func(key string) error {
			res, err := remote.Submit(ctx, txn.Request{ChannelID: "blossom", Chaincode: "kv", Function: "kv:Put",
				Args: [][]byte{[]byte(key), []byte(value)}}, nil, nil)
			if err == nil && res.Status != "VALID" {
				err = fmt.Errorf("status %s", res.Status)
			}
			return err
		}},
	}
	// Warm up every path (connections, identity caches, enrollment).
	for _, m := range modes {
		if err := m.op(fmt.Sprintf("warm-%s", m.name)); err != nil {
			b.Fatal(err)
		}
	}
	rates := map[string]float64{}
	b.ResetTimer()
	for _, m := range modes {
		var next atomic.Int64
		var mu sync.Mutex
		var failed error
		start := time.Now()
		var wg sync.WaitGroup
		for w := 0; w < inflight; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= int64(b.N) {
					if err := m.op(fmt.Sprintf("k%d", seq.Add(1))); err != nil {
						mu.Lock()
						if failed == nil {
							failed = err
						}
						mu.Unlock()
						return
					}
				}
			}()
		}
		wg.Wait()
		if failed != nil {
			b.Fatal(failed)
		}
		rates[m.name] = float64(b.N) / time.Since(start).Seconds()
	}
	b.StopTimer()
	b.ReportMetric(rates["direct"], "direct-tx/s")
	b.ReportMetric(rates["custodial"], "custodial-tx/s")
	b.ReportMetric(rates["client-signed"], "signed-tx/s")
	b.ReportMetric(rates["custodial"]/rates["direct"], "custodial/direct")
	b.ReportMetric(rates["client-signed"]/rates["direct"], "signed/direct")
}
