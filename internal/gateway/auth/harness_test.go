package auth

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/blossom-ledger/blossom/internal/gateway/binding"
	"github.com/blossom-ledger/blossom/internal/gateway/binding/bindingtest"
	"github.com/blossom-ledger/blossom/internal/gateway/oidcprovider"
	"github.com/blossom-ledger/blossom/internal/gateway/oidcprovider/oidctest"
	"github.com/blossom-ledger/blossom/internal/gateway/wallet"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/transport"
)

const (
	testMSP         = "Agency1MSP"
	apiAudience     = "blossom-api"
	gatewaySecret   = "gateway-secret-0123456789abcdef-XYZ"
	apiClientSecret = "api-client-secret-0123456789abcdef"
	otherSecret     = "other-app-secret-0123456789abcdef"
	userPassword    = "tulip-garden-7391"
	apiRedirect     = "https://127.0.0.1:1/cb"
)

// clock is an injectable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// syncBuffer collects log output from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// gwOptions vary a gateway fixture.
type gwOptions struct {
	roleClaim    string   // provider and relying party; default blossom.role
	privateKey   bool     // the gateway authenticates with private_key_jwt
	acrValues    []string // required at sign-in
	maxSessions  int
	noApprovals  bool
	idleTimeout  time.Duration
	absTimeout   time.Duration
	accessTTL    time.Duration
	strictCookie bool
}

// gateway is a gateway's auth stack served over HTTPS on loopback, with
// its own provider, member CA, wallet and binding table.
type gateway struct {
	t        *testing.T
	x        *oidctest.TLS
	idp      *oidctest.Server
	ca       *bindingtest.CA
	binder   *binding.Service
	wallet   *wallet.Wallet
	web      *WebSignIn
	authn    *Authenticator
	bearer   *BearerVerifier
	sessions *MemorySessionStore
	trust    *transport.TrustSource
	clock    *clock
	url      string
	logs     *syncBuffer
	rec      *oidctest.SecretRecorder
	totp     []byte
}

var users = []struct{ name, role, email string }{
	{"acq", "Acquisition Officer", "acq@agency1.example"},
	{"ao", "Authorizing Official", "ao@agency1.example"},
	{"lo", "License Owner", ""},
}

