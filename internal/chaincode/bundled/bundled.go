// Package bundled holds the chaincode packages built into the blossom
// binary: the BloSS@M chaincodes and kvtest, as `make chaincodes` builds
// them (reproducible, so their package IDs match a build from the same
// source). They are embedded only in a binary built with the build tag
// bundledchaincodes after the packages were copied into packages/ (`make
// bundle` does both); the packages are build outputs, not committed, so a
// plain `go build` bundles nothing.
package bundled

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// files holds packages/<name>.tar.gz; nil without the build tag.
var files fs.FS

const suffix = ".tar.gz"

// Names lists the bundled chaincodes, sorted (none without the build tag).
func Names() []string {
	if files == nil {
		return nil
	}
	entries, _ := fs.ReadDir(files, "packages")
	var out []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), suffix); ok && !e.IsDir() {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Package returns the bundled package of chaincode name.
func Package(name string) ([]byte, error) {
	if !slices.Contains(Names(), name) {
		if files == nil {
			return nil, fmt.Errorf("this blossom binary bundles no chaincode packages (build it with `make bundle`)")
		}
		return nil, fmt.Errorf("no bundled chaincode %q (bundled: %s)", name, strings.Join(Names(), ", "))
	}
	return fs.ReadFile(files, path.Join("packages", name+suffix))
}
