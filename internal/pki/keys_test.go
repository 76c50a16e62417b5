package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseKeyAlgorithm(t *testing.T) {
	tests := []struct {
		in      string
		want    KeyAlgorithm
		wantErr bool
	}{
		{"", ECDSAP256, false},
		{"ecdsa-p256", ECDSAP256, false},
		{"ed25519", Ed25519, false},
		{"rsa", "", true},
		{"ECDSA-P256", "", true},
		{"ecdsa-p384", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseKeyAlgorithm(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseKeyAlgorithm(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("ParseKeyAlgorithm(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestGenerateKeyAndPEMRoundTrip(t *testing.T) {
	tests := []struct {
		alg      KeyAlgorithm
		wantType string
	}{
		{"", "*ecdsa.PrivateKey"},
		{ECDSAP256, "*ecdsa.PrivateKey"},
		{Ed25519, "ed25519.PrivateKey"},
	}
	for _, tt := range tests {
		t.Run(string(tt.alg), func(t *testing.T) {
			key, err := GenerateKey(tt.alg)
			if err != nil {
				t.Fatal(err)
			}
			if got := typeName(key); got != tt.wantType {
				t.Fatalf("key type %s, want %s", got, tt.wantType)
			}
			data, err := MarshalPrivateKeyPEM(key)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(data, []byte("-----BEGIN PRIVATE KEY-----")) {
				t.Fatalf("PEM does not start with a PRIVATE KEY block: %.40q", data)
			}
			back, err := ParsePrivateKeyPEM(data)
			if err != nil {
				t.Fatal(err)
			}
			if !publicKeysEqual(t, key.Public(), back.Public()) {
				t.Fatal("round-tripped key has a different public key")
			}
		})
	}
	if _, err := GenerateKey("rsa-2048"); err == nil {
		t.Fatal("GenerateKey accepted an unknown algorithm")
	}
}

func TestParsePrivateKeyPEMRefusals(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384PKCS8, err := x509.MarshalPKCS8PrivateKey(p384)
	if err != nil {
		t.Fatal(err)
	}
	p384SEC1, err := x509.MarshalECPrivateKey(p384)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaPKCS8, err := x509.MarshalPKCS8PrivateKey(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p256SEC1, err := x509.MarshalECPrivateKey(p256)
	if err != nil {
		t.Fatal(err)
	}
	block := func(typ string, der []byte) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	}
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"no PEM", []byte("not a key"), "no PEM block"},
		{"certificate block", block("CERTIFICATE", []byte{1, 2, 3}), "unexpected PEM block"},
		{"garbage PKCS8", block("PRIVATE KEY", []byte{1, 2, 3}), "parse private key"},
		{"garbage SEC1", block("EC PRIVATE KEY", []byte{1, 2, 3}), "parse EC private key"},
		{"P-384 PKCS8", block("PRIVATE KEY", p384PKCS8), "unsupported ECDSA curve"},
		{"P-384 SEC1", block("EC PRIVATE KEY", p384SEC1), "unsupported ECDSA curve"},
		{"RSA", block("PRIVATE KEY", rsaPKCS8), "unsupported public key type"},
		{"P-256 SEC1 accepted", block("EC PRIVATE KEY", p256SEC1), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePrivateKeyPEM(tt.data)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestPrivateKeyFileModes(t *testing.T) {
	dir := t.TempDir()
	key, err := GenerateKey(ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "sub", "key.pem")
	if err := WritePrivateKeyFile(path, key); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Fatalf("key file mode %04o, want 0600", perm)
	}
	back, err := ReadPrivateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !publicKeysEqual(t, key.Public(), back.Public()) {
		t.Fatal("read key differs from written key")
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := ReadPrivateKeyFile(path)
		if err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Fatalf("mode %04o: error %v, want refusal", mode, err)
		}
		if strings.Contains(err.Error(), "PRIVATE KEY") {
			t.Fatalf("error leaks key material: %v", err)
		}
	}
	if _, err := ReadPrivateKeyFile(filepath.Join(dir, "missing.pem")); err == nil {
		t.Fatal("ReadPrivateKeyFile of a missing file succeeded")
	}
}

func TestParseCertificatesPEM(t *testing.T) {
	root := newTestRoot(t, ECDSAP256)
	other := newTestRoot(t, Ed25519)
	one := EncodeCertificatePEM(root.Cert.Raw)
	two := append(append([]byte{}, one...), EncodeCertificatePEM(other.Cert.Raw)...)
	keyPEM, err := MarshalPrivateKeyPEM(root.Signer)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		data      []byte
		wantCount int
		wantErr   string
	}{
		{"one", one, 1, ""},
		{"two", two, 2, ""},
		{"empty", nil, 0, "no certificate"},
		{"text", []byte("hello"), 0, "no certificate"},
		{"key block", append(append([]byte{}, one...), keyPEM...), 0, "unexpected PEM block"},
		{"garbage cert", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x01}}), 0, "parse certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certs, err := ParseCertificatesPEM(tt.data)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(certs) != tt.wantCount {
				t.Fatalf("%d certificates, want %d", len(certs), tt.wantCount)
			}
			if !certs[0].Equal(root.Cert) {
				t.Fatal("first certificate is not the root")
			}
		})
	}

	path := filepath.Join(t.TempDir(), "chain.pem")
	if err := os.WriteFile(path, two, 0o644); err != nil {
		t.Fatal(err)
	}
	first, err := ReadCertificateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Equal(root.Cert) {
		t.Fatal("ReadCertificateFile did not return the first certificate")
	}
}

func typeName(v any) string {
	switch v.(type) {
	case *ecdsa.PrivateKey:
		return "*ecdsa.PrivateKey"
	case ed25519.PrivateKey:
		return "ed25519.PrivateKey"
	}
	return "other"
}

func publicKeysEqual(t *testing.T, a, b crypto.PublicKey) bool {
	t.Helper()
	type equaler interface{ Equal(crypto.PublicKey) bool }
	ea, ok := a.(equaler)
	if !ok {
		t.Fatalf("public key %T has no Equal method", a)
	}
	return ea.Equal(b)
}
