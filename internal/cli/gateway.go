package cli

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/blossom-ledger/blossom/internal/caserver"
	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/client"
	"github.com/blossom-ledger/blossom/internal/dashboard"
	"github.com/blossom-ledger/blossom/internal/fsutil"
	"github.com/blossom-ledger/blossom/internal/gateway"
	"github.com/blossom-ledger/blossom/internal/gateway/auth"
	"github.com/blossom-ledger/blossom/internal/gateway/binding"
	"github.com/blossom-ledger/blossom/internal/gateway/wallet"
	"github.com/blossom-ledger/blossom/internal/governance"
	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/orderer"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/transport"
)

// gatewayFileConfig is the configuration file of `blossom gateway`.
// Relative paths are resolved against the file's directory.
type gatewayFileConfig struct {
	MSPID        string `json:"mspId"`
	Listen       string `json:"listen"`       // host:port of the HTTPS listener
	Cert         string `json:"cert"`         // PEM: the gateway's certificate (+ CA chain); server and client to peers
	Key          string `json:"key"`          // PEM private key, mode 0600
	GenesisBlock string `json:"genesisBlock"` // the channel's genesis block: members, peers, orderers, CAs
	Channel      string `json:"channel"`
	DataDir      string `json:"dataDir"` // wallet and binding table
	KEKFile      string `json:"kekFile"` // the wallet's key-encryption key (mode 0600)
	// CA is the member CA the binding enrolls first sign-ins from, as the
	// gateway's registrar.
	CA struct {
		URL      string `json:"url"`
		CABundle string `json:"caBundle"` // PEM: verifies the CA server
		Cert     string `json:"cert"`     // registrar certificate
		Key      string `json:"key"`
	} `json:"ca"`
	// OIDC lists the trusted token issuers (normally the member's own).
	OIDC []struct {
		Issuer    string `json:"issuer"`
		Audience  string `json:"audience"`
		RoleClaim string `json:"roleClaim"`
		CABundle  string `json:"caBundle"` // PEM: verifies the issuer's HTTPS (default: system roots)
	} `json:"oidc"`
	// CRLPublisher, if set, is an admin credential of the member with
	// which the gateway publishes the CRL of a disabled user through
	// _governance at once (optional: without it a disable answers the CRL
	// for an administrator to publish).
	CRLPublisher *struct {
		Cert string `json:"cert"`
		Key  string `json:"key"` // mode 0600
	} `json:"crlPublisher"`
	// SignIn configures the dashboard's browser sign-in (optional).
	SignIn *gatewaySignInConfig `json:"signIn"`
	// Policies maps chaincode names to "MAJORITY Endorsement" or
	// "<MSPID>.peer", overriding the committed definitions' policies in
	// endorsement planning.
	Policies map[string]string `json:"policies"`
	// Dashboard, if present, serves the member dashboard; its users sign
	// in through the signIn section, which it requires.
	Dashboard    *gatewayDashboardConfig `json:"dashboard"`
	MaxBodyBytes int64                   `json:"maxBodyBytes"`
	RateLimit    float64                 `json:"rateLimit"`
	Burst        int                     `json:"burst"`
	LogLevel     string                  `json:"logLevel"`
}

// gatewayDashboardConfig is the dashboard section of `blossom gateway`:
// the dashboard's own settings (sign-in is the signIn section's).
type gatewayDashboardConfig struct {
	AdminMSPID string `json:"adminMspId"` // the BloSS@M service provider
}

// gatewaySignInConfig is the signIn section: the gateway as a confidential
// OpenID Connect client of the member's provider.
type gatewaySignInConfig struct {
	Issuer   string `json:"issuer"`
	ClientID string `json:"clientId"`
	// ClientSecretFile holds the client secret (mode 0600, surrounding
	// whitespace ignored); it is sent only to the provider's token
	// endpoint, never to a browser.
	ClientSecretFile      string   `json:"clientSecretFile"`
	RedirectURL           string   `json:"redirectUrl"` // https://<gateway>/auth/callback
	PostLogoutRedirectURL string   `json:"postLogoutRedirectUrl"`
	Scopes                []string `json:"scopes"`
	RoleClaim             string   `json:"roleClaim"`
	CABundle              string   `json:"caBundle"` // PEM: verifies the provider's HTTPS (default: system roots)
	DefaultReturnPath     string   `json:"defaultReturnPath"`
	Cookie                struct {
		// SameSite is "lax" (default) or "strict" for the session cookie.
		SameSite string `json:"sameSite"`
		// IdleTimeout and AbsoluteTimeout bound a session (Go durations;
		// defaults 30m and 8h).
		IdleTimeout     string `json:"idleTimeout"`
		AbsoluteTimeout string `json:"absoluteTimeout"`
	} `json:"cookie"`
}

