package caserver

import (
	"crypto"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/blossom-ledger/blossom/internal/fsutil"
	"github.com/blossom-ledger/blossom/internal/pki"
)

// Files of a member CA directory (see the package documentation).
const (
	KeyFile             = "ca-key.pem"
	CSRFile             = "ca.csr"
	CertFile            = "ca-cert.pem"
	ChainFile           = "ca-chain.pem"
	TLSCertFile         = "tls-cert.pem"
	TLSKeyFile          = "tls-key.pem"
	BootstrapSecretFile = "bootstrap-secret"
	AddrFile            = "ca.addr"
	DBDir               = "db"
)

// Files of a root CA directory.
const (
	RootCertFile = "root-cert.pem"
	RootKeyFile  = "root-key.pem"
)

// BootstrapRegistrar is the enrollment ID of the registrar Install creates.
const BootstrapRegistrar = "admin"

// DefaultTLSHosts are the SANs of the server's TLS certificate when none
// are given.
var DefaultTLSHosts = []string{"localhost", "127.0.0.1", "::1"}

// tlsServerOwner marks the server's own TLS certificates in the issued
// certificate table. It is not a valid enrollment ID, so no registration
// can collide with it.
const tlsServerOwner = "(ca-server-tls)"

// maxPEMFile bounds certificate and CSR files read from disk.
const maxPEMFile = 1 << 20

// RootOptions describes a new consortium root CA.
type RootOptions struct {
	Name         string // subject CN, e.g. "blossom consortium root CA"
	Organization string // the consortium's name (optional)
	Algorithm    pki.KeyAlgorithm
	Validity     time.Duration // zero: pki.DefaultRootValidity
}

// InitRoot creates a consortium root CA in dir: root-cert.pem and
// root-key.pem (0600). It refuses to overwrite an existing root.
func InitRoot(dir string, opts RootOptions) (*x509.Certificate, error) {
	keyPath := filepath.Join(dir, RootKeyFile)
	if err := refuseExisting(keyPath, filepath.Join(dir, RootCertFile)); err != nil {
		return nil, err
	}
	root, err := pki.NewRootCA(pki.RootRequest{CommonName: opts.Name, Organization: opts.Organization,
		Algorithm: opts.Algorithm, Validity: opts.Validity})
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := pki.WritePrivateKeyFile(keyPath, root.Signer); err != nil {
		return nil, err
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, RootCertFile), pki.EncodeCertificatePEM(root.Cert.Raw), 0o644); err != nil {
		return nil, err
	}
	return root.Cert, nil
}

// SignIntermediateCSR signs a member CA's CSR (PEM or DER) with the root in
// rootDir and returns the intermediate certificate as PEM. The root key is
// read from rootDir and never copied.
func SignIntermediateCSR(rootDir string, csr []byte, validity time.Duration) ([]byte, error) {
	root, err := loadRoot(rootDir)
	if err != nil {
		return nil, err
	}
	der, err := csrDER(csr)
	if err != nil {
		return nil, err
	}
	cert, err := root.SignIntermediate(der, validity, time.Time{})
	if err != nil {
		return nil, err
	}
	return pki.EncodeCertificatePEM(cert.Raw), nil
}

func loadRoot(dir string) (*pki.CA, error) {
	cert, err := readSingleCertificate(filepath.Join(dir, RootCertFile))
	if err != nil {
		return nil, err
	}
	key, err := pki.ReadPrivateKeyFile(filepath.Join(dir, RootKeyFile))
	if err != nil {
		return nil, err
	}
	if !publicKeyMatches(cert.PublicKey, key) {
		return nil, fmt.Errorf("%s does not match the key in %s", RootCertFile, RootKeyFile)
	}
	return &pki.CA{Cert: cert, Signer: key}, nil
}

// csrDER accepts a CSR as a PEM "CERTIFICATE REQUEST" block or as DER.
func csrDER(data []byte) ([]byte, error) {
	if len(data) > maxPEMFile {
		return nil, errors.New("CSR file larger than 1 MiB")
	}
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "CERTIFICATE REQUEST" {
			return nil, fmt.Errorf("unexpected PEM block %q where a CERTIFICATE REQUEST was expected", block.Type)
		}
		return block.Bytes, nil
	}
	return data, nil
}

