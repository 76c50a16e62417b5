package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/bench"
	"github.com/blossom-ledger/blossom/internal/client"
	"github.com/blossom-ledger/blossom/internal/network/localnet"
	"github.com/blossom-ledger/blossom/internal/txn"
)

// decodeReport parses `blossom bench --json` output strictly.
func decodeReport(t *testing.T, stdout string) *bench.Report {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	var r bench.Report
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("bench JSON does not parse: %v\n%s", err, stdout)
	}
	return &r
}

// checkResult asserts a light load committed in full and measured
// something.
func checkResult(t *testing.T, r *bench.Result, members int) {
	t.Helper()
	if r.Members != members || r.Scheduled == 0 || r.Valid != r.Scheduled || !r.Drained || len(r.Failures) != 0 {
		t.Errorf("%s: members %d scheduled %d valid %d drained %v failures %v", r.Workload.Name, r.Members, r.Scheduled, r.Valid, r.Drained, r.Failures)
	}
	if r.ValidTxPerSec <= 0 || r.LatencyMs.P99 <= 0 || r.LatencyAllPeersMs.Max < r.LatencyMs.Max || r.LatencyAllPeersMs.N != r.Valid {
		t.Errorf("%s: tps %v own %+v all %+v", r.Workload.Name, r.ValidTxPerSec, r.LatencyMs, r.LatencyAllPeersMs)
	}
	if r.SignPerSec <= 0 || r.VerifyPerSec <= 0 || r.CeilingTxPerSec <= 0 || r.Ceiling.Formula == "" {
		t.Errorf("%s: sign %v verify %v ceiling %v %+v", r.Workload.Name, r.SignPerSec, r.VerifyPerSec, r.CeilingTxPerSec, r.Ceiling)
	}
}

// contractFields are the result fields DESIGN.md §10 promises scripts.
var contractFields = []string{"validTxPerSec", "ceilingTxPerSec", "signPerSec", "verifyPerSec", "latencyMs", "failures", "machine", "commit"}

// checkContract asserts, on the raw JSON, that every result and (for a
// single result) the top level carry the §10 fields with their shapes,
// the same values in both places, and this build's commit.
func checkContract(t *testing.T, stdout string, results int) {
	t.Helper()
	var top map[string]any
	if err := json.Unmarshal([]byte(stdout), &top); err != nil {
		t.Fatal(err)
	}
	list, _ := top["results"].([]any)
	if len(list) != results {
		t.Fatalf("%d results, want %d", len(list), results)
	}
	objects := []map[string]any{}
	for _, x := range list {
		objects = append(objects, x.(map[string]any))
	}
	if results == 1 {
		objects = append(objects, top)
	}
	commit := bench.BuildCommit()
	for i, o := range objects {
		for _, k := range contractFields {
			if _, ok := o[k]; !ok {
				t.Errorf("object %d: no %q", i, k)
			}
		}
		for _, k := range []string{"validTxPerSec", "ceilingTxPerSec", "signPerSec", "verifyPerSec"} {
			if v, ok := o[k].(float64); !ok || v <= 0 {
				t.Errorf("object %d: %s = %v", i, k, o[k])
			}
		}
		lat, _ := o["latencyMs"].(map[string]any)
		for _, k := range []string{"p50", "p95", "p99", "max"} {
			if v, ok := lat[k].(float64); !ok || v <= 0 {
				t.Errorf("object %d: latencyMs.%s = %v", i, k, lat[k])
			}
		}
		if _, ok := o["failures"].(map[string]any); !ok {
			t.Errorf("object %d: failures %v", i, o["failures"])
		}
		m, _ := o["machine"].(map[string]any)
		if n, _ := m["numCpu"].(float64); n < 1 || m["os"] == "" || m["cpuModel"] == nil {
			t.Errorf("object %d: machine %v", i, m)
		}
		if o["commit"] != commit {
			t.Errorf("object %d: commit %v, want %q", i, o["commit"], commit)
		}
	}
	if results == 1 {
		single, _ := json.Marshal(list[0])
		delete(top, "results")
		whole, _ := json.Marshal(top)
		if string(single) != string(whole) {
			t.Errorf("top level differs from the single result:\n%s\n%s", whole, single)
		}
	}
}

