package cli

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/blossom-ledger/blossom/internal/caserver"
	"github.com/blossom-ledger/blossom/internal/fsutil"
	"github.com/blossom-ledger/blossom/internal/pki"
)

// EnrollSecretEnv is the environment variable `blossom ca enroll` reads the
// enrollment secret from when --secret-file is not given.
const EnrollSecretEnv = "BLOSSOM_ENROLL_SECRET"

// Files `blossom ca enroll` and `reenroll` write into --out.
const (
	caEnrolledCertFile  = "cert.pem"
	caEnrolledKeyFile   = "key.pem"
	caEnrolledChainFile = "ca-chain.pem"
)

func newCACommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ca",
		Short: "Run a member certificate authority and manage identities with it",
		Long: `Run a member's intermediate certificate authority and manage identities with it.

Setting up (offline steps first):
  blossom ca root init --dir ROOTDIR --name "Consortium root CA"   (consortium, once)
  blossom ca init --dir CADIR --msp Agency1MSP                      (member: key + CADIR/ca.csr)
  blossom ca root sign --dir ROOTDIR --csr CADIR/ca.csr --out ca-cert.pem
  blossom ca install --dir CADIR --cert ca-cert.pem --root ROOTDIR/root-cert.pem
  blossom ca serve --dir CADIR --listen 127.0.0.1:7054

install registers the bootstrap registrar "admin" and writes its one-time secret
to CADIR/bootstrap-secret (mode 0600). Enroll it first:
  blossom ca enroll --url https://127.0.0.1:7054 --cacert CADIR/ca-chain.pem \
      --id admin --secret-file CADIR/bootstrap-secret --out ADMINDIR
then register, enroll, reenroll, revoke, gencrl and list with that identity.`,
	}
	root := &cobra.Command{
		Use:   "root",
		Short: "Create the consortium root CA and sign member CAs with it",
	}
	root.AddCommand(newCARootInitCommand(), newCARootSignCommand())
	cmd.AddCommand(
		root,
		newCAInitCommand(),
		newCAInstallCommand(),
		newCAServeCommand(),
		newCARegisterCommand(),
		newCAEnrollCommand(),
		newCAReenrollCommand(),
		newCARevokeCommand(),
		newCAGenCRLCommand(),
		newCAListCommand(),
	)
	return cmd
}

func newCARootInitCommand() *cobra.Command {
	var dir, name, org, alg string
	var validity time.Duration
	cmd := &cobra.Command{
		Use:   "init --dir ROOTDIR --name NAME",
		Short: "Create the consortium root CA (root-cert.pem, root-key.pem) in ROOTDIR",
		Long: `Create a self-signed consortium root CA in ROOTDIR: root-cert.pem and
root-key.pem (mode 0600). Refuses to overwrite an existing root. Keep ROOTDIR
offline once the member CAs are signed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			algorithm, err := pki.ParseKeyAlgorithm(alg)
			if err != nil {
				return err
			}
			cert, err := caserver.InitRoot(dir, caserver.RootOptions{Name: name, Organization: org, Algorithm: algorithm, Validity: validity})
			if err != nil {
				return err
			}
			return caPrintJSON(cmd.OutOrStdout(), map[string]any{
				"certificate": filepath.Join(dir, caserver.RootCertFile),
				"subject":     cert.Subject.String(),
				"notAfter":    cert.NotAfter.UTC(),
			})
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "root CA directory (created if missing)")
	cmd.Flags().StringVar(&name, "name", "", "root CA common name")
	cmd.Flags().StringVar(&org, "org", "", "consortium name for the subject organization (optional)")
	cmd.Flags().StringVar(&alg, "algorithm", "ecdsa-p256", "key algorithm: ecdsa-p256 or ed25519")
	cmd.Flags().DurationVar(&validity, "validity", pki.DefaultRootValidity, "root certificate lifetime")
	caMarkRequired(cmd, "dir", "name")
	return cmd
}

func newCARootSignCommand() *cobra.Command {
	var dir, csrPath, out string
	var validity time.Duration
	cmd := &cobra.Command{
		Use:   "sign --dir ROOTDIR --csr FILE --out CERT",
		Short: "Sign a member CA's CSR with the root CA; the root key never leaves ROOTDIR",
		Long: `Sign a member CA's certificate signing request (PEM or DER, as written by
"blossom ca init") with the root CA in ROOTDIR, and write the member's
intermediate CA certificate (PEM) to CERT. The member's MSP ID is the CSR's
subject organization.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			csr, err := fsutil.ReadFileBounded(csrPath, 1<<20)
			if err != nil {
				return err
			}
			certPEM, err := caserver.SignIntermediateCSR(dir, csr, validity)
			if err != nil {
				return err
			}
			if err := fsutil.WriteFileAtomic(out, certPEM, 0o644); err != nil {
				return err
			}
			cert, err := pki.ParseCertificatesPEM(certPEM)
			if err != nil {
				return err
			}
			return caPrintJSON(cmd.OutOrStdout(), map[string]any{
				"certificate": out,
				"subject":     cert[0].Subject.String(),
				"notAfter":    cert[0].NotAfter.UTC(),
			})
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "root CA directory (root-cert.pem, root-key.pem)")
	cmd.Flags().StringVar(&csrPath, "csr", "", "member CA CSR file")
	cmd.Flags().StringVar(&out, "out", "", "file to write the signed intermediate certificate to")
	cmd.Flags().DurationVar(&validity, "validity", pki.DefaultIntermediateValidity, "intermediate certificate lifetime (capped at the root's)")
	caMarkRequired(cmd, "dir", "csr", "out")
	return cmd
}

