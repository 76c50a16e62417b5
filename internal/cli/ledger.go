package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/blossom-ledger/blossom/internal/ledger"
	"github.com/blossom-ledger/blossom/internal/peer"
)

// Exit codes of `blossom ledger verify`.
const (
	ledgerVerifyExitBad        = 2 // the ledger failed verification
	ledgerVerifyExitUnreadable = 1 // the ledger could not be read
)

func newLedgerCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ledger",
		Short: "Inspect and check a peer's channel ledger, take ledger snapshots",
	}
	cmd.AddCommand(newLedgerVerifyCommand(), newLedgerSnapshotCommand(), newLedgerSnapshotInfoCommand())
	return cmd
}

func newLedgerVerifyCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify DIR",
		Short: "Re-check a channel ledger's blocks, signatures, commit hashes and state",
		Long: `Re-check the channel ledger in DIR (the directory holding blocks/ and index/),
which no running peer may have open: every block record's checksum, the hash
chain, data hashes, every orderer signature against the consenters of the
config in force before the block, each commit hash, the block and transaction
indexes, and the state database against a replay of every block's writes.
A ledger a peer created from a snapshot is verified from the snapshot's
height on: the copy of the snapshot kept in DIR/snapshot is checked again
and seeds the replay, and the first block must chain onto its last block.

Exit status: 0 when all is well; 2 when the ledger fails, with the first bad
block named ("block 17: data hash mismatch"); 1 when DIR cannot be read.
--json prints the full report on stdout in every case.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := ledger.Verify(args[0])
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if jerr := enc.Encode(rep); jerr != nil {
					return jerr
				}
			} else {
				for _, w := range rep.Warnings {
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
				}
				if err == nil {
					fmt.Fprintf(out, "ledger OK: %d blocks (height %d), %d transactions (%d valid), %d state keys\ncommit hash %s\nstate hash  %s\n",
						rep.Blocks, rep.IndexedHeight, rep.Transactions, rep.ValidTransactions, rep.StateKeys, orNone(rep.CommitHash), rep.StateHash)
					if rep.SnapshotHeight > 0 {
						fmt.Fprintf(out, "created from the snapshot at height %d (snapshot hash %s)\n", rep.SnapshotHeight, rep.SnapshotHash)
					}
				}
			}
			if err != nil {
				code := ledgerVerifyExitUnreadable
				var verr *ledger.VerifyError
				if errors.As(err, &verr) {
					code = ledgerVerifyExitBad
				}
				return &ExitError{Code: code, Err: fmt.Errorf("ledger verify: %w", err)}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the verification report as JSON")
	return cmd
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func newLedgerSnapshotCommand() *cobra.Command {
	o := governanceOptions{}
	var out string
	var noPrivate bool
	var height uint64
	cmd := &cobra.Command{
		Use:   "snapshot --client FILE --out DIR [--height N]",
		Short: "Take a snapshot of your own peer's channel ledger at its current height (admin only)",
		Long: `Ask the first peer of the client file (your own peer), over mutual TLS as
your admin identity, for a snapshot of the client file's channel at the
height it has committed; only an admin of the peer's own member may. The
snapshot is written into DIR, which must not exist, and checked file by
file against its manifest.

A snapshot holds the channel's last config block and last block, the
public state with versions (chaincode state and _lifecycle definitions),
the transaction IDs committed (so that a replay after a join is still a
duplicate), the hashed private state, the block-to-live purge schedule
and, unless --no-private, the private data your member holds. It does not
hold the blocks or the key history before its height.

The snapshot hash printed is the SHA-256 of DIR/snapshot.json: every peer
of the channel, of any member, gives the same hash at the same height.
Compare it with other members' admins before a new peer joins from the
snapshot ("blossom peer --join-snapshot DIR --snapshot-hash HASH").`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.needClient(); err != nil {
				return err
			}
			if out == "" {
				return errors.New("--out is required")
			}
			return o.run(cmd, func(ctx context.Context, s *governanceSession, w io.Writer) error {
				info, err := peer.FetchSnapshot(ctx, s.peer, s.channel, height, noPrivate, out)
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "snapshot written to %s\n", out)
				printSnapshotInfo(w, info)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&o.clientFile, "client", "", "client file: admin identity, channel, your peer first (YAML or JSON)")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 30*time.Minute, "bound on the whole command")
	cmd.Flags().StringVar(&out, "out", "", "directory to write the snapshot into (must not exist)")
	cmd.Flags().BoolVar(&noPrivate, "no-private", false, "leave your member's private data out of the snapshot")
	cmd.Flags().Uint64Var(&height, "height", 0, "height to take the snapshot at, now or in the future (0: the peer's current height)")
	return cmd
}

func newLedgerSnapshotInfoCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "snapshot-info DIR",
		Short: "Check a ledger snapshot's files against its manifest and print its hashes",
		Long: `Check the size and SHA-256 of every file of the ledger snapshot in DIR
against its manifests and print the channel, height, snapshot hash, commit
hash and state hash. The peer that joins from the snapshot checks its
content again (every record, the last block, the recomputed state hash).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			info, err := ledger.CheckSnapshot(args[0])
			if err != nil {
				return err
			}
			printSnapshotInfo(cmd.OutOrStdout(), info)
			return nil
		},
	}
}

func printSnapshotInfo(w io.Writer, info *ledger.SnapshotInfo) {
	m := info.Manifest
	private := "no"
	for _, f := range info.Local.Files {
		if f.Name == "private.data" {
			private = "yes, of " + info.Local.MSPID
		}
	}
	fmt.Fprintf(w, "channel       %s\nheight        %d\nsnapshot hash %s\ncommit hash   %s\nstate hash    %s\nprivate data  %s\n",
		m.Channel, m.Height, info.HashHex(), m.CommitHash, m.StateHash, private)
}
