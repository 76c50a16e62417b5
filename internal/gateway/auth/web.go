package auth

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/blossom-ledger/blossom/internal/gateway/binding"
)

// Paths WebSignIn serves (Handler) and cookie names.
const (
	LoginPath    = "/auth/login"
	CallbackPath = "/auth/callback"
	LogoutPath   = "/auth/logout"

	// SessionCookie carries the session ID. The __Host- prefix makes
	// browsers insist on Secure, Path=/ and no Domain.
	SessionCookie = "__Host-blossom-session"
	// LoginCookie binds a sign-in in progress to the browser that started
	// it (login CSRF protection); it lives ten minutes.
	LoginCookie = "__Host-blossom-login"

	// CSRFField and CSRFHeader carry the CSRF token of unsafe requests.
	CSRFField  = "csrf_token"
	CSRFHeader = "X-CSRF-Token"
)

// Defaults and bounds of the browser sign-in.
const (
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 8 * time.Hour
	loginFlowTTL           = 10 * time.Minute
	maxPendingLogins       = 10000
	refreshSkew            = time.Minute
	maxReturnPath          = 1024
	maxQueryParam          = 4096
)

// WebConfig configures a WebSignIn.
type WebConfig struct {
	// Issuer is the member's OpenID provider.
	Issuer string
	// ClientID identifies the gateway at the provider. A confidential
	// client authenticates with ClientSecret (client_secret_basic) or with
	// ClientKey (private_key_jwt, ES256 or EdDSA, "kid" ClientKeyID);
	// exactly one. Neither ever leaves the gateway.
	ClientID     string
	ClientSecret string
	ClientKey    crypto.Signer
	ClientKeyID  string
	// RedirectURL is this gateway's CallbackPath as the browser reaches it
	// (https).
	RedirectURL string
	// PostLogoutRedirectURL is where the provider sends the browser after
	// its end-session endpoint (registered there); empty: none is sent.
	PostLogoutRedirectURL string
	// Scopes requested; default openid, email, offline_access.
	Scopes []string
	// RoleClaim names the ID token claim carrying the role; default
	// DefaultRoleClaim.
	RoleClaim string
	// Algorithms is the ID token signature allow-list; default
	// DefaultAlgorithms.
	Algorithms []string
	// ACRValues, if set, are sent as acr_values, and the ID token's acr (or
	// one of its amr values) must be one of them.
	ACRValues []string
	// HTTPClient calls the provider (discovery, keys, token endpoint).
	HTTPClient *http.Client
	// Sessions stores sessions; default a MemorySessionStore.
	Sessions SessionStore
	// IdleTimeout and AbsoluteTimeout bound a session; defaults 30 min and
	// 8 h.
	IdleTimeout, AbsoluteTimeout time.Duration
	// SameSiteStrict sets SameSite=Strict on the session cookie instead of
	// Lax. Strict drops the cookie on the first navigation after sign-in
	// (it arrives from the provider's site), so the user sees the
	// dashboard only after the next click: use it where that is fine.
	SameSiteStrict bool
	// DefaultReturnPath is where a sign-in lands when the login link named
	// no return path; default "/".
	DefaultReturnPath string
	// Now drives session timeouts and refresh scheduling; nil: time.Now.
	// ID tokens are verified, and client assertions dated, by the wall
	// clock, since the provider's clock judges them.
	Now    func() time.Time
	Logger *slog.Logger
}

// WebSignIn is the dashboard's OpenID Connect relying party: the sign-in,
// callback and logout endpoints, and session lookup for Authenticator. It
// is safe for concurrent use.
type WebSignIn struct {
	cfg      WebConfig
	disc     *discovery
	binder   *binding.Service
	sessions SessionStore
	logger   *slog.Logger
	now      func() time.Time
	origin   string // scheme://host of RedirectURL

	mu       sync.Mutex
	oauth    *oauth2.Config
	verifier *oidc.IDTokenVerifier
	tokenCtx context.Context // carries the HTTP client for token calls

	pendingMu sync.Mutex
	pending   map[string]*pendingLogin // by digest of the login cookie

	refreshMu sync.Mutex // one refresh at a time (refresh tokens rotate)
}

// pendingLogin is a sign-in in progress.
type pendingLogin struct {
	state, nonce, verifier, returnTo string
	created                          time.Time
}

