package transport_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
	"github.com/blossom-ledger/blossom/internal/transport"
)

// tlsEcho is a raw mutual-TLS listener that reports, for every accepted
// connection, the certificate the client presented, then echoes lines.
type tlsEcho struct {
	addr    string
	clients chan *x509.Certificate
}

func startTLSEcho(t *testing.T, cfg *tls.Config) *tlsEcho {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &tlsEcho{addr: ln.Addr().String(), clients: make(chan *x509.Certificate, 16)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				tc := conn.(*tls.Conn)
				if err := tc.Handshake(); err != nil {
					return
				}
				e.clients <- tc.ConnectionState().PeerCertificates[0]
				_, _ = io.Copy(conn, conn)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return e
}

// handshake dials e with cfg and returns the connection and the server's
// certificate; it also waits for the client certificate e saw.
func (e *tlsEcho) handshake(t *testing.T, cfg *tls.Config) (conn *tls.Conn, server, client *x509.Certificate) {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", e.addr, transport.WithServerName(cfg, "127.0.0.1"))
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	// TLS 1.3: the server verifies the client's certificate after the
	// client's handshake completes; a round trip proves it accepted it.
	echo(t, conn, "hello")
	select {
	case client = <-e.clients:
	case <-time.After(10 * time.Second):
		t.Fatal("server saw no client certificate")
	}
	return conn, conn.ConnectionState().PeerCertificates[0], client
}

func echo(t *testing.T, conn *tls.Conn, line string) {
	t.Helper()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, line+"\n"); err != nil {
		t.Fatalf("write: %v", err)
	}
	got, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || got != line+"\n" {
		t.Fatalf("echo: %q, %v", got, err)
	}
}

func sameCert(a, b *x509.Certificate) bool { return a.Equal(b) }