func newCAInitCommand() *cobra.Command {
	var dir, msp, alg string
	cmd := &cobra.Command{
		Use:   "init --dir CADIR --msp MSPID",
		Short: "Create a member CA's key and CSR (CADIR/ca-key.pem, CADIR/ca.csr)",
		Long: `Create a member CA's intermediate key (CADIR/ca-key.pem, mode 0600) and its
certificate signing request (CADIR/ca.csr) naming MSPID. Send ca.csr to the
root's holder ("blossom ca root sign"), then run "blossom ca install".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			algorithm, err := pki.ParseKeyAlgorithm(alg)
			if err != nil {
				return err
			}
			if _, err := caserver.Init(dir, msp, algorithm); err != nil {
				return err
			}
			return caPrintJSON(cmd.OutOrStdout(), map[string]any{"csr": filepath.Join(dir, caserver.CSRFile), "mspId": msp})
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "member CA directory (created if missing)")
	cmd.Flags().StringVar(&msp, "msp", "", "the member's MSP ID, e.g. Agency1MSP")
	cmd.Flags().StringVar(&alg, "algorithm", "ecdsa-p256", "key algorithm: ecdsa-p256 or ed25519")
	caMarkRequired(cmd, "dir", "msp")
	return cmd
}

func newCAInstallCommand() *cobra.Command {
	var dir, certPath, rootPath string
	var hosts, allowed []string
	cmd := &cobra.Command{
		Use:   "install --dir CADIR --cert CERT --root ROOTCERT",
		Short: "Install the root-signed CA certificate, issue the server TLS certificate, register the bootstrap admin",
		Long: `Install the intermediate CA certificate the root signed. Checks that CERT is
a CA certificate for CADIR/ca-key.pem that verifies against ROOTCERT, then
writes CADIR/ca-cert.pem and CADIR/ca-chain.pem, issues the CA server's TLS
certificate (CADIR/tls-cert.pem, tls-key.pem) for --tls-hosts, creates the
database (CADIR/db) with an initial CRL, and registers the bootstrap
registrar "admin" with every right. Its one-time enrollment secret (valid
24h) is written to CADIR/bootstrap-secret (mode 0600) and never printed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			certPEM, err := fsutil.ReadFileBounded(certPath, 1<<20)
			if err != nil {
				return err
			}
			rootPEM, err := fsutil.ReadFileBounded(rootPath, 1<<20)
			if err != nil {
				return err
			}
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			if err := caserver.Install(dir, certPEM, rootPEM, caserver.InstallOptions{
				TLSHosts: hosts, AllowedAttributes: caAllowedOrNil(allowed), Logger: logger,
			}); err != nil {
				return err
			}
			return caPrintJSON(cmd.OutOrStdout(), map[string]any{
				"chain":              filepath.Join(dir, caserver.ChainFile),
				"bootstrapRegistrar": caserver.BootstrapRegistrar,
				"secretFile":         filepath.Join(dir, caserver.BootstrapSecretFile),
			})
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "member CA directory created by \"blossom ca init\"")
	cmd.Flags().StringVar(&certPath, "cert", "", "the intermediate CA certificate the root signed (PEM)")
	cmd.Flags().StringVar(&rootPath, "root", "", "the consortium root certificate (PEM)")
	cmd.Flags().StringSliceVar(&hosts, "tls-hosts", caserver.DefaultTLSHosts, "host names and IP addresses of the CA server's TLS certificate")
	cmd.Flags().StringSliceVar(&allowed, "allowed-attributes", nil, "attribute names the bootstrap registrar may set (default: "+strings.Join(caserver.DefaultAllowedAttributes, ",")+")")
	caMarkRequired(cmd, "dir", "cert", "root")
	return cmd
}

