package auth

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/gateway/oidcprovider"
	"github.com/blossom-ledger/blossom/internal/gateway/oidcprovider/oidctest"
)

func TestBearerTokens(t *testing.T) {
	x := oidctest.NewTLS(t)
	g := newGateway(t, x, gwOptions{})
	// A second member's provider, independently configured, with a user of
	// the same name and a client for the same API audience.
	other := newGateway(t, x, gwOptions{})
	foreign := other.apiToken("acq").AccessToken

	tok := g.apiToken("acq")
	valid := tok.AccessToken
	wrongAud := oidctest.Tokens(t, g.idp, oidctest.OAuth2Config(g.idp, "other-app", otherSecret, apiRedirect, "openid"), "acq", userPassword).AccessToken
	idToken, _ := tok.Extra("id_token").(string)

	parts := strings.Split(valid, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[len(sig)/2] ^= 0x01
	badSig := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	forgedPayload := strings.Replace(string(payload), "Acquisition Officer", "License Owner", 1)
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(forgedPayload)) + "." + parts[2]

	tests := []struct {
		name   string
		header string
	}{
		{"no token", ""},
		{"not bearer", "Basic " + base64.StdEncoding.EncodeToString([]byte("acq:"+userPassword))},
		{"empty bearer", "Bearer "},
		{"garbage", "Bearer not.a.jwt"},
		{"another member's provider", "Bearer " + foreign},
		{"wrong audience", "Bearer " + wrongAud},
		{"tampered signature", "Bearer " + badSig},
		{"tampered claims", "Bearer " + forged},
		{"ID token as bearer", "Bearer " + idToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			page := g.bearerGet("/api/v1/me", tc.header)
			wantError(t, page, http.StatusUnauthorized, CodeUnauthenticated, valid, foreign, wrongAud, badSig, forged, idToken, userPassword)
		})
	}

	// The valid token yields a Principal with the role claim, bound to an
	// opaque enrollment ID enrolled at the member CA.
	m := meOf(t, g.bearerGet("/api/v1/me", "Bearer "+valid))
	sub, _ := g.idp.Subject("acq")
	if m.Method != string(MethodBearer) || m.Role != "Acquisition Officer" || m.Subject != sub || m.Issuer != g.idp.URL || m.MSPID != testMSP {
		t.Fatalf("principal %+v", m)
	}
	if !strings.HasPrefix(m.EnrollmentID, "u") || strings.Contains(m.EnrollmentID, "acq") || !slices.Contains(g.ca.EnrollmentIDs(), m.EnrollmentID) {
		t.Fatalf("enrollment ID %q", m.EnrollmentID)
	}
	if m.CSRF != "" {
		t.Fatal("a bearer principal has a CSRF token")
	}

	// Expired: the verifier's clock moves past the token's 10 minutes.
	g.clock.Advance(11 * time.Minute)
	wantError(t, g.bearerGet("/api/v1/me", "Bearer "+valid), http.StatusUnauthorized, CodeUnauthenticated, valid)
	if !strings.Contains(g.logs.String(), "token is expired") {
		t.Fatal("the refusal after the clock moved was not for expiry")
	}
}

func TestBearerUnapprovedIsForbiddenAndEnrollsNothing(t *testing.T) {
	x := oidctest.NewTLS(t)
	g := newGateway(t, x, gwOptions{noApprovals: true})
	before := g.ca.EnrollmentIDs()
	valid := g.apiToken("ao").AccessToken
	wantError(t, g.bearerGet("/api/v1/me", "Bearer "+valid), http.StatusForbidden, CodeNotApproved, valid)
	if after := g.ca.EnrollmentIDs(); !slices.Equal(after, before) {
		t.Fatalf("an unapproved caller was registered at the CA: %v", after)
	}
	sub, _ := g.idp.Subject("ao")
	if _, err := g.binder.Lookup(g.idp.URL, sub); err == nil {
		t.Fatal("an unapproved caller was bound")
	}
	// The browser sign-in refuses it likewise.
	b := g.newBrowser(nil)
	wantError(t, g.signIn(b, "ao"), http.StatusForbidden, CodeNotApproved)
	if after := g.ca.EnrollmentIDs(); !slices.Equal(after, before) {
		t.Fatal("an unapproved browser sign-in was registered at the CA")
	}
}

