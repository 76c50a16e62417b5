// Package authorizationtest runs the BloSS@M authorization chaincode in a
// contracttest world with a bootstrapped consortium, so that unit tests of
// chaincodes that read account statuses (the asset chaincode calls
// "authorization" / "account:GetAccountStatus" in its own transactions)
// see realistic statuses produced by the real chaincode.
//
//	stub := contracttest.NewStub("asset", asset.New())
//	stub.SetDefinitionParams(map[string]string{"adminMSP": authorizationtest.AdminMSP})
//	c := authorizationtest.Register(t, stub, authorizationtest.Agency(1), authorizationtest.Agency(2))
//	c.AddMember(authorizationtest.Agency(3), blossompolicy.Pending)
//	authorizationtest.SetCreator(t, stub, authorizationtest.Agency(1), "Technical Point of Contact")
//	... stub.Invoke("order:GetQuote") sees Agency1MSP AUTHORIZED ...
//	c.SetStatus(authorizationtest.Agency(1), blossompolicy.Unauthorized)
//
// Every change goes through the chaincode's own transactions (Bootstrap,
// UpdateMOU, SignMOU, InitiateVote, Vote, CertifyOngoingVote) signed by
// the members' Authorizing Officials; the helpers restore the world's
// creator afterwards. They must not run while a test holds uncommitted
// writes of direct calls (contracttest refuses Invoke then).
package authorizationtest

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/blossom-ledger/blossom/chaincode/authorization"
	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
	"github.com/blossom-ledger/blossom/sdk/contract"
	"github.com/blossom-ledger/blossom/sdk/contract/contracttest"
)

// AdminMSP is the consortium's admin member (the service provider), as in
// `blossom up`.
const AdminMSP = "SAMSMSP"

// MOUText is the text of the MOU version 1 that Register publishes.
const MOUText = "BloSS@M memorandum of understanding (test consortium)"

// Agency returns the MSP ID of the i-th agency, "Agency<i>MSP".
func Agency(i int) string { return fmt.Sprintf("Agency%dMSP", i) }

// Consortium drives the authorization chaincode registered in a
// contracttest world. It is not safe for concurrent use (neither is the
// world).
type Consortium struct {
	tb   testing.TB
	stub *contracttest.Stub // the authorization chaincode's namespace
}

// Register registers the authorization chaincode as "authorization" in
// host's world (host is any Stub of it, typically the tested chaincode's),
// with definition parameter adminMSP = AdminMSP, bootstraps it (AdminMSP
// AUTHORIZED), publishes MOU version 1, then lets each of authorized sign
// the MOU and be voted AUTHORIZED, in order.
func Register(tb testing.TB, host *contracttest.Stub, authorized ...string) *Consortium {
	tb.Helper()
	cc := authorization.New()
	stub := host.Register(authorization.ChaincodeName, cc, map[string]string{authorization.AdminMSPParam: AdminMSP})
	return setup(tb, stub, authorized)
}

// New returns a world of its own whose chaincode is the authorization
// chaincode (Stub().Invoke runs it), set up as Register does.
func New(tb testing.TB, authorized ...string) *Consortium {
	tb.Helper()
	stub := contracttest.NewStub(authorization.ChaincodeName, authorization.New())
	stub.SetDefinitionParams(map[string]string{authorization.AdminMSPParam: AdminMSP})
	return setup(tb, stub, authorized)
}

func setup(tb testing.TB, stub *contracttest.Stub, authorized []string) *Consortium {
	tb.Helper()
	c := &Consortium{tb: tb, stub: stub}
	restore := c.saveCreator()
	defer restore()
	c.invoke(AdminMSP, "bootstrap:Bootstrap")
	c.invoke(AdminMSP, "mou:UpdateMOU", MOUText)
	restore()
	for _, m := range authorized {
		c.AddMember(m, blossompolicy.Authorized)
	}
	return c
}

// Stub returns the Stub of the authorization chaincode's namespace, for
// inspecting its state or invoking it directly.
func (c *Consortium) Stub() *contracttest.Stub { return c.stub }

// AddMember makes member m's Authorizing Official sign the current MOU,
// which creates its PENDING account, then runs a vote giving it status
// (none for Pending).
func (c *Consortium) AddMember(m string, status blossompolicy.Status) {
	c.tb.Helper()
	defer c.saveCreator()()
	var mou authorization.MOU
	c.decode(c.invoke(m, "mou:GetMOU"), &mou)
	c.invoke(m, "mou:SignMOU", fmt.Sprint(mou.Version))
	if status != blossompolicy.Pending {
		c.setStatus(m, status)
	}
}

