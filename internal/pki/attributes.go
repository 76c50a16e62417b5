package pki

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"sort"
	"unicode/utf8"
)

// AttributesOID identifies blossom's attribute extension.
//
// DESIGN.md asks for an OID under the 2.25 (UUID) arc. A random UUID's
// integer value needs 128 bits, but Go's X.509 parser (crypto/x509 through
// cryptobyte) rejects any OID arc of 2^31 or more as "malformed extension
// OID field", which would make every blossom certificate unparseable by Go.
// The arc below is therefore a UUID whose integer value fits 31 bits
// (00000000-0000-0000-0000-00005c99a85b), picked at random in that range.
var AttributesOID = asn1.ObjectIdentifier{2, 25, 1553559643}

// Attribute limits: a certificate is carried in every transaction, so the
// extension stays small.
const (
	MaxAttributes         = 32
	MaxAttributeNameLen   = 64
	MaxAttributeValueLen  = 1024
	maxAttributeExtension = MaxAttributes * (MaxAttributeNameLen + MaxAttributeValueLen + 16)
)

// RoleAttribute is the attribute that carries a user's BloSS@M role
// (for example "Authorizing Official").
const RoleAttribute = "blossom.role"

// attributeDER is the ASN.1 shape of one attribute:
//
//	Attribute ::= SEQUENCE { name UTF8String, value UTF8String }
//	Attributes ::= SEQUENCE OF Attribute   -- sorted by name, names unique
type attributeDER struct {
	Name  string `asn1:"utf8"`
	Value string `asn1:"utf8"`
}

// ValidateAttributeName checks the syntax of an attribute name:
// 1 to 64 characters from [A-Za-z0-9._-], starting with a letter.
func ValidateAttributeName(name string) error {
	if name == "" || len(name) > MaxAttributeNameLen {
		return fmt.Errorf("attribute name must be 1 to %d characters", MaxAttributeNameLen)
	}
	for i, c := range name {
		letter := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if i == 0 && !letter {
			return fmt.Errorf("attribute name %q must start with a letter", name)
		}
		if !letter && !(c >= '0' && c <= '9') && c != '.' && c != '_' && c != '-' {
			return fmt.Errorf("attribute name %q has a character outside [A-Za-z0-9._-]", name)
		}
	}
	return nil
}

func validateAttributeValue(name, value string) error {
	if len(value) > MaxAttributeValueLen {
		return fmt.Errorf("attribute %q: value longer than %d bytes", name, MaxAttributeValueLen)
	}
	if !utf8.ValidString(value) {
		return fmt.Errorf("attribute %q: value is not valid UTF-8", name)
	}
	return nil
}

// ValidateAttributes checks every name and value against the limits.
func ValidateAttributes(attrs map[string]string) error {
	if len(attrs) > MaxAttributes {
		return fmt.Errorf("too many attributes: %d (at most %d)", len(attrs), MaxAttributes)
	}
	for name, value := range attrs {
		if err := ValidateAttributeName(name); err != nil {
			return err
		}
		if err := validateAttributeValue(name, value); err != nil {
			return err
		}
	}
	return nil
}

// EncodeAttributes returns the canonical DER encoding of attrs (sorted by
// name), the value of the AttributesOID extension.
func EncodeAttributes(attrs map[string]string) ([]byte, error) {
	if err := ValidateAttributes(attrs); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(attrs))
	for name := range attrs {
		names = append(names, name)
	}
	sort.Strings(names)
	seq := make([]attributeDER, len(names))
	for i, name := range names {
		seq[i] = attributeDER{Name: name, Value: attrs[name]}
	}
	return asn1.Marshal(seq)
}

// DecodeAttributes parses an AttributesOID extension value. It accepts only
// the canonical encoding: no trailing bytes, names sorted and unique, every
// name and value within the limits.
func DecodeAttributes(der []byte) (map[string]string, error) {
	if len(der) > maxAttributeExtension {
		return nil, errors.New("attribute extension too large")
	}
	var seq []attributeDER
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
		if err := ValidateAttributeName(a.Name); err != nil {
			return nil, err
		}
		if err := validateAttributeValue(a.Name, a.Value); err != nil {
			return nil, err
		}
		if i > 0 && seq[i-1].Name >= a.Name {
			return nil, errors.New("malformed attribute extension: names not sorted and unique")
		}
		attrs[a.Name] = a.Value
	}
	// encoding/asn1 also accepts PrintableString, IA5String, T61String and
	// other string types where the canonical form has UTF8String, so the
	// checks above do not make the input canonical on their own: the input
	// must equal its re-encoding byte for byte.
	canonical, err := asn1.Marshal(seq)
	if err != nil || !bytes.Equal(canonical, der) {
		return nil, errors.New("malformed attribute extension: not the canonical DER encoding")
	}
	return attrs, nil
}

// CertificateAttributes returns the blossom attributes of cert (an empty map
// if it has none) or an error if the extension is present but malformed.
func CertificateAttributes(cert *x509.Certificate) (map[string]string, error) {
	for _, ext := range cert.Extensions {
		if ext.Id.Equal(AttributesOID) {
			return DecodeAttributes(ext.Value)
		}
	}
	return map[string]string{}, nil
}