func TestBrowserSignInSessionAndLogout(t *testing.T) {
	x := oidctest.NewTLS(t)
	g := newGateway(t, x, gwOptions{})
	b := g.newBrowser(nil)

	// Run the flow by hand up to the callback, to see the cookies it sets.
	resp, err := b.noFollow().Get(g.url + LoginPath + "?return=/api/v1/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	authURL, _ := url.Parse(resp.Header.Get("Location"))
	q := authURL.Query()
	if resp.StatusCode != http.StatusFound || q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 ||
		len(q.Get("state")) != 43 || len(q.Get("nonce")) != 43 || q.Get("client_id") != "gateway" {
		t.Fatalf("login redirect %d %s", resp.StatusCode, authURL)
	}
	if strings.Contains(authURL.String(), gatewaySecret) || q.Get("client_secret") != "" {
		t.Fatal("the client secret left the server")
	}
	checkCookie(t, resp, LoginCookie, http.SameSiteLaxMode)

	resp, err = b.Get(authURL.String())
	if err != nil {
		t.Fatal(err)
	}
	page := oidctest.ReadPage(t, resp)
	resp = oidctest.Login(t, b.noFollow(), page, "acq", userPassword)
	resp.Body.Close()
	resp, err = b.noFollow().Get(resp.Header.Get("Location")) // the provider's callback
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	callback := resp.Header.Get("Location")
	if !strings.HasPrefix(callback, g.url+CallbackPath+"?") {
		t.Fatalf("provider redirected to %q", callback)
	}
	resp, err = b.noFollow().Get(callback)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/api/v1/me" {
		t.Fatalf("callback: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	cookie := checkCookie(t, resp, SessionCookie, http.SameSiteLaxMode)
	raw, err := base64.RawURLEncoding.DecodeString(cookie.Value)
	if err != nil || len(raw) != 32 {
		t.Fatalf("session ID is not 256 random bits: %d bytes", len(raw))
	}
	// The store never holds the cookie value itself.
	if _, err := g.sessions.Get(context.Background(), cookie.Value); err == nil {
		t.Fatal("the session store is keyed by the raw session ID")
	}

	m := meOf(t, g.get(b, "/api/v1/me"))
	if m.Method != string(MethodSession) || m.Role != "Acquisition Officer" || m.CSRF == "" {
		t.Fatalf("principal %+v", m)
	}

	// CSRF: an unsafe request without the token is refused, with it passes.
	post := func(token string, header bool, origin string) *oidctest.Page {
		form := url.Values{}
		if token != "" && !header {
			form.Set(CSRFField, token)
		}
		req, _ := http.NewRequest(http.MethodPost, g.url+"/api/v1/echo", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if header {
			req.Header.Set(CSRFHeader, token)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return oidctest.ReadPage(t, resp)
	}
	wantError(t, post("", false, ""), http.StatusForbidden, CodeCSRF)
	wantError(t, post("wrong-token-wrong-token", false, ""), http.StatusForbidden, CodeCSRF)
	wantError(t, post(m.CSRF, true, "https://evil.example"), http.StatusForbidden, CodeCSRF)
	if p := post(m.CSRF, false, ""); p.Status != http.StatusOK {
		t.Fatalf("form with the CSRF token: %d %s", p.Status, p.Body)
	}
	if p := post(m.CSRF, true, g.url); p.Status != http.StatusOK {
		t.Fatalf("header with the CSRF token: %d %s", p.Status, p.Body)
	}

	// Logout needs the CSRF token too, then ends the session here and at
	// the provider (end-session redirect with id_token_hint).
	resp, err = b.noFollow().PostForm(g.url+LogoutPath, url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("logout without CSRF token: %d", resp.StatusCode)
	}
	resp, err = b.noFollow().PostForm(g.url+LogoutPath, url.Values{CSRFField: {m.CSRF}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	end, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || end == nil || !strings.HasPrefix(end.String(), g.idp.URL) || end.Query().Get("id_token_hint") == "" ||
		end.Query().Get("post_logout_redirect_uri") != g.url+"/" {
		t.Fatalf("logout: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = b.Get(end.String())
	if err != nil {
		t.Fatal(err)
	}
	home := oidctest.ReadPage(t, resp)
	if home.Status != http.StatusOK || !strings.Contains(home.Body, "dashboard home") {
		t.Fatalf("after the provider's logout: %d %.100s", home.Status, home.Body)
	}
	if g.sessions.Len() != 0 {
		t.Fatalf("%d sessions left after logout", g.sessions.Len())
	}
	wantError(t, g.get(b, "/api/v1/me"), http.StatusUnauthorized, CodeUnauthenticated)
	// The old cookie, replayed, is refused.
	replay := g.newBrowser(nil)
	u, _ := url.Parse(g.url)
	replay.Jar.SetCookies(u, []*http.Cookie{{Name: SessionCookie, Value: cookie.Value, Path: "/"}})
	wantError(t, g.get(replay, "/api/v1/me"), http.StatusUnauthorized, CodeUnauthenticated)
}

// checkCookie finds name among resp's cookies and checks its attributes.
func checkCookie(t *testing.T, resp *http.Response, name string, sameSite http.SameSite) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == name {
			if !c.HttpOnly || !c.Secure || c.SameSite != sameSite || c.Path != "/" || c.Domain != "" {
				t.Fatalf("cookie %s: HttpOnly %t Secure %t SameSite %v Path %q Domain %q", name, c.HttpOnly, c.Secure, c.SameSite, c.Path, c.Domain)
			}
			return c
		}
	}
	t.Fatalf("no %s cookie set", name)
	return nil
}

func TestSecondProviderWithOtherRoleClaim(t *testing.T) {
	x := oidctest.NewTLS(t)
	g := newGateway(t, x, gwOptions{roleClaim: "agency_role", strictCookie: true})
	if g.idp.RoleClaim() != "agency_role" {
		t.Fatal("provider role claim not configured")
	}
	b := g.newBrowser(nil)
	page := g.signIn(b, "ao")
	// With SameSite=Strict the first navigation after sign-in (from the
	// provider's site) may carry no cookie in a real browser; Go's jar
	// sends it, which is what this test needs.
	m := meOf(t, page)
	if m.Role != "Authorizing Official" || m.Method != string(MethodSession) {
		t.Fatalf("principal %+v", m)
	}
	// Bearer tokens of this provider carry the role under agency_role too.
	mb := meOf(t, g.bearerGet("/api/v1/me", "Bearer "+g.apiToken("lo").AccessToken))
	if mb.Role != "License Owner" {
		t.Fatalf("bearer principal %+v", mb)
	}
	// A verifier that looks for the default claim finds no role, and the
	// binding then supplies the approved one.
	v, err := NewBearerVerifier(BearerConfig{Issuer: g.idp.URL, Audience: apiAudience, HTTPClient: x.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	claims, err := v.Verify(context.Background(), g.apiToken("lo").AccessToken)
	if err != nil || claims.HasRole {
		t.Fatalf("default-claim verifier: %v %+v", err, claims)
	}
}

func TestStateAndPKCEMismatchRefused(t *testing.T) {
	x := oidctest.NewTLS(t)
	g := newGateway(t, x, gwOptions{})
	// Two browsers each start a sign-in and stop at the callback.
	stopAtCallback := func(user string) (*browser, url.Values) {
		b := g.newBrowser(nil)
		resp, err := b.noFollow().Get(g.url + LoginPath)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		resp, err = b.Get(resp.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		page := oidctest.ReadPage(t, resp)
		resp = oidctest.Login(t, b.noFollow(), page, user, userPassword)
		resp.Body.Close()
		resp, err = b.noFollow().Get(resp.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		return b, loc.Query()
	}
	victim, victimQ := stopAtCallback("acq")
	_, attackerQ := stopAtCallback("ao")

	callback := func(b *browser, code, state string) *oidctest.Page {
		return g.get(b, CallbackPath+"?"+url.Values{"code": {code}, "state": {state}}.Encode())
	}
	// State mismatch: the victim's browser gets the attacker's code and
	// state (login CSRF): refused.
	wantError(t, callback(victim, attackerQ.Get("code"), attackerQ.Get("state")), http.StatusBadRequest, CodeBadRequest)
	// The victim's sign-in was consumed by the refusal; start it again.
	victim, victimQ = stopAtCallback("acq")
	// PKCE mismatch: the attacker's code injected with the victim's own
	// state: the state matches, but the code was bound to the attacker's
	// challenge, so the provider refuses the victim's verifier.
	wantError(t, callback(victim, attackerQ.Get("code"), victimQ.Get("state")), http.StatusUnauthorized, CodeUnauthenticated)
	if g.sessions.Len() != 0 {
		t.Fatal("a refused callback created a session")
	}
	// A callback without any sign-in in progress in that browser.
	wantError(t, callback(g.newBrowser(nil), victimQ.Get("code"), victimQ.Get("state")), http.StatusBadRequest, CodeBadRequest)
	// A provider error is reported by code only.
	b := g.newBrowser(nil)
	wantError(t, g.get(b, CallbackPath+"?error=access_denied&error_description=%3Cscript%3E"), http.StatusUnauthorized, CodeUnauthenticated)
	// Open redirects are refused at the start.
	for _, ret := range []string{"https://evil.example/", "//evil.example/", "/\\evil.example"} {
		wantError(t, g.get(b, LoginPath+"?return="+url.QueryEscape(ret)), http.StatusBadRequest, CodeBadRequest)
	}
}

func TestSessionTimeoutsAndRefresh(t *testing.T) {
	x := oidctest.NewTLS(t)
	g := newGateway(t, x, gwOptions{idleTimeout: 30 * time.Minute, absTimeout: 2 * time.Hour})

	t.Run("idle", func(t *testing.T) {
		b := g.newBrowser(nil)
		meOf(t, g.signIn(b, "acq"))
		g.clock.Advance(29 * time.Minute)
		meOf(t, g.get(b, "/api/v1/me")) // refreshes the tokens too (10 min TTL)
		g.clock.Advance(31 * time.Minute)
		wantError(t, g.get(b, "/api/v1/me"), http.StatusUnauthorized, CodeUnauthenticated)
	})

	t.Run("absolute", func(t *testing.T) {
		b := g.newBrowser(nil)
		meOf(t, g.signIn(b, "ao"))
		for i := 0; i < 5; i++ { // 100 min of activity
			g.clock.Advance(20 * time.Minute)
			meOf(t, g.get(b, "/api/v1/me"))
		}
		g.clock.Advance(21 * time.Minute) // 121 min > 2 h
		wantError(t, g.get(b, "/api/v1/me"), http.StatusUnauthorized, CodeUnauthenticated)
	})

	t.Run("refresh", func(t *testing.T) {
		b := g.newBrowser(nil)
		meOf(t, g.signIn(b, "lo"))
		s := onlySession(t, g, "lo")
		g.clock.Advance(9*time.Minute + 30*time.Second) // within a minute of the access token's expiry
		meOf(t, g.get(b, "/api/v1/me"))
		after := onlySession(t, g, "lo")
		if after.RefreshToken == s.RefreshToken || !after.TokenExpiry.After(s.TokenExpiry) || after.IDToken == s.IDToken {
			t.Fatal("the session's tokens were not refreshed")
		}
		// The user is disabled at the provider: the next refresh fails and
		// ends the session.
		if err := g.idp.SetDisabled("lo", true); err != nil {
			t.Fatal(err)
		}
		g.clock.Advance(9*time.Minute + 30*time.Second)
		wantError(t, g.get(b, "/api/v1/me"), http.StatusUnauthorized, CodeUnauthenticated)
	})
}

// onlySession returns the session of a user name.
func onlySession(t *testing.T, g *gateway, user string) *Session {
	t.Helper()
	sub, _ := g.idp.Subject(user)
	g.sessions.mu.Lock()
	defer g.sessions.mu.Unlock()
	var found *Session
	for _, e := range g.sessions.items {
		if e.s.Subject == sub {
			if found != nil {
				t.Fatalf("two sessions for %s", user)
			}
			found = e.s.clone()
		}
	}
	if found == nil {
		t.Fatalf("no session for %s", user)
	}
	return found
}

func TestDisabledUserRefusedAtOnce(t *testing.T) {
	x := oidctest.NewTLS(t)
	g := newGateway(t, x, gwOptions{})
	b := g.newBrowser(nil)
	m := meOf(t, g.signIn(b, "acq"))
	token := g.apiToken("acq").AccessToken
	if mb := meOf(t, g.bearerGet("/api/v1/me", "Bearer "+token)); mb.EnrollmentID != m.EnrollmentID {
		t.Fatalf("bearer and session bound differently: %s vs %s", mb.EnrollmentID, m.EnrollmentID)
	}
	res, err := g.binder.Disable(context.Background(), m.EnrollmentID, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.CRL) == 0 || len(res.Revoked) != 1 {
		t.Fatalf("Disable: CRL %d bytes, revoked %v", len(res.CRL), res.Revoked)
	}
	// Both the live session and the unexpired token are refused now.
	wantError(t, g.get(b, "/api/v1/me"), http.StatusForbidden, CodeAccountDisabled)
	wantError(t, g.bearerGet("/api/v1/me", "Bearer "+token), http.StatusForbidden, CodeAccountDisabled, token)
	// Signing in again does not help.
	wantError(t, g.signIn(g.newBrowser(nil), "acq"), http.StatusForbidden, CodeAccountDisabled)
}

func TestProviderLockoutThroughGateway(t *testing.T) {
	x := oidctest.NewTLS(t)
	g := newGateway(t, x, gwOptions{})
	b := g.newBrowser(nil)
	resp, err := b.Get(g.url + LoginPath)
	if err != nil {
		t.Fatal(err)
	}
	page := oidctest.ReadPage(t, resp)
	for i := 0; i < 5; i++ {
		resp = oidctest.Login(t, b.Client, page, "acq", "not-the-password")
		page = oidctest.ReadPage(t, resp)
	}
	if page.Status != http.StatusTooManyRequests {
		t.Fatalf("after 5 failures: %d", page.Status)
	}
	resp = oidctest.Login(t, b.Client, page, "acq", userPassword)
	if p := oidctest.ReadPage(t, resp); p.Status != http.StatusTooManyRequests {
		t.Fatalf("locked user with the right password: %d", p.Status)
	}
	if g.sessions.Len() != 0 {
		t.Fatal("a locked user got a session")
	}
}

func TestPrivateKeyJWTAndACR(t *testing.T) {
	x := oidctest.NewTLS(t)
	g := newGateway(t, x, gwOptions{privateKey: true, acrValues: []string{oidcprovider.ACRMultiFactor}})
	// Password only: the provider signs the user in, the gateway refuses
	// the weak authentication context.
	wantError(t, g.signIn(g.newBrowser(nil), "acq"), http.StatusForbidden, CodeUnauthenticated)
	// With TOTP: accepted, and the code exchange used private_key_jwt.
	m := meOf(t, g.signIn(g.newBrowser(nil), "tpoc"))
	if m.Role != "Technical Point of Contact" {
		t.Fatalf("principal %+v", m)
	}
	assertions := 0
	for _, s := range g.rec.Secrets() {
		if strings.Count(s, ".") == 2 && strings.HasPrefix(s, "eyJ") {
			if hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(s, ".")[0]); strings.Contains(string(hdr), `"kid":"gw-key-1"`) {
				assertions++
			}
		}
	}
	if assertions == 0 {
		t.Fatal("no private_key_jwt client assertion reached the token endpoint")
	}
}

func TestClientCertificate(t *testing.T) {
	x := oidctest.NewTLS(t)
	g := newGateway(t, x, gwOptions{})
	cred := g.ca.RegisterAndEnroll("sam-agent", "Technical Point of Contact")
	b := g.newBrowser(cred)
	m := meOf(t, g.get(b, "/api/v1/me"))
	if m.Method != string(MethodCertificate) || m.EnrollmentID != "sam-agent" || m.Role != "Technical Point of Contact" ||
		m.MSPID != testMSP || m.Issuer != CertificateIssuerPrefix+testMSP || m.Type != "client" {
		t.Fatalf("principal %+v", m)
	}
	// A certificate from another CA fails the TLS handshake.
	other := newGateway(t, x, gwOptions{})
	stranger := other.ca.RegisterAndEnroll("stranger", "Acquisition Officer")
	if _, err := g.newBrowser(stranger).Get(g.url + "/api/v1/me"); err == nil {
		t.Fatal("a certificate of another CA was accepted")
	}
	// Certificate users need no CSRF token: no cookie, no ambient authority.
	req, _ := http.NewRequest(http.MethodPost, g.url+"/api/v1/echo", nil)
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("certificate POST: %d", resp.StatusCode)
	}
}

// TestNoSecretsInLogsOrResponses runs every flow and looks for each secret
// value in the captured logs (gateway, provider, CA and zitadel's default
// logger) and in everything the browsers received.
func TestNoSecretsInLogsOrResponses(t *testing.T) {
	defaultLogs := &syncBuffer{}
	prev := slogDefault()
	setSlogDefault(defaultLogs)
	t.Cleanup(func() { restoreSlogDefault(prev) })

	x := oidctest.NewTLS(t)
	g := newGateway(t, x, gwOptions{})
	b := g.newBrowser(nil)
	m := meOf(t, g.signIn(b, "acq"))
	// A refresh, a CSRF refusal, a logout, failed logins and bearer calls.
	g.clock.Advance(9*time.Minute + 30*time.Second)
	meOf(t, g.get(b, "/api/v1/me"))
	resp, err := b.PostForm(g.url+"/api/v1/echo", url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	tok := g.apiToken("ao")
	meOf(t, g.bearerGet("/api/v1/me", "Bearer "+tok.AccessToken))
	g.bearerGet("/api/v1/me", "Bearer "+tok.AccessToken+"x")
	resp, err = b.PostForm(g.url+LogoutPath, url.Values{CSRFField: {m.CSRF}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	b2 := g.newBrowser(nil)
	resp, err = b2.Get(g.url + LoginPath)
	if err != nil {
		t.Fatal(err)
	}
	page := oidctest.ReadPage(t, resp)
	oidctest.Login(t, b2.Client, page, "ao", userPassword+"-wrong").Body.Close()
	meOf(t, g.signIn(g.newBrowser(nil), "tpoc"))

	secrets := append(g.rec.Secrets(), tok.AccessToken, tok.RefreshToken, m.CSRF, g.totpCodeNow())
	if idt, _ := tok.Extra("id_token").(string); idt != "" {
		secrets = append(secrets, idt)
	}
	var verifiers, tokens int
	for _, s := range g.rec.Secrets() {
		if len(s) == 43 {
			verifiers++
		}
		if strings.HasPrefix(s, "eyJ") {
			tokens++
		}
	}
	if verifiers < 3 || tokens < 6 {
		t.Fatalf("the recorder caught too little to make the scan meaningful: %d verifier-sized values, %d JWTs", verifiers, tokens)
	}
	logs := g.logs.String() + defaultLogs.String()
	if !strings.Contains(logs, "signed in") || !strings.Contains(logs, "sign-in failed") {
		t.Fatalf("the logs did not capture the flows:\n%s", logs)
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("a secret value (%d bytes, starting %.4s) appears in the logs", len(s), s)
		}
	}
	// Browsers see the authorization code in the callback URL and the ID
	// token in the end-session redirect (both by design of the protocol);
	// nothing else.
	seen := b.Seen() + b2.Seen()
	for _, s := range secrets {
		if !strings.Contains(seen, s) {
			continue
		}
		if strings.Count(s, ".") == 2 && strings.Contains(seen, "id_token_hint="+s) && strings.Count(seen, s) == 1 {
			continue // the ID token as id_token_hint
		}
		if isAuthorizationCode(seen, s) {
			continue
		}
		if s == m.CSRF {
			continue // the CSRF token is the browser's to send back
		}
		t.Errorf("a secret value (%d bytes, starting %.4s) reached a browser", len(s), s)
	}
	for _, s := range []string{gatewaySecret, apiClientSecret, otherSecret, userPassword} {
		if strings.Contains(seen, s) {
			t.Error("a client secret or password reached a browser")
		}
	}
}

// isAuthorizationCode reports whether s appears in seen only as a code
// query parameter.
func isAuthorizationCode(seen, s string) bool {
	return strings.Count(seen, s) == strings.Count(seen, "code="+s)
}

func (g *gateway) totpCodeNow() string {
	return oidcprovider.TOTPCode(oidcprovider.DefaultTOTPAlgorithm(), g.totp, time.Now())
}

func TestAuthenticatorConfig(t *testing.T) {
	if _, err := New(Config{MSPID: testMSP}); err == nil {
		t.Fatal("New without a binder accepted")
	}
	if _, err := NewBearerVerifier(BearerConfig{Issuer: "http://idp.example", Audience: "a"}); err == nil {
		t.Fatal("http issuer accepted")
	}
	if _, err := NewBearerVerifier(BearerConfig{Issuer: "https://idp.example", Audience: "a", Algorithms: []string{"HS256"}}); err == nil {
		t.Fatal("HMAC algorithm accepted")
	}
	if _, err := NewBearerVerifier(BearerConfig{Issuer: "https://idp.example"}); err == nil {
		t.Fatal("missing audience accepted")
	}
}
