package oidcprovider

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// client is a configured relying party; it implements op.Client.
type client struct {
	id                     string
	authMethod             oidc.AuthMethod
	secretDigest           [32]byte
	publicKey              crypto.PublicKey
	keyID                  string
	redirectURIs           []string
	postLogoutRedirectURIs []string
	audiences              []string
	idTokenTTL             time.Duration
}

func newClient(cc ClientConfig, idTokenTTL time.Duration) (*client, error) {
	if err := checkField("client ID", cc.ID, true); err != nil {
		return nil, err
	}
	c := &client{id: cc.ID, audiences: slices.Clone(cc.Audiences), idTokenTTL: idTokenTTL}
	switch cc.AuthMethod {
	case "", AuthClientSecretBasic:
		if len(cc.Secret) < 16 {
			return nil, fmt.Errorf("oidcprovider: client %q: a client secret of at least 16 bytes is required", cc.ID)
		}
		c.authMethod = oidc.AuthMethodBasic
		c.secretDigest = sha256.Sum256([]byte(cc.Secret))
	case AuthPrivateKeyJWT:
		switch k := cc.PublicKey.(type) {
		case *ecdsa.PublicKey:
			if k.Curve != elliptic.P256() {
				return nil, fmt.Errorf("oidcprovider: client %q: only P-256 ECDSA keys are accepted", cc.ID)
			}
		case ed25519.PublicKey:
		default:
			return nil, fmt.Errorf("oidcprovider: client %q: private_key_jwt needs an ECDSA P-256 or Ed25519 public key", cc.ID)
		}
		if err := checkField("key ID", cc.KeyID, true); err != nil {
			return nil, fmt.Errorf("oidcprovider: client %q: %w", cc.ID, err)
		}
		c.authMethod = oidc.AuthMethodPrivateKeyJWT
		c.publicKey, c.keyID = cc.PublicKey, cc.KeyID
	default:
		return nil, fmt.Errorf("oidcprovider: client %q: unknown auth method %q (want %s or %s)", cc.ID, cc.AuthMethod, AuthClientSecretBasic, AuthPrivateKeyJWT)
	}
	if len(cc.RedirectURIs) == 0 {
		return nil, fmt.Errorf("oidcprovider: client %q: at least one redirect URI is required", cc.ID)
	}
	for _, list := range [][]string{cc.RedirectURIs, cc.PostLogoutRedirectURIs} {
		for _, u := range list {
			parsed, err := url.Parse(u)
			if err != nil || parsed.Scheme != "https" || parsed.Host == "" || parsed.Fragment != "" {
				return nil, fmt.Errorf("oidcprovider: client %q: redirect URI %q must be an https URL without a fragment", cc.ID, u)
			}
		}
	}
	c.redirectURIs = slices.Clone(cc.RedirectURIs)
	c.postLogoutRedirectURIs = slices.Clone(cc.PostLogoutRedirectURIs)
	return c, nil
}

func (c *client) GetID() string                       { return c.id }
func (c *client) RedirectURIs() []string              { return c.redirectURIs }
func (c *client) PostLogoutRedirectURIs() []string    { return c.postLogoutRedirectURIs }
func (c *client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *client) AuthMethod() oidc.AuthMethod         { return c.authMethod }
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) LoginURL(id string) string            { return loginPath + "?id=" + url.QueryEscape(id) }
func (c *client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeJWT }
func (c *client) IDTokenLifetime() time.Duration       { return c.idTokenTTL }
func (c *client) DevMode() bool                        { return false }
func (c *client) IsScopeAllowed(string) bool           { return false }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }
func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// authRequest is a sign-in in progress; it implements op.AuthRequest. The
// storage hands out copies, so op never sees a half-updated request.
type authRequest struct {
	id            string
	created       time.Time
	clientID      string
	redirectURI   string
	state         string
	nonce         string
	scopes        []string
	responseType  oidc.ResponseType
	responseMode  oidc.ResponseMode
	codeChallenge *oidc.CodeChallenge
	audience      []string
	acrValues     []string

	pendingSubject string // password accepted, a one-time code is due
	subject        string
	authTime       time.Time
	amr            []string
	acr            string
	done           bool
	codeIssued     time.Time
	failures       int
}

