//go:build !cgo

package identity

import (
	"crypto"
	"crypto/x509"
	"errors"
	"io"
)

// PKCS#11 needs cgo (the token's library is a C shared object). In a build
// without cgo the PKCS#11 functions return errPKCS11Unavailable.
var errPKCS11Unavailable = errors.New("pkcs11: this blossom binary was built without cgo, which PKCS#11 support needs")

// PKCS11Key is unavailable without cgo.
type PKCS11Key struct{}

// GeneratePKCS11Key checks cfg, then fails: unavailable without cgo.
func GeneratePKCS11Key(cfg PKCS11Config) (*PKCS11Key, error) { return nil, unavailable(cfg) }

// OpenPKCS11Key checks cfg, then fails: unavailable without cgo.
func OpenPKCS11Key(cfg PKCS11Config) (*PKCS11Key, error) { return nil, unavailable(cfg) }

// unavailable reports configuration errors first, as the cgo build does.
func unavailable(cfg PKCS11Config) error {
	if err := cfg.check(); err != nil {
		return err
	}
	if _, err := cfg.resolvePIN(); err != nil {
		return err
	}
	return errPKCS11Unavailable
}

// Public returns nil.
func (k *PKCS11Key) Public() crypto.PublicKey { return nil }

// Sign fails.
func (k *PKCS11Key) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errPKCS11Unavailable
}

// Close does nothing.
func (k *PKCS11Key) Close() error { return nil }

// PKCS11Signer is unavailable without cgo.
type PKCS11Signer struct{ *KeySigner }

// NewPKCS11Signer checks cfg, then fails: unavailable without cgo.
func NewPKCS11Signer(cfg PKCS11Config, _ *x509.Certificate) (*PKCS11Signer, error) {
	return nil, unavailable(cfg)
}

// Close does nothing.
func (s *PKCS11Signer) Close() error { return nil }