// maxSecretFile bounds a client secret file.
const maxSecretFile = 4096

// readSecretFile reads a secret file that only its owner may read.
func readSecretFile(path string) (string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if info.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%s: mode %o lets others read the secret (want 0600)", path, info.Mode().Perm())
	}
	data, err := fsutil.ReadFileBounded(path, maxSecretFile)
	if err != nil {
		return "", err
	}
	secret := strings.TrimSpace(string(data))
	if secret == "" {
		return "", fmt.Errorf("%s: empty secret", path)
	}
	return secret, nil
}

// providerHTTPClient returns an HTTPS client for an OpenID provider that
// trusts caBundle ("" : nil, the default client with system roots).
func providerHTTPClient(caBundle string) (*http.Client, error) {
	if caBundle == "" {
		return nil, nil
	}
	data, err := fsutil.ReadFileBounded(caBundle, maxCredentialFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s: no CA certificate", caBundle)
	}
	return &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool}},
		Timeout:   20 * time.Second,
	}, nil
}

// webSignIn builds the browser sign-in from the signIn section.
func (c *gatewaySignInConfig) webSignIn(binder *binding.Service, log *slog.Logger) (*auth.WebSignIn, error) {
	secret, err := readSecretFile(c.ClientSecretFile)
	if err != nil {
		return nil, fmt.Errorf("signIn.clientSecretFile: %w", err)
	}
	hc, err := providerHTTPClient(c.CABundle)
	if err != nil {
		return nil, fmt.Errorf("signIn.caBundle: %w", err)
	}
	wc := auth.WebConfig{
		Issuer: c.Issuer, ClientID: c.ClientID, ClientSecret: secret, RedirectURL: c.RedirectURL,
		PostLogoutRedirectURL: c.PostLogoutRedirectURL, Scopes: c.Scopes, RoleClaim: c.RoleClaim,
		HTTPClient: hc, DefaultReturnPath: c.DefaultReturnPath, Logger: log,
	}
	switch strings.ToLower(c.Cookie.SameSite) {
	case "", "lax":
	case "strict":
		wc.SameSiteStrict = true
	default:
		return nil, fmt.Errorf("signIn.cookie.sameSite: %q is not lax or strict", c.Cookie.SameSite)
	}
	for _, d := range []struct {
		name, value string
		to          *time.Duration
	}{{"idleTimeout", c.Cookie.IdleTimeout, &wc.IdleTimeout}, {"absoluteTimeout", c.Cookie.AbsoluteTimeout, &wc.AbsoluteTimeout}} {
		if d.value == "" {
			continue
		}
		if *d.to, err = time.ParseDuration(d.value); err != nil || *d.to <= 0 {
			return nil, fmt.Errorf("signIn.cookie.%s: %q is not a positive duration", d.name, d.value)
		}
	}
	return auth.NewWebSignIn(wc, binder)
}

