// Package binding ties sign-in identities to ledger identities at a
// member's gateway: an explicit table from an OIDC identity (issuer,
// subject) to the opaque enrollment ID, role and certificate the gateway
// signs with for that user, and the member administrator's approvals that
// decide who may get such a binding.
//
// # First sign-in
//
// Resolve looks the identity up. If it is not bound yet, it is enrolled only
// if an approval names it (issuer and subject, or issuer and a verified
// e-mail address) with the role its token carries: the gateway registers a
// fresh opaque enrollment ID ("u" and 24 random hex digits, never a name or
// an address, since every member sees certificate subjects) at the member
// CA with the approved role as the blossom.role attribute, generates the key
// itself, enrolls with a CSR, seals the key in the wallet and records the
// binding. The approval is consumed. Without an approval nothing is
// registered, enrolled or stored, and Resolve returns ErrNotApproved.
//
// # Every request
//
// Callers resolve the binding on every request (a Pebble point read), so
// disabling takes effect at once: Disable marks the binding disabled before
// anything else, then revokes the enrollment ID's certificates at the CA
// and returns the CA's new CRL, which the member publishes to the channel
// configuration (another component's job). Sessions and still-valid tokens
// of a disabled user are refused on their next request.
//
// # Storage
//
// A Pebble database in the configured directory holds bindings (keyed by a
// digest of issuer and subject), an index by enrollment ID and by
// certificate serial, and approvals. No key or secret is stored here.
package binding

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/blossom-ledger/blossom/internal/caserver"
	"github.com/blossom-ledger/blossom/internal/gateway/wallet"
	"github.com/blossom-ledger/blossom/internal/pki"
)

// Status of a binding.
type Status string

const (
	StatusActive   Status = "active"
	StatusDisabled Status = "disabled"
)

// Errors callers test with errors.Is.
var (
	ErrNotBound     = errors.New("binding: identity not bound")
	ErrNotApproved  = errors.New("binding: identity not approved for this member")
	ErrDisabled     = errors.New("binding: identity disabled")
	ErrRoleMismatch = errors.New("binding: the identity provider's role differs from the approved role")
	ErrNotFound     = errors.New("binding: not found")
)

// Binding is one row of the binding table.
type Binding struct {
	Issuer       string    `json:"issuer"`
	Subject      string    `json:"subject"`
	EnrollmentID string    `json:"enrollmentId"`
	Type         pki.Role  `json:"type"` // certificate role type (OU)
	Role         string    `json:"role"` // blossom.role ("" for none)
	Serial       string    `json:"serial"`
	Status       Status    `json:"status"`
	Revoked      bool      `json:"revoked"` // the CA revoked the certificate
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
}

// Approval lets one identity be enrolled on its first sign-in. Exactly one
// of Subject and Email is set; an e-mail approval matches only a token whose
// email_verified claim is true.
type Approval struct {
	Issuer     string    `json:"issuer"`
	Subject    string    `json:"subject,omitempty"`
	Email      string    `json:"email,omitempty"`
	Type       pki.Role  `json:"type"` // default client
	Role       string    `json:"role"`
	ApprovedBy string    `json:"approvedBy"`
	ApprovedAt time.Time `json:"approvedAt"`
}

// Claims are what a verified token says about its subject.
type Claims struct {
	Issuer        string
	Subject       string
	Email         string
	EmailVerified bool
	// Role is the role claim's value; HasRole says whether the token
	// carried the claim at all (providers without role claims leave roles
	// to the approval).
	Role    string
	HasRole bool
}

// Config configures a Service.
type Config struct {
	// Dir holds the Pebble database (created mode 0700).
	Dir string
	// CA is a client of the member CA authenticated as a registrar that
	// may register client identities with the blossom.role attribute and
	// revoke them.
	CA *caserver.Client
	// Wallet receives the keys the gateway generates for its users.
	Wallet *wallet.Wallet
	// KeyAlgorithm of user keys; default ECDSA P-256.
	KeyAlgorithm pki.KeyAlgorithm
	// MSPID is the member's MSP ID; enrolled certificates must name it.
	MSPID  string
	Now    func() time.Time
	Logger *slog.Logger
}

const (
	maxFieldLen   = 1024
	maxRecordSize = 64 << 10
)

// Service is the binding table and the enrollment on first sign-in. It is
// safe for concurrent use.
type Service struct {
	cfg      Config
	db       *pebble.DB
	logger   *slog.Logger
	now      func() time.Time
	enrollMu sync.Mutex // one first-sign-in enrollment at a time

	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if needed) the binding database.
