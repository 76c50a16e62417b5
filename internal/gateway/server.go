package gateway

import (
	"context"
	"crypto/tls"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/blossom-ledger/blossom/internal/client"
	"github.com/blossom-ledger/blossom/internal/gateway/auth"
	"github.com/blossom-ledger/blossom/internal/gateway/binding"
	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/transport"
)

//go:embed openapi.json
var openAPIDocument []byte

// maxSignInBody bounds a sign-in route's body (the logout form).
const maxSignInBody = 64 << 10

// DefaultMaxBodyBytes bounds a request body (413 above it).
const DefaultMaxBodyBytes = 4 << 20

// Config configures a gateway.
type Config struct {
	// MSPID is the member this gateway serves.
	MSPID string
	// Client reaches the peers (the member's own peer first, named as in
	// Members) and the orderers. Its own signer is not used for callers'
	// transactions.
	Client *client.Client
	// Members maps each member's MSP ID to its peers' names in Client,
	// for endorsement planning. It must contain MSPID.
	Members map[string][]string
	// Policies maps a chaincode name to its endorsement policy, overriding
	// its committed definition: "MAJORITY Endorsement" or "<MSPID>.peer".
	// Chaincodes not listed are planned from the policy of their committed
	// definition (MAJORITY when there is none).
	Policies map[string]string
	// Authenticate is the authentication middleware (normally
	// (*auth.Authenticator).Authenticate); it puts an auth.Principal into
	// the request context or refuses the request.
	Authenticate func(http.Handler) http.Handler
	// SignIn, when set, is the dashboard's browser sign-in: the gateway
	// serves its login, callback and logout routes (auth.LoginPath, ...).
	// The same WebSignIn must be the Authenticate middleware's Web.
	SignIn *auth.WebSignIn
	// Binder, when set, enables the administrators' routes: approvals and
	// disabling users (/api/v1/admin/...).
	Binder *binding.Service
	// PublishCRL, when set, publishes a member CA's new CRL (PEM) through
	// _governance after a disable and returns the config update's
	// transaction ID (normally governance.Ledger.PublishCRL with an admin
	// of the member). nil: the disable answers the CRL for an
	// administrator to publish.
	PublishCRL func(ctx context.Context, crlPEM []byte) (string, error)
	// Signers returns the custodial signer of a user by enrollment ID
	// (normally (*wallet.Wallet).Signer). nil disables custodial calls.
	Signers func(enrollmentID string) (identity.Signer, error)
	// Allow decides whether p may call function of chaincode on channel
	// (nil: DefaultAllow). Lookups and the event stream show a
	// transaction's chaincode, function and events only to callers it
	// allows to call that function (config transactions: chaincode
	// "_config", function "").
	Allow func(p *auth.Principal, channel, chaincode, function string) bool
	// AllowChannel decides whether p may read channel's transactions,
	// blocks and events (nil: DefaultAllowChannel).
	AllowChannel func(p *auth.Principal, channel string) bool
	// Active reports whether an authenticated caller is still allowed in
	// (normally (*auth.Authenticator).Active); event streams ask it at
	// every block and heartbeat and end for a disabled user. nil: not
	// asked.
	Active func(p *auth.Principal) bool
	// MaxStreamsPerUser and MaxStreams bound a user's and all callers'
	// concurrent event streams (0: DefaultMaxStreamsPerUser,
	// DefaultMaxStreams); Heartbeat is the interval of the streams'
	// keep-alive comments (0: DefaultHeartbeat).
	MaxStreamsPerUser int
	MaxStreams        int
	Heartbeat         time.Duration
	// MaxBodyBytes bounds request bodies (0: DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// RateLimit is each user's sustained request rate per second and Burst
	// its bucket size (0: 50/s, burst 100; negative rate: unlimited).
	RateLimit float64
	Burst     int
	// Timeout bounds one API call, commit included (0: 60 s).
	Timeout time.Duration
	// Registry receives the gateway's metrics (nil: a new registry).
	Registry *prometheus.Registry
	Logger   *slog.Logger
	// Dashboard, if set, builds the handler of every path the API routes
	// do not match (the member dashboard, package dashboard; nil: a JSON
	// 404). It requires SignIn, whose routes sign its users in. It receives the gateway's own handler, so that the dashboard
	// calls the API in-process, through the same authentication,
	// allow-list, rate limit and audit log as any other caller.
	Dashboard func(api http.Handler) http.Handler
}

