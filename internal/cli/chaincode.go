package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/blossom-ledger/blossom/internal/chaincode/bundled"
	"github.com/blossom-ledger/blossom/internal/chaincode/ccpackage"
	"github.com/blossom-ledger/blossom/internal/fsutil"
	"github.com/blossom-ledger/blossom/internal/lifecycle"
	"github.com/blossom-ledger/blossom/internal/policy"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

const chaincodeLong = `Package, install, approve and commit chaincode definitions (DESIGN §5).

A chaincode runs on a channel once a MAJORITY of the channel's current
members approved the same definition (name, version, sequence, package ID,
endorsement policy, collections, parameters, limits) and one of their
admins committed it; every peer then runs the definition's package if it
holds it, and refuses to endorse the chaincode otherwise, naming the
package it needs and those it holds. An upgrade is a new definition with
sequence + 1, approved and committed the same way; transactions simulated
under the old definition and ordered after the commit are invalidated.

  blossom chaincode package --dir ./chaincode/asset/wasm --label asset_1 -o asset.ccpkg
  blossom chaincode install --client admin.yaml asset.ccpkg
  blossom chaincode approve --client admin.yaml --name asset --version 1 --sequence 1 --package-id asset_1:<sha256>
  blossom chaincode status  --client admin.yaml --name asset --version 1 --sequence 1 --package-id asset_1:<sha256>
  blossom chaincode commit  --client admin.yaml --name asset --version 1 --sequence 1 --package-id asset_1:<sha256>
  blossom chaincode list    --client admin.yaml [--installed]

Every command but package connects as the admin of the client file
(--client), the file "blossom governance" uses: your admin certificate and
key, the channel's genesis block, peers (your own peer first; approve and
commit are endorsed by all of them: list enough members' peers for MAJORITY
Endorsement) and orderers.`

func newChaincodeCommand() *cobra.Command {
	var o governanceOptions
	cmd := &cobra.Command{
		Use:   "chaincode",
		Short: "Package, install, approve and commit chaincode definitions",
		Long:  chaincodeLong,
	}
	cmd.PersistentFlags().StringVar(&o.clientFile, "client", "", "client file: admin identity, peers and orderers (YAML or JSON); not used by package")
	cmd.PersistentFlags().DurationVar(&o.timeout, "timeout", 2*time.Minute, "bound on the whole command")
	cmd.AddCommand(
		newChaincodePackageCommand(),
		newChaincodeInstallCommand(&o),
		newChaincodeDefinitionCommand(&o, "approve", "Approve a definition for your member", approveDefinition),
		newChaincodeDefinitionCommand(&o, "status", "Show which current members approved exactly this definition", definitionStatus),
		newChaincodeDefinitionCommand(&o, "commit", "Commit a definition a MAJORITY of members approved", commitDefinition),
		newChaincodeListCommand(&o),
	)
	return cmd
}

// needClient checks --client for the commands that connect.
func (o *governanceOptions) needClient() error {
	if o.clientFile == "" {
		return usageError("--client is required")
	}
	return nil
}

