package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/blossom-ledger/blossom/internal/chaincode/ccpackage"
	"github.com/blossom-ledger/blossom/internal/lifecycle"
	"github.com/blossom-ledger/blossom/internal/network/nettest"
	"github.com/blossom-ledger/blossom/internal/orderer"
)

// TestChaincodeCommands packages the kvtest wasm, installs it on every
// member's peer and drives approve, status, commit and list against a
// three-member network.
func TestChaincodeCommands(t *testing.T) {
	net := nettest.Start(t, nettest.Options{})
	dir := t.TempDir()
	if err := orderer.WriteBlockFile(filepath.Join(dir, "blossom.block"), net.Genesis); err != nil {
		t.Fatal(err)
	}
	admins := make([]string, len(net.Members))
	for i := range admins {
		admins[i] = writeAdminClientFile(t, net, dir, i)
	}
	run := func(args ...string) (string, error) {
		t.Helper()
		var out, errb bytes.Buffer
		code := Main(append([]string{"chaincode"}, args...), &out, &errb)
		syncPeers(t, net)
		if code != 0 {
			return out.String(), fmt.Errorf("exit %d: %s", code, errb.String())
		}
		return out.String(), nil
	}
	mustRun := func(args ...string) string {
		t.Helper()
		out, err := run(args...)
		if err != nil {
			t.Fatalf("blossom chaincode %s: %v", strings.Join(args, " "), err)
		}
		return out
	}

	wasmFile := filepath.Join(dir, "kvtest.wasm")
	if err := os.WriteFile(wasmFile, nettest.KVTestWasm(t), 0o644); err != nil {
		t.Fatal(err)
	}
	pkgFile := filepath.Join(dir, "kv.ccpkg")
	id := strings.TrimSpace(mustRun("package", "--wasm", wasmFile, "--label", "kvcli_1", "-o", pkgFile))
	pkg, err := os.ReadFile(pkgFile)
	if err != nil {
		t.Fatal(err)
	}
	if want := ccpackage.ID("kvcli_1", pkg); id != want {
		t.Fatalf("package printed %s, the file's ID is %s", id, want)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--label", "x"}, "exactly one of --dir and --wasm"},
		{[]string{"--wasm", wasmFile}, "--label is required"},
		{[]string{"--bundled", "asset"}, "make bundle"}, // a test binary bundles nothing
	} {
		if _, err := run(append(append([]string{"package"}, tc.args...), "-o", filepath.Join(dir, "x.ccpkg"))...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("package %v: %v, want %q", tc.args, err, tc.want)
		}
	}
	for i, a := range admins {
		if out := mustRun("install", "--client", a, pkgFile); strings.TrimSpace(out) != id {
			t.Fatalf("install on peer %d printed %q, want %s", i, out, id)
		}
	}
	if out := mustRun("list", "--client", admins[1], "--installed"); strings.TrimSpace(out) != id {
		t.Errorf("list --installed: %q", out)
	}

	def := []string{"--name", "kvcli", "--version", "1", "--sequence", "1", "--package-id", id, "--param", "version=1"}
	mustRun(append([]string{"approve", "--client", admins[0]}, def...)...)
	if out := mustRun(append([]string{"status", "--client", admins[2]}, def...)...); !strings.Contains(out, "Org1MSP\tapproved\nOrg2MSP\tnot approved") || !strings.Contains(out, "1 of 3 members approved; MAJORITY needs 2: not ready to commit") {
		t.Errorf("status after one approval:\n%s", out)
	}
	if _, err := run(append([]string{"commit", "--client", admins[0]}, def...)...); err == nil || !strings.Contains(err.Error(), "approvals from 1 of 3 members") {
		t.Fatalf("commit with one approval: %v", err)
	}
	mustRun(append([]string{"approve", "--client", admins[1]}, def...)...)
	if out := mustRun(append([]string{"status", "--client", admins[0]}, def...)...); !strings.Contains(out, "2 of 3 members approved; MAJORITY needs 2: ready to commit") {
		t.Errorf("status after two approvals:\n%s", out)
	}
	if out := mustRun(append([]string{"commit", "--client", admins[2]}, def...)...); !strings.Contains(out, "committed kvcli version 1 sequence 1") {
		t.Errorf("commit: %s", out)
	}
	// One JSON definition per line, by name: the network's "kv", then ours.
	lines := strings.Split(strings.TrimSpace(mustRun("list", "--client", admins[0])), "\n")
	var listed lifecycle.Definition
	if len(lines) != 2 {
		t.Fatalf("list: %q", lines)
	}
	if err := json.Unmarshal([]byte(lines[1]), &listed); err != nil || listed.Name != "kvcli" || listed.PackageID != id || listed.Params["version"] != "1" {
		t.Errorf("list: %+v, %v", listed, err)
	}
	if _, err := run("approve", "--client", admins[0], "--name", "kvcli", "--version", "2", "--sequence", "2", "--package-id", id, "--param", "novalue"); err == nil || !strings.Contains(err.Error(), "want NAME=VALUE") {
		t.Errorf("approve with a bad --param: %v", err)
	}
}
