// Package cli builds the blossom command tree (cobra). Each domain keeps its
// commands in its own file here; the commands are thin and call into the
// domain packages under internal/.
package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// ExitError carries a process exit code through cobra's error path.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// NewRootCommand returns the root of the blossom command tree.
func NewRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "blossom",
		Short:         "blossom: a self-hostable permissioned consortium ledger, and BloSS@M",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newUpCommand(),
		newCACommand(),
		newLedgerCommand(),
		newChannelCommand(),
		newOrdererCommand(),
		newPeerCommand(),
		newGovernanceCommand(),
		newGatewayCommand(), newTxCommand(),
		newChaincodeCommand(),
	)
	return root
}

// Main runs the command line and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	root := NewRootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.Execute(); err != nil {
		fmt.Fprintf(stderr, "blossom: %v\n", err)
		var exit *ExitError
		if errors.As(err, &exit) {
			return exit.Code
		}
		return 1
	}
	return 0
}
