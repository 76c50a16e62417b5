package devnet

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"

	"github.com/blossom-ledger/blossom/internal/caserver"
	"github.com/blossom-ledger/blossom/internal/fsutil"
)

// The node configuration files, in the formats `blossom orderer --config`,
// `blossom peer --config` and `blossom gateway --config` read (JSON).

type ordererConfig struct {
	ListenAddress string   `json:"listenAddress"`
	DataDir       string   `json:"dataDir"`
	CertFile      string   `json:"certFile"`
	KeyFile       string   `json:"keyFile"`
	GenesisBlocks []string `json:"genesisBlocks"`
	HealthAddress string   `json:"healthAddress"`
	LogLevel      string   `json:"logLevel"`
}

type peerConfig struct {
	DataDir       string `json:"dataDir"`
	Listen        string `json:"listen"`
	Cert          string `json:"cert"`
	Key           string `json:"key"`
	GenesisBlock  string `json:"genesisBlock"`
	Channel       string `json:"channel"`
	LogLevel      string `json:"logLevel"`
	HealthAddress string `json:"healthAddress"`
	// WasmCacheDir is shared by a devnet's peers, which run in one
	// process: one wazero compilation per module (DESIGN §11).
	WasmCacheDir string `json:"wasmCacheDir,omitempty"`
	// NativePackages maps package IDs to the binary's native chaincodes
	// when no WebAssembly package is at hand (ChaincodePackages).
	NativePackages map[string]string `json:"nativePackages,omitempty"`
}

type gatewayCAConfig struct {
	URL      string `json:"url"`
	CABundle string `json:"caBundle"`
	Cert     string `json:"cert"`
	Key      string `json:"key"`
}

type gatewayConfig struct {
	MSPID        string            `json:"mspId"`
	Listen       string            `json:"listen"`
	Cert         string            `json:"cert"`
	Key          string            `json:"key"`
	GenesisBlock string            `json:"genesisBlock"`
	Channel      string            `json:"channel"`
	DataDir      string            `json:"dataDir"`
	KEKFile      string            `json:"kekFile"`
	CA           gatewayCAConfig   `json:"ca"`
	Policies     map[string]string `json:"policies"`
	LogLevel     string            `json:"logLevel"`
	// OIDC and SignIn trust the member's built-in OpenID provider (a
	// devnet's; `blossom up` runs it).
	OIDC   []gatewayOIDCConfig  `json:"oidc,omitempty"`
	SignIn *gatewaySignInConfig `json:"signIn,omitempty"`
	// Dashboard serves the member dashboard on the gateway's origin
	// (with SignIn, which it needs).
	Dashboard *gatewayDashboardConfig `json:"dashboard,omitempty"`
}

type gatewayDashboardConfig struct {
	AdminMSPID string `json:"adminMspId"`
}

type gatewayOIDCConfig struct {
	Issuer    string `json:"issuer"`
	Audience  string `json:"audience"`
	RoleClaim string `json:"roleClaim"`
	CABundle  string `json:"caBundle"`
}

type gatewaySignInConfig struct {
	Issuer                string `json:"issuer"`
	ClientID              string `json:"clientId"`
	ClientSecretFile      string `json:"clientSecretFile"`
	RedirectURL           string `json:"redirectUrl"`
	PostLogoutRedirectURL string `json:"postLogoutRedirectUrl"`
	RoleClaim             string `json:"roleClaim"`
	CABundle              string `json:"caBundle"`
}

// The gateway's relationship with the member's built-in OpenID provider.
const (
	// OIDCAudience is the gateway API's audience in access tokens.
	OIDCAudience = "blossom-api"
	// OIDCRoleClaim carries blossom.role in the provider's tokens.
	OIDCRoleClaim = "blossom.role"
	// SignInClientID is the gateway's client ID at the provider.
	SignInClientID = "blossom-gateway"
	// signInSecretFile, in the gateway's directory, holds its client
	// secret (0600).
	signInSecretFile = "signin.secret"
)

// OIDCIssuer returns the issuer URL of m's built-in OpenID provider.
func (c *Consortium) OIDCIssuer(m *Member) string { return "https://" + m.Address(NodeOIDC) }

