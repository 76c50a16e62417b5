package identity

import (
	"os"
	"path/filepath"
	"testing"
)

func TestResolvePIN(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(file, []byte("4321\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BLOSSOM_TEST_PIN", "8765")
	for _, tc := range []struct {
		cfg  PKCS11Config
		want string
	}{
		{PKCS11Config{PIN: "1111"}, "1111"},
		{PKCS11Config{PINEnv: "BLOSSOM_TEST_PIN"}, "8765"},
		{PKCS11Config{PINFile: file}, "4321"},
	} {
		got, err := tc.cfg.resolvePIN()
		if err != nil || got != tc.want {
			t.Errorf("%v: resolvePIN = %q, %v; want %q", tc.cfg, got, err, tc.want)
		}
	}
}
