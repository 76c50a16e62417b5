package auth

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Bounds on tokens.
const (
	// MaxTokenSize bounds a bearer token or ID token (bytes).
	MaxTokenSize = 16 << 10
	// maxClaimLen bounds the string claims taken from a token.
	maxClaimLen = 1024
)

// DefaultAlgorithms is the signature algorithm allow-list when none is
// configured: asymmetric algorithms only ("none" and HMAC never).
var DefaultAlgorithms = []string{oidc.ES256, oidc.RS256, oidc.PS256, oidc.EdDSA}

// DefaultRoleClaim is the claim carrying blossom.role unless configured.
const DefaultRoleClaim = "blossom.role"

// ErrInvalidToken wraps every token refusal; its message names the reason
// (issuer, audience, expiry, signature), never the token.
var ErrInvalidToken = errors.New("invalid token")

// TokenClaims is what a verified token says about its subject.
type TokenClaims struct {
	Issuer        string
	Subject       string
	Email         string
	EmailVerified bool
	Role          string
	HasRole       bool
	ACR           string
	AMR           []string
	Expiry        time.Time
}

// BearerConfig configures a BearerVerifier.
type BearerConfig struct {
	// Issuer is the provider's issuer URL (https); discovery and the JWKS
	// are fetched from it.
	Issuer string
	// Audience must be in the token's aud (the gateway API's audience or
	// client ID).
	Audience string
	// Algorithms is the signature allow-list; default DefaultAlgorithms.
	Algorithms []string
	// RoleClaim names the claim that carries the role; default
	// DefaultRoleClaim. Providers carry roles differently.
	RoleClaim string
	// HTTPClient fetches discovery and keys; default a TLS 1.3 client with
	// the system roots. Tests pass one that trusts their CA.
	HTTPClient *http.Client
	// Now is the clock for expiry; nil: time.Now.
	Now func() time.Time
}

// BearerVerifier verifies JWT bearer tokens of one issuer. Discovery runs
// on first use (and is retried after a failure), so the gateway can start
// before its provider. It is safe for concurrent use.
type BearerVerifier struct {
	cfg  BearerConfig
	disc *discovery

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
}

// NewBearerVerifier checks cfg; it does no network I/O.
func NewBearerVerifier(cfg BearerConfig) (*BearerVerifier, error) {
	if err := checkHTTPSURL("issuer", cfg.Issuer); err != nil {
		return nil, err
	}
	if cfg.Audience == "" || len(cfg.Audience) > maxClaimLen {
		return nil, errors.New("auth: a bearer audience is required")
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = DefaultAlgorithms
	}
	for _, a := range cfg.Algorithms {
		if a == "none" || strings.HasPrefix(a, "HS") {
			return nil, fmt.Errorf("auth: algorithm %q is not allowed for bearer tokens", a)
		}
	}
	if cfg.RoleClaim == "" {
		cfg.RoleClaim = DefaultRoleClaim
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &BearerVerifier{cfg: cfg, disc: newDiscovery(cfg.Issuer, cfg.HTTPClient)}, nil
}

// Issuer returns the configured issuer.
func (v *BearerVerifier) Issuer() string { return v.cfg.Issuer }

func (v *BearerVerifier) idVerifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verifier != nil {
		return v.verifier, nil
	}
	p, err := v.disc.provider(ctx)
	if err != nil {
		return nil, err
	}
	v.verifier = p.Verifier(&oidc.Config{ClientID: v.cfg.Audience, SupportedSigningAlgs: v.cfg.Algorithms, Now: v.cfg.Now})
	return v.verifier, nil
}

// Verify checks a bearer token's signature (against the issuer's JWKS),
// issuer, audience, expiry and algorithm, and returns its claims. Refusals
// wrap ErrInvalidToken; a discovery failure wraps ErrUnavailable.
func (v *BearerVerifier) Verify(ctx context.Context, raw string) (*TokenClaims, error) {
	if len(raw) == 0 || len(raw) > MaxTokenSize {
		return nil, fmt.Errorf("%w: empty or larger than %d bytes", ErrInvalidToken, MaxTokenSize)
	}
	verifier, err := v.idVerifier(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := verifier.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidToken, sanitize(err.Error(), raw))
	}
	// An ID token is proof of a sign-in for its client, not an API
	// credential; it travels through browsers (id_token_hint at logout), so
	// it must not work as a bearer token even when its audience matches.
	var idTokenMarks struct {
		Nonce  string `json:"nonce"`
		AtHash string `json:"at_hash"`
		CHash  string `json:"c_hash"`
	}
	if err := tok.Claims(&idTokenMarks); err != nil || idTokenMarks.Nonce != "" || idTokenMarks.AtHash != "" || idTokenMarks.CHash != "" {
		return nil, fmt.Errorf("%w: an ID token is not an access token", ErrInvalidToken)
	}
	return claimsOf(tok, v.cfg.RoleClaim)
}

// sanitize removes the token from an error message (defence in depth: the
// libraries' messages do not include it).
func sanitize(msg, secret string) string {
	if secret != "" && strings.Contains(msg, secret) {
		msg = strings.ReplaceAll(msg, secret, "[redacted]")
	}
	if len(msg) > 300 {
		msg = msg[:300]
	}
	return msg
}

