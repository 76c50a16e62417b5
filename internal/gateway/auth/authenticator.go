package auth

import (
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"

	"github.com/blossom-ledger/blossom/internal/gateway/binding"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/transport"
)

// Config configures an Authenticator. At least one method must be set.
type Config struct {
	// MSPID is this gateway's member; client certificates of other members
	// are refused, and bound users act under it.
	MSPID string
	// Binder is the binding table, checked on every request.
	Binder *binding.Service
	// Bearer verifies Authorization: Bearer tokens, one verifier per
	// trusted issuer (normally just the member's own provider).
	Bearer []*BearerVerifier
	// Web is the dashboard's browser sign-in (session cookies).
	Web *WebSignIn
	// Trust identifies client certificates (the TLS listener uses
	// transport.RequestClientCertTLSConfig with the same TrustSource).
	Trust  *transport.TrustSource
	Logger *slog.Logger
}

// Authenticator authenticates requests by any configured method.
type Authenticator struct {
	cfg    Config
	logger *slog.Logger
	bearer map[string]*BearerVerifier
}

// New checks cfg.
func New(cfg Config) (*Authenticator, error) {
	if err := pki.ValidateMSPID(cfg.MSPID); err != nil {
		return nil, err
	}
	if cfg.Binder == nil {
		return nil, errors.New("auth: the binding service is required")
	}
	if len(cfg.Bearer) == 0 && cfg.Web == nil && cfg.Trust == nil {
		return nil, errors.New("auth: configure at least one of bearer tokens, web sign-in and client certificates")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	a := &Authenticator{cfg: cfg, logger: cfg.Logger, bearer: make(map[string]*BearerVerifier)}
	for _, v := range cfg.Bearer {
		if _, dup := a.bearer[v.Issuer()]; dup {
			return nil, errors.New("auth: two bearer verifiers for issuer " + v.Issuer())
		}
		a.bearer[v.Issuer()] = v
	}
	return a, nil
}

// Authenticate runs next with the caller's Principal in the request
// context (PrincipalFrom), or answers 401/403 itself. It tries, in order:
// an Authorization header (Bearer only; an invalid one is refused, never
// passed over), the session cookie, then a verified client certificate.
// Cookie-authenticated requests with methods other than GET, HEAD and
// OPTIONS must carry the session's CSRF token.
func (a *Authenticator) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ref := a.authenticate(w, r)
		if ref != nil {
			a.logger.Info("auth: refused", "code", ref.code, "reason", ref.reason, "remote", r.RemoteAddr, "path", r.URL.Path)
			WriteError(w, ref.status, ref.code, ref.message)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

var errNoCredential = &refusal{http.StatusUnauthorized, CodeUnauthenticated, "authentication required: a bearer token, a session or a client certificate", "no credential"}

func (a *Authenticator) authenticate(w http.ResponseWriter, r *http.Request) (*Principal, *refusal) {
	if h := r.Header.Get("Authorization"); h != "" {
		return a.fromBearer(r, h)
	}
	if a.cfg.Web != nil {
		if _, err := r.Cookie(SessionCookie); err == nil {
			return a.fromSession(w, r)
		}
	}
	if a.cfg.Trust != nil && r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return a.fromCertificate(r)
	}
	return nil, errNoCredential
}

// bearerToken extracts the token of an "Authorization: Bearer" header.
func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	if token == "" || len(token) > MaxTokenSize || strings.ContainsAny(token, " \t\r\n") {
		return "", false
	}
	return token, true
}

func (a *Authenticator) fromBearer(r *http.Request, header string) (*Principal, *refusal) {
	if len(a.bearer) == 0 {
		return nil, &refusal{http.StatusUnauthorized, CodeUnauthenticated, "bearer tokens are not accepted here", "bearer not configured"}
	}
	token, ok := bearerToken(header)
	if !ok {
		return nil, &refusal{http.StatusUnauthorized, CodeUnauthenticated, "the Authorization header must be \"Bearer <token>\"", "malformed Authorization header"}
	}
	iss, err := UnverifiedIssuer(token)
	if err != nil {
		return nil, &refusal{http.StatusUnauthorized, CodeUnauthenticated, "the bearer token is invalid or expired", "token does not parse"}
	}
	v, ok := a.bearer[iss]
	if !ok {
		return nil, &refusal{http.StatusUnauthorized, CodeUnauthenticated, "the bearer token is invalid or expired", "untrusted issuer " + sanitize(iss, token)}
	}
	claims, err := v.Verify(r.Context(), token)
	if err != nil {
		if errors.Is(err, ErrUnavailable) {
			return nil, &refusal{http.StatusServiceUnavailable, CodeUnavailable, "the identity provider cannot be reached", err.Error()}
		}
		return nil, &refusal{http.StatusUnauthorized, CodeUnauthenticated, "the bearer token is invalid or expired", err.Error()}
	}
	b, status, code, msg := resolveBinding(r.Context(), a.cfg.Binder, claims, a.logger)
	if b == nil {
		return nil, &refusal{status, code, msg, "binding: " + code}
	}
	return &Principal{
		Issuer: claims.Issuer, Subject: claims.Subject, EnrollmentID: b.EnrollmentID, MSPID: a.cfg.MSPID,
		Type: b.Type, Role: b.Role, Email: claims.Email, Method: MethodBearer,
	}, nil
}

