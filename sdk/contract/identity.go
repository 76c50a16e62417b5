package contract

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"
)

// AttributesOID identifies blossom's certificate attribute extension (the
// value blossom's CA writes; see docs/architecture.md for why this arc).
var AttributesOID = asn1.ObjectIdentifier{2, 25, 1553559643}

// RoleAttribute is the attribute carrying a user's BloSS@M role, for
// example "Authorizing Official".
const RoleAttribute = "blossom.role"

// Limits of the attribute extension, as enforced by blossom's CA.
const (
	MaxAttributes        = 32
	MaxAttributeNameLen  = 64
	MaxAttributeValueLen = 1024
	maxAttributeDER      = MaxAttributes * (MaxAttributeNameLen + MaxAttributeValueLen + 16)
)

// attribute is the ASN.1 shape of one attribute:
//
//	Attribute  ::= SEQUENCE { name UTF8String, value UTF8String }
//	Attributes ::= SEQUENCE OF Attribute -- sorted by name, names unique
type attribute struct {
	Name  string `asn1:"utf8"`
	Value string `asn1:"utf8"`
}

// DecodeAttributes parses the value of the AttributesOID extension. Only
// the canonical DER encoding is accepted: no trailing bytes, UTF8String
// components, names sorted and unique, at most MaxAttributes attributes,
// names of 1 to MaxAttributeNameLen characters from [A-Za-z0-9._-]
// starting with a letter, values valid UTF-8 of at most
// MaxAttributeValueLen bytes.
func DecodeAttributes(der []byte) (map[string]string, error) {
	if len(der) > maxAttributeDER {
		return nil, errors.New("attribute extension too large")
	}
	var seq []attribute
	rest, err := asn1.Unmarshal(der, &seq)
	if err != nil {
		return nil, fmt.Errorf("malformed attribute extension: %w", err)
	}
	if len(rest) != 0 {
		return nil, errors.New("malformed attribute extension: trailing data")
	}
	if len(seq) > MaxAttributes {
		return nil, fmt.Errorf("too many attributes: %d (at most %d)", len(seq), MaxAttributes)
	}
	attrs := make(map[string]string, len(seq))
	for i, a := range seq {
		if err := validateAttributeName(a.Name); err != nil {
			return nil, err
		}
		if len(a.Value) > MaxAttributeValueLen {
			return nil, fmt.Errorf("attribute %q: value longer than %d bytes", a.Name, MaxAttributeValueLen)
		}
		if !utf8.ValidString(a.Value) {
			return nil, fmt.Errorf("attribute %q: value is not valid UTF-8", a.Name)
		}
		if i > 0 && seq[i-1].Name >= a.Name {
			return nil, errors.New("malformed attribute extension: names not sorted and unique")
		}
		attrs[a.Name] = a.Value
	}
	// encoding/asn1 also accepts other string types (PrintableString,
	// IA5String, ...) and non-minimal lengths are refused by it already;
	// equality with the re-encoding makes the accepted input canonical.
	canonical, err := asn1.Marshal(seq)
	if err != nil || !bytes.Equal(canonical, der) {
		return nil, errors.New("malformed attribute extension: not the canonical DER encoding")
	}
	return attrs, nil
}

func validateAttributeName(name string) error {
	if name == "" || len(name) > MaxAttributeNameLen {
		return fmt.Errorf("attribute name must be 1 to %d characters", MaxAttributeNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if i == 0 && !letter {
			return fmt.Errorf("attribute name %q must start with a letter", name)
		}
		if !letter && !(c >= '0' && c <= '9') && c != '.' && c != '_' && c != '-' {
			return fmt.Errorf("attribute name %q has a character outside [A-Za-z0-9._-]", name)
		}
	}
	return nil
}

// CertificateAttributes returns the blossom attributes of cert: an empty
// map if it has no attribute extension, an error if the extension is
// malformed.
func CertificateAttributes(cert *x509.Certificate) (map[string]string, error) {
	for _, ext := range cert.Extensions {
		if ext.Id.Equal(AttributesOID) {
			return DecodeAttributes(ext.Value)
		}
	}
	return map[string]string{}, nil
}

// ClientIdentity is a transaction creator, its certificate parsed on first
// use. Stub implementations use it to answer GetAttribute; chaincodes may
// use it for the certificate's subject (for example the enrollment ID in
// the common name). It is safe for concurrent use.
type ClientIdentity struct {
	mspID   string
	certDER []byte

	once  sync.Once
	cert  *x509.Certificate
	attrs map[string]string
	err   error
}

// NewClientIdentity returns the identity of a creator; certDER is not
// copied and must not be modified.
func NewClientIdentity(mspID string, certDER []byte) *ClientIdentity {
	return &ClientIdentity{mspID: mspID, certDER: certDER}
}

// MSPID returns the creator's member.
func (c *ClientIdentity) MSPID() string { return c.mspID }

// CertDER returns the creator's DER certificate.
func (c *ClientIdentity) CertDER() []byte { return c.certDER }

func (c *ClientIdentity) parse() {
	c.once.Do(func() {
		if len(c.certDER) == 0 {
			c.err = errors.New("creator has no certificate")
			return
		}
		cert, err := x509.ParseCertificate(c.certDER)
		if err != nil {
			c.err = fmt.Errorf("creator certificate: %w", err)
			return
		}
		attrs, err := CertificateAttributes(cert)
		if err != nil {
			c.err = fmt.Errorf("creator certificate: %w", err)
			return
		}
		c.cert, c.attrs = cert, attrs
	})
}

// Certificate returns the parsed creator certificate.
func (c *ClientIdentity) Certificate() (*x509.Certificate, error) {
	c.parse()
	return c.cert, c.err
}

// Attribute returns one blossom attribute of the creator's certificate.
func (c *ClientIdentity) Attribute(name string) (value string, found bool, err error) {
	c.parse()
	if c.err != nil {
		return "", false, c.err
	}
	value, found = c.attrs[name]
	return value, found, nil
}
