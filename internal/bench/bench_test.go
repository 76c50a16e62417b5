package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

func TestParseWorkload(t *testing.T) {
	tests := []struct {
		name string
		keys int
		want Workload
		err  string
	}{
		{"blind-100", 0, Workload{Name: "blind-100", Kind: KindBlind, ValueSize: 100}, ""},
		{"blind-1k", 0, Workload{Name: "blind-1k", Kind: KindBlind, ValueSize: 1024}, ""},
		{"rmw", 1000, Workload{Name: "rmw", Kind: KindRMW, Keys: 1000}, ""},
		{"rmw", 0, Workload{}, "at least one key"},
		{"hot-8", 0, Workload{Name: "hot-8", Kind: KindHot, Keys: 8}, ""},
		{"hot-0", 0, Workload{}, "hot-N"},
		{"hot-x", 0, Workload{}, "hot-N"},
		{"blind", 0, Workload{}, "unknown workload"},
		{"blossom-query", 0, Workload{Name: "blossom-query", Kind: KindQuery}, ""},
	}
	for _, tt := range tests {
		got, err := ParseWorkload(tt.name, tt.keys)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: error %v, want %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
}

func FuzzParseWorkload(f *testing.F) {
	for _, s := range []string{"blind-100", "rmw", "hot-1", "hot-99999999999999999999", "", "blossom-query"} {
		f.Add(s, 10)
	}
	f.Fuzz(func(t *testing.T, name string, keys int) {
		w, err := ParseWorkload(name, keys)
		if err != nil {
			return
		}
		if w.Name != name || ((w.Kind == KindRMW || w.Kind == KindHot) && w.Keys < 1) {
			t.Fatalf("accepted %q as %+v", name, w)
		}
	})
}

func TestCeilingFor(t *testing.T) {
	tests := []struct {
		endorsers, peers int
		s, v             int
	}{
		{2, 3, 4, 12}, // MAJORITY of 3
		{3, 5, 5, 24}, // MAJORITY of 5
		{1, 3, 3, 8},  // 1-of-any, 3 peers
	}
	for _, tt := range tests {
		c := CeilingFor(CryptoRates{SignPerSec: 1000, VerifyPerSec: 500}, tt.endorsers, tt.peers)
		want := 1 / (float64(tt.s)/1000 + float64(tt.v)/500)
		if c.SignsPerTx != float64(tt.s) || c.VerifiesPerTx != float64(tt.v) || c.TxPerSec != want {
			t.Errorf("E=%d P=%d: %+v, want S=%d V=%d %.3f", tt.endorsers, tt.peers, c, tt.s, tt.v, want)
		}
	}
	if c := CeilingFor(CryptoRates{}, 2, 3); c.TxPerSec != 0 {
		t.Errorf("no rates gave ceiling %v", c.TxPerSec)
	}
}

func TestMeasureCrypto(t *testing.T) {
	r, err := MeasureCrypto(50 * time.Millisecond)
	if err != nil || r.SignPerSec <= 0 || r.VerifyPerSec <= 0 || r.Workers < 1 {
		t.Fatalf("%+v, %v", r, err)
	}
}

func TestSummarize(t *testing.T) {
	ms := make([]float64, 100)
	for i := range ms {
		ms[i] = float64(100 - i) // 100 .. 1, unsorted
	}
	got := summarize(ms)
	want := Latency{P50: 50, P95: 95, P99: 99, Max: 100, N: 100}
	if got != want {
		t.Errorf("summarize: %+v, want %+v", got, want)
	}
	if (summarize(nil) != Latency{}) {
		t.Error("empty summary not zero")
	}
}

// TestTracker checks how transactions are classified: valid with
// latencies per peer, invalid by code, failed before ordering, an
// ambiguous broadcast failure that committed after all, never committed.
func TestTracker(t *testing.T) {
	tr := newTracker(2)
	start := time.Now()
	ms := func(n int) time.Time { return start.Add(time.Duration(n) * time.Millisecond) }
	valid := tr.register("a", start, 1, 1)
	tr.acknowledge(valid)
	tr.commit(0, "a", pb.TxValidationCode_VALID, ms(30))
	tr.commit(1, "a", pb.TxValidationCode_VALID, ms(10))
	tr.commit(1, "a", pb.TxValidationCode_VALID, ms(99)) // a duplicate delivery changes nothing
	tr.register("b", start, 0, 1)
	tr.commit(0, "b", pb.TxValidationCode_MVCC_READ_CONFLICT, ms(5))
	tr.commit(1, "b", pb.TxValidationCode_MVCC_READ_CONFLICT, ms(6))
	refused := tr.register("c", start, 0, 1)
	tr.settle(refused, FailEndorse)
	late := tr.register("d", start, 0, 1)
	tr.settle(late, FailBroadcast)
	tr.commit(0, "d", pb.TxValidationCode_VALID, ms(20))
	tr.commit(1, "d", pb.TxValidationCode_VALID, ms(20))
	tr.register("e", start, 0, 1) // never committed
	tr.fail(start, 0, FailOverload)
	tr.commit(0, "unknown", pb.TxValidationCode_VALID, ms(1))

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := tr.waitAllCommitted(ctx); err == nil {
		t.Fatal("waitAllCommitted returned with e outstanding")
	}
	res := tr.result(start, Options{Workload: Workload{Name: "x"}, Rate: 6, Duration: time.Second})
	if res.Scheduled != 6 || res.Committed != 3 || res.Valid != 2 {
		t.Errorf("scheduled %d committed %d valid %d, want 6 3 2", res.Scheduled, res.Committed, res.Valid)
	}
	want := map[string]int{"MVCC_READ_CONFLICT": 1, FailEndorse: 1, FailNoCommit: 1, FailOverload: 1}
	if len(res.Failures) != len(want) {
		t.Errorf("failures %v, want %v", res.Failures, want)
	}
	for k, v := range want {
		if res.Failures[k] != v {
			t.Errorf("failures %v, want %v", res.Failures, want)
		}
	}
	if res.LatencyMs.Max != 20 || res.LatencyAllPeersMs.Max != 30 || res.LatencyMs.P50 != 10 {
		t.Errorf("latencies own %+v all %+v", res.LatencyMs, res.LatencyAllPeersMs)
	}
	if res.ValidTxPerSec != 2 {
		t.Errorf("valid tps %v, want 2 over the 1 s duration", res.ValidTxPerSec)
	}
}
