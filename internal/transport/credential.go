package transport

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blossom-ledger/blossom/internal/fsutil"
	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/pki"
)

// Credential is a node's own certificate and key, replaceable while the
// node runs (certificate rotation without a restart). TLS configurations
// built with ServerTLSConfigFor, RequestClientCertTLSConfigFor and
// ClientTLSConfigFor present the credential current at each handshake;
// connections already open keep the certificate they were made with.
//
// A Credential is also an identity.Signer over the current key and
// certificate. Code that pairs a certificate with a signature (txn.Endorse,
// txn.NewProposal) takes one consistent snapshot through Current (see
// identity.Snapshot), so a swap between the two cannot mix the old
// certificate with the new key. Safe for concurrent use.
type Credential struct {
	cur atomic.Pointer[credentialState]
	mu  sync.Mutex // serialises Swap
}

type credentialState struct {
	tls    tls.Certificate
	signer *identity.KeySigner
}

// NewCredential wraps c (its leaf first, then optionally its CA chain, and
// its private key). It fails if the key does not match the certificate.
func NewCredential(c tls.Certificate) (*Credential, error) {
	st, err := newCredentialState(c)
	if err != nil {
		return nil, err
	}
	cred := new(Credential)
	cred.cur.Store(st)
	return cred, nil
}

func newCredentialState(c tls.Certificate) (*credentialState, error) {
	signer, err := identity.NewTLSSigner(c)
	if err != nil {
		return nil, err
	}
	c.Leaf = signer.Certificate()
	return &credentialState{tls: c, signer: signer}, nil
}

// maxCredentialFile bounds a certificate (+ chain) file read by
// LoadCertificateFiles.
const maxCredentialFile = 1 << 20

// LoadCertificateFiles reads a PEM certificate file (the leaf first,
// optionally followed by its CA chain) and a PEM private key file, which
// group and others must not be able to read (mode 0600 or stricter).
func LoadCertificateFiles(certPath, keyPath string) (tls.Certificate, error) {
	key, err := pki.ReadPrivateKeyFile(keyPath)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("key: %w", err)
	}
	certPEM, err := fsutil.ReadFileBounded(certPath, maxCredentialFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate: %w", err)
	}
	certs, err := pki.ParseCertificatesPEM(certPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate %s: %w", certPath, err)
	}
	if len(certs) == 0 {
		return tls.Certificate{}, fmt.Errorf("certificate %s: no certificate", certPath)
	}
	c := tls.Certificate{PrivateKey: key, Leaf: certs[0]}
	for _, cert := range certs {
		c.Certificate = append(c.Certificate, cert.Raw)
	}
	return c, nil
}

// Swap replaces the credential with next, from the next handshake and
// signature on, after checking it: the key matches the certificate, the
// certificate names the same member (MSP ID) and role as the current one,
// is valid now, and trust's Manager identifies it (chain to the member, not
// revoked, usable for TLS and signing). A refused certificate changes
// nothing; the error says why (never with key material).
func (c *Credential) Swap(next tls.Certificate, trust *TrustSource) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, err := c.check(next, trust)
	if err != nil {
		return err
	}
	c.cur.Store(st)
	return nil
}

// Check makes Swap's checks of next without swapping it in.
func (c *Credential) Check(next tls.Certificate, trust *TrustSource) error {
	_, err := c.check(next, trust)
	return err
}

func (c *Credential) check(next tls.Certificate, trust *TrustSource) (*credentialState, error) {
	if trust == nil {
		return nil, errors.New("credential: no trust source to check the new certificate against")
	}
	st, err := newCredentialState(next)
	if err != nil {
		return nil, fmt.Errorf("new certificate refused: %w", err)
	}
	old := c.cur.Load().tls.Leaf
	leaf := st.tls.Leaf
	if leaf.Subject.Organization[0] != old.Subject.Organization[0] {
		return nil, fmt.Errorf("new certificate refused: it names member %s, not %s", leaf.Subject.Organization[0], old.Subject.Organization[0])
	}
	if !slices.Equal(leaf.Subject.OrganizationalUnit, old.Subject.OrganizationalUnit) {
		return nil, fmt.Errorf("new certificate refused: role %v, not %v", leaf.Subject.OrganizationalUnit, old.Subject.OrganizationalUnit)
	}
	now := time.Now()
	if now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("new certificate refused: expired at %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(leaf.NotBefore) {
		return nil, fmt.Errorf("new certificate refused: not valid before %s", leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	if len(leaf.Subject.OrganizationalUnit) != 1 {
		return nil, fmt.Errorf("new certificate refused: role %v", leaf.Subject.OrganizationalUnit)
	}
	role := pki.Role(leaf.Subject.OrganizationalUnit[0])
	usages := []identity.Usage{identity.UsageSign, identity.UsageTLSClient}
	if role.IsNode() {
		usages = append(usages, identity.UsageTLSServer)
	}
	mgr := trust.Manager()
	for _, u := range usages {
		if _, err := mgr.Check(identity.Request{MSPID: old.Subject.Organization[0], Cert: leaf.Raw, Roles: identity.Roles(role), Usage: u, At: now}); err != nil {
			return nil, fmt.Errorf("new certificate refused (%s): %w", u, err)
		}
	}
	return st, nil
}

// Reload reads certPath and keyPath (LoadCertificateFiles) and swaps them
// in (Swap).
func (c *Credential) Reload(certPath, keyPath string, trust *TrustSource) error {
	next, err := LoadCertificateFiles(certPath, keyPath)
	if err != nil {
		return fmt.Errorf("new certificate refused: %w", err)
	}
	return c.Swap(next, trust)
}

// TLSCertificate returns the current certificate, chain and key.
func (c *Credential) TLSCertificate() tls.Certificate { return c.cur.Load().tls }

// Current returns the current signer: one certificate and its key, which a
// later Swap does not change.
func (c *Credential) Current() identity.Signer { return c.cur.Load().signer }

// Sign signs msg with the current key (identity.Signer).
func (c *Credential) Sign(msg []byte) ([]byte, error) { return c.cur.Load().signer.Sign(msg) }

// Certificate returns the current certificate (identity.Signer).
func (c *Credential) Certificate() *x509.Certificate { return c.cur.Load().tls.Leaf }

// MSPID returns the member's MSP ID, which Swap keeps (identity.Signer).
func (c *Credential) MSPID() string { return c.cur.Load().signer.MSPID() }

// Public returns the current public key (identity.Signer).
func (c *Credential) Public() crypto.PublicKey { return c.cur.Load().signer.Public() }

// getCertificate is tls.Config.GetCertificate.
func (c *Credential) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	cert := c.cur.Load().tls
	return &cert, nil
}

// getClientCertificate is tls.Config.GetClientCertificate.
func (c *Credential) getClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	cert := c.cur.Load().tls
	return &cert, nil
}
