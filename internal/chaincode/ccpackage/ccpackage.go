// Package ccpackage defines blossom's chaincode package: the unit a member
// installs on its peers (DESIGN §5, §11). A package is a deterministic
// gzip-compressed tar archive of exactly two regular files, in this order:
//
//	metadata.json   {"type":"wasm","label":"<label>","limits":{"fuel":N,"memoryBytes":M}}
//	chaincode.wasm  the chaincode module (GOOS=wasip1 GOARCH=wasm, -buildmode=c-shared)
//
// The package ID is label + ":" + hex SHA-256 of the package bytes, as in
// Fabric; the same source built by Build with the same Go toolchain gives
// the same bytes and therefore the same ID. Members install the package
// they were given and never rebuild it.
//
// The limits in the metadata are the author's defaults for the execution
// budget and the memory cap; a chaincode definition may override them,
// and zero means the runtime's default.
package ccpackage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Limits of a package.
const (
	// MaxPackageSize bounds a package's (compressed) bytes.
	MaxPackageSize = 64 << 20
	// MaxWasmSize bounds the module inside a package.
	MaxWasmSize = 64 << 20
	// MaxLabelLength bounds a label.
	MaxLabelLength = 128
	maxMetadata    = 4 << 10
)

// Entry names, in archive order.
const (
	MetadataFile = "metadata.json"
	WasmFile     = "chaincode.wasm"
)

// TypeWasm is the only package type.
const TypeWasm = "wasm"

// Bounds of the execution limits a package or definition may set.
const (
	// MaxFuel bounds an execution budget.
	MaxFuel = 1 << 50
	// MaxMemoryBytes is the largest memory cap: the whole 32-bit address
	// space of a WebAssembly memory.
	MaxMemoryBytes = 4 << 30
	// PageSize is the unit of a WebAssembly memory; memory caps are
	// multiples of it.
	PageSize = 64 << 10
)

// Limits are the execution limits of a chaincode: zero fields mean "not
// set here".
type Limits struct {
	// Fuel is the execution budget of one invocation, in the runtime's
	// fuel units (roughly one per function call or loop iteration plus
	// the straight-line code that follows it).
	Fuel uint64 `json:"fuel,omitempty"`
	// MemoryBytes caps the chaincode's linear memory; a multiple of
	// PageSize.
	MemoryBytes uint64 `json:"memoryBytes,omitempty"`
}

// Validate checks the bounds of l.
func (l Limits) Validate() error {
	if l.Fuel > MaxFuel {
		return fmt.Errorf("fuel %d above the maximum %d", l.Fuel, uint64(MaxFuel))
	}
	if l.MemoryBytes > MaxMemoryBytes || l.MemoryBytes%PageSize != 0 {
		return fmt.Errorf("memory limit %d: want a multiple of %d bytes up to %d", l.MemoryBytes, PageSize, uint64(MaxMemoryBytes))
	}
	return nil
}

// Package is a parsed chaincode package.
type Package struct {
	Label  string
	Wasm   []byte
	Limits Limits
}

type metadata struct {
	Type   string `json:"type"`
	Label  string `json:"label"`
	Limits Limits `json:"limits"`
}

// ValidateLabel checks a package label: 1 to MaxLabelLength characters
// from [A-Za-z0-9_.+-], starting with a letter or digit (Fabric's rule).
func ValidateLabel(label string) error {
	if label == "" || len(label) > MaxLabelLength {
		return fmt.Errorf("package label must be 1 to %d characters", MaxLabelLength)
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != '+' && c != '-') {
			return fmt.Errorf("package label %q: want [A-Za-z0-9][A-Za-z0-9_.+-]*", label)
		}
	}
	return nil
}

// epoch is the modification time of every archive entry.
var epoch = time.Unix(0, 0).UTC()

