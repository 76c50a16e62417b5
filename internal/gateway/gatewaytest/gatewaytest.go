// Package gatewaytest runs a member's gateway for tests: a nettest network
// (three members), a real member CA (bindingtest) whose certificates the
// channel accepts for the first member, a binding table, an encrypted
// wallet, the auth middleware and the gateway itself, served over HTTPS on
// 127.0.0.1 with a loopback server certificate. The gateway, CLI and
// benchmark tests share it.
package gatewaytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/client"
	"github.com/blossom-ledger/blossom/internal/gateway"
	"github.com/blossom-ledger/blossom/internal/gateway/auth"
	"github.com/blossom-ledger/blossom/internal/gateway/binding"
	"github.com/blossom-ledger/blossom/internal/gateway/binding/bindingtest"
	"github.com/blossom-ledger/blossom/internal/gateway/oidcprovider/oidctest"
	"github.com/blossom-ledger/blossom/internal/gateway/wallet"
	"github.com/blossom-ledger/blossom/internal/network/nettest"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
	"github.com/blossom-ledger/blossom/internal/transport"
)

// Options shape a test gateway.
type Options struct {
	// Bearer returns the bearer verifiers, given an HTTP client that
	// trusts TLS (nil: no bearer tokens).
	Bearer func(httpClient *http.Client) []*auth.BearerVerifier
	// TLS is the server certificate of the gateway (nil: a fresh one).
	TLS *oidctest.TLS
	// Gateway adjusts the gateway's configuration before New.
	Gateway func(*gateway.Config)
	// Network options (Mutate is chained after the CA's).
	Network nettest.Options
}

// Gateway is a running test gateway for the first member ("Org1MSP").
type Gateway struct {
	URL     string
	Net     *nettest.Network
	TLS     *oidctest.TLS
	CA      *bindingtest.CA
	Binder  *binding.Service
	Wallet  *wallet.Wallet
	Gateway *gateway.Gateway
	Client  *client.Client
	Logs    *Buffer
}

// Buffer collects log output from many goroutines.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// MSPID is the member whose gateway runs.
const MSPID = "Org1MSP"

// Start starts the network and the gateway; everything stops at cleanup.
func Start(t testing.TB, opts Options) *Gateway {
	t.Helper()
	logs := &Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	x := opts.TLS
	if x == nil {
		x = oidctest.NewTLS(t)
	}
	ca := bindingtest.Start(t, MSPID, logs)
	netOpts := opts.Network
	userMutate := netOpts.Mutate
	netOpts.Mutate = func(cc *pb.ChannelConfig) {
		// The member CA's users act on the channel as Org1MSP.
		m := cc.Members[MSPID]
		m.RootCerts = append(m.RootCerts, ca.Root.Raw)
		m.IntermediateCerts = append(m.IntermediateCerts, ca.Inter.Raw)
		if userMutate != nil {
			userMutate(cc)
		}
	}
	n := nettest.Start(t, netOpts)

	w, binder := WalletAndBinder(t, ca, MSPID, logger)
	authCfg := auth.Config{MSPID: MSPID, Binder: binder, Trust: n.Trust, Logger: logger}
	if opts.Bearer != nil {
		authCfg.Bearer = opts.Bearer(x.HTTPClient())
	}
	authn, err := auth.New(authCfg)
	if err != nil {
		t.Fatal(err)
	}
	// The gateway reaches the peers with a gateway-role identity.
	gwCred := n.PKI.Member(MSPID).Issue(pki.RoleClient, "gateway0", nil)
	cl := n.ConnectClient(t, n.ClientConfig(0, gwCred))
	members := map[string][]string{}
	for _, m := range n.Members {
		members[m.MSPID] = []string{m.PeerName()}
	}
	cfg := gateway.Config{
		MSPID: MSPID, Client: cl, Members: members, Authenticate: authn.Authenticate,
		Signers: w.Signer, Logger: logger, RateLimit: -1, Active: authn.Active, Binder: binder,
	}
	if opts.Gateway != nil {
		opts.Gateway(&cfg)
	}
	gw, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	Serve(t, gw, ln, x.Cert, n.Trust, logger)
	return &Gateway{URL: "https://" + ln.Addr().String(), Net: n, TLS: x, CA: ca, Binder: binder, Wallet: w,
		Gateway: gw, Client: cl, Logs: logs}
}

// Serve serves gw over HTTPS on ln (the server certificate cert, client
// certificates verified against trust) until the test ends.
func Serve(t testing.TB, gw *gateway.Gateway, ln net.Listener, cert tls.Certificate, trust *transport.TrustSource, logger *slog.Logger) {
	t.Helper()
	srv := gateway.NewServer(gw, logger)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(tls.NewListener(ln, gateway.TLSConfig(cert, trust, logger))) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("gateway Serve: %v", err)
		}
	})
}

// WalletAndBinder opens an encrypted wallet (fresh AES key) and a binding
// table enrolling mspID's users at ca, both closed at cleanup.
func WalletAndBinder(t testing.TB, ca *bindingtest.CA, mspID string, logger *slog.Logger) (*wallet.Wallet, *binding.Service) {
	t.Helper()
	kek := make([]byte, wallet.KEKSize)
	if _, err := rand.Read(kek); err != nil {
		t.Fatal(err)
	}
	aes, err := wallet.NewAESKEK(kek)
	if err != nil {
		t.Fatal(err)
	}
	w, err := wallet.Open(t.TempDir(), aes, wallet.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	binder, err := binding.Open(binding.Config{Dir: t.TempDir(), CA: ca.Gateway, Wallet: w, MSPID: mspID, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { binder.Close() })
	return w, binder
}

// AppCredential issues a client certificate of the first member with the
// given blossom.role ("" for none), for client-signed calls.
func (g *Gateway) AppCredential(t testing.TB, enrollmentID, role string) *testpki.Credential {
	t.Helper()
	var attrs map[string]string
	if role != "" {
		attrs = map[string]string{pki.RoleAttribute: role}
	}
	return g.Net.PKI.Member(MSPID).Issue(pki.RoleClient, enrollmentID, attrs)
}

// HTTPClient returns a client that trusts the gateway, presenting cert if
// not nil.
func (g *Gateway) HTTPClient(cert *tls.Certificate) *http.Client {
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: g.TLS.Pool}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 60 * time.Second}
}