// TestBenchSmokeJSON is CI's 10-second smoke workload against the
// in-process network: its JSON parses and every transaction commits.
func TestBenchSmokeJSON(t *testing.T) {
	code, stdout, stderr := runMain("bench", "--duration", "10s", "--rate", "20", "--workload", "blind-100", "--json",
		"--crypto-time", "100ms", "--dir", t.TempDir())
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := decodeReport(t, stdout)
	if len(r.Results) != 1 || r.Machine.NumCPU < 1 {
		t.Fatalf("report: %+v", r)
	}
	checkResult(t, r.Results[0], 3)
	checkContract(t, stdout, 1)
	if r.Results[0].Scheduled != 200 || r.Results[0].System.Scope != "network+load generator" || r.Results[0].System.CPUSeconds <= 0 {
		t.Errorf("scheduled %d system %+v", r.Results[0].Scheduled, r.Results[0].System)
	}
}

// TestBenchMix runs blossom-mix for a few seconds against the in-process
// network, whose peers then run the BloSS@M chaincodes: PrepareMix
// bootstraps and onboards the agencies, adds the asset and checks out 4
// of the 8 licenses (--held 0.5), and every operation of the mix commits
// VALID at least once, with per-operation counts that add up to the run's
// transactions. With seed 7 the first draws are query, query, swid,
// return, ..., checkout (11th), vote (17th): each operation's first draw
// finds a free actor in its state whatever the chains' speed (no more
// than one return or swid before it can hold one of the 4 held leases),
// so only the drain bounds the wait for its commits.
func TestBenchMix(t *testing.T) {
	code, stdout, stderr := runMain("bench", "--workload", "blossom-mix", "--rate", "10", "--duration", "5s", "--leases", "8",
		"--mix", "checkout=3,return=2,swid=2,query=2,vote=1", "--seed", "7", "--batch-timeout", "20ms",
		"--json", "--crypto-time", "50ms", "--dir", t.TempDir())
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := decodeReport(t, stdout)
	checkContract(t, stdout, 1)
	checkMix(t, r.Result)
	if r.System.Scope != "network+load generator" || r.Workload.Mix != "checkout=3,return=2,swid=2,query=2,vote=1" {
		t.Errorf("scope %q mix %q", r.System.Scope, r.Workload.Mix)
	}
}

// checkMix asserts that every operation of a blossom-mix result
// completed at least once and that its counts add up.
func checkMix(t *testing.T, r *bench.Result) {
	t.Helper()
	m := r.Mix
	if m == nil || m.Leases == 0 || m.AssetID == "" {
		t.Fatalf("mix record %+v", m)
	}
	txs, valid := 0, 0
	for _, op := range bench.OpKinds {
		st := m.Ops[op]
		if st == nil || st.Completed < 1 || st.ValidTransactions < st.Completed || st.LatencyMs.N != st.Completed || st.SignsPerOp <= 0 || st.CeilingOpsPerSec <= 0 {
			t.Errorf("%s: %+v", op, st)
			continue
		}
		skipped := 0
		for _, n := range st.Skipped {
			skipped += n
		}
		if st.Scheduled != skipped+st.Started {
			t.Errorf("%s: scheduled %d, skipped %d, started %d", op, st.Scheduled, skipped, st.Started)
		}
		txs += st.Transactions
		valid += st.ValidTransactions
	}
	if valid != r.Valid || txs != r.Scheduled-r.Failures[bench.FailOverload] || r.CeilingTxPerSec <= 0 || !strings.Contains(r.Ceiling.Formula, "valid transactions") {
		t.Errorf("ops sent %d (%d valid); run scheduled %d (%d valid), failures %v, ceiling %+v", txs, valid, r.Scheduled, r.Valid, r.Failures, r.Ceiling)
	}
	// A checkout is six transactions, a return three, a SWID report and
	// a query one each, whatever the endorsers.
	for op, n := range map[string]int{bench.OpCheckout: 6, bench.OpReturn: 3, bench.OpSWID: 1, bench.OpQuery: 1} {
		if st := m.Ops[op]; st != nil && len(st.Failed) == 0 && st.Transactions != n*st.Completed {
			t.Errorf("%s: %d transactions for %d completed", op, st.Transactions, st.Completed)
		}
	}
}

