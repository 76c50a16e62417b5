package auth

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"net/http"

	"github.com/blossom-ledger/blossom/internal/pki"
)

// Method is how a caller authenticated.
type Method string

const (
	MethodBearer      Method = "bearer"
	MethodSession     Method = "session"
	MethodCertificate Method = "certificate"
)

// Principal is an authenticated caller as handlers see it.
type Principal struct {
	// Issuer and Subject identify the sign-in identity: the OIDC issuer and
	// "sub" claim, or for a client certificate CertificateIssuerPrefix plus
	// the MSP ID, and the enrollment ID.
	Issuer  string
	Subject string
	// EnrollmentID, MSPID, Type and Role are the ledger identity the
	// gateway acts as: the certificate's CN, O, OU and blossom.role.
	EnrollmentID string
	MSPID        string
	Type         pki.Role
	Role         string
	Email        string
	Method       Method
	// Certificate is the client certificate (MethodCertificate only); the
	// caller signs with its own key. For the other methods the gateway
	// signs with the user's custodial key (wallet, by EnrollmentID).
	Certificate *x509.Certificate
	// session is set for MethodSession (CSRF token, logout).
	session *Session
}

// CertificateIssuerPrefix prefixes the MSP ID in the Issuer of a
// certificate-authenticated Principal.
const CertificateIssuerPrefix = "urn:blossom:x509:"

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the authenticated caller, if any.
func PrincipalFrom(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}

// Error codes of refusals.
const (
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeNotApproved     = "NOT_APPROVED"
	CodeAccountDisabled = "ACCOUNT_DISABLED"
	CodeRoleChanged     = "ROLE_CHANGED"
	CodeWrongMember     = "WRONG_MEMBER"
	CodeCSRF            = "CSRF_FAILED"
	CodeBadRequest      = "BAD_REQUEST"
	CodeUnavailable     = "AUTH_UNAVAILABLE"
)

// ErrorBody is the JSON body of every refusal.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is a refusal's code and message.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// WriteError writes a JSON error. The message must be safe to show the
// caller (never a credential).
func WriteError(w http.ResponseWriter, status int, code, message string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="blossom"`)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(ErrorBody{Error: ErrorDetail{Code: code, Message: message}})
}
