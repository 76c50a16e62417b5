package caserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/pki"
)

func jsonDecoderStrict(data []byte) *json.Decoder {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec
}

var ctx = context.Background()

func TestBootstrapAndLayout(t *testing.T) {
	for _, alg := range []pki.KeyAlgorithm{pki.ECDSAP256, pki.Ed25519} {
		t.Run(string(alg), func(t *testing.T) {
			tc := newTestCA(t, alg)
			for name, wantMode := range map[string]os.FileMode{
				KeyFile: 0o600, TLSKeyFile: 0o600, BootstrapSecretFile: 0o600,
				CertFile: 0o644, ChainFile: 0o644, TLSCertFile: 0o644, CSRFile: 0o644,
			} {
				info, err := os.Stat(filepath.Join(tc.dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if info.Mode().Perm() != wantMode {
					t.Fatalf("%s mode %04o, want %04o", name, info.Mode().Perm(), wantMode)
				}
			}
			if info, err := os.Stat(filepath.Join(tc.dir, DBDir)); err != nil || !info.IsDir() {
				t.Fatalf("no database directory: %v", err)
			}
			// The TLS certificate is this CA's, OU "ca", server auth only.
			tlsCerts, err := pki.ParseCertificatesPEM(readFile(t, filepath.Join(tc.dir, TLSCertFile)))
			if err != nil {
				t.Fatal(err)
			}
			leaf := tlsCerts[0]
			if !slices.Equal(leaf.Subject.OrganizationalUnit, []string{pki.CAServerOU}) ||
				!slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
				t.Fatalf("TLS certificate subject %v EKUs %v", leaf.Subject, leaf.ExtKeyUsage)
			}
			if err := leaf.VerifyHostname("127.0.0.1"); err != nil {
				t.Fatal(err)
			}

			admin := tc.admin()
			attrs, err := pki.CertificateAttributes(admin.cert)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{
				AttrRegistrarRoles:      "admin,client,peer,orderer,gateway",
				AttrRegistrarAttributes: strings.Join(DefaultAllowedAttributes, ","),
				AttrRevoker:             "true",
			}
			for k, v := range want {
				if attrs[k] != v {
					t.Fatalf("admin attribute %s = %q, want %q", k, attrs[k], v)
				}
			}
			if admin.cert.Subject.CommonName != BootstrapRegistrar || !slices.Equal(admin.cert.Subject.OrganizationalUnit, []string{"admin"}) ||
				!slices.Equal(admin.cert.Subject.Organization, []string{testMSP}) {
				t.Fatalf("admin subject %v", admin.cert.Subject)
			}
			// The bootstrap secret is one-time.
			secret, err := ReadSecretFile(filepath.Join(tc.dir, BootstrapSecretFile))
			if err != nil {
				t.Fatal(err)
			}
			_, err = tc.enroll(BootstrapRegistrar, secret, alg)
			wantAPIError(t, err, 401, CodeInvalidCredentials)
			if strings.Contains(tc.logs.String(), secret) {
				t.Fatal("the bootstrap secret appears in the logs")
			}
		})
	}
}

func TestPublicEndpoints(t *testing.T) {
	tc := newTestCA(t, pki.ECDSAP256)
	anon := tc.client(nil)
	if err := anon.Health(ctx); err != nil {
		t.Fatal(err)
	}
	info, err := anon.CAInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.MSPID != testMSP || info.Chain != string(readFile(t, filepath.Join(tc.dir, ChainFile))) {
		t.Fatalf("cainfo %+v", info)
	}
	crl, err := anon.CRL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	parsed := parseCRL(t, tc, crl.CRL)
	if parsed.Number.Int64() != 1 || len(parsed.RevokedCertificateEntries) != 0 {
		t.Fatalf("initial CRL number %v with %d entries", parsed.Number, len(parsed.RevokedCertificateEntries))
	}
	// Every other call needs a client certificate.
	for _, call := range []func() error{
		func() error {
			_, err := anon.Register(ctx, RegisterRequest{EnrollmentID: "x", Type: "client"})
			return err
		},
		func() error { _, err := anon.Reenroll(ctx, ReenrollRequest{CSR: []byte{1}}); return err },
		func() error { _, err := anon.Revoke(ctx, RevokeRequest{EnrollmentID: "admin"}); return err },
		func() error { _, err := anon.GenCRL(ctx); return err },
		func() error { _, err := anon.Identities(ctx, "", 0); return err },
	} {
		wantAPIError(t, call(), 401, CodeUnauthenticated)
	}
}

func parseCRL(t *testing.T, tc *testCA, crlPEM string) *x509.RevocationList {
	t.Helper()
	block, rest := pem.Decode([]byte(crlPEM))
	if block == nil || block.Type != "X509 CRL" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("not one X509 CRL PEM block: %q", crlPEM)
	}
	crl, err := x509.ParseRevocationList(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := readSingleCertificate(filepath.Join(tc.dir, CertFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(caCert); err != nil {
		t.Fatalf("CRL does not verify against the CA: %v", err)
	}
	return crl
}

func TestEnrollSecretIsOneTimeAndExpires(t *testing.T) {
	tc := newTestCA(t, pki.ECDSAP256)
	admin := tc.admin()

	t.Run("one time", func(t *testing.T) {
		secret := tc.register(admin, RegisterRequest{EnrollmentID: "once", Type: "client"})
		tc.mustEnroll("once", secret)
		before := tc.stateDigest()
		_, err := tc.enroll("once", secret, pki.ECDSAP256)
		wantAPIError(t, err, 401, CodeInvalidCredentials)
		if tc.stateDigest() != before {
			t.Fatal("a refused enroll changed the state")
		}
		reg, err := tc.srv.st.registration("once")
		if err != nil {
			t.Fatal(err)
		}
		if !reg.SecretConsumed || reg.SecretHash != nil || reg.SecretSalt != nil || reg.EnrollmentsUsed != 1 {
			t.Fatalf("registration after use: %+v", reg)
		}
	})

	t.Run("expiry", func(t *testing.T) {
		secret := tc.register(admin, RegisterRequest{EnrollmentID: "late", Type: "client", SecretTTL: "1h"})
		tc.clock.Advance(time.Hour)
		before := tc.stateDigest()
		_, err := tc.enroll("late", secret, pki.ECDSAP256)
		wantAPIError(t, err, 401, CodeInvalidCredentials)
		if tc.stateDigest() != before {
			t.Fatal("a refused enroll changed the state")
		}
		// Just before expiry it works.
		secret = tc.register(admin, RegisterRequest{EnrollmentID: "intime", Type: "client", SecretTTL: "1h"})
		tc.clock.Advance(time.Hour - time.Second)
		tc.mustEnroll("intime", secret)
	})

	t.Run("max enrollments", func(t *testing.T) {
		secret := tc.register(admin, RegisterRequest{EnrollmentID: "twice", Type: "client", MaxEnrollments: 2})
		a := tc.mustEnroll("twice", secret)
		b := tc.mustEnroll("twice", secret)
		if a.cert.SerialNumber.Cmp(b.cert.SerialNumber) == 0 {
			t.Fatal("two enrollments got the same serial")
		}
		_, err := tc.enroll("twice", secret, pki.ECDSAP256)
		wantAPIError(t, err, 401, CodeInvalidCredentials)
	})

	t.Run("generic refusal", func(t *testing.T) {
		secret := tc.register(admin, RegisterRequest{EnrollmentID: "g", Type: "client"})
		_, errWrong := tc.enroll("g", secret[:len(secret)-1]+"x", pki.ECDSAP256)
		_, errUnknown := tc.enroll("nobody", secret, pki.ECDSAP256)
		w := wantAPIError(t, errWrong, 401, CodeInvalidCredentials)
		u := wantAPIError(t, errUnknown, 401, CodeInvalidCredentials)
		if w.Message != u.Message || w.Message != "invalid enrollment ID or secret" {
			t.Fatalf("messages differ or are specific: %q vs %q", w.Message, u.Message)
		}
		// The wrong attempt did not burn the secret.
		tc.mustEnroll("g", secret)
	})

	t.Run("concurrent use of one secret", func(t *testing.T) {
		secret := tc.register(admin, RegisterRequest{EnrollmentID: "race", Type: "client"})
		const n = 6
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = tc.enroll("race", secret, pki.ECDSAP256)
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else {
				wantAPIError(t, err, 401, CodeInvalidCredentials)
			}
		}
		if ok != 1 {
			t.Fatalf("%d enrollments succeeded with a one-time secret, want 1", ok)
		}
	})

	if logs := tc.logs.String(); strings.Contains(logs, "PRIVATE KEY") || strings.Contains(logs, "CERTIFICATE") {
		t.Fatal("key or certificate material in the logs")
	}
}

func TestIssuedCertificates(t *testing.T) {
	tc := newTestCA(t, pki.Ed25519)
	admin := tc.admin()
	roots := x509.NewCertPool()
	roots.AddCert(tc.rootCert)
	inters := x509.NewCertPool()
	caCert, err := readSingleCertificate(filepath.Join(tc.dir, CertFile))
	if err != nil {
		t.Fatal(err)
	}
	inters.AddCert(caCert)

	tests := []struct {
		req      RegisterRequest
		wantEKUs []x509.ExtKeyUsage
		wantDNS  []string
		wantIPs  int
	}{
		{RegisterRequest{EnrollmentID: "ao1", Type: "client", Attributes: map[string]string{pki.RoleAttribute: "Authorizing Official"}},
			[]x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil, 0},
		{RegisterRequest{EnrollmentID: "admin2", Type: "admin"}, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil, 0},
		{RegisterRequest{EnrollmentID: "peer0", Type: "peer", Hosts: []string{"Peer0.Agency1.example", "127.0.0.1"}},
			[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, []string{"peer0.agency1.example"}, 1},
		{RegisterRequest{EnrollmentID: "orderer0", Type: "orderer", Hosts: []string{"::1"}},
			[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.req.EnrollmentID, func(t *testing.T) {
			secret := tc.register(admin, tt.req)
			// The CSR asks for another identity; the CA ignores its subject.
			key, err := pki.GenerateKey(pki.ECDSAP256)
			if err != nil {
				t.Fatal(err)
			}
			csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
				Subject:  pkix.Name{CommonName: "someone-else", Organization: []string{"OtherMSP"}, OrganizationalUnit: []string{"admin"}},
				DNSNames: []string{"evil.example"},
			}, key)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := tc.client(nil).Enroll(ctx, EnrollRequest{EnrollmentID: tt.req.EnrollmentID, Secret: secret, CSR: csr})
			if err != nil {
				t.Fatal(err)
			}
			certs, err := pki.ParseCertificatesPEM([]byte(resp.Certificate))
			if err != nil {
				t.Fatal(err)
			}
			cert := certs[0]
			if cert.Subject.CommonName != tt.req.EnrollmentID || !slices.Equal(cert.Subject.Organization, []string{testMSP}) ||
				!slices.Equal(cert.Subject.OrganizationalUnit, []string{tt.req.Type}) {
				t.Fatalf("subject %v", cert.Subject)
			}
			if !slices.Equal(cert.ExtKeyUsage, tt.wantEKUs) || !slices.Equal(cert.DNSNames, tt.wantDNS) || len(cert.IPAddresses) != tt.wantIPs {
				t.Fatalf("EKUs %v DNS %v IPs %v", cert.ExtKeyUsage, cert.DNSNames, cert.IPAddresses)
			}
			attrs, err := pki.CertificateAttributes(cert)
			if err != nil {
				t.Fatal(err)
			}
			if len(attrs) != len(tt.req.Attributes) {
				t.Fatalf("attributes %v, want %v", attrs, tt.req.Attributes)
			}
			for k, v := range tt.req.Attributes {
				if attrs[k] != v {
					t.Fatalf("attribute %s = %q, want %q", k, attrs[k], v)
				}
			}
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Fatalf("issued certificate does not verify: %v", err)
			}
			stored, err := tc.srv.st.cert(cert.SerialNumber)
			if err != nil || stored.EnrollmentID != tt.req.EnrollmentID || !bytes.Equal(stored.DER, cert.Raw) {
				t.Fatalf("issued certificate not recorded: %+v, %v", stored, err)
			}
		})
	}
}

func TestDelegation(t *testing.T) {
	tc := newTestCA(t, pki.ECDSAP256)
	admin := tc.admin()
	// registrar1 may register clients and set blossom.role, nothing else.
	registrar1 := tc.registerAndEnroll(admin, RegisterRequest{EnrollmentID: "registrar1", Type: "client", Attributes: map[string]string{
		AttrRegistrarRoles: "client", AttrRegistrarAttributes: pki.RoleAttribute}})
	// registrar2 may register clients and peers and delegate those roles,
	// may set blossom.revoker, but is no revoker itself.
	registrar2 := tc.registerAndEnroll(admin, RegisterRequest{EnrollmentID: "registrar2", Type: "client", Attributes: map[string]string{
		AttrRegistrarRoles: "client,peer", AttrRegistrarAttributes: strings.Join([]string{AttrRegistrarRoles, AttrRegistrarAttributes, AttrRevoker, pki.RoleAttribute}, ","),
		AttrRevoker: "false"}})
	plain := tc.registerAndEnroll(admin, RegisterRequest{EnrollmentID: "plain", Type: "client", Attributes: map[string]string{pki.RoleAttribute: "Acquisition Officer"}})

	tests := []struct {
		name     string
		as       *identity
		req      RegisterRequest
		wantCode string // "" = success
		status   int
	}{
		{"registrar1 registers a client with a role", registrar1, RegisterRequest{EnrollmentID: "u1", Type: "client", Attributes: map[string]string{pki.RoleAttribute: "License Owner"}}, "", 200},
		{"registrar1 cannot register an admin", registrar1, RegisterRequest{EnrollmentID: "u2", Type: "admin"}, CodeForbidden, 403},
		{"registrar1 cannot register a peer", registrar1, RegisterRequest{EnrollmentID: "u3", Type: "peer"}, CodeForbidden, 403},
		{"registrar1 cannot set revoker", registrar1, RegisterRequest{EnrollmentID: "u4", Type: "client", Attributes: map[string]string{AttrRevoker: "true"}}, CodeForbidden, 403},
		{"registrar1 cannot make registrars", registrar1, RegisterRequest{EnrollmentID: "u5", Type: "client", Attributes: map[string]string{AttrRegistrarRoles: "client"}}, CodeForbidden, 403},
		{"unknown attribute is bad input", registrar1, RegisterRequest{EnrollmentID: "u6", Type: "client", Attributes: map[string]string{"hf.Registrar.Roles": "client"}}, CodeUnknownAttribute, 400},
		{"registrar2 delegates a role it holds", registrar2, RegisterRequest{EnrollmentID: "u7", Type: "client", Attributes: map[string]string{AttrRegistrarRoles: "client"}}, "", 200},
		{"registrar2 cannot delegate admin", registrar2, RegisterRequest{EnrollmentID: "u8", Type: "client", Attributes: map[string]string{AttrRegistrarRoles: "client,admin"}}, CodeForbidden, 403},
		{"registrar2 cannot delegate revoker", registrar2, RegisterRequest{EnrollmentID: "u9", Type: "client", Attributes: map[string]string{AttrRevoker: "true"}}, CodeForbidden, 403},
		{"registrar2 may set revoker false", registrar2, RegisterRequest{EnrollmentID: "u10", Type: "client", Attributes: map[string]string{AttrRevoker: "false"}}, "", 200},
		{"registrar2 cannot delegate attributes it may not set", tc.registerAndEnroll(admin, RegisterRequest{EnrollmentID: "registrar3", Type: "client", Attributes: map[string]string{
			AttrRegistrarRoles: "client", AttrRegistrarAttributes: AttrRegistrarAttributes}}),
			RegisterRequest{EnrollmentID: "u11", Type: "client", Attributes: map[string]string{AttrRegistrarAttributes: pki.RoleAttribute}}, CodeForbidden, 403},
		{"delegating an unknown attribute is bad input", registrar2, RegisterRequest{EnrollmentID: "u12", Type: "client", Attributes: map[string]string{AttrRegistrarAttributes: "made.up"}}, CodeUnknownAttribute, 400},
		{"delegating an unknown role is bad input", registrar2, RegisterRequest{EnrollmentID: "u13", Type: "client", Attributes: map[string]string{AttrRegistrarRoles: "root"}}, CodeBadRequest, 400},
		{"revoker must be true or false", admin, RegisterRequest{EnrollmentID: "u14", Type: "client", Attributes: map[string]string{AttrRevoker: "yes"}}, CodeBadRequest, 400},
		{"plain client cannot register", plain, RegisterRequest{EnrollmentID: "u15", Type: "client"}, CodeForbidden, 403},
		{"admin registers an admin", admin, RegisterRequest{EnrollmentID: "u16", Type: "admin", Attributes: map[string]string{AttrRegistrarRoles: "admin,client", AttrRevoker: "true"}}, "", 200},
		{"re-registering is a conflict", admin, RegisterRequest{EnrollmentID: "u1", Type: "client"}, CodeAlreadyRegistered, 409},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tc.stateDigest()
			resp, err := tt.as.client.Register(ctx, tt.req)
			if tt.wantCode == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(resp.Secret) != 43 || !resp.ExpiresAt.Equal(tc.clock.Now().Add(DefaultSecretTTL)) {
					t.Fatalf("secret of length %d expiring %v", len(resp.Secret), resp.ExpiresAt)
				}
				reg, err := tc.srv.st.registration(tt.req.EnrollmentID)
				if err != nil || reg.RegisteredBy != tt.as.cert.Subject.CommonName {
					t.Fatalf("registration %+v, %v", reg, err)
				}
				if bytes.Contains(mustJSON(t, reg), []byte(resp.Secret)) {
					t.Fatal("the secret is stored in clear")
				}
				return
			}
			wantAPIError(t, err, tt.status, tt.wantCode)
			if tc.stateDigest() != before {
				t.Fatal("a refused register changed the state")
			}
		})
	}

	// Non-registrars and non-revokers get 403 on the other calls too.
	wantAPIError(t, func() error { _, err := plain.client.Identities(ctx, "", 0); return err }(), 403, CodeForbidden)
	wantAPIError(t, func() error { _, err := plain.client.GenCRL(ctx); return err }(), 403, CodeForbidden)
	wantAPIError(t, func() error { _, err := registrar1.client.Revoke(ctx, RevokeRequest{EnrollmentID: "u1"}); return err }(), 403, CodeForbidden)
	// A revoker may revoke only types it may register.
	limitedRevoker := tc.registerAndEnroll(admin, RegisterRequest{EnrollmentID: "revoker1", Type: "client", Attributes: map[string]string{
		AttrRegistrarRoles: "client", AttrRevoker: "true"}})
	wantAPIError(t, func() error {
		_, err := limitedRevoker.client.Revoke(ctx, RevokeRequest{EnrollmentID: "admin"})
		return err
	}(), 403, CodeForbidden)
	if _, err := limitedRevoker.client.Revoke(ctx, RevokeRequest{EnrollmentID: "u1"}); err != nil {
		t.Fatal(err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestRevokeReenrollAndCRL(t *testing.T) {
	tc := newTestCA(t, pki.ECDSAP256)
	admin := tc.admin()
	user := tc.registerAndEnroll(admin, RegisterRequest{EnrollmentID: "user1", Type: "client", Attributes: map[string]string{pki.RoleAttribute: "Technical Point of Contact"}})

	// Re-enroll: a new certificate (new key, new serial) for the same identity.
	key, err := pki.GenerateKey(pki.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := NewCSR(key, "ignored")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := user.client.Reenroll(ctx, ReenrollRequest{CSR: csr})
	if err != nil {
		t.Fatal(err)
	}
	renewed, err := pki.ParseCertificatesPEM([]byte(resp.Certificate))
	if err != nil {
		t.Fatal(err)
	}
	if renewed[0].Subject.CommonName != "user1" || renewed[0].SerialNumber.Cmp(user.cert.SerialNumber) == 0 || !publicKeyMatches(renewed[0].PublicKey, key) {
		t.Fatalf("reenrolled certificate %v serial %v", renewed[0].Subject, renewed[0].SerialNumber)
	}
	if attrs, _ := pki.CertificateAttributes(renewed[0]); attrs[pki.RoleAttribute] != "Technical Point of Contact" {
		t.Fatalf("reenrolled attributes %v", attrs)
	}

	// Revoke the identity: both certificates, the registration disabled.
	tc.clock.Advance(time.Minute)
	rev, err := admin.client.Revoke(ctx, RevokeRequest{EnrollmentID: "user1", Reason: "keyCompromise"})
	if err != nil {
		t.Fatal(err)
	}
	wantSerials := []string{formatSerial(user.cert.SerialNumber), formatSerial(renewed[0].SerialNumber)}
	slices.Sort(wantSerials)
	got := slices.Clone(rev.Revoked)
	slices.Sort(got)
	if !slices.Equal(got, wantSerials) {
		t.Fatalf("revoked %v, want %v", got, wantSerials)
	}
	crl := parseCRL(t, tc, rev.CRL)
	if crl.Number.Int64() != 2 || len(crl.RevokedCertificateEntries) != 2 {
		t.Fatalf("CRL number %v with %d entries", crl.Number, len(crl.RevokedCertificateEntries))
	}
	for _, e := range crl.RevokedCertificateEntries {
		if !slices.Contains(wantSerials, formatSerial(e.SerialNumber)) || e.ReasonCode != 1 || !e.RevocationTime.Equal(tc.clock.Now()) {
			t.Fatalf("CRL entry %v reason %d at %v", e.SerialNumber, e.ReasonCode, e.RevocationTime)
		}
	}
	if !crl.ThisUpdate.Equal(tc.clock.Now()) || !crl.NextUpdate.Equal(tc.clock.Now().Add(DefaultCRLValidity)) {
		t.Fatalf("CRL times %v..%v", crl.ThisUpdate, crl.NextUpdate)
	}

	// The revoked identity can do nothing any more.
	before := tc.stateDigest()
	_, err = user.client.Reenroll(ctx, ReenrollRequest{CSR: csr})
	wantAPIError(t, err, 401, CodeCertificateRevoked)
	renewedClient := tc.client(&tls.Certificate{Certificate: [][]byte{renewed[0].Raw}, PrivateKey: key, Leaf: renewed[0]})
	_, err = renewedClient.Reenroll(ctx, ReenrollRequest{CSR: csr})
	wantAPIError(t, err, 401, CodeCertificateRevoked)
	if tc.stateDigest() != before {
		t.Fatal("a refused reenroll changed the state")
	}
	reg, err := tc.srv.st.registration("user1")
	if err != nil || !reg.Disabled {
		t.Fatalf("registration not disabled: %+v, %v", reg, err)
	}

	// Revoke one certificate by serial; twice is a conflict; unknown is 404.
	other := tc.registerAndEnroll(admin, RegisterRequest{EnrollmentID: "user2", Type: "client"})
	serial := strings.ToUpper(formatSerial(other.cert.SerialNumber))
	rev, err = admin.client.Revoke(ctx, RevokeRequest{Serial: serial, Reason: "superseded"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rev.Revoked, []string{formatSerial(other.cert.SerialNumber)}) {
		t.Fatalf("revoked %v", rev.Revoked)
	}
	if crl := parseCRL(t, tc, rev.CRL); crl.Number.Int64() != 3 || len(crl.RevokedCertificateEntries) != 3 {
		t.Fatalf("CRL number %v with %d entries", crl.Number, len(crl.RevokedCertificateEntries))
	}
	before = tc.stateDigest()
	_, err = admin.client.Revoke(ctx, RevokeRequest{Serial: serial})
	wantAPIError(t, err, 409, CodeAlreadyRevoked)
	_, err = admin.client.Revoke(ctx, RevokeRequest{Serial: "abc123"})
	wantAPIError(t, err, 404, CodeNotFound)
	_, err = admin.client.Revoke(ctx, RevokeRequest{EnrollmentID: "nobody"})
	wantAPIError(t, err, 404, CodeNotFound)
	if tc.stateDigest() != before {
		t.Fatal("a refused revoke changed the state")
	}
	// Revoking a certificate by serial leaves the registration usable for
	// its other certificates, but that certificate is refused.
	_, err = other.client.Reenroll(ctx, ReenrollRequest{CSR: csr})
	wantAPIError(t, err, 401, CodeCertificateRevoked)

	// gencrl makes the next CRL with the same entries; GET crl serves it.
	gen, err := admin.client.GenCRL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if crl := parseCRL(t, tc, gen.CRL); crl.Number.Int64() != 4 || len(crl.RevokedCertificateEntries) != 3 {
		t.Fatalf("gencrl number %v entries %d", crl.Number, len(crl.RevokedCertificateEntries))
	}
	public, err := tc.client(nil).CRL(ctx)
	if err != nil || public.CRL != gen.CRL {
		t.Fatalf("GET crl differs from gencrl's: %v", err)
	}
}

func TestExpiredCertificateCannotReenroll(t *testing.T) {
	tc := newTestCA(t, pki.ECDSAP256)
	admin := tc.admin()
	user := tc.registerAndEnroll(admin, RegisterRequest{EnrollmentID: "user1", Type: "client"})
	key, _ := pki.GenerateKey(pki.ECDSAP256)
	csr, _ := NewCSR(key, "user1")
	tc.clock.Advance(user.cert.NotAfter.Sub(tc.clock.Now()) + time.Second)
	before := tc.stateDigest()
	_, err := user.client.Reenroll(ctx, ReenrollRequest{CSR: csr})
	wantAPIError(t, err, 401, CodeCertificateExpired)
	if tc.stateDigest() != before {
		t.Fatal("a refused reenroll changed the state")
	}
}

func TestRestartKeepsState(t *testing.T) {
	tc := newTestCA(t, pki.ECDSAP256)
	admin := tc.admin()
	keep := tc.registerAndEnroll(admin, RegisterRequest{EnrollmentID: "keep", Type: "client", Attributes: map[string]string{pki.RoleAttribute: "Acquisition Officer"}})
	gone := tc.registerAndEnroll(admin, RegisterRequest{EnrollmentID: "gone", Type: "client"})
	pendingSecret := tc.register(admin, RegisterRequest{EnrollmentID: "pending", Type: "peer", Hosts: []string{"peer1.example"}})
	rev, err := admin.client.Revoke(ctx, RevokeRequest{EnrollmentID: "gone", Reason: "cessationOfOperation"})
	if err != nil {
		t.Fatal(err)
	}
	idsBefore, err := admin.client.Identities(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	digest := tc.stateDigest()

	tc.restart()
	admin.client = tc.client(admin.tls)
	keep.client = tc.client(keep.tls)
	gone.client = tc.client(gone.tls)

	if tc.stateDigest() != digest {
		t.Fatal("the database changed across a restart")
	}
	idsAfter, err := admin.client.Identities(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustJSON(t, idsBefore), mustJSON(t, idsAfter)) {
		t.Fatalf("identities differ after restart:\n%s\n%s", mustJSON(t, idsBefore), mustJSON(t, idsAfter))
	}
	crl, err := tc.client(nil).CRL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if crl.CRL != rev.CRL {
		t.Fatal("the CRL changed across a restart")
	}
	// Serials and revocations survive: the revoked identity stays refused,
	// the others still authenticate, the pending secret still works once.
	key, _ := pki.GenerateKey(pki.ECDSAP256)
	csr, _ := NewCSR(key, "x")
	_, err = gone.client.Reenroll(ctx, ReenrollRequest{CSR: csr})
	wantAPIError(t, err, 401, CodeCertificateRevoked)
	if _, err := keep.client.Reenroll(ctx, ReenrollRequest{CSR: csr}); err != nil {
		t.Fatal(err)
	}
	peer := tc.mustEnroll("pending", pendingSecret)
	if !slices.Equal(peer.cert.DNSNames, []string{"peer1.example"}) {
		t.Fatalf("peer SANs %v", peer.cert.DNSNames)
	}
	gen, err := admin.client.GenCRL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := parseCRL(t, tc, gen.CRL).Number.Int64(); n != 3 {
		t.Fatalf("CRL number after restart %d, want 3", n)
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	tc := newTestCA(t, pki.ECDSAP256)
	admin := tc.admin()
	secret := tc.register(admin, RegisterRequest{EnrollmentID: "user1", Type: "client"})
	key, _ := pki.GenerateKey(pki.ECDSAP256)
	goodCSR, _ := NewCSR(key, "user1")
	corruptCSR := bytes.Clone(goodCSR)
	corruptCSR[len(corruptCSR)-3] ^= 0xff
	enrollBody := func(csr []byte) []byte {
		return mustJSON(t, EnrollRequest{EnrollmentID: "user1", Secret: secret, CSR: csr})
	}
	huge := append([]byte(`{"enrollmentId":"x","type":"client","attributes":{"blossom.role":"`), bytes.Repeat([]byte("a"), DefaultMaxBodyBytes)...)
	huge = append(huge, `"}}`...)

	tests := []struct {
		name     string
		method   string
		path     string
		body     string
		noCert   bool
		status   int
		wantCode string
	}{
		{"malformed JSON", "POST", PathRegister, `{"enrollmentId":`, false, 400, CodeBadRequest},
		{"not an object", "POST", PathRegister, `[1,2]`, false, 400, CodeBadRequest},
		{"empty body", "POST", PathRegister, ``, false, 400, CodeBadRequest},
		{"trailing data", "POST", PathRegister, `{"enrollmentId":"a","type":"client"} {}`, false, 400, CodeBadRequest},
		{"unknown field", "POST", PathRegister, `{"enrollmentId":"a","type":"client","affiliation":"x"}`, false, 400, CodeBadRequest},
		{"wrong field type", "POST", PathRegister, `{"enrollmentId":"a","type":"client","maxEnrollments":"2"}`, false, 400, CodeBadRequest},
		{"oversized body", "POST", PathRegister, string(huge), false, 413, CodeBodyTooLarge},
		{"unknown attribute", "POST", PathRegister, `{"enrollmentId":"a","type":"client","attributes":{"hf.Revoker":"true"}}`, false, 400, CodeUnknownAttribute},
		{"bad attribute name", "POST", PathRegister, `{"enrollmentId":"a","type":"client","attributes":{"9":"x"}}`, false, 400, CodeBadRequest},
		{"bad role type", "POST", PathRegister, `{"enrollmentId":"a","type":"superuser"}`, false, 400, CodeBadRequest},
		{"bad enrollment ID", "POST", PathRegister, `{"enrollmentId":"a b","type":"client"}`, false, 400, CodeBadRequest},
		{"negative max enrollments", "POST", PathRegister, `{"enrollmentId":"a","type":"client","maxEnrollments":-1}`, false, 400, CodeBadRequest},
		{"secret TTL too long", "POST", PathRegister, `{"enrollmentId":"a","type":"client","secretTTL":"721h"}`, false, 400, CodeBadRequest},
		{"secret TTL not a duration", "POST", PathRegister, `{"enrollmentId":"a","type":"client","secretTTL":"tomorrow"}`, false, 400, CodeBadRequest},
		{"hosts for a user", "POST", PathRegister, `{"enrollmentId":"a","type":"client","hosts":["x.example"]}`, false, 400, CodeBadRequest},
		{"bad host", "POST", PathRegister, `{"enrollmentId":"a","type":"peer","hosts":["bad_host!"]}`, false, 400, CodeBadRequest},
		{"enroll malformed CSR", "POST", PathEnroll, string(enrollBody([]byte{0x30, 0x03, 1, 2, 3})), true, 400, CodeInvalidCSR},
		{"enroll CSR bad signature", "POST", PathEnroll, string(enrollBody(corruptCSR)), true, 400, CodeInvalidCSR},
		{"enroll CSR not base64", "POST", PathEnroll, `{"enrollmentId":"user1","secret":"x","csr":"!!!"}`, true, 400, CodeBadRequest},
		{"enroll no CSR", "POST", PathEnroll, `{"enrollmentId":"user1","secret":"x"}`, true, 400, CodeInvalidCSR},
		{"enroll unknown field", "POST", PathEnroll, `{"enrollmentId":"user1","secret":"x","csr":"","hosts":[]}`, true, 400, CodeBadRequest},
		{"enroll oversized", "POST", PathEnroll, string(huge), true, 413, CodeBodyTooLarge},
		{"reenroll malformed CSR", "POST", PathReenroll, `{"csr":"AAAA"}`, false, 400, CodeInvalidCSR},
		{"reenroll unknown field", "POST", PathReenroll, `{"csr":"AAAA","enrollmentId":"admin"}`, false, 400, CodeBadRequest},
		{"revoke both targets", "POST", PathRevoke, `{"enrollmentId":"user1","serial":"1"}`, false, 400, CodeBadRequest},
		{"revoke no target", "POST", PathRevoke, `{}`, false, 400, CodeBadRequest},
		{"revoke bad reason", "POST", PathRevoke, `{"enrollmentId":"user1","reason":"certificateHold"}`, false, 400, CodeBadRequest},
		{"revoke bad serial", "POST", PathRevoke, `{"serial":"xyz"}`, false, 400, CodeBadRequest},
		{"revoke malformed", "POST", PathRevoke, `{"serial":1}`, false, 400, CodeBadRequest},
		{"gencrl with fields", "POST", PathGenCRL, `{"number":5}`, false, 400, CodeBadRequest},
		{"wrong method", "GET", PathRegister, ``, false, 405, CodeMethodNotAllowed},
		{"unknown path", "POST", "/api/v1/affiliations", `{}`, false, 404, CodeNotFound},
		{"identities unknown query", "GET", PathIdentities + "?offset=3", ``, false, 400, CodeBadRequest},
		{"identities bad limit", "GET", PathIdentities + "?limit=100000", ``, false, 400, CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tc.stateDigest()
			var body []byte
			if tt.body != "" || tt.method == "POST" {
				body = []byte(tt.body)
			}
			cert := admin.tls
			if tt.noCert {
				cert = nil
			}
			status, eb := tc.raw(cert, tt.method, tt.path, body)
			if status != tt.status || eb.Error.Code != tt.wantCode {
				t.Fatalf("status %d code %s (%s), want %d %s", status, eb.Error.Code, eb.Error.Message, tt.status, tt.wantCode)
			}
			if strings.Contains(eb.Error.Message, secret) {
				t.Fatal("an error message contains the secret")
			}
			if tc.stateDigest() != before {
				t.Fatal("a refused request changed the state")
			}
		})
	}
	// The secret survived every refused enroll.
	tc.mustEnroll("user1", secret)
}

func TestIdentitiesList(t *testing.T) {
	tc := newTestCA(t, pki.ECDSAP256)
	admin := tc.admin()
	for i := range 5 {
		tc.register(admin, RegisterRequest{EnrollmentID: fmt.Sprintf("c%d", i), Type: "client", Attributes: map[string]string{pki.RoleAttribute: "r"}})
	}
	tc.register(admin, RegisterRequest{EnrollmentID: "p0", Type: "peer", Hosts: []string{"p0.example", "10.0.0.1"}})
	clientsOnly := tc.registerAndEnroll(admin, RegisterRequest{EnrollmentID: "reg", Type: "admin", Attributes: map[string]string{AttrRegistrarRoles: "client"}})

	var all []string
	after := ""
	for page := 0; ; page++ {
		resp, err := admin.client.Identities(ctx, after, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Identities) > 3 || page > 5 {
			t.Fatalf("page %d has %d identities", page, len(resp.Identities))
		}
		for _, id := range resp.Identities {
			all = append(all, id.EnrollmentID)
			if id.EnrollmentID == "p0" && !slices.Equal(id.Hosts, []string{"p0.example", "10.0.0.1"}) {
				t.Fatalf("p0 hosts %v", id.Hosts)
			}
		}
		if resp.Next == "" {
			break
		}
		after = resp.Next
	}
	want := []string{"admin", "c0", "c1", "c2", "c3", "c4", "p0", "reg"}
	if !slices.Equal(all, want) {
		t.Fatalf("identities %v, want %v", all, want)
	}
	resp, err := clientsOnly.client.Identities(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, id := range resp.Identities {
		seen = append(seen, id.EnrollmentID)
	}
	if !slices.Equal(seen, []string{"c0", "c1", "c2", "c3", "c4"}) {
		t.Fatalf("a client registrar sees %v", seen)
	}
	raw := mustJSON(t, resp)
	if bytes.Contains(raw, []byte("secretHash")) || bytes.Contains(raw, []byte("secretSalt")) {
		t.Fatal("identities expose secret hashes")
	}
}

func TestInstallAndInitRefusals(t *testing.T) {
	rootDir, otherRootDir := t.TempDir(), t.TempDir()
	rootCert, err := InitRoot(rootDir, RootOptions{Name: "root"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := InitRoot(rootDir, RootOptions{Name: "root"}); err == nil {
		t.Fatal("InitRoot overwrote a root")
	}
	otherRoot, err := InitRoot(otherRootDir, RootOptions{Name: "other"})
	if err != nil {
		t.Fatal(err)
	}
	dir, otherDir := t.TempDir(), t.TempDir()
	csr, err := Init(dir, testMSP, pki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Init(dir, testMSP, pki.ECDSAP256); err == nil {
		t.Fatal("Init overwrote a CA key")
	}
	if _, err := Init(t.TempDir(), "bad msp", pki.ECDSAP256); err == nil {
		t.Fatal("Init accepted a bad MSP ID")
	}
	otherCSR, err := Init(otherDir, "Agency2MSP", pki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := SignIntermediateCSR(rootDir, csr, 0)
	if err != nil {
		t.Fatal(err)
	}
	otherCertPEM, err := SignIntermediateCSR(rootDir, otherCSR, 0)
	if err != nil {
		t.Fatal(err)
	}
	rootPEM := pki.EncodeCertificatePEM(rootCert.Raw)
	if _, err := SignIntermediateCSR(rootDir, []byte("garbage"), 0); err == nil {
		t.Fatal("signed a garbage CSR")
	}
	tests := []struct {
		name    string
		cert    []byte
		root    []byte
		wantErr string
	}{
		{"another CA's certificate", otherCertPEM, rootPEM, "not for this CA's key"},
		{"wrong root", certPEM, pki.EncodeCertificatePEM(otherRoot.Raw), "does not verify"},
		{"not a certificate", []byte("x"), rootPEM, "no certificate"},
		{"two certificates", append(bytes.Clone(certPEM), certPEM...), rootPEM, "exactly one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Install(dir, tt.cert, tt.root, InstallOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Install error %v, want %q", err, tt.wantErr)
			}
			if _, err := os.Stat(filepath.Join(dir, CertFile)); !os.IsNotExist(err) {
				t.Fatal("a refused Install wrote ca-cert.pem")
			}
		})
	}
	if _, err := Open(Config{Dir: dir}); err == nil || !strings.Contains(err.Error(), "not installed") {
		t.Fatalf("Open of an uninstalled CA: %v", err)
	}
	if err := Install(dir, certPEM, rootPEM, InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := Install(dir, certPEM, rootPEM, InstallOptions{}); err == nil || !strings.Contains(err.Error(), "already installed") {
		t.Fatalf("second Install: %v", err)
	}
}

func TestReissueTLSForNewHosts(t *testing.T) {
	tc := newTestCA(t, pki.ECDSAP256)
	tc.stop()
	srv, err := Open(Config{Dir: tc.dir, TLSHosts: []string{"ca.agency1.example", "127.0.0.1"}, Logger: nil, Now: tc.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	leaf := srv.tlsCert.Load().Leaf
	if !slices.Equal(tlsHostsOf(leaf), []string{"127.0.0.1", "ca.agency1.example"}) {
		t.Fatalf("TLS hosts %v", tlsHostsOf(leaf))
	}
	if rec, err := srv.st.cert(leaf.SerialNumber); err != nil || rec.EnrollmentID != tlsServerOwner {
		t.Fatalf("new TLS certificate not recorded: %+v %v", rec, err)
	}
	srv.Close()
	// Same hosts again: no new certificate.
	srv, err = Open(Config{Dir: tc.dir, TLSHosts: []string{"127.0.0.1", "ca.agency1.example"}, Now: tc.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if srv.tlsCert.Load().Leaf.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Fatal("TLS certificate reissued for the same hosts")
	}
	srv.Close()
	tc.start()
	if err := tc.client(nil).Health(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestSerialsAndHosts(t *testing.T) {
	for _, tt := range []struct {
		in string
		ok bool
	}{{"1", true}, {"abcdef0123456789", true}, {strings.Repeat("f", 40), true}, {strings.Repeat("f", 41), false}, {"0", false}, {"", false}, {"-1", false}, {"xyz", false}} {
		_, err := parseSerial(tt.in)
		if (err == nil) != tt.ok {
			t.Fatalf("parseSerial(%q) = %v, want ok=%v", tt.in, err, tt.ok)
		}
	}
	s := new(big.Int).Lsh(big.NewInt(1), 127)
	back, err := parseSerial(formatSerial(s))
	if err != nil || back.Cmp(s) != 0 {
		t.Fatalf("serial round trip %v %v", back, err)
	}
	for _, tt := range []struct {
		hosts []string
		ok    bool
	}{
		{[]string{"a.example", "127.0.0.1", "::1", "localhost"}, true},
		{[]string{"-a.example"}, false},
		{[]string{"a..example"}, false},
		{[]string{"a_b"}, false},
		{[]string{strings.Repeat("a", 64)}, false},
		{[]string{"x", "x"}, false},
		{[]string{"X.example", "x.example"}, false},
		{[]string{"::1", "0:0:0:0:0:0:0:1"}, false},
		{make([]string, pki.MaxHosts+1), false},
	} {
		_, _, err := ParseHosts(tt.hosts)
		if (err == nil) != tt.ok {
			t.Fatalf("ParseHosts(%q) = %v, want ok=%v", tt.hosts, err, tt.ok)
		}
	}
}