// TestBenchDevnet loads a network described by devnet.json, started here
// in-process, as the members' "acq" users; the table output names every
// workload.
func TestBenchDevnet(t *testing.T) {
	dir := t.TempDir()
	l, err := localnet.Create(localnet.Options{Dir: filepath.Join(dir, "net"), BatchTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	net, err := l.Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { net.Close() })
	if err := net.WaitForLeader(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(dir, "ca-bundle.pem")
	if err := os.WriteFile(bundle, l.CABundle(), 0o644); err != nil {
		t.Fatal(err)
	}
	dn := Devnet{Ready: true, Channel: l.Channel, CABundle: bundle}
	for _, m := range l.Members {
		dn.Orderers = append(dn.Orderers, "grpcs://"+m.OrdererAddr)
		dn.Members = append(dn.Members, DevnetMember{Name: strings.ToLower(m.MSPID), MSPID: m.MSPID, Peers: []string{"grpcs://" + m.PeerAddr},
			Users: []DevnetUser{{Name: "acq", Role: "Acquisition Officer", Password: "x", Cert: m.UserCert, Key: m.UserKey}}})
	}
	data, _ := json.Marshal(dn)
	if err := os.WriteFile(filepath.Join(dir, DevnetFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runMain("bench", "--devnet", dir, "--duration", "2s", "--rate", "20", "--workload", "blind-1k,hot-4,rmw",
		"--keys", "2500", "--json", "--crypto-time", "50ms")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := decodeReport(t, stdout)
	if len(r.Results) != 3 || r.Result != nil {
		t.Fatalf("%d results, top-level result %v", len(r.Results), r.Result != nil)
	}
	checkContract(t, stdout, 3)
	// rmw reads keys r/0..r/2499 that the preload (two kv:Fill
	// transactions) wrote: each of its transactions commits, and the last
	// preloaded key holds "0".
	rmw := r.Results[2]
	if rmw.Valid == 0 || rmw.Committed+rmw.Failures[bench.FailMismatch] != rmw.Scheduled {
		t.Errorf("rmw: scheduled %d committed %d valid %d failures %v", rmw.Scheduled, rmw.Committed, rmw.Valid, rmw.Failures)
	}
	cfg, err := l.ClientConfig(0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := client.Connect(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if v, err := cl.Evaluate(ctx, txn.Request{Chaincode: "kv", Function: "kv:Get", Args: [][]byte{[]byte("r/2499")}}); err != nil || len(v) == 0 {
		t.Errorf("preloaded r/2499 = %q, %v", v, err)
	}
	checkResult(t, r.Results[0], 3)
	if r.Results[0].System.Scope != "load generator only" {
		t.Errorf("scope %q", r.Results[0].System.Scope)
	}
	hot := r.Results[1]
	if hot.Committed != hot.Scheduled-hot.Failures[bench.FailMismatch]-hot.Failures[bench.FailEndorse] || hot.Valid == 0 {
		t.Errorf("hot-4: scheduled %d committed %d valid %d failures %v", hot.Scheduled, hot.Committed, hot.Valid, hot.Failures)
	}
}

// TestBenchFindMax searches, by default (no --rate), the highest rate the
// in-process network keeps up with in 1-second steps: 10, 20 and 40 tx/s
// with a lax p99 bound. The best step is reported at the top level with
// the search's record; then a bound no network meets (p99 <= 1 ms) makes
// every step fail down to 1 tx/s, and bench says so and exits 1 after
// printing the report.
func TestBenchFindMax(t *testing.T) {
	code, stdout, stderr := runMain("bench", "--duration", "1s", "--start-rate", "10", "--max-rate", "40", "--max-p99", "10s",
		"--json", "--crypto-time", "50ms", "--dir", t.TempDir())
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := decodeReport(t, stdout)
	checkContract(t, stdout, 1)
	fm := r.FindMax
	if fm == nil || len(fm.Steps) == 0 || !strings.Contains(fm.Criterion, "p99") || fm.StepSeconds != 1 {
		t.Fatalf("findMax %+v", fm)
	}
	best := 0.0
	for _, s := range fm.Steps {
		if s.KeptUp {
			best = max(best, s.OfferedRate)
		}
		if s.KeptUp != (s.Why == "") || (s.KeptUp && (s.Valid < s.Scheduled*95/100 || s.P99Ms > 10000)) {
			t.Errorf("step %+v", s)
		}
	}
	if best == 0 || fm.BestRate != best || r.OfferedRate != best || !strings.Contains(stderr, "kept up") {
		t.Errorf("best %v, record %v, reported %v; stderr %s", best, fm.BestRate, r.OfferedRate, stderr)
	}
	checkResult(t, r.Result, 3)

	code, stdout, stderr = runMain("bench", "--find-max", "--duration", "1s", "--start-rate", "4", "--max-p99", "1ms",
		"--json", "--crypto-time", "50ms", "--dir", t.TempDir())
	if code != 1 || !strings.Contains(stderr, "kept up with no offered rate") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r = decodeReport(t, stdout)
	var rates []float64
	for _, s := range r.FindMax.Steps {
		rates = append(rates, s.OfferedRate)
		if s.KeptUp || !strings.Contains(s.Why, "p99") {
			t.Errorf("step %+v", s)
		}
	}
	if fmt.Sprint(rates) != "[4 2 1]" || r.FindMax.BestRate != 0 || r.OfferedRate != 1 {
		t.Errorf("steps %v best %v reported %v", rates, r.FindMax.BestRate, r.OfferedRate)
	}
}

// TestBenchUpDevnet loads a real `blossom up` devnet (started in-process)
// through its devnet.json as each member's default user acq: a kv
// workload stops with an error naming the missing chaincode, and
// blossom-query commits every transaction on every peer; then
// blossom-mix runs as the devnet's role users (checkMix).
func TestBenchUpDevnet(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "consortium")
	runUpUntilReady(t, upOptions{dir: dir, timeout: 2 * time.Minute})

	code, stdout, stderr := runMain("bench", "--devnet", dir, "--workload", "blind-100", "--rate", "5", "--duration", "1s")
	if code == 0 || stdout != "" || !strings.Contains(stderr, `cannot run workload blind-100`) || !strings.Contains(stderr, `chaincode "kv"`) {
		t.Fatalf("kv workload on a blossom up devnet: exit %d stdout %q stderr %q", code, stdout, stderr)
	}
	code, stdout, stderr = runMain("bench", "--devnet", dir, "--workload", "blossom-query", "--rate", "10", "--duration", "2s",
		"--json", "--crypto-time", "50ms")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := decodeReport(t, stdout)
	checkContract(t, stdout, 1)
	checkResult(t, r.Result, 3)
	if r.Scheduled != 20 || r.Endorsers != 2 || r.System.Scope != "load generator only" {
		t.Errorf("scheduled %d endorsers %d scope %q", r.Scheduled, r.Endorsers, r.System.Scope)
	}
	// blossom-mix as the devnet's role users (this devnet has no --demo:
	// PrepareMix onboards the agencies).
	code, stdout, stderr = runMain("bench", "--devnet", dir, "--workload", "blossom-mix", "--rate", "10", "--duration", "4s", "--leases", "8",
		"--mix", "checkout=3,return=2,swid=2,query=2,vote=1", "--seed", "7", "--json", "--crypto-time", "50ms")
	if code != 0 {
		t.Fatalf("blossom-mix: exit %d: %s", code, stderr)
	}
	checkMix(t, decodeReport(t, stdout).Result)
}

func TestBenchBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--rate", "0"},
		{"bench", "--rate", "10", "--find-max"},
		{"bench", "--start-rate", "0"},
		{"bench", "--start-rate", "100", "--max-rate", "50"},
		{"bench", "--max-p99", "0s"},
		{"bench", "--duration", "-1s"},
		{"bench", "--workload", "nope"},
		{"bench", "--keys", "0"},
		{"bench", "--members", "0"},
		{"bench", "--endorsement", "all"},
		{"bench", "--devnet", "/nonexistent-dir"},
		{"bench", "--workload", "blossom-query", "--rate", "1"},
		{"bench", "--workload", "blossom-mix", "--mix", "renew=1"},
		{"bench", "--workload", "blossom-mix", "--mix", "vote=0"},
		{"bench", "--workload", "blossom-mix", "--leases", "0"},
		{"bench", "--workload", "blossom-mix", "--held", "1.5"},
	} {
		code, stdout, stderr := runMain(args...)
		if code == 0 || stdout != "" || stderr == "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
	}
}

// FuzzTrustFromBundle feeds arbitrary CA bundles to the devnet target's
// trust builder: it errs or builds a manager, never panics.
func FuzzTrustFromBundle(f *testing.F) {
	l, err := localnet.Create(localnet.Options{Dir: f.TempDir(), Members: 2})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(l.CABundle())
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "bundle.pem")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		mgr, err := trustFromBundle(path)
		if err == nil && mgr == nil {
			t.Fatal("no manager and no error")
		}
	})
}

