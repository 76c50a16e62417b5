package identity

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/blossom-ledger/blossom/internal/pki"
)

// Signer signs messages as one identity. Sign hashes internally: ECDSA
// signatures are ASN.1 DER over SHA-256(msg), Ed25519 signatures are over
// msg, matching Identity.Verify. Implementations are safe for concurrent use.
type Signer interface {
	Sign(msg []byte) ([]byte, error)
	Certificate() *x509.Certificate
	MSPID() string
	Public() crypto.PublicKey
}

// Snapshot returns one consistent state of s: for a Signer whose key and
// certificate can be replaced while it is in use (transport.Credential),
// the current pair, which a later replacement does not change; any other
// Signer itself. Call it before pairing a certificate with a signature.
func Snapshot(s Signer) Signer {
	if r, ok := s.(interface{ Current() Signer }); ok {
		return r.Current()
	}
	return s
}

// KeySigner is a Signer over any crypto.Signer whose public key matches the
// certificate: an in-memory key, a key file (NewFileSigner) or a key in a
// PKCS#11 token (PKCS11Signer embeds one).
type KeySigner struct {
	key   crypto.Signer
	cert  *x509.Certificate
	mspID string
}

// NewKeySigner pairs key with cert. It fails if the key does not match the
// certificate's public key, if the key type is not ECDSA P-256 or Ed25519,
// or if the certificate does not name exactly one MSP ID.
func NewKeySigner(key crypto.Signer, cert *x509.Certificate) (*KeySigner, error) {
	if key == nil || cert == nil {
		return nil, errors.New("signer needs a key and a certificate")
	}
	if err := checkPublicKey(cert.PublicKey); err != nil {
		return nil, err
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, errors.New("private key does not match the certificate's public key")
	}
	if len(cert.Subject.Organization) != 1 {
		return nil, errors.New("certificate subject must name exactly one organization (the MSP ID)")
	}
	return &KeySigner{key: key, cert: cert, mspID: cert.Subject.Organization[0]}, nil
}

// NewFileSigner loads a PEM private key file and a PEM certificate file.
// It refuses a key file that group or others may read (mode must be 0600 or
// stricter) and a key that does not match the certificate.
func NewFileSigner(keyPath, certPath string) (*KeySigner, error) {
	key, err := pki.ReadPrivateKeyFile(keyPath)
	if err != nil {
		return nil, err
	}
	cert, err := pki.ReadCertificateFile(certPath)
	if err != nil {
		return nil, err
	}
	s, err := NewKeySigner(key, cert)
	if err != nil {
		return nil, fmt.Errorf("%s and %s: %w", keyPath, certPath, err)
	}
	return s, nil
}

// Sign signs msg (see Signer).
func (s *KeySigner) Sign(msg []byte) ([]byte, error) {
	return signMessage(s.key, msg)
}

// Certificate returns the signer's certificate. Do not modify it.
func (s *KeySigner) Certificate() *x509.Certificate { return s.cert }

// MSPID returns the certificate's MSP ID (subject O).
func (s *KeySigner) MSPID() string { return s.mspID }

// Public returns the public key.
func (s *KeySigner) Public() crypto.PublicKey { return s.cert.PublicKey }

// signMessage signs msg with key as Identity.Verify expects.
func signMessage(key crypto.Signer, msg []byte) ([]byte, error) {
	if _, ok := key.Public().(ed25519.PublicKey); ok {
		sig, err := key.Sign(rand.Reader, msg, crypto.Hash(0))
		if err != nil {
			return nil, fmt.Errorf("sign: %w", err)
		}
		return sig, nil
	}
	digest := sha256.Sum256(msg)
	sig, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return sig, nil
}

// NewTLSSigner returns a signer over a node's TLS certificate and key, so
// that a node signs blocks and endorsements with the identity it presents
// in mutual TLS.
func NewTLSSigner(c tls.Certificate) (*KeySigner, error) {
	if len(c.Certificate) == 0 {
		return nil, errors.New("no certificate")
	}
	leaf := c.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, fmt.Errorf("certificate: %w", err)
		}
	}
	key, ok := c.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, errors.New("the certificate's private key cannot sign")
	}
	return NewKeySigner(key, leaf)
}
