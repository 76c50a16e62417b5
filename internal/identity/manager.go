package identity

import (
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/blossom-ledger/blossom/internal/pki"
)

// Usage is what a certificate is presented for; it selects the extended key
// usages its chain must allow.
type Usage uint8

const (
	// UsageSign: signing proposals, transactions, blocks or config updates.
	// Extended key usages are not checked (user certificates carry client
	// authentication only, yet sign transactions).
	UsageSign Usage = iota
	// UsageTLSClient: the client side of mutual TLS; needs clientAuth.
	UsageTLSClient
	// UsageTLSServer: the server side of TLS; needs serverAuth, and a node
	// certificate (peer, orderer, gateway) must also allow clientAuth since
	// nodes dial each other with the same certificate.
	UsageTLSServer
)

func (u Usage) String() string {
	switch u {
	case UsageSign:
		return "signing"
	case UsageTLSClient:
		return "TLS client authentication"
	case UsageTLSServer:
		return "TLS server authentication"
	}
	return fmt.Sprintf("usage(%d)", u)
}

func (u Usage) extKeyUsages() []x509.ExtKeyUsage {
	switch u {
	case UsageTLSClient:
		return []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	case UsageTLSServer:
		return []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	return []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
}

// RoleSet is a set of role types a caller accepts. The zero RoleSet accepts
// none: say AnyRole to accept every role.
type RoleSet uint8

// AnyRole accepts every role type.
var AnyRole = Roles(pki.Roles...)

// Roles returns the set of the given roles. Unknown roles are ignored.
func Roles(roles ...pki.Role) RoleSet {
	var s RoleSet
	for _, r := range roles {
		if i := slices.Index(pki.Roles, r); i >= 0 {
			s |= 1 << i
		}
	}
	return s
}

// Has reports whether r is in the set.
func (s RoleSet) Has(r pki.Role) bool {
	i := slices.Index(pki.Roles, r)
	return i >= 0 && s&(1<<i) != 0
}

// String lists the roles, e.g. "peer, orderer".
func (s RoleSet) String() string {
	var names []string
	for i, r := range pki.Roles {
		if s&(1<<i) != 0 {
			names = append(names, string(r))
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// Request is one validation: a certificate, the member it is presented as
// (or "" to find the member by chain), the roles acceptable, its use and
// the time to check validity at.
type Request struct {
	MSPID string
	Cert  []byte // DER
	Roles RoleSet
	Usage Usage
	At    time.Time
}

// Manager validates identities against an immutable set of members. It is
// safe for concurrent use. Build a new Manager when the configuration
// changes; its cache starts empty, so new CRLs apply at once.
type Manager struct {
	members map[string]*member
	ids     []string // sorted member IDs
	cache   *identityCache
}

type member struct {
	id            string
	roots         *x509.CertPool
	intermediates *x509.CertPool
	// revoked holds the serials revoked by each CA of the member, keyed by
	// the CA (subject and key) and the serial.
	revoked map[revocationKey]struct{}
	crls    []*x509.RevocationList
}

type revocationKey struct {
	issuer [32]byte // SHA-256 of the issuer's DER subject and public key
	serial string   // hex
}

func issuerKey(ca *x509.Certificate) [32]byte {
	h := sha256.New()
	h.Write(ca.RawSubject)
	h.Write(ca.RawSubjectPublicKeyInfo)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// NewManager checks each configuration (see MSPConfig.Validate) and builds
// a Manager over them. Member IDs must be unique.
func NewManager(configs []MSPConfig) (*Manager, error) {
	return newManager(configs, DefaultCacheSize)
}

func newManager(configs []MSPConfig, cacheSize int) (*Manager, error) {
	if len(configs) > MaxMembers {
		return nil, configError(nil, "%d members (at most %d)", len(configs), MaxMembers)
	}
	m := &Manager{members: make(map[string]*member, len(configs)), cache: newIdentityCache(cacheSize)}
	for _, cfg := range configs {
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		if _, dup := m.members[cfg.ID]; dup {
			return nil, configError(nil, "member %s appears twice", cfg.ID)
		}
		mem := &member{
			id:            cfg.ID,
			roots:         x509.NewCertPool(),
			intermediates: x509.NewCertPool(),
			revoked:       make(map[revocationKey]struct{}),
			crls:          slices.Clone(cfg.CRLs),
		}
		for _, c := range cfg.RootCerts {
			mem.roots.AddCert(c)
		}
		for _, c := range cfg.IntermediateCerts {
			mem.intermediates.AddCert(c)
		}
		cas := cfg.caCerts()
		for _, crl := range cfg.CRLs {
			issuer := issuerKey(crlIssuer(crl, cas)) // Validate checked it exists
			for _, e := range crl.RevokedCertificateEntries {
				if e.SerialNumber != nil {
					mem.revoked[revocationKey{issuer, e.SerialNumber.Text(16)}] = struct{}{}
				}
			}
		}
		m.members[cfg.ID] = mem
		m.ids = append(m.ids, cfg.ID)
	}
	sort.Strings(m.ids)
	return m, nil
}

// MSPIDs returns the member IDs, sorted.
func (m *Manager) MSPIDs() []string { return slices.Clone(m.ids) }

// HasMember reports whether mspID is a member.
func (m *Manager) HasMember(mspID string) bool { _, ok := m.members[mspID]; return ok }

// StaleCRLs describes the CRLs whose next update is before at. A stale CRL
// is still applied (validation never fails for it); callers log a warning.
func (m *Manager) StaleCRLs(at time.Time) []string {
	var out []string
	for _, id := range m.ids {
		for _, crl := range m.members[id].crls {
			if !crl.NextUpdate.IsZero() && crl.NextUpdate.Before(at) {
				out = append(out, fmt.Sprintf("%s CRL number %v from %s: next update was due %s", id, crl.Number, crl.Issuer.CommonName, crl.NextUpdate.UTC().Format(time.RFC3339)))
			}
		}
	}
	return out
}

// Validate checks that certDER is a valid identity of member mspID, in one
// of roles, used for signing, at time at. See the package comment for the
// checks; errors wrap the package's sentinel errors.
func (m *Manager) Validate(mspID string, certDER []byte, roles RoleSet, at time.Time) (*Identity, error) {
	return m.Check(Request{MSPID: mspID, Cert: certDER, Roles: roles, Usage: UsageSign, At: at})
}

// Identify finds the member whose CA issued certDER and validates it as an
// identity of that member (any role, signing use) at time at.
func (m *Manager) Identify(certDER []byte, at time.Time) (*Identity, error) {
	return m.Check(Request{Cert: certDER, Roles: AnyRole, Usage: UsageSign, At: at})
}

// Check runs one validation request. A cached successful validation of the
// same certificate, member and use is reused: only its validity period and
// role are checked again.
func (m *Manager) Check(req Request) (*Identity, error) {
	if len(req.Cert) == 0 || len(req.Cert) > MaxCertificateSize {
		return nil, newError(ErrMalformed, nil, fmt.Sprintf("certificate empty or larger than %d bytes", MaxCertificateSize))
	}
	if req.MSPID != "" && m.members[req.MSPID] == nil {
		return nil, newError(ErrUnknownMSP, nil, fmt.Sprintf("%s is not a member", quoteID(req.MSPID)))
	}
	key := cacheKey{certHash: sha256.Sum256(req.Cert), mspID: req.MSPID, usage: req.Usage}
	entry := m.cache.get(key)
	if entry == nil || !entry.validAt(req.At) {
		// A miss, or a time outside the cached chain's period: validate in
		// full, which also explains an expiry precisely.
		var err error
		if entry, err = m.validate(req); err != nil {
			return nil, err
		}
		m.cache.put(key, entry)
	}
	id := entry.identity
	if !req.Roles.Has(id.role) {
		return nil, newError(ErrRoleMismatch, nil, fmt.Sprintf("role %s not allowed (want %s)", id.role, req.Roles))
	}
	return id, nil
}

// validate runs every check but the role.
func (m *Manager) validate(req Request) (*cacheEntry, error) {
	cert, err := x509.ParseCertificate(req.Cert)
	if err != nil {
		return nil, newError(ErrMalformed, err, "certificate does not parse")
	}
	id, err := newIdentity(cert)
	if err != nil {
		return nil, err
	}
	if req.MSPID != "" && id.mspID != req.MSPID {
		return nil, newError(ErrMSPMismatch, nil, fmt.Sprintf("certificate names %s, not %s", quoteID(id.mspID), req.MSPID))
	}
	if err := checkValidity(cert, req.At); err != nil {
		return nil, err
	}
	mem := m.members[id.mspID]
	if mem == nil {
		if other := m.chainsTo(cert, req.Usage, req.At, ""); other != "" {
			return nil, newError(ErrMSPMismatch, nil, fmt.Sprintf("certificate claims %s but chains to %s", quoteID(id.mspID), other))
		}
		return nil, newError(ErrChain, nil, fmt.Sprintf("certificate claims %s, which is not a member, and does not chain to any member's CA", quoteID(id.mspID)))
	}
	chains, err := mem.verify(cert, req.Usage, req.At)
	if err != nil {
		return nil, m.explainChainError(mem, cert, id, req, err)
	}
	if req.Usage == UsageTLSServer && id.role.IsNode() && !allowsExtKeyUsage(cert, x509.ExtKeyUsageClientAuth) {
		return nil, newError(ErrKeyUsage, nil, fmt.Sprintf("%s certificate lacks client authentication, which node certificates need", id.role))
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return nil, newError(ErrKeyUsage, nil, "certificate key usage lacks digital signature")
	}
	if err := mem.checkRevocation(chains); err != nil {
		return nil, err
	}
	entry := &cacheEntry{identity: id}
	for _, chain := range chains {
		w := window{notBefore: chain[0].NotBefore, notAfter: chain[0].NotAfter}
		for _, c := range chain[1:] {
			if c.NotBefore.After(w.notBefore) {
				w.notBefore = c.NotBefore
			}
			if c.NotAfter.Before(w.notAfter) {
				w.notAfter = c.NotAfter
			}
		}
		entry.windows = append(entry.windows, w)
	}
	return entry, nil
}

// explainChainError turns a failed chain verification against mem into the
// most useful error: an expired CA certificate, a certificate issued by
// another member's CA, a key usage problem, or an untrusted chain.
func (m *Manager) explainChainError(mem *member, cert *x509.Certificate, id *Identity, req Request, err error) error {
	var invalid x509.CertificateInvalidError
	if errors.As(err, &invalid) && invalid.Reason == x509.IncompatibleUsage {
		return newError(ErrKeyUsage, nil, fmt.Sprintf("certificate not valid for %s", req.Usage))
	}
	if errors.As(err, &invalid) && invalid.Reason == x509.Expired {
		return newError(ErrExpired, nil, fmt.Sprintf("a CA certificate in the chain to %s is not valid at %s", mem.id, formatTime(req.At)))
	}
	// The same chain valid at another time within the certificate's own
	// validity period means a CA certificate has expired (or is not yet
	// valid) at req.At.
	for _, t := range []time.Time{cert.NotBefore, cert.NotAfter} {
		if _, err2 := mem.verify(cert, req.Usage, t); err2 == nil {
			return newError(ErrExpired, nil, fmt.Sprintf("a CA certificate in the chain to %s is not valid at %s", mem.id, formatTime(req.At)))
		}
	}
	if other := m.chainsTo(cert, req.Usage, req.At, mem.id); other != "" {
		return newError(ErrMSPMismatch, nil, fmt.Sprintf("certificate claims %s but chains to %s", id.mspID, other))
	}
	return newError(ErrChain, err, fmt.Sprintf("certificate does not chain to %s's CA", mem.id))
}

// chainsTo returns the first member (other than except) whose CAs cert
// chains to, or "".
func (m *Manager) chainsTo(cert *x509.Certificate, usage Usage, at time.Time, except string) string {
	for _, id := range m.ids {
		if id == except {
			continue
		}
		if _, err := m.members[id].verify(cert, usage, at); err == nil {
			return id
		}
	}
	return ""
}

func (mem *member) verify(cert *x509.Certificate, usage Usage, at time.Time) ([][]*x509.Certificate, error) {
	return cert.Verify(x509.VerifyOptions{
		Roots:         mem.roots,
		Intermediates: mem.intermediates,
		CurrentTime:   at,
		KeyUsages:     usage.extKeyUsages(),
	})
}

// checkRevocation refuses the chains if any certificate in them (but the
// root) is listed in a CRL of its issuer.
func (mem *member) checkRevocation(chains [][]*x509.Certificate) error {
	if len(mem.revoked) == 0 {
		return nil
	}
	for _, chain := range chains {
		for i := 0; i+1 < len(chain); i++ {
			key := revocationKey{issuer: issuerKey(chain[i+1]), serial: chain[i].SerialNumber.Text(16)}
			if _, revoked := mem.revoked[key]; revoked {
				what := "certificate"
				if i > 0 {
					what = "issuing CA certificate " + quoteID(chain[i].Subject.CommonName)
				}
				return newError(ErrRevoked, nil, fmt.Sprintf("%s revoked by %s CRL (serial %s)", what, mem.id, key.serial))
			}
		}
	}
	return nil
}

func checkValidity(cert *x509.Certificate, at time.Time) error {
	if at.Before(cert.NotBefore) {
		return newError(ErrExpired, nil, fmt.Sprintf("certificate not valid before %s (checked at %s)", formatTime(cert.NotBefore), formatTime(at)))
	}
	if at.After(cert.NotAfter) {
		return newError(ErrExpired, nil, fmt.Sprintf("certificate expired at %s (checked at %s)", formatTime(cert.NotAfter), formatTime(at)))
	}
	return nil
}

func allowsExtKeyUsage(cert *x509.Certificate, want x509.ExtKeyUsage) bool {
	if len(cert.ExtKeyUsage) == 0 && len(cert.UnknownExtKeyUsage) == 0 {
		return true // no EKU extension: any usage
	}
	for _, u := range cert.ExtKeyUsage {
		if u == want || u == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// quoteID quotes an MSP ID taken from untrusted input if it is not a plain
// identifier, so a log line cannot be forged through it.
func quoteID(s string) string {
	if pki.ValidateMSPID(s) == nil {
		return s
	}
	return fmt.Sprintf("%q", s)
}