func Open(cfg Config) (*Service, error) {
	if cfg.Dir == "" || cfg.CA == nil || cfg.Wallet == nil {
		return nil, errors.New("binding: Dir, CA and Wallet are required")
	}
	if err := pki.ValidateMSPID(cfg.MSPID); err != nil {
		return nil, fmt.Errorf("binding: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	db, err := pebble.Open(cfg.Dir, &pebble.Options{Logger: pebbleLogger{cfg.Logger}})
	if err != nil {
		return nil, fmt.Errorf("binding: open database: %w", err)
	}
	return &Service{cfg: cfg, db: db, logger: cfg.Logger, now: cfg.Now}, nil
}

// Close closes the database; later calls return the first call's result.
func (s *Service) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.db.Close() })
	return s.closeErr
}

// Keys.
func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func bindingKey(issuer, subject string) []byte { return []byte("b/" + digest(issuer, subject)) }
func enrollmentKey(id string) []byte           { return []byte("e/" + id) }
func serialKey(serial string) []byte           { return []byte("s/" + serial) }
func subjectApprovalKey(issuer, subject string) []byte {
	return []byte("a/" + digest(issuer, "sub", subject))
}
func emailApprovalKey(issuer, email string) []byte {
	return []byte("a/" + digest(issuer, "email", strings.ToLower(email)))
}

func checkText(what, s string, required bool) error {
	if s == "" {
		if required {
			return fmt.Errorf("binding: %s is required", what)
		}
		return nil
	}
	if len(s) > maxFieldLen {
		return fmt.Errorf("binding: %s longer than %d bytes", what, maxFieldLen)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("binding: %s contains a control character", what)
		}
	}
	return nil
}

// Approve records an approval (replacing one for the same identity).
func (s *Service) Approve(a Approval) error {
	if err := checkText("issuer", a.Issuer, true); err != nil {
		return err
	}
	if (a.Subject == "") == (a.Email == "") {
		return errors.New("binding: an approval names exactly one of subject and e-mail")
	}
	for _, f := range []struct{ what, v string }{{"subject", a.Subject}, {"e-mail", a.Email}, {"role", a.Role}, {"approver", a.ApprovedBy}} {
		if err := checkText(f.what, f.v, false); err != nil {
			return err
		}
	}
	if a.Type == "" {
		a.Type = pki.RoleClient
	}
	if a.Type != pki.RoleClient && a.Type != pki.RoleAdmin {
		return fmt.Errorf("binding: approvals are for user types client or admin, not %q", a.Type)
	}
	if a.Role != "" {
		if err := pki.ValidateAttributes(map[string]string{pki.RoleAttribute: a.Role}); err != nil {
			return fmt.Errorf("binding: role: %w", err)
		}
	}
	a.ApprovedAt = s.now().UTC()
	key := subjectApprovalKey(a.Issuer, a.Subject)
	if a.Email != "" {
		key = emailApprovalKey(a.Issuer, a.Email)
	}
	return s.setJSON(key, a)
}

// RevokeApproval removes an approval not yet used; removing an absent one
// is not an error.
func (s *Service) RevokeApproval(issuer, subject, email string) error {
	key := subjectApprovalKey(issuer, subject)
	if email != "" {
		key = emailApprovalKey(issuer, email)
	}
	return s.db.Delete(key, pebble.Sync)
}

// Lookup returns the binding of (issuer, subject), or ErrNotBound.
func (s *Service) Lookup(issuer, subject string) (*Binding, error) {
	var b Binding
	if err := s.getJSON(bindingKey(issuer, subject), &b); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, ErrNotBound
		}
		return nil, err
	}
	return &b, nil
}

