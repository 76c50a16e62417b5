package identity_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
)

func TestValidateAcceptsMemberIdentity(t *testing.T) {
	c := testpki.NewConsortium(t, "Org1MSP", "Org2MSP")
	attrs := map[string]string{pki.RoleAttribute: "Authorizing Official", "agency": "GSA"}
	for _, alg := range []pki.KeyAlgorithm{pki.ECDSAP256, pki.Ed25519} {
		t.Run(string(alg), func(t *testing.T) {
			cred := c.Member("Org2MSP").Issue(pki.RoleClient, "user-42", attrs, testpki.Options{Algorithm: alg})
			mgr := c.Manager()
			id, err := mgr.Validate("Org2MSP", cred.Cert.Raw, identity.Roles(pki.RoleClient), time.Now())
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if id.MSPID() != "Org2MSP" || id.EnrollmentID() != "user-42" || id.Role() != pki.RoleClient {
				t.Fatalf("identity = %s", id)
			}
			if v, ok := id.Attribute(pki.RoleAttribute); !ok || v != "Authorizing Official" {
				t.Fatalf("attribute = %q, %v", v, ok)
			}
			if _, ok := id.Attribute("missing"); ok {
				t.Fatal("missing attribute reported present")
			}
			got := id.Attributes()
			got["agency"] = "changed"
			if v, _ := id.Attribute("agency"); v != "GSA" {
				t.Fatal("Attributes returned the identity's own map")
			}
			if len(id.ID()) != 64 || id.Certificate() != nil && !id.Certificate().Equal(cred.Cert) {
				t.Fatalf("ID %q / certificate mismatch", id.ID())
			}
			// Identify finds the same member by chain.
			id2, err := mgr.Identify(cred.Cert.Raw, time.Now())
			if err != nil || id2.MSPID() != "Org2MSP" || id2.ID() != id.ID() {
				t.Fatalf("Identify = %v, %v", id2, err)
			}
		})
	}
}

