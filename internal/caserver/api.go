package caserver

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/blossom-ledger/blossom/internal/pki"
)

// API paths. Every body is JSON; POST unless noted.
const (
	PathRegister   = "/api/v1/register"
	PathEnroll     = "/api/v1/enroll"
	PathReenroll   = "/api/v1/reenroll"
	PathRevoke     = "/api/v1/revoke"
	PathGenCRL     = "/api/v1/gencrl"
	PathCRL        = "/api/v1/crl"        // GET, no client certificate needed
	PathIdentities = "/api/v1/identities" // GET
	PathCAInfo     = "/api/v1/cainfo"     // GET, no client certificate needed
	PathHealth     = "/healthz"           // GET, no client certificate needed
)

// Attribute names that carry delegated rights, modelled on Fabric CA's
// hf.Registrar.Roles, hf.Registrar.Attributes and hf.Revoker.
const (
	AttrRegistrarRoles      = "blossom.registrar.roles"
	AttrRegistrarAttributes = "blossom.registrar.attributes"
	AttrRevoker             = "blossom.revoker"
)

// DefaultAllowedAttributes is the set of attribute names a registration may
// carry unless the server is configured otherwise.
var DefaultAllowedAttributes = []string{pki.RoleAttribute, AttrRegistrarRoles, AttrRegistrarAttributes, AttrRevoker}

// Request limits.
const (
	DefaultMaxBodyBytes   = 1 << 20
	DefaultSecretTTL      = 24 * time.Hour
	MaxSecretTTL          = 30 * 24 * time.Hour
	MinSecretTTL          = time.Minute
	MaxEnrollmentsLimit   = 1000
	DefaultIdentitiesPage = 100
	MaxIdentitiesPage     = 1000
)

// Error codes of the {"error":{"code","message"}} body.
const (
	CodeBadRequest         = "BAD_REQUEST"
	CodeInvalidCSR         = "INVALID_CSR"
	CodeUnknownAttribute   = "UNKNOWN_ATTRIBUTE"
	CodeBodyTooLarge       = "BODY_TOO_LARGE"
	CodeUnauthenticated    = "UNAUTHENTICATED"
	CodeInvalidCredentials = "INVALID_CREDENTIALS"
	CodeCertificateRevoked = "CERTIFICATE_REVOKED"
	CodeCertificateExpired = "CERTIFICATE_EXPIRED"
	CodeForbidden          = "FORBIDDEN"
	CodeNotFound           = "NOT_FOUND"
	CodeMethodNotAllowed   = "METHOD_NOT_ALLOWED"
	CodeAlreadyRegistered  = "ALREADY_REGISTERED"
	CodeAlreadyRevoked     = "ALREADY_REVOKED"
	CodeInternal           = "INTERNAL"
)

// RegisterRequest registers an identity. Type is a role type (admin,
// client, peer, orderer, gateway); Hosts (DNS names or IP addresses) are
// the SANs of a node's certificates and only allowed for node types.
// MaxEnrollments defaults to 1 (a one-time secret); SecretTTL is a Go
// duration ("48h"), default 24h, at most 30 days.
type RegisterRequest struct {
	EnrollmentID   string            `json:"enrollmentId"`
	Type           string            `json:"type"`
	Attributes     map[string]string `json:"attributes,omitempty"`
	Hosts          []string          `json:"hosts,omitempty"`
	MaxEnrollments int               `json:"maxEnrollments,omitempty"`
	SecretTTL      string            `json:"secretTTL,omitempty"`
}

