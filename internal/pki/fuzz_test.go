package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"testing"
)

// FuzzDecodeAttributes checks that DecodeAttributes never panics and that
// whatever it accepts is canonical: re-encoding gives the input back.
func FuzzDecodeAttributes(f *testing.F) {
	for _, attrs := range []map[string]string{
		{},
		{RoleAttribute: "Authorizing Official"},
		{"a": "", "b": "x", "blossom.registrar.roles": "client,peer"},
	} {
		der, err := EncodeAttributes(attrs)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der)
	}
	f.Add([]byte{0x30, 0x08, 0x30, 0x06, 0x13, 0x01, 0x78, 0x13, 0x01, 0x79}) // PrintableString
	f.Add([]byte{0x30, 0x80, 0x00, 0x00})                                     // indefinite length
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, der []byte) {
		attrs, err := DecodeAttributes(der)
		if err != nil {
			if attrs != nil {
				t.Fatal("DecodeAttributes returned attributes with an error")
			}
			return
		}
		again, err := EncodeAttributes(attrs)
		if err != nil {
			t.Fatalf("decoded attributes do not re-encode: %v", err)
		}
		if !bytes.Equal(again, der) {
			t.Fatalf("accepted a non-canonical encoding:\n in  %x\n out %x", der, again)
		}
	})
}

// FuzzParseCSR checks that ParseCSR never panics and accepts only CSRs whose
// self-signature verifies and whose key is of a supported type.
func FuzzParseCSR(f *testing.F) {
	for _, alg := range algorithms {
		_, csr, err := NewIntermediateCSR("Agency1MSP", alg)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(csr)
		f.Add(csr[:len(csr)/2])
	}
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		csr, err := ParseCSR(der)
		if err != nil {
			if csr != nil {
				t.Fatal("ParseCSR returned a CSR with an error")
			}
			return
		}
		if err := csr.CheckSignature(); err != nil {
			t.Fatalf("accepted CSR's signature does not verify: %v", err)
		}
		switch csr.PublicKey.(type) {
		case *ecdsa.PublicKey, ed25519.PublicKey:
		default:
			t.Fatalf("accepted CSR with key type %T", csr.PublicKey)
		}
		if err := checkKeyType(csr.PublicKey); err != nil {
			t.Fatalf("accepted CSR with unsupported key: %v", err)
		}
	})
}
