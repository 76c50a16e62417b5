package devnet_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildBlossom builds the blossom binary once per test binary.
var buildBlossom = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "blossom-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "blossom")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/blossom-ledger/blossom/cmd/blossom").CombinedOutput()
	if err != nil {
		return "", &buildError{err: err, out: string(out)}
	}
	return bin, nil
})

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }

func blossomBinary(t testing.TB) string {
	t.Helper()
	bin, err := buildBlossom()
	if err != nil {
		t.Fatalf("go build: %v", err)
	}
	return bin
}

// upProcess is a running `blossom up`.
type upProcess struct {
	cmd    *exec.Cmd
	stdout *lineBuffer
	stderr bytes.Buffer
	ready  chan struct{}
	exited chan error
}

// lineBuffer collects stdout and signals the ready line.
type lineBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *lineBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines, "\n")
}

// startUp starts `blossom up` with args and waits for the ready line.
func startUp(t *testing.T, bin string, args ...string) *upProcess {
	t.Helper()
	p := &upProcess{cmd: exec.Command(bin, append([]string{"up"}, args...)...), stdout: &lineBuffer{},
		ready: make(chan struct{}), exited: make(chan error, 1)}
	p.cmd.Stderr = &p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		once := sync.Once{}
		for sc.Scan() {
			p.stdout.mu.Lock()
			p.stdout.lines = append(p.stdout.lines, sc.Text())
			p.stdout.mu.Unlock()
			if sc.Text() == "blossom: consortium ready" {
				once.Do(func() { close(p.ready) })
			}
		}
		io.Copy(io.Discard, out)
		p.exited <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
		}
	})
	select {
	case <-p.ready:
	case err := <-p.exited:
		t.Fatalf("blossom up exited before ready: %v\nstdout:\n%s\nstderr:\n%s", err, p.stdout, p.stderr.String())
	case <-time.After(3 * time.Minute):
		t.Fatalf("blossom up not ready within 3 minutes\nstdout:\n%s", p.stdout)
	}
	return p
}

// interrupt sends SIGINT and waits for a clean exit.
func (p *upProcess) interrupt(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("blossom up after SIGINT: %v\nstderr:\n%s", err, p.stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("blossom up did not stop within a minute of SIGINT")
	}
}

type devnetJSON struct {
	Ready    bool     `json:"ready"`
	Channel  string   `json:"channel"`
	CABundle string   `json:"caBundle"`
	Orderers []string `json:"orderers"`
	Members  []struct {
		Name    string   `json:"name"`
		MSPID   string   `json:"mspId"`
		Admin   bool     `json:"admin"`
		Gateway string   `json:"gateway"`
		CAURL   string   `json:"caUrl"`
		Peers   []string `json:"peers"`
		Users   []struct {
			Name, Role, Password, Cert, Key string
		} `json:"users"`
	} `json:"members"`
}

