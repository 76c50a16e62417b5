package auth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// clientAssertionType is RFC 7523's client assertion type.
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionTTL is a client assertion's lifetime.
const assertionTTL = time.Minute

// clientAssertion signs an RFC 7523 client authentication JWT: iss and sub
// the client ID, aud the issuer and the token endpoint, a fresh jti, and a
// one-minute lifetime. ES256 for P-256 keys, EdDSA for Ed25519.
func clientAssertion(key crypto.Signer, keyID, clientID string, audience []string, now time.Time) (string, error) {
	var alg string
	switch k := key.Public().(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", errors.New("auth: private_key_jwt needs a P-256 or Ed25519 key")
		}
		alg = "ES256"
	case ed25519.PublicKey:
		alg = "EdDSA"
	default:
		return "", errors.New("auth: private_key_jwt needs a P-256 or Ed25519 key")
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	header, err := json.Marshal(map[string]string{"alg": alg, "typ": "JWT", "kid": keyID})
	if err != nil {
		return "", err
	}
	claims, err := json.Marshal(map[string]any{
		"iss": clientID, "sub": clientID, "aud": audience,
		"jti": base64.RawURLEncoding.EncodeToString(jti),
		"iat": now.Unix(), "exp": now.Add(assertionTTL).Unix(),
	})
	if err != nil {
		return "", err
	}
	input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(claims)
	var sig []byte
	if alg == "EdDSA" {
		sig, err = key.Sign(rand.Reader, []byte(input), crypto.Hash(0))
		if err != nil {
			return "", fmt.Errorf("auth: sign client assertion: %w", err)
		}
	} else {
		digest := sha256.Sum256([]byte(input))
		der, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			return "", fmt.Errorf("auth: sign client assertion: %w", err)
		}
		if sig, err = ecdsaDERToJOSE(der); err != nil {
			return "", err
		}
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// ecdsaDERToJOSE converts an ASN.1 ECDSA P-256 signature to JWS's r‖s.
func ecdsaDERToJOSE(der []byte) ([]byte, error) {
	var sig struct{ R, S *big.Int }
	if err := asn1Unmarshal(der, &sig); err != nil || sig.R == nil || sig.S == nil {
		return nil, errors.New("auth: malformed ECDSA signature")
	}
	out := make([]byte, 64)
	sig.R.FillBytes(out[:32])
	sig.S.FillBytes(out[32:])
	return out, nil
}

// assertionTransport adds a fresh client assertion to every POST to the
// token endpoint, so that oauth2's code exchange and refresh authenticate
// with private_key_jwt. Other requests pass through unchanged.
type assertionTransport struct {
	base     http.RoundTripper
	tokenURL string
	key      crypto.Signer
	keyID    string
	clientID string
	audience []string
	now      func() time.Time
}

func (t *assertionTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPost || req.URL.String() != t.tokenURL || req.Body == nil {
		return t.base.RoundTrip(req)
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, 64<<10))
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, errors.New("auth: token request body does not parse")
	}
	assertion, err := clientAssertion(t.key, t.keyID, t.clientID, t.audience, t.now())
	if err != nil {
		return nil, err
	}
	form.Del("client_secret")
	form.Set("client_id", t.clientID)
	form.Set("client_assertion_type", clientAssertionType)
	form.Set("client_assertion", assertion)
	encoded := form.Encode()
	out := req.Clone(req.Context())
	out.Header.Del("Authorization")
	out.Body = io.NopCloser(bytes.NewReader([]byte(encoded)))
	out.ContentLength = int64(len(encoded))
	out.Header.Set("Content-Length", strconv.Itoa(len(encoded)))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader([]byte(encoded))), nil }
	return t.base.RoundTrip(out)
}

func asn1Unmarshal(der []byte, v any) error {
	rest, err := asn1.Unmarshal(der, v)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return errors.New("trailing data")
	}
	return nil
}
