package cli

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/gateway/oidcprovider"
	"github.com/blossom-ledger/blossom/internal/gateway/oidcprovider/oidctest"
	"github.com/blossom-ledger/blossom/internal/gateway/wallet"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol"
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
		{"dashboard without issuer", full + "dashboard:\n  url: https://gw:8443\n  clientId: d\n  clientSecretFile: s\n  adminMspId: SAMSMSP\n",
			"dashboard needs url, issuer, clientId, clientSecretFile and adminMspId"},
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
		})
	}
}

// TestRunGateway runs `blossom gateway` from a configuration file against
// a nettest network and submits through it with `blossom tx`.
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
	write("ca.pem", append(pki.EncodeCertificatePEM(env.gw.CA.Inter.Raw), pki.EncodeCertificatePEM(env.gw.CA.Root.Raw)...))
	if err := wallet.GenerateKEKFile(filepath.Join(dir, "wallet.kek")); err != nil {
		t.Fatal(err)
	}
	// The dashboard signs users in at the member's provider.
	const dashSecret = "dashboard-secret-0123456789abcdef-XYZ"
	idp := oidctest.Start(t, env.gw.TLS, oidcprovider.Config{Clients: []oidcprovider.ClientConfig{
		{ID: "dashboard", Secret: dashSecret, RedirectURIs: []string{"https://gw.example:8443/auth/callback"}}}})
	write("dashboard.secret", []byte(dashSecret+"\n"))
	cfgPath := write("gateway.yaml", []byte(`mspId: Org1MSP
listen: 127.0.0.1:0
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
dashboard:
  url: https://gw.example:8443
  issuer: `+idp.URL+`
  clientId: dashboard
  clientSecretFile: dashboard.secret
  caBundle: `+env.caFile+`
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
		done <- runGateway(ctx, cfgPath, &lockedWriter{w: &logs, mu: &logsMu}, func(a string) { addr <- a })
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
	checkDashboardServed(t, url, n.PKI.Root.Cert, idp.URL, dashSecret)
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

// checkDashboardServed: the gateway at url serves the dashboard's landing
// page and sends sign-ins to the provider, never revealing the secret.
func checkDashboardServed(t *testing.T, url string, root *x509.Certificate, issuer, secret string) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(root)
	hc := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       20 * time.Second,
	}
	for _, tt := range []struct {
		path   string
		status int
		want   string // in the body, or the Location
	}{
		{"/", http.StatusOK, `id="sign-in"`},
		{"/auth/login", http.StatusFound, issuer + "/authorize?"},
	} {
		resp, err := hc.Get(url + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got := string(body) + resp.Header.Get("Location")
		if resp.StatusCode != tt.status || !strings.Contains(got, tt.want) || strings.Contains(got, secret) {
			t.Errorf("GET %s: %d %q, want %d with %q", tt.path, resp.StatusCode, got, tt.status, tt.want)
		}
	}
}
