package devnet_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/devnet"
)

// freePorts returns n distinct free loopback ports (devnet.FreePort).
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	seen := map[int]bool{}
	var out []int
	for len(out) < n {
		p, err := devnet.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// nodeProc is one node running as its own process.
type nodeProc struct {
	config string
	log    string
	cmd    *exec.Cmd
}

func startNode(t *testing.T, bin, config, logDir string) *nodeProc {
	t.Helper()
	p := &nodeProc{config: config, log: filepath.Join(logDir, strings.NewReplacer("/", "_").Replace(config)+".log")}
	p.start(t, bin)
	return p
}

func (p *nodeProc) start(t *testing.T, bin string) {
	t.Helper()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, "node", "--config", p.config)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd := p.cmd
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		f.Close()
	})
}

// stop sends sig and waits for the process to end.
func (p *nodeProc) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	p.cmd.Process.Signal(sig)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if sig == syscall.SIGTERM && err != nil {
			log, _ := os.ReadFile(p.log)
			t.Fatalf("%s after SIGTERM: %v\n%s", p.config, err, tail(log))
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not stop", p.config)
	}
}

func tail(b []byte) string {
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// eventually polls check every 50 ms until it succeeds or the deadline:
// the nodes are other processes, which notify this one of nothing.
func eventually(t *testing.T, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var heightMetric = regexp.MustCompile(`(?m)^ledger_blockchain_height\{channel="blossom"\} (\d+)$`)

// opsGet reads an operations endpoint of a node.
func opsGet(port int, path string) (int, string, error) {
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

func height(port int) (uint64, error) {
	code, body, err := opsGet(port, "/metrics")
	if err != nil || code != 200 {
		return 0, fmt.Errorf("metrics: %d %v", code, err)
	}
	m := heightMetric.FindStringSubmatch(body)
	if m == nil {
		return 0, fmt.Errorf("no height metric")
	}
	return strconv.ParseUint(m[1], 10, 64)
}

// TestNetworkMultiProcess is issue 10's multi-host test on one machine:
// network init for three members, every node its own `blossom node`
// process, an onboarding and a license journey through `blossom tx`, a
// peer and an orderer killed (SIGKILL) and restarted, and every peer's
// ledger verifying and agreeing at the end.
func TestNetworkMultiProcess(t *testing.T) {
	bin := blossomBinary(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "net")
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o700)
	ports := freePorts(t, 18)
	type member struct {
		name, msp string
		ports     []int // orderer, peer, gateway, ca, ordererHealth, peerHealth
	}
	members := []member{{"sams", "SAMSMSP", ports[0:6]}, {"agency1", "Agency1MSP", ports[6:12]}, {"agency2", "Agency2MSP", ports[12:18]}}
	var spec strings.Builder
	spec.WriteString("channel: blossom\nmembers:\n")
	for i, m := range members {
		fmt.Fprintf(&spec, "  - name: %s\n    mspId: %s\n    admin: %v\n    host: 127.0.0.1\n    ports:\n", m.name, m.msp, i == 0)
		for k, n := range []string{"orderer", "peer", "gateway", "ca", "ordererHealth", "peerHealth"} {
			fmt.Fprintf(&spec, "      %s: %d\n", n, m.ports[k])
		}
		fourth := map[bool]string{true: "lo\n        role: License Owner", false: "tpoc\n        role: Technical Point of Contact"}[i == 0]
		fmt.Fprintf(&spec, "    users:\n      - name: ao\n        role: Authorizing Official\n      - name: acq\n        role: Acquisition Officer\n      - name: %s\n", fourth)
	}
	specPath := filepath.Join(dir, "consortium.yaml")
	os.WriteFile(specPath, []byte(spec.String()), 0o600)
	if o, err := exec.Command(bin, "network", "init", "--spec", specPath, "--out", out).CombinedOutput(); err != nil {
		t.Fatalf("network init: %v\n%s", err, o)
	}
	// The root key only in the hub; each intermediate key only in its member's directory.
	for _, m := range members {
		if _, err := os.Stat(filepath.Join(out, m.name, "ca", "ca-key.pem")); err != nil {
			t.Fatal(err)
		}
	}
	keys, _ := filepath.Glob(filepath.Join(out, "*", "root", "root-key.pem"))
	if len(keys) != 1 || !strings.Contains(keys[0], "/hub/") {
		t.Fatalf("root keys at %v", keys)
	}

	procs := map[string]*nodeProc{}
	for _, m := range members {
		for _, n := range []string{"ca.json", "orderer/orderer.json", "peer/peer.json"} {
			procs[m.name+"/"+n] = startNode(t, bin, filepath.Join(out, m.name, n), logs)
		}
	}
	for _, m := range members {
		for _, p := range []int{m.ports[4], m.ports[5]} {
			eventually(t, time.Minute, func() error {
				if code, body, err := opsGet(p, "/readyz"); err != nil || code != 200 {
					return fmt.Errorf("%s readyz: %d %s %v", m.name, code, body, err)
				}
				return nil
			})
		}
	}
	for _, m := range members {
		procs[m.name+"/gateway"] = startNode(t, bin, filepath.Join(out, m.name, "gateway", "gateway.json"), logs)
	}

	// tx runs blossom tx as member/user through the member's gateway.
	tx := func(op, memberName, user, cc, fn, args, transient, endorsers string) (int, map[string]json.RawMessage, string) {
		t.Helper()
		var m member
		for _, x := range members {
			if x.name == memberName {
				m = x
			}
		}
		ud := filepath.Join(out, memberName, "users", user)
		argv := []string{"tx", op, "--gateway", "https://127.0.0.1:" + strconv.Itoa(m.ports[2]), "--cert", filepath.Join(ud, "cert.pem"),
			"--key", filepath.Join(ud, "key.pem"), "--cacert", filepath.Join(out, memberName, "ca-bundle.pem"),
			"--channel", "blossom", "--chaincode", cc, "--function", fn}
		for flag, v := range map[string]string{"--args": args, "--transient": transient, "--endorsers": endorsers} {
			if v != "" {
				argv = append(argv, flag, v)
			}
		}
		cmd := exec.Command(bin, argv...)
		var so, se bytes.Buffer
		cmd.Stdout, cmd.Stderr = &so, &se
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		var res map[string]json.RawMessage
		json.Unmarshal(so.Bytes(), &res)
		return code, res, se.String()
	}
	ok := func(op, member, user, cc, fn, args, transient, endorsers string) json.RawMessage {
		t.Helper()
		code, res, stderr := tx(op, member, user, cc, fn, args, transient, endorsers)
		if code != 0 {
			t.Fatalf("%s %s as %s/%s: exit %d %v %s", op, fn, member, user, code, res, stderr)
		}
		return res["result"]
	}
	for _, m := range members {
		eventually(t, time.Minute, func() error {
			if code, _, stderr := tx("evaluate", m.name, "ao", "authorization", "bootstrap:Test", "", "", ""); code != 0 {
				return fmt.Errorf("%s gateway: %s", m.name, stderr)
			}
			return nil
		})
	}

	// Onboarding journey: bootstrap, MOU, agency1 signs, is voted in, joins.
	ok("submit", "sams", "ao", "authorization", "bootstrap:Bootstrap", "", "", "")
	ok("submit", "sams", "ao", "authorization", "mou:UpdateMOU", `["the consortium MOU"]`, "", "")
	ok("submit", "agency1", "ao", "authorization", "mou:SignMOU", `["1"]`, "", "")
	ok("submit", "sams", "ao", "authorization", "vote:InitiateVote", `["Agency1MSP","AUTHORIZED"]`, "", "")
	ok("submit", "sams", "ao", "authorization", "vote:Vote", `["true"]`, "", "")
	ok("submit", "agency1", "ao", "authorization", "vote:Vote", `["true"]`, "", "")
	ok("submit", "sams", "ao", "authorization", "vote:CertifyOngoingVote", "", "", "")
	ok("submit", "agency1", "ao", "authorization", "account:Join", "", "", "")
	if got := string(ok("evaluate", "agency2", "ao", "authorization", "account:GetAccount", `["Agency1MSP"]`, "", "")); !strings.Contains(got, `"status":"AUTHORIZED"`) || !strings.Contains(got, `"joined":true`) {
		t.Fatalf("agency1's account: %s", got)
	}

	// Crash a peer and an orderer; the consortium goes on with the others.
	procs["agency2/peer/peer.json"].stop(t, syscall.SIGKILL)
	procs["agency1/orderer/orderer.json"].stop(t, syscall.SIGKILL)

	// License journey: asset, quote, order, approval, allocation.
	var id struct{ ID string }
	json.Unmarshal(ok("submit", "sams", "lo", "asset", "asset:AddAsset", "",
		`{"request":{"name":"Office Suite","endDate":"2030-12-31 23:59:59","licenses":[{"id":"lic-1","salt":"salt-1"},{"id":"lic-2","salt":"salt-2"}]}}`, ""), &id)
	assetID := id.ID
	json.Unmarshal(ok("submit", "agency1", "tpoc", "asset", "order:GetQuote", "",
		`{"request":{"account":"Agency1MSP","assetId":"`+assetID+`","amount":1,"duration":1}}`, "SAMSMSP"), &id)
	orderID := id.ID
	ref := `{"request":{"orderId":"` + orderID + `","account":"Agency1MSP"}}`
	ok("submit", "sams", "acq", "asset", "order:SendQuote", "", `{"request":{"orderId":"`+orderID+`","account":"Agency1MSP","price":"100"}}`, "SAMSMSP")

	// Restart the crashed nodes; they recover and catch up.
	procs["agency2/peer/peer.json"].start(t, bin)
	procs["agency1/orderer/orderer.json"].start(t, bin)

	ok("submit", "agency1", "tpoc", "asset", "order:InitiateOrder", "", ref, "SAMSMSP,Agency1MSP")
	ok("submit", "agency1", "acq", "asset", "order:ApproveOrder", "", ref, "SAMSMSP,Agency1MSP")
	var proposal struct{ Licenses []string }
	json.Unmarshal(ok("evaluate", "sams", "acq", "asset", "order:GetLicensesToAllocateForOrder", "", ref, "SAMSMSP"), &proposal)
	if len(proposal.Licenses) != 1 {
		t.Fatalf("licenses to allocate: %+v", proposal)
	}
	lic, _ := json.Marshal(proposal.Licenses)
	ok("submit", "sams", "acq", "asset", "order:AllocateLicenses", "", `{"request":{"orderId":"`+orderID+`","account":"Agency1MSP","licenses":`+string(lic)+`}}`, "SAMSMSP")
	if got := string(ok("evaluate", "agency1", "tpoc", "asset", "asset:GetAssets", "", "", "SAMSMSP")); !strings.Contains(got, `"numAvailable":1`) {
		t.Fatalf("assets after allocation: %s", got)
	}

	// Every peer reaches the same height; then all stop and every ledger
	// verifies with the same commit hash.
	eventually(t, time.Minute, func() error {
		var hs []uint64
		for _, m := range members {
			h, err := height(m.ports[5])
			if err != nil {
				return err
			}
			hs = append(hs, h)
		}
		if hs[0] != hs[1] || hs[1] != hs[2] {
			return fmt.Errorf("peer heights %v", hs)
		}
		return nil
	})
	for _, p := range procs {
		p.stop(t, syscall.SIGTERM)
	}
	var commit string
	for _, m := range members {
		o, err := exec.Command(bin, "ledger", "verify", "--json", filepath.Join(out, m.name, "peer", "data", "channels", "blossom")).Output()
		if err != nil {
			t.Fatalf("%s ledger verify: %v %s", m.name, err, o)
		}
		var rep struct {
			OK         bool   `json:"ok"`
			CommitHash string `json:"commitHash"`
		}
		if err := json.Unmarshal(o, &rep); err != nil || !rep.OK {
			t.Fatalf("%s ledger: %s", m.name, o)
		}
		if commit != "" && rep.CommitHash != commit {
			t.Fatalf("%s commit hash %s, others %s", m.name, rep.CommitHash, commit)
		}
		commit = rep.CommitHash
	}
}
