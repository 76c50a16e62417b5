package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

var algorithms = []KeyAlgorithm{ECDSAP256, Ed25519}

func newTestRoot(t testing.TB, alg KeyAlgorithm) *CA {
	t.Helper()
	root, err := NewRootCA(RootRequest{CommonName: "test consortium root CA", Organization: "test consortium", Algorithm: alg})
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func newTestIntermediate(t testing.TB, alg KeyAlgorithm, mspID string) *CA {
	t.Helper()
	root := newTestRoot(t, alg)
	key, csr, err := NewIntermediateCSR(mspID, alg)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := root.SignIntermediate(csr, 0, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return &CA{Cert: cert, Signer: key, Chain: []*x509.Certificate{root.Cert}}
}

func TestRootCA(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(string(alg), func(t *testing.T) {
			now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			root, err := NewRootCA(RootRequest{CommonName: "root", Organization: "consortium", Algorithm: alg, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			c := root.Cert
			if !c.IsCA || !c.BasicConstraintsValid || c.MaxPathLen != 1 {
				t.Fatalf("root constraints: IsCA=%v valid=%v maxPathLen=%d", c.IsCA, c.BasicConstraintsValid, c.MaxPathLen)
			}
			if c.KeyUsage&x509.KeyUsageCertSign == 0 || c.KeyUsage&x509.KeyUsageCRLSign == 0 {
				t.Fatalf("root key usage %v lacks cert/CRL signing", c.KeyUsage)
			}
			if c.Subject.CommonName != "root" || !slices.Equal(c.Subject.Organization, []string{"consortium"}) {
				t.Fatalf("root subject %v", c.Subject)
			}
			if !c.NotAfter.Equal(now.Add(DefaultRootValidity)) || !c.NotBefore.Equal(now.Add(-backdate)) {
				t.Fatalf("root validity %v..%v", c.NotBefore, c.NotAfter)
			}
			if err := c.CheckSignatureFrom(c); err != nil {
				t.Fatalf("root is not self-signed: %v", err)
			}
			if len(c.SubjectKeyId) != 20 {
				t.Fatalf("subject key ID length %d", len(c.SubjectKeyId))
			}
		})
	}
	if _, err := NewRootCA(RootRequest{}); err == nil {
		t.Fatal("root CA without a common name accepted")
	}
	if _, err := NewRootCA(RootRequest{CommonName: "x", Algorithm: "rsa"}); err == nil {
		t.Fatal("root CA with an unknown algorithm accepted")
	}
}

func TestIntermediateAndEndEntities(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(string(alg), func(t *testing.T) {
			root := newTestRoot(t, alg)
			key, csrDER, err := NewIntermediateCSR("Agency1MSP", alg)
			if err != nil {
				t.Fatal(err)
			}
			interCert, err := root.SignIntermediate(csrDER, 0, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if !interCert.IsCA || interCert.MaxPathLen != 0 || !interCert.MaxPathLenZero {
				t.Fatalf("intermediate constraints: IsCA=%v maxPathLen=%d zero=%v", interCert.IsCA, interCert.MaxPathLen, interCert.MaxPathLenZero)
			}
			if interCert.Subject.CommonName != "Agency1MSP CA" || !slices.Equal(interCert.Subject.Organization, []string{"Agency1MSP"}) {
				t.Fatalf("intermediate subject %v", interCert.Subject)
			}
			if !publicKeysEqual(t, interCert.PublicKey, key.Public()) {
				t.Fatal("intermediate certificate does not carry the CSR's key")
			}
			inter := &CA{Cert: interCert, Signer: key, Chain: []*x509.Certificate{root.Cert}}
			mspID, err := inter.MSPID()
			if err != nil || mspID != "Agency1MSP" {
				t.Fatalf("MSPID() = %q, %v", mspID, err)
			}

			roots := x509.NewCertPool()
			roots.AddCert(root.Cert)
			intermediates := x509.NewCertPool()
			intermediates.AddCert(interCert)

			tests := []struct {
				name     string
				role     Role
				attrs    map[string]string
				dns      []string
				ips      []net.IP
				wantEKUs []x509.ExtKeyUsage
			}{
				{"admin", RoleAdmin, nil, nil, nil, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
				{"client with role", RoleClient, map[string]string{RoleAttribute: "Authorizing Official"}, nil, nil, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
				{"peer", RolePeer, nil, []string{"peer0.agency1.example"}, []net.IP{net.ParseIP("127.0.0.1")}, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}},
				{"orderer", RoleOrderer, nil, []string{"orderer0"}, nil, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}},
				{"gateway", RoleGateway, map[string]string{"x": "y"}, nil, []net.IP{net.ParseIP("::1")}, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					eeKey, err := GenerateKey(alg)
					if err != nil {
						t.Fatal(err)
					}
					cert, err := inter.Issue(IssueRequest{PublicKey: eeKey.Public(), EnrollmentID: "id-" + tt.name[:3],
						Role: tt.role, Attributes: tt.attrs, DNSNames: tt.dns, IPAddresses: tt.ips})
					if err != nil {
						t.Fatal(err)
					}
					if cert.IsCA {
						t.Fatal("end-entity certificate is a CA")
					}
					wantSubject := pkix.Name{CommonName: "id-" + tt.name[:3], Organization: []string{"Agency1MSP"}, OrganizationalUnit: []string{string(tt.role)}}
					if cert.Subject.CommonName != wantSubject.CommonName ||
						!slices.Equal(cert.Subject.Organization, wantSubject.Organization) ||
						!slices.Equal(cert.Subject.OrganizationalUnit, wantSubject.OrganizationalUnit) {
						t.Fatalf("subject %v, want %v", cert.Subject, wantSubject)
					}
					if !slices.Equal(cert.ExtKeyUsage, tt.wantEKUs) {
						t.Fatalf("EKUs %v, want %v", cert.ExtKeyUsage, tt.wantEKUs)
					}
					if cert.KeyUsage != x509.KeyUsageDigitalSignature {
						t.Fatalf("key usage %v", cert.KeyUsage)
					}
					if !slices.Equal(cert.DNSNames, tt.dns) || len(cert.IPAddresses) != len(tt.ips) {
						t.Fatalf("SANs %v %v, want %v %v", cert.DNSNames, cert.IPAddresses, tt.dns, tt.ips)
					}
					for i := range tt.ips {
						if !cert.IPAddresses[i].Equal(tt.ips[i]) {
							t.Fatalf("IP SAN %v, want %v", cert.IPAddresses[i], tt.ips[i])
						}
					}
					attrs, err := CertificateAttributes(cert)
					if err != nil {
						t.Fatal(err)
					}
					if len(attrs) != len(tt.attrs) {
						t.Fatalf("attributes %v, want %v", attrs, tt.attrs)
					}
					for k, v := range tt.attrs {
						if attrs[k] != v {
							t.Fatalf("attribute %s = %q, want %q", k, attrs[k], v)
						}
					}
					for _, ext := range cert.Extensions {
						if ext.Id.Equal(AttributesOID) && ext.Critical {
							t.Fatal("attribute extension is critical")
						}
					}
					if !cert.NotAfter.After(time.Now().Add(364*24*time.Hour)) || cert.NotAfter.After(interCert.NotAfter) {
						t.Fatalf("notAfter %v", cert.NotAfter)
					}
					opts := x509.VerifyOptions{Roots: roots, Intermediates: intermediates, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
					if _, err := cert.Verify(opts); err != nil {
						t.Fatalf("client-auth chain does not verify: %v", err)
					}
					opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
					_, err = cert.Verify(opts)
					if tt.role.IsNode() && err != nil {
						t.Fatalf("node certificate does not verify for server auth: %v", err)
					}
					if !tt.role.IsNode() && err == nil {
						t.Fatal("user certificate verifies for server auth")
					}
					// Another consortium's root must not verify it.
					otherRoots := x509.NewCertPool()
					otherRoots.AddCert(newTestRoot(t, alg).Cert)
					if _, err := cert.Verify(x509.VerifyOptions{Roots: otherRoots, Intermediates: intermediates, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
						t.Fatal("certificate verifies against an unrelated root")
					}
				})
			}
		})
	}
}

func TestIssueRefusals(t *testing.T) {
	inter := newTestIntermediate(t, ECDSAP256, "Agency1MSP")
	key, err := GenerateKey(ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ok := IssueRequest{PublicKey: key.Public(), EnrollmentID: "u1", Role: RoleClient}
	tests := []struct {
		name    string
		mutate  func(*IssueRequest)
		wantErr string
	}{
		{"empty enrollment ID", func(r *IssueRequest) { r.EnrollmentID = "" }, "enrollment ID"},
		{"enrollment ID with space", func(r *IssueRequest) { r.EnrollmentID = "a b" }, "outside"},
		{"enrollment ID with comma", func(r *IssueRequest) { r.EnrollmentID = "a,O=x" }, "outside"},
		{"enrollment ID too long", func(r *IssueRequest) { r.EnrollmentID = strings.Repeat("a", 129) }, "1 to 128"},
		{"unknown role", func(r *IssueRequest) { r.Role = "root" }, "unknown role"},
		{"empty role", func(r *IssueRequest) { r.Role = "" }, "unknown role"},
		{"user role with DNS SAN", func(r *IssueRequest) { r.DNSNames = []string{"x"} }, "user role"},
		{"admin with IP SAN", func(r *IssueRequest) { r.Role = RoleAdmin; r.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)} }, "user role"},
		{"P-384 key", func(r *IssueRequest) { r.PublicKey = p384.Public() }, "unsupported ECDSA curve"},
		{"RSA key", func(r *IssueRequest) { r.PublicKey = rsaKey.Public() }, "unsupported public key type"},
		{"nil key", func(r *IssueRequest) { r.PublicKey = nil }, "unsupported public key type"},
		{"bad attribute", func(r *IssueRequest) { r.Attributes = map[string]string{"9x": ""} }, "start with a letter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := ok
			tt.mutate(&req)
			cert, err := inter.Issue(req)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Issue = %v, %v; want error containing %q", cert != nil, err, tt.wantErr)
			}
		})
	}
	if _, err := inter.Issue(ok); err != nil {
		t.Fatalf("baseline request refused: %v", err)
	}
	// A CA whose certificate names no single organization cannot issue.
	root := newTestRoot(t, ECDSAP256)
	noOrg := &CA{Cert: &x509.Certificate{Subject: pkix.Name{CommonName: "x"}}, Signer: root.Signer}
	if _, err := noOrg.Issue(ok); err == nil || !strings.Contains(err.Error(), "organization") {
		t.Fatalf("CA without organization: %v", err)
	}
}

func TestIssueValidityAndSerial(t *testing.T) {
	inter := newTestIntermediate(t, Ed25519, "M")
	key, err := GenerateKey(Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	cert, err := inter.Issue(IssueRequest{PublicKey: key.Public(), EnrollmentID: "u", Role: RoleClient,
		Validity: time.Hour, Now: now, Serial: big.NewInt(42)})
	if err != nil {
		t.Fatal(err)
	}
	if cert.SerialNumber.Cmp(big.NewInt(42)) != 0 {
		t.Fatalf("serial %v, want 42", cert.SerialNumber)
	}
	if !cert.NotAfter.Equal(now.Add(time.Hour)) || !cert.NotBefore.Equal(now.Add(-backdate)) {
		t.Fatalf("validity %v..%v", cert.NotBefore, cert.NotAfter)
	}
	// Validity longer than the issuer's is clamped to the issuer's notAfter.
	long, err := inter.Issue(IssueRequest{PublicKey: key.Public(), EnrollmentID: "u", Role: RoleClient, Validity: 3 * DefaultRootValidity})
	if err != nil {
		t.Fatal(err)
	}
	if !long.NotAfter.Equal(inter.Cert.NotAfter) {
		t.Fatalf("notAfter %v not clamped to issuer's %v", long.NotAfter, inter.Cert.NotAfter)
	}
	for range 20 {
		s, err := RandomSerial()
		if err != nil {
			t.Fatal(err)
		}
		if s.Sign() <= 0 || s.BitLen() > 128 {
			t.Fatalf("serial %v out of range", s)
		}
	}
}

func TestSignIntermediateRefusals(t *testing.T) {
	root := newTestRoot(t, ECDSAP256)
	key, err := GenerateKey(ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	csrWith := func(subject pkix.Name) []byte {
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subject}, key)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	_, good, err := NewIntermediateCSR("Agency1MSP", ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	tampered := append([]byte{}, good...)
	tampered[len(tampered)-1] ^= 0xff
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaCSR, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{Organization: []string{"M"}}}, rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		csr     []byte
		wantErr string
	}{
		{"empty", nil, "malformed CSR"},
		{"garbage", []byte{1, 2, 3}, "malformed CSR"},
		{"too large", make([]byte, 64<<10+1), "larger than 64 KiB"},
		{"bad signature", tampered, "signature"},
		{"RSA key", rsaCSR, "unsupported public key type"},
		{"no organization", csrWith(pkix.Name{CommonName: "x"}), "exactly one organization"},
		{"two organizations", csrWith(pkix.Name{Organization: []string{"A", "B"}}), "exactly one organization"},
		{"bad MSP ID", csrWith(pkix.Name{Organization: []string{"Agency 1"}}), "MSP ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert, err := root.SignIntermediate(tt.csr, 0, time.Time{})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("SignIntermediate = %v, %v; want error containing %q", cert != nil, err, tt.wantErr)
			}
		})
	}
	// An intermediate never outlives its root.
	cert, err := root.SignIntermediate(good, 3*DefaultRootValidity, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if !cert.NotAfter.Equal(root.Cert.NotAfter) {
		t.Fatalf("intermediate notAfter %v not clamped to root's %v", cert.NotAfter, root.Cert.NotAfter)
	}
	if _, _, err := NewIntermediateCSR("bad msp", ECDSAP256); err == nil {
		t.Fatal("NewIntermediateCSR accepted a bad MSP ID")
	}
}