func TestTrustFromBundle(t *testing.T) {
	l, err := localnet.Create(localnet.Options{Dir: t.TempDir(), Members: 3})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mgr, err := trustFromBundle(write("ok.pem", l.CABundle()))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range l.Members {
		if !mgr.HasMember(m.MSPID) {
			t.Errorf("no MSP %s", m.MSPID)
		}
	}
	rootOnly := l.CABundle()[:strings.Index(string(l.CABundle()), "-----END CERTIFICATE-----")+len("-----END CERTIFICATE-----\n")]
	for name, data := range map[string][]byte{"empty": nil, "garbage": []byte("not PEM"), "root only": rootOnly} {
		if _, err := trustFromBundle(write(strings.ReplaceAll(name, " ", "_")+".pem", data)); err == nil {
			t.Errorf("%s bundle accepted", name)
		}
	}
}

// TestLocalnetBloSSAMPeerConfig: a localnet layout with BloSSAM writes
// peer.json files that `blossom peer` reads into the same chaincodes the
// in-process peers run: kv, then the BloSS@M chaincodes with the
// definitions of `blossom up` (member 0 the service provider); without
// it, kv alone.
func TestLocalnetBloSSAMPeerConfig(t *testing.T) {
	for _, blossam := range []bool{false, true} {
		l, err := localnet.Create(localnet.Options{Dir: t.TempDir(), Members: 2, BloSSAM: blossam})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range l.Members {
			fc, err := loadPeerConfig(m.PeerConfig)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := fc.nodeConfig(slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range cfg.Chaincodes {
				got = append(got, fmt.Sprintf("%s|%s|%v", d.Name, d.EndorsementPolicy, d.Params))
			}
			want := []string{"kv|MAJORITY Endorsement|map[]"}
			if blossam {
				want = append(want, "authorization|MAJORITY Endorsement|map[adminMSP:Org1MSP]", "asset|'Org1MSP.peer'|map[adminMSP:Org1MSP]")
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("BloSSAM %v, %s: chaincodes %q, want %q", blossam, m.MSPID, got, want)
			}
		}
	}
}
