package wallet

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/blossom-ledger/blossom/internal/fsutil"
)

// KEKSize is the size in bytes of a configured key-encryption key (AES-256).
const KEKSize = 32

// maxKEKFileSize bounds what LoadKEKFile reads.
const maxKEKFileSize = 4096

// KEK is a key-encryption key: it seals and opens the wallet's data keys.
// Implementations are safe for concurrent use.
type KEK interface {
	// ID identifies the key without revealing it (stored with every record,
	// so that a wallet opened under another KEK is detected).
	ID() string
	// Seal encrypts and authenticates plaintext, binding aad.
	Seal(plaintext, aad []byte) ([]byte, error)
	// Open reverses Seal; it fails if the ciphertext or aad was altered or
	// another key sealed it.
	Open(ciphertext, aad []byte) ([]byte, error)
}

// AESKEK is a KEK held in memory: AES-256-GCM with a random 96-bit nonce
// per seal (cipher.NewGCMWithRandomNonce).
type AESKEK struct {
	aead cipher.AEAD
	id   string
}

// NewAESKEK returns a KEK over a 32-byte key. The key is copied.
func NewAESKEK(key []byte) (*AESKEK, error) {
	if len(key) != KEKSize {
		return nil, fmt.Errorf("wallet: a key-encryption key must be %d bytes, got %d", KEKSize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	// The random-nonce GCM (nonce ‖ ciphertext ‖ tag) is the form FIPS
	// 140-3 mode approves.
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, err
	}
	// The ID is a key check value: an HMAC of a fixed label under the key,
	// which identifies the key without helping to recover it.
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("blossom wallet KEK id v1"))
	return &AESKEK{aead: aead, id: "aes:" + hex.EncodeToString(mac.Sum(nil)[:8])}, nil
}

// ID returns "aes:" and 16 hex digits of the key's check value.
func (k *AESKEK) ID() string { return k.id }

// Seal encrypts plaintext (nonce ‖ ciphertext ‖ tag).
func (k *AESKEK) Seal(plaintext, aad []byte) ([]byte, error) {
	return sealGCM(k.aead, plaintext, aad)
}

// Open decrypts what Seal produced.
func (k *AESKEK) Open(ciphertext, aad []byte) ([]byte, error) {
	return openGCM(k.aead, ciphertext, aad)
}

// String never shows the key.
func (k *AESKEK) String() string { return "wallet.AESKEK{" + k.id + "}" }

func sealGCM(aead cipher.AEAD, plaintext, aad []byte) ([]byte, error) {
	return aead.Seal(nil, nil, plaintext, aad), nil
}

// errOpen is the one error a failed decryption gives: it says nothing about
// why (wrong key or altered data), as an oracle must not.
var errOpen = errors.New("wallet: decryption failed")

func openGCM(aead cipher.AEAD, ciphertext, aad []byte) ([]byte, error) {
	if len(ciphertext) < aead.Overhead() {
		return nil, errOpen
	}
	plaintext, err := aead.Open(nil, nil, ciphertext, aad)
	if err != nil {
		return nil, errOpen
	}
	return plaintext, nil
}

// ParseKEK decodes a 256-bit key written as 64 hex digits or as standard or
// URL-safe base64 (padded or not), surrounding white space ignored.
func ParseKEK(text string) ([]byte, error) {
	s := strings.TrimSpace(text)
	if len(s) == 2*KEKSize {
		if key, err := hex.DecodeString(s); err == nil {
			return key, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err := enc.DecodeString(s); err == nil && len(key) == KEKSize {
			return key, nil
		}
	}
	return nil, fmt.Errorf("wallet: a key-encryption key must be %d bytes written as 64 hex digits or base64", KEKSize)
}

// LoadKEKFile reads a KEK file (see ParseKEK). It refuses a file that group
// or others may read.
func LoadKEKFile(path string) (*AESKEK, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("wallet: key-encryption key file %s has mode %04o: it must not be readable by group or others (chmod 600)", path, info.Mode().Perm())
	}
	if info.Size() > maxKEKFileSize {
		return nil, fmt.Errorf("wallet: key-encryption key file %s is larger than %d bytes", path, maxKEKFileSize)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := ParseKEK(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return NewAESKEK(key)
}

// KEKFromEnv reads a KEK (see ParseKEK) from the named environment variable.
func KEKFromEnv(name string) (*AESKEK, error) {
	value, ok := os.LookupEnv(name)
	if !ok || strings.TrimSpace(value) == "" {
		return nil, fmt.Errorf("wallet: environment variable %s holds no key-encryption key", name)
	}
	key, err := ParseKEK(value)
	if err != nil {
		return nil, fmt.Errorf("environment variable %s: %w", name, err)
	}
	return NewAESKEK(key)
}

// GenerateKEKFile writes a new random KEK as hex to path (mode 0600,
// atomically). It refuses to overwrite an existing file.
func GenerateKEKFile(path string) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("wallet: %s already exists; refusing to replace a key-encryption key", path)
	}
	key := make([]byte, KEKSize)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(path, []byte(hex.EncodeToString(key)+"\n"), 0o600)
}