func newCAServeCommand() *cobra.Command {
	var dir, listen string
	var hosts, allowed []string
	var crlValidity time.Duration
	cmd := &cobra.Command{
		Use:   "serve --dir CADIR --listen ADDR",
		Short: "Serve the CA's HTTPS API until interrupted",
		Long: `Serve the member CA's HTTPS JSON API (TLS 1.3) on ADDR until SIGINT or
SIGTERM. Client certificates are requested, not required: enroll, cainfo, crl
and healthz need none; every other call needs a certificate issued by this CA.
The bound address (useful with --listen 127.0.0.1:0) is written to
CADIR/ca.addr and removed on shutdown. With --tls-hosts differing from the
current TLS certificate's names, a new TLS certificate is issued first.
One log line per request goes to stderr; secrets are never logged.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			srv, err := caserver.Open(caserver.Config{
				Dir: dir, Logger: logger, TLSHosts: hosts, AllowedAttributes: caAllowedOrNil(allowed), CRLValidity: crlValidity,
			})
			if err != nil {
				return err
			}
			defer srv.Close()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			addrFile := filepath.Join(dir, caserver.AddrFile)
			if err := fsutil.WriteFileAtomic(addrFile, []byte(ln.Addr().String()+"\n"), 0o644); err != nil {
				ln.Close()
				return err
			}
			defer os.Remove(addrFile)
			logger.Info("CA server listening", "addr", ln.Addr().String(), "msp", srv.MSPID())
			err = srv.Serve(ctx, ln)
			logger.Info("CA server stopped")
			return err
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "installed member CA directory")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:7054", "address to listen on (port 0 picks a free port)")
	cmd.Flags().StringSliceVar(&hosts, "tls-hosts", nil, "host names and IP addresses the TLS certificate must name (default: keep the current certificate)")
	cmd.Flags().StringSliceVar(&allowed, "allowed-attributes", nil, "attribute names registrations may carry (default: "+strings.Join(caserver.DefaultAllowedAttributes, ",")+")")
	cmd.Flags().DurationVar(&crlValidity, "crl-validity", caserver.DefaultCRLValidity, "time from a CRL's thisUpdate to its nextUpdate")
	caMarkRequired(cmd, "dir")
	return cmd
}

// caClientFlags are the connection flags of the client commands.
type caClientFlags struct {
	url, cacert, cert, key string
}

func (f *caClientFlags) register(cmd *cobra.Command, withIdentity bool) {
	cmd.Flags().StringVar(&f.url, "url", "", "CA server URL, e.g. https://127.0.0.1:7054")
	cmd.Flags().StringVar(&f.cacert, "cacert", "", "PEM file of the CA chain (or root) that verifies the server")
	caMarkRequired(cmd, "url", "cacert")
	if withIdentity {
		cmd.Flags().StringVar(&f.cert, "cert", "", "the caller's certificate (PEM), issued by this CA")
		cmd.Flags().StringVar(&f.key, "key", "", "the caller's private key (PEM, mode 0600)")
		caMarkRequired(cmd, "cert", "key")
	}
}

func (f *caClientFlags) client() (*caserver.Client, error) {
	pool, err := caserver.LoadCertPool(f.cacert)
	if err != nil {
		return nil, fmt.Errorf("--cacert: %w", err)
	}
	cfg := caserver.ClientConfig{URL: f.url, RootCAs: pool}
	if f.cert != "" {
		cfg.Certificate, err = caserver.LoadClientCertificate(f.cert, f.key)
		if err != nil {
			return nil, err
		}
	}
	return caserver.NewClient(cfg)
}

func newCARegisterCommand() *cobra.Command {
	var flags caClientFlags
	var id, typ, secretOut, ttl string
	var attrs, hosts []string
	var maxEnrollments int
	cmd := &cobra.Command{
		Use:   "register --id ID --type TYPE --secret-out FILE",
		Short: "Register an identity; its one-time enrollment secret goes to --secret-out",
		Long: `Register an identity with the CA, authenticated by the caller's certificate
(--cert/--key), which must carry the delegation attributes for TYPE and every
--attr name. TYPE is admin, client, peer, orderer or gateway. The enrollment
secret is written to --secret-out (mode 0600) and never printed; hand that file
to the identity's holder, who runs "blossom ca enroll".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			attributes := map[string]string{}
			for _, a := range attrs {
				name, value, ok := strings.Cut(a, "=")
				if !ok {
					return fmt.Errorf("--attr %q: want NAME=VALUE", a)
				}
				if _, dup := attributes[name]; dup {
					return fmt.Errorf("--attr %s given twice", name)
				}
				attributes[name] = value
			}
			// Fail before registering if the secret cannot be written.
			if info, err := os.Stat(filepath.Dir(secretOut)); err != nil || !info.IsDir() {
				return fmt.Errorf("--secret-out: directory %s does not exist", filepath.Dir(secretOut))
			}
			client, err := flags.client()
			if err != nil {
				return err
			}
			defer client.Close()
			resp, err := client.Register(cmd.Context(), caserver.RegisterRequest{
				EnrollmentID: id, Type: typ, Attributes: attributes, Hosts: hosts, MaxEnrollments: maxEnrollments, SecretTTL: ttl,
			})
			if err != nil {
				return err
			}
			if err := fsutil.WriteFileAtomic(secretOut, []byte(resp.Secret+"\n"), 0o600); err != nil {
				return fmt.Errorf("registered %s, but writing the secret failed (revoke and register again): %w", id, err)
			}
			return caPrintJSON(cmd.OutOrStdout(), map[string]any{"enrollmentId": id, "expiresAt": resp.ExpiresAt, "secretFile": secretOut})
		},
	}
	flags.register(cmd, true)
	cmd.Flags().StringVar(&id, "id", "", "enrollment ID to register (an opaque ID, not a name or e-mail address)")
	cmd.Flags().StringVar(&typ, "type", "client", "role type: admin, client, peer, orderer or gateway")
	cmd.Flags().StringArrayVar(&attrs, "attr", nil, "attribute NAME=VALUE for the identity's certificates (repeatable), e.g. blossom.role=Authorizing Official")
	cmd.Flags().StringSliceVar(&hosts, "hosts", nil, "host names and IP addresses for a node's certificates (peer, orderer, gateway only)")
	cmd.Flags().IntVar(&maxEnrollments, "max-enrollments", 1, "how many times the secret may be used to enroll")
	cmd.Flags().StringVar(&ttl, "secret-ttl", "24h", "how long the secret stays valid (at most 720h)")
	cmd.Flags().StringVar(&secretOut, "secret-out", "", "file to write the enrollment secret to (mode 0600)")
	caMarkRequired(cmd, "id", "secret-out")
	return cmd
}

