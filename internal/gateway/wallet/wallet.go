package wallet

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/pki"
)

// Errors callers test with errors.Is.
var (
	// ErrNotFound: the wallet holds no key for that enrollment ID.
	ErrNotFound = errors.New("wallet: no key for this enrollment ID")
	// ErrExists: Put would replace a key (use Replace for a re-enrollment).
	ErrExists = errors.New("wallet: a key for this enrollment ID already exists")
	// ErrWrongKEK: the wallet (or a record) was sealed under another
	// key-encryption key, or its ciphertext was altered.
	ErrWrongKEK = errors.New("wallet: the key-encryption key does not open this wallet (wrong KEK, or corrupted data)")
)

const (
	recordVersion = 1
	// maxRecordSize bounds a stored record read back from the database.
	maxRecordSize = 64 << 10
	checkKey      = "m/kek-check"
	checkValue    = "blossom wallet KEK check v1"
	dataKeySize   = 32
)

// record is one user's sealed key as stored. Key is the PKCS#8 private key
// sealed under the data key; DataKey is the data key sealed under the KEK.
type record struct {
	Version   int       `json:"v"`
	KEKID     string    `json:"kek"`
	DataKey   []byte    `json:"dek"`
	Key       []byte    `json:"key"`
	Cert      []byte    `json:"cert"` // DER
	UpdatedAt time.Time `json:"updatedAt"`
}

// Wallet is an encrypted key store in a Pebble database. It is safe for
// concurrent use.
type Wallet struct {
	db  *pebble.DB
	kek KEK
	now func() time.Time
	mu  sync.Mutex // serialises writes (Put's existence check)

	closeOnce sync.Once
	closeErr  error
}

// Options adjusts Open.
type Options struct {
	Logger *slog.Logger     // Pebble's messages; nil: slog.Default()
	Now    func() time.Time // nil: time.Now
}

// Open opens (creating if needed, mode 0700) the wallet in dir under kek.
// It fails with ErrWrongKEK if the wallet was created under another KEK.
func Open(dir string, kek KEK, opts Options) (*Wallet, error) {
	if kek == nil {
		return nil, errors.New("wallet: a key-encryption key is required")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebbleLogger{logger}})
	if err != nil {
		return nil, fmt.Errorf("wallet: open database: %w", err)
	}
	w := &Wallet{db: db, kek: kek, now: now}
	if err := w.checkKEK(); err != nil {
		db.Close()
		return nil, err
	}
	return w, nil
}

// checkKEK seals a check value on first use and opens it afterwards.
func (w *Wallet) checkKEK() error {
	stored, err := w.get([]byte(checkKey))
	if errors.Is(err, ErrNotFound) {
		sealed, err := w.kek.Seal([]byte(checkValue), []byte(checkKey))
		if err != nil {
			return fmt.Errorf("wallet: seal KEK check: %w", err)
		}
		data, err := json.Marshal(record{Version: recordVersion, KEKID: w.kek.ID(), Key: sealed})
		if err != nil {
			return err
		}
		return w.db.Set([]byte(checkKey), data, pebble.Sync)
	}
	if err != nil {
		return err
	}
	rec, err := decodeRecord(stored)
	if err != nil {
		return err
	}
	if rec.KEKID != w.kek.ID() {
		return fmt.Errorf("%w: the wallet was created under KEK %s, this is %s", ErrWrongKEK, rec.KEKID, w.kek.ID())
	}
	plain, err := w.kek.Open(rec.Key, []byte(checkKey))
	if err != nil || string(plain) != checkValue {
		return ErrWrongKEK
	}
	return nil
}

// Close closes the database; later calls return the first call's result.
func (w *Wallet) Close() error {
	w.closeOnce.Do(func() { w.closeErr = w.db.Close() })
	return w.closeErr
}

func userKey(enrollmentID string) []byte { return []byte("u/" + enrollmentID) }

// additionalData binds a sealed value to its enrollment ID and its role in
// the record.
func additionalData(enrollmentID, part string) []byte {
	return []byte("blossom wallet v1\x00" + part + "\x00" + enrollmentID)
}

// Put stores key and cert for enrollmentID. The key must match the
// certificate; ErrExists if a key is already stored (see Replace).
func (w *Wallet) Put(enrollmentID string, key crypto.Signer, cert *x509.Certificate) error {
	return w.put(enrollmentID, key, cert, false)
}

// Replace stores key and cert for enrollmentID, replacing any stored key
// (a re-enrollment).
func (w *Wallet) Replace(enrollmentID string, key crypto.Signer, cert *x509.Certificate) error {
	return w.put(enrollmentID, key, cert, true)
}

