package contract_test

import (
	"encoding/asn1"
	"maps"
	"strings"
	"testing"

	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// The SDK re-implements the CA's attribute format (it must not import
// internal packages); these tests hold the two to the same definition.

func TestAttributeConstantsMatchPKI(t *testing.T) {
	if !contract.AttributesOID.Equal(pki.AttributesOID) {
		t.Errorf("AttributesOID = %v, pki has %v", contract.AttributesOID, pki.AttributesOID)
	}
	if contract.RoleAttribute != pki.RoleAttribute {
		t.Errorf("RoleAttribute = %q, pki has %q", contract.RoleAttribute, pki.RoleAttribute)
	}
	if contract.MaxAttributes != pki.MaxAttributes || contract.MaxAttributeNameLen != pki.MaxAttributeNameLen || contract.MaxAttributeValueLen != pki.MaxAttributeValueLen {
		t.Error("attribute limits differ from pki's")
	}
}

func TestDecodeAttributesOfPKIEncoding(t *testing.T) {
	for _, attrs := range []map[string]string{
		{},
		{"blossom.role": "Authorizing Official"},
		{"blossom.role": "Technical Point of Contact", "a": "", "z-9_x.y": "ünïcode <&>"},
		{"v": strings.Repeat("x", pki.MaxAttributeValueLen)},
	} {
		der, err := pki.EncodeAttributes(attrs)
		if err != nil {
			t.Fatal(err)
		}
		got, err := contract.DecodeAttributes(der)
		if err != nil || !maps.Equal(got, attrs) {
			t.Errorf("DecodeAttributes(pki.EncodeAttributes(%v)) = %v, %v", attrs, got, err)
		}
	}
}

func TestDecodeAttributesRefusesNonCanonical(t *testing.T) {
	type printable struct {
		Name  string `asn1:"printable"`
		Value string `asn1:"printable"`
	}
	type utf8attr struct {
		Name  string `asn1:"utf8"`
		Value string `asn1:"utf8"`
	}
	mustDER := func(v any) []byte {
		b, err := asn1.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := mustDER([]utf8attr{{"a", "1"}})
	tests := map[string][]byte{
		"printable strings": mustDER([]printable{{"a", "1"}}),
		"unsorted":          mustDER([]utf8attr{{"b", "1"}, {"a", "2"}}),
		"duplicate":         mustDER([]utf8attr{{"a", "1"}, {"a", "2"}}),
		"bad name":          mustDER([]utf8attr{{"1a", "x"}}),
		"trailing data":     append(good, 0),
		"garbage":           {0x30, 0x80},
		"too long value":    mustDER([]utf8attr{{"a", strings.Repeat("x", pki.MaxAttributeValueLen+1)}}),
	}
	for name, der := range tests {
		if got, err := contract.DecodeAttributes(der); err == nil {
			t.Errorf("%s: DecodeAttributes = %v, want an error", name, got)
		}
		if _, err := pki.DecodeAttributes(der); err == nil {
			t.Errorf("%s: pki accepts it, the tests' premise is wrong", name)
		}
	}
}

func TestClientIdentity(t *testing.T) {
	c := testpki.NewConsortium(t, "Agency1MSP")
	m := c.Member("Agency1MSP")
	withRole := m.Issue(pki.RoleClient, "user1", map[string]string{pki.RoleAttribute: "Acquisition Officer"})
	noAttrs := m.Issue(pki.RoleClient, "user2", nil)

	id := contract.NewClientIdentity("Agency1MSP", withRole.Cert.Raw)
	if id.MSPID() != "Agency1MSP" || string(id.CertDER()) != string(withRole.Cert.Raw) {
		t.Fatal("identity does not keep MSP ID and certificate")
	}
	if v, ok, err := id.Attribute(contract.RoleAttribute); err != nil || !ok || v != "Acquisition Officer" {
		t.Fatalf("Attribute(role) = %q, %v, %v", v, ok, err)
	}
	if v, ok, err := id.Attribute("other"); err != nil || ok || v != "" {
		t.Fatalf("Attribute(other) = %q, %v, %v", v, ok, err)
	}
	cert, err := id.Certificate()
	if err != nil || cert.Subject.CommonName != "user1" {
		t.Fatalf("Certificate() = %v, %v", cert, err)
	}

	if _, ok, err := contract.NewClientIdentity("Agency1MSP", noAttrs.Cert.Raw).Attribute(contract.RoleAttribute); err != nil || ok {
		t.Fatalf("certificate without attributes: found=%v err=%v", ok, err)
	}
	for name, der := range map[string][]byte{"no certificate": nil, "garbage": []byte("not a certificate")} {
		if _, _, err := contract.NewClientIdentity("M", der).Attribute(contract.RoleAttribute); err == nil {
			t.Errorf("%s: Attribute succeeded", name)
		}
	}
}

// FuzzDecodeAttributes checks the SDK decoder against the CA's own: both
// accept exactly the same inputs and decode them alike.
func FuzzDecodeAttributes(f *testing.F) {
	for _, attrs := range []map[string]string{
		{}, {"blossom.role": "Authorizing Official"}, {"a": "", "b": "ü"},
	} {
		der, err := pki.EncodeAttributes(attrs)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der)
	}
	f.Add([]byte{0x30, 0x00})
	f.Add([]byte{0x30, 0x06, 0x30, 0x04, 0x13, 0x01, 'a', 0x13, 0x00})
	f.Add([]byte{0x30, 0x81, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		got, err := contract.DecodeAttributes(der)
		want, wantErr := pki.DecodeAttributes(der)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("SDK error %v, pki error %v for %x", err, wantErr, der)
		}
		if err == nil && !maps.Equal(got, want) {
			t.Fatalf("SDK decoded %v, pki %v", got, want)
		}
	})
}
