package transport_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
	"github.com/blossom-ledger/blossom/internal/transport"
)

// TestHotReload: revoking a certificate and updating the trust source
// refuses the next handshake with it, and the next call on a connection
// opened before, without restarting the server; adding a member admits
// its nodes the same way.
func TestHotReload(t *testing.T) {
	c := testpki.NewConsortium(t, "Org1MSP", "Org2MSP")
	org1, org2 := c.Member("Org1MSP"), c.Member("Org2MSP")
	trust := transport.NewTrustSource(c.Manager())
	srv := startServer(t, org1.Issue(pki.RolePeer, "peer0", nil), trust, false)

	peer := org2.Issue(pki.RolePeer, "peer1", nil)
	cfg := transport.ClientTLSConfig(peer.TLS, trust, pki.RolePeer)
	old, err := dial(t, srv.addr, cfg)
	if err != nil {
		t.Fatalf("before revocation: %v", err)
	}
	if err := check(old); err != nil {
		t.Fatalf("before revocation: %v", err)
	}
	<-srv.health.seen

	org2.Revoke(peer.Cert)
	trust.Update(c.Manager())

	// The open connection's next call is refused by the interceptor.
	err = check(old)
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "certificate revoked by Org2MSP CRL") {
		t.Fatalf("call on the old connection: %v; want Unauthenticated, revoked", err)
	}
	srv.log.waitFor(t, "grpc: refused call: certificate revoked by Org2MSP CRL")

	// A new handshake is refused.
	if conn, err := dial(t, srv.addr, cfg); err == nil {
		if err := check(conn); err == nil {
			t.Fatal("revoked certificate accepted after the trust update")
		}
	}
	srv.log.waitFor(t, "tls: refused client: certificate revoked by Org2MSP CRL")

	// Another Org2 peer still gets in.
	other := org2.Issue(pki.RolePeer, "peer2", nil)
	conn, err := dial(t, srv.addr, transport.ClientTLSConfig(other.TLS, trust, pki.RolePeer))
	if err != nil {
		t.Fatal(err)
	}
	if err := check(conn); err != nil {
		t.Fatal(err)
	}
	<-srv.health.seen

	// A new member is admitted once the trust source knows it.
	org3 := c.AddMember("Org3MSP")
	newcomer := org3.Issue(pki.RolePeer, "peer0", nil)
	if conn, err := dial(t, srv.addr, transport.ClientTLSConfig(newcomer.TLS, trust, pki.RolePeer)); err == nil {
		if err := check(conn); err == nil {
			t.Fatal("unknown member accepted")
		}
	}
	srv.log.waitFor(t, "Org3MSP, which is not a member")
	trust.Update(c.Manager())
	conn, err = dial(t, srv.addr, transport.ClientTLSConfig(newcomer.TLS, trust, pki.RolePeer))
	if err != nil {
		t.Fatalf("new member after update: %v", err)
	}
	if err := check(conn); err != nil {
		t.Fatalf("new member after update: %v", err)
	}
	if id := <-srv.health.seen; id.MSPID() != "Org3MSP" {
		t.Fatalf("identity %v", id)
	}
}

// TestClientVerifiesServer: the client refuses a server whose certificate
// is not a valid node certificate of a member, has the wrong role, is
// revoked, or does not name the host dialled.
func TestClientVerifiesServer(t *testing.T) {
	c := testpki.NewConsortium(t, "Org1MSP", "Org2MSP")
	org1 := c.Member("Org1MSP")
	clientCred := c.Member("Org2MSP").Issue(pki.RolePeer, "peer0", nil)
	stranger := testpki.NewConsortium(t, "Org1MSP").Member("Org1MSP")
	revoked := org1.Issue(pki.RolePeer, "peer-revoked", nil)
	org1.Revoke(revoked.Cert)
	mgr := c.Manager()

	tests := []struct {
		name   string
		server *testpki.Credential
		roles  []pki.Role
		want   string // in the client's error; "" for success
	}{
		{"valid peer", org1.Issue(pki.RolePeer, "peer0", nil), []pki.Role{pki.RolePeer}, ""},
		{"user certificate as server", org1.Issue(pki.RoleAdmin, "admin0", nil), []pki.Role{pki.RolePeer, pki.RoleAdmin}, "not valid for TLS server authentication"},
		{"wrong role", org1.Issue(pki.RoleOrderer, "orderer0", nil), []pki.Role{pki.RolePeer}, "role orderer not allowed (want peer)"},
		{"revoked", revoked, []pki.Role{pki.RolePeer}, "certificate revoked by Org1MSP CRL"},
		{"unknown CA", stranger.Issue(pki.RolePeer, "peer0", nil), []pki.Role{pki.RolePeer}, "does not chain to Org1MSP's CA"},
		{"other host", org1.Issue(pki.RolePeer, "peer5", nil, testpki.Options{DNSNames: []string{"peer5.org1.example"}, IPAddresses: []net.IP{}}), []pki.Role{pki.RolePeer}, "doesn't contain any IP SANs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The server trusts everyone involved, so only the client can refuse.
			serverTrust := transport.NewTrustSource(mgr)
			srv := startServer(t, tc.server, serverTrust, false)
			conn, err := dial(t, srv.addr, transport.ClientTLSConfig(clientCred.TLS, transport.NewTrustSource(mgr), tc.roles...))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				if err := check(conn); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "tls: refused server") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Dial error = %v; want refusal with %q", err, tc.want)
			}
		})
	}
}