// ByEnrollmentID returns the binding of an enrollment ID, or ErrNotFound.
func (s *Service) ByEnrollmentID(id string) (*Binding, error) {
	key, err := s.get(enrollmentKey(id))
	if err != nil {
		return nil, err
	}
	var b Binding
	if err := s.getJSON(key, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// BySerial returns the binding whose certificate has serial (lowercase hex),
// or ErrNotFound.
func (s *Service) BySerial(serial string) (*Binding, error) {
	id, err := s.get(serialKey(serial))
	if err != nil {
		return nil, err
	}
	return s.ByEnrollmentID(string(id))
}

// Active returns the active binding of (issuer, subject): ErrNotBound,
// ErrDisabled, or ErrRoleMismatch if the token's role differs from the
// bound role.
func (s *Service) Active(c Claims) (*Binding, error) {
	b, err := s.Lookup(c.Issuer, c.Subject)
	if err != nil {
		return nil, err
	}
	if b.Status != StatusActive {
		return b, ErrDisabled
	}
	if c.HasRole && c.Role != b.Role {
		return b, ErrRoleMismatch
	}
	return b, nil
}

// Resolve returns the active binding of the identity in c, enrolling it
// first if it is not bound yet and an approval allows it (see the package
// documentation). Errors: ErrNotApproved, ErrDisabled, ErrRoleMismatch, or
// a CA or storage failure.
func (s *Service) Resolve(ctx context.Context, c Claims) (*Binding, error) {
	if err := checkText("issuer", c.Issuer, true); err != nil {
		return nil, err
	}
	if err := checkText("subject", c.Subject, true); err != nil {
		return nil, err
	}
	b, err := s.Active(c)
	if !errors.Is(err, ErrNotBound) {
		return b, err
	}
	s.enrollMu.Lock()
	defer s.enrollMu.Unlock()
	// Another request may have enrolled it while this one waited.
	if b, err := s.Active(c); !errors.Is(err, ErrNotBound) {
		return b, err
	}
	approval, approvalKey, err := s.findApproval(c)
	if err != nil {
		return nil, err
	}
	if c.HasRole && c.Role != approval.Role {
		s.logger.Warn("binding: refused first sign-in: role differs from approval", "issuer", c.Issuer, "subject", c.Subject)
		return nil, ErrNotApproved
	}
	return s.enroll(ctx, c, approval, approvalKey)
}

// findApproval finds the approval for c by subject, then by verified e-mail.
func (s *Service) findApproval(c Claims) (*Approval, []byte, error) {
	var a Approval
	key := subjectApprovalKey(c.Issuer, c.Subject)
	err := s.getJSON(key, &a)
	if errors.Is(err, ErrNotFound) && c.Email != "" && c.EmailVerified {
		key = emailApprovalKey(c.Issuer, c.Email)
		err = s.getJSON(key, &a)
	}
	if errors.Is(err, ErrNotFound) {
		s.logger.Warn("binding: refused first sign-in: not approved", "issuer", c.Issuer, "subject", c.Subject)
		return nil, nil, ErrNotApproved
	}
	if err != nil {
		return nil, nil, err
	}
	return &a, key, nil
}

// newEnrollmentID returns "u" and 24 random hex digits.
func newEnrollmentID() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "u" + hex.EncodeToString(b), nil
}

func (s *Service) enroll(ctx context.Context, c Claims, a *Approval, approvalKey []byte) (*Binding, error) {
	id, err := newEnrollmentID()
	if err != nil {
		return nil, err
	}
	var attrs map[string]string
	if a.Role != "" {
		attrs = map[string]string{pki.RoleAttribute: a.Role}
	}
	userType := a.Type
	if userType == "" {
		userType = pki.RoleClient
	}
	reg, err := s.cfg.CA.Register(ctx, caserver.RegisterRequest{
		EnrollmentID: id, Type: string(userType), Attributes: attrs, MaxEnrollments: 1, SecretTTL: "10m",
	})
	if err != nil {
		return nil, fmt.Errorf("binding: register %s at the member CA: %w", id, err)
	}
	cert, key, err := s.enrollKey(ctx, id, reg.Secret)
	if err != nil {
		s.abandon(id)
		return nil, err
	}
	if err := s.cfg.Wallet.Put(id, key, cert); err != nil {
		s.abandon(id)
		return nil, fmt.Errorf("binding: store key of %s: %w", id, err)
	}
	now := s.now().UTC()
	b := &Binding{
		Issuer: c.Issuer, Subject: c.Subject, EnrollmentID: id, Type: userType, Role: a.Role,
		Serial: cert.SerialNumber.Text(16), Status: StatusActive, CreatedAt: now, UpdatedAt: now,
	}
	batch := s.db.NewBatch()
	defer batch.Close()
	data, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	bk := bindingKey(c.Issuer, c.Subject)
	if err := errors.Join(
		batch.Set(bk, data, nil),
		batch.Set(enrollmentKey(id), bk, nil),
		batch.Set(serialKey(b.Serial), []byte(id), nil),
		batch.Delete(approvalKey, nil),
	); err != nil {
		return nil, err
	}
	if err := batch.Commit(pebble.Sync); err != nil {
		_ = s.cfg.Wallet.Delete(id)
		s.abandon(id)
		return nil, fmt.Errorf("binding: record binding: %w", err)
	}
	s.logger.Info("binding: enrolled on first sign-in", "issuer", c.Issuer, "subject", c.Subject, "enrollmentId", id, "role", a.Role, "serial", b.Serial)
	return b, nil
}

// enrollKey generates a key in the gateway and enrolls it with a CSR; it
// checks that the certificate is for that key, enrollment ID and member.
func (s *Service) enrollKey(ctx context.Context, id, secret string) (*x509.Certificate, crypto.Signer, error) {
	key, err := pki.GenerateKey(s.cfg.KeyAlgorithm)
	if err != nil {
		return nil, nil, err
	}
	csr, err := caserver.NewCSR(key, id)
	if err != nil {
		return nil, nil, err
	}
	resp, err := s.cfg.CA.Enroll(ctx, caserver.EnrollRequest{EnrollmentID: id, Secret: secret, CSR: csr})
	if err != nil {
		return nil, nil, fmt.Errorf("binding: enroll %s at the member CA: %w", id, err)
	}
	certs, err := pki.ParseCertificatesPEM([]byte(resp.Certificate))
	if err != nil || len(certs) != 1 {
		return nil, nil, fmt.Errorf("binding: enroll %s: the CA answered no single certificate", id)
	}
	cert := certs[0]
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) || cert.Subject.CommonName != id ||
		len(cert.Subject.Organization) != 1 || cert.Subject.Organization[0] != s.cfg.MSPID {
		return nil, nil, fmt.Errorf("binding: enroll %s: the CA issued a certificate for another key, name or member", id)
	}
	return cert, key, nil
}