func (a *authRequest) GetID() string                         { return a.id }
func (a *authRequest) GetACR() string                        { return a.acr }
func (a *authRequest) GetAMR() []string                      { return a.amr }
func (a *authRequest) GetAudience() []string                 { return a.audience }
func (a *authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *authRequest) GetClientID() string                   { return a.clientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.codeChallenge }
func (a *authRequest) GetNonce() string                      { return a.nonce }
func (a *authRequest) GetRedirectURI() string                { return a.redirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.responseMode }
func (a *authRequest) GetScopes() []string                   { return a.scopes }
func (a *authRequest) GetState() string                      { return a.state }
func (a *authRequest) GetSubject() string                    { return a.subject }
func (a *authRequest) Done() bool                            { return a.done }

// LogValue keeps the request's secrets-adjacent fields (state, nonce,
// challenge) out of zitadel's logs.
func (a *authRequest) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", a.id), slog.String("client_id", a.clientID))
}

func (a *authRequest) clone() *authRequest {
	c := *a
	c.scopes = slices.Clone(a.scopes)
	c.audience = slices.Clone(a.audience)
	c.amr = slices.Clone(a.amr)
	c.acrValues = slices.Clone(a.acrValues)
	return &c
}

// accessToken is an issued access token (a JWT whose jti is id).
type accessToken struct {
	id        string
	subject   string
	clientID  string
	audience  []string
	scopes    []string
	expiry    time.Time
	refreshID string
}

// refreshToken is an issued refresh token; token is the opaque value.
type refreshToken struct {
	token    string
	subject  string
	clientID string
	audience []string
	scopes   []string
	amr      []string
	authTime time.Time
	expiry   time.Time
	accessID string
}

// refreshRequest wraps a refresh token for op (op.RefreshTokenRequest).
type refreshRequest struct{ t *refreshToken }

func (r *refreshRequest) GetAMR() []string            { return r.t.amr }
func (r *refreshRequest) GetAudience() []string       { return r.t.audience }
func (r *refreshRequest) GetAuthTime() time.Time      { return r.t.authTime }
func (r *refreshRequest) GetClientID() string         { return r.t.clientID }
func (r *refreshRequest) GetScopes() []string         { return r.t.scopes }
func (r *refreshRequest) GetSubject() string          { return r.t.subject }
func (r *refreshRequest) SetCurrentScopes(s []string) { r.t.scopes = s }
func (r *refreshRequest) LogValue() slog.Value        { return slog.StringValue("refresh request") }

// signingKey is the provider's ES256 key (op.SigningKey and op.Key).
type signingKey struct {
	id  string
	key *ecdsa.PrivateKey
}

func newSigningKey(key *ecdsa.PrivateKey) (*signingKey, error) {
	der := publicKeyOf(&key.PublicKey)
	if der == nil {
		return nil, errors.New("oidcprovider: cannot encode the signing key's public key")
	}
	sum := sha256.Sum256(der)
	return &signingKey{id: hex.EncodeToString(sum[:8]), key: key}, nil
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.ES256 }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

type publicSigningKey struct{ k *signingKey }

func (p publicSigningKey) ID() string                         { return p.k.id }
func (p publicSigningKey) Algorithm() jose.SignatureAlgorithm { return jose.ES256 }
func (p publicSigningKey) Use() string                        { return "sig" }
func (p publicSigningKey) Key() any                           { return &p.k.key.PublicKey }

// storage implements op.Storage in memory, bounded.
type storage struct {
	p       *Provider
	clients map[string]*client
	signing *signingKey

	mu       sync.Mutex
	requests map[string]*authRequest
	codes    map[string]string // code -> request ID
	access   map[string]*accessToken
	refresh  map[string]*refreshToken
}

var errNotFound = errors.New("not found")

func randomID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// sweepLocked drops expired requests and tokens; called with mu held when
// a map is full.
func (s *storage) sweepLocked(now time.Time) {
	for id, r := range s.requests {
		if now.Sub(r.created) > authRequestTTL {
			delete(s.requests, id)
		}
	}
	for code, id := range s.codes {
		if _, ok := s.requests[id]; !ok {
			delete(s.codes, code)
		}
	}
	for id, t := range s.access {
		if now.After(t.expiry) {
			delete(s.access, id)
		}
	}
	for tok, t := range s.refresh {
		if now.After(t.expiry) {
			delete(s.refresh, tok)
		}
	}
}

