package identity_test

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
)

// craft issues a certificate from m's CA built from a pki-like template
// that mutate may change, to produce certificates pki.CA.Issue refuses to.
func craft(t testing.TB, m *testpki.Member, key crypto.Signer, mutate func(*x509.Certificate)) *x509.Certificate {
	t.Helper()
	serial, err := pki.RandomSerial()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:         "crafted",
			Organization:       []string{m.ID},
			OrganizationalUnit: []string{string(pki.RolePeer)},
		},
		NotBefore:   now.Add(-time.Hour),
		NotAfter:    now.Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:    []string{"localhost"},
	}
	if mutate != nil {
		mutate(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, m.CA.Cert, key.Public(), m.CA.Signer)
	if err != nil {
		t.Fatalf("craft certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse crafted certificate: %v", err)
	}
	return cert
}

func newKey(t testing.TB, alg pki.KeyAlgorithm) crypto.Signer {
	t.Helper()
	key, err := pki.GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return key
}
