package devnet

import (
	"encoding/json"
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
	DataDir       string            `json:"dataDir"`
	Listen        string            `json:"listen"`
	Cert          string            `json:"cert"`
	Key           string            `json:"key"`
	GenesisBlock  string            `json:"genesisBlock"`
	Channel       string            `json:"channel"`
	Chaincodes    []ChaincodeConfig `json:"chaincodes"`
	LogLevel      string            `json:"logLevel"`
	HealthAddress string            `json:"healthAddress"`
}

// ChaincodeConfig is one entry of a peer configuration's "chaincodes": a
// chaincode built into the binary, registered on the peer.
type ChaincodeConfig struct {
	Name              string            `json:"name"`
	Implementation    string            `json:"implementation"`
	EndorsementPolicy string            `json:"endorsementPolicy"`
	Params            map[string]string `json:"params,omitempty"`
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
}

// The BloSS@M chaincodes (DESIGN §11).
const (
	AuthorizationChaincode = "authorization"
	AssetChaincode         = "asset"
	adminMSPParam          = "adminMSP"
)

// deployChaincodes returns the chaincode definitions every peer of the
// consortium registers: authorization under "MAJORITY Endorsement" and
// asset under "<adminMSP>.peer", both with the adminMSP parameter.
//
// Interim: until the chaincode lifecycle is wired into the peer, these are
// the peers' native definitions (peer.Definition through the peer
// configuration's "chaincodes" list), identical on every peer. When the
// lifecycle lands this is the one function to switch to install, approve
// (by a majority of members) and commit on channel "blossom".
func deployChaincodes(adminMSP string) []ChaincodeConfig {
	params := map[string]string{adminMSPParam: adminMSP}
	return []ChaincodeConfig{
		{Name: AuthorizationChaincode, Implementation: AuthorizationChaincode, EndorsementPolicy: "MAJORITY Endorsement", Params: params},
		{Name: AssetChaincode, Implementation: AssetChaincode, EndorsementPolicy: "'" + adminMSP + ".peer'", Params: params},
	}
}

// writeNodeConfigs writes every member's orderer, peer and gateway
// configuration.
func (c *Consortium) writeNodeConfigs() error {
	admin := c.AdminMember().MSPID
	for i := range c.Members {
		m := &c.Members[i]
		od, pd, gd := c.NodeDir(m, "orderer"), c.NodeDir(m, "peer"), c.NodeDir(m, "gateway")
		files := []struct {
			path string
			v    any
		}{
			{c.OrdererConfig(m), ordererConfig{
				ListenAddress: Loopback(m.Ports.Orderer), DataDir: filepath.Join(od, "data"),
				CertFile: filepath.Join(od, CertFile), KeyFile: filepath.Join(od, KeyFile),
				GenesisBlocks: []string{c.GenesisBlock()}, HealthAddress: Loopback(m.Ports.OrdererHealth), LogLevel: "info",
			}},
			{c.PeerConfig(m), peerConfig{
				DataDir: filepath.Join(pd, "data"), Listen: Loopback(m.Ports.Peer),
				Cert: filepath.Join(pd, CertFile), Key: filepath.Join(pd, KeyFile),
				GenesisBlock: c.GenesisBlock(), Channel: c.Channel, Chaincodes: deployChaincodes(admin),
				LogLevel: "info", HealthAddress: Loopback(m.Ports.PeerHealth),
			}},
			{c.GatewayConfig(m), gatewayConfig{
				MSPID: m.MSPID, Listen: Loopback(m.Ports.Gateway),
				Cert: filepath.Join(gd, CertFile), Key: filepath.Join(gd, KeyFile),
				GenesisBlock: c.GenesisBlock(), Channel: c.Channel, DataDir: filepath.Join(gd, "data"),
				KEKFile: filepath.Join(gd, "wallet.kek"),
				CA: gatewayCAConfig{
					URL: "https://" + Loopback(m.Ports.CA), CABundle: filepath.Join(c.CADir(m), caserver.ChainFile),
					Cert: filepath.Join(gd, "registrar", CertFile), Key: filepath.Join(gd, "registrar", KeyFile),
				},
				Policies: map[string]string{AssetChaincode: admin + ".peer", AuthorizationChaincode: "MAJORITY Endorsement"},
				LogLevel: "info",
			}},
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
	}
	return nil
}
