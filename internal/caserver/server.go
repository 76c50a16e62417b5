package caserver

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blossom-ledger/blossom/internal/pki"
)

// DefaultCRLValidity is the time between a CRL's thisUpdate and nextUpdate.
const DefaultCRLValidity = 7 * 24 * time.Hour

// Config configures a Server.
type Config struct {
	// Dir is an installed CA directory (see the package documentation).
	Dir string
	// Logger receives one line per request and CA events; nil means
	// slog.Default().
	Logger *slog.Logger
	// Now is the server's clock for secret expiry, certificate validity
	// and CRL times; nil means time.Now. (The TLS handshake itself checks
	// client certificates against the wall clock.)
	Now func() time.Time
	// AllowedAttributes are the attribute names a registration may carry;
	// nil means DefaultAllowedAttributes.
	AllowedAttributes []string
	// CRLValidity is the CRLs' nextUpdate distance; zero means
	// DefaultCRLValidity.
	CRLValidity time.Duration
	// MaxBodyBytes bounds request bodies (413 beyond); zero means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// TLSHosts, if set and different from the SANs of the current TLS
	// certificate, makes Open issue a new server TLS certificate for them.
	TLSHosts []string
}

// Server is a running member CA: its key material, its database and the
// HTTP handler of its API. It is safe for concurrent use; state changes are
// serialised.
type Server struct {
	dir         string
	ca          *loadedCA
	st          *store
	log         *slog.Logger
	now         func() time.Time
	allowed     map[string]bool
	crlValidity time.Duration
	maxBody     int64
	clientCAs   *x509.CertPool
	tlsCert     atomic.Pointer[tls.Certificate]

	// mu serialises every change to the database, so that checks and the
	// writes they guard (one secret use, one revocation) cannot interleave.
	mu sync.Mutex
}

// Open loads an installed CA directory and opens its database. The caller
// must Close the server.
func Open(cfg Config) (*Server, error) {
	s := &Server{dir: cfg.Dir, log: cfg.Logger, now: cfg.Now, crlValidity: cfg.CRLValidity, maxBody: cfg.MaxBodyBytes}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.crlValidity <= 0 {
		s.crlValidity = DefaultCRLValidity
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	allowed := cfg.AllowedAttributes
	if allowed == nil {
		allowed = DefaultAllowedAttributes
	}
	if err := validateAllowedAttributes(allowed); err != nil {
		return nil, err
	}
	s.allowed = make(map[string]bool, len(allowed))
	for _, name := range allowed {
		s.allowed[name] = true
	}
	ca, err := loadCA(cfg.Dir)
	if err != nil {
		return nil, err
	}
	s.ca = ca
	s.clientCAs = x509.NewCertPool()
	s.clientCAs.AddCert(ca.ca.Cert)
	st, err := openStore(filepath.Join(cfg.Dir, DBDir), s.log)
	if err != nil {
		return nil, err
	}
	s.st = st
	if err := s.start(cfg.TLSHosts); err != nil {
		st.close()
		return nil, err
	}
	return s, nil
}

func (s *Server) start(tlsHosts []string) error {
	if _, err := s.st.currentCRL(); errors.Is(err, errNotFound) {
		if _, err := s.GenerateCRL(); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if len(tlsHosts) > 0 {
		want, err := normalizeHosts(tlsHosts)
		if err != nil {
			return fmt.Errorf("TLS hosts: %w", err)
		}
		if !slices.Equal(want, tlsHostsOf(s.ca.tlsCert.Leaf)) {
			if err := issueServerTLS(s.dir, s.ca.ca, s.st, tlsHosts, s.now()); err != nil {
				return err
			}
			if err := s.ca.loadTLS(s.dir); err != nil {
				return err
			}
			s.log.Info("issued a new CA server TLS certificate", "hosts", want, "serial", formatSerial(s.ca.tlsCert.Leaf.SerialNumber))
		}
	}
	cert := s.ca.tlsCert
	s.tlsCert.Store(&cert)
	return nil
}

// Close closes the database. Serve must have returned.
func (s *Server) Close() error { return s.st.close() }

// MSPID returns the member MSP ID this CA issues for.
func (s *Server) MSPID() string { return s.ca.mspID }

// TLSConfig returns the server side TLS configuration: TLS 1.3 only, the
// CA's server certificate, and client certificates requested but not
// required, verified against this CA alone when given.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		ClientAuth: tls.VerifyClientCertIfGiven,
		ClientCAs:  s.clientCAs,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.tlsCert.Load(), nil
		},
	}
}

