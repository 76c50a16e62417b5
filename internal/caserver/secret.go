package caserver

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// Enrollment secrets.
//
// A secret is 32 bytes from crypto/rand, handed out once as unpadded
// base64url (43 characters). The server keeps only HMAC-SHA256(salt, secret)
// with a fresh 16-byte salt per registration. A single salted hash is
// enough here, and a deliberate choice over PBKDF2 or scrypt: key stretching
// only slows guessing of low-entropy human passwords, while a 256-bit random
// secret cannot be guessed at any speed; the salt defeats precomputation
// across registrations; and a stretched hash would cost CPU on every
// unauthenticated enroll attempt, handing attackers a cheap denial of service.
const (
	secretBytes     = 32
	secretSaltBytes = 16
	// maxSecretLen bounds the secret field of an enroll request.
	maxSecretLen = 128
)

// newSecret returns a fresh enrollment secret.
func newSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// hashSecret returns a new salt and the secret's salted hash.
func hashSecret(secret string) (salt, sum []byte, err error) {
	salt = make([]byte, secretSaltBytes)
	if _, err := rand.Read(salt); err != nil {
		return nil, nil, err
	}
	return salt, secretMAC(salt, secret), nil
}

func secretMAC(salt []byte, secret string) []byte {
	mac := hmac.New(sha256.New, salt)
	mac.Write([]byte(secret))
	return mac.Sum(nil)
}

// dummySalt and dummySum stand in for an unknown enrollment ID so that a
// failed lookup costs the same hash and comparison as a wrong secret.
var (
	dummySalt = make([]byte, secretSaltBytes)
	dummySum  = make([]byte, sha256.Size)
)

// secretMatches compares secret with a stored hash in constant time. A
// missing hash (consumed secret) never matches, though the work is done.
func secretMatches(secret string, salt, sum []byte) bool {
	if len(salt) == 0 || len(sum) == 0 {
		hmac.Equal(secretMAC(dummySalt, secret), dummySum)
		return false
	}
	return hmac.Equal(secretMAC(salt, secret), sum)
}