func newChaincodePackageCommand() *cobra.Command {
	var dir, wasmFile, label, out, bundledName string
	var limits ccpackage.Limits
	cmd := &cobra.Command{
		Use:   "package (--dir GO_MAIN_DIR | --wasm FILE) --label LABEL -o FILE | package --bundled NAME -o FILE",
		Short: "Build a chaincode package and print its package ID",
		Long: `Build a chaincode package (a gzipped tar of metadata.json and chaincode.wasm,
reproducible byte for byte) and print its package ID, LABEL:<SHA-256 of the
package>. --dir builds the Go main package in that directory for
GOOS=wasip1 GOARCH=wasm -buildmode=c-shared with the reproducible flags of
"make chaincodes" (needs the go command); --wasm packages a module already
built. --fuel and --memory set the package's default execution limits
(0: the runtime's defaults; a definition's limits take precedence).
--bundled writes a package embedded in this binary (kvtest, authorization,
asset, as "make chaincodes" builds them, label = name), if it was built with
"make bundle"; a plain build bundles none.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if bundledName != "" {
				if dir != "" || wasmFile != "" {
					return usageError("--bundled takes no --dir or --wasm")
				}
				pkg, err := bundled.Package(bundledName)
				if err != nil {
					return err
				}
				return writePackage(cmd.OutOrStdout(), out, pkg, ccpackage.ID(bundledName, pkg))
			}
			if label == "" {
				return usageError("--label is required")
			}
			if (dir == "") == (wasmFile == "") {
				return usageError("give exactly one of --dir and --wasm")
			}
			var pkg []byte
			var id string
			var err error
			if dir != "" {
				pkg, id, err = ccpackage.Build(cmd.Context(), "", dir, label, limits)
			} else {
				pkg, id, err = packageWasmFile(wasmFile, label, limits)
			}
			if err != nil {
				return err
			}
			return writePackage(cmd.OutOrStdout(), out, pkg, id)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory of the chaincode's Go main package")
	cmd.Flags().StringVar(&wasmFile, "wasm", "", "a WebAssembly module already built")
	cmd.Flags().StringVar(&label, "label", "", "package label ([A-Za-z0-9][A-Za-z0-9_.+-]*)")
	cmd.Flags().StringVar(&bundledName, "bundled", "", "write the package of a chaincode bundled in this binary")
	cmd.Flags().StringVarP(&out, "output", "o", "", "package file to write")
	cmd.Flags().Uint64Var(&limits.Fuel, "fuel", 0, "default execution budget per invocation (0: runtime default)")
	cmd.Flags().Uint64Var(&limits.MemoryBytes, "memory", 0, "default memory cap in bytes, a multiple of 65536 (0: runtime default)")
	_ = cmd.MarkFlagRequired("output")
	return cmd
}

// writePackage writes a package file and prints its ID.
func writePackage(stdout io.Writer, path string, pkg []byte, id string) error {
	if err := fsutil.WriteFileAtomic(path, pkg, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	fmt.Fprintln(stdout, id)
	return nil
}

func packageWasmFile(path, label string, limits ccpackage.Limits) ([]byte, string, error) {
	if err := ccpackage.ValidateLabel(label); err != nil {
		return nil, "", err
	}
	if err := limits.Validate(); err != nil {
		return nil, "", err
	}
	wasm, err := fsutil.ReadFileBounded(path, ccpackage.MaxWasmSize)
	if err != nil {
		return nil, "", err
	}
	pkg, err := (&ccpackage.Package{Label: label, Wasm: wasm, Limits: limits}).Marshal()
	if err != nil {
		return nil, "", err
	}
	return pkg, ccpackage.ID(label, pkg), nil
}

func newChaincodeInstallCommand(o *governanceOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "install --client FILE PACKAGE_FILE",
		Short: "Install a chaincode package on your own peer (admin only)",
		Long: `Send a chaincode package to the first peer of the client file (your own
peer) over mutual TLS as your admin identity; only an admin of the peer's
own member may install. The peer checks and compiles the package, stores it
in its data directory (mode 0600) and prints its package ID. Installing the
same package again is harmless. Install on each of your member's peers with
one client file per peer.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.needClient(); err != nil {
				return err
			}
			pkg, err := fsutil.ReadFileBounded(args[0], ccpackage.MaxPackageSize)
			if err != nil {
				return err
			}
			if _, err := ccpackage.Parse(pkg); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			return o.run(cmd, func(ctx context.Context, s *governanceSession, out io.Writer) error {
				id, err := lifecycle.Install(ctx, s.peer, pkg)
				if err != nil {
					return err
				}
				fmt.Fprintln(out, id)
				return nil
			})
		},
	}
}

// definitionFlags are the flags that describe a definition.
type definitionFlags struct {
	d           lifecycle.Definition
	params      []string
	collections string
}

func (f *definitionFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.d.Name, "name", "", "chaincode name (its state namespace)")
	fl.StringVar(&f.d.Version, "version", "", "version label")
	fl.Uint64Var(&f.d.Sequence, "sequence", 0, "definition sequence: 1 for a new chaincode, the committed one + 1 for an upgrade")
	fl.StringVar(&f.d.PackageID, "package-id", "", "package ID (LABEL:SHA256) the definition runs")
	fl.StringVar(&f.d.EndorsementPolicy, "policy", "MAJORITY Endorsement", "endorsement policy")
	fl.StringArrayVar(&f.params, "param", nil, "definition parameter NAME=VALUE (repeatable)")
	fl.StringVar(&f.collections, "collections", "", "JSON file: array of collections sorted by name ({name, policy, requiredPeerCount, maxPeerCount, blockToLive, memberOnlyRead, memberOnlyWrite})")
	fl.BoolVar(&f.d.InitRequired, "init-required", false, "require an initialising call (blossom tx submit --init) before any other invocation of each version")
	fl.Uint64Var(&f.d.Fuel, "fuel", 0, "execution budget per invocation (0: the package's)")
	fl.Uint64Var(&f.d.MemoryBytes, "memory", 0, "memory cap in bytes (0: the package's)")
	for _, name := range []string{"name", "version", "sequence", "package-id"} {
		_ = cmd.MarkFlagRequired(name)
	}
}

// definition builds and validates the definition.
func (f *definitionFlags) definition() (*lifecycle.Definition, error) {
	d := f.d
	d.Params = map[string]string{}
	for _, p := range f.params {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return nil, usageError("--param %q: want NAME=VALUE", p)
		}
		if _, dup := d.Params[k]; dup {
			return nil, usageError("--param %s given twice", k)
		}
		d.Params[k] = v
	}
	d.Collections = []lifecycle.Collection{}
	if f.collections != "" {
		raw, err := fsutil.ReadFileBounded(f.collections, lifecycle.MaxDefinitionBytes)
		if err != nil {
			return nil, err
		}
		if err := strictUnmarshal(raw, &d.Collections); err != nil {
			return nil, fmt.Errorf("%s: %w", f.collections, err)
		}
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return &d, nil
}

