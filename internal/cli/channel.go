package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/orderer"
	"github.com/blossom-ledger/blossom/internal/protocol"
)

func newChannelCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "channel",
		Short: "Create channels",
	}
	cmd.AddCommand(newChannelCreateCommand())
	return cmd
}

func newChannelCreateCommand() *cobra.Command {
	var specPath, out string
	cmd := &cobra.Command{
		Use:   "create --spec FILE --out genesis.block",
		Short: "Build a channel's genesis block from a consortium description",
		Long: `Build a channel's genesis block (block 0: one CONFIG envelope) from a consortium
description, a JSON file naming the channel, its members (CA certificate files,
optional CRL files, peer endpoints), its orderers (ID = certificate CN, MSP,
address, certificate file) and optional batch, Raft and policy settings:

  {
    "channel": "blossom",
    "members": [
      {"mspId": "SAMSMSP", "rootCerts": ["root.pem"], "intermediateCerts": ["sams-ca.pem"],
       "peers": ["peer0.sams:7051"]}
    ],
    "orderers": [
      {"id": "orderer0", "mspId": "SAMSMSP", "address": "orderer0.sams:7050", "cert": "orderer0.pem"}
    ],
    "batch": {"maxMessageCount": 500, "absoluteMaxBytes": 2097152, "preferredMaxBytes": 2097152, "timeout": "100ms"},
    "raft": {"heartbeatTimeout": "100ms", "electionTimeout": "300ms", "leaderLeaseTimeout": "100ms",
             "snapshotIntervalBlocks": 1000},
    "policies": {"Endorsement": "MAJORITY Endorsement"}
  }

Relative file names are resolved against the description's directory. Defaults:
batch 500 messages, 2 MiB absolute and preferred, 100 ms timeout; the LAN Raft
profile; policies Admins = MAJORITY Admins, Readers = ANY Readers, Writers = ANY
Writers, Endorsement and LifecycleEndorsement = MAJORITY Endorsement; capability 1.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if specPath == "" || out == "" {
				return &ExitError{Code: 1, Err: fmt.Errorf("channel create needs --spec and --out")}
			}
			spec, err := channelconfig.LoadSpec(specPath)
			if err != nil {
				return err
			}
			cc, err := spec.ChannelConfig()
			if err != nil {
				return err
			}
			block, err := channelconfig.GenesisBlock(cc, time.Now())
			if err != nil {
				return err
			}
			if err := orderer.WriteBlockFile(out, block); err != nil {
				return err
			}
			cfg, _, err := channelconfig.FromBlock(block)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "channel %s: genesis block written to %s (hash %x)\nmembers: %s\nconsenters: %s\n",
				cfg.ChannelID(), out, protocol.BlockHeaderHash(block.Header),
				strings.Join(cfg.MemberIDs(), ", "), strings.Join(cfg.ConsenterIDs(), ", "))
			return nil
		},
	}
	cmd.Flags().StringVar(&specPath, "spec", "", "consortium description (JSON)")
	cmd.Flags().StringVar(&out, "out", "", "genesis block file to write")
	return cmd
}