// TestDialByHostName: SNI carries a host name, and the certificate's DNS
// SAN matches it.
func TestDialByHostName(t *testing.T) {
	c := testpki.NewConsortium(t, "Org1MSP")
	org1 := c.Member("Org1MSP")
	trust := transport.NewTrustSource(c.Manager())
	srv := startServer(t, org1.Issue(pki.RolePeer, "peer0", nil), trust, false)
	_, port, _ := net.SplitHostPort(srv.addr)
	conn, err := dial(t, net.JoinHostPort("localhost", port), transport.ClientTLSConfig(org1.Issue(pki.RoleOrderer, "o0", nil).TLS, trust, pki.RolePeer))
	if err != nil {
		// localhost may resolve to ::1 first where nothing listens; the
		// dialler then tries 127.0.0.1.
		t.Fatalf("Dial localhost: %v", err)
	}
	if err := check(conn); err != nil {
		t.Fatal(err)
	}
}

// TestOptionalClientCertificate: with RequestClientCertTLSConfig a client
// without a certificate gets in without identity, a valid certificate gives
// an identity, and an invalid one is refused.
func TestOptionalClientCertificate(t *testing.T) {
	c := testpki.NewConsortium(t, "Org1MSP")
	org1 := c.Member("Org1MSP")
	trust := transport.NewTrustSource(c.Manager())
	srv := startServer(t, org1.Issue(pki.RoleGateway, "gw0", nil), trust, true)

	anon, err := dial(t, srv.addr, transport.ClientTLSConfig(tls.Certificate{}, trust, pki.RoleGateway))
	if err != nil {
		t.Fatalf("anonymous: %v", err)
	}
	if err := check(anon); err != nil {
		t.Fatalf("anonymous: %v", err)
	}
	if id := <-srv.health.seen; id != nil {
		t.Fatalf("anonymous caller has identity %v", id)
	}

	user := org1.Issue(pki.RoleClient, "user0", nil)
	conn, err := dial(t, srv.addr, transport.ClientTLSConfig(user.TLS, trust, pki.RoleGateway))
	if err != nil {
		t.Fatal(err)
	}
	if err := check(conn); err != nil {
		t.Fatal(err)
	}
	if id := <-srv.health.seen; id == nil || id.EnrollmentID() != "user0" {
		t.Fatalf("identity %v", id)
	}

	admin := org1.Issue(pki.RoleAdmin, "admin0", nil) // role not allowed on this listener
	if conn, err := dial(t, srv.addr, transport.ClientTLSConfig(admin.TLS, trust, pki.RoleGateway)); err == nil {
		if err := check(conn); err == nil {
			t.Fatal("admin accepted")
		}
	}
	srv.log.waitFor(t, "tls: refused client: role admin not allowed (want client, peer, orderer)")
}

// TestMaxMessageSize: messages over the configured size are refused.
func TestMaxMessageSize(t *testing.T) {
	c := testpki.NewConsortium(t, "Org1MSP")
	org1 := c.Member("Org1MSP")
	trust := transport.NewTrustSource(c.Manager())
	srv := startServer(t, org1.Issue(pki.RolePeer, "peer0", nil), trust, false, transport.WithMaxMessageSize(1024))
	conn, err := dial(t, srv.addr, transport.ClientTLSConfig(org1.Issue(pki.RolePeer, "peer1", nil).TLS, trust, pki.RolePeer))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: strings.Repeat("x", 4096)})
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("oversized request: %v; want ResourceExhausted", err)
	}
	if err := check(conn); err != nil {
		t.Fatalf("normal request after: %v", err)
	}
}