// TestValidateErrors walks every refusal of Validate / Check.
func TestValidateErrors(t *testing.T) {
	c := testpki.NewConsortium(t, "Org1MSP", "Org2MSP")
	org1 := c.Member("Org1MSP")
	stranger := testpki.NewConsortium(t, "Org1MSP").Member("Org1MSP") // another root CA

	now := time.Now()
	peer := org1.Issue(pki.RolePeer, "peer0", nil)
	admin := org1.Issue(pki.RoleAdmin, "admin0", nil)
	client := org1.Issue(pki.RoleClient, "user0", nil)
	revoked := org1.Issue(pki.RoleClient, "user-revoked", nil)
	org1.Revoke(revoked.Cert)
	expired := org1.Issue(pki.RoleClient, "user-old", nil, testpki.Options{Now: now.Add(-48 * time.Hour), Validity: time.Hour})
	future := org1.Issue(pki.RoleClient, "user-future", nil, testpki.Options{Now: now.Add(48 * time.Hour)})
	foreign := stranger.Issue(pki.RolePeer, "peer0", nil)
	beforeCA := org1.Issue(pki.RoleClient, "user-early", nil, testpki.Options{Now: now.Add(-2 * testpki.CABackdate), Validity: time.Hour})

	key := newKey(t, pki.ECDSAP256)
	claimsOrg2 := craft(t, org1, key, func(c *x509.Certificate) { c.Subject.Organization = []string{"Org2MSP"} })
	claimsNobody := craft(t, org1, key, func(c *x509.Certificate) { c.Subject.Organization = []string{"NobodyMSP"} })
	noOU := craft(t, org1, key, func(c *x509.Certificate) { c.Subject.OrganizationalUnit = nil })
	badOU := craft(t, org1, key, func(c *x509.Certificate) { c.Subject.OrganizationalUnit = []string{"wizard"} })
	twoO := craft(t, org1, key, func(c *x509.Certificate) { c.Subject.Organization = []string{"Org1MSP", "Org2MSP"} })
	badCN := craft(t, org1, key, func(c *x509.Certificate) { c.Subject.CommonName = "has space" })
	badAttrs := craft(t, org1, key, func(c *x509.Certificate) {
		c.ExtraExtensions = []pkix.Extension{{Id: pki.AttributesOID, Value: []byte{0x30, 0x03, 0x01}}}
	})
	serverOnly := craft(t, org1, key, func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} })
	noDigitalSig := craft(t, org1, key, func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageKeyEncipherment })
	outlivesCA := craft(t, org1, key, func(c *x509.Certificate) {
		c.NotBefore = org1.CA.Cert.NotAfter.Add(-time.Hour)
		c.NotAfter = org1.CA.Cert.NotAfter.Add(time.Hour)
	})
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384Cert := craft(t, org1, p384, nil)

	// A member whose intermediate the root revoked.
	org3 := c.AddMember("Org3MSP")
	org3peer := org3.Issue(pki.RolePeer, "peer0", nil)
	rootCRL, err := c.Root.CreateCRL([]pki.RevokedCertificate{{Serial: org3.CA.Cert.SerialNumber, RevokedAt: now}}, big.NewInt(1), now.Add(-time.Minute), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	parsedRootCRL, err := x509.ParseRevocationList(rootCRL)
	if err != nil {
		t.Fatal(err)
	}
	cfgs := c.MSPConfigs()
	for i := range cfgs {
		if cfgs[i].ID == "Org3MSP" {
			cfgs[i].CRLs = append(cfgs[i].CRLs, parsedRootCRL)
		}
	}
	mgr, err := identity.NewManager(cfgs)
	if err != nil {
		t.Fatal(err)
	}

	peers := identity.Roles(pki.RolePeer)
	tests := []struct {
		name    string
		req     identity.Request
		want    error
		message string // substring of the error message
	}{
		{"valid peer", identity.Request{MSPID: "Org1MSP", Cert: peer.Cert.Raw, Roles: peers}, nil, ""},
		{"valid peer as TLS server", identity.Request{MSPID: "Org1MSP", Cert: peer.Cert.Raw, Roles: peers, Usage: identity.UsageTLSServer}, nil, ""},
		{"valid client as TLS client", identity.Request{Cert: client.Cert.Raw, Roles: identity.AnyRole, Usage: identity.UsageTLSClient}, nil, ""},
		{"unknown MSP", identity.Request{MSPID: "Org9MSP", Cert: peer.Cert.Raw, Roles: peers}, identity.ErrUnknownMSP, "Org9MSP is not a member"},
		{"empty certificate", identity.Request{MSPID: "Org1MSP", Roles: peers}, identity.ErrMalformed, "empty"},
		{"oversized certificate", identity.Request{MSPID: "Org1MSP", Cert: make([]byte, identity.MaxCertificateSize+1), Roles: peers}, identity.ErrMalformed, "larger than"},
		{"garbage DER", identity.Request{MSPID: "Org1MSP", Cert: []byte{0x30, 0x03, 0x02, 0x01, 0x01}, Roles: peers}, identity.ErrMalformed, "does not parse"},
		{"CA certificate", identity.Request{MSPID: "Org1MSP", Cert: org1.CA.Cert.Raw, Roles: identity.AnyRole}, identity.ErrMalformed, "CA certificate"},
		{"no OU", identity.Request{MSPID: "Org1MSP", Cert: noOU.Raw, Roles: identity.AnyRole}, identity.ErrMalformed, "organizational unit"},
		{"unknown role OU", identity.Request{MSPID: "Org1MSP", Cert: badOU.Raw, Roles: identity.AnyRole}, identity.ErrMalformed, "wizard"},
		{"two organizations", identity.Request{MSPID: "Org1MSP", Cert: twoO.Raw, Roles: identity.AnyRole}, identity.ErrMalformed, "exactly one organization"},
		{"bad enrollment ID", identity.Request{MSPID: "Org1MSP", Cert: badCN.Raw, Roles: identity.AnyRole}, identity.ErrMalformed, "enrollment ID"},
		{"malformed attributes", identity.Request{MSPID: "Org1MSP", Cert: badAttrs.Raw, Roles: identity.AnyRole}, identity.ErrMalformed, "attributes"},
		{"P-384 key", identity.Request{MSPID: "Org1MSP", Cert: p384Cert.Raw, Roles: identity.AnyRole}, identity.ErrMalformed, "P-384"},
		{"presented as another member", identity.Request{MSPID: "Org2MSP", Cert: peer.Cert.Raw, Roles: peers}, identity.ErrMSPMismatch, "certificate names Org1MSP, not Org2MSP"},
		{"issued by Org1 claiming Org2 (validate)", identity.Request{MSPID: "Org2MSP", Cert: claimsOrg2.Raw, Roles: peers}, identity.ErrMSPMismatch, "certificate claims Org2MSP but chains to Org1MSP"},
		{"issued by Org1 claiming Org2 (identify)", identity.Request{Cert: claimsOrg2.Raw, Roles: peers}, identity.ErrMSPMismatch, "certificate claims Org2MSP but chains to Org1MSP"},
		{"claims a non-member", identity.Request{Cert: claimsNobody.Raw, Roles: peers}, identity.ErrMSPMismatch, "certificate claims NobodyMSP but chains to Org1MSP"},
		{"expired", identity.Request{MSPID: "Org1MSP", Cert: expired.Cert.Raw, Roles: identity.AnyRole}, identity.ErrExpired, "certificate expired at"},
		{"not yet valid", identity.Request{MSPID: "Org1MSP", Cert: future.Cert.Raw, Roles: identity.AnyRole}, identity.ErrExpired, "not valid before"},
		{"valid at an earlier block time", identity.Request{MSPID: "Org1MSP", Cert: expired.Cert.Raw, Roles: identity.AnyRole, At: expired.Cert.NotBefore.Add(time.Minute)}, nil, ""},
		{"CA expired before the leaf", identity.Request{MSPID: "Org1MSP", Cert: outlivesCA.Raw, Roles: identity.AnyRole, At: org1.CA.Cert.NotAfter.Add(time.Minute)}, identity.ErrExpired, "CA certificate in the chain to Org1MSP is not valid"},
		{"CA not yet valid", identity.Request{MSPID: "Org1MSP", Cert: beforeCA.Cert.Raw, Roles: identity.AnyRole, At: beforeCA.Cert.NotBefore.Add(time.Minute)}, identity.ErrExpired, "CA certificate in the chain to Org1MSP is not valid"},
		{"unknown CA", identity.Request{MSPID: "Org1MSP", Cert: foreign.Cert.Raw, Roles: peers}, identity.ErrChain, "does not chain to Org1MSP's CA"},
		{"unknown CA (identify)", identity.Request{Cert: foreign.Cert.Raw, Roles: peers}, identity.ErrChain, "does not chain to Org1MSP's CA"},
		{"client as TLS server", identity.Request{Cert: client.Cert.Raw, Roles: identity.AnyRole, Usage: identity.UsageTLSServer}, identity.ErrKeyUsage, "not valid for TLS server authentication"},
		{"node without clientAuth as TLS server", identity.Request{Cert: serverOnly.Raw, Roles: peers, Usage: identity.UsageTLSServer}, identity.ErrKeyUsage, "lacks client authentication"},
		{"node without clientAuth as TLS client", identity.Request{Cert: serverOnly.Raw, Roles: peers, Usage: identity.UsageTLSClient}, identity.ErrKeyUsage, "TLS client authentication"},
		{"no digital signature key usage", identity.Request{Cert: noDigitalSig.Raw, Roles: peers}, identity.ErrKeyUsage, "digital signature"},
		{"revoked", identity.Request{MSPID: "Org1MSP", Cert: revoked.Cert.Raw, Roles: identity.AnyRole}, identity.ErrRevoked, "certificate revoked by Org1MSP CRL (serial " + revoked.Cert.SerialNumber.Text(16) + ")"},
		{"intermediate revoked by the root", identity.Request{MSPID: "Org3MSP", Cert: org3peer.Cert.Raw, Roles: peers}, identity.ErrRevoked, "issuing CA certificate \"Org3MSP CA\" revoked by Org3MSP CRL"},
		{"admin acting as peer", identity.Request{MSPID: "Org1MSP", Cert: admin.Cert.Raw, Roles: peers}, identity.ErrRoleMismatch, "role admin not allowed (want peer)"},
		{"client where peer or orderer wanted", identity.Request{Cert: client.Cert.Raw, Roles: identity.Roles(pki.RolePeer, pki.RoleOrderer)}, identity.ErrRoleMismatch, "role client not allowed (want peer, orderer)"},
		{"empty role set", identity.Request{MSPID: "Org1MSP", Cert: peer.Cert.Raw}, identity.ErrRoleMismatch, "want none"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.req.At.IsZero() {
				tc.req.At = now
			}
			// Twice: the second call may come from the cache and must
			// give the same answer.
			for i := 0; i < 2; i++ {
				id, err := mgr.Check(tc.req)
				if tc.want == nil {
					if err != nil || id == nil {
						t.Fatalf("call %d: Check = %v, %v; want success", i, id, err)
					}
					continue
				}
				if !errors.Is(err, tc.want) {
					t.Fatalf("call %d: Check error = %v; want %v", i, err, tc.want)
				}
				if id != nil {
					t.Fatalf("call %d: Check returned an identity with error %v", i, err)
				}
				if !strings.Contains(err.Error(), tc.message) {
					t.Fatalf("call %d: error %q does not contain %q", i, err, tc.message)
				}
				var ierr *identity.Error
				if !errors.As(err, &ierr) || ierr.Kind != tc.want {
					t.Fatalf("call %d: error %v is not an *identity.Error of kind %v", i, err, tc.want)
				}
			}
		})
	}
}