func newGatewayCommand() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "gateway --config FILE",
		Short: "Run a member's REST gateway (HTTPS) to the ledger",
		Long: `Run a member's gateway in the foreground until SIGINT or SIGTERM.
SIGHUP reloads the gateway's certificate and key files (cert, key) without a
restart, for example after "blossom ca reenroll": new HTTPS connections and
new connections to peers and orderers present them; a pair that does not
match, is expired, or does not validate against the channel's members is
refused (logged) and the gateway keeps its current one.

The configuration file is YAML or JSON; relative paths are resolved against
the file's directory:

  mspId: Agency1MSP
  listen: 0.0.0.0:8443
  cert: gateway-cert.pem          # gateway certificate (+ chain): HTTPS and client to peers
  key: gateway-key.pem            # mode 0600
  genesisBlock: blossom.block     # members, peers, orderers and CAs of the channel
  channel: blossom
  dataDir: /var/lib/blossom/gateway   # wallet and binding table
  kekFile: wallet.kek             # wallet key-encryption key, mode 0600
  ca:                             # the member CA, as the gateway's registrar
    url: https://ca.agency1:7054
    caBundle: ca-chain.pem
    cert: registrar-cert.pem
    key: registrar-key.pem
  oidc:                           # trusted token issuers
    - issuer: https://idp.agency1:9443
      audience: blossom-api
      caBundle: idp-ca.pem        # optional: the provider's CA (default: system roots)
  signIn:                         # optional: browser sign-in for the dashboard
    issuer: https://idp.agency1:9443
    clientId: blossom-dashboard
    clientSecretFile: dashboard.secret   # mode 0600; never sent to a browser
    redirectUrl: https://gateway.agency1:8443/auth/callback
    roleClaim: blossom_role       # optional
    caBundle: idp-ca.pem          # optional
    cookie:
      sameSite: lax               # or strict
      idleTimeout: 30m
      absoluteTimeout: 8h
  crlPublisher:                   # optional: a member admin credential with which
    cert: admin-cert.pem          # POST /api/v1/admin/users/{id}/disable publishes
    key: admin-key.pem            # the CRL through _governance at once
  policies:                       # optional overrides (default: each committed definition's policy)
    asset: SAMSMSP.peer
  dashboard:                      # optional: the member dashboard (docs/dashboard.md);
    adminMspId: SAMSMSP           # needs signIn. The BloSS@M service provider
  logLevel: info

With signIn the gateway serves /auth/login, /auth/callback and /auth/logout:
the authorization code flow with PKCE, state and nonce, then a server-side
session in a __Host- cookie (HttpOnly, Secure, SameSite). A dashboard on the
gateway's origin calls the API with that cookie and sends the csrfToken of
GET /api/v1/me as X-CSRF-Token with every POST. With dashboard as well, the
gateway serves the member dashboard on every other path; register the
gateway at the provider with redirectUrl and postLogoutRedirectUrl
(https://<gateway>/).

The API is documented at /openapi.json. Peers, orderers and the CAs the
gateway trusts come from the genesis block (configuration updates after it
need a restart).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runGateway(withSIGHUPReload(ctx), configPath, cmd.ErrOrStderr(), nil)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "gateway configuration file (YAML or JSON)")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

func loadGatewayConfig(path string) (*gatewayFileConfig, error) {
	cfg := new(gatewayFileConfig)
	if err := decodeConfigFile(path, cfg); err != nil {
		return nil, err
	}
	var missing []string
	for _, f := range []struct{ name, value string }{
		{"mspId", cfg.MSPID}, {"listen", cfg.Listen}, {"cert", cfg.Cert}, {"key", cfg.Key},
		{"genesisBlock", cfg.GenesisBlock}, {"channel", cfg.Channel}, {"dataDir", cfg.DataDir},
		{"kekFile", cfg.KEKFile}, {"ca.url", cfg.CA.URL}, {"ca.caBundle", cfg.CA.CABundle},
		{"ca.cert", cfg.CA.Cert}, {"ca.key", cfg.CA.Key},
	} {
		if f.value == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: missing %s", path, strings.Join(missing, ", "))
	}
	for i, o := range cfg.OIDC {
		if o.Issuer == "" || o.Audience == "" {
			return nil, fmt.Errorf("%s: oidc[%d] needs issuer and audience", path, i)
		}
	}
	if si := cfg.SignIn; si != nil {
		var missing []string
		for _, f := range []struct{ name, value string }{
			{"issuer", si.Issuer}, {"clientId", si.ClientID}, {"clientSecretFile", si.ClientSecretFile}, {"redirectUrl", si.RedirectURL},
		} {
			if f.value == "" {
				missing = append(missing, "signIn."+f.name)
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("%s: missing %s", path, strings.Join(missing, ", "))
		}
	}
	if d := cfg.Dashboard; d != nil {
		if cfg.SignIn == nil {
			return nil, fmt.Errorf("%s: dashboard needs the signIn section (its users sign in through it)", path)
		}
		if d.AdminMSPID == "" {
			return nil, fmt.Errorf("%s: missing dashboard.adminMspId", path)
		}
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = "info"
	}
	dir := filepath.Dir(path)
	paths := []*string{&cfg.Cert, &cfg.Key, &cfg.GenesisBlock, &cfg.DataDir, &cfg.KEKFile,
		&cfg.CA.CABundle, &cfg.CA.Cert, &cfg.CA.Key}
	for i := range cfg.OIDC {
		paths = append(paths, &cfg.OIDC[i].CABundle)
	}
	if cfg.SignIn != nil {
		paths = append(paths, &cfg.SignIn.ClientSecretFile, &cfg.SignIn.CABundle)
	}
	if cp := cfg.CRLPublisher; cp != nil {
		if cp.Cert == "" || cp.Key == "" {
			return nil, fmt.Errorf("%s: crlPublisher needs cert and key", path)
		}
		paths = append(paths, &cp.Cert, &cp.Key)
	}
	for _, p := range paths {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	return cfg, nil
}

// loadTLSCredential reads a certificate (+ chain) and its key.
func loadTLSCredential(certPath, keyPath string) (tls.Certificate, []*x509.Certificate, error) {
	c, err := transport.LoadCertificateFiles(certPath, keyPath)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return c, []*x509.Certificate{c.Leaf}, nil
}

// crlPublisher connects a client as the member admin of cfg.CRLPublisher
// and returns a function publishing a CRL through _governance with it,
// endorsed by every member's first peer.
func crlPublisher(ctx context.Context, cfg *gatewayFileConfig, ccfg client.Config, members map[string][]string, msps []string) (publish func(context.Context, []byte) (string, error), closeClient func() error, err error) {
	tlsCert, certs, err := loadTLSCredential(cfg.CRLPublisher.Cert, cfg.CRLPublisher.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("crlPublisher: %w", err)
	}
	if !slices.Equal(certs[0].Subject.OrganizationalUnit, []string{string(pki.RoleAdmin)}) {
		return nil, nil, errors.New("crlPublisher: the certificate is not an admin certificate")
	}
	signer, err := identity.NewKeySigner(tlsCert.PrivateKey.(crypto.Signer), certs[0])
	if err != nil {
		return nil, nil, fmt.Errorf("crlPublisher: %w", err)
	}
	ccfg.Signer, ccfg.TLSCertificate, ccfg.Credential = signer, tlsCert, nil
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cl, err := client.Connect(cctx, ccfg)
	if err != nil {
		return nil, nil, fmt.Errorf("crlPublisher: %w", err)
	}
	l := &governance.Ledger{Client: cl, Signer: signer}
	for _, m := range msps {
		l.EndorsingPeers = append(l.EndorsingPeers, members[m][0])
	}
	return func(ctx context.Context, crl []byte) (string, error) {
		return l.PublishCRL(ctx, cfg.Channel, cfg.MSPID, governance.CRLProposalID(crl), crl)
	}, cl.Close, nil
}

// runGateway runs a gateway from the configuration at path until ctx
// ends; started, if set, gets the listener's address once it serves.
func runGateway(ctx context.Context, path string, logOut io.Writer, started func(addr string)) error {
	cfg, err := loadGatewayConfig(path)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("%s: logLevel: %w", path, err)
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level}))

	tlsCert, err := transport.LoadCertificateFiles(cfg.Cert, cfg.Key)
	if err != nil {
		return fmt.Errorf("gateway credential: %w", err)
	}
	// The gateway's own certificate: its HTTPS listener and its
	// connections to peers and orderers present the current one; SIGHUP
	// reloads it from cfg.Cert and cfg.Key.
	cred, err := transport.NewCredential(tlsCert)
	if err != nil {
		return fmt.Errorf("gateway credential: %w", err)
	}
	genesis, err := orderer.ReadBlockFile(cfg.GenesisBlock)
	if err != nil {
		return fmt.Errorf("genesis block: %w", err)
	}
	chCfg, _, err := channelconfig.FromBlock(genesis)
	if err != nil {
		return fmt.Errorf("genesis block %s: %w", cfg.GenesisBlock, err)
	}
	if chCfg.ChannelID() != cfg.Channel {
		return fmt.Errorf("genesis block %s is for channel %s, not %s", cfg.GenesisBlock, chCfg.ChannelID(), cfg.Channel)
	}
	trust := transport.NewTrustSource(chCfg.Manager())

	// Peers: the own member's first; orderers: every consenter.
	endpoints := chCfg.PeerEndpoints()
	msps := make([]string, 0, len(endpoints))
	for m := range endpoints {
		if m != cfg.MSPID {
			msps = append(msps, m)
		}
	}
	sort.Strings(msps)
	msps = append([]string{cfg.MSPID}, msps...)
	members := map[string][]string{}
	ccfg := client.Config{ChannelID: cfg.Channel, Signer: cred, Credential: cred, Trust: trust, CommitPeers: nil}
	for _, m := range msps {
		for i, addr := range endpoints[m] {
			name := fmt.Sprintf("%s/peer%d", m, i)
			members[m] = append(members[m], name)
			ccfg.Peers = append(ccfg.Peers, client.Endpoint{Name: name, Address: addr})
		}
	}
	if len(members[cfg.MSPID]) == 0 {
		return fmt.Errorf("the genesis block lists no peer of %s", cfg.MSPID)
	}
	for _, c := range chCfg.Consenters() {
		ccfg.Orderers = append(ccfg.Orderers, client.Endpoint{Name: c.MspId + "/" + c.Id, Address: c.Address})
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	cl, err := client.Connect(cctx, ccfg)
	cancel()
	if err != nil {
		return fmt.Errorf("connect to the own peer: %w", err)
	}
	defer cl.Close()

	kek, err := wallet.LoadKEKFile(cfg.KEKFile)
	if err != nil {
		return fmt.Errorf("wallet key-encryption key: %w", err)
	}
	w, err := wallet.Open(filepath.Join(cfg.DataDir, "wallet"), kek, wallet.Options{Logger: log})
	if err != nil {
		return err
	}
	defer w.Close()
	caPEM, err := fsutil.ReadFileBounded(cfg.CA.CABundle, maxCredentialFile)
	if err != nil {
		return err
	}
	caPool := x509.NewCertPool()
	if !caPool.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("%s: no CA certificate", cfg.CA.CABundle)
	}
	registrar, _, err := loadTLSCredential(cfg.CA.Cert, cfg.CA.Key)
	if err != nil {
		return fmt.Errorf("registrar credential: %w", err)
	}
	caClient, err := caserver.NewClient(caserver.ClientConfig{URL: cfg.CA.URL, RootCAs: caPool, Certificate: &registrar})
	if err != nil {
		return err
	}
	binder, err := binding.Open(binding.Config{Dir: filepath.Join(cfg.DataDir, "binding"), CA: caClient, Wallet: w, MSPID: cfg.MSPID, Logger: log})
	if err != nil {
		return err
	}
	defer binder.Close()
	authCfg := auth.Config{MSPID: cfg.MSPID, Binder: binder, Trust: trust, Logger: log}
	for i, o := range cfg.OIDC {
		hc, err := providerHTTPClient(o.CABundle)
		if err != nil {
			return fmt.Errorf("oidc[%d].caBundle: %w", i, err)
		}
		v, err := auth.NewBearerVerifier(auth.BearerConfig{Issuer: o.Issuer, Audience: o.Audience, RoleClaim: o.RoleClaim, HTTPClient: hc})
		if err != nil {
			return err
		}
		authCfg.Bearer = append(authCfg.Bearer, v)
	}
	if cfg.SignIn != nil {
		if authCfg.Web, err = cfg.SignIn.webSignIn(binder, log); err != nil {
			return err
		}
	}
	authn, err := auth.New(authCfg)
	if err != nil {
		return err
	}
	var publishCRL func(context.Context, []byte) (string, error)
	if cfg.CRLPublisher != nil {
		var closePublisher func() error
		if publishCRL, closePublisher, err = crlPublisher(ctx, cfg, ccfg, members, msps); err != nil {
			return err
		}
		defer closePublisher()
	}
	gwCfg := gateway.Config{
		MSPID: cfg.MSPID, Client: cl, Members: members, Policies: cfg.Policies, Authenticate: authn.Authenticate, Active: authn.Active,
		SignIn: authCfg.Web, Binder: binder, PublishCRL: publishCRL,
		Signers: w.Signer, MaxBodyBytes: cfg.MaxBodyBytes, RateLimit: cfg.RateLimit, Burst: cfg.Burst, Logger: log,
	}
	if cfg.Dashboard != nil {
		d, err := dashboard.New(dashboard.Config{MSPID: cfg.MSPID, AdminMSP: cfg.Dashboard.AdminMSPID, Channel: cfg.Channel,
			Authenticate: authn.Authenticate, Client: cl, Logger: log})
		if err != nil {
			return err
		}
		gwCfg.Dashboard = d.Handler
	}
	gw, err := gateway.New(gwCfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	srv := gateway.NewServer(gw, log)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(tls.NewListener(ln, gateway.TLSConfigFor(cred, trust, log))) }()
	log.Info("gateway serving", "address", ln.Addr().String(), "msp", cfg.MSPID)
	stopReload := reloadOnSIGHUP(ctx, func() {
		logReload(log, func(next tls.Certificate) error { return cred.Swap(next, trust) }, cfg.Cert, cfg.Key)
	})
	defer stopReload()
	if started != nil {
		started(ln.Addr().String())
	}
	select {
	case <-ctx.Done():
	case err := <-done:
		return err
	}
	log.Info("stopping gateway")
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	srv.Shutdown(sctx)
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
