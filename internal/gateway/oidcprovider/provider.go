package oidcprovider

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/rs/cors"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/crypto/bcrypt"
)

// Claim and value names.
const (
	// DefaultRoleClaim carries the user's blossom.role in ID and access tokens.
	DefaultRoleClaim = "blossom.role"
	// ACRPassword is the acr of a password-only sign-in.
	ACRPassword = "urn:blossom:acr:pwd"
	// ACRMultiFactor is the acr of a sign-in with password and TOTP.
	ACRMultiFactor = "urn:blossom:acr:mfa"
)

// Client authentication methods a client may use at the token endpoint.
const (
	AuthClientSecretBasic = "client_secret_basic"
	AuthPrivateKeyJWT     = "private_key_jwt"
)

// Limits.
const (
	maxUsers           = 100000
	maxClients         = 1000
	maxFieldLen        = 256 // user names, client IDs, e-mail addresses, roles
	maxPasswordLen     = 72  // bcrypt's limit
	minPasswordLen     = 8
	defaultMaxPending  = 10000
	defaultMaxTokens   = 100000
	authRequestTTL     = 10 * time.Minute
	authCodeTTL        = 2 * time.Minute
	defaultBcryptCost  = bcrypt.DefaultCost
	defaultAccessTTL   = 10 * time.Minute
	defaultIDTokenTTL  = 10 * time.Minute
	defaultRefreshTTL  = 8 * time.Hour
	defaultMaxFailures = 5
	defaultFailWindow  = 15 * time.Minute
	defaultLockFor     = 15 * time.Minute
)

// Config configures a Provider.
type Config struct {
	// Issuer is the provider's https URL as clients see it, e.g.
	// "https://idp.agency1.example:7443" (no trailing slash, no query).
	Issuer string
	// RoleClaim names the claim that carries the user's role; default
	// DefaultRoleClaim.
	RoleClaim string
	// Clients are the relying parties allowed to sign users in.
	Clients []ClientConfig
	// SigningKey is the ECDSA P-256 key that signs tokens; nil: a new key
	// per start.
	SigningKey *ecdsa.PrivateKey
	// AccessTokenTTL, IDTokenTTL and RefreshTokenTTL default to 10 min,
	// 10 min and 8 h.
	AccessTokenTTL, IDTokenTTL, RefreshTokenTTL time.Duration
	// Lockout bounds failed sign-in attempts per user name.
	Lockout LockoutPolicy
	// LoginBanner is shown above the sign-in form (e.g. a system-use
	// notice); plain text.
	LoginBanner string
	// BcryptCost hashes passwords; default bcrypt.DefaultCost.
	BcryptCost int
	// MaxPendingSignIns bounds sign-ins in progress; default 10000.
	MaxPendingSignIns int
	// Now is the provider's clock (token expiry, lockout, TOTP); nil:
	// time.Now.
	Now func() time.Time
	// Logger receives sign-in outcomes; nil: slog.Default().
	Logger *slog.Logger
}

// ClientConfig describes one relying party.
type ClientConfig struct {
	ID string
	// AuthMethod is AuthClientSecretBasic (default) or AuthPrivateKeyJWT.
	AuthMethod string
	// Secret is the client secret (client_secret_basic); only its SHA-256
	// digest is kept. Use at least 32 random bytes.
	Secret string
	// PublicKey verifies the client's private_key_jwt assertions (ECDSA
	// P-256 or Ed25519); KeyID is its "kid".
	PublicKey crypto.PublicKey
	KeyID     string
	// RedirectURIs and PostLogoutRedirectURIs are matched exactly; they
	// must be https URLs.
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	// Audiences are added to the client ID in access tokens' aud, e.g. the
	// gateway API's audience, so one sign-in can call the API.
	Audiences []string
}

// LockoutPolicy: after MaxFailures failures within Window, a user name is
// locked for LockFor. Zero fields take the defaults 5, 15 min, 15 min.
type LockoutPolicy struct {
	MaxFailures int
	Window      time.Duration
	LockFor     time.Duration
}