func (s *storage) CreateAuthRequest(_ context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	if slices.Contains(req.Prompt, oidc.PromptNone) {
		return nil, oidc.ErrLoginRequired()
	}
	// PKCE S256 is required of every client (OAuth 2.1, RFC 9700).
	if req.CodeChallenge == "" || req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE with code_challenge_method S256 is required")
	}
	c, ok := s.clients[req.ClientID]
	if !ok {
		return nil, oidc.ErrInvalidClient()
	}
	if len(req.State) > 512 || len(req.Nonce) > 512 || len(req.CodeChallenge) > 128 || len(req.ACRValues) > 16 {
		return nil, oidc.ErrInvalidRequest().WithDescription("request parameter too long")
	}
	id, err := randomID()
	if err != nil {
		return nil, err
	}
	now := s.p.now()
	ar := &authRequest{
		id: id, created: now, clientID: req.ClientID, redirectURI: req.RedirectURI,
		state: req.State, nonce: req.Nonce, scopes: slices.Clone(req.Scopes),
		responseType: req.ResponseType, responseMode: req.ResponseMode,
		codeChallenge: &oidc.CodeChallenge{Challenge: req.CodeChallenge, Method: req.CodeChallengeMethod},
		audience:      append([]string{c.id}, c.audiences...),
		acrValues:     slices.Clone(req.ACRValues),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) >= s.p.cfg.MaxPendingSignIns {
		s.sweepLocked(now)
		if len(s.requests) >= s.p.cfg.MaxPendingSignIns {
			return nil, oidc.ErrServerError().WithDescription("too many sign-ins in progress")
		}
	}
	s.requests[id] = ar
	return ar.clone(), nil
}

// request returns the live request (mu held), refusing expired ones.
func (s *storage) requestLocked(id string) (*authRequest, error) {
	ar, ok := s.requests[id]
	if !ok {
		return nil, errNotFound
	}
	if s.p.now().Sub(ar.created) > authRequestTTL {
		delete(s.requests, id)
		return nil, errNotFound
	}
	return ar, nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ar, err := s.requestLocked(id)
	if err != nil {
		return nil, fmt.Errorf("auth request: %w", err)
	}
	return ar.clone(), nil
}

func (s *storage) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.codes[code]
	if !ok {
		return nil, errors.New("code invalid or expired")
	}
	ar, err := s.requestLocked(id)
	if err != nil || !ar.done || s.p.now().Sub(ar.codeIssued) > authCodeTTL {
		delete(s.codes, code)
		return nil, errors.New("code invalid or expired")
	}
	return ar.clone(), nil
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ar, err := s.requestLocked(id)
	if err != nil {
		return err
	}
	ar.codeIssued = s.p.now()
	s.codes[code] = id
	return nil
}

func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.requests, id)
	for code, rid := range s.codes {
		if rid == id {
			delete(s.codes, code)
		}
	}
	return nil
}

// updateRequest applies fn to a live request under the lock.
func (s *storage) updateRequest(id string, fn func(*authRequest) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ar, err := s.requestLocked(id)
	if err != nil {
		return err
	}
	return fn(ar)
}

// dropRequest forgets a request (too many failures).
func (s *storage) dropRequest(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.requests, id)
}

func requestInfo(req op.TokenRequest) (clientID string, amr []string, authTime time.Time) {
	switch r := req.(type) {
	case *authRequest:
		return r.clientID, r.amr, r.authTime
	case *refreshRequest:
		return r.t.clientID, r.t.amr, r.t.authTime
	}
	return "", nil, time.Time{}
}

func (s *storage) newAccessTokenLocked(req op.TokenRequest, clientID, refreshID string, now time.Time) (*accessToken, error) {
	id, err := randomID()
	if err != nil {
		return nil, err
	}
	if len(s.access) >= defaultMaxTokens {
		s.sweepLocked(now)
		if len(s.access) >= defaultMaxTokens {
			return nil, oidc.ErrServerError().WithDescription("too many tokens outstanding")
		}
	}
	t := &accessToken{id: id, subject: req.GetSubject(), clientID: clientID, audience: slices.Clone(req.GetAudience()),
		scopes: slices.Clone(req.GetScopes()), expiry: now.Add(s.p.cfg.AccessTokenTTL), refreshID: refreshID}
	s.access[id] = t
	return t, nil
}

