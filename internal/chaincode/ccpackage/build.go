package ccpackage

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BuildFlags are the go build flags of a reproducible chaincode build: no
// file system paths (-trimpath), no VCS stamp, no build ID, a WASI
// reactor.
var BuildFlags = []string{"-trimpath", "-buildvcs=false", "-buildmode=c-shared", "-ldflags=-buildid="}

// buildEnv pins everything in the environment that changes the output:
// the target, cgo, the toolchain (the local one, never a download),
// module mode, experiments and wasm features.
var buildEnv = map[string]string{
	"GOOS":         "wasip1",
	"GOARCH":       "wasm",
	"CGO_ENABLED":  "0",
	"GOTOOLCHAIN":  "local",
	"GOFLAGS":      "-mod=readonly",
	"GOEXPERIMENT": "",
	"GOWASM":       "",
}

// BuildWasm compiles the chaincode main package in dir (which calls
// contract.Serve from an init function) to a wasm module and returns its
// bytes. goCmd is the go command to run ("" means "go" on PATH). The build
// is reproducible: the same source, dependencies and Go version give the
// same bytes on any machine.
func BuildWasm(ctx context.Context, goCmd, dir string) ([]byte, error) {
	if goCmd == "" {
		goCmd = "go"
	}
	tmp, err := os.MkdirTemp("", "blossom-ccbuild-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "chaincode.wasm")

	args := append([]string{"build"}, BuildFlags...)
	args = append(args, "-o", out, ".")
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = dir
	cmd.Env = buildEnvironment(os.Environ())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 4096 {
			msg = msg[:4096] + "…"
		}
		return nil, fmt.Errorf("build chaincode in %s: %w: %s", dir, err, msg)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	if len(wasm) > MaxWasmSize {
		return nil, fmt.Errorf("build chaincode in %s: module of %d bytes (at most %d)", dir, len(wasm), MaxWasmSize)
	}
	return wasm, nil
}

// buildEnvironment returns env with the pinned variables replaced.
func buildEnvironment(env []string) []string {
	out := make([]string, 0, len(env)+len(buildEnv))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if _, pinned := buildEnv[k]; !pinned {
			out = append(out, kv)
		}
	}
	for k, v := range buildEnv {
		out = append(out, k+"="+v)
	}
	return out
}

// Build compiles the chaincode in dir and packages it under label with
// the author's default limits. It returns the package bytes and ID.
func Build(ctx context.Context, goCmd, dir, label string, limits Limits) (pkg []byte, id string, err error) {
	if err := ValidateLabel(label); err != nil {
		return nil, "", err
	}
	if err := limits.Validate(); err != nil {
		return nil, "", err
	}
	wasm, err := BuildWasm(ctx, goCmd, dir)
	if err != nil {
		return nil, "", err
	}
	p := &Package{Label: label, Wasm: wasm, Limits: limits}
	pkg, err = p.Marshal()
	if err != nil {
		return nil, "", err
	}
	return pkg, ID(label, pkg), nil
}
