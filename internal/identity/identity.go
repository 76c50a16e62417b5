package identity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"maps"

	"github.com/blossom-ledger/blossom/internal/pki"
)

// Identity is a validated member identity: an MSP ID and a certificate.
// It is immutable and shared (a Manager caches it), so callers must not
// modify the certificate it returns.
type Identity struct {
	mspID        string
	enrollmentID string
	role         pki.Role
	attrs        map[string]string
	cert         *x509.Certificate
	id           string
}

// newIdentity reads the blossom fields of cert (subject O, OU, CN, the
// attribute extension and the key type). It does not validate the chain.
func newIdentity(cert *x509.Certificate) (*Identity, error) {
	if cert.BasicConstraintsValid && cert.IsCA {
		return nil, newError(ErrMalformed, nil, "a CA certificate cannot be a member identity")
	}
	if len(cert.Subject.Organization) != 1 {
		return nil, newError(ErrMalformed, nil, fmt.Sprintf("certificate subject must name exactly one organization (the MSP ID), has %d", len(cert.Subject.Organization)))
	}
	mspID := cert.Subject.Organization[0]
	if err := pki.ValidateMSPID(mspID); err != nil {
		return nil, newError(ErrMalformed, err, "certificate subject O")
	}
	if len(cert.Subject.OrganizationalUnit) != 1 {
		return nil, newError(ErrMalformed, nil, fmt.Sprintf("certificate subject must name exactly one organizational unit (the role type), has %d", len(cert.Subject.OrganizationalUnit)))
	}
	role, err := pki.ParseRole(cert.Subject.OrganizationalUnit[0])
	if err != nil {
		return nil, newError(ErrMalformed, err, "certificate subject OU")
	}
	if err := pki.ValidateEnrollmentID(cert.Subject.CommonName); err != nil {
		return nil, newError(ErrMalformed, err, "certificate subject CN")
	}
	if err := checkPublicKey(cert.PublicKey); err != nil {
		return nil, err
	}
	attrs, err := pki.CertificateAttributes(cert)
	if err != nil {
		return nil, newError(ErrMalformed, err, "certificate attributes")
	}
	sum := sha256.Sum256(cert.Raw)
	return &Identity{
		mspID:        mspID,
		enrollmentID: cert.Subject.CommonName,
		role:         role,
		attrs:        attrs,
		cert:         cert,
		id:           hex.EncodeToString(sum[:]),
	}, nil
}

// checkPublicKey accepts the key types blossom signs with: ECDSA P-256 and
// Ed25519.
func checkPublicKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return nil
		}
		return newError(ErrMalformed, nil, fmt.Sprintf("unsupported ECDSA curve %s (want P-256)", k.Curve.Params().Name))
	case ed25519.PublicKey:
		return nil
	}
	return newError(ErrMalformed, nil, fmt.Sprintf("unsupported public key type %T", pub))
}

// MSPID returns the member the identity belongs to (subject O).
func (id *Identity) MSPID() string { return id.mspID }

// EnrollmentID returns the opaque enrollment ID (subject CN).
func (id *Identity) EnrollmentID() string { return id.enrollmentID }

// Role returns the role type (subject OU).
func (id *Identity) Role() pki.Role { return id.role }

// Attribute returns the value of a blossom attribute (for example
// pki.RoleAttribute) and whether the certificate carries it.
func (id *Identity) Attribute(name string) (string, bool) {
	v, ok := id.attrs[name]
	return v, ok
}

// Attributes returns a copy of the certificate's blossom attributes.
func (id *Identity) Attributes() map[string]string { return maps.Clone(id.attrs) }

// Certificate returns the identity's certificate. Do not modify it.
func (id *Identity) Certificate() *x509.Certificate { return id.cert }

// PublicKey returns the certificate's public key (*ecdsa.PublicKey on
// P-256 or ed25519.PublicKey).
func (id *Identity) PublicKey() crypto.PublicKey { return id.cert.PublicKey }

// ID returns a stable identifier: the hex SHA-256 of the certificate DER.
func (id *Identity) ID() string { return id.id }

// String returns "MSPID/role/enrollmentID" for logs.
func (id *Identity) String() string {
	return id.mspID + "/" + string(id.role) + "/" + id.enrollmentID
}

// Verify checks sig over msg with the identity's key. ECDSA signatures are
// ASN.1 DER over SHA-256(msg) (only valid DER is accepted); Ed25519
// signatures are over msg itself. A bad signature yields ErrSignature.
func (id *Identity) Verify(msg, sig []byte) error {
	return verifySignature(id.cert.PublicKey, msg, sig)
}

func verifySignature(pub crypto.PublicKey, msg, sig []byte) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		digest := sha256.Sum256(msg)
		if ecdsa.VerifyASN1(k, digest[:], sig) {
			return nil
		}
	case ed25519.PublicKey:
		if ed25519.Verify(k, msg, sig) {
			return nil
		}
	default:
		return newError(ErrMalformed, nil, fmt.Sprintf("unsupported public key type %T", pub))
	}
	return ErrSignature
}