func (s *storage) CreateAccessToken(_ context.Context, req op.TokenRequest) (string, time.Time, error) {
	clientID, _, _ := requestInfo(req)
	if clientID == "" {
		return "", time.Time{}, oidc.ErrUnsupportedGrantType()
	}
	if _, ok := s.p.userBySubject(req.GetSubject()); !ok {
		return "", time.Time{}, oidc.ErrAccessDenied().WithDescription("user unknown or disabled")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.newAccessTokenLocked(req, clientID, "", s.p.now())
	if err != nil {
		return "", time.Time{}, err
	}
	return t.id, t.expiry, nil
}

func (s *storage) CreateAccessAndRefreshTokens(_ context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	clientID, amr, authTime := requestInfo(req)
	if clientID == "" {
		return "", "", time.Time{}, oidc.ErrUnsupportedGrantType()
	}
	if _, ok := s.p.userBySubject(req.GetSubject()); !ok {
		return "", "", time.Time{}, oidc.ErrAccessDenied().WithDescription("user unknown or disabled")
	}
	now := s.p.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var expiry time.Time
	if current != "" {
		// Rotation: the presented refresh token is spent.
		old, ok := s.refresh[current]
		if !ok || now.After(old.expiry) {
			return "", "", time.Time{}, oidc.ErrInvalidGrant()
		}
		delete(s.refresh, current)
		delete(s.access, old.accessID)
		expiry = old.expiry // rotation does not extend the session
	} else {
		expiry = now.Add(s.p.cfg.RefreshTokenTTL)
	}
	token, err := randomID()
	if err != nil {
		return "", "", time.Time{}, err
	}
	at, err := s.newAccessTokenLocked(req, clientID, token, now)
	if err != nil {
		return "", "", time.Time{}, err
	}
	s.refresh[token] = &refreshToken{token: token, subject: req.GetSubject(), clientID: clientID,
		audience: slices.Clone(req.GetAudience()), scopes: slices.Clone(req.GetScopes()),
		amr: slices.Clone(amr), authTime: authTime, expiry: expiry, accessID: at.id}
	return at.id, token, at.expiry, nil
}

func (s *storage) TokenRequestByRefreshToken(_ context.Context, token string) (op.RefreshTokenRequest, error) {
	s.mu.Lock()
	t, ok := s.refresh[token]
	var copied refreshToken
	if ok {
		copied = *t
	}
	s.mu.Unlock()
	if !ok || s.p.now().After(copied.expiry) {
		return nil, errors.New("invalid refresh token")
	}
	if _, ok := s.p.userBySubject(copied.subject); !ok {
		return nil, errors.New("user unknown or disabled")
	}
	return &refreshRequest{t: &copied}, nil
}

func (s *storage) TerminateSession(_ context.Context, userID, clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, t := range s.access {
		if t.subject == userID && t.clientID == clientID {
			delete(s.access, id)
		}
	}
	for tok, t := range s.refresh {
		if t.subject == userID && t.clientID == clientID {
			delete(s.refresh, tok)
		}
	}
	return nil
}

// revokeSubject drops every token of a subject (the user was disabled).
func (s *storage) revokeSubject(subject string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, t := range s.access {
		if t.subject == subject {
			delete(s.access, id)
		}
	}
	for tok, t := range s.refresh {
		if t.subject == subject {
			delete(s.refresh, tok)
		}
	}
}

func (s *storage) GetRefreshTokenInfo(_ context.Context, clientID, token string) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refresh[token]
	if !ok || t.clientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	return t.subject, t.token, nil
}

func (s *storage) RevokeToken(_ context.Context, tokenOrID, _ string, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.access[tokenOrID]; ok {
		if t.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		delete(s.access, tokenOrID)
		return nil
	}
	if t, ok := s.refresh[tokenOrID]; ok {
		if t.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		delete(s.refresh, tokenOrID)
		delete(s.access, t.accessID)
	}
	return nil
}

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) { return s.signing, nil }

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.ES256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicSigningKey{s.signing}}, nil
}

