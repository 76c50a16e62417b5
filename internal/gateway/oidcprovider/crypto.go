package oidcprovider

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
)

// gcmCrypto is op's Crypto (it turns auth request IDs into authorization
// codes, and back) with AES-256-GCM under a random per-start key and random
// nonces. It replaces zitadel's default, whose JWE encryption uses caller
// IVs that FIPS 140-only mode refuses and whose fallback decrypter accepts
// unauthenticated AES-CFB.
type gcmCrypto struct{ aead cipher.AEAD }

// maxSealed bounds what Decrypt accepts.
const maxSealed = 1024

var errBadCiphertext = errors.New("oidcprovider: value does not decrypt")

func newGCMCrypto() (*gcmCrypto, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, err
	}
	return &gcmCrypto{aead: aead}, nil
}

var cryptoAAD = []byte("blossom oidcprovider code v1")

func (c *gcmCrypto) Encrypt(s string) (string, error) {
	return base64.RawURLEncoding.EncodeToString(c.aead.Seal(nil, nil, []byte(s), cryptoAAD)), nil
}

func (c *gcmCrypto) Decrypt(s string) (string, error) {
	if len(s) > maxSealed {
		return "", errBadCiphertext
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) < c.aead.Overhead() {
		return "", errBadCiphertext
	}
	plain, err := c.aead.Open(nil, nil, raw, cryptoAAD)
	if err != nil {
		return "", errBadCiphertext
	}
	return string(plain), nil
}
