package cli

import (
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"

	"github.com/blossom-ledger/blossom/internal/devnet"
)

func newNetworkCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "network",
		Short: "Create a multi-host consortium's material, and add members to it",
	}
	cmd.AddCommand(newNetworkInitCommand(), newNetworkAddMemberCommand())
	return cmd
}

const networkSpecExample = `  channel: blossom
  members:
    - name: sams
      mspId: SAMSMSP
      admin: true                 # exactly one: the BloSS@M service provider
      host: sams.example.gov      # host of every node of the member
      hosts:                      # optional per-node overrides
        peer: peer0.sams.example.gov
      ports:
        orderer: 7050
        peer: 7051
        gateway: 8443
        ca: 7054
        ordererHealth: 7060
        peerHealth: 7061
      users:                      # "admin" (member admin) is always added
        - name: ao
          role: Authorizing Official`

func newNetworkInitCommand() *cobra.Command {
	var specPath, out string
	cmd := &cobra.Command{
		Use:   "init --spec consortium.yaml --out DIR",
		Short: "Produce every member's CA, credentials, node configurations and the channel genesis",
		Long: `Read a consortium description (YAML or JSON) and produce in DIR (missing or
empty):

  DIR/hub/root/             the consortium root CA; its key never leaves the hub:
                            keep it offline (it signs new members' CAs)
  DIR/<member>/             everything member needs on its hosts, and nothing of
                            another member: its CA directory (the intermediate
                            key only here), ca.json, orderer/, peer/, gateway/
                            (credentials, configuration, data directories),
                            users/<name>/, admin-client.json (blossom governance),
                            blossom.block (the genesis block), ca-bundle.pem
  DIR/blossom.block, DIR/channel.json, DIR/consortium.json   the hub's records

Copy DIR/<member> to the member's hosts and run each node with
blossom node --config (ca.json, orderer/orderer.json, peer/peer.json,
gateway/gateway.json). The peers start with no chaincode: the members'
admins deploy the BloSS@M chaincodes through _lifecycle with blossom
chaincode (package once, install on every member's peers, approve by a
majority, commit), as the command prints at the end. Description:

` + networkSpecExample,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if specPath == "" || out == "" {
				return usageError("network init needs --spec and --out")
			}
			var spec devnet.NetworkSpec
			if err := decodeConfigFile(specPath, &spec); err != nil {
				return err
			}
			c, err := devnet.InitNetwork(&spec, out, nil)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "consortium of %d members on channel %s in %s\n", len(c.Members), c.Channel, c.Dir())
			fmt.Fprintf(w, "  root CA: %s (keep offline)\n", c.RootDir())
			for i := range c.Members {
				printMemberSummary(w, c, &c.Members[i])
			}
			printDeploySteps(w, c)
			return nil
		},
	}
	cmd.Flags().StringVar(&specPath, "spec", "", "consortium description (YAML or JSON)")
	cmd.Flags().StringVar(&out, "out", "", "output directory (missing or empty)")
	return cmd
}

func printMemberSummary(w io.Writer, c *devnet.Consortium, m *devnet.Member) {
	fmt.Fprintf(w, "  %s (%s): %s\n", m.Name, m.MSPID, c.MemberDir(m))
	for _, n := range []struct{ name, file, addr string }{
		{"ca", c.CAConfig(m), m.Address(devnet.NodeCA)},
		{"orderer", c.OrdererConfig(m), m.Address(devnet.NodeOrderer)},
		{"peer", c.PeerConfig(m), m.Address(devnet.NodePeer)},
		{"gateway", c.GatewayConfig(m), m.Address(devnet.NodeGateway)},
	} {
		rel, _ := filepath.Rel(c.MemberDir(m), n.file)
		fmt.Fprintf(w, "    %-8s %-28s blossom node --config %s\n", n.name, n.addr, rel)
	}
}

