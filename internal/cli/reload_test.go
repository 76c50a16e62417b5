package cli

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/caserver"
	"github.com/blossom-ledger/blossom/internal/gateway/gatewaytest"
	"github.com/blossom-ledger/blossom/internal/network/nettest"
	"github.com/blossom-ledger/blossom/internal/orderer"
	"github.com/blossom-ledger/blossom/internal/peer"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
	"github.com/blossom-ledger/blossom/internal/transport"
)

// waitForLogCount waits until logs holds want at least n times.
func waitForLogCount(t *testing.T, logs *syncWriter, want string, n int) {
	t.Helper()
	nettest.Eventually(t, 20*time.Second, func() error {
		logs.mu.Lock()
		got := logs.w.String()
		logs.mu.Unlock()
		if strings.Count(got, want) < n {
			return fmt.Errorf("log has %q %d times, want %d", want, strings.Count(got, want), n)
		}
		return nil
	})
}

// presentedCertificate handshakes with the peer at addr and returns the
// certificate it presents.
func presentedCertificate(t *testing.T, addr string, as *testpki.Credential, trust *transport.TrustSource) *x509.Certificate {
	t.Helper()
	cfg := transport.WithServerName(transport.ClientTLSConfig(as.TLS, trust, pki.RolePeer), "127.0.0.1")
	cfg.NextProtos = []string{"h2"}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// startPeerCommand runs `blossom peer` (runPeer, reloading on SIGHUP) in
// dir, on the network's channel, with dir/cert.pem and dir/key.pem; the
// peer stops at cleanup.
func startPeerCommand(t *testing.T, ctx context.Context, net *nettest.Network, dir string) (*peer.Node, *syncWriter) {
	t.Helper()
	if err := orderer.WriteBlockFile(filepath.Join(dir, "blossom.block"), net.Genesis); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf("dataDir: data\nlisten: 127.0.0.1:0\ncert: cert.pem\nkey: key.pem\ngenesisBlock: blossom.block\nchannel: %s\nlogLevel: info\n", net.Channel)
	configPath := filepath.Join(dir, "peer.yaml")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(withSIGHUPReload(ctx))
	started := make(chan *peer.Node, 1)
	done := make(chan error, 1)
	logs := &syncWriter{w: new(bytes.Buffer)}
	go func() { done <- runPeer(runCtx, configPath, logs, func(n *peer.Node) { started <- n }) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("peer stopped with %v", err)
		}
	})
	select {
	case node := <-started:
		return node, logs
	case err := <-done:
		done <- err
		t.Fatalf("peer exited: %v", err)
	case <-ctx.Done():
		t.Fatal("peer did not start")
	}
	return nil, nil
}

func sighup(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

// TestPeerCommandReloadsOnSIGHUP: `blossom peer` rereads its certificate
// and key files on SIGHUP. A key that does not match the certificate is
// refused with a log line and the peer keeps presenting the old
// certificate; a good renewal is taken without a restart.
func TestPeerCommandReloadsOnSIGHUP(t *testing.T) {
	net := nettest.Start(t, nettest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	org := net.PKI.Member("Org1MSP")
	dir := t.TempDir()
	old := org.Issue(pki.RolePeer, "peer1", nil)
	keyPath, certPath := old.WriteFiles(t, dir)
	node, logs := startPeerCommand(t, ctx, net, dir)
	addr := node.Addr().String()
	user := net.Members[1].User

	// The CA's renewal, but with a key that is not the certificate's (as if
	// the signal came between writing key.pem and cert.pem).
	renewed := org.Issue(pki.RolePeer, "peer1", nil)
	stray := org.Issue(pki.RolePeer, "peer1", nil)
	_, renewedCert := renewed.WriteFiles(t, t.TempDir())
	strayKey, _ := stray.WriteFiles(t, t.TempDir())
	install := func(key, cert string) {
		t.Helper()
		for _, f := range [][2]string{{key, keyPath}, {cert, certPath}} {
			if err := os.Rename(f[0], f[1]); err != nil {
				t.Fatal(err)
			}
		}
	}
	install(strayKey, renewedCert)
	sighup(t)
	waitForLogCount(t, logs, "certificate reload refused; keeping the current certificate", 1)
	if got := presentedCertificate(t, addr, user, net.Trust); !got.Equal(old.Cert) || !node.Certificate().Equal(old.Cert) {
		t.Fatalf("after a refused reload the peer presents serial %s", got.SerialNumber)
	}

	// The matching key: taken.
	install(renewed.WriteFiles(t, t.TempDir()))
	sighup(t)
	waitForLogCount(t, logs, "msg=\"certificate reloaded\"", 1)
	if got := presentedCertificate(t, addr, user, net.Trust); !got.Equal(renewed.Cert) || !node.Certificate().Equal(renewed.Cert) {
		t.Fatalf("after the reload the peer presents serial %s, want %s", got.SerialNumber, renewed.Cert.SerialNumber)
	}
}

// TestReenrollThenSIGHUP is the operator's rotation: a peer enrolled with
// the member's real CA runs; `blossom ca reenroll --out` its own directory
// writes a new key and certificate, and SIGHUP makes the running peer
// present them.
func TestReenrollThenSIGHUP(t *testing.T) {
	gw := gatewaytest.Start(t, gatewaytest.Options{})
	ca := gw.CA
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	reg, err := ca.Admin.Register(ctx, caserver.RegisterRequest{EnrollmentID: "peer7", Type: "peer", Hosts: []string{"localhost", "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	enrolled := ca.Enroll("peer7", reg.Secret)
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certPath, pki.EncodeCertificatePEM(enrolled.Leaf.Raw), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := pki.WritePrivateKeyFile(keyPath, enrolled.PrivateKey.(crypto.Signer)); err != nil {
		t.Fatal(err)
	}
	chainPath := filepath.Join(t.TempDir(), "ca-chain.pem")
	if err := os.WriteFile(chainPath, append(pki.EncodeCertificatePEM(ca.Inter.Raw), pki.EncodeCertificatePEM(ca.Root.Raw)...), 0o644); err != nil {
		t.Fatal(err)
	}
	node, logs := startPeerCommand(t, ctx, gw.Net, dir)
	user := gw.Net.Members[1].User
	caTrust := transport.NewTrustSource(ca.Manager()) // the peer's certificates chain to the member CA
	if got := presentedCertificate(t, node.Addr().String(), user, caTrust); !got.Equal(enrolled.Leaf) {
		t.Fatalf("the peer presents serial %s, not its enrolled certificate", got.SerialNumber)
	}

	code, stdout, stderr := runMain("ca", "reenroll", "--url", ca.URL, "--cacert", chainPath, "--cert", certPath, "--key", keyPath, "--out", dir)
	if code != 0 {
		t.Fatalf("reenroll: exit %d %s %s", code, stdout, stderr)
	}
	renewed, err := pki.ReadCertificateFile(certPath)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(keyPath); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("reenrolled key file: %v %v", info.Mode(), err)
	}
	if renewed.Equal(enrolled.Leaf) {
		t.Fatal("reenroll wrote the same certificate")
	}
	sighup(t)
	waitForLogCount(t, logs, "msg=\"certificate reloaded\"", 1)
	if got := presentedCertificate(t, node.Addr().String(), user, caTrust); !got.Equal(renewed) || !node.Certificate().Equal(renewed) {
		t.Fatalf("after reenroll and SIGHUP the peer presents serial %s, want %s", got.SerialNumber, renewed.SerialNumber)
	}
}
