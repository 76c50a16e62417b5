package identity

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
)

// PKCS11Config locates a key in a PKCS#11 token (an HSM, or SoftHSM2 in
// tests). The user PIN comes from exactly one of PINEnv, PINFile or PIN; it
// is never logged: String, GoString and LogValue redact it, and JSON
// encoding omits it.
type PKCS11Config struct {
	ModulePath string `json:"modulePath"` // the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so
	TokenLabel string `json:"tokenLabel"`
	PINEnv     string `json:"pinEnv,omitempty"`  // name of an environment variable holding the PIN
	PINFile    string `json:"pinFile,omitempty"` // file holding the PIN; must not be readable by group or others
	PIN        string `json:"-"`                 // the PIN itself, for callers that already hold it
	KeyLabel   string `json:"keyLabel,omitempty"`
	KeyID      []byte `json:"keyID,omitempty"`
}

const maxPINFileSize = 1024

func (c PKCS11Config) String() string {
	return fmt.Sprintf("pkcs11{module=%s token=%q key label=%q id=%x pin=%s}", c.ModulePath, c.TokenLabel, c.KeyLabel, c.KeyID, c.pinSourceName())
}

// GoString redacts the PIN from %#v.
func (c PKCS11Config) GoString() string { return c.String() }

// LogValue redacts the PIN from slog output.
func (c PKCS11Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("module", c.ModulePath),
		slog.String("token", c.TokenLabel),
		slog.String("keyLabel", c.KeyLabel),
		slog.String("keyID", fmt.Sprintf("%x", c.KeyID)),
		slog.String("pin", c.pinSourceName()),
	)
}

func (c PKCS11Config) pinSourceName() string {
	switch {
	case c.PINEnv != "":
		return "env:" + c.PINEnv
	case c.PINFile != "":
		return "file:" + c.PINFile
	case c.PIN != "":
		return "[redacted]"
	}
	return "none"
}

func (c PKCS11Config) check() error {
	if c.ModulePath == "" {
		return errors.New("pkcs11: module path is required")
	}
	if c.TokenLabel == "" {
		return errors.New("pkcs11: token label is required")
	}
	if c.KeyLabel == "" && len(c.KeyID) == 0 {
		return errors.New("pkcs11: a key label or key ID is required")
	}
	n := 0
	for _, s := range []string{c.PINEnv, c.PINFile, c.PIN} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return errors.New("pkcs11: give the PIN through exactly one of an environment variable, a file or the configuration")
	}
	return nil
}

// resolvePIN reads the PIN from its source. Errors never contain it.
func (c PKCS11Config) resolvePIN() (string, error) {
	switch {
	case c.PINEnv != "":
		pin, ok := os.LookupEnv(c.PINEnv)
		if !ok || pin == "" {
			return "", fmt.Errorf("pkcs11: environment variable %s is unset or empty", c.PINEnv)
		}
		return pin, nil
	case c.PINFile != "":
		f, err := os.Open(c.PINFile)
		if err != nil {
			return "", fmt.Errorf("pkcs11: PIN file: %w", err)
		}
		defer f.Close()
		info, err := f.Stat()
		if err != nil {
			return "", fmt.Errorf("pkcs11: PIN file: %w", err)
		}
		if info.Mode().Perm()&0o077 != 0 {
			return "", fmt.Errorf("pkcs11: PIN file %s has mode %04o: it must not be readable by group or others (chmod 600)", c.PINFile, info.Mode().Perm())
		}
		data, err := io.ReadAll(io.LimitReader(f, maxPINFileSize+1))
		if err != nil {
			return "", fmt.Errorf("pkcs11: PIN file: %w", err)
		}
		if len(data) > maxPINFileSize {
			return "", fmt.Errorf("pkcs11: PIN file %s is larger than %d bytes", c.PINFile, maxPINFileSize)
		}
		pin := string(bytes.TrimRight(data, "\r\n"))
		if pin == "" {
			return "", fmt.Errorf("pkcs11: PIN file %s is empty", c.PINFile)
		}
		return pin, nil
	}
	return c.PIN, nil
}