// DefaultAllow is the default allow-list (DESIGN §11): administrators may
// call anything; other identities need a blossom.role and may call every
// function of non-system chaincodes (names not starting with "_").
func DefaultAllow(p *auth.Principal, channel, chaincode, function string) bool {
	if p.Type == pki.RoleAdmin {
		return true
	}
	return p.Role != "" && !strings.HasPrefix(chaincode, "_")
}

// DefaultAllowChannel lets administrators and identities with a
// blossom.role read every channel the member's peer serves to the gateway.
func DefaultAllowChannel(p *auth.Principal, channel string) bool {
	return p.Type == pki.RoleAdmin || p.Role != ""
}

// Gateway serves the REST API. Use Handler with an HTTPS server whose TLS
// configuration is transport.RequestClientCertTLSConfig (roles client and
// admin).
type Gateway struct {
	cfg      Config
	log      *slog.Logger
	handler  http.Handler
	mux      *http.ServeMux
	limiter  *rateLimiter
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	registry *prometheus.Registry
	// routes lists the mux patterns, for the OpenAPI check.
	routes []string
	// streams bounds event streams per user; closing ends them.
	streams   *streamSlots
	policies  definitionPolicies
	closing   chan struct{}
	closeOnce sync.Once
}

// New checks cfg and builds the gateway.
func New(cfg Config) (*Gateway, error) {
	if err := pki.ValidateMSPID(cfg.MSPID); err != nil {
		return nil, err
	}
	if cfg.Client == nil {
		return nil, errors.New("gateway: no client")
	}
	if cfg.Authenticate == nil {
		return nil, errors.New("gateway: no authentication middleware")
	}
	if cfg.Dashboard != nil && cfg.SignIn == nil {
		return nil, errors.New("gateway: the dashboard needs the browser sign-in (SignIn)")
	}
	if len(cfg.Members[cfg.MSPID]) == 0 {
		return nil, fmt.Errorf("gateway: no peer of the own member %s", cfg.MSPID)
	}
	known := map[string]bool{}
	for _, p := range cfg.Client.Peers() {
		known[p] = true
	}
	for m, peers := range cfg.Members {
		for _, p := range peers {
			if !known[p] {
				return nil, fmt.Errorf("gateway: peer %q of %s is not a peer of the client", p, m)
			}
		}
	}
	for cc, pol := range cfg.Policies {
		if _, err := parsePolicy(pol); err != nil {
			return nil, fmt.Errorf("gateway: policy of %s: %w", cc, err)
		}
	}
	if cfg.Allow == nil {
		cfg.Allow = DefaultAllow
	}
	if cfg.AllowChannel == nil {
		cfg.AllowChannel = DefaultAllowChannel
	}
	if cfg.MaxStreamsPerUser <= 0 {
		cfg.MaxStreamsPerUser = DefaultMaxStreamsPerUser
	}
	if cfg.MaxStreams <= 0 {
		cfg.MaxStreams = DefaultMaxStreams
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit, cfg.Burst = 50, 100
	}
	if cfg.Burst <= 0 {
		cfg.Burst = max(1, int(cfg.RateLimit))
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	g := &Gateway{cfg: cfg, log: cfg.Logger, registry: cfg.Registry, mux: http.NewServeMux(),
		streams: &streamSlots{perUser: cfg.MaxStreamsPerUser, maxTotal: cfg.MaxStreams, count: map[string]int{}}, closing: make(chan struct{})}
	if cfg.RateLimit > 0 {
		g.limiter = newRateLimiter(cfg.RateLimit, cfg.Burst, 10000)
	}
	g.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "blossom_gateway_requests_total", Help: "Gateway HTTP requests by route and status.",
	}, []string{"route", "status"})
	g.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "blossom_gateway_request_duration_seconds", Help: "Gateway HTTP request durations by route and status.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
	}, []string{"route", "status"})
	if err := cfg.Registry.Register(g.requests); err != nil {
		return nil, err
	}
	if err := cfg.Registry.Register(g.duration); err != nil {
		return nil, err
	}
	g.registerRoutes()
	g.handler = g.mux
	return g, nil
}

