package cli

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/gateway"
	"github.com/blossom-ledger/blossom/internal/gateway/auth"
	"github.com/blossom-ledger/blossom/internal/gateway/binding"
	"github.com/blossom-ledger/blossom/internal/gateway/oidcprovider"
	"github.com/blossom-ledger/blossom/internal/gateway/oidcprovider/oidctest"
	"github.com/blossom-ledger/blossom/internal/gateway/wallet"
	"github.com/blossom-ledger/blossom/internal/network/nettest"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
)

func TestLoadGatewayConfig(t *testing.T) {
	full := `mspId: Org1MSP
listen: 127.0.0.1:0
cert: gw-cert.pem
key: /etc/blossom/gw-key.pem
genesisBlock: blossom.block
channel: blossom
dataDir: data
kekFile: wallet.kek
ca:
  url: https://127.0.0.1:7054
  caBundle: ca.pem
  cert: reg-cert.pem
  key: reg-key.pem
oidc:
  - issuer: https://127.0.0.1:9443
    audience: blossom-api
policies:
  asset: Org1MSP.peer
`
	tests := []struct {
		name    string
		text    string
		wantErr string
	}{
		{"complete", full, ""},
		{"missing fields", "mspId: Org1MSP\n", "missing listen, cert, key"},
		{"unknown field", full + "colour: blue\n", "unknown field"},
		{"oidc without audience", strings.Replace(full, "    audience: blossom-api\n", "", 1), "oidc[0] needs issuer and audience"},
		{"signIn", full + "signIn:\n  issuer: https://127.0.0.1:9443\n  clientId: dash\n  clientSecretFile: dash.secret\n  redirectUrl: https://127.0.0.1:8443/auth/callback\n", ""},
		{"signIn without a secret", full + "signIn:\n  issuer: https://127.0.0.1:9443\n  clientId: dash\n  redirectUrl: https://127.0.0.1:8443/auth/callback\n", "missing signIn.clientSecretFile"},
		{"signIn with the secret inline", full + "signIn:\n  issuer: https://127.0.0.1:9443\n  clientId: dash\n  clientSecret: s\n", "unknown field"},
		{"dashboard", full + "signIn:\n  issuer: https://127.0.0.1:9443\n  clientId: dash\n  clientSecretFile: dash.secret\n  redirectUrl: https://127.0.0.1:8443/auth/callback\n" + "dashboard:\n  adminMspId: SAMSMSP\n", ""},
		{"dashboard without signIn", full + "dashboard:\n  adminMspId: SAMSMSP\n", "dashboard needs the signIn section"},
		{"dashboard without adminMspId", full + "signIn:\n  issuer: https://127.0.0.1:9443\n  clientId: dash\n  clientSecretFile: dash.secret\n  redirectUrl: https://127.0.0.1:8443/auth/callback\n" + "dashboard:\n  adminMspId: \"\"\n", "missing dashboard.adminMspId"},
		{"dashboard with its own sign-in", full + "signIn:\n  issuer: https://127.0.0.1:9443\n  clientId: dash\n  clientSecretFile: dash.secret\n  redirectUrl: https://127.0.0.1:8443/auth/callback\n" + "dashboard:\n  adminMspId: SAMSMSP\n  issuer: https://127.0.0.1:9443\n", "unknown field"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "gateway.yaml")
			if err := os.WriteFile(path, []byte(tc.text), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := loadGatewayConfig(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Cert != filepath.Join(dir, "gw-cert.pem") || cfg.Key != "/etc/blossom/gw-key.pem" || cfg.DataDir != filepath.Join(dir, "data") ||
				cfg.CA.CABundle != filepath.Join(dir, "ca.pem") || cfg.LogLevel != "info" || cfg.Policies["asset"] != "Org1MSP.peer" ||
				len(cfg.OIDC) != 1 || cfg.OIDC[0].Audience != "blossom-api" {
				t.Fatalf("config %+v", cfg)
			}
			if cfg.SignIn != nil && (cfg.SignIn.ClientSecretFile != filepath.Join(dir, "dash.secret") || cfg.SignIn.CABundle != "") {
				t.Fatalf("signIn %+v", cfg.SignIn)
			}
		})
	}
}