// Serve answers HTTPS requests on ln until ctx is cancelled, then shuts
// down gracefully (in-flight requests get up to 10 seconds). It returns nil
// after a shutdown caused by ctx.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		TLSConfig:         s.TLSConfig(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if serveErr := <-errc; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return err
}

// route is one API endpoint.
type route struct {
	method string
	// auth: the call needs a client certificate of this CA.
	auth bool
	// body: the call takes a JSON body.
	body   bool
	handle func(s *Server, rc *requestContext) (any, *apiError)
}

var routes = map[string]route{
	PathRegister:   {http.MethodPost, true, true, (*Server).handleRegister},
	PathEnroll:     {http.MethodPost, false, true, (*Server).handleEnroll},
	PathReenroll:   {http.MethodPost, true, true, (*Server).handleReenroll},
	PathRevoke:     {http.MethodPost, true, true, (*Server).handleRevoke},
	PathGenCRL:     {http.MethodPost, true, true, (*Server).handleGenCRL},
	PathCRL:        {http.MethodGet, false, false, (*Server).handleCRL},
	PathIdentities: {http.MethodGet, true, false, (*Server).handleIdentities},
	PathCAInfo:     {http.MethodGet, false, false, (*Server).handleCAInfo},
	PathHealth:     {http.MethodGet, false, false, (*Server).handleHealth},
}

// requestContext carries one request through its handler.
type requestContext struct {
	r      *http.Request
	body   []byte
	caller *caller
	// subject is the enrollment ID the request is about or from, for the
	// log line (the caller's, or the enrollment ID of an enroll).
	subject string
}

// Handler returns the API's HTTP handler. It expects TLS connections
// configured by TLSConfig; without TLS every authenticated call gets 401.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rc := &requestContext{r: r}
	status, code := http.StatusOK, ""
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			// Log the fact, not the stack: a stack trace may hold request data.
			s.log.Error("request handler panicked", "method", r.Method, "path", r.URL.Path, "panic", truncate(fmt.Sprint(v), 200))
			status, code = http.StatusInternalServerError, CodeInternal
			writeError(w, &apiError{status: status, code: code, message: "internal error"})
		}
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.String("caller", rc.subject),
			slog.Int("status", status),
			slog.String("remote", r.RemoteAddr),
			slog.Duration("duration", time.Since(start)),
		}
		if code != "" {
			attrs = append(attrs, slog.String("code", code))
		}
		s.log.LogAttrs(r.Context(), level, "request", attrs...)
	}()

	resp, apiErr := s.dispatch(w, rc)
	if apiErr != nil {
		status, code = apiErr.status, apiErr.code
		writeError(w, apiErr)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) dispatch(w http.ResponseWriter, rc *requestContext) (any, *apiError) {
	r := rc.r
	rt, ok := routes[r.URL.Path]
	if !ok {
		return nil, &apiError{status: http.StatusNotFound, code: CodeNotFound, message: "no such endpoint"}
	}
	if r.Method != rt.method {
		w.Header().Set("Allow", rt.method)
		return nil, &apiError{status: http.StatusMethodNotAllowed, code: CodeMethodNotAllowed,
			message: fmt.Sprintf("%s takes %s", r.URL.Path, rt.method)}
	}
	if rt.auth {
		if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
			// Named in the log line even if authentication fails below.
			rc.subject = r.TLS.VerifiedChains[0][0].Subject.CommonName
		}
		c, apiErr := s.authenticate(r)
		if apiErr != nil {
			return nil, apiErr
		}
		rc.caller, rc.subject = c, c.id
	}
	if rt.body {
		body, apiErr := s.readBody(w, r)
		if apiErr != nil {
			return nil, apiErr
		}
		rc.body = body
	}
	return rt.handle(s, rc)
}

