package cli

import (
	"context"
	"encoding/json"
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
	if r.ValidTPS <= 0 || r.LatencyOwnPeer.P99 <= 0 || r.LatencyAllPeers.Max < r.LatencyOwnPeer.Max || r.LatencyAllPeers.N != r.Valid {
		t.Errorf("%s: tps %v own %+v all %+v", r.Workload.Name, r.ValidTPS, r.LatencyOwnPeer, r.LatencyAllPeers)
	}
	if r.Crypto.SignPerSec <= 0 || r.Crypto.VerifyPerSec <= 0 || r.Ceiling.TxPerSec <= 0 || r.Ceiling.Formula == "" {
		t.Errorf("%s: crypto %+v ceiling %+v", r.Workload.Name, r.Crypto, r.Ceiling)
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
	if r.Results[0].Scheduled != 200 || r.Results[0].System.Scope != "network+load generator" || r.Results[0].System.CPUSeconds <= 0 {
		t.Errorf("scheduled %d system %+v", r.Results[0].Scheduled, r.Results[0].System)
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
	if len(r.Results) != 3 {
		t.Fatalf("%d results", len(r.Results))
	}
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

func TestBenchBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--rate", "0"},
		{"bench", "--duration", "-1s"},
		{"bench", "--workload", "nope"},
		{"bench", "--keys", "0"},
		{"bench", "--members", "0"},
		{"bench", "--endorsement", "all"},
		{"bench", "--devnet", "/nonexistent-dir"},
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