// TestRunGateway runs `blossom gateway` from a configuration file against
// a nettest network, submits through it with `blossom tx`, and signs a
// browser in through the configured provider (signIn) to call the API
// with its session.
func TestRunGateway(t *testing.T) {
	env := startTxEnv(t) // the network, the member CA, and an app user's files
	n := env.gw.Net
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	genesis, err := protocol.Marshal(n.Genesis)
	if err != nil {
		t.Fatal(err)
	}
	write("blossom.block", genesis)
	writeCred := func(name string, c tls.Certificate) {
		t.Helper()
		var chain []byte
		for _, der := range c.Certificate {
			chain = append(chain, pki.EncodeCertificatePEM(der)...)
		}
		write(name+"-cert.pem", chain)
		if err := pki.WritePrivateKeyFile(filepath.Join(dir, name+"-key.pem"), c.PrivateKey.(crypto.Signer)); err != nil {
			t.Fatal(err)
		}
	}
	writeCred("gw", n.PKI.Member("Org1MSP").Issue(pki.RoleGateway, "gw1", nil).TLS)
	writeCred("reg", *env.gw.CA.RegistrarCert)
	admin := n.Members[0].Admin
	writeCred("admin", admin.TLS)
	write("ca.pem", append(pki.EncodeCertificatePEM(env.gw.CA.Inter.Raw), pki.EncodeCertificatePEM(env.gw.CA.Root.Raw)...))
	// The browser sign-in's provider, with its own CA, and the gateway's
	// address fixed in advance for the redirect URL.
	idpCA := testpki.NewConsortium(t, "IdPMSP")
	idpPool := x509.NewCertPool()
	idpPool.AddCert(idpCA.Root.Cert)
	write("idp-ca.pem", pki.EncodeCertificatePEM(idpCA.Root.Cert.Raw))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gwAddr := ln.Addr().String()
	ln.Close()
	const clientSecret = "dashboard-secret-5f1e9a0c7b3d"
	const password = "lilac-orchard-2288"
	idp := oidctest.Start(t, &oidctest.TLS{Cert: idpCA.Member("IdPMSP").Issue(pki.RoleGateway, "idp", nil).TLS, Pool: idpPool},
		oidcprovider.Config{Clients: []oidcprovider.ClientConfig{{ID: "dashboard", Secret: clientSecret,
			RedirectURIs: []string{"https://" + gwAddr + "/auth/callback"}}}})
	if err := idp.AddUser(oidcprovider.User{Username: "acq", Password: password, Role: "Acquisition Officer"}); err != nil {
		t.Fatal(err)
	}
	write("dashboard.secret", []byte(clientSecret+"\n"))
	approveBeforeStart(t, filepath.Join(dir, "data"), filepath.Join(dir, "wallet.kek"), env, idp)

	cfgPath := write("gateway.yaml", []byte(`mspId: Org1MSP
listen: `+gwAddr+`
cert: gw-cert.pem
key: gw-key.pem
genesisBlock: blossom.block
channel: blossom
dataDir: data
kekFile: wallet.kek
ca:
  url: `+env.gw.CA.URL+`
  caBundle: ca.pem
  cert: reg-cert.pem
  key: reg-key.pem
crlPublisher:
  cert: admin-cert.pem
  key: admin-key.pem
signIn:
  issuer: `+idp.URL+`
  clientId: dashboard
  clientSecretFile: dashboard.secret
  redirectUrl: https://`+gwAddr+`/auth/callback
  caBundle: idp-ca.pem
  cookie:
    sameSite: lax
    idleTimeout: 10m
dashboard:
  adminMspId: Org1MSP
logLevel: debug
`))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := make(chan string, 1)
	done := make(chan error, 1)
	var logs bytes.Buffer
	var logsMu sync.Mutex
	go func() {
		done <- runGateway(withSIGHUPReload(ctx), cfgPath, &lockedWriter{w: &logs, mu: &logsMu}, func(a string) { addr <- a })
	}()
	var url string
	select {
	case a := <-addr:
		url = "https://" + a
	case err := <-done:
		t.Fatalf("gateway: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("gateway did not start")
	}
	rootFile := write("root.pem", pki.EncodeCertificatePEM(n.PKI.Root.Cert.Raw))
	cert, key := env.user(t, "app-run", "Acquisition Officer")
	code, stdout, stderr := runMain("tx", "submit", "--gateway", url, "--cert", cert, "--key", key, "--cacert", rootFile,
		"--channel", "blossom", "--chaincode", "kv", "--function", "kv:Put", "--args", `["run","1"]`)
	if code != 0 || !strings.Contains(stdout, `"status":"VALID"`) {
		t.Fatalf("submit through blossom gateway: exit %d, %q, %q", code, stdout, stderr)
	}

	// Browser sign-in through the gateway, then API calls with the session.
	pool := x509.NewCertPool()
	pool.AddCert(n.PKI.Root.Cert)
	pool.AddCert(idpCA.Root.Cert)
	var seen strings.Builder // everything the browser received
	browser := oidctest.Browser(pool, "")
	fetch := func(resp *http.Response, err error) *oidctest.Page {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		page := oidctest.ReadPage(t, resp)
		fmt.Fprintf(&seen, "%s\n%s\n", page.URL, page.Body)
		for k, v := range resp.Header {
			fmt.Fprintf(&seen, "%s: %s\n", k, v)
		}
		return page
	}
	// The dashboard (its section present) greets visitors on every path
	// the API does not use, and shows its home page once signed in.
	if p := fetch(browser.Get(url + "/")); p.Status != 200 || !strings.Contains(p.Body, `id="sign-in"`) {
		t.Fatalf("dashboard landing page: %d %.300s", p.Status, p.Body)
	}
	login := fetch(browser.Get(url + "/auth/login?return=/api/v1/me"))
	if login.Status != 200 || !strings.Contains(login.Body, "Sign in") || !strings.HasPrefix(login.URL.String(), idp.URL) {
		t.Fatalf("login did not reach the provider's form: %d %s", login.Status, login.URL)
	}
	page := fetch(oidctest.Login(t, browser, login, "acq", password), nil)
	var me gateway.Me
	if err := json.Unmarshal([]byte(page.Body), &me); err != nil || page.Status != 200 || me.Method != "session" ||
		me.Role != "Acquisition Officer" || me.CSRFToken == "" {
		t.Fatalf("after sign-in: %d %s", page.Status, page.Body)
	}
	if p := fetch(browser.Get(url + "/")); p.Status != 200 || !strings.Contains(p.Body, "Sign out") || !strings.Contains(p.Body, "Acquisition Officer") {
		t.Fatalf("dashboard home page after sign-in: %d %.300s", p.Status, p.Body)
	}
	submit := func(csrf string) *oidctest.Page {
		req, _ := http.NewRequest("POST", url+"/api/v1/channels/blossom/chaincodes/kv/submit", strings.NewReader(`{"function":"kv:Put","args":["web","1"]}`))
		req.Header.Set("Content-Type", "application/json")
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		return fetch(browser.Do(req))
	}
	if p := submit(""); p.Status != 403 || !strings.Contains(p.Body, auth.CodeCSRF) {
		t.Fatalf("submit without the CSRF token: %d %s", p.Status, p.Body)
	}
	if p := submit(me.CSRFToken); p.Status != 200 || !strings.Contains(p.Body, `"status":"VALID"`) {
		t.Fatalf("submit with the session: %d %s", p.Status, p.Body)
	}
	req, _ := http.NewRequest("POST", url+"/auth/logout", nil)
	req.Header.Set("X-CSRF-Token", me.CSRFToken)
	fetch(browser.Do(req))
	if p := fetch(browser.Get(url + "/api/v1/me")); p.Status != 401 {
		t.Fatalf("me after logout: %d %s", p.Status, p.Body)
	}
	if strings.Contains(seen.String(), clientSecret) {
		t.Fatal("the client secret reached the browser")
	}

	// The member admin disables the user through the gateway, which
	// publishes the CRL through _governance with its crlPublisher.
	adminTLS := admin.TLS
	adminClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool,
		Certificates: []tls.Certificate{adminTLS}}}, Timeout: 60 * time.Second}
	seq := n.PeerChannel(0).Config().Sequence()
	resp, err := adminClient.Post(url+"/api/v1/admin/users/"+me.EnrollmentID+"/disable", "application/json", strings.NewReader(`{"reason":"keyCompromise"}`))
	if err != nil {
		t.Fatal(err)
	}
	var disabled gateway.DisableResponse
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := json.Unmarshal(body, &disabled); err != nil || resp.StatusCode != 200 || disabled.CRLTxID == "" {
		t.Fatalf("disable: %d %s", resp.StatusCode, body)
	}
	// The answer came once the update was ordered; every peer commits it.
	nettest.Eventually(t, 20*time.Second, func() error {
		for i := range n.Members {
			if got := n.PeerChannel(i).Config().Sequence(); got <= seq {
				return fmt.Errorf("peer %d at config sequence %d", i, got)
			}
		}
		return nil
	})

	// Certificate rotation: SIGHUP makes the gateway reread gw-cert.pem and
	// gw-key.pem; new HTTPS connections see the new certificate and
	// submits keep working.
	renewed := n.PKI.Member("Org1MSP").Issue(pki.RoleGateway, "gw1", nil)
	writeCred("gw", renewed.TLS)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	nettest.Eventually(t, 20*time.Second, func() error {
		logsMu.Lock()
		defer logsMu.Unlock()
		if !strings.Contains(logs.String(), `msg="certificate reloaded"`) {
			return errors.New("no reload logged yet")
		}
		return nil
	})
	conn, err := tls.Dial("tcp", strings.TrimPrefix(url, "https://"), &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool})
	if err != nil {
		t.Fatalf("handshake after the reload: %v", err)
	}
	if presented := conn.ConnectionState().PeerCertificates[0]; !presented.Equal(renewed.Cert) {
		t.Fatalf("after the reload the gateway presents serial %s, want %s", presented.SerialNumber, renewed.Cert.SerialNumber)
	}
	conn.Close()
	code, stdout, stderr = runMain("tx", "submit", "--gateway", url, "--cert", cert, "--key", key, "--cacert", rootFile,
		"--channel", "blossom", "--chaincode", "kv", "--function", "kv:Put", "--args", `["rotated","1"]`)
	if code != 0 || !strings.Contains(stdout, `"status":"VALID"`) {
		t.Fatalf("submit after the gateway's reload: exit %d, %q, %q", code, stdout, stderr)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("gateway stopped with %v", err)
	}
	logsMu.Lock()
	defer logsMu.Unlock()
	keyPEM, _ := os.ReadFile(key)
	if !strings.Contains(logs.String(), "gateway: audit") || strings.Contains(logs.String(), string(keyPEM)) {
		t.Fatal("no audit line, or a key in the logs")
	}
	for _, secret := range []string{clientSecret, password, me.CSRFToken} {
		if strings.Contains(logs.String(), secret) {
			t.Fatal("a secret reached the gateway's logs")
		}
	}
}