func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *apiError) {
	if r.ContentLength > s.maxBody {
		return nil, tooLarge(s.maxBody)
	}
	var buf bytes.Buffer
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, s.maxBody))
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return nil, tooLarge(s.maxBody)
	}
	if err != nil {
		return nil, badRequest("could not read the request body")
	}
	return buf.Bytes(), nil
}

func tooLarge(limit int64) *apiError {
	return &apiError{status: http.StatusRequestEntityTooLarge, code: CodeBodyTooLarge,
		message: fmt.Sprintf("request body larger than %d bytes", limit)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		data = []byte(`{"error":{"code":"INTERNAL","message":"internal error"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(data, '\n'))
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.status, ErrorBody{Error: ErrorDetail{Code: e.code, Message: e.message}})
}

func internalError(s *Server, what string, err error) *apiError {
	s.log.Error("internal error", "op", what, "err", err)
	return &apiError{status: http.StatusInternalServerError, code: CodeInternal, message: "internal error"}
}

// caller is an authenticated client.
type caller struct {
	id           string
	cert         *x509.Certificate
	registration *registration
	rights       rights
}

// rights are the delegation attributes of a caller's certificate.
type rights struct {
	roles      map[pki.Role]bool
	attributes map[string]bool
	revoker    bool
}

func rightsFrom(attrs map[string]string) rights {
	r := rights{roles: map[pki.Role]bool{}, attributes: map[string]bool{}, revoker: attrs[AttrRevoker] == "true"}
	for _, name := range parseList(attrs[AttrRegistrarRoles]) {
		if role, err := pki.ParseRole(name); err == nil {
			r.roles[role] = true
		}
	}
	for _, name := range parseList(attrs[AttrRegistrarAttributes]) {
		r.attributes[name] = true
	}
	return r
}

func unauthenticated(code, message string) *apiError {
	return &apiError{status: http.StatusUnauthorized, code: code, message: message}
}

func forbidden(format string, args ...any) *apiError {
	return &apiError{status: http.StatusForbidden, code: CodeForbidden, message: fmt.Sprintf(format, args...)}
}

// authenticate checks the request's client certificate: verified by the
// TLS layer against this CA, and here known to the database, valid by the
// server's clock, not revoked, and of an enabled registration.
func (s *Server) authenticate(r *http.Request) (*caller, *apiError) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return nil, unauthenticated(CodeUnauthenticated, "this call needs a client certificate issued by this CA")
	}
	leaf := r.TLS.VerifiedChains[0][0]
	if err := leaf.CheckSignatureFrom(s.ca.ca.Cert); err != nil {
		return nil, unauthenticated(CodeUnauthenticated, "the client certificate was not issued by this CA")
	}
	now := s.now()
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return nil, unauthenticated(CodeCertificateExpired, "the client certificate is expired or not yet valid")
	}
	issued, err := s.st.cert(leaf.SerialNumber)
	if errors.Is(err, errNotFound) || (err == nil && !bytes.Equal(issued.DER, leaf.Raw)) {
		return nil, unauthenticated(CodeUnauthenticated, "the client certificate is unknown to this CA")
	}
	if err != nil {
		return nil, internalError(s, "authenticate", err)
	}
	if revoked, apiErr := s.isRevoked(leaf.SerialNumber); apiErr != nil {
		return nil, apiErr
	} else if revoked {
		return nil, unauthenticated(CodeCertificateRevoked, "the client certificate is revoked")
	}
	reg, err := s.st.registration(issued.EnrollmentID)
	if errors.Is(err, errNotFound) {
		return nil, unauthenticated(CodeUnauthenticated, "the client certificate belongs to no registered identity")
	}
	if err != nil {
		return nil, internalError(s, "authenticate", err)
	}
	if reg.Disabled {
		return nil, unauthenticated(CodeCertificateRevoked, "the identity is revoked")
	}
	attrs, err := pki.CertificateAttributes(leaf)
	if err != nil {
		return nil, unauthenticated(CodeUnauthenticated, "the client certificate's attributes are malformed")
	}
	return &caller{id: reg.EnrollmentID, cert: leaf, registration: reg, rights: rightsFrom(attrs)}, nil
}

func (s *Server) isRevoked(serial *big.Int) (bool, *apiError) {
	_, err := s.st.revocation(serial)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, errNotFound):
		return false, nil
	}
	return false, internalError(s, "revocation lookup", err)
}

func (s *Server) handleRegister(rc *requestContext) (any, *apiError) {
	p, apiErr := decodeRegister(rc.body)
	if apiErr != nil {
		return nil, apiErr
	}
	names := sortedKeys(p.attributes)
	for _, name := range names {
		if !s.allowed[name] {
			return nil, &apiError{status: 400, code: CodeUnknownAttribute, message: fmt.Sprintf("attribute %q is not one this CA issues", name)}
		}
	}
	c := rc.caller
	if !c.rights.roles[p.role] {
		return nil, forbidden("the caller may not register identities of type %s", p.role)
	}
	for _, name := range names {
		if !c.rights.attributes[name] {
			return nil, forbidden("the caller may not set attribute %q", name)
		}
	}
	if apiErr := s.checkDelegation(c, p.attributes); apiErr != nil {
		return nil, apiErr
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.st.registration(p.enrollmentID); err == nil {
		return nil, &apiError{status: http.StatusConflict, code: CodeAlreadyRegistered, message: fmt.Sprintf("enrollment ID %q is already registered", p.enrollmentID)}
	} else if !errors.Is(err, errNotFound) {
		return nil, internalError(s, "register", err)
	}
	secret, err := newSecret()
	if err != nil {
		return nil, internalError(s, "register", err)
	}
	salt, sum, err := hashSecret(secret)
	if err != nil {
		return nil, internalError(s, "register", err)
	}
	now := s.now().UTC()
	reg := &registration{
		EnrollmentID:    p.enrollmentID,
		Type:            p.role,
		Attributes:      p.attributes,
		DNSNames:        p.dnsNames,
		MaxEnrollments:  p.maxEnrollments,
		SecretSalt:      salt,
		SecretHash:      sum,
		SecretExpiresAt: now.Add(p.secretTTL),
		RegisteredBy:    c.id,
		RegisteredAt:    now,
	}
	for _, ip := range p.ipAddresses {
		reg.IPAddresses = append(reg.IPAddresses, ip.String())
	}
	u := s.st.newUpdate()
	u.putRegistration(reg)
	if err := u.commit(); err != nil {
		return nil, internalError(s, "register", err)
	}
	s.log.Info("identity registered", "enrollmentId", reg.EnrollmentID, "type", reg.Type,
		"attributes", names, "maxEnrollments", reg.MaxEnrollments, "by", c.id)
	return RegisterResponse{Secret: secret, ExpiresAt: reg.SecretExpiresAt}, nil
}

// checkDelegation enforces that a registrar delegates only rights it holds.
func (s *Server) checkDelegation(c *caller, attrs map[string]string) *apiError {
	if v, ok := attrs[AttrRegistrarRoles]; ok {
		for _, name := range parseList(v) {
			role, err := pki.ParseRole(name)
			if err != nil {
				return badRequest("%s: %v", AttrRegistrarRoles, err)
			}
			if !c.rights.roles[role] {
				return forbidden("the caller may not delegate registering type %s, which it may not register itself", role)
			}
		}
	}
	if v, ok := attrs[AttrRegistrarAttributes]; ok {
		for _, name := range parseList(v) {
			if !s.allowed[name] {
				return &apiError{status: 400, code: CodeUnknownAttribute, message: fmt.Sprintf("%s: attribute %q is not one this CA issues", AttrRegistrarAttributes, truncate(name, 64))}
			}
			if !c.rights.attributes[name] {
				return forbidden("the caller may not delegate attribute %q, which it may not set itself", name)
			}
		}
	}
	if v, ok := attrs[AttrRevoker]; ok {
		if v != "true" && v != "false" {
			return badRequest("%s must be \"true\" or \"false\"", AttrRevoker)
		}
		if v == "true" && !c.rights.revoker {
			return forbidden("the caller may not delegate the revoker right, which it does not hold")
		}
	}
	return nil
}

// errInvalidCredentials is the one answer to every failed enroll
// authentication, so that callers learn nothing about which part failed.
var errInvalidCredentials = &apiError{status: http.StatusUnauthorized, code: CodeInvalidCredentials, message: "invalid enrollment ID or secret"}

func (s *Server) handleEnroll(rc *requestContext) (any, *apiError) {
	p, apiErr := decodeEnroll(rc.body)
	if apiErr != nil {
		return nil, apiErr
	}
	rc.subject = p.enrollmentID

	s.mu.Lock()
	defer s.mu.Unlock()
	reg, err := s.st.registration(p.enrollmentID)
	if err != nil && !errors.Is(err, errNotFound) {
		return nil, internalError(s, "enroll", err)
	}
	var salt, sum []byte
	if reg != nil {
		salt, sum = reg.SecretSalt, reg.SecretHash
	}
	// Always hash and compare, even for an unknown ID.
	matches := secretMatches(p.secret, salt, sum)
	now := s.now()
	var refusal string
	switch {
	case reg == nil:
		refusal = "unknown enrollment ID"
	case reg.Disabled:
		refusal = "identity revoked"
	case reg.SecretConsumed:
		refusal = "secret already used"
	case !matches:
		refusal = "wrong secret"
	case !now.Before(reg.SecretExpiresAt):
		refusal = "secret expired"
	case reg.EnrollmentsUsed >= reg.MaxEnrollments:
		refusal = "no enrollments left"
	}
	if refusal != "" {
		s.log.Warn("enroll refused", "enrollmentId", p.enrollmentID, "reason", refusal)
		return nil, errInvalidCredentials
	}
	u := s.st.newUpdate()
	cert, err := s.issue(reg, p.csr.PublicKey, now, u)
	if err != nil {
		u.discard()
		return nil, internalError(s, "enroll", err)
	}
	reg.EnrollmentsUsed++
	if reg.EnrollmentsUsed >= reg.MaxEnrollments {
		reg.SecretConsumed = true
		reg.SecretSalt, reg.SecretHash = nil, nil
	}
	u.putRegistration(reg)
	if err := u.commit(); err != nil {
		return nil, internalError(s, "enroll", err)
	}
	s.log.Info("identity enrolled", "enrollmentId", reg.EnrollmentID, "serial", formatSerial(cert.SerialNumber),
		"enrollmentsUsed", reg.EnrollmentsUsed, "maxEnrollments", reg.MaxEnrollments)
	return EnrollResponse{Certificate: string(pki.EncodeCertificatePEM(cert.Raw)), Chain: string(s.ca.chainPEM)}, nil
}

func (s *Server) handleReenroll(rc *requestContext) (any, *apiError) {
	csr, apiErr := decodeReenroll(rc.body)
	if apiErr != nil {
		return nil, apiErr
	}
	c := rc.caller

	s.mu.Lock()
	defer s.mu.Unlock()
	// Re-check under the lock: a revocation may have landed since
	// authenticate.
	reg, err := s.st.registration(c.id)
	if err != nil {
		return nil, internalError(s, "reenroll", err)
	}
	if reg.Disabled {
		return nil, unauthenticated(CodeCertificateRevoked, "the identity is revoked")
	}
	if revoked, apiErr := s.isRevoked(c.cert.SerialNumber); apiErr != nil {
		return nil, apiErr
	} else if revoked {
		return nil, unauthenticated(CodeCertificateRevoked, "the client certificate is revoked")
	}
	u := s.st.newUpdate()
	cert, err := s.issue(reg, csr.PublicKey, s.now(), u)
	if err != nil {
		u.discard()
		return nil, internalError(s, "reenroll", err)
	}
	if err := u.commit(); err != nil {
		return nil, internalError(s, "reenroll", err)
	}
	s.log.Info("identity re-enrolled", "enrollmentId", reg.EnrollmentID, "serial", formatSerial(cert.SerialNumber),
		"previousSerial", formatSerial(c.cert.SerialNumber))
	return EnrollResponse{Certificate: string(pki.EncodeCertificatePEM(cert.Raw)), Chain: string(s.ca.chainPEM)}, nil
}

// issue signs a certificate for reg and adds it to u. The caller holds mu.
func (s *Server) issue(reg *registration, pub crypto.PublicKey, now time.Time, u *update) (*x509.Certificate, error) {
	serial, err := freshSerial(s.st)
	if err != nil {
		return nil, err
	}
	var ips []net.IP
	for _, text := range reg.IPAddresses {
		ip := net.ParseIP(text)
		if ip == nil {
			return nil, fmt.Errorf("stored IP address %q of %s does not parse", text, reg.EnrollmentID)
		}
		ips = append(ips, ip)
	}
	cert, err := s.ca.ca.Issue(pki.IssueRequest{PublicKey: pub, EnrollmentID: reg.EnrollmentID, Role: reg.Type,
		Attributes: reg.Attributes, DNSNames: reg.DNSNames, IPAddresses: ips, Now: now, Serial: serial})
	if err != nil {
		return nil, err
	}
	u.putCert(serial, &issuedCert{Serial: formatSerial(serial), EnrollmentID: reg.EnrollmentID,
		NotAfter: cert.NotAfter.UTC(), IssuedAt: now.UTC(), DER: cert.Raw})
	return cert, nil
}

func (s *Server) handleRevoke(rc *requestContext) (any, *apiError) {
	c := rc.caller
	if !c.rights.revoker {
		return nil, forbidden("the caller may not revoke (it lacks %s=true)", AttrRevoker)
	}
	p, apiErr := decodeRevoke(rc.body)
	if apiErr != nil {
		return nil, apiErr
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UTC()
	u := s.st.newUpdate()
	defer u.discard()
	var revoked []revocation
	if p.enrollmentID != "" {
		reg, err := s.st.registration(p.enrollmentID)
		if errors.Is(err, errNotFound) {
			return nil, &apiError{status: http.StatusNotFound, code: CodeNotFound, message: fmt.Sprintf("enrollment ID %q is not registered", p.enrollmentID)}
		}
		if err != nil {
			return nil, internalError(s, "revoke", err)
		}
		if !c.rights.roles[reg.Type] {
			return nil, forbidden("the caller may not revoke identities of type %s", reg.Type)
		}
		serials, err := s.st.serialsOf(reg.EnrollmentID)
		if err != nil {
			return nil, internalError(s, "revoke", err)
		}
		for _, serial := range serials {
			already, apiErr := s.isRevoked(serial)
			if apiErr != nil {
				return nil, apiErr
			}
			if !already {
				revoked = append(revoked, revocation{Serial: formatSerial(serial), Reason: p.reason, RevokedAt: now})
			}
		}
		reg.Disabled = true
		reg.SecretSalt, reg.SecretHash = nil, nil
		u.putRegistration(reg)
	} else {
		issued, err := s.st.cert(p.serial)
		if errors.Is(err, errNotFound) {
			return nil, &apiError{status: http.StatusNotFound, code: CodeNotFound, message: fmt.Sprintf("no certificate with serial %s", formatSerial(p.serial))}
		}
		if err != nil {
			return nil, internalError(s, "revoke", err)
		}
		ownerType := pki.RoleAdmin // the server's own TLS certificates
		if issued.EnrollmentID != tlsServerOwner {
			reg, err := s.st.registration(issued.EnrollmentID)
			if err != nil {
				return nil, internalError(s, "revoke", err)
			}
			ownerType = reg.Type
		}
		if !c.rights.roles[ownerType] {
			return nil, forbidden("the caller may not revoke certificates of type %s", ownerType)
		}
		already, apiErr := s.isRevoked(p.serial)
		if apiErr != nil {
			return nil, apiErr
		}
		if already {
			return nil, &apiError{status: http.StatusConflict, code: CodeAlreadyRevoked, message: fmt.Sprintf("certificate %s is already revoked", formatSerial(p.serial))}
		}
		revoked = append(revoked, revocation{Serial: formatSerial(p.serial), Reason: p.reason, RevokedAt: now})
	}
	for i := range revoked {
		serial, _ := parseSerial(revoked[i].Serial)
		u.putRevocation(serial, &revoked[i])
	}
	crl, err := s.newCRL(u, revoked, now)
	if err != nil {
		return nil, internalError(s, "revoke", err)
	}
	if err := u.commit(); err != nil {
		return nil, internalError(s, "revoke", err)
	}
	serials := make([]string, len(revoked))
	for i, r := range revoked {
		serials[i] = r.Serial
	}
	target := p.enrollmentID
	if target == "" {
		target = "serial " + formatSerial(p.serial)
	}
	s.log.Info("certificates revoked", "target", target, "serials", serials, "reason", p.reasonName, "by", c.id)
	return RevokeResponse{Revoked: serials, CRL: encodeCRLPEM(crl)}, nil
}

func (s *Server) handleGenCRL(rc *requestContext) (any, *apiError) {
	if !rc.caller.rights.revoker {
		return nil, forbidden("the caller may not generate CRLs (it lacks %s=true)", AttrRevoker)
	}
	if apiErr := decodeGenCRL(rc.body); apiErr != nil {
		return nil, apiErr
	}
	crl, err := s.GenerateCRL()
	if err != nil {
		return nil, internalError(s, "gencrl", err)
	}
	return CRLResponse{CRL: encodeCRLPEM(crl)}, nil
}

// GenerateCRL signs and stores a new CRL (next number, every revocation)
// and returns it (DER).
func (s *Server) GenerateCRL() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.st.newUpdate()
	crl, err := s.newCRL(u, nil, s.now())
	if err != nil {
		u.discard()
		return nil, err
	}
	if err := u.commit(); err != nil {
		return nil, err
	}
	return crl, nil
}

func (s *Server) newCRL(u *update, added []revocation, now time.Time) ([]byte, error) {
	return newCRL(s.ca.ca, s.st, u, added, now, s.crlValidity)
}

// newCRL signs a CRL holding every stored revocation plus added (not yet
// stored), numbered one past the current CRL, and adds it to u.
func newCRL(ca *pki.CA, st *store, u *update, added []revocation, now time.Time, validity time.Duration) ([]byte, error) {
	stored, err := st.revocations()
	if err != nil {
		return nil, err
	}
	all := append(stored, added...)
	entries := make([]pki.RevokedCertificate, 0, len(all))
	for _, r := range all {
		serial, err := parseSerial(r.Serial)
		if err != nil {
			return nil, fmt.Errorf("stored revocation: %w", err)
		}
		entries = append(entries, pki.RevokedCertificate{Serial: serial, RevokedAt: r.RevokedAt, Reason: r.Reason})
	}
	slices.SortFunc(entries, func(a, b pki.RevokedCertificate) int { return a.Serial.Cmp(b.Serial) })
	number := big.NewInt(1)
	current, err := st.currentCRL()
	switch {
	case err == nil:
		n, ok := new(big.Int).SetString(current.Number, 10)
		if !ok {
			return nil, fmt.Errorf("stored CRL number %q does not parse", current.Number)
		}
		number.Add(n, big.NewInt(1))
	case !errors.Is(err, errNotFound):
		return nil, err
	}
	der, err := ca.CreateCRL(entries, number, now, now.Add(validity))
	if err != nil {
		return nil, err
	}
	u.putCRL(&crlRecord{Number: number.String(), DER: der})
	return der, nil
}

func encodeCRLPEM(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}))
}

func (s *Server) handleCRL(rc *requestContext) (any, *apiError) {
	crl, err := s.st.currentCRL()
	if err != nil {
		return nil, internalError(s, "crl", err)
	}
	return CRLResponse{CRL: encodeCRLPEM(crl.DER)}, nil
}

func (s *Server) handleIdentities(rc *requestContext) (any, *apiError) {
	c := rc.caller
	if len(c.rights.roles) == 0 {
		return nil, forbidden("the caller is not a registrar (it lacks %s)", AttrRegistrarRoles)
	}
	q := rc.r.URL.Query()
	after, limit := "", DefaultIdentitiesPage
	for key, values := range q {
		if len(values) != 1 {
			return nil, badRequest("query parameter %q given more than once", truncate(key, 32))
		}
		switch key {
		case "after":
			after = values[0]
			if err := pki.ValidateEnrollmentID(after); err != nil {
				return nil, badRequest("after: %v", err)
			}
		case "limit":
			n, err := strconv.Atoi(values[0])
			if err != nil || n < 1 || n > MaxIdentitiesPage {
				return nil, badRequest("limit must be 1 to %d", MaxIdentitiesPage)
			}
			limit = n
		default:
			return nil, badRequest("unknown query parameter %q (want after, limit)", truncate(key, 32))
		}
	}
	resp := IdentitiesResponse{Identities: []Identity{}}
	more := false
	err := s.st.registrations(after, func(reg *registration) bool {
		if !c.rights.roles[reg.Type] {
			return true
		}
		if len(resp.Identities) == limit {
			more = true
			return false
		}
		resp.Identities = append(resp.Identities, identityOf(reg))
		return true
	})
	if err != nil {
		return nil, internalError(s, "identities", err)
	}
	if more {
		resp.Next = resp.Identities[len(resp.Identities)-1].EnrollmentID
	}
	return resp, nil
}

func identityOf(reg *registration) Identity {
	id := Identity{
		EnrollmentID:    reg.EnrollmentID,
		Type:            string(reg.Type),
		Attributes:      reg.Attributes,
		MaxEnrollments:  reg.MaxEnrollments,
		EnrollmentsUsed: reg.EnrollmentsUsed,
		SecretExpiresAt: reg.SecretExpiresAt,
		SecretConsumed:  reg.SecretConsumed,
		Disabled:        reg.Disabled,
		RegisteredBy:    reg.RegisteredBy,
		RegisteredAt:    reg.RegisteredAt,
	}
	id.Hosts = append(append(id.Hosts, reg.DNSNames...), reg.IPAddresses...)
	return id
}

func (s *Server) handleCAInfo(rc *requestContext) (any, *apiError) {
	return CAInfoResponse{MSPID: s.ca.mspID, Chain: string(s.ca.chainPEM)}, nil
}

func (s *Server) handleHealth(rc *requestContext) (any, *apiError) {
	return HealthResponse{Status: "ok"}, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