// SignInRedirectURL is where m's provider sends browsers back to its gateway.
func (c *Consortium) SignInRedirectURL(m *Member) string {
	return "https://" + m.Address(NodeGateway) + "/auth/callback"
}

// SignInSecretFile holds the client secret m's gateway presents to m's
// provider (mode 0600).
func (c *Consortium) SignInSecretFile(m *Member) string {
	return filepath.Join(c.NodeDir(m, NodeGateway), signInSecretFile)
}

// ensureSignInSecret creates m's gateway client secret if missing.
func (c *Consortium) ensureSignInSecret(m *Member) error {
	path := c.SignInSecretFile(m)
	if _, err := os.Stat(path); err == nil || !errors.Is(err, os.ErrNotExist) {
		return err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(path, []byte(base64.RawURLEncoding.EncodeToString(b)+"\n"), 0o600)
}

// caConfig is the CA node's configuration (`blossom node --config`).
type caConfig struct {
	CADir  string `json:"caDir"`
	Listen string `json:"listen"`
}

// governanceClient is the member admin's connection file for `blossom
// governance --client`.
type governanceClient struct {
	Channel      string               `json:"channel"`
	Cert         string               `json:"cert"`
	Key          string               `json:"key"`
	GenesisBlock string               `json:"genesisBlock"`
	Peers        []governanceEndpoint `json:"peers"`
	Orderers     []governanceEndpoint `json:"orderers"`
	ConfigBlock  string               `json:"configBlock,omitempty"`
}

type governanceEndpoint struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

// AdminClientFile returns the member admin's governance connection file.
func (c *Consortium) AdminClientFile(m *Member) string {
	return filepath.Join(c.MemberDir(m), "admin-client.json")
}

// writeNodeConfigs writes every member's node configurations and its
// admin's governance connection file. Paths in them are relative to the
// file's directory and stay inside the member's directory, so a member's
// directory works wherever it is copied.
func (c *Consortium) writeNodeConfigs() error {
	admin := c.AdminMember().MSPID
	for i := range c.Members {
		if err := c.writeMemberConfigs(&c.Members[i], admin); err != nil {
			return err
		}
	}
	return nil
}

func (c *Consortium) writeMemberConfigs(m *Member, admin string) error {
	od, pd, gd, md := c.NodeDir(m, NodeOrderer), c.NodeDir(m, NodePeer), c.NodeDir(m, NodeGateway), c.MemberDir(m)
	genesis := c.MemberGenesis(m)
	rel := func(from, target string) string {
		r, err := filepath.Rel(from, target)
		if err != nil {
			return target
		}
		return r
	}
	wasmCache := ""
	var oidc []gatewayOIDCConfig
	var signIn *gatewaySignInConfig
	var dash *gatewayDashboardConfig
	if !c.Network {
		wasmCache = c.WasmCacheDir()
	}
	if !c.Network && m.Ports.OIDC != 0 {
		if err := c.ensureSignInSecret(m); err != nil {
			return err
		}
		bundle := rel(gd, c.MemberCABundle(m))
		oidc = []gatewayOIDCConfig{{Issuer: c.OIDCIssuer(m), Audience: OIDCAudience, RoleClaim: OIDCRoleClaim, CABundle: bundle}}
		signIn = &gatewaySignInConfig{
			Issuer: c.OIDCIssuer(m), ClientID: SignInClientID, ClientSecretFile: signInSecretFile,
			RedirectURL: c.SignInRedirectURL(m), PostLogoutRedirectURL: "https://" + m.Address(NodeGateway) + "/",
			RoleClaim: OIDCRoleClaim, CABundle: bundle,
		}
		dash = &gatewayDashboardConfig{AdminMSPID: admin}
	}
	gov := governanceClient{
		Channel: c.Channel, Cert: rel(md, filepath.Join(c.UserDir(m, "admin"), CertFile)), Key: rel(md, filepath.Join(c.UserDir(m, "admin"), KeyFile)),
		GenesisBlock: rel(md, genesis),
	}
	// An added member's admin and gateway trust the channel's members
	// from the config block that admitted it (fetch-config), which lists
	// it; the genesis block does not.
	gatewayBlock := rel(gd, genesis)
	if m.Added {
		gov.ConfigBlock = rel(md, c.MemberConfigBlock(m))
		gatewayBlock = rel(gd, c.MemberConfigBlock(m))
	}
	// The own peer first, then the others: Propose and Approve need a
	// MAJORITY of members' endorsements.
	for k := range c.Members {
		o := &c.Members[(c.memberIndex(m)+k)%len(c.Members)]
		gov.Peers = append(gov.Peers, governanceEndpoint{Name: o.MSPID + "/peer0", Address: o.Address(NodePeer)})
		gov.Orderers = append(gov.Orderers, governanceEndpoint{Name: o.MSPID + "/orderer0", Address: o.Address(NodeOrderer)})
	}
	files := []struct {
		path string
		v    any
	}{
		{c.OrdererConfig(m), ordererConfig{
			ListenAddress: c.listen(m.Ports.Orderer), DataDir: "data",
			CertFile: CertFile, KeyFile: KeyFile,
			GenesisBlocks: []string{rel(od, genesis)}, HealthAddress: c.listen(m.Ports.OrdererHealth), LogLevel: "info",
		}},
		{c.PeerConfig(m), peerConfig{
			DataDir: "data", Listen: c.listen(m.Ports.Peer), Cert: CertFile, Key: KeyFile,
			GenesisBlock: rel(pd, genesis), Channel: c.Channel,
			LogLevel: "info", HealthAddress: c.listen(m.Ports.PeerHealth),
			WasmCacheDir: wasmCache, NativePackages: c.nativePackages,
		}},
		{c.GatewayConfig(m), gatewayConfig{
			MSPID: m.MSPID, Listen: c.listen(m.Ports.Gateway), Cert: CertFile, Key: KeyFile,
			GenesisBlock: gatewayBlock, Channel: c.Channel, DataDir: "data", KEKFile: "wallet.kek",
			CA: gatewayCAConfig{
				URL: "https://" + m.Address(NodeCA), CABundle: rel(gd, filepath.Join(c.CADir(m), caserver.ChainFile)),
				Cert: filepath.Join("registrar", CertFile), Key: filepath.Join("registrar", KeyFile),
			},
			Policies: map[string]string{AssetChaincode: admin + ".peer", AuthorizationChaincode: "MAJORITY Endorsement"},
			LogLevel: "info", OIDC: oidc, SignIn: signIn, Dashboard: dash,
		}},
		{c.CAConfig(m), caConfig{CADir: "ca", Listen: c.listen(m.Ports.CA)}},
		{c.AdminClientFile(m), gov},
	}
	for _, f := range files {
		data, err := json.MarshalIndent(f.v, "", "  ")
		if err != nil {
			return err
		}
		if err := fsutil.WriteFileAtomic(f.path, append(data, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// WasmCacheEnv, if set, names the devnet peers' compilation cache.
const WasmCacheEnv = "BLOSSOM_WASM_CACHE"

// WasmCacheDir is the wazero compilation cache a devnet's peers share:
// $BLOSSOM_WASM_CACHE, else the user's cache directory (blossom/wasm), so
// that a new devnet of the same packages finds them compiled, else
// DIR/wasm-cache. wazero keys entries by module hash and its own version.
func (c *Consortium) WasmCacheDir() string {
	if d := os.Getenv(WasmCacheEnv); d != "" {
		if abs, err := filepath.Abs(d); err == nil {
			return abs
		}
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "blossom", "wasm")
	}
	return filepath.Join(c.dir, "wasm-cache")
}

// RewriteNodeConfigs rewrites every node configuration for this start:
// natives (package ID to native chaincode name, nil for none) go into
// the peers' configurations, and configurations an older version wrote
// take the current form.
func (c *Consortium) RewriteNodeConfigs(natives map[string]string) error {
	c.nativePackages = natives
	return c.writeNodeConfigs()
}

// memberIndex returns m's position in c.Members.
func (c *Consortium) memberIndex(m *Member) int {
	for i := range c.Members {
		if c.Members[i].Name == m.Name {
			return i
		}
	}
	return 0
}
