package caserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/blossom-ledger/blossom/internal/pki"
)

// The store keeps the CA's state in Pebble. Keys:
//
//	m/version                  schema version ("1")
//	m/crl                      the current CRL and its number (crlRecord)
//	r/<enrollment ID>          registration
//	c/<serial, 40 hex digits>  issued certificate (issuedCert)
//	i/<enrollment ID>\x00<serial, 40 hex digits>  index: certificates of an ID
//	v/<serial, 40 hex digits>  revocation
//
// Enrollment IDs never contain \x00 (pki.ValidateEnrollmentID), so the
// index prefix of one ID never matches another's. Every change is one batch
// committed with fsync.
type store struct {
	db *pebble.DB
}

const storeVersion = "1"

var errNotFound = errors.New("not found")

// registration is one identity the CA may issue certificates to.
type registration struct {
	EnrollmentID    string            `json:"enrollmentId"`
	Type            pki.Role          `json:"type"`
	Attributes      map[string]string `json:"attributes,omitempty"`
	DNSNames        []string          `json:"dnsNames,omitempty"`
	IPAddresses     []string          `json:"ipAddresses,omitempty"`
	MaxEnrollments  int               `json:"maxEnrollments"`
	EnrollmentsUsed int               `json:"enrollmentsUsed"`
	// SecretSalt and SecretHash are cleared once the secret is consumed or
	// the registration is disabled.
	SecretSalt      []byte    `json:"secretSalt,omitempty"`
	SecretHash      []byte    `json:"secretHash,omitempty"`
	SecretExpiresAt time.Time `json:"secretExpiresAt"`
	SecretConsumed  bool      `json:"secretConsumed"`
	Disabled        bool      `json:"disabled"`
	RegisteredBy    string    `json:"registeredBy"`
	RegisteredAt    time.Time `json:"registeredAt"`
}

// issuedCert is one certificate the CA signed.
type issuedCert struct {
	Serial       string    `json:"serial"` // lowercase hex, no leading zeros
	EnrollmentID string    `json:"enrollmentId"`
	NotAfter     time.Time `json:"notAfter"`
	IssuedAt     time.Time `json:"issuedAt"`
	DER          []byte    `json:"der"`
}

// revocation is one revoked certificate.
type revocation struct {
	Serial    string    `json:"serial"`
	Reason    int       `json:"reason"`
	RevokedAt time.Time `json:"revokedAt"`
}

// crlRecord is the current CRL.
type crlRecord struct {
	Number string `json:"number"` // decimal
	DER    []byte `json:"der"`
}

func openStore(dir string, logger *slog.Logger) (*store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebbleLogger{logger}})
	if err != nil {
		return nil, fmt.Errorf("open CA database: %w", err)
	}
	s := &store{db: db}
	version, err := s.get([]byte("m/version"))
	switch {
	case errors.Is(err, errNotFound):
		if err := db.Set([]byte("m/version"), []byte(storeVersion), pebble.Sync); err != nil {
			db.Close()
			return nil, err
		}
	case err != nil:
		db.Close()
		return nil, err
	case string(version) != storeVersion:
		db.Close()
		return nil, fmt.Errorf("CA database schema version %q is not supported (want %q)", version, storeVersion)
	}
	return s, nil
}

func (s *store) close() error { return s.db.Close() }

func (s *store) get(key []byte) ([]byte, error) {
	value, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return bytes.Clone(value), nil
}

func (s *store) getJSON(key []byte, v any) error {
	data, err := s.get(key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("corrupt CA database record %q: %w", key, err)
	}
	return nil
}

func registrationKey(id string) []byte { return []byte("r/" + id) }
func certKey(serial *big.Int) []byte   { return []byte("c/" + serialKey(serial)) }
func revocationKey(serial *big.Int) []byte {
	return []byte("v/" + serialKey(serial))
}
func indexPrefix(id string) []byte { return []byte("i/" + id + "\x00") }
func indexKey(id string, serial *big.Int) []byte {
	return append(indexPrefix(id), serialKey(serial)...)
}

// serialKey renders a serial (at most 20 bytes, RFC 5280) as fixed-width hex.
func serialKey(serial *big.Int) string { return fmt.Sprintf("%040x", serial) }

// formatSerial renders a serial as the API shows it: lowercase hex.
func formatSerial(serial *big.Int) string { return serial.Text(16) }

// parseSerial accepts an API serial: 1 to 40 hex digits, positive.
func parseSerial(s string) (*big.Int, error) {
	if s == "" || len(s) > 40 {
		return nil, errors.New("serial must be 1 to 40 hexadecimal digits")
	}
	serial, ok := new(big.Int).SetString(s, 16)
	if !ok || serial.Sign() <= 0 {
		return nil, errors.New("serial must be a positive hexadecimal number")
	}
	return serial, nil
}