// NewWebSignIn checks cfg; it does no network I/O (discovery happens on
// the first sign-in). binder resolves the signed-in identity.
func NewWebSignIn(cfg WebConfig, binder *binding.Service) (*WebSignIn, error) {
	if binder == nil {
		return nil, errors.New("auth: web sign-in needs the binding service")
	}
	if err := checkHTTPSURL("issuer", cfg.Issuer); err != nil {
		return nil, err
	}
	if cfg.ClientID == "" || len(cfg.ClientID) > maxClaimLen {
		return nil, errors.New("auth: a client ID is required")
	}
	if (cfg.ClientSecret == "") == (cfg.ClientKey == nil) {
		return nil, errors.New("auth: configure exactly one of a client secret (client_secret_basic) and a client key (private_key_jwt)")
	}
	if cfg.ClientKey != nil && cfg.ClientKeyID == "" {
		return nil, errors.New("auth: a private_key_jwt client key needs a key ID")
	}
	if err := checkHTTPSURL("redirect URL", cfg.RedirectURL); err != nil {
		return nil, err
	}
	if cfg.PostLogoutRedirectURL != "" {
		if err := checkHTTPSURL("post-logout redirect URL", cfg.PostLogoutRedirectURL); err != nil {
			return nil, err
		}
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{oidc.ScopeOpenID, "email", oidc.ScopeOfflineAccess}
	}
	if !slices.Contains(cfg.Scopes, oidc.ScopeOpenID) {
		return nil, errors.New("auth: the openid scope is required")
	}
	if cfg.RoleClaim == "" {
		cfg.RoleClaim = DefaultRoleClaim
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = DefaultAlgorithms
	}
	if cfg.Sessions == nil {
		cfg.Sessions = NewMemorySessionStore(0)
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.AbsoluteTimeout <= 0 {
		cfg.AbsoluteTimeout = DefaultAbsoluteTimeout
	}
	if cfg.DefaultReturnPath == "" {
		cfg.DefaultReturnPath = "/"
	}
	if _, ok := localPath(cfg.DefaultReturnPath); !ok {
		return nil, errors.New("auth: the default return path must be a local path")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	u, _ := url.Parse(cfg.RedirectURL)
	return &WebSignIn{
		cfg: cfg, disc: newDiscovery(cfg.Issuer, cfg.HTTPClient), binder: binder, sessions: cfg.Sessions,
		logger: cfg.Logger, now: cfg.Now, origin: u.Scheme + "://" + u.Host,
		pending: make(map[string]*pendingLogin),
	}, nil
}

// Issuer returns the configured issuer.
func (w *WebSignIn) Issuer() string { return w.cfg.Issuer }

// Handler serves LoginPath (GET), CallbackPath (GET) and LogoutPath (POST).
func (w *WebSignIn) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+LoginPath, w.handleLogin)
	mux.HandleFunc("GET "+CallbackPath, w.handleCallback)
	mux.HandleFunc("POST "+LogoutPath, w.handleLogout)
	return mux
}

// client returns the OAuth 2.0 configuration and ID token verifier,
// running discovery on first use.
func (w *WebSignIn) client(ctx context.Context) (*oauth2.Config, *oidc.IDTokenVerifier, context.Context, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.oauth != nil {
		return w.oauth, w.verifier, w.tokenCtx, nil
	}
	p, err := w.disc.provider(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	endpoint := p.Endpoint()
	conf := &oauth2.Config{ClientID: w.cfg.ClientID, RedirectURL: w.cfg.RedirectURL, Scopes: w.cfg.Scopes, Endpoint: endpoint}
	httpClient := w.disc.client
	if w.cfg.ClientKey != nil {
		conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		base := httpClient.Transport
		if base == nil {
			base = http.DefaultTransport
		}
		httpClient = &http.Client{Timeout: httpClient.Timeout, Transport: &assertionTransport{
			base: base, tokenURL: endpoint.TokenURL, key: w.cfg.ClientKey, keyID: w.cfg.ClientKeyID,
			clientID: w.cfg.ClientID, audience: []string{w.cfg.Issuer, endpoint.TokenURL}, now: time.Now,
		}}
	} else {
		conf.ClientSecret = w.cfg.ClientSecret
		conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	}
	w.oauth = conf
	// ID tokens are minted by the provider's clock: they are checked
	// against the wall clock, while Now drives the gateway's own sessions.
	w.verifier = p.Verifier(&oidc.Config{ClientID: w.cfg.ClientID, SupportedSigningAlgs: w.cfg.Algorithms})
	w.tokenCtx = context.WithValue(context.Background(), oauth2.HTTPClient, httpClient)
	return w.oauth, w.verifier, w.tokenCtx, nil
}

// randomToken returns 32 random bytes, base64url.
func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func flowKey(cookie string) string {
	sum := sha256.Sum256([]byte("blossom login flow v1\x00" + cookie))
	return hex.EncodeToString(sum[:])
}

// localPath accepts a same-origin absolute path (no scheme, host, "//" or
// backslash tricks), bounded, without control characters.
func localPath(p string) (string, bool) {
	if p == "" || len(p) > maxReturnPath || p[0] != '/' || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return "", false
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return "", false
		}
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "", false
	}
	return p, true
}