type definitionAction func(ctx context.Context, l *lifecycle.Ledger, d *lifecycle.Definition, out io.Writer) error

func newChaincodeDefinitionCommand(o *governanceOptions, use, short string, action definitionAction) *cobra.Command {
	var f definitionFlags
	cmd := &cobra.Command{
		Use:   use + " --client FILE --name NAME --version V --sequence N --package-id ID [flags]",
		Short: short,
		Long:  definitionHelp[use],
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.needClient(); err != nil {
				return err
			}
			d, err := f.definition()
			if err != nil {
				return err
			}
			return o.run(cmd, func(ctx context.Context, s *governanceSession, out io.Writer) error {
				l := &lifecycle.Ledger{Client: s.ledger.Client, EndorsingPeers: s.ledger.EndorsingPeers}
				return action(ctx, l, d, out)
			})
		},
	}
	f.add(cmd)
	return cmd
}

var definitionHelp = map[string]string{
	"approve": `Record your member's approval of the definition on the ledger (the client
file's identity must be an admin of a current member). The sequence must be
the committed sequence + 1. Approving again replaces your member's earlier
approval of that sequence. Every member approves the identical definition:
"status" shows who approved exactly these flags.`,
	"status": `Show, for each current member, whether it approved exactly this definition,
and whether the approvals make a MAJORITY so that "commit" will succeed. It
reads your own peer once it holds as many blocks as the most advanced peer
of the client file (waiting at most 10 s), so that approvals just recorded
through other members' peers show.`,
	"commit": `Commit the definition (the client file's identity must be an admin of a
current member). It succeeds only if a MAJORITY of the current members
approved exactly this definition; from the block that holds it, peers
endorse and validate the chaincode under it. Like every command that
connects, it first waits (at most 10 s) until every answering peer of the
client file holds as many blocks as the most advanced of them, so that
approvals other members' admins just recorded are seen by every endorser.`,
}

func approveDefinition(ctx context.Context, l *lifecycle.Ledger, d *lifecycle.Definition, out io.Writer) error {
	block, err := l.Approve(ctx, d)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "approved %s version %s sequence %d (package %s) in block %d\n", d.Name, d.Version, d.Sequence, d.PackageID, block)
	return nil
}

func commitDefinition(ctx context.Context, l *lifecycle.Ledger, d *lifecycle.Definition, out io.Writer) error {
	block, err := l.Commit(ctx, d)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "committed %s version %s sequence %d (package %s) in block %d\n", d.Name, d.Version, d.Sequence, d.PackageID, block)
	return nil
}

func definitionStatus(ctx context.Context, l *lifecycle.Ledger, d *lifecycle.Definition, out io.Writer) error {
	ready, err := l.CheckCommitReadiness(ctx, d)
	if err != nil {
		return err
	}
	members := slices.Sorted(maps.Keys(ready))
	approved := 0
	for _, m := range members {
		answer := "not approved"
		if ready[m] {
			answer = "approved"
			approved++
		}
		fmt.Fprintf(out, "%s\t%s\n", m, answer)
	}
	need, err := policy.Threshold(pb.ImplicitMetaPolicy_MAJORITY, len(members))
	if err != nil {
		return err
	}
	verdict := "ready to commit"
	if approved < need {
		verdict = "not ready to commit"
	}
	fmt.Fprintf(out, "%d of %d members approved; MAJORITY needs %d: %s\n", approved, len(members), need, verdict)
	return nil
}

func newChaincodeListCommand(o *governanceOptions) *cobra.Command {
	var installed bool
	cmd := &cobra.Command{
		Use:   "list --client FILE [--installed]",
		Short: "List the committed chaincode definitions, or the packages installed on your peer",
		Long: `List the chaincode definitions committed on the channel as JSON lines (one
definition per line, by name), read from your own peer. With --installed,
list the package IDs installed on your own peer instead (admin only).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.needClient(); err != nil {
				return err
			}
			return o.run(cmd, func(ctx context.Context, s *governanceSession, out io.Writer) error {
				if installed {
					list, err := lifecycle.ListInstalled(ctx, s.peer)
					if err != nil {
						return err
					}
					for _, p := range list {
						fmt.Fprintln(out, p.PackageId)
					}
					return nil
				}
				l := &lifecycle.Ledger{Client: s.ledger.Client}
				defs, err := l.List(ctx)
				if err != nil {
					return err
				}
				enc := json.NewEncoder(out)
				for _, d := range defs {
					if err := enc.Encode(d); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&installed, "installed", false, "list the packages installed on your own peer")
	return cmd
}
