package pki

import (
	"bytes"
	"encoding/asn1"
	"fmt"
	"maps"
	"strings"
	"testing"
)

func TestAttributesRoundTrip(t *testing.T) {
	many := make(map[string]string, MaxAttributes)
	for i := range MaxAttributes {
		many[fmt.Sprintf("attr%02d", i)] = strings.Repeat("v", i)
	}
	tests := []struct {
		name  string
		attrs map[string]string
	}{
		{"empty", map[string]string{}},
		{"role", map[string]string{RoleAttribute: "Authorizing Official"}},
		{"empty value", map[string]string{"blossom.revoker": ""}},
		{"unicode value", map[string]string{"a": "Agência – 機関 ✓"}},
		{"several", map[string]string{"z": "1", "a": "2", "m.n_o-p": "3", "B": "4"}},
		{"maximum", many},
		{"longest name and value", map[string]string{"a" + strings.Repeat("b", MaxAttributeNameLen-1): strings.Repeat("x", MaxAttributeValueLen)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			der, err := EncodeAttributes(tt.attrs)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeAttributes(der)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.attrs) {
				t.Fatalf("decoded %v, want %v", got, tt.attrs)
			}
			again, err := EncodeAttributes(got)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, der) {
				t.Fatal("encoding is not deterministic")
			}
		})
	}
}

func TestEncodeAttributesRefusals(t *testing.T) {
	tooMany := make(map[string]string, MaxAttributes+1)
	for i := range MaxAttributes + 1 {
		tooMany[fmt.Sprintf("attr%02d", i)] = ""
	}
	tests := []struct {
		name    string
		attrs   map[string]string
		wantErr string
	}{
		{"empty name", map[string]string{"": "x"}, "1 to 64"},
		{"name too long", map[string]string{"a" + strings.Repeat("b", MaxAttributeNameLen): "x"}, "1 to 64"},
		{"starts with digit", map[string]string{"1abc": "x"}, "must start with a letter"},
		{"starts with dot", map[string]string{".abc": "x"}, "must start with a letter"},
		{"space", map[string]string{"a b": "x"}, "outside"},
		{"slash", map[string]string{"a/b": "x"}, "outside"},
		{"non-ASCII name", map[string]string{"rôle": "x"}, "outside"},
		{"value too long", map[string]string{"a": strings.Repeat("x", MaxAttributeValueLen+1)}, "longer than"},
		{"invalid UTF-8 value", map[string]string{"a": "\xff\xfe"}, "not valid UTF-8"},
		{"too many", tooMany, "too many attributes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			der, err := EncodeAttributes(tt.attrs)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("EncodeAttributes error %v (der %x), want %q", err, der, tt.wantErr)
			}
		})
	}
}

// rawAttribute lets the tests build encodings EncodeAttributes would refuse.
type rawAttribute struct {
	Name  string `asn1:"utf8"`
	Value string `asn1:"utf8"`
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	der, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestDecodeAttributesRefusals(t *testing.T) {
	valid := mustMarshal(t, []rawAttribute{{"a", "1"}, {"b", "2"}})
	printable := bytes.Clone(mustMarshal(t, []rawAttribute{{"x", "y"}}))
	// 30 08 30 06 0c 01 78 0c 01 79: turn both UTF8String tags (0x0c) into
	// PrintableString (0x13), which encoding/asn1 would otherwise accept.
	printable[4], printable[7] = 0x13, 0x13
	tooMany := make([]rawAttribute, MaxAttributes+1)
	for i := range tooMany {
		tooMany[i] = rawAttribute{fmt.Sprintf("a%02d", i), ""}
	}
	nonMinimalLength := []byte{0x30, 0x81, 0x00}
	tests := []struct {
		name    string
		der     []byte
		wantErr string
	}{
		{"empty input", nil, "malformed"},
		{"garbage", []byte{0xde, 0xad, 0xbe, 0xef}, "malformed"},
		{"trailing data", append(bytes.Clone(valid), 0x00), "trailing data"},
		{"unsorted", mustMarshal(t, []rawAttribute{{"b", "2"}, {"a", "1"}}), "not sorted"},
		{"duplicate", mustMarshal(t, []rawAttribute{{"a", "1"}, {"a", "2"}}), "not sorted"},
		{"bad name", mustMarshal(t, []rawAttribute{{"1a", "1"}}), "start with a letter"},
		{"empty name", mustMarshal(t, []rawAttribute{{"", "1"}}), "1 to 64"},
		{"value too long", mustMarshal(t, []rawAttribute{{"a", strings.Repeat("v", MaxAttributeValueLen+1)}}), "longer than"},
		{"too many", mustMarshal(t, tooMany), "too many"},
		{"oversized", make([]byte, maxAttributeExtension+1), "too large"},
		{"printable strings", printable, "canonical"},
		{"non-minimal length", nonMinimalLength, "malformed"},
		{"set instead of sequence", append([]byte{0x31}, valid[1:]...), "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			attrs, err := DecodeAttributes(tt.der)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("DecodeAttributes = %v, %v; want error containing %q", attrs, err, tt.wantErr)
			}
		})
	}
}

func TestCertificateAttributes(t *testing.T) {
	ca := newTestIntermediate(t, ECDSAP256, "Agency1MSP")
	key, err := GenerateKey(ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	with, err := ca.Issue(IssueRequest{PublicKey: key.Public(), EnrollmentID: "u1", Role: RoleClient,
		Attributes: map[string]string{RoleAttribute: "Acquisition Officer"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := CertificateAttributes(with)
	if err != nil {
		t.Fatal(err)
	}
	if got[RoleAttribute] != "Acquisition Officer" || len(got) != 1 {
		t.Fatalf("attributes %v", got)
	}
	without, err := ca.Issue(IssueRequest{PublicKey: key.Public(), EnrollmentID: "u2", Role: RoleClient})
	if err != nil {
		t.Fatal(err)
	}
	got, err = CertificateAttributes(without)
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("CertificateAttributes without extension = %v, %v; want empty map", got, err)
	}
	// A certificate whose extension is malformed reports an error.
	broken := *with
	broken.Extensions = append(broken.Extensions[:0:0], with.Extensions...)
	for i, ext := range broken.Extensions {
		if ext.Id.Equal(AttributesOID) {
			broken.Extensions[i].Value = []byte{0x30, 0x03, 0x00}
		}
	}
	if _, err := CertificateAttributes(&broken); err == nil {
		t.Fatal("malformed extension accepted")
	}
}