func readDevnetJSON(t *testing.T, dir string) devnetJSON {
	t.Helper()
	path := filepath.Join(dir, "devnet.json")
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("devnet.json has mode %o, want 0600", info.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d devnetJSON
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// tx runs `blossom tx` against the devnet and decodes its JSON output.
func tx(t *testing.T, bin, dir, op, member, user, cc, fn string, args ...string) (code int, out map[string]json.RawMessage, stderr string) {
	t.Helper()
	argv := []string{"tx", op, "--devnet", dir, "--member", member, "--user", user, "--channel", "blossom", "--chaincode", cc, "--function", fn}
	if len(args) > 0 {
		a, _ := json.Marshal(args)
		argv = append(argv, "--args", string(a))
	}
	cmd := exec.Command(bin, argv...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if so.Len() > 0 {
		if err := json.Unmarshal(so.Bytes(), &out); err != nil {
			t.Fatalf("tx output %q: %v", so.String(), err)
		}
	}
	return code, out, se.String()
}

// checkCommittedDefinitions lists the committed definitions as sams'
// admin with `blossom chaincode list`: authorization and asset at
// sequence 1, their policies and adminMSP parameter, each running a
// package ID the ready banner named.
func checkCommittedDefinitions(t *testing.T, bin, dir, banner string) {
	t.Helper()
	cmd := exec.Command(bin, "chaincode", "list", "--client", filepath.Join(dir, "sams", "admin-client.json"))
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	if err := cmd.Run(); err != nil {
		t.Fatalf("chaincode list: %v %s", err, se.String())
	}
	want := map[string]string{"authorization": "MAJORITY Endorsement", "asset": "'SAMSMSP.peer'"}
	for _, line := range strings.Split(strings.TrimSpace(so.String()), "\n") {
		var d struct {
			Name, PackageID, EndorsementPolicy string
			Sequence                           uint64
			Params                             map[string]string
		}
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatal(err)
		}
		if want[d.Name] != d.EndorsementPolicy || d.Sequence != 1 || d.Params["adminMSP"] != "SAMSMSP" ||
			!strings.HasPrefix(d.PackageID, d.Name+":") || !strings.Contains(banner, " "+d.PackageID) {
			t.Fatalf("committed definition %s", line)
		}
		delete(want, d.Name)
	}
	if len(want) != 0 {
		t.Fatalf("not committed: %v (list: %s)", want, so.String())
	}
}

// TestUpEndToEnd builds the binary, runs `blossom up` to ready, uses the
// demo users through `blossom tx`, stops it with SIGINT, runs it again on
// the same directory and finds the earlier transactions there.
func TestUpEndToEnd(t *testing.T) {
	bin := blossomBinary(t)
	dir := filepath.Join(t.TempDir(), "consortium")
	up := startUp(t, bin, "--dir", dir)

	d := readDevnetJSON(t, dir)
	if !d.Ready || d.Channel != "blossom" || len(d.Members) != 3 || len(d.Orderers) != 3 || !filepath.IsAbs(d.CABundle) {
		t.Fatalf("devnet.json: %+v", d)
	}
	wantMembers := []struct {
		name, msp string
		admin     bool
		fourth    string
	}{{"sams", "SAMSMSP", true, "lo"}, {"agency1", "Agency1MSP", false, "tpoc"}, {"agency2", "Agency2MSP", false, "tpoc"}}
	var passwords []string
	for i, w := range wantMembers {
		m := d.Members[i]
		if m.Name != w.name || m.MSPID != w.msp || m.Admin != w.admin || len(m.Peers) != 1 || !strings.HasPrefix(m.Gateway, "https://127.0.0.1:") {
			t.Fatalf("member %d: %+v", i, m)
		}
		var names []string
		for _, u := range m.Users {
			names = append(names, u.Name)
			passwords = append(passwords, u.Password)
			if len(u.Password) < 16 || !filepath.IsAbs(u.Cert) || !filepath.IsAbs(u.Key) {
				t.Fatalf("user %s/%s: weak password or relative paths", m.Name, u.Name)
			}
			if (u.Name == "admin") != (u.Role == "") {
				t.Fatalf("user %s/%s has role %q", m.Name, u.Name, u.Role)
			}
		}
		if got := strings.Join(names, ","); got != "admin,ao,acq,"+w.fourth {
			t.Fatalf("member %s users %s", m.Name, got)
		}
	}
	for _, line := range []string{"sams/ao (Authorizing Official)", "agency2/tpoc (Technical Point of Contact)", "sams/admin (admin)"} {
		if !strings.Contains(up.stdout.String(), line) {
			t.Fatalf("ready banner lacks %q:\n%s", line, up.stdout)
		}
	}

	// Both chaincodes are committed through _lifecycle, running the
	// WebAssembly packages built from this source tree (the test binary
	// bundles none), with the definitions of DESIGN §10-11.
	if !strings.Contains(up.stdout.String(), "chaincode packages (WebAssembly, built from ") {
		t.Fatalf("the banner does not say the packages were built:\n%s", up.stdout)
	}
	checkCommittedDefinitions(t, bin, dir, up.stdout.String())

	// Bootstrap was done by sams' AO: sams is the only account, AUTHORIZED.
	code, out, stderr := tx(t, bin, dir, "evaluate", "agency1", "ao", "authorization", "account:GetAccounts")
	if code != 0 || !strings.Contains(string(out["result"]), `"id":"SAMSMSP","status":"AUTHORIZED"`) || strings.Count(string(out["result"]), `"id"`) != 1 {
		t.Fatalf("GetAccounts: exit %d %s %s", code, out["result"], stderr)
	}
	// A chaincode refusal keeps its message (exit 2).
	if code, _, stderr := tx(t, bin, dir, "submit", "sams", "ao", "authorization", "bootstrap:Bootstrap"); code != 2 || !strings.HasPrefix(stderr, "Bootstrap already called") {
		t.Fatalf("second Bootstrap: exit %d %q", code, stderr)
	}
	// Transactions by demo users of two members.
	code, out, stderr = tx(t, bin, dir, "submit", "sams", "ao", "authorization", "mou:UpdateMOU", "the devnet MOU")
	if code != 0 || string(out["status"]) != `"VALID"` {
		t.Fatalf("UpdateMOU: exit %d %v %s", code, out, stderr)
	}
	if code, out, stderr = tx(t, bin, dir, "submit", "agency1", "ao", "authorization", "mou:SignMOU", "1"); code != 0 {
		t.Fatalf("SignMOU: exit %d %v %s", code, out, stderr)
	}
	up.interrupt(t)
	if d := readDevnetJSON(t, dir); d.Ready {
		t.Fatal("devnet.json still says ready after Ctrl-C")
	}
	if code, _, stderr := tx(t, bin, dir, "evaluate", "sams", "ao", "authorization", "mou:GetMOU"); code != 1 || !strings.Contains(stderr, "not ready") {
		t.Fatalf("tx on a stopped devnet: exit %d %q", code, stderr)
	}

	// Resume on the same directory: same ports, same ledger, the packages
	// of the first start (nothing committed again).
	up2 := startUp(t, bin, "--dir", dir)
	if !strings.Contains(up2.stdout.String(), "chaincode packages (WebAssembly, cached ") {
		t.Fatalf("the resumed banner does not say the packages were cached:\n%s", up2.stdout)
	}
	checkCommittedDefinitions(t, bin, dir, up.stdout.String())
	d2 := readDevnetJSON(t, dir)
	if d2.Members[1].Gateway != d.Members[1].Gateway || d2.Orderers[2] != d.Orderers[2] {
		t.Fatalf("ports changed on resume: %v → %v", d.Orderers, d2.Orderers)
	}
	code, out, stderr = tx(t, bin, dir, "evaluate", "agency2", "ao", "authorization", "mou:GetMOU")
	if code != 0 || !strings.Contains(string(out["result"]), `"text":"the devnet MOU","version":1`) {
		t.Fatalf("GetMOU after resume: exit %d %s %s", code, out["result"], stderr)
	}
	code, out, stderr = tx(t, bin, dir, "evaluate", "agency2", "ao", "authorization", "account:GetAccount", "Agency1MSP")
	if code != 0 || !strings.Contains(string(out["result"]), `"status":"PENDING","mouVersion":1`) {
		t.Fatalf("Agency1 account after resume: exit %d %s %s", code, out["result"], stderr)
	}
	// The MOU's history holds exactly the one write from before the restart.
	if code, out, _ = tx(t, bin, dir, "evaluate", "agency1", "acq", "authorization", "mou:GetMOUHistory"); code != 0 || strings.Count(string(out["result"]), `"text":"the devnet MOU"`) != 1 {
		t.Fatalf("MOU history: %s", out["result"])
	}
	up2.interrupt(t)
	all := up.stdout.String() + up.stderr.String() + up2.stdout.String() + up2.stderr.String()
	for _, pw := range passwords {
		if strings.Contains(all, pw) {
			t.Fatal("a demo password was printed")
		}
	}
	logs, err := os.ReadFile(filepath.Join(dir, "logs", "nodes.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range passwords {
		if bytes.Contains(logs, []byte(pw)) {
			t.Fatal("a demo password reached the node log")
		}
	}
}
