// Package oidctest runs real oidcprovider instances over HTTPS on loopback
// for tests, and drives their sign-in pages as a browser would (an
// http.Client with a cookie jar posting the HTML form). It is shared by the
// tests of the provider and of the gateway's auth package.
package oidctest

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/blossom-ledger/blossom/internal/gateway/oidcprovider"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
)

// TLS is a throwaway server certificate for 127.0.0.1 and localhost and
// the pool that trusts it.
type TLS struct {
	Cert tls.Certificate
	Pool *x509.CertPool
}

// NewTLS issues a loopback server certificate from a fresh test CA.
func NewTLS(t testing.TB) *TLS {
	t.Helper()
	c := testpki.NewConsortium(t, "TestIdPMSP")
	cred := c.Member("TestIdPMSP").Issue(pki.RoleGateway, "idp", nil)
	pool := x509.NewCertPool()
	pool.AddCert(c.Root.Cert)
	return &TLS{Cert: cred.TLS, Pool: pool}
}

// HTTPClient returns a client that trusts only this test CA (TLS 1.3).
func (x *TLS) HTTPClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: x.Pool}},
		Timeout:   20 * time.Second,
	}
}

// Server is a provider served over HTTPS on 127.0.0.1.
type Server struct {
	*oidcprovider.Provider
	URL string
	TLS *TLS
}

// Start serves a provider built from cfg on a fresh loopback port; the
// issuer is its https URL. cfg.BcryptCost defaults to bcrypt's minimum,
// to keep tests fast. The server stops when the test ends.
func Start(t testing.TB, x *TLS, cfg oidcprovider.Config) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Issuer = "https://" + ln.Addr().String()
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = 4
	}
	p, err := oidcprovider.New(cfg)
	if err != nil {
		ln.Close()
		t.Fatalf("oidctest: provider: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, ln, x.Cert) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("oidctest: Serve: %v", err)
		}
	})
	return &Server{Provider: p, URL: cfg.Issuer, TLS: x}
}

// Browser is an http.Client with a cookie jar that follows redirects,
// except to URLs starting with StopAt (e.g. a relying party's redirect URI
// that the test wants to inspect), where it hands back the redirect.
func Browser(pool *x509.CertPool, stopAt string) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar:       jar,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool}},
		Timeout:   20 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if stopAt != "" && strings.HasPrefix(req.URL.String(), stopAt) {
				return http.ErrUseLastResponse
			}
			if len(via) >= 10 {
				return errors.New("too many redirects")
			}
			return nil
		},
	}
}

var hiddenID = regexp.MustCompile(`name="id" value="([^"]+)"`)
var formAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)

// Page is a fetched HTML page.
type Page struct {
	URL    *url.URL
	Status int
	Body   string
}

// ReadPage reads resp into a Page (and closes the body).
func ReadPage(t testing.TB, resp *http.Response) *Page {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return &Page{URL: resp.Request.URL, Status: resp.StatusCode, Body: string(body)}
}

// Submit posts the page's form with fields (plus its hidden id).
func Submit(t testing.TB, c *http.Client, page *Page, fields url.Values) *http.Response {
	t.Helper()
	id := hiddenID.FindStringSubmatch(page.Body)
	action := formAction.FindStringSubmatch(page.Body)
	if id == nil || action == nil {
		t.Fatalf("oidctest: no sign-in form on %s (status %d): %.300s", page.URL, page.Status, page.Body)
	}
	target, err := page.URL.Parse(action[1])
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"id": {id[1]}}
	for k, v := range fields {
		form[k] = v
	}
	resp, err := c.PostForm(target.String(), form)
	if err != nil {
		t.Fatalf("oidctest: POST %s: %v", target, err)
	}
	return resp
}

// Login posts user name and password to the sign-in page.
func Login(t testing.TB, c *http.Client, page *Page, username, password string) *http.Response {
	t.Helper()
	return Submit(t, c, page, url.Values{"username": {username}, "password": {password}})
}

// PKCE is a code verifier and its S256 challenge.
type PKCE struct{ Verifier, Challenge string }

// NewPKCE makes a fresh verifier.
func NewPKCE() PKCE {
	v := oauth2.GenerateVerifier()
	sum := sha256.Sum256([]byte(v))
	return PKCE{Verifier: v, Challenge: base64.RawURLEncoding.EncodeToString(sum[:])}
}

// AuthCode runs the front channel for conf as a browser would and returns
// the code delivered to conf.RedirectURL. It fails the test if the
// redirect carries no code or the wrong state.
func AuthCode(t testing.TB, srv *Server, conf *oauth2.Config, pkce PKCE, username, password string, extra ...oauth2.AuthCodeOption) string {
	t.Helper()
	browser := Browser(srv.TLS.Pool, conf.RedirectURL)
	state := oauth2.GenerateVerifier()
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(pkce.Verifier), oauth2.SetAuthURLParam("nonce", "n-"+state[:8])}, extra...)
	resp, err := browser.Get(conf.AuthCodeURL(state, opts...))
	if err != nil {
		t.Fatalf("oidctest: authorize: %v", err)
	}
	page := ReadPage(t, resp)
	if page.Status != http.StatusOK {
		t.Fatalf("oidctest: authorize answered %d: %.300s", page.Status, page.Body)
	}
	resp = Login(t, browser, page, username, password)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		p := ReadPage(t, resp)
		t.Fatalf("oidctest: sign-in answered %d, not a redirect to the client: %.300s", p.Status, p.Body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got := loc.Query().Get("state"); got != state {
		t.Fatalf("oidctest: state %q came back, want %q", got, state)
	}
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("oidctest: no code in redirect (error %q)", loc.Query().Get("error"))
	}
	return code
}

// Tokens runs the whole code flow for conf (PKCE S256) and exchanges the
// code; conf must be a client of srv.
func Tokens(t testing.TB, srv *Server, conf *oauth2.Config, username, password string) *oauth2.Token {
	t.Helper()
	pkce := NewPKCE()
	code := AuthCode(t, srv, conf, pkce, username, password)
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.TLS.HTTPClient())
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(pkce.Verifier))
	if err != nil {
		t.Fatalf("oidctest: exchange: %v", err)
	}
	return tok
}

// OAuth2Config is a client_secret_basic client configuration for srv.
func OAuth2Config(srv *Server, clientID, secret, redirectURL string, scopes ...string) *oauth2.Config {
	if len(scopes) == 0 {
		scopes = []string{"openid", "email", "offline_access"}
	}
	return &oauth2.Config{
		ClientID: clientID, ClientSecret: secret, RedirectURL: redirectURL, Scopes: scopes,
		Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/authorize", TokenURL: srv.URL + "/oauth/token", AuthStyle: oauth2.AuthStyleInHeader},
	}
}