func TestCreateCRL(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(string(alg), func(t *testing.T) {
			inter := newTestIntermediate(t, alg, "Agency1MSP")
			now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
			revoked := []RevokedCertificate{
				{Serial: big.NewInt(7), RevokedAt: now.Add(-time.Hour), Reason: 1},
				{Serial: new(big.Int).Lsh(big.NewInt(1), 126), RevokedAt: now.Add(-time.Minute), Reason: 0},
			}
			for _, tc := range []struct {
				name    string
				revoked []RevokedCertificate
				number  int64
			}{
				{"empty", nil, 1},
				{"two entries", revoked, 2},
			} {
				t.Run(tc.name, func(t *testing.T) {
					der, err := inter.CreateCRL(tc.revoked, big.NewInt(tc.number), now, now.Add(24*time.Hour))
					if err != nil {
						t.Fatal(err)
					}
					crl, err := x509.ParseRevocationList(der)
					if err != nil {
						t.Fatal(err)
					}
					if err := crl.CheckSignatureFrom(inter.Cert); err != nil {
						t.Fatalf("CRL does not verify against the CA: %v", err)
					}
					if err := crl.CheckSignatureFrom(newTestIntermediate(t, alg, "Agency2MSP").Cert); err == nil {
						t.Fatal("CRL verifies against another CA")
					}
					if crl.Number.Int64() != tc.number {
						t.Fatalf("CRL number %v, want %d", crl.Number, tc.number)
					}
					if !crl.ThisUpdate.Equal(now) || !crl.NextUpdate.Equal(now.Add(24*time.Hour)) {
						t.Fatalf("CRL times %v..%v", crl.ThisUpdate, crl.NextUpdate)
					}
					if len(crl.RevokedCertificateEntries) != len(tc.revoked) {
						t.Fatalf("%d entries, want %d", len(crl.RevokedCertificateEntries), len(tc.revoked))
					}
					for i, e := range crl.RevokedCertificateEntries {
						want := tc.revoked[i]
						if e.SerialNumber.Cmp(want.Serial) != 0 || !e.RevocationTime.Equal(want.RevokedAt) || e.ReasonCode != want.Reason {
							t.Fatalf("entry %d = %v %v %d, want %v %v %d", i, e.SerialNumber, e.RevocationTime, e.ReasonCode, want.Serial, want.RevokedAt, want.Reason)
						}
					}
				})
			}
		})
	}
}

