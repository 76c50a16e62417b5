// Package testpki builds throwaway consortia in memory for tests: a root
// CA, members each with an intermediate CA signed by it, and node and user
// credentials issued in well under a millisecond. It is shared by every
// package's tests that need identities or mutual TLS (identity, transport,
// and the network tests of the peer, orderer and gateway packages).
//
//	c := testpki.NewConsortium(t, "Org1MSP", "Org2MSP")
//	peer := c.Member("Org1MSP").Issue(pki.RolePeer, "peer0", nil)
//	mgr := c.Manager() // an identity.Manager over the current CAs and CRLs
//
// Node credentials get the SANs localhost, 127.0.0.1 and ::1 unless told
// otherwise. Every helper fails the test on error, so callers need not check.
package testpki

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/fsutil"
	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/pki"
)

// CABackdate is how long before their creation the CA certificates are
// valid from, so that tests can issue certificates in the past (to check
// validation at an earlier block time, or an expired certificate).
const CABackdate = 30 * 24 * time.Hour

func caEpoch() time.Time { return time.Now().Add(-CABackdate) }

// Consortium is a root CA and its members.
type Consortium struct {
	t    testing.TB
	Root *pki.CA

	mu      sync.Mutex
	members []*Member
}

// NewConsortium creates a root CA and one member (with its intermediate CA)
// per MSP ID.
func NewConsortium(t testing.TB, mspIDs ...string) *Consortium {
	t.Helper()
	root, err := pki.NewRootCA(pki.RootRequest{CommonName: "test consortium root CA", Organization: "test consortium", Now: caEpoch()})
	if err != nil {
		t.Fatalf("testpki: root CA: %v", err)
	}
	c := &Consortium{t: t, Root: root}
	for _, id := range mspIDs {
		c.AddMember(id)
	}
	return c
}

// AddMember creates a member with its own intermediate CA signed by the root.
func (c *Consortium) AddMember(mspID string) *Member {
	c.t.Helper()
	key, csr, err := pki.NewIntermediateCSR(mspID, pki.ECDSAP256)
	if err != nil {
		c.t.Fatalf("testpki: %s CSR: %v", mspID, err)
	}
	cert, err := c.Root.SignIntermediate(csr, 0, caEpoch())
	if err != nil {
		c.t.Fatalf("testpki: %s intermediate: %v", mspID, err)
	}
	m := &Member{ID: mspID, CA: &pki.CA{Cert: cert, Signer: key, Chain: []*x509.Certificate{c.Root.Cert}}, t: c.t, root: c.Root.Cert}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, old := range c.members {
		if old.ID == mspID {
			c.t.Fatalf("testpki: member %s added twice", mspID)
		}
	}
	c.members = append(c.members, m)
	return m
}

// Member returns the member with the given MSP ID; it fails the test if
// there is none.
func (c *Consortium) Member(mspID string) *Member {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.members {
		if m.ID == mspID {
			return m
		}
	}
	c.t.Fatalf("testpki: no member %s", mspID)
	return nil
}

// Members returns the members in the order they were added.
func (c *Consortium) Members() []*Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Member(nil), c.members...)
}

// MSPConfigs returns every member's current configuration (with its CRL,
// if it revoked anything).
func (c *Consortium) MSPConfigs() []identity.MSPConfig {
	var cfgs []identity.MSPConfig
	for _, m := range c.Members() {
		cfgs = append(cfgs, m.MSPConfig())
	}
	return cfgs
}

// Manager returns a new identity.Manager over the members' current
// configurations; call it again after a revocation.
func (c *Consortium) Manager() *identity.Manager {
	c.t.Helper()
	mgr, err := identity.NewManager(c.MSPConfigs())
	if err != nil {
		c.t.Fatalf("testpki: manager: %v", err)
	}
	return mgr
}

// Member is one consortium member: its MSP ID and intermediate CA.
type Member struct {
	ID string
	CA *pki.CA // the member's intermediate CA (Chain holds the root)

	t    testing.TB
	root *x509.Certificate

	mu        sync.Mutex
	revoked   []pki.RevokedCertificate
	crlNumber int64
	crl       *x509.RevocationList
}

// Options adjusts an issued credential. The zero value issues an ECDSA
// P-256 credential valid from now for the pki package's default period.
type Options struct {
	Algorithm   pki.KeyAlgorithm
	Now         time.Time     // issuance time (the certificate is backdated 5 min from it)
	Validity    time.Duration // 0: pki default
	DNSNames    []string      // node roles; nil: localhost
	IPAddresses []net.IP      // node roles; nil: 127.0.0.1 and ::1
}

