// Package bindingtest runs a real member CA server (internal/caserver) over
// HTTPS on loopback for tests, with a registrar identity of the rights a
// gateway needs (register client and admin users with blossom.role, revoke),
// as caserver's own tests bootstrap one.
package bindingtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/caserver"
	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/pki"
)

// CA is a running member CA.
type CA struct {
	MSPID         string
	URL           string
	Dir           string
	Pool          *x509.CertPool // the CA chain (intermediate and root)
	Root          *x509.Certificate
	Inter         *x509.Certificate
	Server        *caserver.Server
	Admin         *caserver.Client // the bootstrap registrar
	Gateway       *caserver.Client // the gateway's registrar: client/admin users, blossom.role, revoke
	RegistrarCert *tls.Certificate // the gateway registrar's credential
	t             testing.TB
}

// Start installs a fresh member CA for mspID in a temporary directory and
// serves it until the test ends. Its log goes to logs (nil: discarded).
func Start(t testing.TB, mspID string, logs io.Writer) *CA {
	t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rootDir, dir := t.TempDir(), t.TempDir()
	root, err := caserver.InitRoot(rootDir, caserver.RootOptions{Name: "test root"})
	if err != nil {
		t.Fatal(err)
	}
	csr, err := caserver.Init(dir, mspID, pki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := caserver.SignIntermediateCSR(rootDir, csr, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := caserver.Install(dir, certPEM, pki.EncodeCertificatePEM(root.Raw), caserver.InstallOptions{Logger: logger}); err != nil {
		t.Fatal(err)
	}
	pool, err := caserver.LoadCertPool(filepath.Join(dir, caserver.ChainFile))
	if err != nil {
		t.Fatal(err)
	}
	inter, err := pki.ReadCertificateFile(filepath.Join(dir, "ca-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := caserver.Open(caserver.Config{Dir: dir, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	ca := &CA{MSPID: mspID, URL: "https://" + ln.Addr().String(), Dir: dir, Pool: pool, Root: root, Inter: inter, Server: srv, t: t}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("bindingtest: CA Serve: %v", err)
		}
		if err := srv.Close(); err != nil {
			t.Errorf("bindingtest: CA Close: %v", err)
		}
	})
	secret, err := caserver.ReadSecretFile(filepath.Join(dir, caserver.BootstrapSecretFile))
	if err != nil {
		t.Fatal(err)
	}
	adminCred := ca.Enroll(caserver.BootstrapRegistrar, secret)
	ca.Admin = ca.Client(adminCred)
	reg, err := ca.Admin.Register(context.Background(), caserver.RegisterRequest{
		EnrollmentID: "gateway-registrar", Type: "client",
		Attributes: map[string]string{
			caserver.AttrRegistrarRoles:      "client,admin",
			caserver.AttrRegistrarAttributes: pki.RoleAttribute,
			caserver.AttrRevoker:             "true",
		},
	})
	if err != nil {
		t.Fatalf("bindingtest: register the gateway registrar: %v", err)
	}
	ca.RegistrarCert = ca.Enroll("gateway-registrar", reg.Secret)
	ca.Gateway = ca.Client(ca.RegistrarCert)
	return ca
}

// Client returns a client of the CA presenting cred (nil: none).
func (ca *CA) Client(cred *tls.Certificate) *caserver.Client {
	ca.t.Helper()
	c, err := caserver.NewClient(caserver.ClientConfig{URL: ca.URL, RootCAs: ca.Pool, Certificate: cred, Timeout: 20 * time.Second})
	if err != nil {
		ca.t.Fatal(err)
	}
	ca.t.Cleanup(c.Close)
	return c
}

// Enroll enrolls id with secret under a fresh P-256 key.
func (ca *CA) Enroll(id, secret string) *tls.Certificate {
	ca.t.Helper()
	key, err := pki.GenerateKey(pki.ECDSAP256)
	if err != nil {
		ca.t.Fatal(err)
	}
	csr, err := caserver.NewCSR(key, id)
	if err != nil {
		ca.t.Fatal(err)
	}
	resp, err := ca.Client(nil).Enroll(context.Background(), caserver.EnrollRequest{EnrollmentID: id, Secret: secret, CSR: csr})
	if err != nil {
		ca.t.Fatalf("bindingtest: enroll %s: %v", id, err)
	}
	certs, err := pki.ParseCertificatesPEM([]byte(resp.Certificate))
	if err != nil {
		ca.t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{certs[0].Raw, ca.Inter.Raw}, PrivateKey: key, Leaf: certs[0]}
}

// RegisterAndEnroll registers and enrolls a client user with a role.
func (ca *CA) RegisterAndEnroll(id, role string) *tls.Certificate {
	ca.t.Helper()
	var attrs map[string]string
	if role != "" {
		attrs = map[string]string{pki.RoleAttribute: role}
	}
	reg, err := ca.Admin.Register(context.Background(), caserver.RegisterRequest{EnrollmentID: id, Type: "client", Attributes: attrs})
	if err != nil {
		ca.t.Fatalf("bindingtest: register %s: %v", id, err)
	}
	return ca.Enroll(id, reg.Secret)
}

// EnrollmentIDs lists every registration of the CA.
func (ca *CA) EnrollmentIDs() []string {
	ca.t.Helper()
	var ids []string
	after := ""
	for {
		page, err := ca.Admin.Identities(context.Background(), after, 0)
		if err != nil {
			ca.t.Fatal(err)
		}
		for _, id := range page.Identities {
			ids = append(ids, id.EnrollmentID)
		}
		if page.Next == "" {
			return ids
		}
		after = page.Next
	}
}

// Manager returns an identity.Manager for this member with its current
// CRL (fetched from the server).
func (ca *CA) Manager() *identity.Manager {
	ca.t.Helper()
	resp, err := ca.Admin.CRL(context.Background())
	if err != nil {
		ca.t.Fatal(err)
	}
	cfg := identity.MSPConfig{ID: ca.MSPID, RootCerts: []*x509.Certificate{ca.Root}, IntermediateCerts: []*x509.Certificate{ca.Inter}}
	if crl := ParseCRLPEM(ca.t, resp.CRL); crl != nil {
		cfg.CRLs = []*x509.RevocationList{crl}
	}
	mgr, err := identity.NewManager([]identity.MSPConfig{cfg})
	if err != nil {
		ca.t.Fatal(err)
	}
	return mgr
}

// ParseCRLPEM parses a PEM CRL ("" gives nil).
func ParseCRLPEM(t testing.TB, s string) *x509.RevocationList {
	t.Helper()
	if strings.TrimSpace(s) == "" {
		return nil
	}
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		t.Fatal("bindingtest: CRL is not PEM")
	}
	crl, err := x509.ParseRevocationList(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return crl
}