// abandon revokes a half-enrolled identity, best effort, so that its
// registration cannot be used.
func (s *Service) abandon(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.cfg.CA.Revoke(ctx, caserver.RevokeRequest{EnrollmentID: id, Reason: "cessationOfOperation"}); err != nil {
		s.logger.Warn("binding: could not revoke abandoned enrollment", "enrollmentId", id, "error", err.Error())
	}
}

// DisableResult is what Disable did.
type DisableResult struct {
	Binding *Binding
	// Revoked lists the certificate serials the CA revoked now.
	Revoked []string
	// CRL is the CA's new CRL (PEM) to publish to the channel
	// configuration; nil if the CA had already revoked everything.
	CRL []byte
}

// Disable disables the binding of an enrollment ID at once, then revokes
// its certificates at the CA and deletes its key from the wallet. If the
// CA cannot be reached the binding stays disabled (every request is
// refused) and Disable returns the error; calling it again retries the
// revocation.
func (s *Service) Disable(ctx context.Context, enrollmentID, reason string) (*DisableResult, error) {
	bk, err := s.get(enrollmentKey(enrollmentID))
	if err != nil {
		return nil, err
	}
	var b Binding
	if err := s.getJSON(bk, &b); err != nil {
		return nil, err
	}
	if b.Status != StatusDisabled {
		b.Status = StatusDisabled
		b.UpdatedAt = s.now().UTC()
		if err := s.setJSON(bk, b); err != nil {
			return nil, err
		}
		s.logger.Info("binding: disabled", "enrollmentId", enrollmentID, "issuer", b.Issuer, "subject", b.Subject)
	}
	res := &DisableResult{Binding: &b}
	if b.Revoked {
		return res, nil
	}
	if reason == "" {
		reason = "cessationOfOperation"
	}
	resp, err := s.cfg.CA.Revoke(ctx, caserver.RevokeRequest{EnrollmentID: enrollmentID, Reason: reason})
	var apiErr *caserver.APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.Code == caserver.CodeAlreadyRevoked:
	case err != nil:
		return res, fmt.Errorf("binding: %s is disabled, but revoking its certificate failed: %w", enrollmentID, err)
	default:
		res.Revoked = resp.Revoked
		res.CRL = []byte(resp.CRL)
	}
	b.Revoked = true
	b.UpdatedAt = s.now().UTC()
	if err := s.setJSON(bk, b); err != nil {
		return res, err
	}
	if err := s.cfg.Wallet.Delete(enrollmentID); err != nil {
		return res, fmt.Errorf("binding: delete key of %s: %w", enrollmentID, err)
	}
	s.logger.Info("binding: certificate revoked", "enrollmentId", enrollmentID, "serials", strings.Join(res.Revoked, ","))
	return res, nil
}

func (s *Service) get(key []byte) ([]byte, error) {
	value, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return bytes.Clone(value), nil
}

func (s *Service) getJSON(key []byte, v any) error {
	data, err := s.get(key)
	if err != nil {
		return err
	}
	return decodeRecord(data, v)
}

// decodeRecord parses a stored record strictly.
func decodeRecord(data []byte, v any) error {
	if len(data) > maxRecordSize {
		return errors.New("binding: stored record too large")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil || dec.More() {
		return errors.New("binding: corrupt stored record")
	}
	return nil
}

func (s *Service) setJSON(key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.db.Set(key, data, pebble.Sync)
}

type pebbleLogger struct{ logger *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.logger.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.logger.Error("pebble: " + fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	l.logger.Error("pebble: fatal: " + fmt.Sprintf(format, args...))
	os.Exit(1)
}