// TestCachedIdentityStillExpires: a cached success is re-checked against
// the time of each call.
func TestCachedIdentityStillExpires(t *testing.T) {
	c := testpki.NewConsortium(t, "Org1MSP")
	now := time.Now()
	cred := c.Member("Org1MSP").Issue(pki.RoleClient, "user0", nil, testpki.Options{Now: now, Validity: time.Hour})
	mgr := c.Manager()
	if _, err := mgr.Validate("Org1MSP", cred.Cert.Raw, identity.AnyRole, now); err != nil {
		t.Fatal(err)
	}
	if _, err := mgr.Validate("Org1MSP", cred.Cert.Raw, identity.AnyRole, now.Add(2*time.Hour)); !errors.Is(err, identity.ErrExpired) {
		t.Fatalf("after expiry: %v; want ErrExpired", err)
	}
	if _, err := mgr.Validate("Org1MSP", cred.Cert.Raw, identity.AnyRole, now.Add(-time.Hour)); !errors.Is(err, identity.ErrExpired) {
		t.Fatalf("before validity: %v; want ErrExpired", err)
	}
	if _, err := mgr.Validate("Org1MSP", cred.Cert.Raw, identity.AnyRole, now.Add(30*time.Minute)); err != nil {
		t.Fatalf("within validity again: %v", err)
	}
}

