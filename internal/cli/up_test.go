package cli

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/devnet"
	"github.com/blossom-ledger/blossom/internal/gateway"
	"github.com/blossom-ledger/blossom/internal/gateway/oidcprovider/oidctest"
)

// readySignal is stdout for an in-process runUp: it closes ready when the
// ready line is written.
type readySignal struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	ready chan struct{}
	once  sync.Once
}

func newReadySignal() *readySignal { return &readySignal{ready: make(chan struct{})} }

func (r *readySignal) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf.Write(p)
	if strings.Contains(r.buf.String(), ReadyLine+"\n") {
		r.once.Do(func() { close(r.ready) })
	}
	return len(p), nil
}

func (r *readySignal) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}

// runUpUntilReady runs runUp in the background and waits for the ready
// line; stop cancels it and returns its error.
func runUpUntilReady(tb testing.TB, o upOptions) (out *readySignal, stop func() error) {
	tb.Helper()
	out = newReadySignal()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runUp(ctx, o, out) }()
	select {
	case <-out.ready:
	case err := <-done:
		cancel()
		tb.Fatalf("runUp returned before ready: %v", err)
	case <-time.After(3 * time.Minute):
		cancel()
		tb.Fatal("not ready within 3 minutes")
	}
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	tb.Cleanup(func() { stop() })
	return out, stop
}