// TestRawTLSByIP: outside gRPC, a ClientTLSConfig dialled at an IP address
// needs WithServerName, since SNI carries no IP.
func TestRawTLSByIP(t *testing.T) {
	c := testpki.NewConsortium(t, "Org1MSP")
	org1 := c.Member("Org1MSP")
	trust := transport.NewTrustSource(c.Manager())
	serverCfg := transport.ServerTLSConfig(org1.Issue(pki.RoleOrderer, "o0", nil).TLS, trust, nil, pki.RoleOrderer)
	lis, err := tls.Listen("tcp", "127.0.0.1:0", serverCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	go func() {
		for {
			conn, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				if err := conn.(*tls.Conn).Handshake(); err == nil {
					_, _ = conn.Write([]byte("ok"))
				}
			}()
		}
	}()
	clientCfg := transport.ClientTLSConfig(org1.Issue(pki.RoleOrderer, "o1", nil).TLS, trust, pki.RoleOrderer)

	_, err = tls.Dial("tcp", lis.Addr().String(), clientCfg)
	if err == nil || !strings.Contains(err.Error(), "no server name") {
		t.Fatalf("dial by IP without WithServerName: %v", err)
	}
	conn, err := tls.Dial("tcp", lis.Addr().String(), transport.WithServerName(clientCfg, "127.0.0.1"))
	if err != nil {
		t.Fatalf("dial with WithServerName: %v", err)
	}
	defer conn.Close()
	buf := make([]byte, 2)
	if _, err := conn.Read(buf); err != nil || string(buf) != "ok" {
		t.Fatalf("read: %q, %v", buf, err)
	}
	if conn.ConnectionState().Version != tls.VersionTLS13 {
		t.Fatal("not TLS 1.3")
	}
	// TLS 1.2 is refused.
	old := transport.WithServerName(clientCfg, "127.0.0.1")
	old.MinVersion, old.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	if c, err := tls.Dial("tcp", lis.Addr().String(), old); err == nil {
		c.Close()
		t.Fatal("TLS 1.2 accepted")
	}
}

// TestDialFailsFast: nothing listening gives an immediate, explained error.
func TestDialFailsFast(t *testing.T) {
	c := testpki.NewConsortium(t, "Org1MSP")
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	trust := transport.NewTrustSource(c.Manager())
	_, err = dial(t, addr, transport.ClientTLSConfig(tls.Certificate{}, trust, pki.RolePeer))
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Dial to a closed port: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := transport.Dial(ctx, addr, transport.ClientTLSConfig(tls.Certificate{}, trust)); err == nil || !errors.Is(err, context.Canceled) && !strings.Contains(err.Error(), "refused") {
		t.Fatalf("Dial with a cancelled context: %v", err)
	}
}

func TestTrustSource(t *testing.T) {
	c := testpki.NewConsortium(t, "Org1MSP")
	m1 := c.Manager()
	ts := transport.NewTrustSource(m1)
	if ts.Manager() != m1 {
		t.Fatal("Manager")
	}
	m2 := c.Manager()
	ts.Update(m2)
	if ts.Manager() != m2 {
		t.Fatal("Update")
	}
	if id, err := ts.IdentifyTLSClient(nil); id != nil || err != nil {
		t.Fatal("nil connection state")
	}
	cred := c.Member("Org1MSP").Issue(pki.RoleClient, "u", nil)
	id, err := ts.IdentifyTLSClient(&tls.ConnectionState{PeerCertificates: []*x509.Certificate{cred.Cert}})
	if err != nil || id.EnrollmentID() != "u" {
		t.Fatalf("IdentifyTLSClient = %v, %v", id, err)
	}
	ctx := transport.ContextWithIdentity(context.Background(), id)
	if got, ok := transport.IdentityFromContext(ctx); !ok || got != id {
		t.Fatal("context round trip")
	}
	if _, ok := transport.IdentityFromContext(context.Background()); ok {
		t.Fatal("identity in an empty context")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Update(nil) did not panic")
		}
	}()
	ts.Update((*identity.Manager)(nil))
}
