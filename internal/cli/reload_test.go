package cli

import (
	"bytes"
	"context"
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
	if err := orderer.WriteBlockFile(filepath.Join(dir, "blossom.block"), net.Genesis); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf("dataDir: data\nlisten: 127.0.0.1:0\ncert: %s\nkey: %s\ngenesisBlock: blossom.block\nchannel: %s\nlogLevel: info\n",
		filepath.Base(certPath), filepath.Base(keyPath), net.Channel)
	configPath := filepath.Join(dir, "peer.yaml")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(withSIGHUPReload(ctx))
	started := make(chan *peer.Node, 1)
	done := make(chan error, 1)
	logs := &syncWriter{w: new(bytes.Buffer)}
	go func() { done <- runPeer(runCtx, configPath, logs, func(n *peer.Node) { started <- n }) }()
	var node *peer.Node
	select {
	case node = <-started:
	case err := <-done:
		t.Fatalf("peer exited: %v", err)
	case <-ctx.Done():
		t.Fatal("peer did not start")
	}
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
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitForLogCount(t, logs, "certificate reload refused; keeping the current certificate", 1)
	if got := presentedCertificate(t, addr, user, net.Trust); !got.Equal(old.Cert) || !node.Certificate().Equal(old.Cert) {
		t.Fatalf("after a refused reload the peer presents serial %s", got.SerialNumber)
	}

	// The matching key: taken.
	install(renewed.WriteFiles(t, t.TempDir()))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitForLogCount(t, logs, "msg=\"certificate reloaded\"", 1)
	if got := presentedCertificate(t, addr, user, net.Trust); !got.Equal(renewed.Cert) || !node.Certificate().Equal(renewed.Cert) {
		t.Fatalf("after the reload the peer presents serial %s, want %s", got.SerialNumber, renewed.Cert.SerialNumber)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("peer stopped with %v", err)
	}
}
