package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

func newUpCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "up",
		Short: "Start a whole development consortium in the foreground (not yet available)",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("up: not yet available: the development consortium lands with issue 10; meanwhile the nodes run one by one (blossom ca, channel create, orderer, peer, gateway): see README.md")
		},
	}
}