// claimsOf reads the claims blossom uses.
func claimsOf(tok *oidc.IDToken, roleClaim string) (*TokenClaims, error) {
	var raw map[string]json.RawMessage
	if err := tok.Claims(&raw); err != nil {
		return nil, fmt.Errorf("%w: claims do not parse", ErrInvalidToken)
	}
	c := &TokenClaims{Issuer: tok.Issuer, Subject: tok.Subject, Expiry: tok.Expiry}
	if c.Subject == "" || len(c.Subject) > maxClaimLen {
		return nil, fmt.Errorf("%w: no usable sub claim", ErrInvalidToken)
	}
	if err := decodeStringClaim(raw, "email", &c.Email); err != nil {
		return nil, err
	}
	if v, ok := raw["email_verified"]; ok {
		// Some providers send "true" as a string.
		var b bool
		var s string
		if json.Unmarshal(v, &b) == nil {
			c.EmailVerified = b
		} else if json.Unmarshal(v, &s) == nil {
			c.EmailVerified = s == "true"
		}
	}
	if err := decodeStringClaim(raw, "acr", &c.ACR); err != nil {
		return nil, err
	}
	if v, ok := raw["amr"]; ok {
		if err := json.Unmarshal(v, &c.AMR); err != nil || len(c.AMR) > 16 {
			return nil, fmt.Errorf("%w: malformed amr claim", ErrInvalidToken)
		}
	}
	role, has, err := roleFromClaims(raw, roleClaim)
	if err != nil {
		return nil, err
	}
	c.Role, c.HasRole = role, has
	return c, nil
}

func decodeStringClaim(raw map[string]json.RawMessage, name string, out *string) error {
	v, ok := raw[name]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(v, out); err != nil || len(*out) > maxClaimLen {
		return fmt.Errorf("%w: malformed %s claim", ErrInvalidToken, name)
	}
	return nil
}

// roleFromClaims reads the role claim: a string, or an array holding one
// string. An array of several roles is ambiguous and refused, since a
// blossom identity has exactly one role.
func roleFromClaims(raw map[string]json.RawMessage, name string) (string, bool, error) {
	v, ok := raw[name]
	if !ok || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
		return "", false, nil
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		if len(s) > maxClaimLen {
			return "", false, fmt.Errorf("%w: role claim too long", ErrInvalidToken)
		}
		return s, true, nil
	}
	var list []string
	if json.Unmarshal(v, &list) == nil {
		switch len(list) {
		case 0:
			return "", false, nil
		case 1:
			if len(list[0]) > maxClaimLen {
				return "", false, fmt.Errorf("%w: role claim too long", ErrInvalidToken)
			}
			return list[0], true, nil
		}
		return "", false, fmt.Errorf("%w: role claim %q holds %d roles; a blossom identity has one", ErrInvalidToken, name, len(list))
	}
	return "", false, fmt.Errorf("%w: role claim %q is neither a string nor a list of strings", ErrInvalidToken, name)
}

// UnverifiedIssuer reads the iss claim of a compact JWS without verifying
// anything, to choose among verifiers. Never trust its result otherwise.
func UnverifiedIssuer(raw string) (string, error) {
	if len(raw) > MaxTokenSize {
		return "", fmt.Errorf("%w: larger than %d bytes", ErrInvalidToken, MaxTokenSize)
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("%w: not a compact JWS", ErrInvalidToken)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", fmt.Errorf("%w: payload is not base64url", ErrInvalidToken)
	}
	var claims struct {
		Issuer string `json:"iss"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Issuer == "" || len(claims.Issuer) > maxClaimLen {
		return "", fmt.Errorf("%w: no usable iss claim", ErrInvalidToken)
	}
	return claims.Issuer, nil
}

// ErrUnavailable: the provider's discovery document or keys could not be
// fetched.
var ErrUnavailable = errors.New("identity provider unavailable")

// discovery fetches and caches an issuer's discovery document.
type discovery struct {
	issuer string
	client *http.Client

	mu         sync.Mutex
	p          *oidc.Provider
	endSession string
	failedAt   time.Time // last failed discovery, to fail fast for a while
	lastErr    error
}

// discoveryRetry is how long a failed discovery is remembered before the
// next attempt, so that an unreachable provider does not cost every
// request a network timeout.
const discoveryRetry = 5 * time.Second

func newDiscovery(issuer string, client *http.Client) *discovery {
	if client == nil {
		client = &http.Client{
			Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13}, ForceAttemptHTTP2: true},
			Timeout:   20 * time.Second,
		}
	}
	return &discovery{issuer: issuer, client: client}
}

func (d *discovery) provider(ctx context.Context) (*oidc.Provider, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.p != nil {
		return d.p, nil
	}
	if d.lastErr != nil && time.Since(d.failedAt) < discoveryRetry {
		return nil, d.lastErr
	}
	// The provider keeps the context's client for JWKS fetches, not the
	// context's deadline.
	dctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, d.client), 15*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(dctx, d.issuer)
	if err != nil {
		d.failedAt, d.lastErr = time.Now(), fmt.Errorf("%w: discovery at %s: %s", ErrUnavailable, d.issuer, sanitize(err.Error(), ""))
		return nil, d.lastErr
	}
	d.lastErr = nil
	var extra struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := p.Claims(&extra); err == nil && checkHTTPSURL("end_session_endpoint", extra.EndSession) == nil {
		d.endSession = extra.EndSession
	}
	d.p = p
	return p, nil
}

func (d *discovery) endSessionURL() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.endSession
}

func checkHTTPSURL(what, s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("auth: %s %q must be an https URL", what, s)
	}
	return nil
}
