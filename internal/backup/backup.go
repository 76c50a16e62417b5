// Package backup copies a stopped node's data directory into one archive
// and back: a peer's ledgers (every channel: block files, index and state,
// transient store) or a member CA's directory (its key, certificates and
// database). An archive is a gzip-compressed tar of regular files and
// directories with a manifest, BACKUP.json, first: the node kind and, for
// a peer, each channel's height, commit hash and state hash as `blossom
// ledger verify` computed them when the backup was taken.
//
// Backups are offline: the node must be stopped (a peer's ledgers are
// verified before they are archived, which fails on a ledger a running
// peer holds open). Restore writes into a missing or empty directory,
// refuses unsafe entries (absolute paths, "..", links, devices) and
// bounded sizes, and for a peer verifies every restored ledger against the
// manifest: the same height, commit hash and state hash, or an error.
package backup

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/blossom-ledger/blossom/internal/ledger"
)

// Node kinds an archive holds.
const (
	KindPeer = "peer"
	KindCA   = "ca"
)

// ManifestName is the archive's first entry.
const ManifestName = "BACKUP.json"

// Bounds on what Restore accepts.
const (
	MaxEntries     = 1 << 20
	MaxTotalBytes  = 1 << 40 // 1 TiB uncompressed
	maxManifest    = 1 << 20
	manifestFormat = 1
)

// Manifest describes an archive.
type Manifest struct {
	Format   int       `json:"format"`
	Kind     string    `json:"kind"`
	Created  time.Time `json:"created"`
	Channels []Channel `json:"channels,omitempty"`
}

// Channel is a peer channel ledger's summary.
type Channel struct {
	Channel    string `json:"channel"`
	Height     uint64 `json:"height"`
	CommitHash string `json:"commitHash"`
	StateHash  string `json:"stateHash"`
}

// channelsDir is where a peer keeps its channel ledgers in its data
// directory.
const channelsDir = "channels"

// verifyChannels verifies every channel ledger under a peer's data
// directory and summarises it.
func verifyChannels(dataDir string) ([]Channel, error) {
	entries, err := os.ReadDir(filepath.Join(dataDir, channelsDir))
	if err != nil {
		return nil, fmt.Errorf("%s holds no peer ledgers: %w", dataDir, err)
	}
	var out []Channel
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		rep, err := ledger.Verify(filepath.Join(dataDir, channelsDir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("channel %s: %w (is the peer stopped?)", e.Name(), err)
		}
		out = append(out, Channel{Channel: e.Name(), Height: rep.IndexedHeight, CommitHash: rep.CommitHash, StateHash: rep.StateHash})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no channel ledger", dataDir)
	}
	return out, nil
}

