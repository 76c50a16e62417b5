package authorization

import (
	"strings"
	"testing"

	"github.com/blossom-ledger/blossom/chaincode/kvtest"
	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
	"github.com/blossom-ledger/blossom/sdk/contract/contracttest"
)

// TestDocumentedFunctionsExist calls every function the package comment
// lists: each must be routed.
func TestDocumentedFunctionsExist(t *testing.T) {
	w := newWorld(t)
	w.as(admin)
	for _, fn := range []string{"bootstrap:Bootstrap", "bootstrap:Test", "account:Join", "account:GetAccounts",
		"account:GetAccount", "account:GetAccountStatus", "account:GetAccountHistory", "mou:UpdateMOU", "mou:GetMOU",
		"mou:GetMOUHistory", "mou:SignMOU", "ato:CreateATO", "ato:UpdateATO", "ato:GetATO", "ato:SubmitFeedback",
		"vote:InitiateVote", "vote:Vote", "vote:CertifyOngoingVote", "vote:AbortOngoingVote", "vote:GetOngoingVote",
		"vote:GetVoteHistory", "ngac:GetAllRoles", "ngac:GetAllPrivileges"} {
		if _, err := w.stub.Invoke(fn, "x", "y", "z", "w"); err == nil || !strings.HasPrefix(err.Error(), "wrong number of arguments") {
			t.Errorf("%s with 4 arguments: %v", fn, err)
		}
	}
	if _, err := w.stub.Invoke("vote:Nope"); err == nil || err.Error() != "unknown function vote:Nope" {
		t.Fatalf("vote:Nope: %v", err)
	}
}

func TestBootstrap(t *testing.T) {
	w := newWorld(t)
	if got := w.ok(agency1, "bootstrap:Test"); string(got) != "hello blossom" {
		t.Fatalf("Test = %q", got)
	}
	// Refusals before the first Bootstrap, in check order.
	for _, tc := range []struct {
		name, msp, role, want string
		args                  []string
	}{
		{"arguments", admin, ao, "wrong number of arguments: want 0, got 1", []string{"x"}},
		{"License Owner role", admin, blossompolicy.RoleLicenseOwner, "unknown user role: License Owner", nil},
		{"forged Blossom Admin role (R-01)", admin, "Blossom Admin", "unknown user role: Blossom Admin", nil},
		{"forged status role (R-01)", admin, "authorized", "unknown user role: authorized", nil},
		{"empty role", admin, "", "unknown user role: ", nil},
		{"no role attribute", admin, noRole, "unknown user role: (missing blossom.role attribute)", nil},
		{"another member's AO", agency1, ao, "account Agency1MSP does not exist", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.as(tc.msp, tc.role)
			w.refuse("bootstrap:Bootstrap", tc.want, tc.args...)
		})
	}
	// A1: the admin's AO bootstraps.
	w.ok(admin, "bootstrap:Bootstrap")
	if evs := w.stub.Events(); len(evs) != 0 {
		t.Fatalf("Bootstrap events = %v", evs)
	}
	v, _ := w.stub.State(accountKey(admin))
	if want := `{"id":"SAMSMSP","status":"AUTHORIZED","mouVersion":0,"joined":true}`; string(v) != want {
		t.Fatalf("admin account = %s", v)
	}
	if keys := strings.Join(w.stub.StateKeys(), ","); keys != "account:SAMSMSP,policy" {
		t.Fatalf("state keys = %s", keys)
	}
	w.requireStatus(admin, blossompolicy.Authorized)
	w.refuseAs(admin, "bootstrap:Bootstrap", "Bootstrap already called")
}

func TestBootstrapNeedsAdminParam(t *testing.T) {
	for _, params := range []map[string]string{nil, {AdminMSPParam: ""}, {AdminMSPParam: "SAMS MSP"}} {
		w := newWorld(t)
		w.stub.SetDefinitionParams(params)
		w.as(admin)
		_, err := w.stub.Invoke("bootstrap:Bootstrap")
		if err == nil || !strings.Contains(err.Error(), `"adminMSP"`) {
			t.Fatalf("params %v: %v", params, err)
		}
		if len(w.stub.StateKeys()) != 0 {
			t.Fatal("state written")
		}
	}
}

func TestNGACContract(t *testing.T) {
	w := newWorld(t)
	if got := w.ok(agency1, "ngac:GetAllRoles"); string(got) != `["Authorizing Official"]` {
		t.Fatalf("GetAllRoles = %s", got)
	}
	want := `["bootstrap","update_mou","get_mou","sign_mou","join","write_ato","read_ato","submit_feedback","initiate_vote","vote","certify_vote"]`
	if got := w.ok(agency1, "ngac:GetAllPrivileges"); string(got) != want {
		t.Fatalf("GetAllPrivileges = %s", got)
	}
}

func TestGetAccountStatus(t *testing.T) {
	w := newWorld(t)
	w.refuseAs(admin, "account:GetAccountStatus", "account SAMSMSP does not exist")
	w.consortium(agency1)
	w.ok(agency2, "mou:SignMOU", "1")
	for _, tc := range []struct{ msp, role, want string }{
		{admin, ao, "AUTHORIZED"},
		{agency1, ao, "AUTHORIZED"},
		{agency1, blossompolicy.RoleTechnicalPointOfContact, "AUTHORIZED"}, // any identity
		{agency2, noRole, "PENDING"},
	} {
		w.as(tc.msp, tc.role)
		got, err := w.stub.Invoke("account:GetAccountStatus")
		if err != nil || string(got) != tc.want {
			t.Fatalf("%s %s: %q, %v", tc.msp, tc.role, got, err)
		}
	}
	w.refuseAs(agency9, "account:GetAccountStatus", "account Agency9MSP does not exist")
	w.refuseAs(agency1, "account:GetAccountStatus", "wrong number of arguments: want 0, got 1", "Agency2MSP")
}

// TestGetAccountStatusFromAnotherChaincode calls GetAccountStatus the way
// the asset chaincode does: InvokeChaincode in the same transaction, with
// the caller's identity.
func TestGetAccountStatusFromAnotherChaincode(t *testing.T) {
	host := contracttest.NewStub("asset", kvtest.New())
	authz := host.Register(ChaincodeName, New(), map[string]string{AdminMSPParam: admin})
	w := &world{t: t, stub: authz, cc: New()}
	w.consortium(agency1)
	w.ok(agency2, "mou:SignMOU", "1")
	for _, tc := range []struct{ msp, want string }{
		{agency1, "ok:AUTHORIZED"}, {agency2, "ok:PENDING"}, {admin, "ok:AUTHORIZED"},
		{agency9, "error:account Agency9MSP does not exist"},
	} {
		host.SetCreator(tc.msp, certFor(t, tc.msp, blossompolicy.RoleTechnicalPointOfContact))
		got, err := host.Invoke("kv:TryCall", ChaincodeName, "account:GetAccountStatus")
		if err != nil || string(got) != tc.want {
			t.Fatalf("%s: %q, %v", tc.msp, got, err)
		}
	}
}
