package authorizationtest_test

import (
	"bytes"
	"testing"

	"github.com/blossom-ledger/blossom/chaincode/authorization/authorizationtest"
	"github.com/blossom-ledger/blossom/chaincode/kvtest"
	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
	"github.com/blossom-ledger/blossom/sdk/contract/contracttest"
)

// statusSeenBy asks the authorization chaincode for the caller's status
// from another chaincode's transaction, as the asset chaincode does.
func statusSeenBy(t *testing.T, host *contracttest.Stub, msp string) string {
	t.Helper()
	authorizationtest.SetCreator(t, host, msp, blossompolicy.RoleTechnicalPointOfContact)
	out, err := host.Invoke("kv:TryCall", "authorization", "account:GetAccountStatus")
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestRegister(t *testing.T) {
	host := contracttest.NewStub("asset", kvtest.New())
	authorizationtest.SetCreator(t, host, "Agency7MSP", "Acquisition Officer")
	creatorMSP, creatorDER := host.GetCreator()

	c := authorizationtest.Register(t, host, authorizationtest.Agency(1), authorizationtest.Agency(2))
	if msp, der := host.GetCreator(); msp != creatorMSP || !bytes.Equal(der, creatorDER) {
		t.Fatalf("creator not restored: %s", msp)
	}
	c.AddMember(authorizationtest.Agency(3), blossompolicy.Pending)
	c.AddMember(authorizationtest.Agency(4), blossompolicy.Unauthorized)
	for _, tc := range []struct{ msp, want string }{
		{authorizationtest.AdminMSP, "ok:AUTHORIZED"},
		{"Agency1MSP", "ok:AUTHORIZED"},
		{"Agency2MSP", "ok:AUTHORIZED"},
		{"Agency3MSP", "ok:PENDING"},
		{"Agency4MSP", "ok:UNAUTHORIZED"},
		{"Agency5MSP", "error:account Agency5MSP does not exist"},
	} {
		if got := statusSeenBy(t, host, tc.msp); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.msp, got, tc.want)
		}
	}

	// Status changes through votes, admin included (super-majority).
	c.SetStatus("Agency1MSP", blossompolicy.Unauthorized)
	c.SetStatus(authorizationtest.AdminMSP, blossompolicy.Pending)
	if got := statusSeenBy(t, host, "Agency1MSP"); got != "ok:UNAUTHORIZED" {
		t.Fatalf("Agency1MSP after SetStatus: %s", got)
	}
	if st, ok := c.Status(authorizationtest.AdminMSP); !ok || st != blossompolicy.Pending {
		t.Fatalf("admin status = %s, %v", st, ok)
	}
	if _, ok := c.Status("Agency5MSP"); ok {
		t.Fatal("Agency5MSP has an account")
	}
	if len(c.Accounts()) != 5 {
		t.Fatalf("accounts = %+v", c.Accounts())
	}
	// The authorization state lives in its own namespace.
	if _, ok := c.Stub().State("account:Agency1MSP"); !ok {
		t.Fatal("no account in the authorization namespace")
	}
	if _, ok := host.State("account:Agency1MSP"); ok {
		t.Fatal("account written in the host's namespace")
	}
}

func TestNew(t *testing.T) {
	c := authorizationtest.New(t, authorizationtest.Agency(1))
	authorizationtest.SetCreator(t, c.Stub(), "Agency1MSP", "")
	out, err := c.Stub().Invoke("account:GetAccountStatus")
	if err != nil || string(out) != "AUTHORIZED" {
		t.Fatalf("GetAccountStatus = %q, %v", out, err)
	}
	// A certificate without role is refused by role-checked functions.
	if _, err := c.Stub().Invoke("account:Join"); err == nil || err.Error() != "unknown user role: (missing blossom.role attribute)" {
		t.Fatalf("Join without role: %v", err)
	}
	if st, _ := c.Status(authorizationtest.AdminMSP); st != blossompolicy.Authorized {
		t.Fatalf("admin = %s", st)
	}
}
