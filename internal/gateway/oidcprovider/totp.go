package oidcprovider

import (
	"crypto/fips140"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"hash"
	"time"
)

// TOTPAlgorithm is the HMAC hash of a user's TOTP codes (RFC 6238 allows
// SHA-1, SHA-256 and SHA-512).
type TOTPAlgorithm string

const (
	// TOTPSHA1 is what most authenticator apps assume.
	TOTPSHA1 TOTPAlgorithm = "SHA1"
	// TOTPSHA256 is the choice in FIPS 140-only mode, which forbids
	// HMAC-SHA-1.
	TOTPSHA256 TOTPAlgorithm = "SHA256"
)

// DefaultTOTPAlgorithm is TOTPSHA1, or TOTPSHA256 when FIPS 140 mode is
// enforced (GODEBUG=fips140=only).
func DefaultTOTPAlgorithm() TOTPAlgorithm {
	if fips140.Enforced() {
		return TOTPSHA256
	}
	return TOTPSHA1
}

func (a TOTPAlgorithm) check() error {
	switch a {
	case TOTPSHA1:
		if fips140.Enforced() {
			return fmt.Errorf("oidcprovider: TOTP with %s is not allowed in FIPS 140-only mode; use %s", TOTPSHA1, TOTPSHA256)
		}
		return nil
	case TOTPSHA256:
		return nil
	}
	return fmt.Errorf("oidcprovider: unknown TOTP algorithm %q (want %s or %s)", a, TOTPSHA1, TOTPSHA256)
}

func (a TOTPAlgorithm) hash() func() hash.Hash {
	if a == TOTPSHA256 {
		return sha256.New
	}
	return sha1.New
}

// TOTP parameters (RFC 6238 defaults, which authenticator apps assume).
const (
	totpStep      = 30 * time.Second
	totpDigits    = 6
	totpDrift     = 1 // steps accepted either side of now
	minTOTPSecret = 16
)

// NewTOTPSecret returns a random 20-byte TOTP secret.
func NewTOTPSecret() ([]byte, error) {
	secret := make([]byte, 20)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	return secret, nil
}

// TOTPKeyURI returns the otpauth:// URI an authenticator app imports (as a
// QR code) for secret. It contains the secret: show it to its user only.
func TOTPKeyURI(issuer, username string, alg TOTPAlgorithm, secret []byte) string {
	enc := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
	return fmt.Sprintf("otpauth://totp/%s:%s?secret=%s&issuer=%s&algorithm=%s&digits=%d&period=%d",
		escapeLabel(issuer), escapeLabel(username), enc, escapeLabel(issuer), alg, totpDigits, int(totpStep/time.Second))
}

func escapeLabel(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' {
			out = append(out, c)
		} else {
			out = append(out, fmt.Sprintf("%%%02X", c)...)
		}
	}
	return string(out)
}

// TOTPCode returns the code for secret at t (RFC 6238, 30 s steps, six
// digits).
func TOTPCode(alg TOTPAlgorithm, secret []byte, t time.Time) string {
	return hotp(alg, secret, uint64(t.Unix()/int64(totpStep/time.Second)))
}

// hotp is RFC 4226's HOTP value for counter, with alg's HMAC.
func hotp(alg TOTPAlgorithm, secret []byte, counter uint64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac := hmac.New(alg.hash(), secret)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	offset := sum[len(sum)-1] & 0x0f
	value := binary.BigEndian.Uint32(sum[offset:offset+4]) & 0x7fffffff
	return fmt.Sprintf("%0*d", totpDigits, value%1_000_000)
}

// parseTOTPCode accepts exactly six ASCII digits, spaces around ignored.
func parseTOTPCode(s string) (string, bool) {
	start, end := 0, len(s)
	for start < end && s[start] == ' ' {
		start++
	}
	for end > start && s[end-1] == ' ' {
		end--
	}
	code := s[start:end]
	if len(code) != totpDigits {
		return "", false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return "", false
		}
	}
	return code, true
}

// verifyTOTP checks code against the steps around now, refusing any step at
// or before lastStep (a code is accepted once). It returns the matched step.
func verifyTOTP(alg TOTPAlgorithm, secret []byte, input string, now time.Time, lastStep int64) (int64, bool) {
	code, ok := parseTOTPCode(input)
	if !ok {
		return 0, false
	}
	current := now.Unix() / int64(totpStep/time.Second)
	matched, found := int64(0), false
	for d := int64(-totpDrift); d <= totpDrift; d++ {
		step := current + d
		if step < 0 {
			continue
		}
		// Compare every candidate, in constant time, before deciding.
		if subtle.ConstantTimeCompare([]byte(hotp(alg, secret, uint64(step))), []byte(code)) == 1 && step > lastStep && !found {
			matched, found = step, true
		}
	}
	return matched, found
}
