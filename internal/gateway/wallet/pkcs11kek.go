//go:build cgo

package wallet

import (
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/ThalesGroup/crypto11"
)

// gcmNonceSize is the AES-GCM nonce length used with the token (96 bits,
// NIST SP 800-38D's recommendation).
const gcmNonceSize = 12

// PKCS11KEK is a KEK whose AES-256 key lives in a PKCS#11 token. Close it
// when done.
type PKCS11KEK struct {
	ctx  *crypto11.Context
	aead cipher.AEAD
	id   string
}

func openToken(cfg PKCS11KEKConfig) (*crypto11.Context, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	pin, err := cfg.pin()
	if err != nil {
		return nil, err
	}
	ctx, err := crypto11.Configure(&crypto11.Config{Path: cfg.ModulePath, TokenLabel: cfg.TokenLabel, Pin: pin, GCMIVLength: gcmNonceSize})
	if err != nil {
		return nil, fmt.Errorf("wallet: open token %q with %s: %w", cfg.TokenLabel, cfg.ModulePath, err)
	}
	return ctx, nil
}

func newPKCS11KEK(ctx *crypto11.Context, key *crypto11.SecretKey, cfg PKCS11KEKConfig) (*PKCS11KEK, error) {
	aead, err := key.NewGCM()
	if err != nil {
		ctx.Close()
		return nil, fmt.Errorf("wallet: key %q in token %q cannot do AES-GCM: %w", cfg.KeyLabel, cfg.TokenLabel, err)
	}
	return &PKCS11KEK{ctx: ctx, aead: aead, id: "pkcs11:" + cfg.TokenLabel + "/" + cfg.KeyLabel}, nil
}

// GeneratePKCS11KEK creates a new AES-256 key labelled cfg.KeyLabel in the
// token (refusing if the label is taken) and returns it as a KEK.
func GeneratePKCS11KEK(cfg PKCS11KEKConfig) (*PKCS11KEK, error) {
	ctx, err := openToken(cfg)
	if err != nil {
		return nil, err
	}
	if existing, err := ctx.FindKey(nil, []byte(cfg.KeyLabel)); err == nil && existing != nil {
		ctx.Close()
		return nil, fmt.Errorf("wallet: token %q already holds a key labelled %q", cfg.TokenLabel, cfg.KeyLabel)
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		ctx.Close()
		return nil, err
	}
	key, err := ctx.GenerateSecretKeyWithLabel(id, []byte(cfg.KeyLabel), 256, crypto11.CipherAES)
	if err != nil {
		ctx.Close()
		return nil, fmt.Errorf("wallet: generate AES key in token %q: %w", cfg.TokenLabel, err)
	}
	return newPKCS11KEK(ctx, key, cfg)
}

// OpenPKCS11KEK finds the AES key labelled cfg.KeyLabel in the token.
func OpenPKCS11KEK(cfg PKCS11KEKConfig) (*PKCS11KEK, error) {
	ctx, err := openToken(cfg)
	if err != nil {
		return nil, err
	}
	key, err := ctx.FindKey(nil, []byte(cfg.KeyLabel))
	if err != nil || key == nil {
		ctx.Close()
		if err == nil {
			err = errors.New("not found")
		}
		return nil, fmt.Errorf("wallet: key %q in token %q: %w", cfg.KeyLabel, cfg.TokenLabel, err)
	}
	return newPKCS11KEK(ctx, key, cfg)
}

// ID returns "pkcs11:<token>/<key label>".
func (k *PKCS11KEK) ID() string { return k.id }

// Seal encrypts plaintext in the token (nonce ‖ ciphertext ‖ tag).
func (k *PKCS11KEK) Seal(plaintext, aad []byte) (out []byte, err error) {
	nonce := make([]byte, gcmNonceSize)
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return nil, err
	}
	// crypto11's AEAD panics when the token fails.
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("wallet: token encryption failed: %v", r)
		}
	}()
	return k.aead.Seal(nonce, nonce, plaintext, aad), nil
}

// Open decrypts in the token what Seal produced.
func (k *PKCS11KEK) Open(ciphertext, aad []byte) ([]byte, error) {
	if len(ciphertext) < gcmNonceSize+16 {
		return nil, errOpen
	}
	plain, err := k.aead.Open(nil, ciphertext[:gcmNonceSize], ciphertext[gcmNonceSize:], aad)
	if err != nil {
		return nil, errOpen
	}
	return plain, nil
}

// Close releases the token session.
func (k *PKCS11KEK) Close() error { return k.ctx.Close() }