// Handler returns the gateway's HTTP handler.
func (g *Gateway) Handler() http.Handler { return g.handler }

// Routes lists the patterns the gateway serves ("GET /healthz", ...).
func (g *Gateway) Routes() []string { return append([]string(nil), g.routes...) }

// OpenAPIDocument returns the embedded OpenAPI 3 document.
func OpenAPIDocument() []byte { return append([]byte(nil), openAPIDocument...) }

const (
	apiChaincode = "/api/v1/channels/{channel}/chaincodes/{chaincode}/"
)

func (g *Gateway) registerRoutes() {
	g.handle("GET /healthz", false, http.HandlerFunc(g.healthz))
	g.handle("GET /readyz", false, http.HandlerFunc(g.readyz))
	g.handle("GET /metrics", false, promhttp.HandlerFor(g.registry, promhttp.HandlerOpts{}))
	g.handle("GET /openapi.json", false, http.HandlerFunc(serveOpenAPI))
	g.handle("GET /api/v1/me", true, http.HandlerFunc(g.me))
	if g.cfg.SignIn != nil {
		web := g.cfg.SignIn.Handler()
		for _, route := range []string{"GET " + auth.LoginPath, "GET " + auth.CallbackPath, "POST " + auth.LogoutPath} {
			g.handle(route, false, http.MaxBytesHandler(web, maxSignInBody))
		}
	}
	g.handle("POST "+apiChaincode+"evaluate", true, http.HandlerFunc(g.evaluate))
	g.handle("POST "+apiChaincode+"submit", true, http.HandlerFunc(g.submit))
	g.handle("POST "+apiChaincode+"proposals/evaluate", true, http.HandlerFunc(g.signedEvaluate))
	g.handle("POST "+apiChaincode+"proposals/endorse", true, http.HandlerFunc(g.signedEndorse))
	g.handle("POST /api/v1/channels/{channel}/transactions", true, http.HandlerFunc(g.signedCommit))
	g.handle("GET /api/v1/channels/{channel}/transactions/{txId}", true, http.HandlerFunc(g.getTransaction))
	g.handle("GET /api/v1/channels/{channel}/blocks/{number}", true, http.HandlerFunc(g.getBlock))
	g.handle("GET /api/v1/channels/{channel}/events", true, http.HandlerFunc(g.events))
	if g.cfg.Binder != nil {
		g.handle("POST /api/v1/admin/approvals", true, http.HandlerFunc(g.approve))
		g.handle("POST /api/v1/admin/users/{enrollmentId}/disable", true, http.HandlerFunc(g.disableUser))
	}
	if g.cfg.Dashboard != nil {
		g.mux.Handle("/", g.instrument("dashboard", g.cfg.Dashboard(g.mux)))
		return
	}
	g.mux.Handle("/", g.instrument("other", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.WriteError(w, http.StatusNotFound, "NOT_FOUND", "no such route")
	})))
}

// handle registers pattern, instrumented, authenticated and rate-limited
// when api is set.
func (g *Gateway) handle(pattern string, api bool, h http.Handler) {
	g.routes = append(g.routes, pattern)
	if api {
		h = g.cfg.Authenticate(g.rateLimited(h))
		h = http.MaxBytesHandler(h, g.cfg.MaxBodyBytes)
	}
	g.mux.Handle(pattern, g.instrument(pattern, h))
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (flushes and
// deadlines of the event stream).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (g *Gateway) instrument(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		st := strconv.Itoa(rec.status)
		g.requests.WithLabelValues(route, st).Inc()
		g.duration.WithLabelValues(route, st).Observe(time.Since(start).Seconds())
	})
}

func (g *Gateway) rateLimited(h http.Handler) http.Handler {
	if g.limiter == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.PrincipalFrom(r.Context())
		if p != nil && !g.limiter.allow(p.Issuer+"\x00"+p.Subject, time.Now()) {
			w.Header().Set("Retry-After", "1")
			auth.WriteError(w, http.StatusTooManyRequests, "RATE_LIMITED", "too many requests; slow down")
			return
		}
		h.ServeHTTP(w, r)
	})
}

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPIDocument)
}

