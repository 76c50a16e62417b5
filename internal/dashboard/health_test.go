package dashboard

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

func TestCertRow(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	cert := func(notAfter time.Time) []byte {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca.example"},
			NotBefore: now.AddDate(-1, 0, 0), NotAfter: notAfter}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	tests := []struct {
		name          string
		der           []byte
		soon, expired bool
		notAfter      string
	}{
		{"in a year", cert(now.AddDate(1, 0, 0)), false, false, "2027-11-24 12:00 UTC"},
		{"in 31 days", cert(now.Add(31 * 24 * time.Hour)), false, false, "2026-12-25 12:00 UTC"},
		{"in 29 days", cert(now.Add(29 * 24 * time.Hour)), true, false, "2026-12-23 12:00 UTC"},
		{"an hour ago", cert(now.Add(-time.Hour)), false, true, "2026-11-24 11:00 UTC"},
		{"not a certificate", []byte("junk"), false, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := certRow("Org1MSP root CA", tt.der, now)
			if got.Soon != tt.soon || got.Expired != tt.expired || got.NotAfter != tt.notAfter || got.Holder != "Org1MSP root CA" {
				t.Fatalf("got %+v", got)
			}
			if tt.notAfter != "" && got.Subject != "ca.example" {
				t.Errorf("subject %q", got.Subject)
			}
		})
	}
}