func TestIssueCAServerTLS(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(string(alg), func(t *testing.T) {
			inter := newTestIntermediate(t, alg, "Agency1MSP")
			key, err := GenerateKey(alg)
			if err != nil {
				t.Fatal(err)
			}
			cert, err := inter.IssueCAServerTLS(CAServerTLSRequest{PublicKey: key.Public(),
				DNSNames: []string{"localhost", "ca.agency1.example"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(cert.Subject.OrganizationalUnit, []string{CAServerOU}) || !slices.Equal(cert.Subject.Organization, []string{"Agency1MSP"}) {
				t.Fatalf("subject %v", cert.Subject)
			}
			if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
				t.Fatalf("EKUs %v", cert.ExtKeyUsage)
			}
			roots := x509.NewCertPool()
			roots.AddCert(inter.Chain[0])
			intermediates := x509.NewCertPool()
			intermediates.AddCert(inter.Cert)
			if _, err := cert.Verify(x509.VerifyOptions{DNSName: "ca.agency1.example", Roots: roots, Intermediates: intermediates}); err != nil {
				t.Fatalf("server certificate does not verify: %v", err)
			}
			if _, err := cert.Verify(x509.VerifyOptions{DNSName: "other.example", Roots: roots, Intermediates: intermediates}); err == nil {
				t.Fatal("server certificate verifies for a host it does not name")
			}
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: intermediates, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
				t.Fatal("CA server certificate verifies for client auth")
			}
		})
	}
	inter := newTestIntermediate(t, ECDSAP256, "M")
	key, _ := GenerateKey(ECDSAP256)
	if _, err := inter.IssueCAServerTLS(CAServerTLSRequest{PublicKey: key.Public()}); err == nil {
		t.Fatal("CA server certificate without hosts accepted")
	}
	many := make([]string, MaxHosts+1)
	for i := range many {
		many[i] = "h"
	}
	if _, err := inter.IssueCAServerTLS(CAServerTLSRequest{PublicKey: key.Public(), DNSNames: many}); err == nil {
		t.Fatal("CA server certificate with too many hosts accepted")
	}
}