// User is a user as AddUser takes it.
type User struct {
	// Username is what the user types (1 to 256 printable characters).
	Username string
	// Password is hashed with bcrypt at once; 8 to 72 bytes.
	Password string
	// Subject is the stable "sub" claim; default a digest of the issuer
	// and user name, so it survives restarts without revealing the name.
	Subject string
	Email   string
	// Role goes into the role claim ("" for none, e.g. a member admin).
	Role string
	// TOTPSecret, if set, makes a one-time code a second factor (see
	// NewTOTPSecret); at least 16 bytes. TOTPAlgorithm defaults to
	// DefaultTOTPAlgorithm().
	TOTPSecret    []byte
	TOTPAlgorithm TOTPAlgorithm
}

// user is a user as stored.
type user struct {
	username     string
	subject      string
	email        string
	role         string
	passwordHash []byte
	totpSecret   []byte
	totpAlg      TOTPAlgorithm
	lastTOTPStep int64
	disabled     bool
}

// Provider is a running OpenID provider. Its methods are safe for
// concurrent use.
type Provider struct {
	cfg     Config
	issuer  string
	logger  *slog.Logger
	now     func() time.Time
	op      *op.Provider
	store   *storage
	lockout *lockout
	handler http.Handler

	usersMu   sync.RWMutex
	users     map[string]*user // by user name
	bySubject map[string]*user
	dummyHash []byte // bcrypt hash at the configured cost, of nothing anyone knows
}

// New builds a provider from cfg. It fails on a malformed issuer or client.
func New(cfg Config) (*Provider, error) {
	issuer, err := checkIssuer(cfg.Issuer)
	if err != nil {
		return nil, err
	}
	if cfg.RoleClaim == "" {
		cfg.RoleClaim = DefaultRoleClaim
	}
	if len(cfg.RoleClaim) > maxFieldLen || strings.ContainsAny(cfg.RoleClaim, " \t\r\n") {
		return nil, errors.New("oidcprovider: role claim name must be at most 256 characters without spaces")
	}
	cfg.AccessTokenTTL = orDefault(cfg.AccessTokenTTL, defaultAccessTTL)
	cfg.IDTokenTTL = orDefault(cfg.IDTokenTTL, defaultIDTokenTTL)
	cfg.RefreshTokenTTL = orDefault(cfg.RefreshTokenTTL, defaultRefreshTTL)
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = defaultBcryptCost
	}
	if cfg.BcryptCost < bcrypt.MinCost || cfg.BcryptCost > bcrypt.MaxCost {
		return nil, fmt.Errorf("oidcprovider: bcrypt cost %d outside %d..%d", cfg.BcryptCost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	if cfg.MaxPendingSignIns <= 0 {
		cfg.MaxPendingSignIns = defaultMaxPending
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if len(cfg.LoginBanner) > 4096 {
		return nil, errors.New("oidcprovider: login banner longer than 4096 bytes")
	}
	key := cfg.SigningKey
	if key == nil {
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return nil, err
		}
	} else if key.Curve != elliptic.P256() {
		return nil, errors.New("oidcprovider: the signing key must be ECDSA P-256 (ES256)")
	}
	if len(cfg.Clients) > maxClients {
		return nil, fmt.Errorf("oidcprovider: more than %d clients", maxClients)
	}
	clients := make(map[string]*client, len(cfg.Clients))
	for _, cc := range cfg.Clients {
		c, err := newClient(cc, cfg.IDTokenTTL)
		if err != nil {
			return nil, err
		}
		if _, dup := clients[c.id]; dup {
			return nil, fmt.Errorf("oidcprovider: client %q configured twice", c.id)
		}
		clients[c.id] = c
	}
	p := &Provider{
		cfg:       cfg,
		issuer:    issuer,
		logger:    cfg.Logger,
		now:       cfg.Now,
		lockout:   newLockout(cfg.Lockout, cfg.Now),
		users:     make(map[string]*user),
		bySubject: make(map[string]*user),
	}
	dummy := make([]byte, 32)
	if _, err := rand.Read(dummy); err != nil {
		return nil, err
	}
	if p.dummyHash, err = bcrypt.GenerateFromPassword([]byte(hex.EncodeToString(dummy)[:60]), cfg.BcryptCost); err != nil {
		return nil, err
	}
	signing, err := newSigningKey(key)
	if err != nil {
		return nil, err
	}
	p.store = &storage{p: p, clients: clients, signing: signing,
		requests: make(map[string]*authRequest), codes: make(map[string]string),
		access: make(map[string]*accessToken), refresh: make(map[string]*refreshToken)}

	codes, err := newGCMCrypto()
	if err != nil {
		return nil, err
	}
	opConfig := &op.Config{
		CodeMethodS256:          true,
		AuthMethodPost:          false,
		AuthMethodPrivateKeyJWT: true,
		GrantTypeRefreshToken:   true,
		SupportedScopes:         []string{"openid", "email", "profile", "offline_access"},
		SupportedClaims:         append(append([]string(nil), op.DefaultSupportedClaims...), cfg.RoleClaim),
	}
	// No browser script ever calls this provider across origins: refuse
	// every CORS request instead of zitadel's allow-all default.
	noCORS := &cors.Options{AllowOriginFunc: func(string) bool { return false }}
	provider, err := op.NewOpenIDProvider(issuer, opConfig, p.store, op.WithCORSOptions(noCORS), op.WithCrypto(codes))
	if err != nil {
		return nil, fmt.Errorf("oidcprovider: %w", err)
	}
	p.op = provider
	mux := http.NewServeMux()
	mux.HandleFunc(loginPath, p.handleLogin)
	mux.HandleFunc(totpPath, p.handleTOTP)
	mux.Handle("/", provider)
	p.handler = limitBody(mux)
	return p, nil
}

// checkIssuer accepts an https URL with a host and no query or fragment,
// and returns it without a trailing slash.
func checkIssuer(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("oidcprovider: issuer %q must be an https URL with a host and no query", s)
	}
	return strings.TrimSuffix(s, "/"), nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// limitBody bounds every request body the provider reads.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		next.ServeHTTP(w, r)
	})
}