// TestRevocationNeedsNewManager: a Manager is a snapshot; a new one built
// with the new CRL refuses the certificate at once.
func TestRevocationNeedsNewManager(t *testing.T) {
	c := testpki.NewConsortium(t, "Org1MSP", "Org2MSP")
	org1 := c.Member("Org1MSP")
	cred := org1.Issue(pki.RolePeer, "peer0", nil)
	other := org1.Issue(pki.RolePeer, "peer1", nil)
	old := c.Manager()
	if _, err := old.Validate("Org1MSP", cred.Cert.Raw, identity.AnyRole, time.Now()); err != nil {
		t.Fatal(err)
	}
	org1.Revoke(cred.Cert)
	if _, err := old.Validate("Org1MSP", cred.Cert.Raw, identity.AnyRole, time.Now()); err != nil {
		t.Fatalf("old snapshot changed: %v", err)
	}
	fresh := c.Manager()
	if _, err := fresh.Validate("Org1MSP", cred.Cert.Raw, identity.AnyRole, time.Now()); !errors.Is(err, identity.ErrRevoked) {
		t.Fatalf("new manager: %v; want ErrRevoked", err)
	}
	if _, err := fresh.Validate("Org1MSP", other.Cert.Raw, identity.AnyRole, time.Now()); err != nil {
		t.Fatalf("unrevoked certificate: %v", err)
	}
}