func (w *WebSignIn) cookie(name, value string, maxAge int, sameSite http.SameSite) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true, Secure: true, SameSite: sameSite}
}

func (w *WebSignIn) sessionSameSite() http.SameSite {
	if w.cfg.SameSiteStrict {
		return http.SameSiteStrictMode
	}
	return http.SameSiteLaxMode
}

func (w *WebSignIn) handleLogin(rw http.ResponseWriter, r *http.Request) {
	returnTo := w.cfg.DefaultReturnPath
	if q := r.URL.Query().Get("return"); q != "" {
		p, ok := localPath(q)
		if !ok {
			WriteError(rw, http.StatusBadRequest, CodeBadRequest, "return must be a path on this gateway")
			return
		}
		returnTo = p
	}
	conf, _, _, err := w.client(r.Context())
	if err != nil {
		w.logger.Error("auth: sign-in unavailable", "issuer", w.cfg.Issuer, "error", err.Error())
		WriteError(rw, http.StatusServiceUnavailable, CodeUnavailable, "the identity provider cannot be reached")
		return
	}
	flow, err1 := randomToken()
	state, err2 := randomToken()
	nonce, err3 := randomToken()
	if err := errors.Join(err1, err2, err3); err != nil {
		WriteError(rw, http.StatusInternalServerError, CodeUnavailable, "cannot start a sign-in")
		return
	}
	verifier := oauth2.GenerateVerifier()
	now := w.now()
	w.pendingMu.Lock()
	if len(w.pending) >= maxPendingLogins {
		for k, p := range w.pending {
			if now.Sub(p.created) > loginFlowTTL {
				delete(w.pending, k)
			}
		}
	}
	full := len(w.pending) >= maxPendingLogins
	if !full {
		w.pending[flowKey(flow)] = &pendingLogin{state: state, nonce: nonce, verifier: verifier, returnTo: returnTo, created: now}
	}
	w.pendingMu.Unlock()
	if full {
		WriteError(rw, http.StatusServiceUnavailable, CodeUnavailable, "too many sign-ins in progress; try again shortly")
		return
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)}
	if len(w.cfg.ACRValues) > 0 {
		opts = append(opts, oauth2.SetAuthURLParam("acr_values", strings.Join(w.cfg.ACRValues, " ")))
	}
	// The login cookie must reach the callback, a top-level navigation
	// from the provider's site: SameSite=Lax.
	http.SetCookie(rw, w.cookie(LoginCookie, flow, int(loginFlowTTL/time.Second), http.SameSiteLaxMode))
	rw.Header().Set("Cache-Control", "no-store")
	http.Redirect(rw, r, conf.AuthCodeURL(state, opts...), http.StatusFound)
}

// takePending removes and returns the sign-in bound to the request's login
// cookie.
func (w *WebSignIn) takePending(r *http.Request) (*pendingLogin, bool) {
	c, err := r.Cookie(LoginCookie)
	if err != nil {
		return nil, false
	}
	if _, ok := parseSessionID(c.Value); !ok {
		return nil, false
	}
	k := flowKey(c.Value)
	w.pendingMu.Lock()
	p, ok := w.pending[k]
	delete(w.pending, k)
	w.pendingMu.Unlock()
	if !ok || w.now().Sub(p.created) > loginFlowTTL {
		return nil, false
	}
	return p, true
}