// TestCredentialSwap: after Swap, new handshakes present the new
// certificate on both the server and the client side, a connection opened
// before keeps working, and the credential signs with the new key.
func TestCredentialSwap(t *testing.T) {
	c := testpki.NewConsortium(t, "Org1MSP", "Org2MSP")
	org1, org2 := c.Member("Org1MSP"), c.Member("Org2MSP")
	trust := transport.NewTrustSource(c.Manager())
	srvOld, cliOld := org1.Issue(pki.RolePeer, "peer0", nil), org2.Issue(pki.RolePeer, "peer1", nil)
	srvCred, err := transport.NewCredential(srvOld.TLS)
	if err != nil {
		t.Fatal(err)
	}
	cliCred, err := transport.NewCredential(cliOld.TLS)
	if err != nil {
		t.Fatal(err)
	}
	e := startTLSEcho(t, transport.ServerTLSConfigFor(srvCred, trust, nil, pki.RolePeer))
	cliCfg := transport.ClientTLSConfigFor(cliCred, trust, pki.RolePeer)

	before, server, client := e.handshake(t, cliCfg)
	if !sameCert(server, srvOld.Cert) || !sameCert(client, cliOld.Cert) {
		t.Fatalf("before the swap: server %s client %s", server.SerialNumber, client.SerialNumber)
	}

	srvNew, cliNew := org1.Issue(pki.RolePeer, "peer0", nil), org2.Issue(pki.RolePeer, "peer1", nil)
	if err := srvCred.Swap(srvNew.TLS, trust); err != nil {
		t.Fatalf("server swap: %v", err)
	}
	if err := cliCred.Swap(cliNew.TLS, trust); err != nil {
		t.Fatalf("client swap: %v", err)
	}
	_, server, client = e.handshake(t, cliCfg)
	if !sameCert(server, srvNew.Cert) || !sameCert(client, cliNew.Cert) {
		t.Fatalf("after the swap: server %s client %s", server.SerialNumber, client.SerialNumber)
	}
	echo(t, before, "still open") // the connection made before keeps working

	// Signatures: by the new key, under the new certificate, as one pair.
	msg := []byte("endorsement")
	sig, err := srvCred.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	snap := identity.Snapshot(srvCred)
	if !sameCert(snap.Certificate(), srvNew.Cert) || !sameCert(srvCred.Certificate(), srvNew.Cert) {
		t.Fatal("signer still on the old certificate")
	}
	id, err := c.Manager().Check(identity.Request{Cert: srvNew.Cert.Raw, Roles: identity.Roles(pki.RolePeer), Usage: identity.UsageSign, At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := id.Verify(msg, sig); err != nil {
		t.Fatalf("signature after the swap does not verify with the new certificate: %v", err)
	}
}

// TestCredentialSwapRefused: a bad new credential is refused with its
// reason and changes nothing: handshakes still present the old one.
func TestCredentialSwapRefused(t *testing.T) {
	c := testpki.NewConsortium(t, "Org1MSP", "Org2MSP")
	org1, org2 := c.Member("Org1MSP"), c.Member("Org2MSP")
	other := testpki.NewConsortium(t, "Org1MSP").Member("Org1MSP") // same name, another root
	trust := transport.NewTrustSource(c.Manager())
	old := org1.Issue(pki.RolePeer, "peer0", nil)
	revoked := org1.Issue(pki.RolePeer, "peer0", nil)
	org1.Revoke(revoked.Cert)
	trust.Update(c.Manager())

	fresh := org1.Issue(pki.RolePeer, "peer0", nil)
	mismatched := fresh.TLS
	mismatched.PrivateKey = org1.Issue(pki.RolePeer, "peer0", nil).Key
	expired := org1.Issue(pki.RolePeer, "peer0", nil, testpki.Options{Now: time.Now().Add(-72 * time.Hour), Validity: time.Hour})

	tests := []struct {
		name string
		next tls.Certificate
		want string
	}{
		{"key does not match", mismatched, "does not match"},
		{"expired", expired.TLS, "expired"},
		{"other member", org2.Issue(pki.RolePeer, "peer0", nil).TLS, "names member Org2MSP"},
		{"other role", org1.Issue(pki.RoleClient, "peer0", nil).TLS, "role"},
		{"untrusted chain", other.Issue(pki.RolePeer, "peer0", nil).TLS, "refused"},
		{"revoked", revoked.TLS, "revoked"},
		{"no certificate", tls.Certificate{}, "no certificate"},
	}
	cred, err := transport.NewCredential(old.TLS)
	if err != nil {
		t.Fatal(err)
	}
	e := startTLSEcho(t, transport.ServerTLSConfigFor(cred, trust, nil, pki.RolePeer))
	cliCfg := transport.ClientTLSConfig(org2.Issue(pki.RolePeer, "peer1", nil).TLS, trust, pki.RolePeer)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := cred.Swap(tc.next, trust)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "refused") {
				t.Fatalf("Swap: %v; want a refusal naming %q", err, tc.want)
			}
			if !sameCert(cred.Certificate(), old.Cert) {
				t.Fatal("a refused certificate replaced the credential")
			}
			if _, server, _ := e.handshake(t, cliCfg); !sameCert(server, old.Cert) {
				t.Fatalf("after a refused swap the server presents %s", server.SerialNumber)
			}
		})
	}
}

// TestCredentialReloadFiles: Reload reads the files the CA wrote, and
// refuses a key file others may read.
func TestCredentialReloadFiles(t *testing.T) {
	c := testpki.NewConsortium(t, "Org1MSP")
	org1 := c.Member("Org1MSP")
	trust := transport.NewTrustSource(c.Manager())
	old := org1.Issue(pki.RolePeer, "peer0", nil)
	cred, err := transport.NewCredential(old.TLS)
	if err != nil {
		t.Fatal(err)
	}
	next := org1.Issue(pki.RolePeer, "peer0", nil)
	dir := t.TempDir()
	keyPath, certPath := next.WriteFiles(t, dir)

	if err := os.Chmod(keyPath, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cred.Reload(certPath, keyPath, trust); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("reload with a world-readable key: %v", err)
	}
	if !sameCert(cred.Certificate(), old.Cert) {
		t.Fatal("a refused reload replaced the credential")
	}
	if err := os.Chmod(keyPath, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cred.Reload(certPath, keyPath, trust); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if !sameCert(cred.Certificate(), next.Cert) || !sameCert(cred.TLSCertificate().Leaf, next.Cert) {
		t.Fatal("reload did not take the new certificate")
	}
}