// EncodeCSRPEM encodes a DER CSR as a PEM "CERTIFICATE REQUEST" block.
func EncodeCSRPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// Init creates a member CA directory: the intermediate CA key (ca-key.pem,
// 0600) and its CSR (ca.csr, PEM, subject O = mspID), which it returns. The
// root's holder signs the CSR; Install then completes the directory.
func Init(dir, mspID string, alg pki.KeyAlgorithm) ([]byte, error) {
	keyPath := filepath.Join(dir, KeyFile)
	if err := refuseExisting(keyPath, filepath.Join(dir, CertFile)); err != nil {
		return nil, err
	}
	key, der, err := pki.NewIntermediateCSR(mspID, alg)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := pki.WritePrivateKeyFile(keyPath, key); err != nil {
		return nil, err
	}
	csrPEM := EncodeCSRPEM(der)
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, CSRFile), csrPEM, 0o644); err != nil {
		return nil, err
	}
	return csrPEM, nil
}

// InstallOptions tunes Install.
type InstallOptions struct {
	// TLSHosts are the SANs of the server's TLS certificate; nil means
	// DefaultTLSHosts.
	TLSHosts []string
	// AllowedAttributes is the attribute set the bootstrap registrar may
	// set and delegate; nil means DefaultAllowedAttributes. It should equal
	// the server's Config.AllowedAttributes.
	AllowedAttributes []string
	// SecretTTL is the lifetime of the bootstrap secret; zero means
	// DefaultSecretTTL.
	SecretTTL time.Duration
	Now       func() time.Time // nil: time.Now
	Logger    *slog.Logger     // nil: slog.Default()
}

// Install completes a member CA directory created by Init with the
// intermediate certificate the root signed (certPEM) and the root
// certificate (rootPEM). It checks that the certificate is a CA
// certificate for ca-key.pem that verifies against the root, then writes
// ca-chain.pem, issues the server's TLS certificate, creates the database
// with an initial CRL, registers the bootstrap registrar "admin" with every
// right and writes its one-time secret to bootstrap-secret (0600), and
// finally writes ca-cert.pem, which marks the directory installed. A failed
// Install may be run again.
func Install(dir string, certPEM, rootPEM []byte, opts InstallOptions) error {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	allowed := opts.AllowedAttributes
	if allowed == nil {
		allowed = DefaultAllowedAttributes
	}
	if err := validateAllowedAttributes(allowed); err != nil {
		return err
	}
	hosts := opts.TLSHosts
	if len(hosts) == 0 {
		hosts = DefaultTLSHosts
	}
	if _, _, err := ParseHosts(hosts); err != nil {
		return fmt.Errorf("TLS hosts: %w", err)
	}
	ttl := opts.SecretTTL
	if ttl == 0 {
		ttl = DefaultSecretTTL
	}
	if ttl < MinSecretTTL || ttl > MaxSecretTTL {
		return fmt.Errorf("bootstrap secret TTL must be between %v and %v", MinSecretTTL, MaxSecretTTL)
	}
	if err := refuseExisting(filepath.Join(dir, CertFile)); err != nil {
		return fmt.Errorf("CA already installed: %w", err)
	}
	key, err := pki.ReadPrivateKeyFile(filepath.Join(dir, KeyFile))
	if err != nil {
		return fmt.Errorf("read CA key (run init first): %w", err)
	}
	cert, err := parseSingleCertificate(certPEM, "intermediate certificate")
	if err != nil {
		return err
	}
	root, err := parseSingleCertificate(rootPEM, "root certificate")
	if err != nil {
		return err
	}
	if err := checkIntermediate(cert, root, key, now()); err != nil {
		return err
	}
	ca := &pki.CA{Cert: cert, Signer: key, Chain: []*x509.Certificate{root}}
	chainPEM := append(pki.EncodeCertificatePEM(cert.Raw), pki.EncodeCertificatePEM(root.Raw)...)
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, ChainFile), chainPEM, 0o644); err != nil {
		return err
	}

	st, err := openStore(filepath.Join(dir, DBDir), logger)
	if err != nil {
		return err
	}
	defer st.close()
	if err := issueServerTLS(dir, ca, st, hosts, now()); err != nil {
		return err
	}
	if _, err := st.currentCRL(); errors.Is(err, errNotFound) {
		u := st.newUpdate()
		if _, err := newCRL(ca, st, u, nil, now(), DefaultCRLValidity); err != nil {
			u.discard()
			return err
		}
		if err := u.commit(); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	secret, err := newSecret()
	if err != nil {
		return err
	}
	salt, sum, err := hashSecret(secret)
	if err != nil {
		return err
	}
	registeredAt := now().UTC()
	roles := make([]string, len(pki.Roles))
	for i, r := range pki.Roles {
		roles[i] = string(r)
	}
	admin := &registration{
		EnrollmentID: BootstrapRegistrar,
		Type:         pki.RoleAdmin,
		Attributes: map[string]string{
			AttrRegistrarRoles:      strings.Join(roles, ","),
			AttrRegistrarAttributes: strings.Join(allowed, ","),
			AttrRevoker:             "true",
		},
		MaxEnrollments:  1,
		SecretSalt:      salt,
		SecretHash:      sum,
		SecretExpiresAt: registeredAt.Add(ttl),
		RegisteredBy:    "(install)",
		RegisteredAt:    registeredAt,
	}
	// A half-done earlier Install may have registered admin already; the
	// directory is not installed yet, so replacing it is safe.
	u := st.newUpdate()
	u.putRegistration(admin)
	if err := u.commit(); err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, BootstrapSecretFile), []byte(secret+"\n"), 0o600); err != nil {
		return err
	}
	logger.Info("CA installed", "msp", cert.Subject.Organization[0], "bootstrapRegistrar", BootstrapRegistrar,
		"secretFile", filepath.Join(dir, BootstrapSecretFile))
	return fsutil.WriteFileAtomic(filepath.Join(dir, CertFile), pki.EncodeCertificatePEM(cert.Raw), 0o644)
}

