package identity_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
)

func crlPEM(der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}) }

func TestParseMSPConfigPEM(t *testing.T) {
	c := testpki.NewConsortium(t, "Org1MSP", "Org2MSP")
	org1, org2 := c.Member("Org1MSP"), c.Member("Org2MSP")
	now := time.Now()
	own, err := org1.CA.CreateCRL([]pki.RevokedCertificate{{Serial: big.NewInt(7), RevokedAt: now}}, big.NewInt(1), now, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	others, err := org2.CA.CreateCRL([]pki.RevokedCertificate{{Serial: big.NewInt(7), RevokedAt: now}}, big.NewInt(1), now, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	rootCRL, err := c.Root.CreateCRL(nil, big.NewInt(1), now, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	rootPEM := pki.EncodeCertificatePEM(c.Root.Cert.Raw)
	org1PEM := pki.EncodeCertificatePEM(org1.CA.Cert.Raw)
	org2PEM := pki.EncodeCertificatePEM(org2.CA.Cert.Raw)
	leafPEM := pki.EncodeCertificatePEM(org1.Issue(pki.RolePeer, "peer0", nil).Cert.Raw)

	tests := []struct {
		name                 string
		id                   string
		roots, inters, crls  []byte
		wantErr              string // "" for success
		wantRoots, wantInter int
		wantCRLs             int
	}{
		{"roots only", "Org1MSP", rootPEM, nil, nil, "", 1, 0, 0},
		{"full", "Org1MSP", rootPEM, org1PEM, append(crlPEM(own), crlPEM(rootCRL)...), "", 1, 1, 2},
		{"CRL of another member", "Org1MSP", rootPEM, org1PEM, crlPEM(others), "CRL 0 is not signed by one of the member's CAs", 0, 0, 0},
		{"no roots", "Org1MSP", nil, org1PEM, nil, "no root certificate", 0, 0, 0},
		{"leaf as root", "Org1MSP", leafPEM, nil, nil, "root certificate 0 is not a CA certificate", 0, 0, 0},
		{"leaf as intermediate", "Org1MSP", rootPEM, leafPEM, nil, "intermediate certificate 0 is not a CA certificate", 0, 0, 0},
		{"intermediate of another root", "Org1MSP", pki.EncodeCertificatePEM(testpki.NewConsortium(t).Root.Cert.Raw), org1PEM, nil, "is not issued by one of the member's CAs", 0, 0, 0},
		{"bad MSP ID", "Org 1", rootPEM, nil, nil, "MSP ID", 0, 0, 0},
		{"CRL where certificates go", "Org1MSP", crlPEM(own), nil, nil, `unexpected PEM block "X509 CRL"`, 0, 0, 0},
		{"trailing garbage", "Org1MSP", append(append([]byte{}, rootPEM...), "junk"...), nil, nil, "not PEM", 0, 0, 0},
		{"corrupt certificate", "Org1MSP", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}}), nil, nil, "root certificate 0", 0, 0, 0},
		{"corrupt CRL", "Org1MSP", rootPEM, nil, crlPEM([]byte{1, 2, 3}), "CRL 0", 0, 0, 0},
		{"too many roots", "Org1MSP", bytes.Repeat(rootPEM, identity.MaxRootCerts+1), nil, nil, "more than 16", 0, 0, 0},
		{"two intermediates", "Org1MSP", rootPEM, append(append([]byte{}, org1PEM...), org2PEM...), nil, "", 1, 2, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := identity.ParseMSPConfigPEM(tc.id, tc.roots, tc.inters, tc.crls)
			if tc.wantErr != "" {
				if !errors.Is(err, identity.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v; want ErrInvalidConfig containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ID != tc.id || len(cfg.RootCerts) != tc.wantRoots || len(cfg.IntermediateCerts) != tc.wantInter || len(cfg.CRLs) != tc.wantCRLs {
				t.Fatalf("config %s: %d roots, %d intermediates, %d CRLs", cfg.ID, len(cfg.RootCerts), len(cfg.IntermediateCerts), len(cfg.CRLs))
			}
		})
	}
}

func TestParseMSPConfigDERBounds(t *testing.T) {
	c := testpki.NewConsortium(t, "Org1MSP")
	root := c.Root.Cert.Raw
	if _, err := identity.ParseMSPConfigDER("Org1MSP", [][]byte{root}, [][]byte{c.Member("Org1MSP").CA.Cert.Raw}, nil); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][3][][]byte{
		"empty certificate": {{{}}, nil, nil},
		"oversized":         {{make([]byte, identity.MaxCertificateSize+1)}, nil, nil},
		"too many CRLs":     {{root}, nil, make([][]byte, identity.MaxCRLs+1)},
		"too many interms":  {{root}, make([][]byte, identity.MaxIntermediateCerts+1), nil},
		"empty CRL":         {{root}, nil, {{}}},
		"oversized CRL":     {{root}, nil, {make([]byte, identity.MaxCRLSize+1)}},
	} {
		if _, err := identity.ParseMSPConfigDER("Org1MSP", args[0], args[1], args[2]); !errors.Is(err, identity.ErrInvalidConfig) {
			t.Errorf("%s: err = %v; want ErrInvalidConfig", name, err)
		}
	}
}

func TestNewManagerRefusesBadConfigs(t *testing.T) {
	c := testpki.NewConsortium(t, "Org1MSP", "Org2MSP")
	org1, org2 := c.Member("Org1MSP").MSPConfig(), c.Member("Org2MSP").MSPConfig()
	now := time.Now()
	foreignCRL, err := c.Member("Org2MSP").CA.CreateCRL(nil, big.NewInt(1), now, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := x509.ParseRevocationList(foreignCRL)
	if err != nil {
		t.Fatal(err)
	}
	withForeignCRL := org1
	withForeignCRL.CRLs = []*x509.RevocationList{parsed}
	tests := map[string][]identity.MSPConfig{
		"duplicate member": {org1, org1},
		"foreign CRL":      {withForeignCRL, org2},
		"nil root":         {{ID: "Org1MSP", RootCerts: []*x509.Certificate{nil}}},
		"nil CRL":          {{ID: "Org1MSP", RootCerts: org1.RootCerts, CRLs: []*x509.RevocationList{nil}}},
		"too many members": make([]identity.MSPConfig, identity.MaxMembers+1),
	}
	for name, cfgs := range tests {
		if mgr, err := identity.NewManager(cfgs); !errors.Is(err, identity.ErrInvalidConfig) || mgr != nil {
			t.Errorf("%s: NewManager = %v, %v; want ErrInvalidConfig", name, mgr, err)
		}
	}
	if _, err := identity.NewManager([]identity.MSPConfig{org1, org2}); err != nil {
		t.Fatalf("valid configs: %v", err)
	}
}
