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
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/blossom-ledger/blossom/internal/caserver"
	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/client"
	"github.com/blossom-ledger/blossom/internal/dashboard"
	"github.com/blossom-ledger/blossom/internal/gateway"
	"github.com/blossom-ledger/blossom/internal/gateway/auth"
	"github.com/blossom-ledger/blossom/internal/gateway/binding"
	"github.com/blossom-ledger/blossom/internal/gateway/wallet"
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
	} `json:"oidc"`
	// Policies maps chaincode names to "MAJORITY Endorsement" (the
	// default) or "<MSPID>.peer", for endorsement planning.
	Policies map[string]string `json:"policies"`
	// Dashboard, if url is set, serves the member dashboard with browser
	// sign-in at the member's OpenID provider.
	Dashboard    gatewayDashboardConfig `json:"dashboard"`
	MaxBodyBytes int64                  `json:"maxBodyBytes"`
	RateLimit    float64                `json:"rateLimit"`
	Burst        int                    `json:"burst"`
	LogLevel     string                 `json:"logLevel"`
}

// gatewayDashboardConfig is the dashboard section of `blossom gateway`.
type gatewayDashboardConfig struct {
	URL              string `json:"url"`              // this gateway as browsers reach it (https)
	Issuer           string `json:"issuer"`           // the member's OpenID provider
	ClientID         string `json:"clientId"`         // the gateway's client at the provider
	ClientSecretFile string `json:"clientSecretFile"` // its secret, mode 0600
	CABundle         string `json:"caBundle"`         // PEM: verifies the provider (empty: system roots)
	RoleClaim        string `json:"roleClaim"`
	AdminMSPID       string `json:"adminMspId"` // the BloSS@M service provider
}

func newGatewayCommand() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "gateway --config FILE",
		Short: "Run a member's REST gateway (HTTPS) to the ledger",
		Long: `Run a member's gateway in the foreground until SIGINT or SIGTERM.

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
  policies:                       # default MAJORITY Endorsement
    asset: SAMSMSP.peer
  dashboard:                      # optional: the member dashboard (docs/dashboard.md)
    url: https://gateway.agency1:8443   # this gateway as browsers reach it
    issuer: https://idp.agency1:9443
    clientId: dashboard
    clientSecretFile: dashboard.secret  # mode 0600
    caBundle: idp-ca.pem          # verifies the provider (default: system roots)
    adminMspId: SAMSMSP           # the BloSS@M service provider
  logLevel: info

The API is documented at /openapi.json. Peers, orderers and the CAs the
gateway trusts come from the genesis block (configuration updates after it
need a restart).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runGateway(ctx, configPath, cmd.ErrOrStderr(), nil)
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
	if d := cfg.Dashboard; d.URL != "" && (d.Issuer == "" || d.ClientID == "" || d.ClientSecretFile == "" || d.AdminMSPID == "") {
		return nil, fmt.Errorf("%s: dashboard needs url, issuer, clientId, clientSecretFile and adminMspId", path)
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = "info"
	}
	dir := filepath.Dir(path)
	for _, p := range []*string{&cfg.Dashboard.ClientSecretFile, &cfg.Dashboard.CABundle} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	for _, p := range []*string{&cfg.Cert, &cfg.Key, &cfg.GenesisBlock, &cfg.DataDir, &cfg.KEKFile,
		&cfg.CA.CABundle, &cfg.CA.Cert, &cfg.CA.Key} {
		if !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	return cfg, nil
}

// loadTLSCredential reads a certificate (+ chain) and its key.
func loadTLSCredential(certPath, keyPath string) (tls.Certificate, []*x509.Certificate, error) {
	key, err := pki.ReadPrivateKeyFile(keyPath)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	certPEM, err := readBoundedFile(certPath, maxCredentialFile)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	certs, err := pki.ParseCertificatesPEM(certPEM)
	if err != nil || len(certs) == 0 {
		return tls.Certificate{}, nil, fmt.Errorf("%s: no certificate", certPath)
	}
	c := tls.Certificate{PrivateKey: key, Leaf: certs[0]}
	for _, cert := range certs {
		c.Certificate = append(c.Certificate, cert.Raw)
	}
	return c, certs, nil
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

	tlsCert, certs, err := loadTLSCredential(cfg.Cert, cfg.Key)
	if err != nil {
		return fmt.Errorf("gateway credential: %w", err)
	}
	signer, err := identity.NewKeySigner(tlsCert.PrivateKey.(crypto.Signer), certs[0])
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
	ccfg := client.Config{ChannelID: cfg.Channel, Signer: signer, TLSCertificate: tlsCert, Trust: trust, CommitPeers: nil}
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
	caPEM, err := readBoundedFile(cfg.CA.CABundle, maxCredentialFile)
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
	for _, o := range cfg.OIDC {
		v, err := auth.NewBearerVerifier(auth.BearerConfig{Issuer: o.Issuer, Audience: o.Audience, RoleClaim: o.RoleClaim})
		if err != nil {
			return err
		}
		authCfg.Bearer = append(authCfg.Bearer, v)
	}
	var web *auth.WebSignIn
	if cfg.Dashboard.URL != "" {
		if web, err = dashboardSignIn(cfg.Dashboard, binder, log); err != nil {
			return err
		}
		authCfg.Web = web
	}
	authn, err := auth.New(authCfg)
	if err != nil {
		return err
	}
	gwCfg := gateway.Config{
		MSPID: cfg.MSPID, Client: cl, Members: members, Policies: cfg.Policies, Authenticate: authn.Authenticate,
		Signers: w.Signer, MaxBodyBytes: cfg.MaxBodyBytes, RateLimit: cfg.RateLimit, Burst: cfg.Burst, Logger: log,
	}
	if web != nil {
		d, err := dashboard.New(dashboard.Config{MSPID: cfg.MSPID, AdminMSP: cfg.Dashboard.AdminMSPID, Channel: cfg.Channel,
			Authenticate: authn.Authenticate, SignIn: web.Handler(), Client: cl, Logger: log})
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
	go func() { done <- srv.Serve(tls.NewListener(ln, gateway.TLSConfig(tlsCert, trust, log))) }()
	log.Info("gateway serving", "address", ln.Addr().String(), "msp", cfg.MSPID)
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

// dashboardSignIn is the dashboard's browser sign-in at the member's
// provider, as the gateway's confidential client.
func dashboardSignIn(d gatewayDashboardConfig, binder *binding.Service, log *slog.Logger) (*auth.WebSignIn, error) {
	if info, err := os.Stat(d.ClientSecretFile); err != nil {
		return nil, fmt.Errorf("dashboard client secret: %w", err)
	} else if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("dashboard client secret %s: mode %o, want 0600", d.ClientSecretFile, info.Mode().Perm())
	}
	secret, err := readBoundedFile(d.ClientSecretFile, 4096)
	if err != nil {
		return nil, fmt.Errorf("dashboard client secret: %w", err)
	}
	httpClient := &http.Client{Timeout: 20 * time.Second}
	if d.CABundle != "" {
		pem, err := readBoundedFile(d.CABundle, maxCredentialFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no CA certificate", d.CABundle)
		}
		httpClient.Transport = &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}}
	}
	base := strings.TrimSuffix(d.URL, "/")
	return auth.NewWebSignIn(auth.WebConfig{
		Issuer: d.Issuer, ClientID: d.ClientID, ClientSecret: strings.TrimSpace(string(secret)),
		RedirectURL: base + auth.CallbackPath, PostLogoutRedirectURL: base + "/", RoleClaim: d.RoleClaim,
		HTTPClient: httpClient, Logger: log,
	}, binder)
}