// checkIntermediate verifies that cert is a member CA certificate for key,
// issued by root, valid at now.
func checkIntermediate(cert, root *x509.Certificate, key crypto.Signer, now time.Time) error {
	if !publicKeyMatches(cert.PublicKey, key) {
		return fmt.Errorf("the certificate is not for this CA's key (%s)", KeyFile)
	}
	if !cert.IsCA || !cert.BasicConstraintsValid {
		return errors.New("the certificate is not a CA certificate")
	}
	if len(cert.Subject.Organization) != 1 {
		return errors.New("the certificate must name exactly one organization (the MSP ID)")
	}
	if err := pki.ValidateMSPID(cert.Subject.Organization[0]); err != nil {
		return err
	}
	if !root.IsCA || root.CheckSignatureFrom(root) != nil {
		return errors.New("the root certificate is not a self-signed CA certificate")
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return fmt.Errorf("the certificate does not verify against the root: %w", err)
	}
	return nil
}

// issueServerTLS issues and writes the server's TLS key and certificate
// (leaf then intermediate) and records the certificate.
func issueServerTLS(dir string, ca *pki.CA, st *store, hosts []string, now time.Time) error {
	dns, ips, err := ParseHosts(hosts)
	if err != nil {
		return fmt.Errorf("TLS hosts: %w", err)
	}
	key, err := pki.GenerateKey(keyAlgorithmOf(ca.Signer))
	if err != nil {
		return err
	}
	cert, err := ca.IssueCAServerTLS(pki.CAServerTLSRequest{PublicKey: key.Public(), DNSNames: dns, IPAddresses: ips, Now: now})
	if err != nil {
		return err
	}
	u := st.newUpdate()
	u.putCert(cert.SerialNumber, &issuedCert{Serial: formatSerial(cert.SerialNumber), EnrollmentID: tlsServerOwner,
		NotAfter: cert.NotAfter.UTC(), IssuedAt: now.UTC(), DER: cert.Raw})
	if err := u.commit(); err != nil {
		return err
	}
	if err := pki.WritePrivateKeyFile(filepath.Join(dir, TLSKeyFile), key); err != nil {
		return err
	}
	certPEM := append(pki.EncodeCertificatePEM(cert.Raw), pki.EncodeCertificatePEM(ca.Cert.Raw)...)
	return fsutil.WriteFileAtomic(filepath.Join(dir, TLSCertFile), certPEM, 0o644)
}

// freshSerial returns a random serial not yet used by this CA.
func freshSerial(st *store) (*big.Int, error) {
	for range 8 {
		serial, err := pki.RandomSerial()
		if err != nil {
			return nil, err
		}
		if _, err := st.cert(serial); errors.Is(err, errNotFound) {
			return serial, nil
		} else if err != nil {
			return nil, err
		}
	}
	return nil, errors.New("could not find an unused serial number")
}

// keyAlgorithmOf returns the algorithm of key, so that certificates the CA
// makes for itself use the CA's own algorithm.
func keyAlgorithmOf(key crypto.Signer) pki.KeyAlgorithm {
	if _, ok := key.Public().(ed25519.PublicKey); ok {
		return pki.Ed25519
	}
	return pki.ECDSAP256
}