// Issuer returns the issuer URL.
func (p *Provider) Issuer() string { return p.issuer }

// RoleClaim returns the name of the claim that carries roles.
func (p *Provider) RoleClaim() string { return p.cfg.RoleClaim }

// Handler serves the provider (discovery, protocol endpoints and sign-in
// pages). Serve it over HTTPS only.
func (p *Provider) Handler() http.Handler { return p.handler }

// TLSConfig returns a TLS 1.3 server configuration presenting cert.
func TLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}
}

// Serve serves the provider over TLS (TLS 1.3 only) on ln until ctx ends,
// then shuts down gracefully.
func (p *Provider) Serve(ctx context.Context, ln net.Listener, cert tls.Certificate) error {
	srv := &http.Server{
		Handler:           p.handler,
		TLSConfig:         TLSConfig(cert),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(p.logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := srv.Shutdown(shutdownCtx)
		<-errc
		return err
	}
}

// AddUser adds a user (its password hashed at once). It fails if the user
// name or subject is taken or a field is out of bounds.
func (p *Provider) AddUser(u User) error {
	if err := checkField("user name", u.Username, true); err != nil {
		return err
	}
	if len(u.Password) < minPasswordLen || len(u.Password) > maxPasswordLen {
		return fmt.Errorf("oidcprovider: user %q: password must be %d to %d bytes", u.Username, minPasswordLen, maxPasswordLen)
	}
	for _, f := range []struct{ name, value string }{{"subject", u.Subject}, {"e-mail", u.Email}, {"role", u.Role}} {
		if err := checkField(f.name, f.value, false); err != nil {
			return fmt.Errorf("oidcprovider: user %q: %w", u.Username, err)
		}
	}
	if u.TOTPSecret != nil && (len(u.TOTPSecret) < minTOTPSecret || len(u.TOTPSecret) > 64) {
		return fmt.Errorf("oidcprovider: user %q: TOTP secret must be %d to 64 bytes", u.Username, minTOTPSecret)
	}
	if u.TOTPAlgorithm == "" {
		u.TOTPAlgorithm = DefaultTOTPAlgorithm()
	}
	if u.TOTPSecret != nil {
		if err := u.TOTPAlgorithm.check(); err != nil {
			return fmt.Errorf("user %q: %w", u.Username, err)
		}
	}
	subject := u.Subject
	if subject == "" {
		sum := sha256.Sum256([]byte("blossom oidc subject v1\x00" + p.issuer + "\x00" + u.Username))
		subject = hex.EncodeToString(sum[:16])
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(u.Password), p.cfg.BcryptCost)
	if err != nil {
		return fmt.Errorf("oidcprovider: user %q: hash password: %w", u.Username, err)
	}
	stored := &user{username: u.Username, subject: subject, email: u.Email, role: u.Role, passwordHash: hash}
	if u.TOTPSecret != nil {
		stored.totpSecret = append([]byte(nil), u.TOTPSecret...)
		stored.totpAlg = u.TOTPAlgorithm
	}
	p.usersMu.Lock()
	defer p.usersMu.Unlock()
	if len(p.users) >= maxUsers {
		return fmt.Errorf("oidcprovider: more than %d users", maxUsers)
	}
	if _, dup := p.users[u.Username]; dup {
		return fmt.Errorf("oidcprovider: user %q already exists", u.Username)
	}
	if _, dup := p.bySubject[subject]; dup {
		return fmt.Errorf("oidcprovider: subject of user %q already in use", u.Username)
	}
	p.users[u.Username] = stored
	p.bySubject[subject] = stored
	return nil
}

// checkField bounds a configured string: printable, no control characters.
func checkField(what, s string, required bool) error {
	if s == "" {
		if required {
			return fmt.Errorf("oidcprovider: %s is required", what)
		}
		return nil
	}
	if len(s) > maxFieldLen {
		return fmt.Errorf("oidcprovider: %s longer than %d bytes", what, maxFieldLen)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("oidcprovider: %s contains a control character", what)
		}
	}
	return nil
}

