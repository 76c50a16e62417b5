package caserver

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/blossom-ledger/blossom/internal/pki"
)

// maxResponseBytes bounds what the client reads from the server.
const maxResponseBytes = 16 << 20

// ClientConfig configures a Client.
type ClientConfig struct {
	// URL is the CA server's base URL, e.g. "https://ca.agency1.example:7054".
	URL string
	// RootCAs verifies the server's certificate (the CA chain, or just the
	// consortium root). Required.
	RootCAs *x509.CertPool
	// Certificate authenticates the caller (a certificate this CA issued);
	// nil for enroll and the public calls.
	Certificate *tls.Certificate
	// Timeout bounds each call; zero means 30 seconds.
	Timeout time.Duration
}

// Client calls a CA server's API over HTTPS (TLS 1.3).
type Client struct {
	base *url.URL
	http *http.Client
}

// APIError is an error answered by the server.
type APIError struct {
	StatusCode int
	Code       string
	Message    string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("CA server: %s (HTTP %d, %s)", e.Message, e.StatusCode, e.Code)
}

// NewClient returns a client for the server at cfg.URL.
func NewClient(cfg ClientConfig) (*Client, error) {
	base, err := url.Parse(cfg.URL)
	if err != nil || base.Scheme != "https" || base.Host == "" {
		return nil, fmt.Errorf("CA URL %q must be an https:// URL with a host", cfg.URL)
	}
	if cfg.RootCAs == nil {
		return nil, errors.New("CA client needs the CA chain (or root) to verify the server")
	}
	base.Path = strings.TrimSuffix(base.Path, "/")
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: cfg.RootCAs}
	if cfg.Certificate != nil {
		cert := *cfg.Certificate
		tlsConfig.Certificates = []tls.Certificate{cert}
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	transport := &http.Transport{
		TLSClientConfig:     tlsConfig,
		TLSHandshakeTimeout: 10 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	return &Client{base: base, http: &http.Client{Transport: transport, Timeout: timeout}}, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Register registers an identity and returns its one-time secret.
func (c *Client) Register(ctx context.Context, req RegisterRequest) (*RegisterResponse, error) {
	var resp RegisterResponse
	return &resp, c.call(ctx, http.MethodPost, PathRegister, nil, req, &resp)
}

// Enroll exchanges an enrollment secret and a CSR (DER) for a certificate.
func (c *Client) Enroll(ctx context.Context, req EnrollRequest) (*EnrollResponse, error) {
	var resp EnrollResponse
	return &resp, c.call(ctx, http.MethodPost, PathEnroll, nil, req, &resp)
}

// Reenroll asks for a new certificate for the client certificate's identity.
func (c *Client) Reenroll(ctx context.Context, req ReenrollRequest) (*EnrollResponse, error) {
	var resp EnrollResponse
	return &resp, c.call(ctx, http.MethodPost, PathReenroll, nil, req, &resp)
}

// Revoke revokes an identity's certificates or one certificate.
func (c *Client) Revoke(ctx context.Context, req RevokeRequest) (*RevokeResponse, error) {
	var resp RevokeResponse
	return &resp, c.call(ctx, http.MethodPost, PathRevoke, nil, req, &resp)
}

// GenCRL has the server sign a new CRL.
func (c *Client) GenCRL(ctx context.Context) (*CRLResponse, error) {
	var resp CRLResponse
	return &resp, c.call(ctx, http.MethodPost, PathGenCRL, nil, GenCRLRequest{}, &resp)
}

// CRL fetches the current CRL (no client certificate needed).
func (c *Client) CRL(ctx context.Context) (*CRLResponse, error) {
	var resp CRLResponse
	return &resp, c.call(ctx, http.MethodGet, PathCRL, nil, nil, &resp)
}

// Identities lists one page of registrations the caller may register,
// after the given enrollment ID ("" for the first page); limit 0 means the
// server's default page size.
func (c *Client) Identities(ctx context.Context, after string, limit int) (*IdentitiesResponse, error) {
	q := url.Values{}
	if after != "" {
		q.Set("after", after)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var resp IdentitiesResponse
	return &resp, c.call(ctx, http.MethodGet, PathIdentities, q, nil, &resp)
}

// CAInfo fetches the CA's MSP ID and chain (no client certificate needed).
func (c *Client) CAInfo(ctx context.Context) (*CAInfoResponse, error) {
	var resp CAInfoResponse
	return &resp, c.call(ctx, http.MethodGet, PathCAInfo, nil, nil, &resp)
}

// Health checks GET /healthz.
func (c *Client) Health(ctx context.Context) error {
	var resp HealthResponse
	if err := c.call(ctx, http.MethodGet, PathHealth, nil, nil, &resp); err != nil {
		return err
	}
	if resp.Status != "ok" {
		return fmt.Errorf("CA server health: %q", resp.Status)
	}
	return nil
}

func (c *Client) call(ctx context.Context, method, path string, query url.Values, body, out any) error {
	u := *c.base
	u.Path += path
	u.RawQuery = query.Encode()
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), reader)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("CA server %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("CA server %s: read response: %w", path, err)
	}
	if len(data) > maxResponseBytes {
		return fmt.Errorf("CA server %s: response larger than %d bytes", path, maxResponseBytes)
	}
	if resp.StatusCode != http.StatusOK {
		var eb ErrorBody
		if json.Unmarshal(data, &eb) == nil && eb.Error.Code != "" {
			return &APIError{StatusCode: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message}
		}
		return &APIError{StatusCode: resp.StatusCode, Code: "HTTP_" + strconv.Itoa(resp.StatusCode), Message: http.StatusText(resp.StatusCode)}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("CA server %s: malformed response: %w", path, err)
	}
	return nil
}

// NewCSR makes a certificate signing request (DER) for key. The CA ignores
// the subject and sets its own; enrollmentID goes into the CN only to make
// the request recognisable.
func NewCSR(key crypto.Signer, enrollmentID string) ([]byte, error) {
	return x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: enrollmentID}}, key)
}

// LoadCertPool reads every certificate of a PEM file into a pool.
func LoadCertPool(path string) (*x509.CertPool, error) {
	data, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	certs, err := pki.ParseCertificatesPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// LoadClientCertificate reads a client certificate (PEM, first block) and
// its private key (PEM, mode 0600) for TLS client authentication.
func LoadClientCertificate(certPath, keyPath string) (*tls.Certificate, error) {
	data, err := readBounded(certPath)
	if err != nil {
		return nil, err
	}
	certs, err := pki.ParseCertificatesPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certPath, err)
	}
	key, err := pki.ReadPrivateKeyFile(keyPath)
	if err != nil {
		return nil, err
	}
	if !publicKeyMatches(certs[0].PublicKey, key) {
		return nil, fmt.Errorf("%s does not match the key in %s", certPath, keyPath)
	}
	tc := &tls.Certificate{PrivateKey: key, Leaf: certs[0]}
	for _, c := range certs {
		tc.Certificate = append(tc.Certificate, c.Raw)
	}
	return tc, nil
}

// ReadSecretFile reads an enrollment secret from a file: the first line,
// trimmed. It refuses files group or others may read.
func ReadSecretFile(path string) (string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if info.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("secret file %s has mode %04o: it must not be readable by group or others (chmod 600)", path, info.Mode().Perm())
	}
	if info.Size() > 4096 {
		return "", fmt.Errorf("secret file %s is larger than 4 KiB", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	secret, _, _ := strings.Cut(string(data), "\n")
	secret = strings.TrimSpace(secret)
	if secret == "" {
		return "", fmt.Errorf("secret file %s is empty", path)
	}
	return secret, nil
}
