package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// Role is a certificate's role type, carried as the subject OU.
type Role string

// The role types. Node roles get server and client authentication; user
// roles get client authentication only.
const (
	RoleAdmin   Role = "admin"
	RoleClient  Role = "client"
	RolePeer    Role = "peer"
	RoleOrderer Role = "orderer"
	RoleGateway Role = "gateway"
)

// Roles lists every role type.
var Roles = []Role{RoleAdmin, RoleClient, RolePeer, RoleOrderer, RoleGateway}

// ParseRole accepts one of the role type names.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role type %q (want admin, client, peer, orderer or gateway)", s)
}

// IsNode reports whether r is a node role (peer, orderer, gateway).
func (r Role) IsNode() bool { return r == RolePeer || r == RoleOrderer || r == RoleGateway }

// Default validity periods.
const (
	DefaultRootValidity         = 10 * 365 * 24 * time.Hour
	DefaultIntermediateValidity = 5 * 365 * 24 * time.Hour
	DefaultNodeValidity         = 365 * 24 * time.Hour
	DefaultUserValidity         = 365 * 24 * time.Hour
	// backdate absorbs small clock differences between members.
	backdate = 5 * time.Minute
)

// CA is a certificate authority: its certificate and signing key. The key
// may live in memory, a file or an HSM (any crypto.Signer).
type CA struct {
	Cert   *x509.Certificate
	Signer crypto.Signer
	// Chain holds the certificates above Cert up to (excluding) the root,
	// in order; empty for a root CA.
	Chain []*x509.Certificate
}

// RootRequest describes a new consortium root CA.
type RootRequest struct {
	CommonName   string // e.g. "blossom consortium root CA"
	Organization string // the consortium name
	Validity     time.Duration
	Algorithm    KeyAlgorithm
	Now          time.Time // zero: time.Now()
}

// NewRootCA creates a self-signed root CA and its key.
func NewRootCA(req RootRequest) (*CA, error) {
	if req.CommonName == "" {
		return nil, errors.New("root CA needs a common name")
	}
	key, err := GenerateKey(req.Algorithm)
	if err != nil {
		return nil, err
	}
	now := orNow(req.Now)
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: req.CommonName, Organization: nonEmpty(req.Organization)},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(orDefault(req.Validity, DefaultRootValidity)),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
	}
	cert, err := createCertificate(tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Signer: key}, nil
}

// NewIntermediateCSR creates the key and certificate signing request of a
// member's intermediate CA. The CSR goes to the root's holder; the key stays
// with the member.
func NewIntermediateCSR(mspID string, alg KeyAlgorithm) (crypto.Signer, []byte, error) {
	if err := ValidateMSPID(mspID); err != nil {
		return nil, nil, err
	}
	key, err := GenerateKey(alg)
	if err != nil {
		return nil, nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: mspID + " CA", Organization: []string{mspID}},
	}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create CSR: %w", err)
	}
	return key, csr, nil
}

// SignIntermediate signs a member's intermediate-CA CSR (DER) with this
// (root) CA. The member's MSP ID is the CSR subject's organization.
func (ca *CA) SignIntermediate(csrDER []byte, validity time.Duration, now time.Time) (*x509.Certificate, error) {
	csr, err := ParseCSR(csrDER)
	if err != nil {
		return nil, err
	}
	if len(csr.Subject.Organization) != 1 {
		return nil, errors.New("intermediate CSR must name exactly one organization (the member's MSP ID)")
	}
	if err := ValidateMSPID(csr.Subject.Organization[0]); err != nil {
		return nil, err
	}
	now = orNow(now)
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: csr.Subject.CommonName, Organization: csr.Subject.Organization},
		NotBefore:             now.Add(-backdate),
		NotAfter:              clampNotAfter(now.Add(orDefault(validity, DefaultIntermediateValidity)), ca.Cert),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	return createCertificate(tmpl, ca.Cert, csr.PublicKey, ca.Signer)
}

