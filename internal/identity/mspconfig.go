package identity

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/blossom-ledger/blossom/internal/pki"
)

// Bounds on one member's configuration. A configuration arrives in config
// blocks from other members, so everything is bounded.
const (
	MaxRootCerts         = 16
	MaxIntermediateCerts = 64
	MaxCRLs              = 64
	MaxMembers           = 512
	// MaxCertificateSize bounds one DER certificate.
	MaxCertificateSize = 64 << 10
	// MaxCRLSize bounds one DER CRL (about 100,000 entries).
	MaxCRLSize = 8 << 20
)

// MSPConfig describes one member as a channel configuration does: its MSP
// ID, the CA certificates its identities chain to and its CRLs. It is plain
// Go, independent of the wire format; the protocol package converts.
//
// RootCerts anchor the member's chains (in blossom, the consortium root);
// IntermediateCerts are the member's issuing CAs (its intermediate CA).
// Every CRL must be signed by one of these CA certificates; it revokes
// certificates issued by that CA.
type MSPConfig struct {
	ID                string
	RootCerts         []*x509.Certificate
	IntermediateCerts []*x509.Certificate
	CRLs              []*x509.RevocationList
}

// ParseMSPConfigDER builds an MSPConfig from DER certificates and CRLs and
// checks it (see Validate).
func ParseMSPConfigDER(id string, roots, intermediates, crls [][]byte) (MSPConfig, error) {
	cfg := MSPConfig{ID: id}
	if err := checkCounts(id, len(roots), len(intermediates), len(crls)); err != nil {
		return MSPConfig{}, err
	}
	var err error
	if cfg.RootCerts, err = parseCertsDER(id, "root", roots); err != nil {
		return MSPConfig{}, err
	}
	if cfg.IntermediateCerts, err = parseCertsDER(id, "intermediate", intermediates); err != nil {
		return MSPConfig{}, err
	}
	for i, der := range crls {
		crl, err := parseCRLDER(der)
		if err != nil {
			return MSPConfig{}, configError(nil, "%s: CRL %d: %v", id, i, err)
		}
		cfg.CRLs = append(cfg.CRLs, crl)
	}
	if err := cfg.Validate(); err != nil {
		return MSPConfig{}, err
	}
	return cfg, nil
}

// ParseMSPConfigPEM builds an MSPConfig from PEM data: rootsPEM and
// intermediatesPEM hold CERTIFICATE blocks, crlsPEM "X509 CRL" blocks.
// intermediatesPEM and crlsPEM may be empty. It checks the result (see
// Validate).
func ParseMSPConfigPEM(id string, rootsPEM, intermediatesPEM, crlsPEM []byte) (MSPConfig, error) {
	roots, err := pemBlocks(rootsPEM, "CERTIFICATE", MaxRootCerts)
	if err != nil {
		return MSPConfig{}, configError(nil, "%s: root certificates: %v", id, err)
	}
	intermediates, err := pemBlocks(intermediatesPEM, "CERTIFICATE", MaxIntermediateCerts)
	if err != nil {
		return MSPConfig{}, configError(nil, "%s: intermediate certificates: %v", id, err)
	}
	crls, err := pemBlocks(crlsPEM, "X509 CRL", MaxCRLs)
	if err != nil {
		return MSPConfig{}, configError(nil, "%s: CRLs: %v", id, err)
	}
	return ParseMSPConfigDER(id, roots, intermediates, crls)
}