// Subject returns the "sub" claim of a user name.
func (p *Provider) Subject(username string) (string, error) {
	p.usersMu.RLock()
	defer p.usersMu.RUnlock()
	u, ok := p.users[username]
	if !ok {
		return "", fmt.Errorf("oidcprovider: no user %q", username)
	}
	return u.subject, nil
}

// SetDisabled disables (or re-enables) a user: a disabled user cannot sign
// in, refresh tokens or read userinfo, and its refresh tokens are revoked.
// Access tokens already issued stay valid until they expire; relying
// parties refuse them through their own binding table.
func (p *Provider) SetDisabled(username string, disabled bool) error {
	p.usersMu.Lock()
	u, ok := p.users[username]
	if ok {
		u.disabled = disabled
	}
	p.usersMu.Unlock()
	if !ok {
		return fmt.Errorf("oidcprovider: no user %q", username)
	}
	if disabled {
		p.store.revokeSubject(u.subject)
	}
	return nil
}

// userBySubject returns a copy of an enabled user's claims.
func (p *Provider) userBySubject(subject string) (user, bool) {
	p.usersMu.RLock()
	defer p.usersMu.RUnlock()
	u, ok := p.bySubject[subject]
	if !ok || u.disabled {
		return user{}, false
	}
	return *u, true
}

// checkPassword verifies a password; it returns the user (a copy) if it
// matches an enabled user.
func (p *Provider) checkPassword(username, password string) (*user, bool) {
	p.usersMu.RLock()
	u, ok := p.users[username]
	var hash []byte
	var snapshot user
	if ok {
		hash = u.passwordHash
		snapshot = *u
	}
	p.usersMu.RUnlock()
	if !ok {
		// An unknown name costs as much time as a wrong password.
		_ = bcrypt.CompareHashAndPassword(p.dummyHash, []byte(password))
		return nil, false
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || snapshot.disabled {
		return nil, false
	}
	return &snapshot, true
}

// checkTOTP verifies a one-time code for a user and records its step so
// that it is not accepted again.
func (p *Provider) checkTOTP(subject, code string) bool {
	p.usersMu.Lock()
	defer p.usersMu.Unlock()
	u, ok := p.bySubject[subject]
	if !ok || u.disabled || u.totpSecret == nil {
		return false
	}
	step, ok := verifyTOTP(u.totpAlg, u.totpSecret, code, p.now(), u.lastTOTPStep)
	if !ok {
		return false
	}
	u.lastTOTPStep = step
	return true
}

// publicKeyOf returns the SPKI DER of a public key, for comparing keys.
func publicKeyOf(pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	return der
}