// approveBeforeStart records the member admin's approval of the
// provider's user "acq" in the gateway's binding table (dataDir/binding),
// as an operator would before starting the gateway.
func approveBeforeStart(t *testing.T, dataDir, kekFile string, env *txEnv, idp *oidctest.Server) {
	t.Helper()
	if err := wallet.GenerateKEKFile(kekFile); err != nil {
		t.Fatal(err)
	}
	kek, err := wallet.LoadKEKFile(kekFile)
	if err != nil {
		t.Fatal(err)
	}
	w, err := wallet.Open(filepath.Join(dataDir, "wallet"), kek, wallet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	b, err := binding.Open(binding.Config{Dir: filepath.Join(dataDir, "binding"), CA: env.gw.CA.Gateway, Wallet: w, MSPID: "Org1MSP"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	sub, err := idp.Subject("acq")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Approve(binding.Approval{Issuer: idp.URL, Subject: sub, Role: "Acquisition Officer", ApprovedBy: "admin"}); err != nil {
		t.Fatal(err)
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestReadSecretFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content string
		mode          os.FileMode
		want, wantErr string
	}{
		{"owner only", "s3cret\n", 0o600, "s3cret", ""},
		{"readable by others", "s3cret", 0o644, "", "lets others read"},
		{"empty", " \n", 0o600, "", "empty secret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			if err := os.WriteFile(p, []byte(tc.content), tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, tc.mode); err != nil {
				t.Fatal(err)
			}
			got, err := readSecretFile(p)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("err %v, want %q without the secret", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}
}