func (s *storage) GetClientByClientID(_ context.Context, clientID string) (op.Client, error) {
	c, ok := s.clients[clientID]
	if !ok {
		return nil, errors.New("client not found")
	}
	return c, nil
}

func (s *storage) AuthorizeClientIDSecret(_ context.Context, clientID, secret string) error {
	c, ok := s.clients[clientID]
	digest := sha256.Sum256([]byte(secret))
	if !ok || c.authMethod != oidc.AuthMethodBasic || subtle.ConstantTimeCompare(digest[:], c.secretDigest[:]) != 1 {
		return errors.New("invalid client credentials")
	}
	return nil
}

func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills the ID token's user claims.
func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	return s.setUserinfo(info, req.GetSubject(), scopes)
}

func (s *storage) setUserinfo(info *oidc.UserInfo, subject string, scopes []string) error {
	u, ok := s.p.userBySubject(subject)
	if !ok {
		return errors.New("user unknown or disabled")
	}
	info.Subject = u.subject
	if slices.Contains(scopes, oidc.ScopeEmail) && u.email != "" {
		info.Email = u.email
		// Users are provisioned by the member's administrator, who vouches
		// for the address.
		info.EmailVerified = oidc.Bool(true)
	}
	if slices.Contains(scopes, oidc.ScopeProfile) {
		info.PreferredUsername = u.username
	}
	if u.role != "" {
		info.AppendClaims(s.p.cfg.RoleClaim, u.role)
	}
	return nil
}

func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, _, _ string) error {
	s.mu.Lock()
	t, ok := s.access[tokenID]
	var copied accessToken
	if ok {
		copied = *t
	}
	s.mu.Unlock()
	if !ok || s.p.now().After(copied.expiry) {
		return errors.New("token invalid or expired")
	}
	return s.setUserinfo(info, copied.subject, copied.scopes)
}

func (s *storage) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	s.mu.Lock()
	t, ok := s.access[tokenID]
	var copied accessToken
	if ok {
		copied = *t
	}
	s.mu.Unlock()
	if !ok || s.p.now().After(copied.expiry) || copied.subject != subject || !slices.Contains(copied.audience, clientID) {
		return errors.New("token invalid")
	}
	info := new(oidc.UserInfo)
	if err := s.setUserinfo(info, copied.subject, copied.scopes); err != nil {
		return err
	}
	resp.SetUserInfo(info)
	resp.Scope = copied.scopes
	resp.ClientID = copied.clientID
	resp.Expiration = oidc.FromTime(copied.expiry)
	return nil
}

func (s *storage) GetPrivateClaimsFromScopes(_ context.Context, userID, _ string, _ []string) (map[string]any, error) {
	return s.privateClaims(userID)
}

// GetPrivateClaimsFromRequest puts the role (and e-mail) into access tokens.
func (s *storage) GetPrivateClaimsFromRequest(_ context.Context, req op.TokenRequest, _ []string) (map[string]any, error) {
	return s.privateClaims(req.GetSubject())
}

func (s *storage) privateClaims(subject string) (map[string]any, error) {
	u, ok := s.p.userBySubject(subject)
	if !ok {
		return nil, errors.New("user unknown or disabled")
	}
	claims := map[string]any{}
	if u.role != "" {
		claims[s.p.cfg.RoleClaim] = u.role
	}
	if u.email != "" {
		claims["email"] = u.email
		claims["email_verified"] = true
	}
	return claims, nil
}

func (s *storage) GetKeyByIDAndClientID(_ context.Context, keyID, clientID string) (*jose.JSONWebKey, error) {
	c, ok := s.clients[clientID]
	if !ok || c.authMethod != oidc.AuthMethodPrivateKeyJWT || c.keyID != keyID {
		return nil, errors.New("key not found")
	}
	return &jose.JSONWebKey{KeyID: c.keyID, Use: "sig", Key: c.publicKey}, nil
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, oidc.ErrUnsupportedGrantType()
}

func (s *storage) Health(context.Context) error { return nil }
