package transport_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
	"github.com/blossom-ledger/blossom/internal/transport"
)

// logBuffer collects a server's log lines; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls the log for want until a deadline; the server logs a
// refusal before its alert reaches the client, so this normally succeeds
// on the first look.
func (b *logBuffer) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if strings.Contains(b.String(), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server log lacks %q; log:\n%s", want, b.String())
		}
		time.Sleep(5 * time.Millisecond) // polling interval, bounded by the deadline
	}
}

// healthService is the standard health service whose handlers record the
// caller identity the interceptors put in the context.
type healthService struct {
	healthpb.UnimplementedHealthServer
	seen chan *identity.Identity
}

func (h *healthService) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	id, _ := transport.IdentityFromContext(ctx)
	h.seen <- id
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func (h *healthService) Watch(_ *healthpb.HealthCheckRequest, stream grpc.ServerStreamingServer[healthpb.HealthCheckResponse]) error {
	id, _ := transport.IdentityFromContext(stream.Context())
	h.seen <- id
	return stream.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING})
}

type server struct {
	addr   string
	trust  *transport.TrustSource
	log    *logBuffer
	health *healthService
}

// startServer serves the health service with mutual TLS on 127.0.0.1.
func startServer(t *testing.T, cred *testpki.Credential, trust *transport.TrustSource, optionalClientCert bool, opts ...transport.Option) *server {
	t.Helper()
	s := &server{trust: trust, log: &logBuffer{}, health: &healthService{seen: make(chan *identity.Identity, 16)}}
	logger := slog.New(slog.NewTextHandler(s.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var cfg *tls.Config
	if optionalClientCert {
		cfg = transport.RequestClientCertTLSConfig(cred.TLS, trust, logger, pki.RolePeer, pki.RoleOrderer, pki.RoleClient)
	} else {
		cfg = transport.ServerTLSConfig(cred.TLS, trust, logger, pki.RolePeer, pki.RoleOrderer)
	}
	srv := transport.NewGRPCServer(cfg, trust, append([]transport.Option{transport.WithLogger(logger)}, opts...)...)
	healthpb.RegisterHealthServer(srv, s.health)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = lis.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return s
}

func dial(t *testing.T, addr string, cfg *tls.Config) (*grpc.ClientConn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := transport.Dial(ctx, addr, cfg)
	if err == nil {
		t.Cleanup(func() { conn.Close() })
	}
	return conn, err
}

func check(conn *grpc.ClientConn) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}

// TestRefusalMatrix: a real gRPC server with mutual TLS refuses each bad
// client certificate, logging why, and accepts a valid one whose identity
// its handler sees.
func TestRefusalMatrix(t *testing.T) {
	c := testpki.NewConsortium(t, "Org1MSP", "Org2MSP")
	org1, org2 := c.Member("Org1MSP"), c.Member("Org2MSP")
	stranger := testpki.NewConsortium(t, "Org2MSP").Member("Org2MSP")

	serverCred := org1.Issue(pki.RolePeer, "peer0", nil)
	valid := org2.Issue(pki.RolePeer, "peer0", map[string]string{"zone": "east"})
	expired := org2.Issue(pki.RolePeer, "peer-old", nil, testpki.Options{Now: time.Now().Add(-48 * time.Hour), Validity: time.Hour})
	revoked := org2.Issue(pki.RolePeer, "peer-revoked", nil)
	org2.Revoke(revoked.Cert)
	client := org2.Issue(pki.RoleClient, "user0", nil)
	unknownCA := stranger.Issue(pki.RolePeer, "peer0", nil)

	// Issued by Org1's CA, but its subject claims Org2MSP.
	key, err := pki.GenerateKey(pki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := pki.RandomSerial()
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "peer9", Organization: []string{"Org2MSP"}, OrganizationalUnit: []string{"peer"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     []string{"localhost"},
	}, org1.CA.Cert, key.Public(), org1.CA.Signer)
	if err != nil {
		t.Fatal(err)
	}
	impostorCert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	impostor := org1.Credential(impostorCert, key)

	trust := transport.NewTrustSource(c.Manager()) // includes Org2's CRL
	srv := startServer(t, serverCred, trust, false)

	refusals := []struct {
		name string
		cert tls.Certificate
		log  string
	}{
		{"no client certificate", tls.Certificate{}, "tls: refused client: no client certificate"},
		{"unknown CA", unknownCA.TLS, "tls: refused client: certificate does not chain to Org2MSP's CA"},
		{"expired", expired.TLS, "tls: refused client: certificate expired at"},
		{"revoked", revoked.TLS, "tls: refused client: certificate revoked by Org2MSP CRL (serial " + revoked.Cert.SerialNumber.Text(16) + ")"},
		{"client where a peer is required", client.TLS, "tls: refused client: role client not allowed (want peer, orderer)"},
		{"member A claiming member B", impostor.TLS, "tls: refused client: certificate claims Org2MSP but chains to Org1MSP"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			cfg := transport.ClientTLSConfig(tc.cert, trust, pki.RolePeer)
			conn, err := dial(t, srv.addr, cfg)
			if err == nil {
				// Dial cannot fail before the server's verdict arrives;
				// the first call must.
				err = check(conn)
			}
			if err == nil {
				t.Fatal("connection accepted")
			}
			t.Logf("client sees: %v", err)
			srv.log.waitFor(t, tc.log)
		})
	}
	if got := strings.Count(srv.log.String(), "tls: refused client"); got != len(refusals) {
		t.Errorf("%d refusals logged; want %d", got, len(refusals))
	}
	// No private key material ever reaches the log.
	if strings.Contains(srv.log.String(), "PRIVATE KEY") {
		t.Fatal("log holds key material")
	}

	t.Run("valid peer", func(t *testing.T) {
		conn, err := dial(t, srv.addr, transport.ClientTLSConfig(valid.TLS, trust, pki.RolePeer))
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		if err := check(conn); err != nil {
			t.Fatalf("Check: %v", err)
		}
		id := <-srv.health.seen
		if id == nil || id.MSPID() != "Org2MSP" || id.Role() != pki.RolePeer || id.EnrollmentID() != "peer0" {
			t.Fatalf("handler saw identity %v", id)
		}
		if v, _ := id.Attribute("zone"); v != "east" {
			t.Fatalf("attribute zone = %q", v)
		}
		// The stream interceptor does the same.
		stream, err := healthpb.NewHealthClient(conn).Watch(context.Background(), &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); err != nil {
			t.Fatal(err)
		}
		if id := <-srv.health.seen; id == nil || id.EnrollmentID() != "peer0" || id.MSPID() != "Org2MSP" {
			t.Fatalf("stream handler saw identity %v", id)
		}
	})
}