// oauthErrorCode keeps an OAuth error code if it has the standard shape.
func oauthErrorCode(s string) string {
	if s == "" || len(s) > 64 {
		return "unknown"
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r == '_') {
			return "unknown"
		}
	}
	return s
}

func (w *WebSignIn) handleCallback(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("Cache-Control", "no-store")
	// The login cookie is single-use whatever happens next.
	http.SetCookie(rw, w.cookie(LoginCookie, "", -1, http.SameSiteLaxMode))
	q := r.URL.Query()
	code, state := q.Get("code"), q.Get("state")
	if len(r.URL.RawQuery) > maxQueryParam {
		WriteError(rw, http.StatusBadRequest, CodeBadRequest, "callback parameters too long")
		return
	}
	pending, ok := w.takePending(r)
	if e := q.Get("error"); e != "" {
		w.logger.Warn("auth: sign-in failed at the provider", "issuer", w.cfg.Issuer, "error", oauthErrorCode(e))
		WriteError(rw, http.StatusUnauthorized, CodeUnauthenticated, "the identity provider did not sign you in ("+oauthErrorCode(e)+")")
		return
	}
	if !ok {
		w.logger.Warn("auth: callback without a sign-in in progress in this browser")
		WriteError(rw, http.StatusBadRequest, CodeBadRequest, "this sign-in expired or was started in another browser; sign in again")
		return
	}
	if state == "" || subtle.ConstantTimeCompare([]byte(state), []byte(pending.state)) != 1 {
		w.logger.Warn("auth: callback refused: state mismatch")
		WriteError(rw, http.StatusBadRequest, CodeBadRequest, "state mismatch; sign in again")
		return
	}
	if code == "" {
		WriteError(rw, http.StatusBadRequest, CodeBadRequest, "the callback carries no authorization code")
		return
	}
	conf, verifier, tokenCtx, err := w.client(r.Context())
	if err != nil {
		WriteError(rw, http.StatusServiceUnavailable, CodeUnavailable, "the identity provider cannot be reached")
		return
	}
	ctx, cancel := context.WithTimeout(tokenCtx, 20*time.Second)
	defer cancel()
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(pending.verifier))
	if err != nil {
		w.logger.Warn("auth: code exchange refused", "issuer", w.cfg.Issuer, "error", retrieveErrorCode(err))
		WriteError(rw, http.StatusUnauthorized, CodeUnauthenticated, "the identity provider refused the sign-in")
		return
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" || len(rawID) > MaxTokenSize {
		WriteError(rw, http.StatusUnauthorized, CodeUnauthenticated, "the identity provider returned no ID token")
		return
	}
	idt, err := verifier.Verify(r.Context(), rawID)
	if err != nil {
		w.logger.Warn("auth: ID token refused", "issuer", w.cfg.Issuer, "reason", sanitize(err.Error(), rawID))
		WriteError(rw, http.StatusUnauthorized, CodeUnauthenticated, "the ID token is not valid")
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(pending.nonce)) != 1 {
		w.logger.Warn("auth: ID token refused: nonce mismatch", "issuer", w.cfg.Issuer)
		WriteError(rw, http.StatusUnauthorized, CodeUnauthenticated, "the ID token is not valid")
		return
	}
	claims, err := claimsOf(idt, w.cfg.RoleClaim)
	if err != nil {
		w.logger.Warn("auth: ID token refused", "issuer", w.cfg.Issuer, "reason", err.Error())
		WriteError(rw, http.StatusUnauthorized, CodeUnauthenticated, "the ID token is not valid")
		return
	}
	if !acrSatisfied(w.cfg.ACRValues, claims.ACR, claims.AMR) {
		w.logger.Warn("auth: sign-in refused: authentication context too weak", "subject", claims.Subject, "acr", claims.ACR, "amr", strings.Join(claims.AMR, " "))
		WriteError(rw, http.StatusForbidden, CodeUnauthenticated, "the sign-in did not use a strong enough authentication method")
		return
	}
	b, status, errCode, msg := resolveBinding(r.Context(), w.binder, claims, w.logger)
	if b == nil {
		WriteError(rw, status, errCode, msg)
		return
	}
	id, handle, err := newSessionID()
	if err != nil {
		WriteError(rw, http.StatusInternalServerError, CodeUnavailable, "cannot create a session")
		return
	}
	csrf, err := randomToken()
	if err != nil {
		WriteError(rw, http.StatusInternalServerError, CodeUnavailable, "cannot create a session")
		return
	}
	now := w.now()
	s := &Session{
		Handle: handle, CSRFToken: csrf, Issuer: claims.Issuer, Subject: claims.Subject,
		EnrollmentID: b.EnrollmentID, Role: b.Role, Email: claims.Email, ACR: claims.ACR, AMR: claims.AMR,
		IDToken: rawID, RefreshToken: tok.RefreshToken, TokenExpiry: tokenExpiry(tok, now),
		CreatedAt: now, LastSeen: now,
	}
	if err := w.sessions.Create(r.Context(), s); err != nil {
		WriteError(rw, http.StatusInternalServerError, CodeUnavailable, "cannot create a session")
		return
	}
	w.logger.Info("auth: signed in", "method", MethodSession, "issuer", claims.Issuer, "subject", claims.Subject, "enrollmentId", b.EnrollmentID, "role", b.Role)
	http.SetCookie(rw, w.cookie(SessionCookie, id, 0, w.sessionSameSite()))
	http.Redirect(rw, r, pending.returnTo, http.StatusSeeOther)
}

