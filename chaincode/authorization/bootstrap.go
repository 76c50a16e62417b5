package authorization

import (
	"errors"

	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// bootstrap is bootstrap:Bootstrap (spec §2.2.1, transition A1): the admin
// member's Authorizing Official stores the initial policy and the admin
// account, AUTHORIZED, once.
func bootstrap(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 0); err != nil {
		return nil, err
	}
	admin, err := adminMSP(stub)
	if err != nil {
		return nil, err
	}
	existing, err := stub.GetState(blossompolicy.PolicyKey)
	if err != nil {
		return nil, err
	}
	if existing != nil {
		return nil, errors.New("Bootstrap already called")
	}
	pol, err := blossompolicy.NewAuthorizationPolicy(admin)
	if err != nil {
		return nil, err
	}
	c, err := getCreator(stub)
	if err != nil {
		return nil, err
	}
	if err := authorize(pol, c, blossompolicy.RightBootstrap, blossompolicy.BlossomTarget, "cid is not authorized to bootstrap Blossom"); err != nil {
		return nil, err
	}
	if err := savePolicy(stub, pol); err != nil {
		return nil, err
	}
	return nil, putJSON(stub, accountKey(admin), "account", Account{ID: admin, Status: blossompolicy.Authorized, MOUVersion: 0, Joined: true})
}

// test is bootstrap:Test: a liveness probe.
func test(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 0); err != nil {
		return nil, err
	}
	return []byte("hello blossom"), nil
}
