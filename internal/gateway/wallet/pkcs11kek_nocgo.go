//go:build !cgo

package wallet

import "errors"

// errNoPKCS11 is returned by the PKCS#11 KEK functions in a build without
// cgo, which PKCS#11 needs.
var errNoPKCS11 = errors.New("wallet: this blossom binary was built without cgo, which PKCS#11 support needs")

// PKCS11KEK is unavailable without cgo.
type PKCS11KEK struct{ AESKEK }

// GeneratePKCS11KEK checks cfg, then fails: unavailable without cgo.
func GeneratePKCS11KEK(cfg PKCS11KEKConfig) (*PKCS11KEK, error) { return nil, unavailable(cfg) }

// OpenPKCS11KEK checks cfg, then fails: unavailable without cgo.
func OpenPKCS11KEK(cfg PKCS11KEKConfig) (*PKCS11KEK, error) { return nil, unavailable(cfg) }

func unavailable(cfg PKCS11KEKConfig) error {
	if err := cfg.check(); err != nil {
		return err
	}
	return errNoPKCS11
}

// Close does nothing.
func (k *PKCS11KEK) Close() error { return nil }
