package cli

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/caserver"
	"github.com/blossom-ledger/blossom/internal/pki"
)

// lockedBuffer collects the output of a command running in a goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runCA runs one blossom command line in-process and returns its stdout.
func runCA(t *testing.T, ctx context.Context, stderr *lockedBuffer, args ...string) (string, error) {
	t.Helper()
	root := NewRootCommand()
	var stdout bytes.Buffer
	root.SetArgs(args)
	root.SetOut(&stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	return stdout.String(), err
}

func mustRunCA(t *testing.T, stderr *lockedBuffer, args ...string) string {
	t.Helper()
	out, err := runCA(t, context.Background(), stderr, args...)
	if err != nil {
		t.Fatalf("blossom %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// waitForFile polls for path until it exists or the deadline passes.
func waitForFile(t *testing.T, path string, done <-chan error) []byte {
	t.Helper()
	deadline := time.After(15 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if data, err := os.ReadFile(path); err == nil && bytes.HasSuffix(data, []byte("\n")) {
			return data
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited before writing %s: %v", path, err)
		case <-deadline:
			t.Fatalf("%s did not appear", path)
		case <-tick.C:
		}
	}
}

func TestCACommandFlow(t *testing.T) {
	tmp := t.TempDir()
	rootDir := filepath.Join(tmp, "root")
	caDir := filepath.Join(tmp, "ca")
	adminDir := filepath.Join(tmp, "admin")
	userDir := filepath.Join(tmp, "user")
	user2Dir := filepath.Join(tmp, "user-renewed")
	stderr := &lockedBuffer{}
	var stdouts []string
	run := func(args ...string) string {
		out := mustRunCA(t, stderr, args...)
		stdouts = append(stdouts, out)
		return out
	}

	run("ca", "root", "init", "--dir", rootDir, "--name", "Test consortium root CA", "--org", "Test consortium")
	run("ca", "init", "--dir", caDir, "--msp", "Agency1MSP", "--algorithm", "ed25519")
	run("ca", "root", "sign", "--dir", rootDir, "--csr", filepath.Join(caDir, caserver.CSRFile), "--out", filepath.Join(tmp, "ca-cert.pem"))
	run("ca", "install", "--dir", caDir, "--cert", filepath.Join(tmp, "ca-cert.pem"), "--root", filepath.Join(rootDir, caserver.RootCertFile))
	bootstrapSecret, err := caserver.ReadSecretFile(filepath.Join(caDir, caserver.BootstrapSecretFile))
	if err != nil {
		t.Fatal(err)
	}

	// serve in the background on a free loopback port.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	serveLog := &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		_, err := runCA(t, ctx, serveLog, "ca", "serve", "--dir", caDir, "--listen", "127.0.0.1:0")
		done <- err
	}()
	addr := strings.TrimSpace(string(waitForFile(t, filepath.Join(caDir, caserver.AddrFile), done)))
	url := "https://" + addr
	chain := filepath.Join(caDir, caserver.ChainFile)
	conn := []string{"--url", url, "--cacert", chain}
	as := func(dir string) []string {
		return append(slices.Clone(conn), "--cert", filepath.Join(dir, "cert.pem"), "--key", filepath.Join(dir, "key.pem"))
	}

	// Enroll the bootstrap admin with the secret file.
	run(append([]string{"ca", "enroll", "--id", "admin", "--secret-file", filepath.Join(caDir, caserver.BootstrapSecretFile), "--out", adminDir}, conn...)...)
	for name, mode := range map[string]os.FileMode{"key.pem": 0o600, "cert.pem": 0o644, "ca-chain.pem": 0o644} {
		info, err := os.Stat(filepath.Join(adminDir, name))
		if err != nil || info.Mode().Perm() != mode {
			t.Fatalf("%s: %v mode %v, want %04o", name, err, info, mode)
		}
	}

	// Register a user; the secret goes to a file, not stdout.
	secretFile := filepath.Join(tmp, "user1.secret")
	out := run(append([]string{"ca", "register", "--id", "user1", "--type", "client",
		"--attr", "blossom.role=Acquisition Officer", "--secret-out", secretFile}, as(adminDir)...)...)
	var registered struct {
		EnrollmentID string    `json:"enrollmentId"`
		ExpiresAt    time.Time `json:"expiresAt"`
		SecretFile   string    `json:"secretFile"`
	}
	if err := json.Unmarshal([]byte(out), &registered); err != nil || registered.EnrollmentID != "user1" || registered.SecretFile != secretFile {
		t.Fatalf("register output %q: %v", out, err)
	}
	userSecret, err := caserver.ReadSecretFile(secretFile)
	if err != nil {
		t.Fatal(err)
	}

	// Enrolling needs a secret from a file or the environment, never a flag.
	if _, err := runCA(t, context.Background(), stderr, append([]string{"ca", "enroll", "--id", "user1", "--secret", userSecret, "--out", userDir}, conn...)...); err == nil {
		t.Fatal("enroll accepted the secret as a plain flag")
	}
	t.Setenv(EnrollSecretEnv, "")
	if _, err := runCA(t, context.Background(), stderr, append([]string{"ca", "enroll", "--id", "user1", "--out", userDir}, conn...)...); err == nil || !strings.Contains(err.Error(), EnrollSecretEnv) {
		t.Fatalf("enroll without a secret: %v", err)
	}
	t.Setenv(EnrollSecretEnv, userSecret)
	out = run(append([]string{"ca", "enroll", "--id", "user1", "--out", userDir}, conn...)...)
	var enrolled struct {
		EnrollmentID string `json:"enrollmentId"`
		Serial       string `json:"serial"`
	}
	if err := json.Unmarshal([]byte(out), &enrolled); err != nil || enrolled.EnrollmentID != "user1" {
		t.Fatalf("enroll output %q: %v", out, err)
	}
	userCert, err := pki.ReadCertificateFile(filepath.Join(userDir, "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if attrs, _ := pki.CertificateAttributes(userCert); attrs[pki.RoleAttribute] != "Acquisition Officer" {
		t.Fatalf("user attributes %v", attrs)
	}
	// The secret was one-time.
	if _, err := runCA(t, context.Background(), stderr, append([]string{"ca", "enroll", "--id", "user1", "--out", filepath.Join(tmp, "again")}, conn...)...); err == nil {
		t.Fatal("a second enroll with the same secret succeeded")
	}
	t.Setenv(EnrollSecretEnv, "")

	// Re-enroll the user, then list.
	run(append([]string{"ca", "reenroll", "--out", user2Dir}, as(userDir)...)...)
	out = run(append([]string{"ca", "list"}, as(adminDir)...)...)
	var listed struct {
		Identities []caserver.Identity `json:"identities"`
	}
	if err := json.Unmarshal([]byte(out), &listed); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, id := range listed.Identities {
		ids = append(ids, id.EnrollmentID)
	}
	if !slices.Equal(ids, []string{"admin", "user1"}) {
		t.Fatalf("list shows %v", ids)
	}

	// Revoke the user: both certificates.
	out = run(append([]string{"ca", "revoke", "--id", "user1", "--reason", "keyCompromise", "--crl-out", filepath.Join(tmp, "revoke.crl")}, as(adminDir)...)...)
	var revoked struct {
		Revoked []string `json:"revoked"`
	}
	if err := json.Unmarshal([]byte(out), &revoked); err != nil || len(revoked.Revoked) != 2 || !slices.Contains(revoked.Revoked, enrolled.Serial) {
		t.Fatalf("revoke output %q: %v", out, err)
	}
	// The revoked identity cannot re-enroll.
	if _, err := runCA(t, context.Background(), stderr, append([]string{"ca", "reenroll", "--out", filepath.Join(tmp, "nope")}, as(user2Dir)...)...); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("reenroll after revoke: %v", err)
	}

	// gencrl: a CRL signed by the CA listing the user's certificates.
	crlPath := filepath.Join(tmp, "ca.crl")
	run(append([]string{"ca", "gencrl", "--out", crlPath}, as(adminDir)...)...)
	crlPEM, err := os.ReadFile(crlPath)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(crlPEM)
	if block == nil {
		t.Fatal("gencrl wrote no PEM")
	}
	crl, err := x509.ParseRevocationList(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := pki.ReadCertificateFile(filepath.Join(caDir, caserver.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(caCert); err != nil {
		t.Fatal(err)
	}
	var inCRL []string
	for _, e := range crl.RevokedCertificateEntries {
		inCRL = append(inCRL, e.SerialNumber.Text(16))
	}
	slices.Sort(inCRL)
	want := slices.Clone(revoked.Revoked)
	slices.Sort(want)
	if !slices.Equal(inCRL, want) || crl.Number.Int64() != 3 {
		t.Fatalf("CRL #%v lists %v, want %v", crl.Number, inCRL, want)
	}

	// Stop the server: serve returns cleanly and removes its address file.
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, err := os.Stat(filepath.Join(caDir, caserver.AddrFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("address file left behind: %v", err)
	}

	// No secret ever reached stdout, stderr or the server log.
	logs := serveLog.String()
	if !strings.Contains(logs, "caller=admin") || !strings.Contains(logs, "path=/api/v1/register") {
		t.Fatalf("serve log lacks request lines:\n%s", logs)
	}
	everything := strings.Join(stdouts, "\n") + stderr.String() + logs
	for _, secret := range []string{bootstrapSecret, userSecret} {
		if strings.Contains(everything, secret) {
			t.Fatal("an enrollment secret was printed or logged")
		}
	}
	if strings.Contains(everything, "PRIVATE KEY") {
		t.Fatal("a private key was printed or logged")
	}
}

func TestCAHelp(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"ca", "--help"}, []string{"root", "init", "install", "serve", "register", "enroll", "reenroll", "revoke", "gencrl", "list"}},
		{[]string{"ca", "enroll", "--help"}, []string{"--secret-file", EnrollSecretEnv, "--out", "key.pem"}},
		{[]string{"ca", "serve", "--help"}, []string{"--listen", "--tls-hosts", "ca.addr"}},
		{[]string{"ca", "register", "--help"}, []string{"--secret-out", "--attr", "--type", "--hosts"}},
		{[]string{"ca", "revoke", "--help"}, []string{"--id", "--serial", "keyCompromise"}},
	} {
		out, err := runCA(t, context.Background(), &lockedBuffer{}, tt.args...)
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Fatalf("%v help lacks %q:\n%s", tt.args, w, out)
			}
		}
	}
	// Missing required flags are usage errors.
	if _, err := runCA(t, context.Background(), &lockedBuffer{}, "ca", "init", "--dir", t.TempDir()); err == nil {
		t.Fatal("ca init without --msp succeeded")
	}
}
