package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"github.com/blossom-ledger/blossom/internal/fsutil"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// snapshotDirInLedger is where a ledger created from a snapshot keeps a
// copy of it: Verify starts its replay from it.
const snapshotDirInLedger = "snapshot"

// ErrSnapshotInvalid is wrapped by every reason a snapshot is refused.
var ErrSnapshotInvalid = errors.New("invalid snapshot")

func snapshotErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrSnapshotInvalid, fmt.Sprintf(format, args...))
}

// ReadSnapshotInfo reads and checks a snapshot's manifests (not yet the
// files they list: CreateFromSnapshot checks those).
func ReadSnapshotInfo(dir string) (*SnapshotInfo, error) {
	manRaw, err := fsutil.ReadFileBounded(filepath.Join(dir, SnapshotManifestFile), maxSnapshotManifestBytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSnapshotInvalid, err)
	}
	localRaw, err := fsutil.ReadFileBounded(filepath.Join(dir, SnapshotLocalFile), maxSnapshotManifestBytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSnapshotInvalid, err)
	}
	return parseSnapshotManifests(manRaw, localRaw)
}

// parseSnapshotManifests decodes and checks snapshot.json and local.json.
func parseSnapshotManifests(manRaw, localRaw []byte) (*SnapshotInfo, error) {
	info := &SnapshotInfo{}
	if err := decodeStrictJSON(manRaw, &info.Manifest); err != nil {
		return nil, snapshotErr("%s: %v", SnapshotManifestFile, err)
	}
	if err := decodeStrictJSON(localRaw, &info.Local); err != nil {
		return nil, snapshotErr("%s: %v", SnapshotLocalFile, err)
	}
	sum := sha256.Sum256(manRaw)
	info.Hash = sum[:]
	m, l := &info.Manifest, &info.Local
	switch {
	case m.Format != snapshotFormat || m.Version != SnapshotVersion:
		return nil, snapshotErr("%s is format %q version %d, want %q version %d", SnapshotManifestFile, m.Format, m.Version, snapshotFormat, SnapshotVersion)
	case l.Format != snapshotLocalFormat || l.Version != SnapshotVersion:
		return nil, snapshotErr("%s is format %q version %d, want %q version %d", SnapshotLocalFile, l.Format, l.Version, snapshotLocalFormat, SnapshotVersion)
	case m.Channel == "" || len(m.Channel) > MaxNamespaceBytes:
		return nil, snapshotErr("channel ID %q", m.Channel)
	case m.Height == 0:
		return nil, snapshotErr("height 0")
	case m.LastConfigBlock >= m.Height:
		return nil, snapshotErr("last config block %d at height %d", m.LastConfigBlock, m.Height)
	case l.SnapshotHash != hex.EncodeToString(info.Hash):
		return nil, snapshotErr("%s belongs to another %s", SnapshotLocalFile, SnapshotManifestFile)
	case len(l.MSPID) > MaxNamespaceBytes:
		return nil, snapshotErr("MSP ID of %d bytes", len(l.MSPID))
	}
	for _, h := range []struct{ name, value string }{{"lastBlockHash", m.LastBlockHash}, {"commitHash", m.CommitHash}, {"stateHash", m.StateHash}} {
		if b, err := hex.DecodeString(h.value); err != nil || len(b) != sha256.Size {
			return nil, snapshotErr("%s is not a hex SHA-256", h.name)
		}
	}
	var public []string
	for _, p := range snapshotParts {
		if !p.local {
			public = append(public, p.name)
		}
	}
	if err := checkFileList(m.Files, append([]string{snapshotConfigFile, snapshotLastFile}, public...), nil); err != nil {
		return nil, snapshotErr("%s: %v", SnapshotManifestFile, err)
	}
	if err := checkFileList(l.Files, []string{"purge.data"}, []string{privatePartName}); err != nil {
		return nil, snapshotErr("%s: %v", SnapshotLocalFile, err)
	}
	return info, nil
}

// checkFileList checks that files lists every name of required, may list
// those of optional, nothing else and nothing twice, with sane fields.
func checkFileList(files []SnapshotFile, required, optional []string) error {
	seen := map[string]bool{}
	for _, f := range files {
		if !slices.Contains(required, f.Name) && !slices.Contains(optional, f.Name) {
			return fmt.Errorf("unexpected file %q", f.Name)
		}
		if seen[f.Name] {
			return fmt.Errorf("file %q listed twice", f.Name)
		}
		seen[f.Name] = true
		if b, err := hex.DecodeString(f.SHA256); err != nil || len(b) != sha256.Size {
			return fmt.Errorf("file %q: sha256 is not a hex SHA-256", f.Name)
		}
		if f.Size < 0 || f.Size > MaxSnapshotFileBytes {
			return fmt.Errorf("file %q: size %d out of range", f.Name, f.Size)
		}
	}
	for _, name := range required {
		if !seen[name] {
			return fmt.Errorf("file %q not listed", name)
		}
	}
	return nil
}