func newCAEnrollCommand() *cobra.Command {
	var flags caClientFlags
	var id, secretFile, out, alg string
	cmd := &cobra.Command{
		Use:   "enroll --id ID --secret-file FILE --out DIR",
		Short: "Enroll an identity with its one-time secret; the key is generated locally",
		Long: `Enroll an identity: generate a private key locally, send only a CSR with
the enrollment secret, and write DIR/cert.pem, DIR/key.pem (mode 0600) and
DIR/ca-chain.pem. The secret comes from --secret-file (mode 0600) or, if that
is not given, from the ` + EnrollSecretEnv + ` environment variable; it is
never taken from a plain flag. Refuses to overwrite an existing DIR/key.pem.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			secret, err := caEnrollSecret(secretFile)
			if err != nil {
				return err
			}
			algorithm, err := pki.ParseKeyAlgorithm(alg)
			if err != nil {
				return err
			}
			if _, err := os.Stat(filepath.Join(out, caEnrolledKeyFile)); err == nil {
				return fmt.Errorf("%s already exists: refusing to overwrite a key", filepath.Join(out, caEnrolledKeyFile))
			}
			client, err := flags.client()
			if err != nil {
				return err
			}
			defer client.Close()
			return caEnrollInto(cmd, out, algorithm, func(csr []byte) (*caserver.EnrollResponse, error) {
				return client.Enroll(cmd.Context(), caserver.EnrollRequest{EnrollmentID: id, Secret: secret, CSR: csr})
			}, id)
		},
	}
	flags.register(cmd, false)
	cmd.Flags().StringVar(&id, "id", "", "enrollment ID")
	cmd.Flags().StringVar(&secretFile, "secret-file", "", "file holding the enrollment secret (default: $"+EnrollSecretEnv+")")
	cmd.Flags().StringVar(&out, "out", "", "directory to write cert.pem, key.pem and ca-chain.pem to")
	cmd.Flags().StringVar(&alg, "algorithm", "ecdsa-p256", "key algorithm: ecdsa-p256 or ed25519")
	caMarkRequired(cmd, "id", "out")
	return cmd
}

func newCAReenrollCommand() *cobra.Command {
	var flags caClientFlags
	var out, alg string
	cmd := &cobra.Command{
		Use:   "reenroll --cert CERT --key KEY --out DIR",
		Short: "Get a new certificate and key for the caller's identity",
		Long: `Re-enroll the identity of --cert/--key: generate a new private key locally and
get a new certificate for it (same enrollment ID, role type and attributes).
Writes DIR/cert.pem, DIR/key.pem (mode 0600) and DIR/ca-chain.pem, replacing
files already there (each atomically, key first). Refused for a revoked or
expired certificate.

To rotate a running peer's or gateway's certificate without downtime, give
its own cert and key files and their directory as --out, then send the node
SIGHUP (systemctl reload): it checks the new pair and takes it, or logs why
not and keeps the old one. Orderers cannot rotate this way (their
certificate is in the channel configuration).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			algorithm, err := pki.ParseKeyAlgorithm(alg)
			if err != nil {
				return err
			}
			client, err := flags.client()
			if err != nil {
				return err
			}
			defer client.Close()
			return caEnrollInto(cmd, out, algorithm, func(csr []byte) (*caserver.EnrollResponse, error) {
				return client.Reenroll(cmd.Context(), caserver.ReenrollRequest{CSR: csr})
			}, "reenroll")
		},
	}
	flags.register(cmd, true)
	cmd.Flags().StringVar(&out, "out", "", "directory to write cert.pem, key.pem and ca-chain.pem to")
	cmd.Flags().StringVar(&alg, "algorithm", "ecdsa-p256", "key algorithm: ecdsa-p256 or ed25519")
	caMarkRequired(cmd, "out")
	return cmd
}