// loadedCA is the CA material of an installed directory.
type loadedCA struct {
	ca       *pki.CA
	mspID    string
	chainPEM []byte
	tlsCert  tls.Certificate
}

func loadCA(dir string) (*loadedCA, error) {
	cert, err := readSingleCertificate(filepath.Join(dir, CertFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s has no %s: the CA is not installed (run init, have the root sign, then install)", dir, CertFile)
	}
	if err != nil {
		return nil, err
	}
	key, err := pki.ReadPrivateKeyFile(filepath.Join(dir, KeyFile))
	if err != nil {
		return nil, err
	}
	if !publicKeyMatches(cert.PublicKey, key) {
		return nil, fmt.Errorf("%s does not match %s", CertFile, KeyFile)
	}
	chainPEM, err := readBounded(filepath.Join(dir, ChainFile))
	if err != nil {
		return nil, err
	}
	chain, err := pki.ParseCertificatesPEM(chainPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ChainFile, err)
	}
	if len(chain) != 2 || !chain[0].Equal(cert) {
		return nil, fmt.Errorf("%s must hold %s followed by the root certificate", ChainFile, CertFile)
	}
	ca := &pki.CA{Cert: cert, Signer: key, Chain: chain[1:]}
	mspID, err := ca.MSPID()
	if err != nil {
		return nil, err
	}
	l := &loadedCA{ca: ca, mspID: mspID, chainPEM: chainPEM}
	if err := l.loadTLS(dir); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *loadedCA) loadTLS(dir string) error {
	key, err := pki.ReadPrivateKeyFile(filepath.Join(dir, TLSKeyFile))
	if err != nil {
		return err
	}
	certPEM, err := readBounded(filepath.Join(dir, TLSCertFile))
	if err != nil {
		return err
	}
	certs, err := pki.ParseCertificatesPEM(certPEM)
	if err != nil {
		return fmt.Errorf("%s: %w", TLSCertFile, err)
	}
	if !publicKeyMatches(certs[0].PublicKey, key) {
		return fmt.Errorf("%s does not match %s", TLSCertFile, TLSKeyFile)
	}
	tlsCert := tls.Certificate{PrivateKey: key, Leaf: certs[0]}
	for _, c := range certs {
		tlsCert.Certificate = append(tlsCert.Certificate, c.Raw)
	}
	l.tlsCert = tlsCert
	return nil
}

// tlsHostsOf lists a certificate's SANs as host strings, sorted.
func tlsHostsOf(cert *x509.Certificate) []string {
	hosts := slices.Clone(cert.DNSNames)
	for _, ip := range cert.IPAddresses {
		hosts = append(hosts, ip.String())
	}
	slices.Sort(hosts)
	return hosts
}

// normalizeHosts renders hosts as tlsHostsOf would.
func normalizeHosts(hosts []string) ([]string, error) {
	dns, ips, err := ParseHosts(hosts)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(dns)
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	slices.Sort(out)
	return out, nil
}

func publicKeyMatches(pub crypto.PublicKey, key crypto.Signer) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := key.Public().(equaler)
	return ok && e.Equal(pub)
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if info.Size() > maxPEMFile {
		return nil, fmt.Errorf("%s is larger than 1 MiB", path)
	}
	return os.ReadFile(path)
}

func readSingleCertificate(path string) (*x509.Certificate, error) {
	data, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	cert, err := parseSingleCertificate(data, filepath.Base(path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cert, nil
}

func parseSingleCertificate(data []byte, what string) (*x509.Certificate, error) {
	certs, err := pki.ParseCertificatesPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("%s: expected exactly one certificate, found %d", what, len(certs))
	}
	return certs[0], nil
}

func refuseExisting(paths ...string) error {
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%s already exists: refusing to overwrite it", p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

func validateAllowedAttributes(names []string) error {
	if len(names) == 0 || len(names) > pki.MaxAttributes {
		return fmt.Errorf("the allowed attribute set must have 1 to %d names", pki.MaxAttributes)
	}
	for _, n := range names {
		if err := pki.ValidateAttributeName(n); err != nil {
			return err
		}
	}
	if len(strings.Join(names, ",")) > pki.MaxAttributeValueLen {
		return errors.New("the allowed attribute names are too long to delegate in one attribute")
	}
	return nil
}