func TestNamesAndRoles(t *testing.T) {
	for _, r := range Roles {
		got, err := ParseRole(string(r))
		if err != nil || got != r {
			t.Fatalf("ParseRole(%q) = %q, %v", r, got, err)
		}
	}
	nodes := map[Role]bool{RolePeer: true, RoleOrderer: true, RoleGateway: true}
	for _, r := range Roles {
		if r.IsNode() != nodes[r] {
			t.Fatalf("%s.IsNode() = %v", r, r.IsNode())
		}
	}
	for _, bad := range []string{"", "Admin", "ca", "member", "admin "} {
		if _, err := ParseRole(bad); err == nil {
			t.Fatalf("ParseRole(%q) accepted", bad)
		}
	}
	tests := []struct {
		name     string
		validate func(string) error
		in       string
		ok       bool
	}{
		{"msp ok", ValidateMSPID, "Agency1MSP", true},
		{"msp dots", ValidateMSPID, "a.b_c-d", true},
		{"msp 64", ValidateMSPID, strings.Repeat("m", 64), true},
		{"msp 65", ValidateMSPID, strings.Repeat("m", 65), false},
		{"msp empty", ValidateMSPID, "", false},
		{"msp space", ValidateMSPID, "a b", false},
		{"msp slash", ValidateMSPID, "a/b", false},
		{"id email-like", ValidateEnrollmentID, "u.1@agency", true},
		{"id 128", ValidateEnrollmentID, strings.Repeat("i", 128), true},
		{"id 129", ValidateEnrollmentID, strings.Repeat("i", 129), false},
		{"id empty", ValidateEnrollmentID, "", false},
		{"id equals", ValidateEnrollmentID, "CN=x", false},
		{"id unicode", ValidateEnrollmentID, "usér", false},
		{"id newline", ValidateEnrollmentID, "a\nb", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.validate(tt.in); (err == nil) != tt.ok {
				t.Fatalf("validate(%q) = %v, want ok=%v", tt.in, err, tt.ok)
			}
		})
	}
}
