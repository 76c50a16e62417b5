package authorization

import (
	"fmt"

	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// join is account:Join (transition A6): the Authorizing Official of an
// AUTHORIZED member declares the member's intent to join.
func join(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 0); err != nil {
		return nil, err
	}
	pol, err := loadPolicy(stub)
	if err != nil {
		return nil, err
	}
	c, err := getCreator(stub)
	if err != nil {
		return nil, err
	}
	m := c.MSPID
	if err := authorize(pol, c, blossompolicy.RightJoin, blossompolicy.AccountTarget(m), "cid is not authorized to join for account "+m); err != nil {
		return nil, err
	}
	acc, err := getAccount(stub, m)
	if err != nil {
		return nil, err
	}
	if acc == nil {
		return nil, fmt.Errorf("account %s does not exist", m)
	}
	if acc.Joined {
		return nil, fmt.Errorf("%s has already joined", m)
	}
	acc.Joined = true
	if err := putJSON(stub, accountKey(m), "account", acc); err != nil {
		return nil, err
	}
	return nil, stub.SetEvent(EventJoin, nil)
}

// getAccounts is account:GetAccounts: every account, by MSP ID.
func getAccounts(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 0); err != nil {
		return nil, err
	}
	accounts, err := listAccounts(stub)
	if err != nil {
		return nil, err
	}
	return marshalResponse(accounts)
}

// listAccounts returns every account in key (MSP ID) order.
func listAccounts(stub contract.Stub) ([]Account, error) {
	// Member IDs have no ':' or ';', so [account:, account;) holds exactly
	// the accounts.
	it, err := stub.GetStateByRange(accountPrefix, "account;")
	if err != nil {
		return nil, err
	}
	defer it.Close()
	accounts := []Account{}
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return nil, err
		}
		acc, err := decodeAccount(kv.Key, kv.Value)
		if err != nil {
			return nil, err
		}
		accounts = append(accounts, *acc)
	}
	return accounts, nil
}

// getAccountFn is account:GetAccount(accountId).
func getAccountFn(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 1); err != nil {
		return nil, err
	}
	id, err := parseAccountID("accountId", string(args[0]))
	if err != nil {
		return nil, err
	}
	acc, err := getAccount(stub, id)
	if err != nil {
		return nil, err
	}
	if acc == nil {
		return nil, fmt.Errorf("an account with id %s does not exist", id)
	}
	return marshalResponse(acc)
}

// getAccountStatus is account:GetAccountStatus: the caller member's status
// as a plain string ("AUTHORIZED"). The asset chaincode calls it within
// its own transactions (InvokeChaincode runs it with the same creator).
// A member without account gets "account <MSP> does not exist".
func getAccountStatus(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 0); err != nil {
		return nil, err
	}
	m := stub.GetMSPID()
	var acc *Account
	if blossompolicy.ValidateMemberID(m) == nil {
		var err error
		if acc, err = getAccount(stub, m); err != nil {
			return nil, err
		}
	}
	if acc == nil {
		return nil, fmt.Errorf("account %s does not exist", m)
	}
	return []byte(acc.Status), nil
}

// getAccountHistory is account:GetAccountHistory(accountId): every
// committed version of the account, newest first ([] for an unknown id).
func getAccountHistory(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 1); err != nil {
		return nil, err
	}
	id, err := parseAccountID("accountId", string(args[0]))
	if err != nil {
		return nil, err
	}
	key := accountKey(id)
	it, err := stub.GetHistoryForKey(key)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	history := []AccountHistorySnapshot{}
	for it.HasNext() {
		mod, err := it.Next()
		if err != nil {
			return nil, err
		}
		if mod.IsDelete {
			continue
		}
		acc, err := decodeAccount(key, mod.Value)
		if err != nil {
			return nil, err
		}
		history = append(history, AccountHistorySnapshot{TxID: mod.TxID, Timestamp: formatInstant(mod.Timestamp), Account: *acc})
	}
	return marshalResponse(history)
}
