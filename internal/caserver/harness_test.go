package caserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/blossom-ledger/blossom/internal/pki"
)

const testMSP = "Agency1MSP"

// fakeClock is the server's injectable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now().UTC().Truncate(time.Second)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// syncBuffer collects log output written from server goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testCA is an installed CA directory served over real HTTPS on loopback.
type testCA struct {
	t        *testing.T
	dir      string
	rootCert *x509.Certificate
	clock    *fakeClock
	logs     *syncBuffer
	srv      *Server
	url      string
	pool     *x509.CertPool
	cancel   context.CancelFunc
	done     chan error
}

func newTestCA(t *testing.T, alg pki.KeyAlgorithm) *testCA {
	t.Helper()
	rootDir, dir := t.TempDir(), t.TempDir()
	rootCert, err := InitRoot(rootDir, RootOptions{Name: "test root", Algorithm: alg})
	if err != nil {
		t.Fatal(err)
	}
	csr, err := Init(dir, testMSP, alg)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := SignIntermediateCSR(rootDir, csr, 0)
	if err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if err := Install(dir, certPEM, pki.EncodeCertificatePEM(rootCert.Raw), InstallOptions{Now: clock.Now, Logger: logger}); err != nil {
		t.Fatal(err)
	}
	pool, err := LoadCertPool(filepath.Join(dir, ChainFile))
	if err != nil {
		t.Fatal(err)
	}
	tc := &testCA{t: t, dir: dir, rootCert: rootCert, clock: clock, logs: logs, pool: pool}
	tc.start()
	t.Cleanup(tc.stop)
	return tc
}