// Credential is an issued certificate with its key, ready for signing and TLS.
type Credential struct {
	Cert   *x509.Certificate
	Key    crypto.Signer
	Signer *identity.KeySigner
	// TLS holds the leaf and the member's intermediate, and the key.
	TLS tls.Certificate
}

// Issue creates a key and a certificate of the given role for this member.
// attrs (may be nil) go into the attribute extension; at most one Options.
func (m *Member) Issue(role pki.Role, enrollmentID string, attrs map[string]string, opts ...Options) *Credential {
	m.t.Helper()
	var o Options
	if len(opts) > 1 {
		m.t.Fatalf("testpki: Issue takes at most one Options")
	}
	if len(opts) == 1 {
		o = opts[0]
	}
	key, err := pki.GenerateKey(o.Algorithm)
	if err != nil {
		m.t.Fatalf("testpki: key: %v", err)
	}
	req := pki.IssueRequest{
		PublicKey:    key.Public(),
		EnrollmentID: enrollmentID,
		Role:         role,
		Attributes:   attrs,
		Validity:     o.Validity,
		Now:          o.Now,
	}
	if role.IsNode() {
		req.DNSNames, req.IPAddresses = o.DNSNames, o.IPAddresses
		if req.DNSNames == nil {
			req.DNSNames = []string{"localhost"}
		}
		if req.IPAddresses == nil {
			req.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		}
	}
	cert, err := m.CA.Issue(req)
	if err != nil {
		m.t.Fatalf("testpki: issue %s %s: %v", role, enrollmentID, err)
	}
	return m.credential(cert, key)
}

// Credential wraps a certificate this test built itself (for example with
// x509.CreateCertificate) and its key, with the member's intermediate as
// the TLS chain.
func (m *Member) Credential(cert *x509.Certificate, key crypto.Signer) *Credential {
	m.t.Helper()
	return m.credential(cert, key)
}

func (m *Member) credential(cert *x509.Certificate, key crypto.Signer) *Credential {
	m.t.Helper()
	signer, err := identity.NewKeySigner(key, cert)
	if err != nil {
		m.t.Fatalf("testpki: signer: %v", err)
	}
	return &Credential{
		Cert:   cert,
		Key:    key,
		Signer: signer,
		TLS:    tls.Certificate{Certificate: [][]byte{cert.Raw, m.CA.Cert.Raw}, PrivateKey: key, Leaf: cert},
	}
}

// Revoke adds cert to the member's CRL (which it re-signs at once). Build a
// new Manager (Consortium.Manager) for the revocation to take effect.
func (m *Member) Revoke(cert *x509.Certificate) {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	m.revoked = append(m.revoked, pki.RevokedCertificate{Serial: cert.SerialNumber, RevokedAt: now, Reason: 0})
	m.crlNumber++
	der, err := m.CA.CreateCRL(m.revoked, big.NewInt(m.crlNumber), now.Add(-time.Minute), now.Add(24*time.Hour))
	if err != nil {
		m.t.Fatalf("testpki: CRL: %v", err)
	}
	if m.crl, err = x509.ParseRevocationList(der); err != nil {
		m.t.Fatalf("testpki: parse CRL: %v", err)
	}
}

// CRL returns the member's current CRL, or nil if it revoked nothing.
func (m *Member) CRL() *x509.RevocationList {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.crl
}

// MSPConfig returns the member's configuration: the consortium root, its
// intermediate and its CRL if any.
func (m *Member) MSPConfig() identity.MSPConfig {
	cfg := identity.MSPConfig{
		ID:                m.ID,
		RootCerts:         []*x509.Certificate{m.root},
		IntermediateCerts: []*x509.Certificate{m.CA.Cert},
	}
	if crl := m.CRL(); crl != nil {
		cfg.CRLs = []*x509.RevocationList{crl}
	}
	return cfg
}

// WriteFiles writes the credential's key (mode 0600) and certificate as PEM
// files in dir and returns their paths.
func (c *Credential) WriteFiles(t testing.TB, dir string) (keyPath, certPath string) {
	t.Helper()
	keyPath, certPath = filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	if err := pki.WritePrivateKeyFile(keyPath, c.Key); err != nil {
		t.Fatalf("testpki: write key: %v", err)
	}
	if err := fsutil.WriteFileAtomic(certPath, pki.EncodeCertificatePEM(c.Cert.Raw), 0o644); err != nil {
		t.Fatalf("testpki: write certificate: %v", err)
	}
	return keyPath, certPath
}