// TestUpDemo runs `blossom up --demo`: every agency onboarded, a sample
// asset; a second start does not repeat the journey.
func TestUpDemo(t *testing.T) {
	dir := t.TempDir()
	out, stop := runUpUntilReady(t, upOptions{dir: dir, demo: true, timeout: 2 * time.Minute, nativeChaincodes: true})
	if !strings.Contains(out.String(), "NATIVE implementations") {
		t.Fatalf("the banner does not say the chaincodes run natively:\n%s", out)
	}
	signInAndMe(t, dir, out.String())
	evaluate := func(member, user, cc, fn string) string {
		t.Helper()
		code, stdout, stderr := runMain("tx", "evaluate", "--devnet", dir, "--member", member, "--user", user,
			"--channel", "blossom", "--chaincode", cc, "--function", fn)
		if code != 0 {
			t.Fatalf("%s: exit %d %s", fn, code, stderr)
		}
		var out struct{ Result json.RawMessage }
		if err := json.Unmarshal([]byte(stdout), &out); err != nil {
			t.Fatal(err)
		}
		return string(out.Result)
	}
	var accounts []struct {
		ID, Status string
		Joined     bool
	}
	if err := json.Unmarshal([]byte(evaluate("agency1", "ao", "authorization", "account:GetAccounts")), &accounts); err != nil {
		t.Fatal(err)
	}
	if len(accounts) != 3 {
		t.Fatalf("accounts %+v", accounts)
	}
	for _, a := range accounts {
		if a.Status != "AUTHORIZED" || !a.Joined {
			t.Fatalf("account %+v not onboarded", a)
		}
	}
	// A second up on the same directory is refused and leaves it ready.
	if code, _, stderr := runMain("up", "--dir", dir); code != 1 || !strings.Contains(stderr, "another blossom up is running") {
		t.Fatalf("second up: exit %d %q", code, stderr)
	}
	if d, err := ReadDevnet(dir); err != nil || !d.Ready {
		t.Fatalf("devnet.json after a refused second up: %v %v", d, err)
	}
	// devnet add-user while the consortium runs (through the running CA).
	if code, stdout, stderr := runMain("devnet", "add-user", "--dir", dir, "--member", "agency1", "--user", "auditor", "--role", "Auditor"); code != 0 || !strings.Contains(stdout, "agency1/auditor (Auditor)") {
		t.Fatalf("add-user: exit %d %q %q", code, stdout, stderr)
	}
	if got := evaluate("agency1", "auditor", "authorization", "bootstrap:Test"); got != `"hello blossom"` {
		t.Fatalf("new user's evaluate: %s", got)
	}
	// Every peer and orderer answers /healthz, /readyz and /metrics; the
	// orderers counted every transaction the demo ordered.
	c, err := devnet.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	processed := 0
	successLine := regexp.MustCompile(`(?m)^broadcast_processed_count\{channel="blossom",status="SUCCESS"\} (\d+)$`)
	for _, m := range c.Members {
		for _, port := range []int{m.Ports.PeerHealth, m.Ports.OrdererHealth} {
			for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
				resp, err := http.Get("http://" + devnet.Loopback(port) + path)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Fatalf("%s %s: %d %s", m.Name, path, resp.StatusCode, body)
				}
				if path == "/metrics" && (!strings.Contains(string(body), `ledger_blockchain_height{channel="blossom"}`) ||
					!strings.Contains(string(body), "blossom_certificate_expiring{")) {
					t.Fatalf("%s metrics lack the height or certificate gauges:\n%s", m.Name, body)
				}
				if path == "/metrics" && port == m.Ports.PeerHealth && (!strings.Contains(string(body), `ledger_block_processing_time_count{channel="blossom"}`) ||
					!strings.Contains(string(body), `endorser_proposal_duration_count{success="true"}`)) {
					t.Fatalf("%s peer metrics lack block processing or proposal durations", m.Name)
				}
				if n := successLine.FindStringSubmatch(string(body)); path == "/metrics" && port == m.Ports.OrdererHealth && n != nil {
					v, _ := strconv.Atoi(n[1])
					processed += v
					if !strings.Contains(string(body), `broadcast_validate_duration_count{channel="blossom",status="SUCCESS"}`) {
						t.Fatalf("%s orderer: no broadcast_validate_duration", m.Name)
					}
				}
			}
		}
	}
	// bootstrap, the MOU, per agency SignMOU, InitiateVote, votes, certify,
	// Join, and the asset: 1 + 1 + 2*(1+1+2or3+1+1) + 1 = 16 transactions.
	if processed < 16 {
		t.Fatalf("orderers counted %d ordered transactions, want at least 16", processed)
	}
	assets := evaluate("agency2", "tpoc", "asset", "asset:GetAssets")
	if strings.Count(assets, `"name":"Demo Office Suite"`) != 1 || !strings.Contains(assets, `"numAvailable":2`) {
		t.Fatalf("assets %s", assets)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	c, err = devnet.Load(dir)
	if err != nil || !c.Demo || !c.Bootstrapped {
		t.Fatalf("state after demo: %+v %v", c, err)
	}
	// add-user while it is stopped (the CA directory opened for the call);
	// refusals change nothing.
	if code, _, stderr := runMain("devnet", "add-user", "--dir", dir, "--member", "sams", "--user", "admin2", "--role", ""); code != 0 {
		t.Fatalf("offline add-user: exit %d %q", code, stderr)
	}
	for _, args := range [][]string{
		{"--member", "sams", "--user", "admin2", "--role", "x"},   // taken
		{"--member", "nobody", "--user", "u1", "--role", "x"},     // no member
		{"--member", "sams", "--user", "Bad/Name", "--role", "x"}, // bad name
		{"--member", "sams", "--user", "u2", "--role", "a\x00b"},  // non-printable role
		{"--member", "sams", "--user", "u3"},                      // no --role
	} {
		if code, _, _ := runMain(append([]string{"devnet", "add-user", "--dir", dir}, args...)...); code != 1 {
			t.Fatalf("add-user %v: exit %d", args, code)
		}
	}
	_, stop = runUpUntilReady(t, upOptions{dir: dir, demo: true, timeout: 2 * time.Minute, nativeChaincodes: true})
	d, err := ReadDevnet(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, u, err := d.User("sams", "admin2"); err != nil || u.Role != "" || u.Password == "" {
		t.Fatalf("admin2 in devnet.json: %+v %v", u, err)
	}
	if _, _, err := d.User("agency1", "auditor"); err != nil {
		t.Fatal(err)
	}
	if got := evaluate("sams", "admin2", "authorization", "bootstrap:Test"); got != `"hello blossom"` {
		t.Fatalf("admin2's evaluate: %s", got)
	}
	if assets := evaluate("sams", "lo", "asset", "asset:GetAssets"); strings.Count(assets, `"name":"Demo Office Suite"`) != 1 {
		t.Fatalf("the demo ran twice: %s", assets)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// signInAndMe signs demo users in with their passwords at their
// member's built-in OIDC provider through their gateway's browser
// sign-in (authorization code flow with PKCE), then calls /api/v1/me
// with the session; a wrong password is refused. No password appears in
// the output or the node log.
func signInAndMe(t *testing.T, dir, stdout string) {
	t.Helper()
	d, err := ReadDevnet(dir)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(d.CABundle)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	tests := []struct{ member, user, role, method string }{
		{"agency1", "acq", devnet.RoleAcquisitionOfficer, "session"},
		{"sams", "lo", devnet.RoleLicenseOwner, "session"},
		{"agency2", "admin", "", "session"},
	}
	for _, tc := range tests {
		m, u, err := d.User(tc.member, tc.user)
		if err != nil {
			t.Fatal(err)
		}
		if m.OIDCIssuer == "" || m.Dashboard != m.Gateway+"/" {
			t.Fatalf("%s: oidcIssuer %q, dashboard %q", tc.member, m.OIDCIssuer, m.Dashboard)
		}
		browser := oidctest.Browser(pool, "")
		resp, err := browser.Get(m.Gateway + "/auth/login?return=/api/v1/me")
		if err != nil {
			t.Fatal(err)
		}
		login := oidctest.ReadPage(t, resp)
		if login.Status != 200 || !strings.HasPrefix(login.URL.String(), m.OIDCIssuer) {
			t.Fatalf("%s/%s: login did not reach the provider: %d %s", tc.member, tc.user, login.Status, login.URL)
		}
		if bad := oidctest.ReadPage(t, oidctest.Login(t, browser, login, tc.user, u.Password+"x")); bad.Status == 200 && strings.Contains(bad.Body, "enrollmentId") {
			t.Fatalf("%s/%s: a wrong password signed in", tc.member, tc.user)
		}
		resp, err = browser.Get(m.Gateway + "/auth/login?return=/api/v1/me")
		if err != nil {
			t.Fatal(err)
		}
		login = oidctest.ReadPage(t, resp)
		page := oidctest.ReadPage(t, oidctest.Login(t, browser, login, tc.user, u.Password))
		var me gateway.Me
		if err := json.Unmarshal([]byte(page.Body), &me); err != nil || page.Status != 200 || me.Method != tc.method || me.Role != tc.role || me.MSPID != m.MSPID || me.Issuer != m.OIDCIssuer {
			t.Fatalf("%s/%s: /api/v1/me after sign-in: %d %s", tc.member, tc.user, page.Status, page.Body)
		}
		// The same session opens the member's dashboard.
		resp, err = browser.Get(m.Dashboard)
		if err != nil {
			t.Fatal(err)
		}
		if home := oidctest.ReadPage(t, resp); home.Status != 200 || !strings.Contains(home.Body, "BloSS@M "+m.MSPID) {
			t.Fatalf("%s/%s: dashboard home after sign-in: %d %.200s", tc.member, tc.user, home.Status, home.Body)
		}
	}
	// An app's access token from the provider (the gateway's client, code
	// flow with PKCE) is accepted as a bearer token.
	m, u, err := d.User("agency1", "ao")
	if err != nil {
		t.Fatal(err)
	}
	c, err := devnet.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	cm, _ := c.Member("agency1")
	secret, err := readSecretFile(c.SignInSecretFile(cm))
	if err != nil {
		t.Fatal(err)
	}
	srv := &oidctest.Server{URL: m.OIDCIssuer, TLS: &oidctest.TLS{Pool: pool}}
	tok := oidctest.Tokens(t, srv, oidctest.OAuth2Config(srv, devnet.SignInClientID, secret, c.SignInRedirectURL(cm)), u.Name, u.Password)
	req, _ := http.NewRequest("GET", m.Gateway+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := oidctest.Browser(pool, "").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page := oidctest.ReadPage(t, resp)
	var me gateway.Me
	if err := json.Unmarshal([]byte(page.Body), &me); err != nil || page.Status != 200 || me.Method != "bearer" || me.Role != devnet.RoleAuthorizingOfficial {
		t.Fatalf("/api/v1/me with a bearer token: %d %s", page.Status, page.Body)
	}
	logs, err := os.ReadFile(filepath.Join(dir, "logs", "nodes.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range d.Members {
		for _, u := range m.Users {
			if strings.Contains(stdout, u.Password) || strings.Contains(string(logs), u.Password) {
				t.Fatalf("the password of %s/%s is in the output or the node log", m.Name, u.Name)
			}
		}
	}
}

// TestUpRefusals: bad flags and directories fail with a clear error and
// change nothing.
func TestUpRefusals(t *testing.T) {
	notEmpty := t.TempDir()
	if err := os.WriteFile(filepath.Join(notEmpty, "x"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no dir", []string{"up"}, "--dir"},
		{"too few members", []string{"up", "--dir", t.TempDir(), "--members", "2"}, "--members must be between 3 and 16"},
		{"bad base port", []string{"up", "--dir", t.TempDir(), "--base-port", "65500"}, "out of range"},
		{"negative base port", []string{"up", "--dir", t.TempDir(), "--base-port", "-1"}, "out of range"},
		{"foreign directory", []string{"up", "--dir", notEmpty}, "not empty and holds no consortium"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runMain(tc.args...)
			if code != 1 || stdout != "" || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
			}
		})
	}
	if entries, _ := os.ReadDir(notEmpty); len(entries) != 1 {
		t.Fatal("a refused directory was changed")
	}
}

// BenchmarkUp measures `blossom up` to ready from an empty directory
// (cold: PKI, enrollment, genesis, first Raft election, chaincode
// deployment through _lifecycle, bootstrap) and restarting an existing
// one (warm), with the chaincodes native and as WebAssembly. A cold wasm
// start builds the packages from the source tree (the Go build cache
// warm) and, with "cold-cache", compiles every module into an empty
// compilation cache; "warm-cache" finds them compiled by an earlier run.
func BenchmarkUp(b *testing.B) {
	benchUp := func(b *testing.B, native bool, dir func() string) {
		for b.Loop() {
			_, stop := runUpUntilReady(b, upOptions{dir: dir(), timeout: 5 * time.Minute, nativeChaincodes: native})
			b.StopTimer()
			if err := stop(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	}
	b.Run("native/cold", func(b *testing.B) { benchUp(b, true, b.TempDir) })
	b.Run("wasm/cold-cache", func(b *testing.B) {
		benchUp(b, false, func() string {
			b.StopTimer()
			defer b.StartTimer()
			os.Setenv(devnet.WasmCacheEnv, b.TempDir())
			return b.TempDir()
		})
		os.Unsetenv(devnet.WasmCacheEnv)
	})
	b.Run("wasm/warm-cache", func(b *testing.B) {
		b.Setenv(devnet.WasmCacheEnv, b.TempDir())
		_, stop := runUpUntilReady(b, upOptions{dir: b.TempDir(), timeout: 5 * time.Minute})
		if err := stop(); err != nil {
			b.Fatal(err)
		}
		benchUp(b, false, b.TempDir)
	})
	for _, native := range []bool{true, false} {
		kind := map[bool]string{true: "native", false: "wasm"}[native]
		b.Run(kind+"/warm", func(b *testing.B) {
			b.Setenv(devnet.WasmCacheEnv, b.TempDir())
			dir := b.TempDir()
			_, stop := runUpUntilReady(b, upOptions{dir: dir, timeout: 5 * time.Minute, nativeChaincodes: native})
			if err := stop(); err != nil {
				b.Fatal(err)
			}
			benchUp(b, native, func() string { return dir })
		})
	}
}
