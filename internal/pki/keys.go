package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/blossom-ledger/blossom/internal/fsutil"
)

// KeyAlgorithm names a signature algorithm for new keys.
type KeyAlgorithm string

const (
	// ECDSAP256 is ECDSA over NIST P-256 with SHA-256 (FIPS 186-5); the default.
	ECDSAP256 KeyAlgorithm = "ecdsa-p256"
	// Ed25519 is the optional EdDSA algorithm.
	Ed25519 KeyAlgorithm = "ed25519"
)

// ParseKeyAlgorithm accepts "" (the default, ECDSA P-256), "ecdsa-p256" or "ed25519".
func ParseKeyAlgorithm(s string) (KeyAlgorithm, error) {
	switch KeyAlgorithm(s) {
	case "", ECDSAP256:
		return ECDSAP256, nil
	case Ed25519:
		return Ed25519, nil
	}
	return "", fmt.Errorf("unknown key algorithm %q (want %q or %q)", s, ECDSAP256, Ed25519)
}

// GenerateKey creates a new private key for alg.
func GenerateKey(alg KeyAlgorithm) (crypto.Signer, error) {
	switch alg {
	case "", ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case Ed25519:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	}
	return nil, fmt.Errorf("unknown key algorithm %q", alg)
}

// MarshalPrivateKeyPEM encodes key as a PKCS#8 "PRIVATE KEY" PEM block.
func MarshalPrivateKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParsePrivateKeyPEM decodes a PKCS#8 (or SEC 1 EC) private key PEM block.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block in private key data")
	}
	switch block.Type {
	case "PRIVATE KEY":
		key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse private key: %w", err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported private key type %T", key)
		}
		return signer, checkKeyType(signer.Public())
	case "EC PRIVATE KEY":
		key, err := x509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse EC private key: %w", err)
		}
		return key, checkKeyType(key.Public())
	}
	return nil, fmt.Errorf("unexpected PEM block %q for a private key", block.Type)
}

// checkKeyType accepts only the algorithms blossom supports.
func checkKeyType(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return fmt.Errorf("unsupported ECDSA curve %s (want P-256)", k.Curve.Params().Name)
		}
		return nil
	case ed25519.PublicKey:
		return nil
	}
	return fmt.Errorf("unsupported public key type %T", pub)
}

// WritePrivateKeyFile writes key as PEM to path with mode 0600, atomically.
func WritePrivateKeyFile(path string, key crypto.Signer) error {
	data, err := MarshalPrivateKeyPEM(key)
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(path, data, 0o600)
}

// ReadPrivateKeyFile reads a PEM private key file. It refuses files that
// group or others may read, since a key must stay with its holder.
func ReadPrivateKeyFile(path string) (crypto.Signer, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("private key file %s has mode %04o: it must not be readable by group or others (chmod 600)", path, info.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}

// EncodeCertificatePEM encodes one DER certificate as PEM.
func EncodeCertificatePEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// ParseCertificatesPEM decodes every CERTIFICATE block in data. It fails if
// data holds no certificate or a block that is not a certificate.
func ParseCertificatesPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("unexpected PEM block %q where a certificate was expected", block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, errors.New("no certificate found in PEM data")
	}
	return certs, nil
}

// ReadCertificateFile reads the first certificate of a PEM file.
func ReadCertificateFile(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	certs, err := ParseCertificatesPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return certs[0], nil
}