// tokenExpiry is when the provider's access token expires, by our clock.
func tokenExpiry(tok *oauth2.Token, now time.Time) time.Time {
	if tok.ExpiresIn > 0 {
		return now.Add(time.Duration(tok.ExpiresIn) * time.Second)
	}
	return now.Add(5 * time.Minute)
}

// retrieveErrorCode is the OAuth error code of a token endpoint refusal,
// never its body.
func retrieveErrorCode(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return oauthErrorCode(re.ErrorCode)
	}
	return "transport error"
}

// acrSatisfied: with no required values anything goes; otherwise the acr,
// or one of the amr values, must be required.
func acrSatisfied(required []string, acr string, amr []string) bool {
	if len(required) == 0 {
		return true
	}
	if acr != "" && slices.Contains(required, acr) {
		return true
	}
	for _, m := range amr {
		if slices.Contains(required, m) {
			return true
		}
	}
	return false
}

// resolveBinding maps a binding outcome to a refusal (status, code,
// message) or a binding.
func resolveBinding(ctx context.Context, binder *binding.Service, c *TokenClaims, logger *slog.Logger) (*binding.Binding, int, string, string) {
	b, err := binder.Resolve(ctx, binding.Claims{
		Issuer: c.Issuer, Subject: c.Subject, Email: c.Email, EmailVerified: c.EmailVerified, Role: c.Role, HasRole: c.HasRole,
	})
	switch {
	case err == nil:
		return b, 0, "", ""
	case errors.Is(err, binding.ErrNotApproved):
		return nil, http.StatusForbidden, CodeNotApproved, "this identity is not approved for this member; ask the member administrator"
	case errors.Is(err, binding.ErrDisabled):
		return nil, http.StatusForbidden, CodeAccountDisabled, "this account is disabled"
	case errors.Is(err, binding.ErrRoleMismatch):
		return nil, http.StatusForbidden, CodeRoleChanged, "the identity provider's role differs from the approved role; ask the member administrator"
	}
	logger.Error("auth: binding failed", "issuer", c.Issuer, "subject", c.Subject, "error", err.Error())
	return nil, http.StatusServiceUnavailable, CodeUnavailable, "the identity cannot be bound now; try again later"
}