// printDeploySteps prints how the members' admins deploy the BloSS@M
// chaincodes through _lifecycle once the nodes run: every member installs
// the same packages, a MAJORITY of admins approve identical definitions
// (those of devnet.Definition, as blossom up commits them), one commits.
func printDeploySteps(w io.Writer, c *devnet.Consortium) {
	admin := c.AdminMember()
	fmt.Fprintf(w, "\nOnce every node runs, deploy the chaincodes through _lifecycle (blossom chaincode --help):\n")
	fmt.Fprintf(w, "  one package per chaincode, the same file for every member (a make bundle binary: --bundled NAME):\n")
	for _, name := range devnet.Chaincodes {
		fmt.Fprintf(w, "    blossom chaincode package --dir chaincode/%[1]s/wasm --label %[1]s -o %[1]s.tar.gz   # prints %[1]s's PACKAGE_ID\n", name)
	}
	fmt.Fprintf(w, "  every member's admin installs them on its peer:\n")
	for _, name := range devnet.Chaincodes {
		fmt.Fprintf(w, "    blossom chaincode install --client <member>/admin-client.json %s.tar.gz\n", name)
	}
	fmt.Fprintf(w, "  a majority of the members' admins approve (approve), then one admin commits (commit):\n")
	for _, name := range devnet.Chaincodes {
		d := devnet.Definition(name, "PACKAGE_ID", admin.MSPID)
		fmt.Fprintf(w, "    blossom chaincode approve --client <member>/admin-client.json --name %s --version %s --sequence %d --package-id %s_PACKAGE_ID --policy %q",
			d.Name, d.Version, d.Sequence, name, d.EndorsementPolicy)
		for _, k := range slices.Sorted(maps.Keys(d.Params)) {
			fmt.Fprintf(w, " --param %s=%s", k, d.Params[k])
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  then: blossom chaincode commit --client %s (same flags), once per chaincode\n", c.AdminClientFile(admin))
}

func newNetworkAddMemberCommand() *cobra.Command {
	var dir, specPath, proposer string
	cmd := &cobra.Command{
		Use:   "add-member --dir DIR --spec member.yaml [--proposer MEMBER]",
		Short: "Create a new member's CA and node material, and print the governance steps that admit it",
		Long: `Create DIR/<member> for a new member of the consortium in DIR (made by
blossom network init; the hub's root CA signs the new member's CA): its CA,
credentials, node configurations, the channel's genesis block and admin
connection file. The description is one member entry of network init's
format, without admin: true.

The channel does not change until the current members' admins admit the
member; the command prints the blossom governance steps (propose, approve by a
majority of members' admins, submit), then fetch-config, which writes the
config block that admitted the member to DIR/<member>/config.block: the new
member's admin-client.json trusts the channel's members from it (its genesis
block does not list the new member). Once the update is committed, start the
new member's CA and peer: the peer joins from the genesis block and follows
the configuration blocks. Its orderer joins the Raft consenters through a
second proposal (add-consenter) once the member is admitted; start it once
that update is committed: it joins from the genesis block and catches up
from the other orderers. Its gateway, like its admin-client.json, reads the
channel's members, peers and orderers from config.block: fetch it again
after the consenter update, then start the gateway.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" || specPath == "" {
				return usageError("network add-member needs --dir and --spec")
			}
			var spec devnet.MemberSpec
			if err := decodeConfigFile(specPath, &spec); err != nil {
				return err
			}
			c, m, err := devnet.AddMember(dir, spec, nil)
			if err != nil {
				return err
			}
			prop := c.AdminMember()
			if proposer != "" {
				p, ok := c.Member(proposer)
				if !ok {
					return usageError("no member %q", proposer)
				}
				prop = p
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "member %s created:\n", m.Name)
			printMemberSummary(w, c, m)
			id := "add-" + m.Name
			fmt.Fprintf(w, `
Admit it on channel %[1]s (each step as a member admin):
  blossom governance --client %[2]s propose add-member --id %[3]s \
      --msp-id %[4]s --root-certs %[5]s --intermediate-certs %[6]s --peer-endpoint %[7]s
  blossom governance --client <member>/admin-client.json show --id %[3]s      # review; note the update hash
  blossom governance --client <member>/admin-client.json approve --id %[3]s --hash HASH   # a majority of members
  blossom governance --client %[2]s submit --id %[3]s
  blossom governance --client %[2]s fetch-config --out %[11]s   # give it to %[8]s: its admin trusts the channel from it
Then, on %[8]s's hosts: blossom node --config ca.json; blossom node --config peer/peer.json

Make its orderer a Raft consenter (the same steps, once the member is admitted):
  blossom governance --client %[2]s propose add-consenter --id %[3]s-orderer \
      --msp-id %[4]s --address %[9]s --cert %[10]s
  (show, approve by a majority, submit as above, with --id %[3]s-orderer)
Then, on %[8]s's orderer host: blossom node --config orderer/orderer.json
Last, fetch-config again (it now lists the new orderer) and start the gateway: blossom node --config gateway/gateway.json
`, c.Channel, c.AdminClientFile(prop), id, m.MSPID, c.MemberCABundle(m), c.IntermediateCert(m), m.Address(devnet.NodePeer), m.Name,
				m.Address(devnet.NodeOrderer), filepath.Join(c.NodeDir(m, devnet.NodeOrderer), devnet.CertFile), c.MemberConfigBlock(m))
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "consortium directory of blossom network init")
	cmd.Flags().StringVar(&specPath, "spec", "", "the new member's description (YAML or JSON)")
	cmd.Flags().StringVar(&proposer, "proposer", "", "member whose admin proposes (default: the admin member)")
	return cmd
}