// caEnrollInto generates a key, has call turn its CSR into a certificate and
// writes the key, certificate and chain into dir.
func caEnrollInto(cmd *cobra.Command, dir string, alg pki.KeyAlgorithm, call func(csr []byte) (*caserver.EnrollResponse, error), csrName string) error {
	key, err := pki.GenerateKey(alg)
	if err != nil {
		return err
	}
	csr, err := caserver.NewCSR(key, csrName)
	if err != nil {
		return err
	}
	resp, err := call(csr)
	if err != nil {
		return err
	}
	certs, err := pki.ParseCertificatesPEM([]byte(resp.Certificate))
	if err != nil {
		return fmt.Errorf("CA returned a malformed certificate: %w", err)
	}
	if _, err := pki.ParseCertificatesPEM([]byte(resp.Chain)); err != nil {
		return fmt.Errorf("CA returned a malformed chain: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := pki.WritePrivateKeyFile(filepath.Join(dir, caEnrolledKeyFile), key); err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, caEnrolledCertFile), []byte(resp.Certificate), 0o644); err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, caEnrolledChainFile), []byte(resp.Chain), 0o644); err != nil {
		return err
	}
	cert := certs[0]
	return caPrintJSON(cmd.OutOrStdout(), map[string]any{
		"enrollmentId": cert.Subject.CommonName,
		"serial":       cert.SerialNumber.Text(16),
		"notAfter":     cert.NotAfter.UTC(),
		"certificate":  filepath.Join(dir, caEnrolledCertFile),
		"key":          filepath.Join(dir, caEnrolledKeyFile),
	})
}

// enrollSecret reads the enrollment secret from a file or the environment.
func caEnrollSecret(secretFile string) (string, error) {
	if secretFile != "" {
		return caserver.ReadSecretFile(secretFile)
	}
	if secret := strings.TrimSpace(os.Getenv(EnrollSecretEnv)); secret != "" {
		return secret, nil
	}
	return "", fmt.Errorf("no enrollment secret: give --secret-file or set %s", EnrollSecretEnv)
}

func newCARevokeCommand() *cobra.Command {
	var flags caClientFlags
	var id, serial, reason, crlOut string
	cmd := &cobra.Command{
		Use:   "revoke (--id ID | --serial HEX) [--reason REASON]",
		Short: "Revoke an identity (all its certificates) or one certificate",
		Long: `Revoke every certificate of an enrollment ID and disable it (no further
enroll or reenroll), or revoke one certificate by its serial (hex). The caller
needs blossom.revoker=true and the right to register the target's role type.
Prints the revoked serials; the new CRL goes to --crl-out if given.
REASON is one of: ` + strings.Join(caserver.ReasonNames(), ", ") + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (id == "") == (serial == "") {
				return errors.New("give exactly one of --id and --serial")
			}
			client, err := flags.client()
			if err != nil {
				return err
			}
			defer client.Close()
			resp, err := client.Revoke(cmd.Context(), caserver.RevokeRequest{EnrollmentID: id, Serial: serial, Reason: reason})
			if err != nil {
				return err
			}
			result := map[string]any{"revoked": resp.Revoked}
			if crlOut != "" {
				if err := caWriteCRL(crlOut, resp.CRL); err != nil {
					return err
				}
				result["crl"] = crlOut
			}
			return caPrintJSON(cmd.OutOrStdout(), result)
		},
	}
	flags.register(cmd, true)
	cmd.Flags().StringVar(&id, "id", "", "enrollment ID to revoke")
	cmd.Flags().StringVar(&serial, "serial", "", "serial number (hex) of one certificate to revoke")
	cmd.Flags().StringVar(&reason, "reason", "unspecified", "RFC 5280 revocation reason")
	cmd.Flags().StringVar(&crlOut, "crl-out", "", "file to write the new CRL (PEM) to")
	return cmd
}

