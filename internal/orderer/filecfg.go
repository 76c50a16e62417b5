package orderer

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/blossom-ledger/blossom/internal/fsutil"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// FileConfig is the configuration file of `blossom orderer` (JSON, unknown
// fields refused). Relative paths are resolved against the file's
// directory.
//
//	{
//	  "listenAddress": "127.0.0.1:7050",
//	  "dataDir": "orderer0",
//	  "certFile": "orderer0/cert.pem",
//	  "keyFile": "orderer0/key.pem",
//	  "genesisBlocks": ["blossom.block"],
//	  "healthAddress": "127.0.0.1:7060",
//	  "logLevel": "info"
//	}
//
// The certificate file may hold the orderer's certificate followed by its
// CA chain; the key file must be mode 0600 or stricter. Trust (the members'
// CAs) comes from the channels' configurations, starting with the genesis
// blocks.
type FileConfig struct {
	ListenAddress string   `json:"listenAddress"`
	DataDir       string   `json:"dataDir"`
	CertFile      string   `json:"certFile"`
	KeyFile       string   `json:"keyFile"`
	GenesisBlocks []string `json:"genesisBlocks"`
	HealthAddress string   `json:"healthAddress,omitempty"` // optional HTTP /healthz
	LogLevel      string   `json:"logLevel,omitempty"`      // debug, info (default), warn, error
	// MaxPendingEnvelopes is the admission bound per channel (0 or absent:
	// DefaultMaxPendingEnvelopes; see Config.MaxPendingEnvelopes).
	MaxPendingEnvelopes int `json:"maxPendingEnvelopes,omitempty"`
	dir                 string
}

const maxConfigFileBytes = 1 << 20

// maxMaxPendingEnvelopes caps the configurable admission bound: past it the
// queue's memory (envelopes up to the channel's absolute max bytes) and
// wait outgrow any broadcast timeout.
const maxMaxPendingEnvelopes = 1 << 20

// LoadFileConfig reads and checks an orderer configuration file.
func LoadFileConfig(path string) (*FileConfig, error) {
	data, err := fsutil.ReadFileBounded(path, maxConfigFileBytes)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	fc := &FileConfig{dir: filepath.Dir(path)}
	if err := dec.Decode(fc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: data after the JSON object", path)
	}
	var missing []string
	for name, v := range map[string]string{"listenAddress": fc.ListenAddress, "dataDir": fc.DataDir, "certFile": fc.CertFile, "keyFile": fc.KeyFile} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: missing %s", path, strings.Join(missing, ", "))
	}
	if _, err := fc.Level(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if fc.MaxPendingEnvelopes < 0 || fc.MaxPendingEnvelopes > maxMaxPendingEnvelopes {
		return nil, fmt.Errorf("%s: maxPendingEnvelopes %d is outside 0..%d", path, fc.MaxPendingEnvelopes, maxMaxPendingEnvelopes)
	}
	return fc, nil
}

func (fc *FileConfig) path(p string) string {
	if filepath.IsAbs(p) || fc.dir == "" {
		return p
	}
	return filepath.Join(fc.dir, p)
}

// CertificateFiles returns the paths of the certificate and key files,
// resolved against the configuration file's directory.
func (fc *FileConfig) CertificateFiles() (cert, key string) {
	return fc.path(fc.CertFile), fc.path(fc.KeyFile)
}

// Level returns the configured log level.
func (fc *FileConfig) Level() (slog.Level, error) {
	switch strings.ToLower(fc.LogLevel) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown log level %q (want debug, info, warn or error)", fc.LogLevel)
}

// HealthAddr returns the /healthz listen address ("" for none).
func (fc *FileConfig) HealthAddr() string { return fc.HealthAddress }

// NodeConfig reads the files the configuration names (key, certificate,
// genesis blocks) and returns the node configuration.
func (fc *FileConfig) NodeConfig(logger *slog.Logger) (Config, error) {
	key, err := pki.ReadPrivateKeyFile(fc.path(fc.KeyFile))
	if err != nil {
		return Config{}, err
	}
	certPEM, err := fsutil.ReadFileBounded(fc.path(fc.CertFile), maxConfigFileBytes)
	if err != nil {
		return Config{}, err
	}
	certs, err := pki.ParseCertificatesPEM(certPEM)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", fc.CertFile, err)
	}
	tc := tls.Certificate{PrivateKey: key, Leaf: certs[0]}
	for _, c := range certs {
		tc.Certificate = append(tc.Certificate, c.Raw)
	}
	cfg := Config{
		DataDir:       fc.path(fc.DataDir),
		ListenAddress: fc.ListenAddress,
		Certificate:   tc,
		Logger:        logger,

		MaxPendingEnvelopes: fc.MaxPendingEnvelopes,
	}
	for _, p := range fc.GenesisBlocks {
		b, err := ReadBlockFile(fc.path(p))
		if err != nil {
			return Config{}, err
		}
		cfg.GenesisBlocks = append(cfg.GenesisBlocks, b)
	}
	return cfg, nil
}

// ReadBlockFile reads a block file (a marshalled pb.Block, as `blossom
// channel create` writes the genesis block).
func ReadBlockFile(path string) (*pb.Block, error) {
	data, err := fsutil.ReadFileBounded(path, protocol.MaxMessageBytes)
	if err != nil {
		return nil, err
	}
	b := new(pb.Block)
	if err := protocol.Unmarshal(data, b, 0); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if b.Header == nil || b.Data == nil {
		return nil, fmt.Errorf("%s: %w", path, errors.New("not a block: header or data missing"))
	}
	return b, nil
}

// WriteBlockFile writes a block file atomically (mode 0644: a genesis
// block holds no secret).
func WriteBlockFile(path string, b *pb.Block) error {
	data, err := protocol.Marshal(b)
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(path, data, 0o644)
}
