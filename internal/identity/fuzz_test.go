package identity_test

import (
	"crypto/x509"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
)

var sentinels = []error{
	identity.ErrUnknownMSP, identity.ErrMalformed, identity.ErrMSPMismatch, identity.ErrExpired,
	identity.ErrChain, identity.ErrKeyUsage, identity.ErrRevoked, identity.ErrRoleMismatch,
}

// FuzzCheck feeds arbitrary certificate bytes (as found in transactions
// and TLS handshakes) to the Manager: it must never panic, and every
// refusal must wrap a sentinel; an accepted certificate must be one the
// consortium issued.
func FuzzCheck(f *testing.F) {
	c := testpki.NewConsortium(f, "Org1MSP", "Org2MSP")
	org1 := c.Member("Org1MSP")
	valid := org1.Issue(pki.RolePeer, "peer0", map[string]string{pki.RoleAttribute: "x"})
	revoked := org1.Issue(pki.RoleClient, "u", nil)
	org1.Revoke(revoked.Cert)
	mgr := c.Manager()
	f.Add(valid.Cert.Raw, "Org1MSP")
	f.Add(revoked.Cert.Raw, "")
	f.Add(org1.CA.Cert.Raw, "Org2MSP")
	f.Add([]byte{0x30, 0x00}, "")
	issuedBy := func(cert *x509.Certificate) bool {
		for _, m := range c.Members() {
			if cert.CheckSignatureFrom(m.CA.Cert) == nil {
				return true
			}
		}
		return false
	}
	f.Fuzz(func(t *testing.T, der []byte, mspID string) {
		id, err := mgr.Check(identity.Request{MSPID: mspID, Cert: der, Roles: identity.AnyRole, At: time.Now()})
		if err != nil {
			if id != nil {
				t.Fatal("identity returned with an error")
			}
			for _, s := range sentinels {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("error wraps no sentinel: %v", err)
		}
		if !issuedBy(id.Certificate()) {
			t.Fatal("accepted a certificate no member issued")
		}
	})
}

// FuzzParseMSPConfigPEM feeds arbitrary PEM (as found in config updates)
// to the MSP configuration parser: no panic, and a config it accepts
// builds a Manager.
func FuzzParseMSPConfigPEM(f *testing.F) {
	c := testpki.NewConsortium(f, "Org1MSP")
	org1 := c.Member("Org1MSP")
	now := time.Now()
	crl, err := org1.CA.CreateCRL([]pki.RevokedCertificate{{Serial: big.NewInt(3), RevokedAt: now}}, big.NewInt(1), now, now.Add(time.Hour))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pki.EncodeCertificatePEM(c.Root.Cert.Raw), pki.EncodeCertificatePEM(org1.CA.Cert.Raw), crlPEM(crl))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"), []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, roots, inters, crls []byte) {
		cfg, err := identity.ParseMSPConfigPEM("Org1MSP", roots, inters, crls)
		if err != nil {
			if !errors.Is(err, identity.ErrInvalidConfig) {
				t.Fatalf("error is not ErrInvalidConfig: %v", err)
			}
			return
		}
		if _, err := identity.NewManager([]identity.MSPConfig{cfg}); err != nil {
			t.Fatalf("accepted config refused by NewManager: %v", err)
		}
	})
}
