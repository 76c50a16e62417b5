package identity_test

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
)

// The three benchmarks share one setup so that one run measures the cost
// of the identity layer against a raw ECDSA verification of the same
// message: the cached path should cost less than 10% more than raw verify.

type benchSetup struct {
	mgr  *identity.Manager
	cred *testpki.Credential
	msg  []byte
	sig  []byte
	at   time.Time
}

func newBenchSetup(b *testing.B) benchSetup {
	b.Helper()
	c := testpki.NewConsortium(b, "Org1MSP", "Org2MSP", "Org3MSP")
	cred := c.Member("Org2MSP").Issue(pki.RoleClient, "user0", map[string]string{pki.RoleAttribute: "Authorizing Official"})
	msg := make([]byte, 1024) // a typical proposal
	for i := range msg {
		msg[i] = byte(i)
	}
	sig, err := cred.Signer.Sign(msg)
	if err != nil {
		b.Fatal(err)
	}
	s := benchSetup{mgr: c.Manager(), cred: cred, msg: msg, sig: sig, at: time.Now()}
	if _, err := s.mgr.Validate("Org2MSP", cred.Cert.Raw, identity.AnyRole, s.at); err != nil { // warm the cache
		b.Fatal(err)
	}
	return s
}

// BenchmarkValidateWarmCache: Validate of a certificate already validated.
func BenchmarkValidateWarmCache(b *testing.B) {
	s := newBenchSetup(b)
	roles := identity.Roles(pki.RoleClient)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.mgr.Validate("Org2MSP", s.cred.Cert.Raw, roles, s.at); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyThroughIdentity: what a validator does per signature:
// Validate from the warm cache, then Identity.Verify.
func BenchmarkVerifyThroughIdentity(b *testing.B) {
	s := newBenchSetup(b)
	roles := identity.Roles(pki.RoleClient)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id, err := s.mgr.Validate("Org2MSP", s.cred.Cert.Raw, roles, s.at)
		if err != nil {
			b.Fatal(err)
		}
		if err := id.Verify(s.msg, s.sig); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawECDSAVerify: SHA-256 of the same message and
// ecdsa.VerifyASN1, the floor for any signature check.
func BenchmarkRawECDSAVerify(b *testing.B) {
	s := newBenchSetup(b)
	pub := s.cred.Cert.PublicKey.(*ecdsa.PublicKey)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		digest := sha256.Sum256(s.msg)
		if !ecdsa.VerifyASN1(pub, digest[:], s.sig) {
			b.Fatal("signature does not verify")
		}
	}
}

// BenchmarkIdentityOverheadPaired alternates the two paths of
// BenchmarkVerifyThroughIdentity and BenchmarkRawECDSAVerify in one loop and
// reports their ratio, so that load from other processes on a shared
// machine hits both alike. ns/op covers one of each.
func BenchmarkIdentityOverheadPaired(b *testing.B) {
	s := newBenchSetup(b)
	roles := identity.Roles(pki.RoleClient)
	pub := s.cred.Cert.PublicKey.(*ecdsa.PublicKey)
	var through, raw time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		id, err := s.mgr.Validate("Org2MSP", s.cred.Cert.Raw, roles, s.at)
		if err != nil {
			b.Fatal(err)
		}
		if err := id.Verify(s.msg, s.sig); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		digest := sha256.Sum256(s.msg)
		if !ecdsa.VerifyASN1(pub, digest[:], s.sig) {
			b.Fatal("signature does not verify")
		}
		t2 := time.Now()
		through += t1.Sub(t0)
		raw += t2.Sub(t1)
	}
	b.ReportMetric(float64(through)/float64(raw), "identity/raw")
}

// BenchmarkValidateColdCache: a full validation (parse, chain, CRL) of a
// certificate not seen before, for comparison.
func BenchmarkValidateColdCache(b *testing.B) {
	c := testpki.NewConsortium(b, "Org1MSP")
	cred := c.Member("Org1MSP").Issue(pki.RoleClient, "user0", nil)
	at := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		mgr := c.Manager() // empty cache
		b.StartTimer()
		if _, err := mgr.Validate("Org1MSP", cred.Cert.Raw, identity.AnyRole, at); err != nil {
			b.Fatal(err)
		}
	}
}
