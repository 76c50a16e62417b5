//go:build cgo

package identity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"

	"github.com/ThalesGroup/crypto11"
)

// PKCS11Key is an ECDSA P-256 private key held in a PKCS#11 token. It is a
// crypto.Signer (Sign takes a SHA-256 digest and returns ASN.1 DER), so it
// can sign a CSR; its private part never leaves the token. Close releases
// the token session.
type PKCS11Key struct {
	ctx    *crypto11.Context
	signer crypto11.Signer
}

func configure(cfg PKCS11Config) (*crypto11.Context, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	pin, err := cfg.resolvePIN()
	if err != nil {
		return nil, err
	}
	ctx, err := crypto11.Configure(&crypto11.Config{Path: cfg.ModulePath, TokenLabel: cfg.TokenLabel, Pin: pin})
	if err != nil {
		return nil, fmt.Errorf("pkcs11: open token %q with %s: %w", cfg.TokenLabel, cfg.ModulePath, err)
	}
	return ctx, nil
}

func optional(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// GeneratePKCS11Key creates a new ECDSA P-256 key pair in the token, under
// cfg.KeyLabel and cfg.KeyID (a random 16-byte ID if none is given). It
// refuses to create a second key with the same label or ID. Use it once at
// setup, then sign a CSR with the returned key.
func GeneratePKCS11Key(cfg PKCS11Config) (*PKCS11Key, error) {
	ctx, err := configure(cfg)
	if err != nil {
		return nil, err
	}
	if existing, err := ctx.FindKeyPair(optional(cfg.KeyID), optional([]byte(cfg.KeyLabel))); err == nil && existing != nil {
		ctx.Close()
		return nil, fmt.Errorf("pkcs11: token %q already holds a key with label %q or ID %x", cfg.TokenLabel, cfg.KeyLabel, cfg.KeyID)
	}
	id := cfg.KeyID
	if len(id) == 0 {
		id = make([]byte, 16)
		if _, err := rand.Read(id); err != nil {
			ctx.Close()
			return nil, err
		}
	}
	signer, err := ctx.GenerateECDSAKeyPairWithLabel(id, []byte(cfg.KeyLabel), elliptic.P256())
	if err != nil {
		ctx.Close()
		return nil, fmt.Errorf("pkcs11: generate key in token %q: %w", cfg.TokenLabel, err)
	}
	return &PKCS11Key{ctx: ctx, signer: signer}, nil
}

// OpenPKCS11Key finds an existing ECDSA P-256 key pair in the token.
func OpenPKCS11Key(cfg PKCS11Config) (*PKCS11Key, error) {
	ctx, err := configure(cfg)
	if err != nil {
		return nil, err
	}
	signer, err := ctx.FindKeyPair(optional(cfg.KeyID), optional([]byte(cfg.KeyLabel)))
	if err != nil || signer == nil {
		ctx.Close()
		if err == nil {
			err = errors.New("not found")
		}
		return nil, fmt.Errorf("pkcs11: key label %q ID %x in token %q: %w", cfg.KeyLabel, cfg.KeyID, cfg.TokenLabel, err)
	}
	pub, ok := signer.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		ctx.Close()
		return nil, fmt.Errorf("pkcs11: key label %q in token %q is not an ECDSA P-256 key", cfg.KeyLabel, cfg.TokenLabel)
	}
	return &PKCS11Key{ctx: ctx, signer: signer}, nil
}

// Public returns the public key (*ecdsa.PublicKey).
func (k *PKCS11Key) Public() crypto.PublicKey { return k.signer.Public() }

// Sign signs a digest in the token (see crypto.Signer).
func (k *PKCS11Key) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.signer.Sign(r, digest, opts)
}

// Close releases the token session.
func (k *PKCS11Key) Close() error { return k.ctx.Close() }

// PKCS11Signer is a Signer whose key lives in a PKCS#11 token. Close it
// when done.
type PKCS11Signer struct {
	*KeySigner
	key *PKCS11Key
}

// NewPKCS11Signer opens the key cfg names and pairs it with cert, which
// must hold the key's public key.
func NewPKCS11Signer(cfg PKCS11Config, cert *x509.Certificate) (*PKCS11Signer, error) {
	key, err := OpenPKCS11Key(cfg)
	if err != nil {
		return nil, err
	}
	ks, err := NewKeySigner(key, cert)
	if err != nil {
		key.Close()
		return nil, fmt.Errorf("pkcs11: %w", err)
	}
	return &PKCS11Signer{KeySigner: ks, key: key}, nil
}

// Close releases the token session.
func (s *PKCS11Signer) Close() error { return s.key.Close() }
