package binding_test

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/gateway/binding"
	"github.com/blossom-ledger/blossom/internal/gateway/binding/bindingtest"
	"github.com/blossom-ledger/blossom/internal/gateway/wallet"
	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/pki"
)

const (
	msp    = "Agency1MSP"
	issuer = "https://idp.agency1.example"
)

type fixture struct {
	ca     *bindingtest.CA
	svc    *binding.Service
	wallet *wallet.Wallet
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ca := bindingtest.Start(t, msp, nil)
	key := make([]byte, wallet.KEKSize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	kek, err := wallet.NewAESKEK(key)
	if err != nil {
		t.Fatal(err)
	}
	w, err := wallet.Open(t.TempDir(), kek, wallet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	svc, err := binding.Open(binding.Config{Dir: t.TempDir(), CA: ca.Gateway, Wallet: w, MSPID: msp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return &fixture{ca: ca, svc: svc, wallet: w}
}

func TestFirstSignInEnrollsOnlyWhenApproved(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	before := f.ca.EnrollmentIDs()

	// Unapproved: refused, nothing registered at the CA, nothing bound.
	claims := binding.Claims{Issuer: issuer, Subject: "sub-ao", Role: "Authorizing Official", HasRole: true}
	if _, err := f.svc.Resolve(ctx, claims); !errors.Is(err, binding.ErrNotApproved) {
		t.Fatalf("unapproved Resolve: %v, want ErrNotApproved", err)
	}
	if got := f.ca.EnrollmentIDs(); !slices.Equal(got, before) {
		t.Fatalf("an unapproved sign-in registered %v at the CA", got)
	}
	if _, err := f.svc.Lookup(issuer, "sub-ao"); !errors.Is(err, binding.ErrNotBound) {
		t.Fatalf("Lookup after refusal: %v", err)
	}

	// Approved for another role: refused likewise.
	if err := f.svc.Approve(binding.Approval{Issuer: issuer, Subject: "sub-ao", Role: "License Owner", ApprovedBy: "admin"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Resolve(ctx, claims); !errors.Is(err, binding.ErrNotApproved) {
		t.Fatalf("Resolve with another approved role: %v", err)
	}
	if got := f.ca.EnrollmentIDs(); !slices.Equal(got, before) {
		t.Fatal("a role-mismatched sign-in registered at the CA")
	}

	// Approved with the right role: enrolled through the real CA.
	if err := f.svc.Approve(binding.Approval{Issuer: issuer, Subject: "sub-ao", Role: "Authorizing Official", ApprovedBy: "admin"}); err != nil {
		t.Fatal(err)
	}
	b, err := f.svc.Resolve(ctx, claims)
	if err != nil {
		t.Fatalf("approved Resolve: %v", err)
	}
	if !strings.HasPrefix(b.EnrollmentID, "u") || len(b.EnrollmentID) != 25 || strings.Contains(b.EnrollmentID, "ao") && len(b.EnrollmentID) < 10 {
		t.Fatalf("enrollment ID %q is not opaque", b.EnrollmentID)
	}
	if b.Role != "Authorizing Official" || b.Status != binding.StatusActive || b.Type != pki.RoleClient {
		t.Fatalf("binding %+v", b)
	}
	after := f.ca.EnrollmentIDs()
	if !slices.Contains(after, b.EnrollmentID) || len(after) != len(before)+1 {
		t.Fatalf("CA registrations %v, want %v plus %s", after, before, b.EnrollmentID)
	}
	// The wallet holds a key for a certificate the member's MSP accepts,
	// with the role attribute and the recorded serial.
	signer, err := f.wallet.Signer(b.EnrollmentID)
	if err != nil {
		t.Fatal(err)
	}
	id, err := f.ca.Manager().Check(identity.Request{Cert: signer.Certificate().Raw, Roles: identity.AnyRole, Usage: identity.UsageSign, At: time.Now()})
	if err != nil {
		t.Fatalf("enrolled certificate: %v", err)
	}
	if role, _ := id.Attribute(pki.RoleAttribute); role != "Authorizing Official" || id.EnrollmentID() != b.EnrollmentID || signer.Certificate().SerialNumber.Text(16) != b.Serial {
		t.Fatalf("certificate role %q id %s serial %s", role, id.EnrollmentID(), b.Serial)
	}
	sig, err := signer.Sign([]byte("m"))
	if err != nil || id.Verify([]byte("m"), sig) != nil {
		t.Fatalf("wallet key does not sign for the certificate: %v", err)
	}

	// The second sign-in finds the binding; the approval was consumed.
	b2, err := f.svc.Resolve(ctx, claims)
	if err != nil || b2.EnrollmentID != b.EnrollmentID {
		t.Fatalf("second Resolve: %v %+v", err, b2)
	}
	if got := f.ca.EnrollmentIDs(); len(got) != len(after) {
		t.Fatal("second sign-in enrolled again")
	}
	// A later role change at the IdP is refused until re-approved.
	changed := claims
	changed.Role = "License Owner"
	if _, err := f.svc.Resolve(ctx, changed); !errors.Is(err, binding.ErrRoleMismatch) {
		t.Fatalf("changed role: %v", err)
	}
	// Lookups by enrollment ID and serial.
	if got, err := f.svc.BySerial(b.Serial); err != nil || got.EnrollmentID != b.EnrollmentID {
		t.Fatalf("BySerial: %v", err)
	}
}

func TestApprovalByVerifiedEmail(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.svc.Approve(binding.Approval{Issuer: issuer, Email: "ACQ@agency1.example", Role: "Acquisition Officer"}); err != nil {
		t.Fatal(err)
	}
	unverified := binding.Claims{Issuer: issuer, Subject: "s1", Email: "acq@agency1.example", Role: "Acquisition Officer", HasRole: true}
	if _, err := f.svc.Resolve(ctx, unverified); !errors.Is(err, binding.ErrNotApproved) {
		t.Fatalf("unverified e-mail: %v", err)
	}
	otherIssuer := binding.Claims{Issuer: "https://other.example", Subject: "s1", Email: "acq@agency1.example", EmailVerified: true}
	if _, err := f.svc.Resolve(ctx, otherIssuer); !errors.Is(err, binding.ErrNotApproved) {
		t.Fatalf("another issuer's identity: %v", err)
	}
	verified := unverified
	verified.EmailVerified = true
	b, err := f.svc.Resolve(ctx, verified)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.EnrollmentID, "acq") {
		t.Fatalf("enrollment ID %q reveals the address", b.EnrollmentID)
	}
	// The approval is spent: another subject with the same address is refused.
	again := verified
	again.Subject = "s2"
	if _, err := f.svc.Resolve(ctx, again); !errors.Is(err, binding.ErrNotApproved) {
		t.Fatalf("second subject with a used approval: %v", err)
	}
	// A token without a role claim takes the approved role.
	if err := f.svc.Approve(binding.Approval{Issuer: issuer, Subject: "s3", Role: "Technical Point of Contact"}); err != nil {
		t.Fatal(err)
	}
	b3, err := f.svc.Resolve(ctx, binding.Claims{Issuer: issuer, Subject: "s3"})
	if err != nil || b3.Role != "Technical Point of Contact" {
		t.Fatalf("role from approval: %v %+v", err, b3)
	}
}

func TestDisableRevokes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.svc.Approve(binding.Approval{Issuer: issuer, Subject: "sub", Role: "Acquisition Officer"}); err != nil {
		t.Fatal(err)
	}
	claims := binding.Claims{Issuer: issuer, Subject: "sub", Role: "Acquisition Officer", HasRole: true}
	b, err := f.svc.Resolve(ctx, claims)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := f.wallet.Certificate(b.EnrollmentID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.svc.Disable(ctx, b.EnrollmentID, "")
	if err != nil {
		t.Fatalf("Disable: %v", err)
	}
	if !slices.Contains(res.Revoked, b.Serial) || len(res.CRL) == 0 {
		t.Fatalf("Disable revoked %v, CRL %d bytes", res.Revoked, len(res.CRL))
	}
	crl := bindingtest.ParseCRLPEM(t, string(res.CRL))
	if err := crl.CheckSignatureFrom(f.ca.Inter); err != nil {
		t.Fatalf("CRL signature: %v", err)
	}
	listed := false
	for _, e := range crl.RevokedCertificateEntries {
		listed = listed || e.SerialNumber.Cmp(cert.SerialNumber) == 0
	}
	if !listed {
		t.Fatal("the returned CRL does not list the certificate")
	}
	if _, err := f.svc.Resolve(ctx, claims); !errors.Is(err, binding.ErrDisabled) {
		t.Fatalf("Resolve after Disable: %v", err)
	}
	if _, err := f.wallet.Signer(b.EnrollmentID); !errors.Is(err, wallet.ErrNotFound) {
		t.Fatalf("key still in the wallet: %v", err)
	}
	// The MSP refuses the certificate with the new CRL.
	if _, err := f.ca.Manager().Check(identity.Request{Cert: cert.Raw, Roles: identity.AnyRole, Usage: identity.UsageSign, At: time.Now()}); !errors.Is(err, identity.ErrRevoked) {
		t.Fatalf("revoked certificate: %v", err)
	}
	// Disabling again is harmless.
	if _, err := f.svc.Disable(ctx, b.EnrollmentID, ""); err != nil {
		t.Fatalf("second Disable: %v", err)
	}
	if _, err := f.svc.Disable(ctx, "u-nobody", ""); !errors.Is(err, binding.ErrNotFound) {
		t.Fatalf("Disable unknown: %v", err)
	}
}

func TestApproveValidation(t *testing.T) {
	f := newFixture(t)
	tests := []binding.Approval{
		{Subject: "s"},
		{Issuer: issuer},
		{Issuer: issuer, Subject: "s", Email: "e@x"},
		{Issuer: issuer, Subject: "s\n"},
		{Issuer: issuer, Subject: "s", Type: pki.RolePeer},
		{Issuer: issuer, Subject: "s", Role: strings.Repeat("r", 2000)},
	}
	for i, a := range tests {
		if err := f.svc.Approve(a); err == nil {
			t.Errorf("case %d: Approve accepted %+v", i, a)
		}
	}
}