func newGateway(t *testing.T, x *oidctest.TLS, opts gwOptions) *gateway {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gwURL := "https://" + ln.Addr().String()
	clk := newClock()

	gwClient := oidcprovider.ClientConfig{ID: "gateway", RedirectURIs: []string{gwURL + CallbackPath}, PostLogoutRedirectURIs: []string{gwURL + "/"}, Audiences: []string{apiAudience}}
	var clientKey *ecdsa.PrivateKey
	if opts.privateKey {
		clientKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		gwClient.AuthMethod, gwClient.PublicKey, gwClient.KeyID = oidcprovider.AuthPrivateKeyJWT, &clientKey.PublicKey, "gw-key-1"
	} else {
		gwClient.Secret = gatewaySecret
	}
	idp := oidctest.Start(t, x, oidcprovider.Config{
		RoleClaim: opts.roleClaim,
		Clients: []oidcprovider.ClientConfig{
			gwClient,
			{ID: "api-client", Secret: apiClientSecret, RedirectURIs: []string{apiRedirect}, Audiences: []string{apiAudience}},
			{ID: "other-app", Secret: otherSecret, RedirectURIs: []string{apiRedirect}},
		},
		AccessTokenTTL: opts.accessTTL,
		Lockout:        oidcprovider.LockoutPolicy{MaxFailures: 5, Window: 15 * time.Minute, LockFor: 15 * time.Minute},
		LoginBanner:    "Authorized use only.",
		Logger:         logger,
	})
	for _, u := range users {
		if err := idp.AddUser(oidcprovider.User{Username: u.name, Password: userPassword, Role: u.role, Email: u.email}); err != nil {
			t.Fatal(err)
		}
	}
	totp, err := oidcprovider.NewTOTPSecret()
	if err != nil {
		t.Fatal(err)
	}
	if err := idp.AddUser(oidcprovider.User{Username: "tpoc", Password: userPassword, Role: "Technical Point of Contact", TOTPSecret: totp}); err != nil {
		t.Fatal(err)
	}

	ca := bindingtest.Start(t, testMSP, logs)
	kek := make([]byte, wallet.KEKSize)
	if _, err := rand.Read(kek); err != nil {
		t.Fatal(err)
	}
	aes, err := wallet.NewAESKEK(kek)
	if err != nil {
		t.Fatal(err)
	}
	w, err := wallet.Open(t.TempDir(), aes, wallet.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	binder, err := binding.Open(binding.Config{Dir: t.TempDir(), CA: ca.Gateway, Wallet: w, MSPID: testMSP, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { binder.Close() })
	if !opts.noApprovals {
		for _, u := range append(users, struct{ name, role, email string }{"tpoc", "Technical Point of Contact", ""}) {
			sub, err := idp.Subject(u.name)
			if err != nil {
				t.Fatal(err)
			}
			if err := binder.Approve(binding.Approval{Issuer: idp.URL, Subject: sub, Role: u.role, ApprovedBy: "admin"}); err != nil {
				t.Fatal(err)
			}
		}
	}

	rec := oidctest.NewSecretRecorder(x.HTTPClient().Transport)
	rec.Add(gatewaySecret, apiClientSecret, otherSecret, userPassword)
	httpClient := &http.Client{Transport: rec, Timeout: 20 * time.Second}
	sessions := NewMemorySessionStore(opts.maxSessions)
	webCfg := WebConfig{
		Issuer: idp.URL, ClientID: "gateway", RedirectURL: gwURL + CallbackPath, PostLogoutRedirectURL: gwURL + "/",
		RoleClaim: opts.roleClaim, ACRValues: opts.acrValues, HTTPClient: httpClient, Sessions: sessions,
		IdleTimeout: opts.idleTimeout, AbsoluteTimeout: opts.absTimeout, SameSiteStrict: opts.strictCookie,
		Now: clk.Now, Logger: logger,
	}
	if opts.privateKey {
		webCfg.ClientKey, webCfg.ClientKeyID = clientKey, "gw-key-1"
	} else {
		webCfg.ClientSecret = gatewaySecret
	}
	web, err := NewWebSignIn(webCfg, binder)
	if err != nil {
		t.Fatal(err)
	}
	bearer, err := NewBearerVerifier(BearerConfig{Issuer: idp.URL, Audience: apiAudience, RoleClaim: opts.roleClaim, HTTPClient: httpClient, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	trust := transport.NewTrustSource(ca.Manager())
	authn, err := New(Config{MSPID: testMSP, Binder: binder, Bearer: []*BearerVerifier{bearer}, Web: web, Trust: trust, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	g := &gateway{t: t, x: x, idp: idp, ca: ca, binder: binder, wallet: w, web: web, authn: authn, bearer: bearer,
		sessions: sessions, trust: trust, clock: clk, url: gwURL, logs: logs, rec: rec, totp: totp}

	mux := http.NewServeMux()
	mux.Handle("/auth/", web.Handler())
	mux.Handle("/api/", authn.Authenticate(http.HandlerFunc(g.api)))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "blossom dashboard home") })
	srv := &http.Server{Handler: mux, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn), ReadHeaderTimeout: 10 * time.Second}
	tlsLn := tls.NewListener(ln, transport.RequestClientCertTLSConfig(x.Cert, trust, logger, pki.RoleClient, pki.RoleAdmin))
	done := make(chan error, 1)
	go func() { done <- srv.Serve(tlsLn) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("gateway Serve: %v", err)
		}
	})
	return g
}

// me is what the test API answers.
type me struct {
	Issuer       string `json:"issuer"`
	Subject      string `json:"subject"`
	EnrollmentID string `json:"enrollmentId"`
	MSPID        string `json:"mspId"`
	Type         string `json:"type"`
	Role         string `json:"role"`
	Method       string `json:"method"`
	CSRF         string `json:"csrf"`
}

