//go:build cgo

package identity_test

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/testutil/softhsm"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
)

func TestPKCS11Signer(t *testing.T) {
	module := softhsm.NewToken(t)
	t.Setenv("BLOSSOM_TEST_HSM_PIN", "1234")
	cfg := identity.PKCS11Config{ModulePath: module, TokenLabel: "T", PINEnv: "BLOSSOM_TEST_HSM_PIN", KeyLabel: "peer0-signing"}

	key, err := identity.GeneratePKCS11Key(cfg)
	if err != nil {
		t.Fatalf("GeneratePKCS11Key: %v", err)
	}
	// The token key is a crypto.Signer: it signs its own CSR.
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "peer0"}}, key)
	if err != nil {
		t.Fatalf("CSR signed in the token: %v", err)
	}
	parsedCSR, err := pki.ParseCSR(csr)
	if err != nil {
		t.Fatalf("CSR from the token does not verify: %v", err)
	}
	if err := key.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := identity.GeneratePKCS11Key(cfg); err == nil || !strings.Contains(err.Error(), "already holds a key") {
		t.Fatalf("second key with the same label: %v", err)
	}

	c := testpki.NewConsortium(t, "Org1MSP")
	cert, err := c.Member("Org1MSP").CA.Issue(pki.IssueRequest{PublicKey: parsedCSR.PublicKey, EnrollmentID: "peer0", Role: pki.RolePeer, DNSNames: []string{"localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := identity.NewPKCS11Signer(cfg, cert)
	if err != nil {
		t.Fatalf("NewPKCS11Signer: %v", err)
	}
	var _ identity.Signer = signer

	msg := []byte("proposal bytes")
	sig, err := signer.Sign(msg)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	id, err := c.Manager().Validate("Org1MSP", cert.Raw, identity.Roles(pki.RolePeer), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := id.Verify(msg, sig); err != nil {
		t.Fatalf("Identity.Verify of a token signature: %v", err)
	}
	digest := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(cert.PublicKey.(*ecdsa.PublicKey), digest[:], sig) {
		t.Fatal("ecdsa.VerifyASN1 refuses the token signature")
	}
	if signer.MSPID() != "Org1MSP" || !signer.Certificate().Equal(cert) {
		t.Fatal("signer identity")
	}

	// A certificate for another key is refused.
	other := c.Member("Org1MSP").Issue(pki.RolePeer, "peer1", nil)
	if s, err := identity.NewPKCS11Signer(cfg, other.Cert); err == nil || !strings.Contains(err.Error(), "does not match") {
		if s != nil {
			s.Close()
		}
		t.Fatalf("mismatched certificate: %v", err)
	}
	// A missing key is reported.
	missing := cfg
	missing.KeyLabel = "nope"
	if _, err := identity.OpenPKCS11Key(missing); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("missing key: %v", err)
	}
	// A wrong PIN fails without revealing it. (Close first: PKCS#11 login
	// state is shared by all sessions of the process.)
	if err := signer.Close(); err != nil {
		t.Fatal(err)
	}
	wrong := cfg
	wrong.PINEnv, wrong.PIN = "", "98761"
	_, err = identity.OpenPKCS11Key(wrong)
	t.Logf("wrong PIN: %v", err)
	if err == nil || !strings.Contains(err.Error(), "CKR_PIN_INCORRECT") || strings.Contains(err.Error(), "98761") {
		t.Fatalf("wrong PIN: %v", err)
	}
}
