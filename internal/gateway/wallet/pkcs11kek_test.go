//go:build cgo

package wallet

import (
	"errors"
	"strings"
	"testing"

	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/testutil/softhsm"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
)

func TestPKCS11KEKWallet(t *testing.T) {
	module := softhsm.NewToken(t)
	t.Setenv("BLOSSOM_TEST_HSM_PIN", "1234")
	cfg := PKCS11KEKConfig{ModulePath: module, TokenLabel: "T", KeyLabel: "wallet-kek", PINEnv: "BLOSSOM_TEST_HSM_PIN"}
	kek, err := GeneratePKCS11KEK(cfg)
	if err != nil {
		t.Fatalf("GeneratePKCS11KEK: %v", err)
	}
	if _, err := GeneratePKCS11KEK(cfg); err == nil {
		t.Fatal("a second key with the same label was created")
	}
	c := testpki.NewConsortium(t, "Agency1MSP")
	cred := c.Member("Agency1MSP").Issue(pki.RoleClient, "u-hsm", nil)
	dir := t.TempDir()
	w, err := Open(dir, kek, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Put("u-hsm", cred.Key, cred.Cert); err != nil {
		t.Fatal(err)
	}
	w.Close()
	kek.Close()

	// Reopen the token key by label: the wallet opens and signs.
	kek2, err := OpenPKCS11KEK(cfg)
	if err != nil {
		t.Fatalf("OpenPKCS11KEK: %v", err)
	}
	defer kek2.Close()
	w, err = Open(dir, kek2, Options{})
	if err != nil {
		t.Fatalf("Open under the token KEK: %v", err)
	}
	defer w.Close()
	signer, err := w.Signer("u-hsm")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signer.Sign([]byte("m")); err != nil {
		t.Fatal(err)
	}
	// Tampered ciphertext fails cleanly inside the token.
	sealed, err := kek2.Seal([]byte("data key"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := kek2.Open(sealed, []byte("aad")); !errors.Is(err, errOpen) {
		t.Fatalf("tampered ciphertext: %v", err)
	}
	// A file KEK does not open the token-sealed wallet.
	w.Close()
	if _, err := Open(dir, randomKEK(t), Options{}); !errors.Is(err, ErrWrongKEK) {
		t.Fatalf("file KEK on an HSM wallet: %v", err)
	}
	if s := cfg.String(); strings.Contains(s, "1234") {
		t.Fatal("String shows the PIN")
	}
	// Bad configurations are refused before touching the token.
	for _, bad := range []PKCS11KEKConfig{
		{ModulePath: module, TokenLabel: "T", PIN: "1234"},
		{ModulePath: module, TokenLabel: "T", KeyLabel: "k"},
		{ModulePath: module, TokenLabel: "T", KeyLabel: "k", PIN: "1", PINEnv: "X"},
	} {
		if _, err := OpenPKCS11KEK(bad); err == nil {
			t.Fatalf("OpenPKCS11KEK accepted %v", bad)
		}
	}
}