func (g *gateway) api(w http.ResponseWriter, r *http.Request) {
	p, ok := PrincipalFrom(r.Context())
	if !ok {
		http.Error(w, "no principal", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(me{Issuer: p.Issuer, Subject: p.Subject, EnrollmentID: p.EnrollmentID, MSPID: p.MSPID,
		Type: string(p.Type), Role: p.Role, Method: string(p.Method), CSRF: CSRFToken(p)})
}

// browser is a cookie-jar client that records every response it sees.
type browser struct {
	*http.Client
	mu    sync.Mutex
	seen  []string // bodies and headers of every response
	noRed bool
}

type recordingTransport struct {
	base http.RoundTripper
	b    *browser
}

func (rt *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rt.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var h strings.Builder
	resp.Header.Write(&h)
	rt.b.mu.Lock()
	rt.b.seen = append(rt.b.seen, string(body), h.String())
	rt.b.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

func (g *gateway) newBrowser(cert *tls.Certificate) *browser {
	c := oidctest.Browser(g.x.Pool, "")
	base := c.Transport.(*http.Transport)
	if cert != nil {
		base.TLSClientConfig.Certificates = []tls.Certificate{*cert}
	}
	b := &browser{Client: c}
	c.Transport = &recordingTransport{base: base, b: b}
	return b
}

// noFollow returns a client sharing b's jar and recording that does not
// follow redirects.
func (b *browser) noFollow() *http.Client {
	return &http.Client{Jar: b.Jar, Transport: b.Transport, Timeout: b.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (b *browser) Seen() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.seen, "\n")
}

// signIn runs the dashboard sign-in for user in b and returns the page the
// browser lands on (GET /api/v1/me as the return path).
func (g *gateway) signIn(b *browser, user string) *oidctest.Page {
	g.t.Helper()
	resp, err := b.Get(g.url + LoginPath + "?return=/api/v1/me")
	if err != nil {
		g.t.Fatal(err)
	}
	page := oidctest.ReadPage(g.t, resp)
	if page.Status != http.StatusOK || !strings.Contains(page.Body, "Sign in") {
		g.t.Fatalf("login did not reach the provider's form: %d %.200s", page.Status, page.Body)
	}
	resp = oidctest.Login(g.t, b.Client, page, user, userPassword)
	page = oidctest.ReadPage(g.t, resp)
	if user == "tpoc" && page.Status == http.StatusOK && strings.Contains(page.Body, `name="code"`) {
		resp = oidctest.Submit(g.t, b.Client, page, url.Values{"code": {oidcprovider.TOTPCode(oidcprovider.DefaultTOTPAlgorithm(), g.totp, time.Now())}})
		page = oidctest.ReadPage(g.t, resp)
	}
	return page
}

// meOf decodes a /api/v1/me page.
func meOf(t *testing.T, page *oidctest.Page) me {
	t.Helper()
	if page.Status != http.StatusOK {
		t.Fatalf("expected the API page, got %d: %.300s", page.Status, page.Body)
	}
	var m me
	if err := json.Unmarshal([]byte(page.Body), &m); err != nil {
		t.Fatalf("API page %q: %v", page.Body, err)
	}
	return m
}

// get fetches a gateway path with b.
func (g *gateway) get(b *browser, path string) *oidctest.Page {
	g.t.Helper()
	resp, err := b.Get(g.url + path)
	if err != nil {
		g.t.Fatal(err)
	}
	return oidctest.ReadPage(g.t, resp)
}

// wantError checks a JSON refusal and that it echoes none of the secrets.
func wantError(t *testing.T, page *oidctest.Page, status int, code string, secrets ...string) {
	t.Helper()
	if page.Status != status {
		t.Fatalf("status %d, want %d: %.300s", page.Status, status, page.Body)
	}
	var body ErrorBody
	dec := json.NewDecoder(strings.NewReader(page.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Error.Code == "" || body.Error.Message == "" {
		t.Fatalf("body %q is not a JSON error (%v)", page.Body, err)
	}
	if body.Error.Code != code {
		t.Fatalf("error code %s (%s), want %s", body.Error.Code, body.Error.Message, code)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(page.Body, s) {
			t.Fatal("the error body echoes a credential")
		}
	}
}

// apiToken signs user in at the provider as the API client and returns the
// access token.
func (g *gateway) apiToken(user string) *oauth2.Token {
	g.t.Helper()
	conf := oidctest.OAuth2Config(g.idp, "api-client", apiClientSecret, apiRedirect, "openid", "email", "offline_access")
	return oidctest.Tokens(g.t, g.idp, conf, user, userPassword)
}

// bearerGet calls path with an Authorization header.
func (g *gateway) bearerGet(path, authorization string) *oidctest.Page {
	g.t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.url+path, nil)
	if err != nil {
		g.t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := g.x.HTTPClient().Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	return oidctest.ReadPage(g.t, resp)
}