// RegisterResponse carries the enrollment secret, shown only this once.
type RegisterResponse struct {
	Secret    string    `json:"secret"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// EnrollRequest exchanges an enrollment secret and a CSR (DER, base64 in
// JSON) for a certificate. The CSR's subject is ignored.
type EnrollRequest struct {
	EnrollmentID string `json:"enrollmentId"`
	Secret       string `json:"secret"`
	CSR          []byte `json:"csr"`
}

// EnrollResponse is an issued certificate (PEM) and the CA chain
// (intermediate then root, PEM).
type EnrollResponse struct {
	Certificate string `json:"certificate"`
	Chain       string `json:"chain"`
}

// ReenrollRequest asks for a new certificate for the caller's identity.
type ReenrollRequest struct {
	CSR []byte `json:"csr"`
}

// RevokeRequest revokes every certificate of an enrollment ID (and disables
// it) or one certificate by serial (hex); exactly one must be given. Reason
// is an RFC 5280 reason name, default "unspecified".
type RevokeRequest struct {
	EnrollmentID string `json:"enrollmentId,omitempty"`
	Serial       string `json:"serial,omitempty"`
	Reason       string `json:"reason,omitempty"`
}

// RevokeResponse lists the serials revoked now and the new CRL (PEM).
type RevokeResponse struct {
	Revoked []string `json:"revoked"`
	CRL     string   `json:"crl"`
}

// GenCRLRequest asks for a new CRL; it has no fields.
type GenCRLRequest struct{}

// CRLResponse carries a CRL (PEM).
type CRLResponse struct {
	CRL string `json:"crl"`
}

// Identity is a registration as the API shows it, without any secret.
type Identity struct {
	EnrollmentID    string            `json:"enrollmentId"`
	Type            string            `json:"type"`
	Attributes      map[string]string `json:"attributes,omitempty"`
	Hosts           []string          `json:"hosts,omitempty"`
	MaxEnrollments  int               `json:"maxEnrollments"`
	EnrollmentsUsed int               `json:"enrollmentsUsed"`
	SecretExpiresAt time.Time         `json:"secretExpiresAt"`
	SecretConsumed  bool              `json:"secretConsumed"`
	Disabled        bool              `json:"disabled"`
	RegisteredBy    string            `json:"registeredBy"`
	RegisteredAt    time.Time         `json:"registeredAt"`
}

// IdentitiesResponse is one page of identities; Next, if set, is the
// "after" value of the following page.
type IdentitiesResponse struct {
	Identities []Identity `json:"identities"`
	Next       string     `json:"next,omitempty"`
}

// CAInfoResponse describes the CA.
type CAInfoResponse struct {
	MSPID string `json:"mspId"`
	Chain string `json:"chain"` // intermediate then root, PEM
}

// HealthResponse is the body of GET /healthz.
type HealthResponse struct {
	Status string `json:"status"`
}

// ErrorBody is the body of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is an error's code and a message safe to show the caller.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// apiError is an error the server answers with.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func badRequest(format string, args ...any) *apiError {
	return &apiError{status: 400, code: CodeBadRequest, message: fmt.Sprintf(format, args...)}
}

// decodeJSON decodes exactly one JSON value from data into v, refusing
// unknown fields and trailing data.
func decodeJSON(data []byte, v any) *apiError {
	if len(bytes.TrimSpace(data)) == 0 {
		return badRequest("request body is empty: a JSON object is required")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("malformed JSON request: %s", jsonErrorText(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("malformed JSON request: data after the JSON object")
	}
	return nil
}

// jsonErrorText describes a decoding error without echoing request
// contents beyond field names (a secret could otherwise land in an error).
func jsonErrorText(err error) string {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("syntax error at offset %d", syntax.Offset)
	case errors.As(err, &typeErr):
		return fmt.Sprintf("field %q has the wrong type (want %s)", typeErr.Field, typeErr.Type)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return truncate(strings.TrimPrefix(err.Error(), "json: "), 80)
	case strings.Contains(err.Error(), "illegal base64"):
		return "a base64 field is not valid base64"
	}
	return "not a valid JSON object of the expected shape"
}

// registerParams is a validated RegisterRequest.
type registerParams struct {
	enrollmentID   string
	role           pki.Role
	attributes     map[string]string
	dnsNames       []string
	ipAddresses    []net.IP
	maxEnrollments int
	secretTTL      time.Duration
}

// decodeRegister decodes and validates a register body. Whether the
// attribute names are allowed and the caller may set them is the handler's
// concern.
func decodeRegister(data []byte) (*registerParams, *apiError) {
	var req RegisterRequest
	if err := decodeJSON(data, &req); err != nil {
		return nil, err
	}
	if err := pki.ValidateEnrollmentID(req.EnrollmentID); err != nil {
		return nil, badRequest("%v", err)
	}
	role, err := pki.ParseRole(req.Type)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	if err := pki.ValidateAttributes(req.Attributes); err != nil {
		return nil, badRequest("%v", err)
	}
	p := &registerParams{enrollmentID: req.EnrollmentID, role: role, attributes: req.Attributes,
		maxEnrollments: req.MaxEnrollments, secretTTL: DefaultSecretTTL}
	if p.attributes == nil {
		p.attributes = map[string]string{}
	}
	if len(req.Hosts) > 0 {
		if !role.IsNode() {
			return nil, badRequest("hosts are only allowed for node types (peer, orderer, gateway), not %s", role)
		}
		p.dnsNames, p.ipAddresses, err = ParseHosts(req.Hosts)
		if err != nil {
			return nil, badRequest("%v", err)
		}
	}
	switch {
	case p.maxEnrollments == 0:
		p.maxEnrollments = 1
	case p.maxEnrollments < 0 || p.maxEnrollments > MaxEnrollmentsLimit:
		return nil, badRequest("maxEnrollments must be 1 to %d", MaxEnrollmentsLimit)
	}
	if req.SecretTTL != "" {
		if len(req.SecretTTL) > 32 {
			return nil, badRequest("secretTTL is not a duration")
		}
		ttl, err := time.ParseDuration(req.SecretTTL)
		if err != nil {
			return nil, badRequest("secretTTL %q is not a duration such as \"48h\"", req.SecretTTL)
		}
		if ttl < MinSecretTTL || ttl > MaxSecretTTL {
			return nil, badRequest("secretTTL must be between %v and %v", MinSecretTTL, MaxSecretTTL)
		}
		p.secretTTL = ttl
	}
	return p, nil
}

// enrollParams is a validated EnrollRequest.
type enrollParams struct {
	enrollmentID string
	secret       string
	csr          *x509.CertificateRequest
}

func decodeEnroll(data []byte) (*enrollParams, *apiError) {
	var req EnrollRequest
	if err := decodeJSON(data, &req); err != nil {
		return nil, err
	}
	if err := pki.ValidateEnrollmentID(req.EnrollmentID); err != nil {
		return nil, badRequest("%v", err)
	}
	if req.Secret == "" || len(req.Secret) > maxSecretLen {
		return nil, badRequest("secret must be 1 to %d characters", maxSecretLen)
	}
	csr, apiErr := parseRequestCSR(req.CSR)
	if apiErr != nil {
		return nil, apiErr
	}
	return &enrollParams{enrollmentID: req.EnrollmentID, secret: req.Secret, csr: csr}, nil
}

func decodeReenroll(data []byte) (*x509.CertificateRequest, *apiError) {
	var req ReenrollRequest
	if err := decodeJSON(data, &req); err != nil {
		return nil, err
	}
	return parseRequestCSR(req.CSR)
}

func parseRequestCSR(der []byte) (*x509.CertificateRequest, *apiError) {
	if len(der) == 0 {
		return nil, &apiError{status: 400, code: CodeInvalidCSR, message: "csr (base64 DER) is required"}
	}
	csr, err := pki.ParseCSR(der)
	if err != nil {
		return nil, &apiError{status: 400, code: CodeInvalidCSR, message: err.Error()}
	}
	return csr, nil
}

// revokeParams is a validated RevokeRequest: exactly one of enrollmentID
// and serial is set.
type revokeParams struct {
	enrollmentID string
	serial       *big.Int
	reason       int
	reasonName   string
}

func decodeRevoke(data []byte) (*revokeParams, *apiError) {
	var req RevokeRequest
	if err := decodeJSON(data, &req); err != nil {
		return nil, err
	}
	if (req.EnrollmentID == "") == (req.Serial == "") {
		return nil, badRequest("give exactly one of enrollmentId and serial")
	}
	p := &revokeParams{enrollmentID: req.EnrollmentID}
	if req.EnrollmentID != "" {
		if err := pki.ValidateEnrollmentID(req.EnrollmentID); err != nil {
			return nil, badRequest("%v", err)
		}
	} else {
		serial, err := parseSerial(strings.ToLower(req.Serial))
		if err != nil {
			return nil, badRequest("%v", err)
		}
		p.serial = serial
	}
	reasonName := req.Reason
	if reasonName == "" {
		reasonName = "unspecified"
	}
	code, ok := revocationReasons[reasonName]
	if !ok {
		return nil, badRequest("unknown revocation reason %q (want one of %s)", truncate(reasonName, 40), strings.Join(ReasonNames(), ", "))
	}
	p.reason, p.reasonName = code, reasonName
	return p, nil
}

func decodeGenCRL(data []byte) *apiError {
	var req GenCRLRequest
	return decodeJSON(data, &req)
}

// revocationReasons maps RFC 5280 CRLReason names to codes. certificateHold
// and removeFromCRL are left out: revocation here is permanent.
var revocationReasons = map[string]int{
	"unspecified":          0,
	"keyCompromise":        1,
	"cACompromise":         2,
	"affiliationChanged":   3,
	"superseded":           4,
	"cessationOfOperation": 5,
	"privilegeWithdrawn":   9,
	"aACompromise":         10,
}

// ReasonNames lists the accepted revocation reason names, sorted.
func ReasonNames() []string {
	names := make([]string, 0, len(revocationReasons))
	for name := range revocationReasons {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// ParseHosts splits host names into DNS names and IP addresses, validating
// each (at most pki.MaxHosts, each a syntactically valid DNS name or IP).
func ParseHosts(hosts []string) ([]string, []net.IP, error) {
	if len(hosts) > pki.MaxHosts {
		return nil, nil, fmt.Errorf("at most %d hosts", pki.MaxHosts)
	}
	var dns []string
	var ips []net.IP
	seen := make(map[string]bool, len(hosts))
	for _, h := range hosts {
		var canonical string
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
			canonical = ip.String()
		} else {
			if err := validateDNSName(h); err != nil {
				return nil, nil, err
			}
			canonical = strings.ToLower(h)
			dns = append(dns, canonical)
		}
		if seen[canonical] {
			return nil, nil, fmt.Errorf("host %q given twice", truncate(h, 64))
		}
		seen[canonical] = true
	}
	return dns, ips, nil
}

// validateDNSName accepts RFC 1123 host names (letters, digits, hyphens,
// dot-separated labels of 1 to 63 characters, at most 253 in all).
func validateDNSName(h string) error {
	if h == "" || len(h) > 253 {
		return fmt.Errorf("host name must be 1 to 253 characters")
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("host %q is not a valid DNS name", truncate(h, 64))
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') && c != '-' {
				return fmt.Errorf("host %q is not a valid DNS name", truncate(h, 64))
			}
		}
	}
	return nil
}

// parseList splits a comma list attribute value into its trimmed,
// non-empty elements.
func parseList(value string) []string {
	var out []string
	for _, part := range strings.Split(value, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