func newCAGenCRLCommand() *cobra.Command {
	var flags caClientFlags
	var out string
	cmd := &cobra.Command{
		Use:   "gencrl [--out FILE]",
		Short: "Have the CA sign a new CRL and write it (PEM) to --out or stdout",
		Long: `Have the CA sign a new CRL listing every revoked certificate, with the next
CRL number. The caller needs blossom.revoker=true. The CRL (PEM) is written to
--out, or to stdout without --out. Publish it to the channel config so the
network refuses revoked certificates.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			client, err := flags.client()
			if err != nil {
				return err
			}
			defer client.Close()
			resp, err := client.GenCRL(cmd.Context())
			if err != nil {
				return err
			}
			if out == "" {
				_, err := io.WriteString(cmd.OutOrStdout(), resp.CRL)
				return err
			}
			return caWriteCRL(out, resp.CRL)
		},
	}
	flags.register(cmd, true)
	cmd.Flags().StringVar(&out, "out", "", "file to write the CRL (PEM) to (default: stdout)")
	return cmd
}

func newCAListCommand() *cobra.Command {
	var flags caClientFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the identities the caller may register (never their secrets)",
		Long: `List the registrations whose role type the caller may register, as one JSON
object {"identities":[...]} on stdout. Secrets and their hashes are never shown.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			client, err := flags.client()
			if err != nil {
				return err
			}
			defer client.Close()
			all := []caserver.Identity{}
			after := ""
			for {
				page, err := client.Identities(cmd.Context(), after, caserver.MaxIdentitiesPage)
				if err != nil {
					return err
				}
				all = append(all, page.Identities...)
				if page.Next == "" || page.Next == after {
					break
				}
				after = page.Next
			}
			return caPrintJSON(cmd.OutOrStdout(), map[string]any{"identities": all})
		},
	}
	flags.register(cmd, true)
	return cmd
}

func caWriteCRL(path, crlPEM string) error {
	block, _ := pem.Decode([]byte(crlPEM))
	if block == nil || block.Type != "X509 CRL" {
		return errors.New("CA returned a malformed CRL")
	}
	if _, err := x509.ParseRevocationList(block.Bytes); err != nil {
		return fmt.Errorf("CA returned a malformed CRL: %w", err)
	}
	return fsutil.WriteFileAtomic(path, []byte(crlPEM), 0o644)
}

func caPrintJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func caMarkRequired(cmd *cobra.Command, names ...string) {
	for _, name := range names {
		if err := cmd.MarkFlagRequired(name); err != nil {
			panic(err) // a programming error: the flag is not defined
		}
	}
}

func caAllowedOrNil(names []string) []string {
	if len(names) == 0 {
		return nil
	}
	return names
}
