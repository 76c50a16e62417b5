package ccpackage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"strings"
	"testing"
)

var wasm = []byte("\x00asm\x01\x00\x00\x00 not really a module")

func TestMarshalParseRoundTrip(t *testing.T) {
	p := &Package{Label: "kvtest_1.0", Wasm: wasm, Limits: Limits{Fuel: 1000, MemoryBytes: 64 << 20}}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	again, err := p.Marshal()
	if err != nil || !bytes.Equal(b, again) {
		t.Fatal("Marshal is not deterministic")
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Label != p.Label || !bytes.Equal(got.Wasm, p.Wasm) || got.Limits != p.Limits {
		t.Fatalf("round trip: %+v", got)
	}
	id := ID(p.Label, b)
	label, hash, err := ParseID(id)
	if err != nil || label != p.Label || len(hash) != 32 {
		t.Fatalf("ParseID(%s): %s %x %v", id, label, hash, err)
	}
	// Another label is another package.
	other, _ := (&Package{Label: "kvtest_2.0", Wasm: wasm}).Marshal()
	if ID("kvtest_2.0", other) == id {
		t.Fatal("IDs collide")
	}
}

func TestMarshalRefuses(t *testing.T) {
	tests := []struct {
		name string
		p    Package
	}{
		{"empty label", Package{Wasm: wasm}},
		{"bad label", Package{Label: "-x", Wasm: wasm}},
		{"label with slash", Package{Label: "a/b", Wasm: wasm}},
		{"no wasm", Package{Label: "a"}},
		{"odd memory", Package{Label: "a", Wasm: wasm, Limits: Limits{MemoryBytes: 100}}},
		{"too much memory", Package{Label: "a", Wasm: wasm, Limits: Limits{MemoryBytes: MaxMemoryBytes + PageSize}}},
		{"too much fuel", Package{Label: "a", Wasm: wasm, Limits: Limits{Fuel: MaxFuel + 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.p.Marshal(); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

type entry struct {
	name string
	typ  byte
	data string
}

func archive(t *testing.T, entries []entry, trailing []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: e.typ, Size: int64(len(e.data)), Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.data))
	}
	tw.Close()
	zw.Write(trailing)
	zw.Close()
	return buf.Bytes()
}

func TestParseRefuses(t *testing.T) {
	meta := `{"type":"wasm","label":"a","limits":{}}`
	tests := []struct {
		name string
		pkg  []byte
		want string
	}{
		{"not gzip", []byte("hello world, this is not gzip"), "gzip"},
		{"no entries", archive(t, nil, nil), "want entry metadata.json"},
		{"wrong order", archive(t, []entry{{WasmFile, tar.TypeReg, "x"}, {MetadataFile, tar.TypeReg, meta}}, nil), "want regular file metadata.json"},
		{"symlink", archive(t, []entry{{MetadataFile, tar.TypeSymlink, ""}}, nil), "want regular file"},
		{"extra entry", archive(t, []entry{{MetadataFile, tar.TypeReg, meta}, {WasmFile, tar.TypeReg, "x"}, {"evil", tar.TypeReg, "x"}}, nil), "entries after"},
		{"unknown field", archive(t, []entry{{MetadataFile, tar.TypeReg, `{"type":"wasm","label":"a","extra":1}`}, {WasmFile, tar.TypeReg, "x"}}, nil), "unknown field"},
		{"other type", archive(t, []entry{{MetadataFile, tar.TypeReg, `{"type":"ccaas","label":"a"}`}, {WasmFile, tar.TypeReg, "x"}}, nil), "type"},
		{"bad label", archive(t, []entry{{MetadataFile, tar.TypeReg, `{"type":"wasm","label":"a b"}`}, {WasmFile, tar.TypeReg, "x"}}, nil), "label"},
		{"empty wasm", archive(t, []entry{{MetadataFile, tar.TypeReg, meta}, {WasmFile, tar.TypeReg, ""}}, nil), "empty"},
		{"huge metadata", archive(t, []entry{{MetadataFile, tar.TypeReg, strings.Repeat(" ", 5000)}}, nil), "bytes (at most"},
		{"trailing data", archive(t, []entry{{MetadataFile, tar.TypeReg, meta}, {WasmFile, tar.TypeReg, "x"}}, make([]byte, 2048)), "data after the archive"},
		{"two JSON values", archive(t, []entry{{MetadataFile, tar.TypeReg, meta + meta}, {WasmFile, tar.TypeReg, "x"}}, nil), "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.pkg)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want ErrMalformed mentioning %q", err, tt.want)
			}
		})
	}
	// The archive Parse accepts from another writer is still a package.
	if _, err := Parse(archive(t, []entry{{MetadataFile, tar.TypeReg, meta}, {WasmFile, tar.TypeReg, "x"}}, nil)); err != nil {
		t.Fatal(err)
	}
}

func TestParseID(t *testing.T) {
	for _, bad := range []string{"", "nolabel", ":abcd", "a:xyz", "a:" + strings.Repeat("A", 64), "a:" + strings.Repeat("0", 62)} {
		if _, _, err := ParseID(bad); err == nil {
			t.Fatalf("ParseID(%q) accepted", bad)
		}
	}
}

func TestBuildEnvironmentPinsTarget(t *testing.T) {
	env := buildEnvironment([]string{"GOOS=windows", "HOME=/root", "GOFLAGS=-race", "CGO_ENABLED=1"})
	got := strings.Join(env, " ")
	for _, want := range []string{"GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS=-mod=readonly", "GOTOOLCHAIN=local", "HOME=/root"} {
		if !strings.Contains(got, want) {
			t.Fatalf("environment %q lacks %s", got, want)
		}
	}
	if strings.Contains(got, "windows") || strings.Contains(got, "-race") {
		t.Fatalf("environment keeps an overridden value: %q", got)
	}
}

// FuzzParse: the package parser never panics, and a package it accepts
// re-marshals to a package that parses to the same contents.
func FuzzParse(f *testing.F) {
	good, _ := (&Package{Label: "a", Wasm: wasm, Limits: Limits{Fuel: 5}}).Marshal()
	f.Add(good)
	f.Add([]byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		again, err := p.Marshal()
		if err != nil {
			t.Fatalf("accepted package does not marshal: %v", err)
		}
		q, err := Parse(again)
		if err != nil || q.Label != p.Label || !bytes.Equal(q.Wasm, p.Wasm) || q.Limits != p.Limits {
			t.Fatalf("re-marshalled package differs: %v", err)
		}
	})
}
