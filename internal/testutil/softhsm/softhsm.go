// Package softhsm gives tests a fresh SoftHSM2 PKCS#11 token of their own,
// so HSM-backed signers and key-encryption keys are tested against a real
// PKCS#11 module (Debian's softhsm2 package).
package softhsm

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Token label and PINs of the token NewToken creates.
const (
	TokenLabel = "T"
	UserPIN    = "1234"
	soPIN      = "5678"
)

// modules are where Debian's softhsm2 package puts the library.
var modules = []string{"/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"}

// NewToken creates a fresh token (label TokenLabel, user PIN UserPIN) in a
// temporary directory, points SOFTHSM2_CONF at it for the test, and returns
// the PKCS#11 module path (BLOSSOM_SOFTHSM_MODULE overrides the search).
// Without SoftHSM2 the test is skipped, unless BLOSSOM_REQUIRE_HSM is set
// (as in CI), where it fails.
func NewToken(t testing.TB) string {
	t.Helper()
	module := os.Getenv("BLOSSOM_SOFTHSM_MODULE")
	for _, m := range modules {
		if module != "" {
			break
		}
		if _, err := os.Stat(m); err == nil {
			module = m
		}
	}
	util, utilErr := exec.LookPath("softhsm2-util")
	if module == "" || utilErr != nil {
		msg := "SoftHSM2 not installed (apt-get install softhsm2)"
		if os.Getenv("BLOSSOM_REQUIRE_HSM") != "" {
			t.Fatal(msg + " and BLOSSOM_REQUIRE_HSM is set")
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	out, err := exec.Command(util, "--init-token", "--free", "--label", TokenLabel, "--pin", UserPIN, "--so-pin", soPIN).CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	return module
}
