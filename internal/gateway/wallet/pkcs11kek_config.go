package wallet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// PKCS11KEKConfig locates an AES-256 key-encryption key in a PKCS#11 token
// (an HSM; SoftHSM2 in tests). The key never leaves the token: sealing and
// opening data keys are AES-GCM operations inside it. The user PIN comes
// from exactly one of PINEnv, PINFile (mode 0600) or PIN, and is never
// logged or shown (String redacts it).
type PKCS11KEKConfig struct {
	ModulePath string // e.g. /usr/lib/softhsm/libsofthsm2.so
	TokenLabel string
	KeyLabel   string
	PINEnv     string
	PINFile    string
	PIN        string
}

// String describes the configuration without the PIN.
func (c PKCS11KEKConfig) String() string {
	return fmt.Sprintf("pkcs11-kek{module=%s token=%q key=%q}", c.ModulePath, c.TokenLabel, c.KeyLabel)
}

// GoString redacts the PIN from %#v.
func (c PKCS11KEKConfig) GoString() string { return c.String() }

func (c PKCS11KEKConfig) check() error {
	if c.ModulePath == "" || c.TokenLabel == "" || c.KeyLabel == "" {
		return errors.New("wallet: a PKCS#11 KEK needs a module path, a token label and a key label")
	}
	n := 0
	for _, s := range []string{c.PINEnv, c.PINFile, c.PIN} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return errors.New("wallet: give the token PIN through exactly one of PINEnv, PINFile and PIN")
	}
	return nil
}

func (c PKCS11KEKConfig) pin() (string, error) {
	switch {
	case c.PIN != "":
		return c.PIN, nil
	case c.PINEnv != "":
		pin, ok := os.LookupEnv(c.PINEnv)
		if !ok || pin == "" {
			return "", fmt.Errorf("wallet: environment variable %s holds no PIN", c.PINEnv)
		}
		return pin, nil
	}
	f, err := os.Open(c.PINFile)
	if err != nil {
		return "", fmt.Errorf("wallet: PIN file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "", err
	}
	if info.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("wallet: PIN file %s has mode %04o: it must not be readable by group or others (chmod 600)", c.PINFile, info.Mode().Perm())
	}
	data, err := io.ReadAll(io.LimitReader(f, 1025))
	if err != nil {
		return "", err
	}
	if len(data) > 1024 {
		return "", fmt.Errorf("wallet: PIN file %s is larger than 1 KiB", c.PINFile)
	}
	pin := string(bytes.TrimRight(data, "\r\n"))
	if pin == "" {
		return "", fmt.Errorf("wallet: PIN file %s is empty", c.PINFile)
	}
	return pin, nil
}
