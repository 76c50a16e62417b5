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
	"slices"
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
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(p.log)
			t.Logf("log of %s:\n%s", config, tail(log))
		}
	})
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

// waitReady waits until the nodes whose operations listeners are at ports
// answer /readyz with 200.
func waitReady(t *testing.T, member string, ports ...int) {
	t.Helper()
	for _, p := range ports {
		eventually(t, time.Minute, func() error {
			if code, body, err := opsGet(p, "/readyz"); err != nil || code != 200 {
				return fmt.Errorf("%s node at :%d readyz: %d %s %v", member, p, code, body, err)
			}
			return nil
		})
	}
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
// process, the chaincodes deployed by the members' admins through
// _lifecycle (blossom chaincode package/install/approve/commit, each its
// own process), an onboarding and a license journey through `blossom tx`,
// a peer and an orderer killed (SIGKILL) and restarted, a fourth member
// added (network add-member, governance admission, its orderer made a Raft
// consenter whose vote is then needed), and every peer's ledger verifying
// and agreeing at the end.
func TestNetworkMultiProcess(t *testing.T) {
	bin := blossomBinary(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "net")
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o700)
	ports := freePorts(t, 24)
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

	// The peers share one wazero compilation cache (the one blossom up
	// uses), as the peers of one host may: each module compiles once.
	c, err := devnet.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		setWasmCache(t, filepath.Join(out, m.name, "peer", "peer.json"), c.WasmCacheDir())
	}

	procs := map[string]*nodeProc{}
	for _, m := range members {
		for _, n := range []string{"ca.json", "orderer/orderer.json", "peer/peer.json"} {
			procs[m.name+"/"+n] = startNode(t, bin, filepath.Join(out, m.name, n), logs)
		}
	}
	for _, m := range members {
		waitReady(t, m.name, m.ports[4], m.ports[5])
	}
	deployChaincodes(t, bin, out, []string{members[0].name, members[1].name, members[2].name})
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
		if op == "submit" {
			// The next step may be endorsed by other members' peers, and
			// blossom tx tells them no height to wait for: let every
			// running peer commit this transaction first.
			eventually(t, time.Minute, func() error {
				var hs []uint64
				for _, m := range members {
					if h, err := height(m.ports[5]); err == nil {
						hs = append(hs, h)
					}
				}
				if len(hs) == 0 || slices.Min(hs) != slices.Max(hs) {
					return fmt.Errorf("peer heights %v", hs)
				}
				return nil
			})
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

	// The restarted nodes are ready again: the peer caught up and loaded
	// its chaincodes, the orderer knows the leader and applied the log.
	for _, m := range members {
		waitReady(t, m.name, m.ports[4], m.ports[5])
	}

	// A fourth member joins through network add-member and governance, and
	// its orderer becomes a Raft consenter whose vote the others need.
	agency3 := member{"agency3", "Agency3MSP", ports[18:24]}
	addMember(t, bin, out, logs, agency3.name, agency3.msp, agency3.ports, procs)
	members = append(members, agency3)
	procs["sams/orderer/orderer.json"].stop(t, syscall.SIGKILL)
	// Three of four consenters run: ordering needs agency3's orderer. (The
	// gateways know the members of the genesis block, so MAJORITY
	// Endorsement of four members is named explicitly: three peers.)
	ok("submit", "sams", "ao", "authorization", "mou:UpdateMOU", `["the consortium MOU, with agency3"]`, "", "SAMSMSP,Agency1MSP,Agency2MSP")
	procs["sams/orderer/orderer.json"].start(t, bin)
	deployTo(t, bin, out, agency3.name)
	waitReady(t, agency3.name, agency3.ports[5])
	// agency3's user works through agency3's gateway, which plans MAJORITY
	// Endorsement over the four members it knows.
	eventually(t, time.Minute, func() error {
		if code, _, stderr := tx("evaluate", agency3.name, "ao", "authorization", "account:GetAccount", `["Agency1MSP"]`, "", ""); code != 0 {
			return fmt.Errorf("agency3 gateway: %s", stderr)
		}
		return nil
	})
	ok("submit", agency3.name, "ao", "authorization", "mou:SignMOU", `["2"]`, "", "")

	// Governance removes agency3's orderer from the consenters again: it
	// stays live (serving Deliver) but is no longer ready, and the three
	// others order.
	admit(t, bin, out, "remove-agency3-orderer", []string{"sams", "agency1", "agency2"}, "remove-consenter", "--consenter", "orderer-agency3")
	eventually(t, time.Minute, func() error {
		code, body, err := opsGet(agency3.ports[4], "/readyz")
		if err != nil || code != 503 || !strings.Contains(body, "no longer a consenter") {
			return fmt.Errorf("removed orderer readyz: %d %s %v", code, body, err)
		}
		return nil
	})
	if code, body, err := opsGet(agency3.ports[4], "/healthz"); err != nil || code != 200 {
		t.Fatalf("removed orderer healthz: %d %s %v", code, body, err)
	}
	ok("submit", "agency1", "ao", "authorization", "mou:SignMOU", `["2"]`, "", "SAMSMSP,Agency1MSP,Agency2MSP")

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
		if slices.Min(hs) != slices.Max(hs) {
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

// setWasmCache points a peer configuration's wasmCacheDir at dir.
func setWasmCache(t *testing.T, peerConfig, dir string) {
	t.Helper()
	raw, err := os.ReadFile(peerConfig)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	if _, static := cfg["chaincodes"]; static {
		t.Fatalf("%s registers static chaincodes: %s", peerConfig, raw)
	}
	cfg["wasmCacheDir"] = dir
	raw, _ = json.Marshal(cfg)
	if err := os.WriteFile(peerConfig, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// runBlossom runs one blossom command as its own process and returns its
// standard output.
func runBlossom(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	if err := cmd.Run(); err != nil {
		t.Fatalf("blossom %s: %v\n%s%s", strings.Join(args, " "), err, so.String(), se.String())
	}
	return so.String()
}

// deployChaincodes deploys the BloSS@M chaincodes as a consortium's
// admins do (network init prints the steps), every step its own blossom
// process: the hub packages each chaincode once from the source tree;
// every member's admin installs both packages on its peer; the admins of
// a majority (the first two members) approve identical definitions; the
// first member's admin commits them.
func deployChaincodes(t *testing.T, bin, out string, memberNames []string) {
	t.Helper()
	src, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	client := func(member string) string { return filepath.Join(out, member, "admin-client.json") }
	start := time.Now()
	ids := map[string]string{}
	for _, cc := range devnet.Chaincodes {
		pkg := filepath.Join(out, cc+".tar.gz")
		ids[cc] = strings.TrimSpace(runBlossom(t, bin, "chaincode", "package", "--dir", filepath.Join(src, "chaincode", cc, "wasm"), "--label", cc, "-o", pkg))
	}
	packaged := time.Now()
	install := func(member string) {
		for cc, id := range deployTo(t, bin, out, member) {
			if id != ids[cc] {
				t.Errorf("%s installed %s as %q, packaged as %s", member, cc, id, ids[cc])
			}
		}
	}
	// The first install compiles each module into the shared cache; the
	// other members' installs then find them compiled.
	install(memberNames[0])
	done := make(chan string, len(memberNames))
	for _, m := range memberNames[1:] {
		go func() {
			defer func() { done <- m }()
			install(m)
		}()
	}
	for range memberNames[1:] {
		<-done
	}
	if t.Failed() {
		t.FailNow()
	}
	installed := time.Now()
	definition := func(cc string) []string {
		d := devnet.Definition(cc, ids[cc], "SAMSMSP")
		return []string{"--name", d.Name, "--version", d.Version, "--sequence", strconv.FormatUint(d.Sequence, 10),
			"--package-id", d.PackageID, "--policy", d.EndorsementPolicy, "--param", "adminMSP=" + d.Params["adminMSP"]}
	}
	step := func(verb, member, cc string) string {
		return runBlossom(t, bin, append([]string{"chaincode", verb, "--client", client(member)}, definition(cc)...)...)
	}
	for _, cc := range devnet.Chaincodes {
		step("approve", memberNames[0], cc)
		if got := step("status", memberNames[2], cc); !strings.Contains(got, "1 of 3 members approved; MAJORITY needs 2: not ready to commit") {
			t.Fatalf("status after one approval of %s: %s", cc, got)
		}
		// Commit before a majority approved is refused.
		args := append([]string{"chaincode", "commit", "--client", client(memberNames[0])}, definition(cc)...)
		if o, err := exec.Command(bin, args...).CombinedOutput(); err == nil {
			t.Fatalf("commit of %s approved by 1 of 3 succeeded: %s", cc, o)
		}
		step("approve", memberNames[1], cc)
		if got := step("status", memberNames[2], cc); !strings.Contains(got, "2 of 3 members approved; MAJORITY needs 2: ready to commit") {
			t.Fatalf("status after two approvals of %s: %s", cc, got)
		}
		step("commit", memberNames[0], cc)
	}
	list := runBlossom(t, bin, "chaincode", "list", "--client", client(memberNames[2]))
	for _, cc := range devnet.Chaincodes {
		if !strings.Contains(list, `"packageId":"`+ids[cc]+`"`) {
			t.Fatalf("%s not committed with package %s: %s", cc, ids[cc], list)
		}
	}
	t.Logf("chaincodes deployed through _lifecycle: packaged in %s, installed on 3 peers in %s, approved and committed in %s",
		packaged.Sub(start).Round(time.Millisecond), installed.Sub(packaged).Round(time.Millisecond), time.Since(installed).Round(time.Millisecond))
}

// deployTo installs the packaged chaincodes (out/<name>.tar.gz) on
// member's peer as its admin, each install its own blossom process, and
// returns the package IDs the peer answered, by chaincode.
func deployTo(t *testing.T, bin, out, member string) map[string]string {
	t.Helper()
	ids := map[string]string{}
	for _, cc := range devnet.Chaincodes {
		ids[cc] = strings.TrimSpace(runBlossom(t, bin, "chaincode", "install", "--client", filepath.Join(out, member, "admin-client.json"), filepath.Join(out, cc+".tar.gz")))
	}
	return ids
}

var updateHash = regexp.MustCompile(`update hash: ([0-9a-f]{64})`)

// admit runs a governance proposal through: proposed by sams's admin,
// reviewed and approved by the admins of approvers (a majority), submitted
// by sams's. propose is the propose subcommand and its flags.
func admit(t *testing.T, bin, out, id string, approvers []string, propose ...string) {
	t.Helper()
	client := func(member string) string { return filepath.Join(out, member, "admin-client.json") }
	gov := func(member string, args ...string) string {
		return runBlossom(t, bin, append([]string{"governance", "--client", client(member)}, args...)...)
	}
	m := updateHash.FindStringSubmatch(gov("sams", append(append([]string{"propose"}, propose...), "--id", id)...))
	if m == nil {
		t.Fatalf("propose %s printed no update hash", id)
	}
	for _, member := range approvers {
		if shown := gov(member, "show", "--id", id); !strings.Contains(shown, m[1]) {
			t.Fatalf("%s's review of %s does not show hash %s: %s", member, id, m[1], shown)
		}
		gov(member, "approve", "--id", id, "--hash", m[1])
	}
	gov("sams", "submit", "--id", id)
}

// addMember adds member name to the running consortium as its admins
// would: network add-member creates its material, governance admits it,
// its CA and peer start; then a second proposal makes its orderer a Raft
// consenter, and the orderer starts and becomes ready (it knows the leader
// and has applied the Raft log).
func addMember(t *testing.T, bin, out, logs, name, msp string, ports []int, procs map[string]*nodeProc) {
	t.Helper()
	var spec strings.Builder
	fmt.Fprintf(&spec, "name: %s\nmspId: %s\nhost: 127.0.0.1\nports:\n", name, msp)
	for k, n := range []string{"orderer", "peer", "gateway", "ca", "ordererHealth", "peerHealth"} {
		fmt.Fprintf(&spec, "  %s: %d\n", n, ports[k])
	}
	spec.WriteString("users:\n  - name: ao\n    role: Authorizing Official\n")
	specPath := filepath.Join(out, "..", name+".yaml")
	if err := os.WriteFile(specPath, []byte(spec.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	printed := runBlossom(t, bin, "network", "add-member", "--dir", out, "--spec", specPath)
	if !strings.Contains(printed, "propose add-consenter") {
		t.Fatalf("network add-member does not print the consenter steps:\n%s", printed)
	}
	c, err := devnet.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := c.Member(name)
	if !ok {
		t.Fatalf("%s not in the consortium after add-member", name)
	}
	setWasmCache(t, filepath.Join(out, name, "peer", "peer.json"), c.WasmCacheDir())
	admit(t, bin, out, "add-"+name, []string{"sams", "agency1"}, "add-member", "--msp-id", msp, "--root-certs", c.MemberCABundle(m),
		"--intermediate-certs", c.IntermediateCert(m), "--peer-endpoint", m.Address(devnet.NodePeer))
	// The hub gives the new member the config block that admitted it: the
	// new admin's client trusts the channel's members from it.
	if _, err := os.Stat(c.MemberConfigBlock(m)); err == nil {
		t.Fatalf("%s exists before the admission", c.MemberConfigBlock(m))
	}
	runBlossom(t, bin, "governance", "--client", filepath.Join(out, "sams", "admin-client.json"), "fetch-config", "--out", c.MemberConfigBlock(m))
	for _, n := range []string{"ca.json", "peer/peer.json"} {
		procs[name+"/"+n] = startNode(t, bin, filepath.Join(out, name, n), logs)
	}
	// Four members now: MAJORITY is three, the new member's admin among them.
	admit(t, bin, out, "add-"+name+"-orderer", []string{"sams", "agency1", name}, "add-consenter", "--msp-id", msp, "--address", m.Address(devnet.NodeOrderer),
		"--cert", filepath.Join(c.NodeDir(m, devnet.NodeOrderer), devnet.CertFile))
	procs[name+"/orderer/orderer.json"] = startNode(t, bin, filepath.Join(out, name, "orderer", "orderer.json"), logs)
	waitReady(t, name, ports[4])
	// The new member's gateway starts from the latest config block (it
	// lists the new member, its peer and its orderer).
	runBlossom(t, bin, "governance", "--client", filepath.Join(out, "sams", "admin-client.json"), "fetch-config", "--out", c.MemberConfigBlock(m))
	procs[name+"/gateway"] = startNode(t, bin, filepath.Join(out, name, "gateway", "gateway.json"), logs)
}