// SetStatus changes member m's status through a vote that every voter
// approves. The initiator is the admin member if it is AUTHORIZED and not
// m, else the first other AUTHORIZED member; a vote on the admin member
// when nobody else is AUTHORIZED is initiated by the admin itself (the
// recovery rule, which the chaincode allows only while no member is
// AUTHORIZED).
func (c *Consortium) SetStatus(m string, status blossompolicy.Status) {
	c.tb.Helper()
	defer c.saveCreator()()
	c.setStatus(m, status)
}

func (c *Consortium) setStatus(m string, status blossompolicy.Status) {
	c.tb.Helper()
	initiator := ""
	for _, a := range c.Accounts() {
		if a.Status == blossompolicy.Authorized && a.ID != m && (initiator == "" || a.ID == AdminMSP) {
			initiator = a.ID
		}
	}
	if initiator == "" {
		initiator = AdminMSP
	}
	c.invoke(initiator, "vote:InitiateVote", m, string(status), "authorizationtest")
	var v authorization.Vote
	c.decode(c.invoke(initiator, "vote:GetOngoingVote"), &v)
	for _, voter := range v.Voters {
		c.invoke(voter, "vote:Vote", "true")
	}
	if got := c.invoke(initiator, "vote:CertifyOngoingVote"); string(got) != "true" {
		c.tb.Fatalf("authorizationtest: the vote on %s did not pass", m)
	}
}

// Accounts returns every account (account:GetAccounts).
func (c *Consortium) Accounts() []authorization.Account {
	c.tb.Helper()
	var accounts []authorization.Account
	c.decode(c.query("account:GetAccounts"), &accounts)
	return accounts
}

// Status returns member m's status, and false if m has no account.
func (c *Consortium) Status(m string) (blossompolicy.Status, bool) {
	c.tb.Helper()
	for _, a := range c.Accounts() {
		if a.ID == m {
			return a.Status, true
		}
	}
	return "", false
}

// query runs a read-only function as the admin member's AO.
func (c *Consortium) query(function string, args ...string) []byte {
	c.tb.Helper()
	defer c.saveCreator()()
	return c.invoke(AdminMSP, function, args...)
}

// invoke runs one transaction as member m's Authorizing Official.
func (c *Consortium) invoke(m, function string, args ...string) []byte {
	c.tb.Helper()
	c.stub.SetCreator(m, certificate(c.tb, m, blossompolicy.RoleAuthorizingOfficial))
	out, err := c.stub.Invoke(function, args...)
	if err != nil {
		c.tb.Fatalf("authorizationtest: %s%q as %s's Authorizing Official: %v", function, args, m, err)
	}
	return out
}

func (c *Consortium) decode(data []byte, v any) {
	c.tb.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		c.tb.Fatalf("authorizationtest: decoding %.200s: %v", data, err)
	}
}

// saveCreator returns a function restoring the world's current creator.
func (c *Consortium) saveCreator() func() {
	msp, der := c.stub.GetCreator()
	return func() { c.stub.SetCreator(msp, der) }
}

// SetCreator makes the following transactions of stub's world come from
// a client of member msp whose blossom.role is role ("" for a certificate
// without the attribute). Certificates are cached per member and role, so
// switching identities is cheap.
func SetCreator(tb testing.TB, stub *contracttest.Stub, msp, role string) {
	tb.Helper()
	stub.SetCreator(msp, certificate(tb, msp, role))
}

var certs struct {
	sync.Mutex
	byKey map[string][]byte
}

func certificate(tb testing.TB, msp, role string) []byte {
	tb.Helper()
	key := msp + "\x00" + role
	certs.Lock()
	defer certs.Unlock()
	if der, ok := certs.byKey[key]; ok {
		return slices.Clone(der)
	}
	var attrs map[string]string
	if role != "" {
		attrs = map[string]string{contract.RoleAttribute: role}
	}
	der, err := contracttest.NewCertificate(msp, "user-"+msp, attrs)
	if err != nil {
		tb.Fatalf("authorizationtest: certificate for %s (%s): %v", msp, role, err)
	}
	if certs.byKey == nil {
		certs.byKey = map[string][]byte{}
	}
	certs.byKey[key] = der
	return slices.Clone(der)
}
