package peer_test

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/network/nettest"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/transport"
	"github.com/blossom-ledger/blossom/internal/txn"
)

// serverCertificate handshakes with addr over mutual TLS as the client
// certificate cert and returns the certificate the server presented.
func serverCertificate(t *testing.T, addr string, cert tls.Certificate, trust *transport.TrustSource) *x509.Certificate {
	t.Helper()
	cfg := transport.WithServerName(transport.ClientTLSConfig(cert, trust, pki.RolePeer), "127.0.0.1")
	cfg.NextProtos = []string{"h2"}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		t.Fatalf("handshake with %s: %v", addr, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// TestPeerCertificateReload: a running peer of a real network (mutual TLS,
// Raft orderers) takes a renewed certificate without a restart: new
// handshakes see it, a client's connection opened before keeps working,
// its endorsements carry the new certificate and commit valid. A
// certificate whose key does not match is refused and the old one stays.
func TestPeerCertificateReload(t *testing.T) {
	net := nettest.Start(t, nettest.Options{})
	cl := net.Client(t, 0)
	ctx := testContext(t, 60*time.Second)
	peers := net.PeerNames(0, 1, 2)
	if res, err := cl.Submit(ctx, put("before", "1"), peers); err != nil || res.Code != pb.TxValidationCode_VALID {
		t.Fatalf("submit before the reload: %+v %v", res, err)
	}

	m := net.Members[0]
	node := net.Peer(0)
	old := m.PeerCred
	org := net.PKI.Member(m.MSPID)
	if got := serverCertificate(t, m.PeerAddr, m.User.TLS, net.Trust); !got.Equal(old.Cert) {
		t.Fatalf("before the reload the peer presents serial %s", got.SerialNumber)
	}

	// A certificate with another key is refused; nothing changes.
	renewed := org.Issue(pki.RolePeer, old.Cert.Subject.CommonName, nil)
	mismatched := renewed.TLS
	mismatched.PrivateKey = org.Issue(pki.RolePeer, old.Cert.Subject.CommonName, nil).Key
	if err := node.ReloadCertificate(mismatched); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("reload with a mismatched key: %v", err)
	}
	if !node.Certificate().Equal(old.Cert) {
		t.Fatal("a refused certificate replaced the peer's")
	}
	if got := serverCertificate(t, m.PeerAddr, m.User.TLS, net.Trust); !got.Equal(old.Cert) {
		t.Fatalf("after a refused reload the peer presents serial %s", got.SerialNumber)
	}

	if err := node.ReloadCertificate(renewed.TLS); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if got := serverCertificate(t, m.PeerAddr, m.User.TLS, net.Trust); !got.Equal(renewed.Cert) {
		t.Fatalf("after the reload the peer presents serial %s, want %s", got.SerialNumber, renewed.Cert.SerialNumber)
	}

	// The client's connection from before the reload endorses with the new
	// certificate, and the transaction validates on every peer.
	prop, err := cl.NewProposal(put("after", "2"))
	if err != nil {
		t.Fatal(err)
	}
	responses, err := cl.Endorse(ctx, prop, peers)
	if err != nil {
		t.Fatalf("endorse after the reload: %v", err)
	}
	endorser, err := protocol.ParseSerializedIdentity(responses[0].Endorsement.Endorser)
	if err != nil {
		t.Fatal(err)
	}
	if peers[0] != m.PeerName() || string(endorser.CertDer) != string(renewed.Cert.Raw) {
		t.Fatalf("endorsement of %s signed under serial %x, want the renewed certificate", peers[0], endorser.CertDer[:8])
	}
	env, err := txn.Assemble(m.User.Signer, prop, responses)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Broadcast(ctx, env); err != nil {
		t.Fatal(err)
	}
	res, err := cl.WaitForCommit(ctx, "", prop.TxID)
	if err != nil || res.Code != pb.TxValidationCode_VALID {
		t.Fatalf("transaction endorsed after the reload: %+v %v", res, err)
	}
	sameLedgers(t, net)
}
