package contracttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"maps"
	"math/big"
	"slices"

	"github.com/blossom-ledger/blossom/sdk/contract"
)

// NewCertificate returns a self-signed DER certificate shaped like one
// issued by blossom's CA to a client: subject O = mspID, OU = "client",
// CN = commonName, and attrs in the attribute extension. It is for tests
// only: nothing checks its chain.
func NewCertificate(mspID, commonName string, attrs map[string]string) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject: pkix.Name{
			CommonName:         commonName,
			Organization:       []string{mspID},
			OrganizationalUnit: []string{"client"},
		},
		NotBefore:   DefaultTimestamp.AddDate(-1, 0, 0),
		NotAfter:    DefaultTimestamp.AddDate(10, 0, 0),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if len(attrs) > 0 {
		der, err := EncodeAttributes(attrs)
		if err != nil {
			return nil, err
		}
		tmpl.ExtraExtensions = []pkix.Extension{{Id: contract.AttributesOID, Value: der}}
	}
	return x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
}

// EncodeAttributes returns the canonical DER value of the attribute
// extension for attrs (what contract.DecodeAttributes accepts).
func EncodeAttributes(attrs map[string]string) ([]byte, error) {
	if len(attrs) > contract.MaxAttributes {
		return nil, fmt.Errorf("too many attributes: %d (at most %d)", len(attrs), contract.MaxAttributes)
	}
	type attribute struct {
		Name  string `asn1:"utf8"`
		Value string `asn1:"utf8"`
	}
	seq := make([]attribute, 0, len(attrs))
	for _, name := range slices.Sorted(maps.Keys(attrs)) {
		seq = append(seq, attribute{Name: name, Value: attrs[name]})
	}
	der, err := asn1.Marshal(seq)
	if err != nil {
		return nil, err
	}
	// Refuse what the decoder would refuse (bad names, long values).
	if _, err := contract.DecodeAttributes(der); err != nil {
		return nil, err
	}
	return der, nil
}
