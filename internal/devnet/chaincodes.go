package devnet

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/blossom-ledger/blossom/internal/chaincode/bundled"
	"github.com/blossom-ledger/blossom/internal/chaincode/ccpackage"
	"github.com/blossom-ledger/blossom/internal/fsutil"
	"github.com/blossom-ledger/blossom/internal/lifecycle"
)

// The BloSS@M chaincodes (DESIGN §11).
const (
	AuthorizationChaincode = "authorization"
	AssetChaincode         = "asset"
	adminMSPParam          = "adminMSP"
)

// Chaincodes are the chaincodes a devnet deploys, in deployment order.
var Chaincodes = []string{AuthorizationChaincode, AssetChaincode}

// modulePath is the module whose source tree holds chaincode/<name>/wasm.
const modulePath = "github.com/blossom-ledger/blossom"

// Where a devnet's chaincode packages come from.
const (
	SourceCached  = "cached"  // DIR/chaincodes from an earlier start
	SourceBundled = "bundled" // embedded in the binary (make bundle)
	SourceBuilt   = "built"   // built from the source tree with the Go toolchain
	SourceNative  = "native"  // no WebAssembly: the binary's native implementations
)

// nativeMarker, in the package directory, records that the devnet runs
// the native implementations, so that later starts keep doing so (the
// committed definitions name the native package IDs).
const nativeMarker = "NATIVE"

// ChaincodePackage is one chaincode's package: the wasm package to
// install, or nil when the peers run the native implementation under ID.
type ChaincodePackage struct {
	Name    string
	ID      string
	Package []byte
}

// Packages are the devnet's chaincode packages and where they came from.
type Packages struct {
	Source string // Source* constant
	// Detail says more about Source: the source tree built from, or why
	// the native implementations are used.
	Detail   string
	Packages []ChaincodePackage
}

// Natives maps the native package IDs to implementation names (the
// chaincode names), for the peers' configuration; nil unless Source is
// SourceNative.
func (p *Packages) Natives() map[string]string {
	if p.Source != SourceNative {
		return nil
	}
	out := map[string]string{}
	for _, cp := range p.Packages {
		out[cp.ID] = cp.Name
	}
	return out
}

// NativePackageID is the package ID under which peers run chaincode
// name's native implementation.
func NativePackageID(name string) string {
	return ccpackage.ID(name+"_native", []byte("blossom up: the native implementation of "+name))
}

// PackageOptions choose how ChaincodePackages finds packages.
type PackageOptions struct {
	// Native skips WebAssembly (tests that do not need it).
	Native bool
	// SourceDir is the module's source tree ("": found from the working
	// directory upwards).
	SourceDir string
}

// PackageDir holds the devnet's packages, so that restarts reuse them.
func (c *Consortium) PackageDir() string { return filepath.Join(c.dir, "chaincodes") }

