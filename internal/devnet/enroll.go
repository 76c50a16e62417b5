package devnet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/blossom-ledger/blossom/internal/caserver"
	"github.com/blossom-ledger/blossom/internal/fsutil"
	"github.com/blossom-ledger/blossom/internal/pki"
)

// enroller registers and enrolls identities at one member CA server: it
// enrolls the bootstrap registrar first and then acts as it.
type enroller struct {
	caDir  string
	url    string
	public *caserver.Client // enroll needs no client certificate
	reg    *caserver.Client // the registrar, once enrolled
}

func newEnroller(caDir, url string) (*enroller, error) {
	pool, err := caserver.LoadCertPool(filepath.Join(caDir, caserver.ChainFile))
	if err != nil {
		return nil, err
	}
	public, err := caserver.NewClient(caserver.ClientConfig{URL: url, RootCAs: pool})
	if err != nil {
		return nil, err
	}
	return &enroller{caDir: caDir, url: url, public: public}, nil
}

func (e *enroller) close() {
	e.public.Close()
	if e.reg != nil {
		e.reg.Close()
	}
}

// enrollBootstrap enrolls the CA's bootstrap registrar into dir with the
// one-time secret Install wrote, then removes the spent secret.
func (e *enroller) enrollBootstrap(ctx context.Context, dir string) error {
	secretPath := filepath.Join(e.caDir, caserver.BootstrapSecretFile)
	secret, err := caserver.ReadSecretFile(secretPath)
	if err != nil {
		return err
	}
	if err := e.enroll(ctx, caserver.BootstrapRegistrar, secret, dir); err != nil {
		return err
	}
	if err := os.Remove(secretPath); err != nil {
		return err
	}
	return e.actAs(dir)
}

// actAs makes the registrar enrolled in dir the one that registers.
func (e *enroller) actAs(dir string) error {
	pool, err := caserver.LoadCertPool(filepath.Join(e.caDir, caserver.ChainFile))
	if err != nil {
		return err
	}
	cert, err := caserver.LoadClientCertificate(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile))
	if err != nil {
		return err
	}
	e.reg, err = caserver.NewClient(caserver.ClientConfig{URL: e.url, RootCAs: pool, Certificate: cert})
	return err
}

// registerAndEnroll registers req as the registrar and enrolls it into dir.
func (e *enroller) registerAndEnroll(ctx context.Context, req caserver.RegisterRequest, dir string) error {
	resp, err := e.reg.Register(ctx, req)
	if err != nil {
		return err
	}
	return e.enroll(ctx, req.EnrollmentID, resp.Secret, dir)
}

// enroll makes a key, enrolls it with secret and writes dir/key.pem (0600)
// and dir/cert.pem (the certificate followed by the CA chain).
func (e *enroller) enroll(ctx context.Context, id, secret, dir string) error {
	key, err := pki.GenerateKey(pki.ECDSAP256)
	if err != nil {
		return err
	}
	csr, err := caserver.NewCSR(key, id)
	if err != nil {
		return err
	}
	resp, err := e.public.Enroll(ctx, caserver.EnrollRequest{EnrollmentID: id, Secret: secret, CSR: csr})
	if err != nil {
		return fmt.Errorf("enroll %s: %w", id, err)
	}
	chain := append([]byte(resp.Certificate), resp.Chain...)
	if _, err := pki.ParseCertificatesPEM(chain); err != nil {
		return fmt.Errorf("enroll %s: the CA returned a malformed certificate: %w", id, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := pki.WritePrivateKeyFile(filepath.Join(dir, KeyFile), key); err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(filepath.Join(dir, CertFile), chain, 0o644)
}