// Create archives the stopped node's data directory dataDir (kind
// KindPeer or KindCA) into the new file out (mode 0600: a CA archive holds
// its private key). It returns the manifest written.
func Create(kind, dataDir, out string) (*Manifest, error) {
	m := &Manifest{Format: manifestFormat, Kind: kind, Created: time.Now().UTC()}
	switch kind {
	case KindPeer:
		chs, err := verifyChannels(dataDir)
		if err != nil {
			return nil, err
		}
		m.Channels = chs
	case KindCA:
		if _, err := os.Stat(filepath.Join(dataDir, "ca-cert.pem")); err != nil {
			return nil, fmt.Errorf("%s is not an installed CA directory: %w", dataDir, err)
		}
	default:
		return nil, fmt.Errorf("unknown node kind %q", kind)
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if err := write(f, m, dataDir); err != nil {
		f.Close()
		os.Remove(out)
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(out)
		return nil, err
	}
	return m, f.Close()
}

func write(w io.Writer, m *Manifest, dataDir string) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: ManifestName, Mode: 0o600, Size: int64(len(data)), ModTime: m.Created, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := tw.Write(data); err != nil {
		return err
	}
	err = filepath.WalkDir(dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dataDir, p)
		if err != nil || rel == "." {
			return err
		}
		// Pebble's LOCK file is recreated on open.
		if d.Name() == "LOCK" && d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		name := "data/" + filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			return tw.WriteHeader(&tar.Header{Name: name + "/", Mode: 0o700, Typeflag: tar.TypeDir, ModTime: info.ModTime()})
		case info.Mode().IsRegular():
			if err := tw.WriteHeader(&tar.Header{Name: name, Mode: int64(info.Mode().Perm()), Size: info.Size(), Typeflag: tar.TypeReg, ModTime: info.ModTime()}); err != nil {
				return err
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			if n, err := io.Copy(tw, io.LimitReader(f, info.Size())); err != nil || n != info.Size() {
				return fmt.Errorf("%s changed while being archived (is the node stopped?)", p)
			}
			return nil
		}
		return fmt.Errorf("%s: not a regular file or directory", p)
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// Restore extracts archive into dataDir (missing or empty) and checks it:
// the manifest's kind must be kind, and a peer's restored ledgers must
// verify with the manifest's heights, commit hashes and state hashes.
func Restore(kind, archive, dataDir string) (*Manifest, error) {
	if entries, err := os.ReadDir(dataDir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s is not empty: restore into a missing or empty directory", dataDir)
	}
	f, err := os.Open(archive)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := extract(f, kind, dataDir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", archive, err)
	}
	if kind == KindPeer {
		got, err := verifyChannels(dataDir)
		if err != nil {
			return nil, fmt.Errorf("restored ledger: %w", err)
		}
		if !slices.Equal(got, m.Channels) {
			return nil, fmt.Errorf("restored ledgers %+v differ from the backup's %+v", got, m.Channels)
		}
	}
	return m, nil
}

// ReadManifest reads an archive's manifest.
func ReadManifest(r io.Reader) (*Manifest, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("not a blossom backup: %w", err)
	}
	return readManifest(tar.NewReader(gz))
}

func readManifest(tr *tar.Reader) (*Manifest, error) {
	h, err := tr.Next()
	if err != nil || h.Name != ManifestName || h.Size > maxManifest {
		return nil, errors.New("not a blossom backup: the manifest is missing")
	}
	var m Manifest
	if err := json.NewDecoder(io.LimitReader(tr, maxManifest)).Decode(&m); err != nil {
		return nil, fmt.Errorf("bad manifest: %w", err)
	}
	if m.Format != manifestFormat || (m.Kind != KindPeer && m.Kind != KindCA) {
		return nil, fmt.Errorf("unsupported backup (format %d, kind %q)", m.Format, m.Kind)
	}
	return &m, nil
}

func extract(r io.Reader, kind, dataDir string) (*Manifest, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("not a blossom backup: %w", err)
	}
	tr := tar.NewReader(gz)
	m, err := readManifest(tr)
	if err != nil {
		return nil, err
	}
	if m.Kind != kind {
		return nil, fmt.Errorf("a %s backup, not a %s backup", m.Kind, kind)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	var entries int
	var total int64
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if entries++; entries > MaxEntries {
			return nil, errors.New("too many entries")
		}
		rel, err := entryPath(h.Name)
		if err != nil {
			return nil, err
		}
		target := filepath.Join(dataDir, rel)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o700); err != nil {
				return nil, err
			}
		case tar.TypeReg:
			if h.Size < 0 || total+h.Size > MaxTotalBytes {
				return nil, errors.New("archive larger than the restore bound")
			}
			total += h.Size
			if err := writeEntry(target, tr, h); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("entry %q is not a regular file or directory", h.Name)
		}
	}
	return m, nil
}

// entryPath checks an archive entry name ("data/<relative path>") and
// returns the relative path.
func entryPath(name string) (string, error) {
	rest, ok := strings.CutPrefix(name, "data/")
	clean := path.Clean(rest)
	if !ok || rest == "" || strings.HasPrefix(rest, "/") || clean == ".." || strings.HasPrefix(clean, "../") || strings.Contains(rest, "\\") {
		return "", fmt.Errorf("unsafe entry %q", name)
	}
	return filepath.FromSlash(clean), nil
}

func writeEntry(target string, r io.Reader, h *tar.Header) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return err
	}
	perm := os.FileMode(h.Mode).Perm() & 0o700 // owner only
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm|0o600)
	if err != nil {
		return err
	}
	if n, err := io.Copy(f, io.LimitReader(r, h.Size)); err != nil || n != h.Size {
		f.Close()
		return fmt.Errorf("entry %q is truncated", h.Name)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
