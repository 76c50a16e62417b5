package oidcprovider_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/blossom-ledger/blossom/internal/gateway/oidcprovider"
	"github.com/blossom-ledger/blossom/internal/gateway/oidcprovider/oidctest"
)

const (
	clientID     = "gateway"
	clientSecret = "0123456789abcdef0123456789abcdef"
	redirectURL  = "https://127.0.0.1:1/auth/callback"
	apiAudience  = "blossom-gateway-api"
	password     = "correct horse battery"
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

type fixture struct {
	srv   *oidctest.Server
	conf  *oauth2.Config
	clock *clock
	ctx   context.Context
}

func newFixture(t *testing.T, mutate func(*oidcprovider.Config)) *fixture {
	t.Helper()
	x := oidctest.NewTLS(t)
	clk := newClock()
	cfg := oidcprovider.Config{
		Clients: []oidcprovider.ClientConfig{{
			ID: clientID, Secret: clientSecret, RedirectURIs: []string{redirectURL},
			PostLogoutRedirectURIs: []string{"https://127.0.0.1:1/"}, Audiences: []string{apiAudience},
		}},
		Lockout:     oidcprovider.LockoutPolicy{MaxFailures: 3, Window: 15 * time.Minute, LockFor: 15 * time.Minute},
		LoginBanner: "Authorized use only.",
		Now:         clk.Now,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv := oidctest.Start(t, x, cfg)
	for _, u := range []oidcprovider.User{
		{Username: "ao", Password: password, Email: "ao@agency1.example", Role: "Authorizing Official"},
		{Username: "admin", Password: password},
	} {
		if err := srv.AddUser(u); err != nil {
			t.Fatal(err)
		}
	}
	ctx := oidc.ClientContext(context.Background(), x.HTTPClient())
	ctx = context.WithValue(ctx, oauth2.HTTPClient, x.HTTPClient())
	return &fixture{srv: srv, conf: oidctest.OAuth2Config(srv, clientID, clientSecret, redirectURL), clock: clk, ctx: ctx}
}

func (f *fixture) verifier(t *testing.T, audience string) *oidc.IDTokenVerifier {
	t.Helper()
	provider, err := oidc.NewProvider(f.ctx, f.srv.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return provider.Verifier(&oidc.Config{ClientID: audience, SupportedSigningAlgs: []string{oidc.ES256}})
}

func TestDiscovery(t *testing.T) {
	f := newFixture(t, nil)
	resp, err := f.srv.TLS.HTTPClient().Get(f.srv.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Issuer            string   `json:"issuer"`
		JWKS              string   `json:"jwks_uri"`
		EndSession        string   `json:"end_session_endpoint"`
		Algs              []string `json:"id_token_signing_alg_values_supported"`
		PKCE              []string `json:"code_challenge_methods_supported"`
		AuthMethods       []string `json:"token_endpoint_auth_methods_supported"`
		ResponseTypes     []string `json:"response_types_supported"`
		ClaimsSupported   []string `json:"claims_supported"`
		GrantTypesSupport []string `json:"grant_types_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.Issuer != f.srv.URL || !strings.HasPrefix(doc.JWKS, f.srv.URL) || doc.EndSession == "" {
		t.Fatalf("discovery document: %+v", doc)
	}
	if !slices.Equal(doc.Algs, []string{"ES256"}) || !slices.Contains(doc.PKCE, "S256") {
		t.Fatalf("algorithms %v, PKCE %v", doc.Algs, doc.PKCE)
	}
	if !slices.Contains(doc.AuthMethods, "client_secret_basic") || !slices.Contains(doc.AuthMethods, "private_key_jwt") || slices.Contains(doc.AuthMethods, "client_secret_post") {
		t.Fatalf("token endpoint auth methods %v", doc.AuthMethods)
	}
	if !slices.Contains(doc.ClaimsSupported, "blossom.role") {
		t.Fatalf("claims %v lack the role claim", doc.ClaimsSupported)
	}
	// CORS: no origin is allowed.
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/.well-known/openid-configuration", nil)
	req.Header.Set("Origin", "https://evil.example")
	resp2, err := f.srv.TLS.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if got := resp2.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Fatalf("CORS allowed origin %q", got)
	}
}

func TestCodeFlowTokens(t *testing.T) {
	f := newFixture(t, nil)
	tok := oidctest.Tokens(t, f.srv, f.conf, "ao", password)
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" || tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("token response lacks a token: id %t access %t refresh %t", rawID != "", tok.AccessToken != "", tok.RefreshToken != "")
	}
	idt, err := f.verifier(t, clientID).Verify(f.ctx, rawID)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	var claims struct {
		Role          string   `json:"blossom.role"`
		Email         string   `json:"email"`
		EmailVerified bool     `json:"email_verified"`
		AMR           []string `json:"amr"`
		ACR           string   `json:"acr"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	sub, _ := f.srv.Subject("ao")
	if idt.Subject != sub || claims.Role != "Authorizing Official" || claims.Email != "ao@agency1.example" || !claims.EmailVerified {
		t.Fatalf("ID token claims: sub %q %+v", idt.Subject, claims)
	}
	if !slices.Equal(claims.AMR, []string{"pwd"}) || claims.ACR != oidcprovider.ACRPassword {
		t.Fatalf("amr %v acr %q", claims.AMR, claims.ACR)
	}
	if strings.Contains(sub, "ao") && len(sub) < 16 {
		t.Fatalf("subject %q is not opaque", sub)
	}
	// The access token is a JWT for the API audience carrying the role.
	at, err := f.verifier(t, apiAudience).Verify(f.ctx, tok.AccessToken)
	if err != nil {
		t.Fatalf("access token as a JWT for %s: %v", apiAudience, err)
	}
	var atClaims struct {
		Role string `json:"blossom.role"`
	}
	if err := at.Claims(&atClaims); err != nil || atClaims.Role != "Authorizing Official" {
		t.Fatalf("access token role %q (%v)", atClaims.Role, err)
	}

	// Refresh rotates: the new pair works, the old refresh token is spent.
	src := f.conf.TokenSource(f.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken})
	fresh, err := src.Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if fresh.RefreshToken == "" || fresh.RefreshToken == tok.RefreshToken || fresh.AccessToken == tok.AccessToken {
		t.Fatal("refresh did not rotate the tokens")
	}
	if _, err := f.conf.TokenSource(f.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Fatal("a spent refresh token was accepted again")
	}

	// A disabled user can no longer refresh.
	if err := f.srv.SetDisabled("ao", true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.conf.TokenSource(f.ctx, &oauth2.Token{RefreshToken: fresh.RefreshToken}).Token(); err == nil {
		t.Fatal("a disabled user refreshed a token")
	}
}

func TestPKCEEnforced(t *testing.T) {
	f := newFixture(t, nil)
	pkce := oidctest.NewPKCE()
	code := oidctest.AuthCode(t, f.srv, f.conf, pkce, "ao", password)
	// Wrong verifier.
	if _, err := f.conf.Exchange(f.ctx, code, oauth2.VerifierOption(oidctest.NewPKCE().Verifier)); err == nil {
		t.Fatal("code exchanged with the wrong PKCE verifier")
	}
	// No verifier.
	if _, err := f.conf.Exchange(f.ctx, code); err == nil {
		t.Fatal("code exchanged without a PKCE verifier")
	}
	// Wrong client secret, right verifier.
	bad := *f.conf
	bad.ClientSecret = "wrong-secret-wrong-secret-wrong!"
	if _, err := bad.Exchange(f.ctx, code, oauth2.VerifierOption(pkce.Verifier)); err == nil {
		t.Fatal("code exchanged with a wrong client secret")
	}
	// The right verifier still works once, then the code is spent.
	if _, err := f.conf.Exchange(f.ctx, code, oauth2.VerifierOption(pkce.Verifier)); err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if _, err := f.conf.Exchange(f.ctx, code, oauth2.VerifierOption(pkce.Verifier)); err == nil {
		t.Fatal("a code was exchanged twice")
	}

	// An authorization request without PKCE is refused before any form.
	browser := oidctest.Browser(f.srv.TLS.Pool, redirectURL)
	resp, err := browser.Get(f.conf.AuthCodeURL("state-1"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc == nil || loc.Query().Get("error") != "invalid_request" {
		t.Fatalf("authorize without PKCE: status %d location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// A redirect URI that is not registered gets no redirect at all.
	other := *f.conf
	other.RedirectURL = "https://evil.example/cb"
	resp, err = browser.Get(other.AuthCodeURL("s", oauth2.S256ChallengeOption(pkce.Verifier)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Location"), "https://evil.example") || resp.StatusCode < 400 {
		t.Fatalf("unregistered redirect URI: status %d location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// startLogin opens the sign-in page for a fresh request.
func startLogin(t *testing.T, f *fixture) (*http.Client, *oidctest.Page) {
	t.Helper()
	browser := oidctest.Browser(f.srv.TLS.Pool, redirectURL)
	pkce := oidctest.NewPKCE()
	resp, err := browser.Get(f.conf.AuthCodeURL("state-x", oauth2.S256ChallengeOption(pkce.Verifier)))
	if err != nil {
		t.Fatal(err)
	}
	page := oidctest.ReadPage(t, resp)
	if page.Status != http.StatusOK || !strings.Contains(page.Body, `<label for="password">`) {
		t.Fatalf("sign-in page: %d %.200s", page.Status, page.Body)
	}
	return browser, page
}

func TestLoginPage(t *testing.T) {
	f := newFixture(t, nil)
	_, page := startLogin(t, f)
	for _, want := range []string{`<label for="username">`, `<label for="password">`, "Authorized use only."} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("sign-in page lacks %q", want)
		}
	}
	if strings.Contains(strings.ToLower(page.Body), "<script") {
		t.Error("sign-in page has a script")
	}
	// Unknown or missing request IDs get a plain refusal.
	resp, err := f.srv.TLS.HTTPClient().Get(f.srv.URL + "/login?id=nope")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("unknown request: %d", resp.StatusCode)
	}
}

func TestLockout(t *testing.T) {
	f := newFixture(t, nil)
	browser, page := startLogin(t, f)
	// Two failures: 401 each time, the form stays usable.
	for i := 0; i < 2; i++ {
		resp := oidctest.Login(t, browser, page, "ao", "wrong password "+string(rune('a'+i)))
		page = oidctest.ReadPage(t, resp)
		if page.Status != http.StatusUnauthorized || !strings.Contains(page.Body, "incorrect") {
			t.Fatalf("failure %d: status %d", i+1, page.Status)
		}
	}
	// The third failure locks the name.
	resp := oidctest.Login(t, browser, page, "ao", "wrong password c")
	page = oidctest.ReadPage(t, resp)
	if page.Status != http.StatusTooManyRequests {
		t.Fatalf("third failure: status %d", page.Status)
	}
	// Now even the right password is refused, and unknown names lock too.
	resp = oidctest.Login(t, browser, page, "ao", password)
	page = oidctest.ReadPage(t, resp)
	if page.Status != http.StatusTooManyRequests {
		t.Fatalf("locked user with the right password: status %d", page.Status)
	}
	// Another user is not affected.
	resp = oidctest.Login(t, browser, page, "admin", password)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("other user: status %d", resp.StatusCode)
	}
	// After the lock period the right password works again.
	f.clock.Advance(16 * time.Minute)
	oidctest.AuthCode(t, f.srv, f.conf, oidctest.NewPKCE(), "ao", password)
}

func TestFailuresOutsideWindowDoNotLock(t *testing.T) {
	f := newFixture(t, nil)
	browser, page := startLogin(t, f)
	for i := 0; i < 4; i++ {
		resp := oidctest.Login(t, browser, page, "ao", "wrong password")
		page = oidctest.ReadPage(t, resp)
		if page.Status != http.StatusUnauthorized {
			t.Fatalf("failure %d spaced out by 10 min: status %d", i+1, page.Status)
		}
		f.clock.Advance(10 * time.Minute)
		// The pending sign-in expires after 10 min: start a new one.
		browser, page = startLogin(t, f)
	}
}

func TestDisabledUserCannotSignIn(t *testing.T) {
	f := newFixture(t, nil)
	if err := f.srv.SetDisabled("ao", true); err != nil {
		t.Fatal(err)
	}
	browser, page := startLogin(t, f)
	resp := oidctest.Login(t, browser, page, "ao", password)
	p := oidctest.ReadPage(t, resp)
	if p.Status != http.StatusUnauthorized {
		t.Fatalf("disabled user: status %d", p.Status)
	}
	if err := f.srv.SetDisabled("ao", false); err != nil {
		t.Fatal(err)
	}
	oidctest.AuthCode(t, f.srv, f.conf, oidctest.NewPKCE(), "ao", password)
}

func TestTOTPSecondFactor(t *testing.T) {
	f := newFixture(t, nil)
	secret, err := oidcprovider.NewTOTPSecret()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.srv.AddUser(oidcprovider.User{Username: "tpoc", Password: password, Role: "Technical Point of Contact", TOTPSecret: secret}); err != nil {
		t.Fatal(err)
	}
	browser, page := startLogin(t, f)
	resp := oidctest.Login(t, browser, page, "tpoc", password)
	page = oidctest.ReadPage(t, resp)
	if page.Status != http.StatusOK || !strings.Contains(page.Body, `<label for="code">`) {
		t.Fatalf("after the password: status %d, no code form", page.Status)
	}
	// A wrong code is refused.
	wrong := "000000"
	for TOTPMatches(secret, f.clock.Now(), wrong) {
		wrong = fmt.Sprintf("%06d", (atoiOrZero(wrong)+1)%1000000)
	}
	resp = oidctest.Submit(t, browser, page, url.Values{"code": {wrong}})
	page = oidctest.ReadPage(t, resp)
	if page.Status != http.StatusUnauthorized {
		t.Fatalf("wrong code: status %d", page.Status)
	}
	// The right code completes the sign-in, with amr otp/mfa.
	code := oidcprovider.TOTPCode(oidcprovider.DefaultTOTPAlgorithm(), secret, f.clock.Now())
	resp = oidctest.Submit(t, browser, page, url.Values{"code": {code}})
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("right code: status %d location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The same code is not accepted twice.
	browser, page = startLogin(t, f)
	resp = oidctest.Login(t, browser, page, "tpoc", password)
	page = oidctest.ReadPage(t, resp)
	resp = oidctest.Submit(t, browser, page, url.Values{"code": {code}})
	page = oidctest.ReadPage(t, resp)
	if page.Status != http.StatusUnauthorized {
		t.Fatalf("replayed code: status %d", page.Status)
	}
	// The next step's code works, and the ID token says mfa.
	f.clock.Advance(30 * time.Second)
	pkce := oidctest.NewPKCE()
	browser, page = startLoginWith(t, f, pkce)
	resp = oidctest.Login(t, browser, page, "tpoc", password)
	page = oidctest.ReadPage(t, resp)
	resp = oidctest.Submit(t, browser, page, url.Values{"code": {oidcprovider.TOTPCode(oidcprovider.DefaultTOTPAlgorithm(), secret, f.clock.Now())}})
	resp.Body.Close()
	loc, _ = url.Parse(resp.Header.Get("Location"))
	tok, err := f.conf.Exchange(f.ctx, loc.Query().Get("code"), oauth2.VerifierOption(pkce.Verifier))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := f.verifier(t, clientID).Verify(f.ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		AMR []string `json:"amr"`
		ACR string   `json:"acr"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(claims.AMR, "otp") || !slices.Contains(claims.AMR, "mfa") || claims.ACR != oidcprovider.ACRMultiFactor {
		t.Fatalf("amr %v acr %q", claims.AMR, claims.ACR)
	}
}

func startLoginWith(t *testing.T, f *fixture, pkce oidctest.PKCE) (*http.Client, *oidctest.Page) {
	t.Helper()
	browser := oidctest.Browser(f.srv.TLS.Pool, redirectURL)
	resp, err := browser.Get(f.conf.AuthCodeURL("state-y", oauth2.S256ChallengeOption(pkce.Verifier)))
	if err != nil {
		t.Fatal(err)
	}
	return browser, oidctest.ReadPage(t, resp)
}

// TOTPMatches reports whether code is valid for secret around now.
func TOTPMatches(secret []byte, now time.Time, code string) bool {
	for _, d := range []time.Duration{-30 * time.Second, 0, 30 * time.Second} {
		if oidcprovider.TOTPCode(oidcprovider.DefaultTOTPAlgorithm(), secret, now.Add(d)) == code {
			return true
		}
	}
	return false
}

func TestConfigValidation(t *testing.T) {
	good := oidcprovider.ClientConfig{ID: "c", Secret: clientSecret, RedirectURIs: []string{"https://gw.example/cb"}}
	tests := []struct {
		name string
		cfg  oidcprovider.Config
	}{
		{"http issuer", oidcprovider.Config{Issuer: "http://idp.example"}},
		{"issuer with query", oidcprovider.Config{Issuer: "https://idp.example/?x=1"}},
		{"short secret", oidcprovider.Config{Issuer: "https://idp.example", Clients: []oidcprovider.ClientConfig{{ID: "c", Secret: "short", RedirectURIs: good.RedirectURIs}}}},
		{"http redirect", oidcprovider.Config{Issuer: "https://idp.example", Clients: []oidcprovider.ClientConfig{{ID: "c", Secret: clientSecret, RedirectURIs: []string{"http://localhost/cb"}}}}},
		{"no redirect", oidcprovider.Config{Issuer: "https://idp.example", Clients: []oidcprovider.ClientConfig{{ID: "c", Secret: clientSecret}}}},
		{"duplicate client", oidcprovider.Config{Issuer: "https://idp.example", Clients: []oidcprovider.ClientConfig{good, good}}},
		{"private_key_jwt without key", oidcprovider.Config{Issuer: "https://idp.example", Clients: []oidcprovider.ClientConfig{{ID: "c", AuthMethod: oidcprovider.AuthPrivateKeyJWT, RedirectURIs: good.RedirectURIs}}}},
		{"unknown auth method", oidcprovider.Config{Issuer: "https://idp.example", Clients: []oidcprovider.ClientConfig{{ID: "c", AuthMethod: "client_secret_post", Secret: clientSecret, RedirectURIs: good.RedirectURIs}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := oidcprovider.New(tc.cfg); err == nil {
				t.Fatal("New accepted a bad configuration")
			} else if strings.Contains(err.Error(), clientSecret) {
				t.Fatal("error echoes the client secret")
			}
		})
	}
	p, err := oidcprovider.New(oidcprovider.Config{Issuer: "https://idp.example", Clients: []oidcprovider.ClientConfig{good}, BcryptCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	users := []struct {
		name string
		u    oidcprovider.User
	}{
		{"short password", oidcprovider.User{Username: "a", Password: "short"}},
		{"long password", oidcprovider.User{Username: "a", Password: strings.Repeat("x", 73)}},
		{"no name", oidcprovider.User{Password: password}},
		{"control character", oidcprovider.User{Username: "a\nb", Password: password}},
		{"short TOTP secret", oidcprovider.User{Username: "a", Password: password, TOTPSecret: []byte("short")}},
	}
	for _, tc := range users {
		t.Run(tc.name, func(t *testing.T) {
			err := p.AddUser(tc.u)
			if err == nil {
				t.Fatal("AddUser accepted a bad user")
			}
			if tc.u.Password != "" && strings.Contains(err.Error(), tc.u.Password) {
				t.Fatal("error echoes the password")
			}
		})
	}
	if err := p.AddUser(oidcprovider.User{Username: "a", Password: password}); err != nil {
		t.Fatal(err)
	}
	if err := p.AddUser(oidcprovider.User{Username: "a", Password: password}); err == nil {
		t.Fatal("duplicate user accepted")
	}
}

func atoiOrZero(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