// ParseCSR parses a DER CSR and checks its self-signature and key type.
func ParseCSR(der []byte) (*x509.CertificateRequest, error) {
	if len(der) == 0 || len(der) > 64<<10 {
		return nil, errors.New("malformed CSR: empty or larger than 64 KiB")
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("malformed CSR: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("CSR signature does not verify: %w", err)
	}
	if err := checkKeyType(csr.PublicKey); err != nil {
		return nil, fmt.Errorf("CSR: %w", err)
	}
	return csr, nil
}

// IssueRequest describes an end-entity certificate.
type IssueRequest struct {
	PublicKey    crypto.PublicKey
	EnrollmentID string // subject CN
	Role         Role   // subject OU
	Attributes   map[string]string
	DNSNames     []string // node certificates only
	IPAddresses  []net.IP // node certificates only
	Validity     time.Duration
	Now          time.Time
	Serial       *big.Int // nil: random
}

// Issue signs an end-entity certificate with this (intermediate) CA. The
// certificate's organization is the CA's own MSP ID, so a member can only
// issue identities of its own.
func (ca *CA) Issue(req IssueRequest) (*x509.Certificate, error) {
	if err := ValidateEnrollmentID(req.EnrollmentID); err != nil {
		return nil, err
	}
	if _, err := ParseRole(string(req.Role)); err != nil {
		return nil, err
	}
	if err := checkKeyType(req.PublicKey); err != nil {
		return nil, err
	}
	if !req.Role.IsNode() && (len(req.DNSNames) > 0 || len(req.IPAddresses) > 0) {
		return nil, fmt.Errorf("role %s is a user role: it takes no host names", req.Role)
	}
	mspID, err := ca.MSPID()
	if err != nil {
		return nil, err
	}
	now := orNow(req.Now)
	validity := DefaultUserValidity
	if req.Role.IsNode() {
		validity = DefaultNodeValidity
	}
	tmpl := &x509.Certificate{
		SerialNumber: req.Serial,
		Subject: pkix.Name{
			CommonName:         req.EnrollmentID,
			Organization:       []string{mspID},
			OrganizationalUnit: []string{string(req.Role)},
		},
		NotBefore:   now.Add(-backdate),
		NotAfter:    clampNotAfter(now.Add(orDefault(req.Validity, validity)), ca.Cert),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		DNSNames:    req.DNSNames,
		IPAddresses: req.IPAddresses,
	}
	if req.Role.IsNode() {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	if len(req.Attributes) > 0 {
		value, err := EncodeAttributes(req.Attributes)
		if err != nil {
			return nil, err
		}
		tmpl.ExtraExtensions = []pkix.Extension{{Id: AttributesOID, Critical: false, Value: value}}
	}
	return createCertificate(tmpl, ca.Cert, req.PublicKey, ca.Signer)
}

// MSPID returns the member MSP ID this CA issues for (its subject O).
func (ca *CA) MSPID() (string, error) {
	if len(ca.Cert.Subject.Organization) != 1 {
		return "", errors.New("CA certificate must name exactly one organization (the MSP ID)")
	}
	return ca.Cert.Subject.Organization[0], nil
}

// RevokedCertificate is one CRL entry.
type RevokedCertificate struct {
	Serial    *big.Int
	RevokedAt time.Time
	Reason    int // RFC 5280 CRLReason code
}

// CreateCRL signs a CRL listing revoked; number must increase with each CRL.
func (ca *CA) CreateCRL(revoked []RevokedCertificate, number *big.Int, thisUpdate, nextUpdate time.Time) ([]byte, error) {
	entries := make([]x509.RevocationListEntry, len(revoked))
	for i, r := range revoked {
		entries[i] = x509.RevocationListEntry{SerialNumber: r.Serial, RevocationTime: r.RevokedAt.UTC(), ReasonCode: r.Reason}
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    number,
		ThisUpdate:                thisUpdate.UTC(),
		NextUpdate:                nextUpdate.UTC(),
		RevokedCertificateEntries: entries,
	}, ca.Cert, ca.Signer)
	if err != nil {
		return nil, fmt.Errorf("create CRL: %w", err)
	}
	return der, nil
}

// RandomSerial returns a random positive 128-bit serial number.
func RandomSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	return serial.Add(serial, big.NewInt(1)), nil
}

// ValidateMSPID checks an MSP ID: 1 to 64 characters from [A-Za-z0-9._-].
func ValidateMSPID(id string) error {
	return validateName("MSP ID", id, 64)
}

// ValidateEnrollmentID checks an enrollment ID: 1 to 128 characters from
// [A-Za-z0-9._@-].
func ValidateEnrollmentID(id string) error {
	return validateName("enrollment ID", id, 128)
}

func validateName(what, s string, max int) error {
	if s == "" || len(s) > max {
		return fmt.Errorf("%s must be 1 to %d characters", what, max)
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') && c != '.' && c != '_' && c != '-' && c != '@' {
			return fmt.Errorf("%s %q has a character outside [A-Za-z0-9._@-]", what, s)
		}
	}
	return nil
}

// SubjectKeyID derives a subject key identifier (SHA-256, truncated to 20
// bytes, as RFC 7093 method 1 allows) from a public key.
func SubjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(der)
	return sum[:20], nil
}

func createCertificate(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	if tmpl.SerialNumber == nil {
		serial, err := RandomSerial()
		if err != nil {
			return nil, err
		}
		tmpl.SerialNumber = serial
	}
	ski, err := SubjectKeyID(pub)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	tmpl.SubjectKeyId = ski
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// clampNotAfter keeps a certificate from outliving its issuer.
func clampNotAfter(t time.Time, issuer *x509.Certificate) time.Time {
	if t.After(issuer.NotAfter) {
		return issuer.NotAfter
	}
	return t
}

func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