// session returns the request's live session after the timeout, refresh
// and binding checks, or a refusal. It clears the cookie of a dead session.
func (w *WebSignIn) session(rw http.ResponseWriter, r *http.Request) (*Session, *binding.Binding, *refusal) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return nil, nil, nil
	}
	id, ok := parseSessionID(c.Value)
	if !ok {
		w.clearSession(rw)
		return nil, nil, &refusal{http.StatusUnauthorized, CodeUnauthenticated, "the session cookie is malformed; sign in again", "malformed session cookie"}
	}
	ctx := r.Context()
	s, err := w.sessions.Get(ctx, sessionHandle(id))
	if err != nil {
		w.clearSession(rw)
		return nil, nil, &refusal{http.StatusUnauthorized, CodeUnauthenticated, "the session has ended; sign in again", "unknown session"}
	}
	now := w.now()
	if now.Sub(s.CreatedAt) > w.cfg.AbsoluteTimeout || now.Sub(s.LastSeen) > w.cfg.IdleTimeout {
		_ = w.sessions.Delete(ctx, s.Handle)
		w.clearSession(rw)
		return nil, nil, &refusal{http.StatusUnauthorized, CodeUnauthenticated, "the session has expired; sign in again", "session expired"}
	}
	if s.RefreshToken != "" && !now.Before(s.TokenExpiry.Add(-refreshSkew)) {
		var ref *refusal
		if s, ref = w.refresh(ctx, s); ref != nil {
			w.clearSession(rw)
			return nil, nil, ref
		}
	}
	b, err := w.binder.Active(binding.Claims{Issuer: s.Issuer, Subject: s.Subject})
	if err != nil {
		if errors.Is(err, binding.ErrDisabled) || errors.Is(err, binding.ErrNotBound) || errors.Is(err, binding.ErrRoleMismatch) {
			_ = w.sessions.Delete(ctx, s.Handle)
			w.clearSession(rw)
		}
		return nil, nil, bindingRefusal(err)
	}
	s.LastSeen = now
	if err := w.sessions.Update(ctx, s); err != nil {
		w.clearSession(rw)
		return nil, nil, &refusal{http.StatusUnauthorized, CodeUnauthenticated, "the session has ended; sign in again", "session vanished"}
	}
	return s, b, nil
}

// refresh renews the provider's tokens of s. A refusal by the provider
// (user disabled or signed out there) ends the session.
func (w *WebSignIn) refresh(ctx context.Context, s *Session) (*Session, *refusal) {
	w.refreshMu.Lock()
	defer w.refreshMu.Unlock()
	// Another request may have refreshed while this one waited.
	cur, err := w.sessions.Get(ctx, s.Handle)
	if err != nil {
		return nil, &refusal{http.StatusUnauthorized, CodeUnauthenticated, "the session has ended; sign in again", "session vanished"}
	}
	now := w.now()
	if now.Before(cur.TokenExpiry.Add(-refreshSkew)) {
		return cur, nil
	}
	conf, verifier, tokenCtx, err := w.client(ctx)
	if err != nil {
		return nil, &refusal{http.StatusServiceUnavailable, CodeUnavailable, "the identity provider cannot be reached", err.Error()}
	}
	rctx, cancel := context.WithTimeout(tokenCtx, 20*time.Second)
	defer cancel()
	// An Expiry in the past makes oauth2 refresh at once.
	tok, err := conf.TokenSource(rctx, &oauth2.Token{RefreshToken: cur.RefreshToken, Expiry: time.Unix(1, 0)}).Token()
	if err != nil {
		_ = w.sessions.Delete(ctx, cur.Handle)
		w.logger.Info("auth: session ended: refresh refused", "issuer", cur.Issuer, "subject", cur.Subject, "error", retrieveErrorCode(err))
		return nil, &refusal{http.StatusUnauthorized, CodeUnauthenticated, "the identity provider ended the session; sign in again", "refresh refused"}
	}
	if rawID, _ := tok.Extra("id_token").(string); rawID != "" {
		idt, err := verifier.Verify(ctx, rawID)
		if err != nil || idt.Subject != cur.Subject {
			_ = w.sessions.Delete(ctx, cur.Handle)
			return nil, &refusal{http.StatusUnauthorized, CodeUnauthenticated, "the identity provider ended the session; sign in again", "refreshed ID token refused"}
		}
		claims, err := claimsOf(idt, w.cfg.RoleClaim)
		if err != nil {
			_ = w.sessions.Delete(ctx, cur.Handle)
			return nil, &refusal{http.StatusUnauthorized, CodeUnauthenticated, "the identity provider ended the session; sign in again", "refreshed ID token claims refused"}
		}
		if claims.HasRole && claims.Role != cur.Role {
			_ = w.sessions.Delete(ctx, cur.Handle)
			return nil, &refusal{http.StatusForbidden, CodeRoleChanged, "the identity provider's role differs from the approved role; ask the member administrator", "role changed at refresh"}
		}
		cur.IDToken = rawID
	}
	if tok.RefreshToken != "" {
		cur.RefreshToken = tok.RefreshToken
	}
	cur.TokenExpiry = tokenExpiry(tok, now)
	if err := w.sessions.Update(ctx, cur); err != nil {
		return nil, &refusal{http.StatusUnauthorized, CodeUnauthenticated, "the session has ended; sign in again", "session vanished"}
	}
	w.logger.Debug("auth: session tokens refreshed", "issuer", cur.Issuer, "subject", cur.Subject)
	return cur, nil
}