// Marshal returns the package's deterministic bytes.
func (p *Package) Marshal() ([]byte, error) {
	if err := ValidateLabel(p.Label); err != nil {
		return nil, err
	}
	if err := p.Limits.Validate(); err != nil {
		return nil, err
	}
	if len(p.Wasm) == 0 || len(p.Wasm) > MaxWasmSize {
		return nil, fmt.Errorf("wasm module of %d bytes: want 1 to %d", len(p.Wasm), MaxWasmSize)
	}
	meta, err := json.Marshal(metadata{Type: TypeWasm, Label: p.Label, Limits: p.Limits})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	for _, f := range []struct {
		name string
		data []byte
	}{{MetadataFile, meta}, {WasmFile, p.Wasm}} {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     f.name,
			Mode:     0o644,
			Size:     int64(len(f.data)),
			ModTime:  epoch,
			Format:   tar.FormatUSTAR,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if buf.Len() > MaxPackageSize {
		return nil, fmt.Errorf("package of %d bytes (at most %d)", buf.Len(), MaxPackageSize)
	}
	return buf.Bytes(), nil
}

// ErrMalformed is wrapped by Parse's errors.
var ErrMalformed = errors.New("malformed chaincode package")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Parse reads a package. It accepts exactly the shape Marshal writes
// (two regular files in order, known metadata fields) within the size
// limits, and nothing else.
func Parse(b []byte) (*Package, error) {
	if len(b) > MaxPackageSize {
		return nil, malformed("%d bytes (at most %d)", len(b), MaxPackageSize)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, malformed("%v", err)
	}
	zr.Multistream(false)
	tr := tar.NewReader(zr)
	var files [2][]byte
	limits := [2]int64{maxMetadata, MaxWasmSize}
	for i, name := range []string{MetadataFile, WasmFile} {
		hdr, err := tr.Next()
		if err != nil {
			return nil, malformed("want entry %s: %v", name, err)
		}
		if hdr.Name != name || hdr.Typeflag != tar.TypeReg {
			return nil, malformed("entry %d is %q (type %q), want regular file %s", i+1, hdr.Name, hdr.Typeflag, name)
		}
		if hdr.Size < 0 || hdr.Size > limits[i] {
			return nil, malformed("%s of %d bytes (at most %d)", name, hdr.Size, limits[i])
		}
		data := make([]byte, hdr.Size)
		if _, err := io.ReadFull(tr, data); err != nil {
			return nil, malformed("%s: %v", name, err)
		}
		files[i] = data
	}
	if _, err := tr.Next(); err != io.EOF {
		return nil, malformed("entries after %s", WasmFile)
	}
	// The gzip stream must end with the archive.
	if n, _ := io.Copy(io.Discard, io.LimitReader(zr, 1<<20)); n > 0 {
		return nil, malformed("data after the archive")
	}
	if err := zr.Close(); err != nil {
		return nil, malformed("%v", err)
	}

	var meta metadata
	dec := json.NewDecoder(bytes.NewReader(files[0]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&meta); err != nil {
		return nil, malformed("%s: %v", MetadataFile, err)
	}
	if dec.More() {
		return nil, malformed("%s: trailing data", MetadataFile)
	}
	if meta.Type != TypeWasm {
		return nil, malformed("type %q, want %q", meta.Type, TypeWasm)
	}
	if err := ValidateLabel(meta.Label); err != nil {
		return nil, malformed("%v", err)
	}
	if err := meta.Limits.Validate(); err != nil {
		return nil, malformed("%v", err)
	}
	if len(files[1]) == 0 {
		return nil, malformed("empty %s", WasmFile)
	}
	return &Package{Label: meta.Label, Wasm: files[1], Limits: meta.Limits}, nil
}

// ID returns the package ID of a package's bytes: label:hex(SHA-256).
func ID(label string, pkg []byte) string {
	sum := sha256.Sum256(pkg)
	return label + ":" + hex.EncodeToString(sum[:])
}

// ParseID splits a package ID into its label and hash.
func ParseID(id string) (label string, hash []byte, err error) {
	label, h, ok := strings.Cut(id, ":")
	if !ok {
		return "", nil, fmt.Errorf("package ID %q: want label:sha256", id)
	}
	if err := ValidateLabel(label); err != nil {
		return "", nil, fmt.Errorf("package ID: %w", err)
	}
	hash, err = hex.DecodeString(h)
	if err != nil || len(hash) != sha256.Size || h != hex.EncodeToString(hash) {
		return "", nil, fmt.Errorf("package ID %q: want a lowercase hex SHA-256 after the label", id)
	}
	return label, hash, nil
}
