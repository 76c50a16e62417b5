package wallet

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
)

func randomKEK(t *testing.T) *AESKEK {
	t.Helper()
	key := make([]byte, KEKSize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	kek, err := NewAESKEK(key)
	if err != nil {
		t.Fatal(err)
	}
	return kek
}

func openWallet(t *testing.T, dir string, kek KEK) *Wallet {
	t.Helper()
	w, err := Open(dir, kek, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return w
}

func TestWalletRoundTrip(t *testing.T) {
	c := testpki.NewConsortium(t, "Agency1MSP")
	for _, alg := range []pki.KeyAlgorithm{pki.ECDSAP256, pki.Ed25519} {
		t.Run(string(alg), func(t *testing.T) {
			dir := t.TempDir()
			kek := randomKEK(t)
			cred := c.Member("Agency1MSP").Issue(pki.RoleClient, "u-0123456789abcdef", map[string]string{pki.RoleAttribute: "Acquisition Officer"}, testpki.Options{Algorithm: alg})
			w := openWallet(t, dir, kek)
			if err := w.Put("u-0123456789abcdef", cred.Key, cred.Cert); err != nil {
				t.Fatalf("Put: %v", err)
			}
			if err := w.Put("u-0123456789abcdef", cred.Key, cred.Cert); !errors.Is(err, ErrExists) {
				t.Fatalf("second Put: %v, want ErrExists", err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			// Reopen: the key survives, decrypts and signs verifiably.
			w = openWallet(t, dir, kek)
			defer w.Close()
			signer, err := w.Signer("u-0123456789abcdef")
			if err != nil {
				t.Fatalf("Signer: %v", err)
			}
			if !signer.Certificate().Equal(cred.Cert) || signer.MSPID() != "Agency1MSP" {
				t.Fatalf("signer certificate or MSP differs")
			}
			msg := []byte("proposal bytes")
			sig, err := signer.Sign(msg)
			if err != nil {
				t.Fatal(err)
			}
			id, err := c.Manager().Check(identity.Request{Cert: cred.Cert.Raw, Roles: identity.AnyRole, Usage: identity.UsageSign, At: time.Now()})
			if err != nil {
				t.Fatalf("identity: %v", err)
			}
			if err := id.Verify(msg, sig); err != nil {
				t.Fatalf("signature from the wallet's key does not verify: %v", err)
			}
			cert, err := w.Certificate("u-0123456789abcdef")
			if err != nil || !cert.Equal(cred.Cert) {
				t.Fatalf("Certificate: %v", err)
			}
			if _, err := w.Signer("u-unknown"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("unknown user: %v, want ErrNotFound", err)
			}
			if err := w.Delete("u-0123456789abcdef"); err != nil {
				t.Fatal(err)
			}
			if _, err := w.Signer("u-0123456789abcdef"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("after Delete: %v, want ErrNotFound", err)
			}
		})
	}
}

func TestWalletRefusesBadInput(t *testing.T) {
	c := testpki.NewConsortium(t, "Agency1MSP")
	a := c.Member("Agency1MSP").Issue(pki.RoleClient, "a", nil)
	b := c.Member("Agency1MSP").Issue(pki.RoleClient, "b", nil)
	w := openWallet(t, t.TempDir(), randomKEK(t))
	defer w.Close()
	tests := []struct {
		name string
		id   string
		put  func() error
	}{
		{"key does not match certificate", "a", func() error { return w.Put("a", b.Key, a.Cert) }},
		{"bad enrollment ID", "a/b", func() error { return w.Put("a/b", a.Key, a.Cert) }},
		{"empty enrollment ID", "", func() error { return w.Put("", a.Key, a.Cert) }},
		{"nil certificate", "a", func() error { return w.Put("a", a.Key, nil) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.put(); err == nil {
				t.Fatal("Put accepted bad input")
			}
			if _, err := w.Signer("a"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("a refused Put stored something: %v", err)
			}
		})
	}
}

func TestWalletWrongKEK(t *testing.T) {
	c := testpki.NewConsortium(t, "Agency1MSP")
	cred := c.Member("Agency1MSP").Issue(pki.RoleClient, "u-1", nil)
	dir := t.TempDir()
	w := openWallet(t, dir, randomKEK(t))
	if err := w.Put("u-1", cred.Key, cred.Cert); err != nil {
		t.Fatal(err)
	}
	w.Close()

	// Another KEK: Open refuses cleanly, and says nothing about keys.
	_, err := Open(dir, randomKEK(t), Options{})
	if !errors.Is(err, ErrWrongKEK) {
		t.Fatalf("Open under another KEK: %v, want ErrWrongKEK", err)
	}

	// A KEK that claims the right ID but holds another key (or a tampered
	// check value) fails at the decryption, still cleanly.
	good := randomKEK(t)
	dir2 := t.TempDir()
	w2 := openWallet(t, dir2, good)
	if err := w2.Put("u-1", cred.Key, cred.Cert); err != nil {
		t.Fatal(err)
	}
	w2.Close()
	impostor := &fixedIDKEK{KEK: randomKEK(t), id: good.ID()}
	if _, err := Open(dir2, impostor, Options{}); !errors.Is(err, ErrWrongKEK) {
		t.Fatalf("Open under an impostor KEK: %v, want ErrWrongKEK", err)
	}
}

// fixedIDKEK is a KEK that lies about its ID.
type fixedIDKEK struct {
	KEK
	id string
}

func (k *fixedIDKEK) ID() string { return k.id }

func TestWalletRecordBoundToEnrollmentID(t *testing.T) {
	c := testpki.NewConsortium(t, "Agency1MSP")
	a := c.Member("Agency1MSP").Issue(pki.RoleClient, "alice", nil)
	w := openWallet(t, t.TempDir(), randomKEK(t))
	defer w.Close()
	if err := w.Put("alice", a.Key, a.Cert); err != nil {
		t.Fatal(err)
	}
	// Copy alice's sealed record under mallory's name: it must not open.
	data, err := w.get(userKey("alice"))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.db.Set(userKey("mallory"), data, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Signer("mallory"); !errors.Is(err, ErrWrongKEK) {
		t.Fatalf("a record moved to another enrollment ID opened: %v", err)
	}
}

// TestWalletFilesHoldNoPlaintextKey greps every file of the database for the
// private key in each encoding it could leak in.
func TestWalletFilesHoldNoPlaintextKey(t *testing.T) {
	c := testpki.NewConsortium(t, "Agency1MSP")
	dir := t.TempDir()
	w := openWallet(t, dir, randomKEK(t))
	ecCred := c.Member("Agency1MSP").Issue(pki.RoleClient, "ec-user", nil)
	edCred := c.Member("Agency1MSP").Issue(pki.RoleClient, "ed-user", nil, testpki.Options{Algorithm: pki.Ed25519})
	for _, cred := range []*testpki.Credential{ecCred, edCred} {
		if err := w.Put(cred.Cert.Subject.CommonName, cred.Key, cred.Cert); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil { // flushes the memtable to the WAL/sstables
		t.Fatal(err)
	}
	var needles [][]byte
	for _, cred := range []*testpki.Credential{ecCred, edCred} {
		der, err := x509.MarshalPKCS8PrivateKey(cred.Key)
		if err != nil {
			t.Fatal(err)
		}
		var scalar []byte
		switch k := cred.Key.(type) {
		case *ecdsa.PrivateKey:
			scalar, err = k.Bytes()
			if err != nil {
				t.Fatal(err)
			}
		case ed25519.PrivateKey:
			scalar = k.Seed()
		default:
			t.Fatalf("unexpected key type %T", cred.Key)
		}
		pemKey, err := pki.MarshalPrivateKeyPEM(cred.Key)
		if err != nil {
			t.Fatal(err)
		}
		needles = append(needles, der, scalar, []byte(hex.EncodeToString(scalar)),
			[]byte(base64.StdEncoding.EncodeToString(der)), []byte(base64.StdEncoding.EncodeToString(scalar)), pemKey)
	}
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for _, n := range needles {
			if bytes.Contains(data, n) {
				t.Errorf("%s contains a plaintext private key (%d bytes matched)", path, len(n))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatal("no database files to check")
	}
	// The certificate, which is public, is stored: the grep does look at
	// the records.
	found := false
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data, _ := os.ReadFile(path)
			found = found || bytes.Contains(data, []byte(base64.StdEncoding.EncodeToString(ecCred.Cert.Raw)))
		}
		return nil
	})
	if !found {
		t.Fatal("the certificate is in no file: the grep did not see the records")
	}
}

func TestKEKLoading(t *testing.T) {
	raw := bytes.Repeat([]byte{0x5a}, KEKSize)
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	want, err := NewAESKEK(raw)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		wantErr string
	}{
		{"hex", write("hex", hex.EncodeToString(raw)+"\n", 0o600), ""},
		{"base64", write("b64", base64.StdEncoding.EncodeToString(raw), 0o600), ""},
		{"group readable", write("open", hex.EncodeToString(raw), 0o640), "must not be readable"},
		{"short", write("short", hex.EncodeToString(raw[:16]), 0o600), "must be 32 bytes"},
		{"garbage", write("garbage", "not a key", 0o600), "must be 32 bytes"},
		{"missing", filepath.Join(dir, "nope"), "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kek, err := LoadKEKFile(tc.path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), hex.EncodeToString(raw)) {
					t.Fatal("error echoes the key")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if kek.ID() != want.ID() {
				t.Fatalf("ID %s, want %s", kek.ID(), want.ID())
			}
		})
	}
	t.Setenv("BLOSSOM_TEST_KEK", hex.EncodeToString(raw))
	kek, err := KEKFromEnv("BLOSSOM_TEST_KEK")
	if err != nil || kek.ID() != want.ID() {
		t.Fatalf("KEKFromEnv: %v", err)
	}
	if _, err := KEKFromEnv("BLOSSOM_TEST_KEK_UNSET"); err == nil {
		t.Fatal("KEKFromEnv accepted an unset variable")
	}
	gen := filepath.Join(dir, "generated")
	if err := GenerateKEKFile(gen); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(gen); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("generated KEK file mode: %v %v", info.Mode(), err)
	}
	if _, err := LoadKEKFile(gen); err != nil {
		t.Fatal(err)
	}
	if err := GenerateKEKFile(gen); err == nil {
		t.Fatal("GenerateKEKFile replaced an existing key")
	}
	if s := want.String(); strings.Contains(s, hex.EncodeToString(raw)) {
		t.Fatal("String shows the key")
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte(`{"v":1,"kek":"aes:00","dek":"AAAA","key":"AAAA","cert":"","updatedAt":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"v":1,"kek":"x","key":"AA=="} trailing`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := decodeRecord(data)
		if err != nil {
			return
		}
		if rec.Version != recordVersion || rec.KEKID == "" || len(rec.Key) == 0 {
			t.Fatalf("accepted an incomplete record %+v", rec)
		}
	})
}

func FuzzParseKEK(f *testing.F) {
	f.Add(strings.Repeat("ab", 32))
	f.Add(base64.StdEncoding.EncodeToString(make([]byte, 32)))
	f.Add("")
	f.Add("zz")
	f.Fuzz(func(t *testing.T, s string) {
		key, err := ParseKEK(s)
		if err == nil && len(key) != KEKSize {
			t.Fatalf("ParseKEK returned %d bytes", len(key))
		}
	})
}