// isSafe reports whether a method cannot change state (no CSRF token
// needed).
func isSafe(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

func (a *Authenticator) fromSession(w http.ResponseWriter, r *http.Request) (*Principal, *refusal) {
	s, b, ref := a.cfg.Web.session(w, r)
	if ref != nil {
		return nil, ref
	}
	if s == nil {
		return nil, errNoCredential
	}
	if !isSafe(r.Method) && !a.cfg.Web.checkCSRF(r, s) {
		return nil, &refusal{http.StatusForbidden, CodeCSRF, "the request lacks this session's CSRF token", "CSRF token missing or wrong"}
	}
	return &Principal{
		Issuer: s.Issuer, Subject: s.Subject, EnrollmentID: b.EnrollmentID, MSPID: a.cfg.MSPID,
		Type: b.Type, Role: b.Role, Email: s.Email, Method: MethodSession, session: s,
	}, nil
}

func (a *Authenticator) fromCertificate(r *http.Request) (*Principal, *refusal) {
	id, err := a.cfg.Trust.IdentifyTLSClient(r.TLS)
	if err != nil || id == nil {
		reason := "no identity"
		if err != nil {
			reason = err.Error()
		}
		return nil, &refusal{http.StatusUnauthorized, CodeUnauthenticated, "the client certificate is not valid", reason}
	}
	if id.MSPID() != a.cfg.MSPID {
		return nil, &refusal{http.StatusForbidden, CodeWrongMember, "clients reach only their own member's gateway", "certificate of " + id.MSPID()}
	}
	if t := id.Role(); t != pki.RoleClient && t != pki.RoleAdmin {
		return nil, &refusal{http.StatusForbidden, CodeWrongMember, "only client and admin certificates may call the gateway", "certificate type " + string(t)}
	}
	serial := id.Certificate().SerialNumber.Text(16)
	if b, err := a.cfg.Binder.BySerial(serial); err == nil && b.Status != binding.StatusActive {
		return nil, &refusal{http.StatusForbidden, CodeAccountDisabled, "this account is disabled", "certificate of a disabled binding"}
	} else if err != nil && !errors.Is(err, binding.ErrNotFound) {
		return nil, &refusal{http.StatusServiceUnavailable, CodeUnavailable, "the binding table cannot be read; try again later", err.Error()}
	}
	role, _ := id.Attribute(pki.RoleAttribute)
	return &Principal{
		Issuer: CertificateIssuerPrefix + id.MSPID(), Subject: id.EnrollmentID(), EnrollmentID: id.EnrollmentID(),
		MSPID: id.MSPID(), Type: id.Role(), Role: role, Method: MethodCertificate, Certificate: id.Certificate(),
	}, nil
}

// Active reports whether p is still allowed in: its binding (by issuer and
// subject, or by certificate serial for certificate clients) has not been
// disabled since it authenticated. Long-lived requests (the event stream)
// ask again while they run. A certificate client the binding table does
// not know stays active; its certificate's revocation ends it through the
// CRL.
func (a *Authenticator) Active(p *Principal) bool {
	if p.Method == MethodCertificate {
		if p.Certificate == nil {
			return false
		}
		b, err := a.cfg.Binder.BySerial(p.Certificate.SerialNumber.Text(16))
		if errors.Is(err, binding.ErrNotFound) {
			return true
		}
		return err == nil && b.Status == binding.StatusActive
	}
	b, err := a.cfg.Binder.Lookup(p.Issuer, p.Subject)
	return err == nil && b.Status == binding.StatusActive
}

// CSRFToken returns the CSRF token of p's session (put it in a hidden
// CSRFField of every POST form, or send it as CSRFHeader); "" when p did
// not authenticate with a session.
func CSRFToken(p *Principal) string {
	if p == nil || p.session == nil {
		return ""
	}
	return p.session.CSRFToken
}

// CSRFInput returns the hidden form field carrying p's CSRF token, for
// html/template (empty when p has no session).
func CSRFInput(p *Principal) template.HTML {
	token := CSRFToken(p)
	if token == "" {
		return ""
	}
	return template.HTML(`<input type="hidden" name="` + CSRFField + `" value="` + template.HTMLEscapeString(token) + `">`)
}