// ChaincodePackages returns the devnet's chaincode packages: those of an
// earlier start (DIR/chaincodes), else the binary's bundled packages,
// else packages built from the source tree (when the go command and the
// source are at hand), else the native implementations. Whatever is
// chosen is kept in DIR/chaincodes for later starts, since the committed
// definitions name its package IDs.
func (c *Consortium) ChaincodePackages(ctx context.Context, opts PackageOptions) (*Packages, error) {
	dir := c.PackageDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, nativeMarker)); err == nil {
		return nativePackages("chosen on the first start"), nil
	}
	if p, err := cachedPackages(dir); err != nil || p != nil {
		return p, err
	}
	var p *Packages
	switch src, why := findSource(opts.SourceDir); {
	case opts.Native:
		p = nativePackages("asked for")
	case hasBundled():
		pkgs, err := bundledPackages()
		if err != nil {
			return nil, err
		}
		p = &Packages{Source: SourceBundled, Detail: "embedded in this binary", Packages: pkgs}
	case src != "":
		pkgs, err := buildPackages(ctx, src)
		if err != nil {
			return nil, err
		}
		p = &Packages{Source: SourceBuilt, Detail: "from " + src, Packages: pkgs}
	default:
		p = nativePackages(why)
	}
	if p.Source == SourceNative {
		return p, fsutil.WriteFileAtomic(filepath.Join(dir, nativeMarker), []byte(p.Detail+"\n"), 0o600)
	}
	for _, cp := range p.Packages {
		if err := fsutil.WriteFileAtomic(filepath.Join(dir, cp.Name+".tar.gz"), cp.Package, 0o600); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func nativePackages(why string) *Packages {
	p := &Packages{Source: SourceNative, Detail: why}
	for _, name := range Chaincodes {
		p.Packages = append(p.Packages, ChaincodePackage{Name: name, ID: NativePackageID(name)})
	}
	return p
}

// cachedPackages reads DIR/chaincodes/<name>.tar.gz (nil if any is
// missing).
func cachedPackages(dir string) (*Packages, error) {
	p := &Packages{Source: SourceCached, Detail: dir}
	for _, name := range Chaincodes {
		path := filepath.Join(dir, name+".tar.gz")
		pkg, err := fsutil.ReadFileBounded(path, ccpackage.MaxPackageSize)
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if _, err := ccpackage.Parse(pkg); err != nil {
			return nil, fmt.Errorf("%s: %w (delete it to rebuild)", path, err)
		}
		p.Packages = append(p.Packages, ChaincodePackage{Name: name, ID: ccpackage.ID(name, pkg), Package: pkg})
	}
	return p, nil
}

func hasBundled() bool {
	names := bundled.Names()
	for _, name := range Chaincodes {
		if !slices.Contains(names, name) {
			return false
		}
	}
	return true
}

func bundledPackages() ([]ChaincodePackage, error) {
	var out []ChaincodePackage
	for _, name := range Chaincodes {
		pkg, err := bundled.Package(name)
		if err != nil {
			return nil, err
		}
		out = append(out, ChaincodePackage{Name: name, ID: ccpackage.ID(name, pkg), Package: pkg})
	}
	return out, nil
}

// buildPackages builds every chaincode from src with the reproducible
// build of `make chaincodes` (label = name, so the IDs match its), all
// at once: most of a build is the single-threaded link.
func buildPackages(ctx context.Context, src string) ([]ChaincodePackage, error) {
	out := make([]ChaincodePackage, len(Chaincodes))
	errs := make([]error, len(Chaincodes))
	var wg sync.WaitGroup
	for i, name := range Chaincodes {
		wg.Go(func() {
			pkg, id, err := ccpackage.Build(ctx, "", filepath.Join(src, "chaincode", name, "wasm"), name, ccpackage.Limits{})
			out[i], errs[i] = ChaincodePackage{Name: name, ID: id, Package: pkg}, err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// findSource returns the blossom source tree (dir, or the first directory
// from the working directory upwards whose go.mod declares the module)
// if the go command is on PATH; otherwise "" and why not.
func findSource(dir string) (src, why string) {
	if _, err := exec.LookPath("go"); err != nil {
		return "", "no bundled packages and no go command to build them"
	}
	if dir != "" {
		if isSourceTree(dir) {
			return dir, ""
		}
		return "", dir + " is not the blossom source tree"
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", "no bundled packages and no working directory"
	}
	for d := wd; ; d = filepath.Dir(d) {
		if isSourceTree(d) {
			return d, ""
		}
		if filepath.Dir(d) == d {
			return "", "no bundled packages and no blossom source tree above " + wd
		}
	}
}

// isSourceTree reports whether dir's go.mod declares modulePath and dir
// holds every chaincode's wasm main package.
func isSourceTree(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() || strings.TrimSpace(sc.Text()) != "module "+modulePath {
		return false
	}
	for _, name := range Chaincodes {
		if _, err := os.Stat(filepath.Join(dir, "chaincode", name, "wasm")); err != nil {
			return false
		}
	}
	return true
}

// Definition is the definition (sequence 1) of chaincode name running
// packageID: authorization under "MAJORITY Endorsement", asset under
// "'<adminMSP>.peer'", both with the adminMSP parameter (DESIGN §11).
func Definition(name, packageID, adminMSP string) *lifecycle.Definition {
	policy := "MAJORITY Endorsement"
	if name == AssetChaincode {
		policy = "'" + adminMSP + ".peer'"
	}
	return &lifecycle.Definition{
		Name: name, Version: "1", Sequence: 1, PackageID: packageID, EndorsementPolicy: policy,
		Collections: []lifecycle.Collection{}, Params: map[string]string{adminMSPParam: adminMSP},
	}
}