// Validate checks the configuration: a well-formed MSP ID; one to
// MaxRootCerts root certificates, all CA certificates; intermediates that
// are CA certificates issued by one of the member's CAs; and CRLs each
// signed by one of the member's CA certificates (a CRL from anyone else is
// refused, so one member cannot revoke another's identities).
func (c MSPConfig) Validate() error {
	if err := pki.ValidateMSPID(c.ID); err != nil {
		return configError(err, "member")
	}
	if err := checkCounts(c.ID, len(c.RootCerts), len(c.IntermediateCerts), len(c.CRLs)); err != nil {
		return err
	}
	if len(c.RootCerts) == 0 {
		return configError(nil, "%s: no root certificate", c.ID)
	}
	for i, cert := range c.RootCerts {
		if cert == nil || !cert.BasicConstraintsValid || !cert.IsCA {
			return configError(nil, "%s: root certificate %d is not a CA certificate", c.ID, i)
		}
	}
	cas := c.caCerts()
	for i, cert := range c.IntermediateCerts {
		if cert == nil || !cert.BasicConstraintsValid || !cert.IsCA {
			return configError(nil, "%s: intermediate certificate %d is not a CA certificate", c.ID, i)
		}
		if findIssuer(cert, cas) == nil {
			return configError(nil, "%s: intermediate certificate %d (%s) is not issued by one of the member's CAs", c.ID, i, cert.Subject.CommonName)
		}
	}
	for i, crl := range c.CRLs {
		if crl == nil {
			return configError(nil, "%s: CRL %d is nil", c.ID, i)
		}
		if crlIssuer(crl, cas) == nil {
			return configError(nil, "%s: CRL %d is not signed by one of the member's CAs", c.ID, i)
		}
	}
	return nil
}

// caCerts lists the member's CA certificates, roots first.
func (c MSPConfig) caCerts() []*x509.Certificate {
	cas := make([]*x509.Certificate, 0, len(c.RootCerts)+len(c.IntermediateCerts))
	cas = append(cas, c.RootCerts...)
	return append(cas, c.IntermediateCerts...)
}

// findIssuer returns the CA among cas (other than cert itself) that signed
// cert, or nil.
func findIssuer(cert *x509.Certificate, cas []*x509.Certificate) *x509.Certificate {
	for _, ca := range cas {
		if ca == cert || bytes.Equal(ca.Raw, cert.Raw) {
			continue
		}
		if bytes.Equal(cert.RawIssuer, ca.RawSubject) && cert.CheckSignatureFrom(ca) == nil {
			return ca
		}
	}
	return nil
}

// crlIssuer returns the CA among cas that signed crl, or nil.
func crlIssuer(crl *x509.RevocationList, cas []*x509.Certificate) *x509.Certificate {
	for _, ca := range cas {
		if bytes.Equal(crl.RawIssuer, ca.RawSubject) && crl.CheckSignatureFrom(ca) == nil {
			return ca
		}
	}
	return nil
}

func checkCounts(id string, roots, intermediates, crls int) error {
	switch {
	case roots > MaxRootCerts:
		return configError(nil, "%s: %d root certificates (at most %d)", id, roots, MaxRootCerts)
	case intermediates > MaxIntermediateCerts:
		return configError(nil, "%s: %d intermediate certificates (at most %d)", id, intermediates, MaxIntermediateCerts)
	case crls > MaxCRLs:
		return configError(nil, "%s: %d CRLs (at most %d)", id, crls, MaxCRLs)
	}
	return nil
}

func parseCertsDER(id, what string, ders [][]byte) ([]*x509.Certificate, error) {
	certs := make([]*x509.Certificate, 0, len(ders))
	for i, der := range ders {
		if len(der) == 0 || len(der) > MaxCertificateSize {
			return nil, configError(nil, "%s: %s certificate %d: empty or larger than %d bytes", id, what, i, MaxCertificateSize)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, configError(err, "%s: %s certificate %d", id, what, i)
		}
		certs = append(certs, cert)
	}
	return certs, nil
}

func parseCRLDER(der []byte) (*x509.RevocationList, error) {
	if len(der) == 0 || len(der) > MaxCRLSize {
		return nil, fmt.Errorf("empty or larger than %d bytes", MaxCRLSize)
	}
	return x509.ParseRevocationList(der)
}

// pemBlocks returns the DER contents of the PEM blocks in data, all of which
// must have type want; at most max blocks.
func pemBlocks(data []byte, want string, max int) ([][]byte, error) {
	var ders [][]byte
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != want {
			return nil, fmt.Errorf("unexpected PEM block %q (want %q)", block.Type, want)
		}
		if len(ders) == max {
			return nil, fmt.Errorf("more than %d %q blocks", max, want)
		}
		ders = append(ders, block.Bytes)
	}
	if len(bytes.TrimSpace(data)) != 0 {
		return nil, fmt.Errorf("data after the last PEM block is not PEM")
	}
	return ders, nil
}

func configError(cause error, format string, args ...any) *Error {
	return newError(ErrInvalidConfig, cause, fmt.Sprintf(format, args...))
}