func decodeStrictJSON(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

// ImportOptions tune CreateFromSnapshot.
type ImportOptions struct {
	// MSPID is the importing peer's member: local.json's files (purge
	// schedule, private data) are imported only if the snapshot was
	// exported by a peer of the same member.
	MSPID string
	// ExpectHash, if set, is the snapshot hash (SHA-256 of snapshot.json)
	// the admin compared with other members' peers: any other is refused.
	ExpectHash []byte
	// Logger (nil: discard).
	Logger *slog.Logger
}

// CreateFromSnapshot creates the ledger in ledgerDir (missing or empty)
// from the snapshot in snapDir. It checks the manifests, every file's size
// and SHA-256, the last block against the manifest's last block hash and
// commit hash and its orderer signature against the config block, every
// record, and recomputes the state hash. It refuses a mismatch or a
// malformed input with an error wrapping ErrSnapshotInvalid and leaves
// nothing at ledgerDir. The new ledger's height is the snapshot's height H:
// it takes block H next, which must chain onto the snapshot's last block.
func CreateFromSnapshot(snapDir, ledgerDir string, opts ImportOptions) (*SnapshotInfo, error) {
	info, err := ReadSnapshotInfo(snapDir)
	if err != nil {
		return nil, err
	}
	if opts.ExpectHash != nil && !bytes.Equal(opts.ExpectHash, info.Hash) {
		return nil, snapshotErr("snapshot hash %s, expected %x", info.HashHex(), opts.ExpectHash)
	}
	if entries, err := os.ReadDir(ledgerDir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("create ledger from snapshot: %s is not empty", ledgerDir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	parent := filepath.Dir(ledgerDir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(ledgerDir)+".import-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp) // gone after the rename below
	info.LocalImported = opts.MSPID != "" && opts.MSPID == info.Local.MSPID
	if err := importSnapshot(snapDir, tmp, info); err != nil {
		return nil, err
	}
	if err := os.Remove(ledgerDir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.Rename(tmp, ledgerDir); err != nil {
		return nil, err
	}
	if err := fsutil.SyncDir(parent); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log.Info("ledger: created from snapshot", "channel", info.Manifest.Channel, "height", info.Manifest.Height,
		"snapshot_hash", info.HashHex(), "member_local_data", info.LocalImported)
	return info, nil
}

// importSnapshot builds the ledger in the empty directory dir.
func importSnapshot(snapDir, dir string, info *SnapshotInfo) error {
	copyDir := filepath.Join(dir, snapshotDirInLedger)
	if err := os.Mkdir(copyDir, 0o700); err != nil {
		return err
	}
	// Copy every file to import while checking its size and hash, then
	// read only the checked copies: the source cannot change under the
	// import. Another member's local files are neither read nor kept.
	files := slices.Clone(info.Manifest.Files)
	if info.LocalImported {
		files = append(files, info.Local.Files...)
	}
	for _, f := range files {
		if err := copyChecked(filepath.Join(snapDir, f.Name), filepath.Join(copyDir, f.Name), f); err != nil {
			return err
		}
	}
	for _, name := range []string{SnapshotManifestFile, SnapshotLocalFile} {
		raw, err := fsutil.ReadFileBounded(filepath.Join(snapDir, name), maxSnapshotManifestBytes)
		if err != nil {
			return err
		}
		if name == SnapshotManifestFile && !bytes.Equal(sha256Of(raw), info.Hash) {
			return snapshotErr("%s changed during the import", name)
		}
		if err := writeSnapshotFile(filepath.Join(copyDir, name), raw); err != nil {
			return err
		}
	}
	base, err := checkSnapshotBlocks(copyDir, info)
	if err != nil {
		return err
	}
	db, err := pebble.Open(filepath.Join(dir, "index"), pebbleOptions(slog.New(slog.DiscardHandler)))
	if err != nil {
		return fmt.Errorf("create index: %w", err)
	}
	closed := false
	defer func() {
		if !closed {
			db.Close()
		}
	}()
	if err := loadSnapshotParts(db, copyDir, info, base); err != nil {
		return err
	}
	batch := db.NewBatch()
	defer batch.Close()
	if err := writeBase(batch, base); err != nil {
		return err
	}
	m := meta{height: base.height, lastConfig: info.Manifest.LastConfigBlock, lastHash: base.lastHash, commitHash: base.commitHash}
	if err := batch.Set(metaKey, m.encode(), nil); err != nil {
		return err
	}
	if err := db.Apply(batch, pebble.Sync); err != nil {
		return err
	}
	closed = true
	if err := db.Close(); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(dir, "blocks"), 0o700); err != nil {
		return err
	}
	if err := fsutil.SyncDir(copyDir); err != nil {
		return err
	}
	return fsutil.SyncDir(dir)
}

func sha256Of(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

// copyChecked copies src to dst, refusing a size or SHA-256 other than f's.
func copyChecked(src, dst string, f SnapshotFile) error {
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	if err := streamChecked(src, out, f); err != nil {
		return err
	}
	return out.Sync()
}

// streamChecked copies src to w, refusing a size or SHA-256 other than f's.
func streamChecked(src string, w io.Writer, f SnapshotFile) error {
	in, err := os.Open(src)
	if err != nil {
		return snapshotErr("%v", err)
	}
	defer in.Close()
	hr := &hashingReader{r: io.LimitReader(in, f.Size+1), h: sha256.New()}
	if _, err := io.Copy(w, hr); err != nil {
		return err
	}
	if hr.n != f.Size {
		return snapshotErr("%s: %d bytes, manifest says %d", f.Name, hr.n, f.Size)
	}
	if got := hex.EncodeToString(hr.h.Sum(nil)); got != f.SHA256 {
		return snapshotErr("%s: SHA-256 %s, manifest says %s", f.Name, got, f.SHA256)
	}
	return nil
}

// checkSnapshotBlocks reads config.block and last.block and checks them
// against the manifest: the config block is a config block of the channel
// with the announced number; the last block is block height-1, its header
// hash is the last block hash, its data hash matches, its commit hash is
// the manifest's, its last_config names the config block, and (unless it
// is the config block) its orderer signature verifies against the
// consenters of that config.
func checkSnapshotBlocks(dir string, info *SnapshotInfo) (*snapshotBase, error) {
	m := &info.Manifest
	read := func(name string) (*pb.Block, error) {
		raw, err := fsutil.ReadFileBounded(filepath.Join(dir, name), MaxRecordBytes)
		if err != nil {
			return nil, snapshotErr("%s: %v", name, err)
		}
		b := new(pb.Block)
		if err := protocol.Unmarshal(raw, b, MaxRecordBytes); err != nil {
			return nil, snapshotErr("%s: %v", name, err)
		}
		return b, nil
	}
	cfgBlock, err := read(snapshotConfigFile)
	if err != nil {
		return nil, err
	}
	last, err := read(snapshotLastFile)
	if err != nil {
		return nil, err
	}
	cfg, ok, err := ConfigFromBlock(cfgBlock)
	switch {
	case err != nil || !ok:
		return nil, snapshotErr("%s is not a config block (%v)", snapshotConfigFile, err)
	case cfgBlock.GetHeader().GetNumber() != m.LastConfigBlock:
		return nil, snapshotErr("%s is block %d, manifest says %d", snapshotConfigFile, cfgBlock.GetHeader().GetNumber(), m.LastConfigBlock)
	case cfg.GetChannelId() != m.Channel:
		return nil, snapshotErr("%s is of channel %q, manifest says %q", snapshotConfigFile, cfg.GetChannelId(), m.Channel)
	case !bytes.Equal(cfgBlock.GetHeader().GetDataHash(), protocol.BlockDataHash(cfgBlock.GetData())):
		return nil, snapshotErr("%s: data hash mismatch", snapshotConfigFile)
	}
	hdr := last.GetHeader()
	lastHash := protocol.BlockHeaderHash(hdr)
	switch {
	case hdr.GetNumber() != m.Height-1:
		return nil, snapshotErr("%s is block %d, want %d", snapshotLastFile, hdr.GetNumber(), m.Height-1)
	case hex.EncodeToString(lastHash) != m.LastBlockHash:
		return nil, snapshotErr("%s hashes to %x, manifest says %s", snapshotLastFile, lastHash, m.LastBlockHash)
	case !bytes.Equal(hdr.GetDataHash(), protocol.BlockDataHash(last.GetData())):
		return nil, snapshotErr("%s: data hash mismatch", snapshotLastFile)
	case hex.EncodeToString(last.GetMetadata().GetCommitHash()) != m.CommitHash:
		return nil, snapshotErr("%s carries commit hash %x, manifest says %s", snapshotLastFile, last.GetMetadata().GetCommitHash(), m.CommitHash)
	case last.GetMetadata().GetLastConfig() != m.LastConfigBlock:
		return nil, snapshotErr("%s names block %d as the last config, manifest says %d", snapshotLastFile, last.GetMetadata().GetLastConfig(), m.LastConfigBlock)
	}
	if m.LastConfigBlock == hdr.GetNumber() {
		if !bytes.Equal(lastHash, protocol.BlockHeaderHash(cfgBlock.GetHeader())) {
			return nil, snapshotErr("%s and %s differ, but both are block %d", snapshotConfigFile, snapshotLastFile, hdr.GetNumber())
		}
	} else if err := VerifyOrdererSignature(last, cfg); err != nil {
		return nil, snapshotErr("%s: %v", snapshotLastFile, err)
	}
	commitHash, _ := hex.DecodeString(m.CommitHash)
	return &snapshotBase{
		height: m.Height, lastHash: lastHash, commitHash: commitHash, snapshotHash: info.Hash,
		configBlock: cfgBlock, lastBlock: last,
	}, nil
}

// loadSnapshotParts decodes every .data file into db and checks the
// record counts and the state hash.
func loadSnapshotParts(db *pebble.DB, dir string, info *SnapshotInfo, base *snapshotBase) error {
	files := map[string]SnapshotFile{}
	for _, f := range info.Manifest.Files {
		files[f.Name] = f
	}
	for _, f := range info.Local.Files {
		files[f.Name] = f
	}
	stateHash := newStateHasher()
	for _, part := range snapshotParts {
		f, ok := files[part.name]
		if !ok || (part.local && !info.LocalImported) {
			continue
		}
		batch := db.NewBatch()
		records, err := readSnapshotPart(filepath.Join(dir, part.name), part, base.height, func(k, v []byte) error {
			switch k[0] {
			case prefixState:
				ns, key, _ := splitStateKey(k)
				ver, value, _ := decodeStateValue(v)
				stateHash.add(ns, key, ver, value)
			case prefixPrivate:
				if current, err := checkPrivateValue(db, k, v); err != nil || !current {
					return err
				}
			}
			if err := batch.Set(k, v, nil); err != nil {
				return err
			}
			if batch.Len() < 8<<20 {
				return nil
			}
			if err := db.Apply(batch, pebble.NoSync); err != nil {
				return err
			}
			batch.Reset()
			return nil
		})
		if err == nil {
			err = db.Apply(batch, pebble.NoSync)
		}
		batch.Close()
		if err != nil {
			return err
		}
		if records != f.Records {
			return snapshotErr("%s holds %d records, manifest says %d", part.name, records, f.Records)
		}
	}
	if got := hex.EncodeToString(stateHash.sum()); got != info.Manifest.StateHash {
		return snapshotErr("state hash %s, manifest says %s", got, info.Manifest.StateHash)
	}
	return db.Flush()
}

// checkPrivateValue checks an imported private value against the hashed
// private state already imported (pvthashes.data, whose hash the admins
// compared): current reports whether it is the value of the version the
// hashed state holds (older values, kept by the exporting peer while a
// newer one was missing, are not imported); a current value that does not
// hash to the hashed state's value hash is refused.
func checkPrivateValue(db *pebble.DB, k, v []byte) (current bool, err error) {
	ns, coll, key, _ := splitCollectionKey(k)
	ver, value, _ := decodeStateValue(v)
	kh := sha256.Sum256(key)
	hashed, err := getVersioned(db, hashedKey(ns, coll, kh[:]))
	if err != nil || hashed == nil || hashed.Version != ver {
		return false, err
	}
	if vh := sha256.Sum256(value); !bytes.Equal(vh[:], hashed.Value) {
		return false, snapshotErr("private value of %s/%s at %d/%d does not match the hashed private state", ns, coll, ver.Block, ver.Tx)
	}
	return true, nil
}

// readSnapshotPart decodes one .data file; a malformed one wraps
// ErrSnapshotInvalid.
func readSnapshotPart(path string, part snapshotPart, height uint64, fn func(k, v []byte) error) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var fnErr error
	n, err := decodeSnapshotPart(f, part, height, func(k, v []byte) error {
		fnErr = fn(k, v)
		return fnErr
	})
	if err != nil && fnErr == nil {
		return n, fmt.Errorf("%w: %v", ErrSnapshotInvalid, err)
	}
	return n, err
}

// SnapshotFileNames lists the names a snapshot directory may hold.
func SnapshotFileNames() []string {
	names := []string{SnapshotManifestFile, SnapshotLocalFile, snapshotConfigFile, snapshotLastFile}
	for _, p := range snapshotParts {
		names = append(names, p.name)
	}
	return names
}

// CheckSnapshot reads a snapshot's manifests and checks the size and
// SHA-256 of every file they list (CreateFromSnapshot checks the content).
func CheckSnapshot(dir string) (*SnapshotInfo, error) {
	info, err := ReadSnapshotInfo(dir)
	if err != nil {
		return nil, err
	}
	for _, f := range append(slices.Clone(info.Manifest.Files), info.Local.Files...) {
		if err := streamChecked(filepath.Join(dir, f.Name), io.Discard, f); err != nil {
			return nil, err
		}
	}
	return info, nil
}
