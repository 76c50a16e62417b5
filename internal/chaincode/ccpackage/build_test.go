package ccpackage

import (
	"bytes"
	"context"
	"os/exec"
	"testing"
	"time"
)

// TestBuildIsReproducible builds the kvtest chaincode twice and packages
// it: the bytes, and so the package ID, are the same.
func TestBuildIsReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a chaincode")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("go command not found")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := "../../../chaincode/kvtest/wasm"
	pkg1, id1, err := Build(ctx, goCmd, dir, "kvtest", Limits{Fuel: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	pkg2, id2, err := Build(ctx, goCmd, dir, "kvtest", Limits{Fuel: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	if id1 != id2 || !bytes.Equal(pkg1, pkg2) {
		t.Fatalf("two builds differ: %s vs %s", id1, id2)
	}
	p, err := Parse(pkg1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(p.Wasm, []byte("\x00asm")) || p.Limits.Fuel != 1<<30 {
		t.Fatalf("package contents: %d bytes, limits %+v", len(p.Wasm), p.Limits)
	}
	if _, _, err := Build(ctx, goCmd, t.TempDir(), "kvtest", Limits{}); err == nil {
		t.Fatal("building an empty directory succeeded")
	}
}