func (s *store) registration(id string) (*registration, error) {
	var reg registration
	if err := s.getJSON(registrationKey(id), &reg); err != nil {
		return nil, err
	}
	return &reg, nil
}

func (s *store) cert(serial *big.Int) (*issuedCert, error) {
	var c issuedCert
	if err := s.getJSON(certKey(serial), &c); err != nil {
		return nil, err
	}
	return &c, nil
}

func (s *store) revocation(serial *big.Int) (*revocation, error) {
	var r revocation
	if err := s.getJSON(revocationKey(serial), &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func (s *store) currentCRL() (*crlRecord, error) {
	var c crlRecord
	if err := s.getJSON([]byte("m/crl"), &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// scan calls fn, in key order, for every key that starts with prefix and
// is at least lower (nil: no further bound), until fn returns false. Keys
// of this store never contain the byte 0xff.
func (s *store) scan(lower, prefix []byte, fn func(key, value []byte) (bool, error)) error {
	upper := append(bytes.Clone(prefix), 0xff)
	if len(lower) == 0 {
		lower = prefix
	}
	if len(lower) == 0 {
		lower = nil // no lower bound (Pebble refuses an empty one)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	for valid := it.First(); valid; valid = it.Next() {
		value, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return err
		}
		more, err := fn(it.Key(), value)
		if err != nil {
			it.Close()
			return err
		}
		if !more {
			break
		}
	}
	if err := it.Error(); err != nil {
		it.Close()
		return err
	}
	return it.Close()
}

// serialsOf returns the serials of every certificate issued to id.
func (s *store) serialsOf(id string) ([]*big.Int, error) {
	prefix := indexPrefix(id)
	var serials []*big.Int
	err := s.scan(nil, prefix, func(key, _ []byte) (bool, error) {
		serial, ok := new(big.Int).SetString(string(key[len(prefix):]), 16)
		if !ok {
			return false, fmt.Errorf("corrupt CA database index key %q", key)
		}
		serials = append(serials, serial)
		return true, nil
	})
	return serials, err
}

// revocations returns every revocation, ordered by serial.
func (s *store) revocations() ([]revocation, error) {
	var out []revocation
	err := s.scan(nil, []byte("v/"), func(key, value []byte) (bool, error) {
		var r revocation
		if err := json.Unmarshal(value, &r); err != nil {
			return false, fmt.Errorf("corrupt CA database record %q: %w", key, err)
		}
		out = append(out, r)
		return true, nil
	})
	return out, err
}

// registrations calls fn for registrations with IDs after `after` (all if
// empty), in ID order, until fn returns false.
func (s *store) registrations(after string, fn func(*registration) bool) error {
	var lower []byte
	if after != "" {
		lower = append(registrationKey(after), 0)
	}
	return s.scan(lower, []byte("r/"), func(key, value []byte) (bool, error) {
		var reg registration
		if err := json.Unmarshal(value, &reg); err != nil {
			return false, fmt.Errorf("corrupt CA database record %q: %w", key, err)
		}
		return fn(&reg), nil
	})
}

// update is one atomic change to the store. After commit or discard it
// must not be used; both may be called more than once.
type update struct {
	b    *pebble.Batch
	err  error
	done bool
}

func (s *store) newUpdate() *update { return &update{b: s.db.NewBatch()} }

func (u *update) setJSON(key []byte, v any) {
	if u.err != nil {
		return
	}
	data, err := json.Marshal(v)
	if err != nil {
		u.err = err
		return
	}
	u.err = u.b.Set(key, data, nil)
}

func (u *update) putRegistration(reg *registration) {
	u.setJSON(registrationKey(reg.EnrollmentID), reg)
}

func (u *update) putCert(serial *big.Int, c *issuedCert) {
	u.setJSON(certKey(serial), c)
	if u.err == nil {
		u.err = u.b.Set(indexKey(c.EnrollmentID, serial), nil, nil)
	}
}

func (u *update) putRevocation(serial *big.Int, r *revocation) {
	u.setJSON(revocationKey(serial), r)
}

func (u *update) putCRL(c *crlRecord) { u.setJSON([]byte("m/crl"), c) }

// commit applies the update durably.
func (u *update) commit() error {
	if u.done {
		return errors.New("update already committed or discarded")
	}
	defer u.discard()
	if u.err != nil {
		return u.err
	}
	return u.b.Commit(pebble.Sync)
}

// discard drops the update's batch (a no-op after commit).
func (u *update) discard() {
	if !u.done {
		u.done = true
		u.b.Close()
	}
}

// pebbleLogger sends Pebble's messages to slog: informational chatter at
// debug level, errors at error level.
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