// TestSameSerialOtherIssuerNotRevoked: CRL entries are keyed by issuer and
// serial, so Org1 revoking serial S does not revoke Org2's certificate S.
func TestSameSerialOtherIssuerNotRevoked(t *testing.T) {
	c := testpki.NewConsortium(t, "Org1MSP", "Org2MSP")
	key := newKey(t, pki.ECDSAP256)
	serial := big.NewInt(4242)
	a := craft(t, c.Member("Org1MSP"), key, func(x *x509.Certificate) { x.SerialNumber = serial })
	b := craft(t, c.Member("Org2MSP"), key, func(x *x509.Certificate) { x.SerialNumber = serial })
	c.Member("Org1MSP").Revoke(a)
	mgr := c.Manager()
	if _, err := mgr.Identify(a.Raw, time.Now()); !errors.Is(err, identity.ErrRevoked) {
		t.Fatalf("Org1 certificate: %v; want ErrRevoked", err)
	}
	if _, err := mgr.Identify(b.Raw, time.Now()); err != nil {
		t.Fatalf("Org2 certificate with the same serial: %v", err)
	}
}

func TestConcurrentValidation(t *testing.T) {
	c := testpki.NewConsortium(t, "Org1MSP", "Org2MSP")
	var creds []*testpki.Credential
	for i := 0; i < 8; i++ {
		creds = append(creds, c.Member("Org2MSP").Issue(pki.RoleClient, "user"+string(rune('a'+i)), nil))
	}
	mgr := c.Manager()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				cred := creds[(g+i)%len(creds)]
				id, err := mgr.Validate("Org2MSP", cred.Cert.Raw, identity.AnyRole, time.Now())
				if err != nil {
					errs <- err
					return
				}
				if id.EnrollmentID() != cred.Cert.Subject.CommonName {
					errs <- errors.New("wrong identity from cache")
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestRoleSet(t *testing.T) {
	s := identity.Roles(pki.RoleOrderer, pki.RolePeer, pki.Role("bogus"))
	if !s.Has(pki.RolePeer) || !s.Has(pki.RoleOrderer) || s.Has(pki.RoleAdmin) || s.Has("bogus") {
		t.Fatalf("set %v", s)
	}
	if s.String() != "peer, orderer" {
		t.Fatalf("String = %q", s)
	}
	for _, r := range pki.Roles {
		if !identity.AnyRole.Has(r) {
			t.Fatalf("AnyRole lacks %s", r)
		}
	}
	if identity.RoleSet(0).String() != "none" {
		t.Fatal("empty set")
	}
}

func TestStaleCRLs(t *testing.T) {
	c := testpki.NewConsortium(t, "Org1MSP")
	org1 := c.Member("Org1MSP")
	org1.Revoke(org1.Issue(pki.RoleClient, "u", nil).Cert)
	mgr := c.Manager()
	if got := mgr.StaleCRLs(time.Now()); len(got) != 0 {
		t.Fatalf("fresh CRL reported stale: %v", got)
	}
	got := mgr.StaleCRLs(time.Now().Add(48 * time.Hour))
	if len(got) != 1 || !strings.Contains(got[0], "Org1MSP CRL number 1") {
		t.Fatalf("StaleCRLs = %v", got)
	}
	if ids := mgr.MSPIDs(); len(ids) != 1 || ids[0] != "Org1MSP" || !mgr.HasMember("Org1MSP") || mgr.HasMember("x") {
		t.Fatalf("members %v", ids)
	}
}
