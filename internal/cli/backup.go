package cli

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/blossom-ledger/blossom/internal/backup"
)

// backupTarget returns the kind and data directory of the peer or CA
// whose configuration file is at path.
func backupTarget(path string) (kind, dir string, err error) {
	k, err := nodeKind(path)
	if err != nil {
		return "", "", err
	}
	switch k {
	case nodeKindPeer:
		cfg, err := loadPeerConfig(path)
		if err != nil {
			return "", "", err
		}
		return backup.KindPeer, cfg.DataDir, nil
	case nodeKindCA:
		var cfg caFileConfig
		if err := decodeConfigFile(path, &cfg); err != nil {
			return "", "", err
		}
		if cfg.CADir == "" {
			return "", "", fmt.Errorf("%s: missing caDir", path)
		}
		if !filepath.IsAbs(cfg.CADir) {
			cfg.CADir = filepath.Join(filepath.Dir(path), cfg.CADir)
		}
		return backup.KindCA, cfg.CADir, nil
	}
	return "", "", fmt.Errorf("%s configures a node of kind %s: only peers and CAs are backed up (orderers recover from their Raft peers)", path, k)
}

func printManifest(w io.Writer, verb string, m *backup.Manifest, dir string) {
	fmt.Fprintf(w, "%s %s backup of %s (taken %s)\n", verb, m.Kind, dir, m.Created.Format("2006-01-02T15:04:05Z"))
	for _, ch := range m.Channels {
		fmt.Fprintf(w, "  channel %s: height %d\n    commit hash %s\n    state hash  %s\n", ch.Channel, ch.Height, orNone(ch.CommitHash), ch.StateHash)
	}
}

func newBackupCommand() *cobra.Command {
	var configPath, out string
	cmd := &cobra.Command{
		Use:   "backup --config FILE --out ARCHIVE",
		Short: "Archive a stopped peer's ledgers or a stopped member CA",
		Long: `Archive the data of the stopped node whose configuration FILE names (a peer's
dataDir: every channel ledger and its transient store; or a CA's caDir: its
key, certificates and database) into ARCHIVE, a new .tar.gz file of mode 0600
(a CA archive holds the CA's private key: keep it as safe as the key).

A peer's ledgers are verified first (as blossom ledger verify does); the
archive records each channel's height, commit hash and state hash, which
blossom restore checks. The node must be stopped: a ledger a running peer
holds open is refused.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configPath == "" || out == "" {
				return usageError("backup needs --config and --out")
			}
			kind, dir, err := backupTarget(configPath)
			if err != nil {
				return err
			}
			m, err := backup.Create(kind, dir, out)
			if err != nil {
				return err
			}
			printManifest(cmd.OutOrStdout(), "wrote "+out+":", m, dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "the peer's or CA's configuration file")
	cmd.Flags().StringVar(&out, "out", "", "archive to create")
	return cmd
}

func newRestoreCommand() *cobra.Command {
	var configPath, from string
	cmd := &cobra.Command{
		Use:   "restore --config FILE --from ARCHIVE",
		Short: "Restore a peer's ledgers or a member CA from a backup, and check them",
		Long: `Extract ARCHIVE (made by blossom backup) into the data directory the
configuration FILE names, which must be missing or empty. For a peer, every
restored ledger is verified and must have the height, commit hash and state
hash the backup recorded. Start the node afterwards: a peer catches up with
the blocks committed since the backup from the orderers.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configPath == "" || from == "" {
				return usageError("restore needs --config and --from")
			}
			kind, dir, err := backupTarget(configPath)
			if err != nil {
				return err
			}
			m, err := backup.Restore(kind, from, dir)
			if err != nil {
				return err
			}
			printManifest(cmd.OutOrStdout(), "restored and verified", m, dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "the peer's or CA's configuration file")
	cmd.Flags().StringVar(&from, "from", "", "archive made by blossom backup")
	return cmd
}
