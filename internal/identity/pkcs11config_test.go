package identity_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/blossom-ledger/blossom/internal/identity"
)

func TestPKCS11ConfigNeverShowsPIN(t *testing.T) {
	const pin = "s3cret-PIN-4821"
	cfg := identity.PKCS11Config{ModulePath: "/lib/x.so", TokenLabel: "T", PIN: pin, KeyLabel: "k", KeyID: []byte{1, 2}}
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	logger.Info("hsm", "config", cfg)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("hsm", "config", cfg)
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]string{
		"String": cfg.String(), "%v": fmt.Sprintf("%v", cfg), "%+v": fmt.Sprintf("%+v", cfg),
		"%#v": fmt.Sprintf("%#v", cfg), "slog": buf.String(), "json": string(js),
	} {
		if strings.Contains(s, pin) {
			t.Errorf("%s shows the PIN: %s", name, s)
		}
		if !strings.Contains(s, "/lib/x.so") && name != "json" {
			t.Errorf("%s lost the module path: %s", name, s)
		}
	}
}

func TestPKCS11ConfigRefusesBadPINSources(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "pin-open")
	if err := os.WriteFile(open, []byte("1234\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "pin-empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "pin-big")
	if err := os.WriteFile(big, bytes.Repeat([]byte("9"), 2000), 0o600); err != nil {
		t.Fatal(err)
	}
	base := identity.PKCS11Config{ModulePath: "/nonexistent/lib.so", TokenLabel: "T", KeyLabel: "k"}
	with := func(f func(*identity.PKCS11Config)) identity.PKCS11Config { c := base; f(&c); return c }
	tests := map[string]struct {
		cfg  identity.PKCS11Config
		want string
	}{
		"no PIN":           {base, "exactly one"},
		"two PIN sources":  {with(func(c *identity.PKCS11Config) { c.PIN, c.PINEnv = "1", "X" }), "exactly one"},
		"no module":        {with(func(c *identity.PKCS11Config) { c.PIN, c.ModulePath = "1", "" }), "module path"},
		"no token":         {with(func(c *identity.PKCS11Config) { c.PIN, c.TokenLabel = "1", "" }), "token label"},
		"no key":           {with(func(c *identity.PKCS11Config) { c.PIN, c.KeyLabel = "1", "" }), "key label or key ID"},
		"unset env":        {with(func(c *identity.PKCS11Config) { c.PINEnv = "BLOSSOM_TEST_UNSET_PIN_VAR" }), "unset or empty"},
		"open PIN file":    {with(func(c *identity.PKCS11Config) { c.PINFile = open }), "must not be readable by group or others"},
		"empty PIN file":   {with(func(c *identity.PKCS11Config) { c.PINFile = empty }), "is empty"},
		"huge PIN file":    {with(func(c *identity.PKCS11Config) { c.PINFile = big }), "larger than"},
		"missing PIN file": {with(func(c *identity.PKCS11Config) { c.PINFile = filepath.Join(dir, "none") }), "no such file"},
	}
	for name, tc := range tests {
		if _, err := identity.OpenPKCS11Key(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v; want %q", name, err, tc.want)
		}
	}
}
