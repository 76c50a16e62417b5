package pki

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"time"
)

// CAServerOU is the subject OU of a CA server's own TLS certificate. It is
// deliberately not one of the Roles: the certificate authenticates the CA's
// HTTPS endpoint and nothing else (server authentication EKU only), so it can
// never act as a member identity.
const CAServerOU = "ca"

// DefaultCAServerTLSValidity is the lifetime of a CA server TLS certificate.
const DefaultCAServerTLSValidity = 365 * 24 * time.Hour

// MaxHosts bounds the SANs of one certificate.
const MaxHosts = 32

// CAServerTLSRequest describes the TLS certificate of a CA server.
type CAServerTLSRequest struct {
	PublicKey   crypto.PublicKey
	DNSNames    []string
	IPAddresses []net.IP
	Validity    time.Duration // zero: DefaultCAServerTLSValidity
	Now         time.Time     // zero: time.Now()
}

// IssueCAServerTLS signs the TLS server certificate of this CA's own HTTPS
// endpoint: subject CN "<MSP ID> CA server", O the MSP ID, OU CAServerOU,
// server authentication EKU only, and the given SANs (at least one).
func (ca *CA) IssueCAServerTLS(req CAServerTLSRequest) (*x509.Certificate, error) {
	if len(req.DNSNames)+len(req.IPAddresses) == 0 {
		return nil, errors.New("CA server TLS certificate needs at least one host name or IP address")
	}
	if len(req.DNSNames)+len(req.IPAddresses) > MaxHosts {
		return nil, fmt.Errorf("CA server TLS certificate: at most %d host names and IP addresses", MaxHosts)
	}
	if err := checkKeyType(req.PublicKey); err != nil {
		return nil, err
	}
	mspID, err := ca.MSPID()
	if err != nil {
		return nil, err
	}
	now := orNow(req.Now)
	tmpl := &x509.Certificate{
		Subject: pkix.Name{
			CommonName:         mspID + " CA server",
			Organization:       []string{mspID},
			OrganizationalUnit: []string{CAServerOU},
		},
		NotBefore:   now.Add(-backdate),
		NotAfter:    clampNotAfter(now.Add(orDefault(req.Validity, DefaultCAServerTLSValidity)), ca.Cert),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    req.DNSNames,
		IPAddresses: req.IPAddresses,
	}
	return createCertificate(tmpl, ca.Cert, req.PublicKey, ca.Signer)
}