func (g *Gateway) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyLag is how many blocks the own peer may trail the highest other
// peer and still be ready.
const readyLag = 5

// readyz answers 200 when the own peer answers for every channel it is
// asked about (the channel query parameter, default the client's) and is
// within readyLag blocks of the highest other peer that answers.
func (g *Gateway) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	channel := r.URL.Query().Get("channel")
	own, err := g.cfg.Client.ChannelInfo(ctx, "", channel)
	if err != nil {
		g.log.Warn("gateway: not ready", "reason", err.Error())
		auth.WriteError(w, http.StatusServiceUnavailable, "NOT_READY", "the member's peer does not answer")
		return
	}
	var highest uint64
	for _, p := range g.cfg.Client.Peers()[1:] {
		if info, err := g.cfg.Client.ChannelInfo(ctx, p, channel); err == nil {
			highest = max(highest, info.Height)
		}
	}
	if highest > own.Height+readyLag {
		auth.WriteError(w, http.StatusServiceUnavailable, "NOT_READY",
			fmt.Sprintf("the member's peer is at height %d, other peers at %d", own.Height, highest))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "height": own.Height})
}

// Me is the body of GET /api/v1/me.
type Me struct {
	EnrollmentID string `json:"enrollmentId"`
	MSPID        string `json:"mspId"`
	Type         string `json:"type"`
	Role         string `json:"role"`
	Method       string `json:"method"`
	Issuer       string `json:"issuer"`
	Subject      string `json:"subject"`
	// CertificateExpiry is the ledger certificate's NotAfter (RFC 3339),
	// "" when unknown.
	CertificateExpiry string `json:"certificateExpiry"`
	// CSRFToken is the session's CSRF token for a browser session (send
	// it as the X-CSRF-Token header, or the csrf_token form field, with
	// every POST, logout included); absent for other callers.
	CSRFToken string `json:"csrfToken,omitempty"`
}

func (g *Gateway) me(w http.ResponseWriter, r *http.Request) {
	p, _ := auth.PrincipalFrom(r.Context())
	me := Me{EnrollmentID: p.EnrollmentID, MSPID: p.MSPID, Type: string(p.Type), Role: p.Role,
		Method: string(p.Method), Issuer: p.Issuer, Subject: p.Subject, CSRFToken: auth.CSRFToken(p)}
	cert := p.Certificate
	if cert == nil && g.cfg.Signers != nil {
		if s, err := g.cfg.Signers(p.EnrollmentID); err == nil {
			cert = s.Certificate()
		}
	}
	if cert != nil {
		me.CertificateExpiry = cert.NotAfter.UTC().Format(time.RFC3339)
	}
	writeJSON(w, http.StatusOK, me)
}

// TLSConfig is the gateway listener's TLS configuration: TLS 1.3, cert as
// the server certificate, client certificates requested but not required
// (client and admin roles of trust's members are verified when presented).
func TLSConfig(cert tls.Certificate, trust *transport.TrustSource, logger *slog.Logger) *tls.Config {
	return transport.RequestClientCertTLSConfig(cert, trust, logger, gatewayClientRoles...)
}

// gatewayClientRoles are the roles whose client certificates the gateway
// listener accepts.
var gatewayClientRoles = []pki.Role{pki.RoleClient, pki.RoleAdmin}

// TLSConfigFor is TLSConfig presenting cred's current certificate at each
// handshake, so that a certificate reloaded while the gateway runs applies
// to the next connection.
func TLSConfigFor(cred *transport.Credential, trust *transport.TrustSource, logger *slog.Logger) *tls.Config {
	return transport.RequestClientCertTLSConfigFor(cred, trust, logger, gatewayClientRoles...)
}

// NewServer returns an HTTP server for g with bounded header, read and
// idle timeouts (the write timeout is left to the per-call Timeout, since
// a submit waits for its commit).
func NewServer(g *Gateway, logger *slog.Logger) *http.Server {
	if logger == nil {
		logger = slog.Default()
	}
	srv := &http.Server{
		Handler:           g.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(g.Shutdown)
	return srv
}
