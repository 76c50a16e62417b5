package authorization

import (
	"errors"
	"fmt"

	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

var errNoMOU = errors.New("Blossom MOU has not yet been created")

// getMOU returns the current MOU, or nil before the first UpdateMOU.
func getMOU(stub contract.Stub) (*MOU, error) {
	data, err := stub.GetState(mouKey)
	if err != nil || data == nil {
		return nil, err
	}
	var m MOU
	if err := decodeRecord(mouKey, data, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// updateMOU is mou:UpdateMOU(text) (spec §3.3): the admin's Authorizing
// Official publishes version 1 or the next version, while the admin
// member is AUTHORIZED.
func updateMOU(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 1); err != nil {
		return nil, err
	}
	text := string(args[0])
	pol, err := loadPolicy(stub)
	if err != nil {
		return nil, err
	}
	c, err := getCreator(stub)
	if err != nil {
		return nil, err
	}
	if err := authorize(pol, c, blossompolicy.RightUpdateMOU, blossompolicy.BlossomTarget, "cid is not authorized to update the Blossom MOU"); err != nil {
		return nil, err
	}
	if text == "" {
		return nil, errors.New("text cannot be null or empty")
	}
	if err := checkText("text", text, MaxMOUTextSize); err != nil {
		return nil, err
	}
	mou, err := getMOU(stub)
	if err != nil {
		return nil, err
	}
	next := MOU{Text: text, Version: 1, Timestamp: formatInstant(stub.GetTxTimestamp())}
	if mou != nil {
		next.Version = mou.Version + 1
	}
	if err := putJSON(stub, mouKey, "MOU", next); err != nil {
		return nil, err
	}
	return nil, stub.SetEvent(EventUpdateMOU, nil)
}

// getMOUFn is mou:GetMOU.
func getMOUFn(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 0); err != nil {
		return nil, err
	}
	mou, err := getMOU(stub)
	if err != nil {
		return nil, err
	}
	if mou == nil {
		return nil, errNoMOU
	}
	return marshalResponse(mou)
}

// getMOUHistory is mou:GetMOUHistory: every version, newest first.
func getMOUHistory(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 0); err != nil {
		return nil, err
	}
	it, err := stub.GetHistoryForKey(mouKey)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	history := []MOU{}
	for it.HasNext() {
		mod, err := it.Next()
		if err != nil {
			return nil, err
		}
		if mod.IsDelete {
			continue
		}
		var m MOU
		if err := decodeRecord(mouKey, mod.Value, &m); err != nil {
			return nil, err
		}
		history = append(history, m)
	}
	return marshalResponse(history)
}

// signMOU is mou:SignMOU(version) (transitions A2, A3): any Authorizing
// Official signs the current MOU version for its member, creating the
// member's PENDING account on the first signature.
func signMOU(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 1); err != nil {
		return nil, err
	}
	version, err := parseInt("version", string(args[0]))
	if err != nil {
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
	if err := authorize(pol, c, blossompolicy.RightSignMOU, blossompolicy.BlossomTarget, "cid is not authorized to sign the MOU"); err != nil {
		return nil, err
	}
	policyChanged, err := pol.SignMOU(m)
	if err != nil {
		return nil, err
	}
	mou, err := getMOU(stub)
	if err != nil {
		return nil, err
	}
	if mou == nil {
		return nil, errNoMOU
	}
	if version != mou.Version {
		return nil, fmt.Errorf("signing MOU version %d, expected version %d", version, mou.Version)
	}
	acc, err := getAccount(stub, m)
	if err != nil {
		return nil, err
	}
	switch {
	case acc == nil:
		acc = &Account{ID: m, Status: blossompolicy.Pending, MOUVersion: version, Joined: false}
	case acc.MOUVersion == version:
		return nil, fmt.Errorf("%s has already signed MOU version %d", m, version)
	default:
		acc.MOUVersion = version
	}
	if policyChanged {
		if err := savePolicy(stub, pol); err != nil {
			return nil, err
		}
	}
	if err := putJSON(stub, accountKey(m), "account", acc); err != nil {
		return nil, err
	}
	return nil, setEventJSON(stub, EventSignMOU, signMOUEvent{Account: m, Version: version})
}
