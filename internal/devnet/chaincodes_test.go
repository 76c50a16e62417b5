package devnet

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/blossom-ledger/blossom/internal/chaincode/ccpackage"
)

// TestChaincodePackages: an earlier start's packages win, a devnet that
// started native stays native, a corrupt cache is refused, and the
// definitions are those of DESIGN §10-11.
func TestChaincodePackages(t *testing.T) {
	ctx := context.Background()
	writeCache := func(t *testing.T, c *Consortium, data func(name string) []byte) {
		t.Helper()
		if err := os.MkdirAll(c.PackageDir(), 0o700); err != nil {
			t.Fatal(err)
		}
		for _, name := range Chaincodes {
			if err := os.WriteFile(filepath.Join(c.PackageDir(), name+".tar.gz"), data(name), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	valid := func(name string) []byte {
		pkg, err := (&ccpackage.Package{Label: name, Wasm: []byte("\x00asm module of " + name)}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return pkg
	}
	tests := []struct {
		name       string
		setup      func(t *testing.T, c *Consortium)
		opts       PackageOptions
		wantSource string
		wantErr    string
	}{
		{"native on request", nil, PackageOptions{Native: true}, SourceNative, ""},
		{"native stays native", func(t *testing.T, c *Consortium) {
			if _, err := c.ChaincodePackages(ctx, PackageOptions{Native: true}); err != nil {
				t.Fatal(err)
			}
		}, PackageOptions{}, SourceNative, ""},
		{"cache first", func(t *testing.T, c *Consortium) { writeCache(t, c, valid) }, PackageOptions{Native: true}, SourceCached, ""},
		{"corrupt cache", func(t *testing.T, c *Consortium) {
			writeCache(t, c, func(string) []byte { return []byte("not a package") })
		}, PackageOptions{}, "", "delete it to rebuild"},
		{"not a source tree", nil, PackageOptions{SourceDir: t.TempDir()}, SourceNative, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &Consortium{dir: t.TempDir()}
			if tc.setup != nil {
				tc.setup(t, c)
			}
			p, err := c.ChaincodePackages(ctx, tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || p.Source != tc.wantSource || len(p.Packages) != len(Chaincodes) {
				t.Fatalf("got %+v, %v; want source %s", p, err, tc.wantSource)
			}
			for i, cp := range p.Packages {
				if cp.Name != Chaincodes[i] {
					t.Fatalf("package %d is %s", i, cp.Name)
				}
				switch p.Source {
				case SourceNative:
					if cp.Package != nil || cp.ID != NativePackageID(cp.Name) || p.Natives()[cp.ID] != cp.Name {
						t.Fatalf("native package %+v", cp)
					}
				case SourceCached:
					if cp.ID != ccpackage.ID(cp.Name, valid(cp.Name)) || p.Natives() != nil {
						t.Fatalf("cached package %s: %s", cp.Name, cp.ID)
					}
				}
			}
		})
	}
}

func TestFindSource(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	repo := filepath.Join(filepath.Dir(file), "..", "..")
	if !isSourceTree(repo) {
		t.Fatalf("%s is not recognised as the source tree", repo)
	}
	if src, _ := findSource(repo); src != repo {
		t.Fatalf("findSource(%s) = %q", repo, src)
	}
	if src, why := findSource(t.TempDir()); src != "" || why == "" {
		t.Fatalf("an empty directory: %q, %q", src, why)
	}
}

func TestDefinition(t *testing.T) {
	tests := []struct{ name, policy string }{
		{AuthorizationChaincode, "MAJORITY Endorsement"},
		{AssetChaincode, "'SAMSMSP.peer'"},
	}
	for _, tc := range tests {
		id := NativePackageID(tc.name)
		d := Definition(tc.name, id, AdminMSPID)
		if err := d.Validate(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if d.EndorsementPolicy != tc.policy || d.Params[adminMSPParam] != AdminMSPID || d.Sequence != 1 || d.PackageID != id {
			t.Fatalf("%s: %+v", tc.name, d)
		}
	}
}

// TestEnsureOIDCPorts: a consortium without OIDC ports gets the next port
// of a --base-port block, or a free one, and keeps it.
func TestEnsureOIDCPorts(t *testing.T) {
	c := &Consortium{Version: stateVersion, Channel: Channel, Members: memberNames(3), dir: t.TempDir()}
	c.Members[0].Ports = Ports{Orderer: 20000, Peer: 20001, Gateway: 20002, CA: 20003, OrdererHealth: 20004, PeerHealth: 20005}
	c.Members[1].Ports = Ports{Orderer: 20100, Peer: 20200, Gateway: 20300, CA: 20400, OrdererHealth: 20500, PeerHealth: 20600}
	c.Members[2].Ports = Ports{Orderer: 20020, OIDC: 20099}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	if err := c.EnsureOIDCPorts(); err != nil {
		t.Fatal(err)
	}
	if c.Members[0].Ports.OIDC != 20006 || c.Members[1].Ports.OIDC == 0 || c.Members[2].Ports.OIDC != 20099 {
		t.Fatalf("ports %+v", c.Members)
	}
	saved, err := Load(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range saved.Members {
		if saved.Members[i].Ports.OIDC != c.Members[i].Ports.OIDC {
			t.Fatalf("member %d: saved %d, have %d", i, saved.Members[i].Ports.OIDC, c.Members[i].Ports.OIDC)
		}
	}
}