func (w *WebSignIn) clearSession(rw http.ResponseWriter) {
	http.SetCookie(rw, w.cookie(SessionCookie, "", -1, w.sessionSameSite()))
}

// EndSubjectSessions ends every session of a sign-in identity (e.g. after
// disabling it; Authenticate would refuse them anyway).
func (w *WebSignIn) EndSubjectSessions(ctx context.Context, issuer, subject string) error {
	return w.sessions.DeleteSubject(ctx, issuer, subject)
}

func (w *WebSignIn) handleLogout(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("Cache-Control", "no-store")
	c, err := r.Cookie(SessionCookie)
	var s *Session
	if err == nil {
		if id, ok := parseSessionID(c.Value); ok {
			s, _ = w.sessions.Get(r.Context(), sessionHandle(id))
		}
	}
	if s == nil {
		w.clearSession(rw)
		http.Redirect(rw, r, w.cfg.DefaultReturnPath, http.StatusSeeOther)
		return
	}
	if !w.checkCSRF(r, s) {
		WriteError(rw, http.StatusForbidden, CodeCSRF, "the request lacks this session's CSRF token")
		return
	}
	_ = w.sessions.Delete(r.Context(), s.Handle)
	w.clearSession(rw)
	w.logger.Info("auth: signed out", "issuer", s.Issuer, "subject", s.Subject, "enrollmentId", s.EnrollmentID)
	target := w.cfg.DefaultReturnPath
	if end := w.disc.endSessionURL(); end != "" {
		u, err := url.Parse(end)
		if err == nil {
			q := u.Query()
			q.Set("id_token_hint", s.IDToken)
			q.Set("client_id", w.cfg.ClientID)
			if w.cfg.PostLogoutRedirectURL != "" {
				q.Set("post_logout_redirect_uri", w.cfg.PostLogoutRedirectURL)
			}
			u.RawQuery = q.Encode()
			target = u.String()
		}
	}
	http.Redirect(rw, r, target, http.StatusSeeOther)
}

// checkCSRF verifies the request's CSRF token (header, or the form field
// of an application/x-www-form-urlencoded body of at most 1 MiB) against
// the session's, and that a present Origin header is the gateway's own.
func (w *WebSignIn) checkCSRF(r *http.Request, s *Session) bool {
	if o := r.Header.Get("Origin"); o != "" && o != w.origin {
		return false
	}
	token := r.Header.Get(CSRFHeader)
	if token == "" {
		ct := r.Header.Get("Content-Type")
		if ct != "application/x-www-form-urlencoded" && !strings.HasPrefix(ct, "application/x-www-form-urlencoded;") {
			return false
		}
		r.Body = http.MaxBytesReader(nil, r.Body, 1<<20)
		if err := r.ParseForm(); err != nil {
			return false
		}
		token = r.PostForm.Get(CSRFField)
	}
	return token != "" && len(token) <= 128 && subtle.ConstantTimeCompare([]byte(token), []byte(s.CSRFToken)) == 1
}

// refusal is an authentication refusal: the HTTP answer and a log reason.
type refusal struct {
	status  int
	code    string
	message string
	reason  string
}

func (r *refusal) Error() string { return fmt.Sprintf("%s: %s", r.code, r.reason) }

func bindingRefusal(err error) *refusal {
	switch {
	case errors.Is(err, binding.ErrDisabled):
		return &refusal{http.StatusForbidden, CodeAccountDisabled, "this account is disabled", "account disabled"}
	case errors.Is(err, binding.ErrNotBound):
		return &refusal{http.StatusForbidden, CodeNotApproved, "this identity is not bound to this member", "binding removed"}
	case errors.Is(err, binding.ErrRoleMismatch):
		return &refusal{http.StatusForbidden, CodeRoleChanged, "the identity provider's role differs from the approved role; ask the member administrator", "role changed"}
	}
	return &refusal{http.StatusServiceUnavailable, CodeUnavailable, "the binding table cannot be read; try again later", err.Error()}
}
