package authorization

import (
	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// getAllRoles is ngac:GetAllRoles: ["Authorizing Official"].
func getAllRoles(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 0); err != nil {
		return nil, err
	}
	return marshalResponse(blossompolicy.AuthorizationRoles())
}

// getAllPrivileges is ngac:GetAllPrivileges: the eleven rights of the
// authorization policy in the reference order.
func getAllPrivileges(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 0); err != nil {
		return nil, err
	}
	return marshalResponse(blossompolicy.AuthorizationPrivileges())
}