func (w *Wallet) put(enrollmentID string, key crypto.Signer, cert *x509.Certificate, replace bool) error {
	if err := pki.ValidateEnrollmentID(enrollmentID); err != nil {
		return fmt.Errorf("wallet: %w", err)
	}
	if _, err := identity.NewKeySigner(key, cert); err != nil {
		return fmt.Errorf("wallet: %s: %w", enrollmentID, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("wallet: %s: unsupported private key type %T", enrollmentID, key)
	}
	defer clear(der)
	dataKey := make([]byte, dataKeySize)
	defer clear(dataKey)
	if _, err := rand.Read(dataKey); err != nil {
		return err
	}
	dek, err := NewAESKEK(dataKey)
	if err != nil {
		return err
	}
	sealedKey, err := dek.Seal(der, additionalData(enrollmentID, "key"))
	if err != nil {
		return err
	}
	sealedDataKey, err := w.kek.Seal(dataKey, additionalData(enrollmentID, "dek"))
	if err != nil {
		return fmt.Errorf("wallet: %s: seal data key: %w", enrollmentID, err)
	}
	data, err := json.Marshal(record{
		Version: recordVersion, KEKID: w.kek.ID(), DataKey: sealedDataKey, Key: sealedKey,
		Cert: cert.Raw, UpdatedAt: w.now().UTC(),
	})
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !replace {
		if _, err := w.get(userKey(enrollmentID)); err == nil {
			return fmt.Errorf("%w: %s", ErrExists, enrollmentID)
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return w.db.Set(userKey(enrollmentID), data, pebble.Sync)
}

// Certificate returns the stored certificate of enrollmentID.
func (w *Wallet) Certificate(enrollmentID string) (*x509.Certificate, error) {
	rec, err := w.load(enrollmentID)
	if err != nil {
		return nil, err
	}
	return parseCert(enrollmentID, rec.Cert)
}

// Signer decrypts enrollmentID's key and returns a signer over it and its
// certificate. The key stays inside the signer.
func (w *Wallet) Signer(enrollmentID string) (identity.Signer, error) {
	rec, err := w.load(enrollmentID)
	if err != nil {
		return nil, err
	}
	if rec.KEKID != w.kek.ID() {
		return nil, fmt.Errorf("%w: record %s was sealed under KEK %s", ErrWrongKEK, enrollmentID, rec.KEKID)
	}
	dataKey, err := w.kek.Open(rec.DataKey, additionalData(enrollmentID, "dek"))
	if err != nil {
		return nil, fmt.Errorf("%w (record %s)", ErrWrongKEK, enrollmentID)
	}
	defer clear(dataKey)
	dek, err := NewAESKEK(dataKey)
	if err != nil {
		return nil, fmt.Errorf("%w (record %s)", ErrWrongKEK, enrollmentID)
	}
	der, err := dek.Open(rec.Key, additionalData(enrollmentID, "key"))
	if err != nil {
		return nil, fmt.Errorf("%w (record %s)", ErrWrongKEK, enrollmentID)
	}
	defer clear(der)
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("wallet: record %s holds a key that does not parse", enrollmentID)
	}
	key, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("wallet: record %s holds an unsupported key type", enrollmentID)
	}
	cert, err := parseCert(enrollmentID, rec.Cert)
	if err != nil {
		return nil, err
	}
	signer, err := identity.NewKeySigner(key, cert)
	if err != nil {
		return nil, fmt.Errorf("wallet: record %s: %w", enrollmentID, err)
	}
	return signer, nil
}

// Delete removes enrollmentID's key; deleting an absent key is not an error.
func (w *Wallet) Delete(enrollmentID string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.db.Delete(userKey(enrollmentID), pebble.Sync)
}

func (w *Wallet) load(enrollmentID string) (*record, error) {
	if err := pki.ValidateEnrollmentID(enrollmentID); err != nil {
		return nil, fmt.Errorf("wallet: %w", err)
	}
	data, err := w.get(userKey(enrollmentID))
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, enrollmentID)
		}
		return nil, err
	}
	rec, err := decodeRecord(data)
	if err != nil {
		return nil, fmt.Errorf("wallet: record %s: %w", enrollmentID, err)
	}
	return rec, nil
}

func (w *Wallet) get(key []byte) ([]byte, error) {
	value, closer, err := w.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return bytes.Clone(value), nil
}

// decodeRecord parses a stored record, refusing oversized, unknown-version
// or incomplete ones.
func decodeRecord(data []byte) (*record, error) {
	if len(data) > maxRecordSize {
		return nil, fmt.Errorf("record larger than %d bytes", maxRecordSize)
	}
	var rec record
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return nil, errors.New("record is not valid JSON")
	}
	if dec.More() {
		return nil, errors.New("record has trailing data")
	}
	if rec.Version != recordVersion {
		return nil, fmt.Errorf("record version %d is not supported (want %d)", rec.Version, recordVersion)
	}
	if rec.KEKID == "" || len(rec.Key) == 0 {
		return nil, errors.New("record is incomplete")
	}
	return &rec, nil
}

func parseCert(enrollmentID string, der []byte) (*x509.Certificate, error) {
	if len(der) == 0 {
		return nil, fmt.Errorf("wallet: record %s has no certificate", enrollmentID)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("wallet: record %s: certificate: %w", enrollmentID, err)
	}
	return cert, nil
}

// pebbleLogger sends Pebble's messages to slog.
type pebbleLogger struct{ logger *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.logger.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.logger.Error("pebble: " + fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	l.logger.Error("pebble: fatal: " + fmt.Sprintf(format, args...))
	os.Exit(1)
}
