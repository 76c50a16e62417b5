package identity_test

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
)

func TestSignAndVerify(t *testing.T) {
	c := testpki.NewConsortium(t, "Org1MSP")
	mgr := c.Manager()
	for _, alg := range []pki.KeyAlgorithm{pki.ECDSAP256, pki.Ed25519} {
		t.Run(string(alg), func(t *testing.T) {
			cred := c.Member("Org1MSP").Issue(pki.RolePeer, "peer0", nil, testpki.Options{Algorithm: alg})
			id, err := mgr.Validate("Org1MSP", cred.Cert.Raw, identity.AnyRole, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			msg := []byte("block 7 header")
			sig, err := cred.Signer.Sign(msg)
			if err != nil {
				t.Fatal(err)
			}
			if err := id.Verify(msg, sig); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if err := id.Verify([]byte("block 8 header"), sig); !errors.Is(err, identity.ErrSignature) {
				t.Fatalf("other message: %v; want ErrSignature", err)
			}
			bad := append([]byte{}, sig...)
			bad[len(bad)/2] ^= 1
			if err := id.Verify(msg, bad); !errors.Is(err, identity.ErrSignature) {
				t.Fatalf("flipped bit: %v; want ErrSignature", err)
			}
			if err := id.Verify(msg, append(append([]byte{}, sig...), 0)); !errors.Is(err, identity.ErrSignature) {
				t.Fatalf("trailing byte: %v; want ErrSignature", err)
			}
			if err := id.Verify(msg, nil); !errors.Is(err, identity.ErrSignature) {
				t.Fatalf("empty signature: %v; want ErrSignature", err)
			}
			if cred.Signer.MSPID() != "Org1MSP" || !cred.Signer.Certificate().Equal(cred.Cert) {
				t.Fatal("signer identity")
			}
			if pub, ok := cred.Signer.Public().(*ecdsa.PublicKey); ok {
				digest := sha256.Sum256(msg)
				if !ecdsa.VerifyASN1(pub, digest[:], sig) {
					t.Fatal("ECDSA signature is not ASN.1 over SHA-256(msg)")
				}
			}
		})
	}
}

func TestFileSigner(t *testing.T) {
	c := testpki.NewConsortium(t, "Org1MSP")
	cred := c.Member("Org1MSP").Issue(pki.RoleClient, "user0", nil)
	dir := t.TempDir()
	keyPath, certPath := cred.WriteFiles(t, dir)

	s, err := identity.NewFileSigner(keyPath, certPath)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.Sign([]byte("m"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.Manager().Validate("Org1MSP", s.Certificate().Raw, identity.AnyRole, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := id.Verify([]byte("m"), sig); err != nil {
		t.Fatal(err)
	}

	// A key file readable by others is refused.
	if err := os.Chmod(keyPath, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := identity.NewFileSigner(keyPath, certPath); err == nil || !strings.Contains(err.Error(), "must not be readable by group or others") {
		t.Fatalf("0644 key: %v", err)
	}
	if err := os.Chmod(keyPath, 0o600); err != nil {
		t.Fatal(err)
	}

	// A key that does not match the certificate is refused.
	other := c.Member("Org1MSP").Issue(pki.RoleClient, "user1", nil)
	otherKey, _ := other.WriteFiles(t, t.TempDir())
	if _, err := identity.NewFileSigner(otherKey, certPath); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("mismatched key: %v", err)
	}
	if _, err := identity.NewFileSigner(filepath.Join(dir, "missing.pem"), certPath); err == nil {
		t.Fatal("missing key file accepted")
	}
	if _, err := identity.NewKeySigner(nil, cred.Cert); err == nil {
		t.Fatal("nil key accepted")
	}
}

func TestNewTLSSigner(t *testing.T) {
	cons := testpki.NewConsortium(t, "Org1MSP")
	cred := cons.Member("Org1MSP").Issue(pki.RolePeer, "peer0", nil)
	s, err := identity.NewTLSSigner(cred.TLS)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.Sign([]byte("block"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := cons.Manager().Validate("Org1MSP", s.Certificate().Raw, identity.AnyRole, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := id.Verify([]byte("block"), sig); err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}
	if s.MSPID() != "Org1MSP" || !s.Certificate().Equal(cred.Cert) {
		t.Fatalf("signer identity %s %v", s.MSPID(), s.Certificate().Subject)
	}
	if _, err := identity.NewTLSSigner(tls.Certificate{}); err == nil {
		t.Fatal("a TLS certificate without a leaf was accepted")
	}
	noSigner := cred.TLS
	noSigner.PrivateKey = struct{}{}
	if _, err := identity.NewTLSSigner(noSigner); err == nil {
		t.Fatal("a key that cannot sign was accepted")
	}
}