func (tc *testCA) start() {
	tc.t.Helper()
	logger := slog.New(slog.NewTextHandler(tc.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := Open(Config{Dir: tc.dir, Logger: logger, Now: tc.clock.Now})
	if err != nil {
		tc.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		tc.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	tc.srv, tc.url, tc.cancel, tc.done = srv, "https://"+ln.Addr().String(), cancel, done
}

func (tc *testCA) stop() {
	if tc.srv == nil {
		return
	}
	tc.cancel()
	if err := <-tc.done; err != nil {
		tc.t.Errorf("Serve: %v", err)
	}
	if err := tc.srv.Close(); err != nil {
		tc.t.Errorf("Close: %v", err)
	}
	tc.srv = nil
}

func (tc *testCA) restart() {
	tc.t.Helper()
	tc.stop()
	tc.start()
}

func (tc *testCA) client(cert *tls.Certificate) *Client {
	tc.t.Helper()
	c, err := NewClient(ClientConfig{URL: tc.url, RootCAs: tc.pool, Certificate: cert, Timeout: 20 * time.Second})
	if err != nil {
		tc.t.Fatal(err)
	}
	tc.t.Cleanup(c.Close)
	return c
}

// identity is an enrolled identity: its TLS credential and client.
type identity struct {
	cert   *x509.Certificate
	tls    *tls.Certificate
	client *Client
}

// enroll enrolls id with secret using a fresh key of alg.
func (tc *testCA) enroll(id, secret string, alg pki.KeyAlgorithm) (*identity, error) {
	tc.t.Helper()
	key, err := pki.GenerateKey(alg)
	if err != nil {
		tc.t.Fatal(err)
	}
	csr, err := NewCSR(key, id)
	if err != nil {
		tc.t.Fatal(err)
	}
	resp, err := tc.client(nil).Enroll(context.Background(), EnrollRequest{EnrollmentID: id, Secret: secret, CSR: csr})
	if err != nil {
		return nil, err
	}
	certs, err := pki.ParseCertificatesPEM([]byte(resp.Certificate))
	if err != nil {
		tc.t.Fatal(err)
	}
	if len(certs) != 1 || !publicKeyMatches(certs[0].PublicKey, key) {
		tc.t.Fatal("enroll returned a certificate for another key")
	}
	chain, err := pki.ParseCertificatesPEM([]byte(resp.Chain))
	if err != nil || len(chain) != 2 || !chain[1].Equal(tc.rootCert) {
		tc.t.Fatalf("enroll returned a bad chain (%d certificates, %v)", len(chain), err)
	}
	cred := &tls.Certificate{Certificate: [][]byte{certs[0].Raw}, PrivateKey: key, Leaf: certs[0]}
	return &identity{cert: certs[0], tls: cred, client: tc.client(cred)}, nil
}

func (tc *testCA) mustEnroll(id, secret string) *identity {
	tc.t.Helper()
	ident, err := tc.enroll(id, secret, pki.ECDSAP256)
	if err != nil {
		tc.t.Fatalf("enroll %s: %v", id, err)
	}
	return ident
}

// admin enrolls the bootstrap registrar with the secret Install wrote.
func (tc *testCA) admin() *identity {
	tc.t.Helper()
	secret, err := ReadSecretFile(filepath.Join(tc.dir, BootstrapSecretFile))
	if err != nil {
		tc.t.Fatal(err)
	}
	return tc.mustEnroll(BootstrapRegistrar, secret)
}

// register registers id through registrar and fails the test on error.
func (tc *testCA) register(registrar *identity, req RegisterRequest) string {
	tc.t.Helper()
	resp, err := registrar.client.Register(context.Background(), req)
	if err != nil {
		tc.t.Fatalf("register %s: %v", req.EnrollmentID, err)
	}
	return resp.Secret
}

// registerAndEnroll registers and enrolls an identity.
func (tc *testCA) registerAndEnroll(registrar *identity, req RegisterRequest) *identity {
	tc.t.Helper()
	return tc.mustEnroll(req.EnrollmentID, tc.register(registrar, req))
}

// stateDigest hashes every key and value of the CA database, so that tests
// can assert a refused request changed nothing.
func (tc *testCA) stateDigest() string {
	tc.t.Helper()
	it, err := tc.srv.st.db.NewIter(&pebble.IterOptions{})
	if err != nil {
		tc.t.Fatal(err)
	}
	defer it.Close()
	h := sha256.New()
	n := 0
	for valid := it.First(); valid; valid = it.Next() {
		value, err := it.ValueAndErr()
		if err != nil {
			tc.t.Fatal(err)
		}
		h.Write([]byte{byte(len(it.Key()) >> 8), byte(len(it.Key()))})
		h.Write(it.Key())
		h.Write(value)
		n++
	}
	if n == 0 {
		tc.t.Fatal("empty database")
	}
	return hex.EncodeToString(h.Sum(nil))
}

// raw sends a raw request with an optional client certificate and returns
// the status and decoded error body (if any).
func (tc *testCA) raw(cert *tls.Certificate, method, path string, body []byte) (int, ErrorBody) {
	tc.t.Helper()
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: tc.pool}
	if cert != nil {
		tlsConfig.Certificates = []tls.Certificate{*cert}
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig}, Timeout: 20 * time.Second}
	defer hc.CloseIdleConnections()
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, tc.url+path, reader)
	if err != nil {
		tc.t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		tc.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		tc.t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		tc.t.Fatalf("%s %s: Content-Type %q", method, path, ct)
	}
	var eb ErrorBody
	if resp.StatusCode != http.StatusOK {
		dec := jsonDecoderStrict(data)
		if err := dec.Decode(&eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" {
			tc.t.Fatalf("%s %s: status %d with a body that is not an error object: %q", method, path, resp.StatusCode, data)
		}
		if strings.Contains(string(data), "goroutine ") || strings.Contains(string(data), ".go:") {
			tc.t.Fatalf("%s %s: error body looks like a stack trace: %q", method, path, data)
		}
	}
	return resp.StatusCode, eb
}

// wantAPIError checks that err is an APIError with the given status and code.
func wantAPIError(t *testing.T, err error, status int, code string) *APIError {
	t.Helper()
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %v, want an API error %d %s", err, status, code)
	}
	if apiErr.StatusCode != status || apiErr.Code != code {
		t.Fatalf("API error %d %s (%s), want %d %s", apiErr.StatusCode, apiErr.Code, apiErr.Message, status, code)
	}
	return apiErr
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
