package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/blossom-ledger/blossom/internal/devnet"
)

func newDevnetCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "devnet",
		Short: "Manage a development consortium made by blossom up",
	}
	cmd.AddCommand(newDevnetAddUserCommand())
	return cmd
}

func newDevnetAddUserCommand() *cobra.Command {
	var dir, member, user, role string
	cmd := &cobra.Command{
		Use:   "add-user --dir DIR --member M --user NAME --role ROLE",
		Short: "Enroll one more user of a devnet member with any blossom.role (development only)",
		Long: `Register and enroll one more user of member M through the member's CA (the
running one while blossom up runs, else the CA directory opened for the call),
with ROLE as its blossom.role attribute ("" makes a member admin). The user's
certificate and key go to DIR/M/users/NAME/, a fresh password to
DIR/consortium.json and DIR/devnet.json (mode 0600); nothing secret is
printed. blossom tx --devnet DIR --member M --user NAME then acts as it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" || member == "" || user == "" || !cmd.Flags().Changed("role") {
				return usageError("devnet add-user needs --dir, --member, --user and --role")
			}
			if _, err := devnet.AddUser(dir, member, user, role, nil); err != nil {
				return err
			}
			c, err := devnet.Load(dir)
			if err != nil {
				return err
			}
			ready := false
			if d, err := ReadDevnet(c.Dir()); err == nil {
				ready = d.Ready
			}
			if err := writeDevnet(c, ready); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "added %s/%s (%s); its password is in %s\n", member, user, roleLabel(role), DevnetFile)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&dir, "dir", "", "consortium directory of blossom up")
	fl.StringVar(&member, "member", "", "member name (sams, agency1, ...)")
	fl.StringVar(&user, "user", "", "new user name")
	fl.StringVar(&role, "role", "", `blossom.role value ("" for a member admin)`)
	return cmd
}

// roleLabel shows a role as the banner does: "admin" for none.
func roleLabel(role string) string {
	if role == "" {
		return "admin"
	}
	return role
}
