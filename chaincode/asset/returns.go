package asset

import (
	"errors"
	"fmt"
	"slices"

	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// The return protocol of the order contract (spec §2.3.2, license
// lifecycle §3.5 L7-L9): 1. InitiateReturn (the requesting member) stores
// the DEALLOCATE request, 2. GetInitiatedReturnForOrder reads it,
// 3. DeallocateLicensesFromAccount removes the licenses from the member's
// collection and marks the request, 4. DeallocateLicensesFromSP makes them
// available again (only after step 3, R-10).

// initiateReturn is order:InitiateReturn (a LicensesRequest): the
// requesting member's Technical Point of Contact asks to return leased
// licenses. Endorsed by the service provider (the DEALLOCATE record) and
// by the member (its trust record); both read only hashes.
func initiateReturn(stub contract.Stub, args [][]byte) ([]byte, error) {
	tx, err := begin(stub, args)
	if err != nil {
		return nil, err
	}
	req, err := readRequest(stub)
	if err != nil {
		return nil, err
	}
	lr, err := req.licensesRequest()
	if err != nil {
		return nil, err
	}
	if err := tx.authorizeAccount(lr.Account, blossompolicy.RightReturnLicense); err != nil {
		return nil, err
	}
	if len(lr.Licenses) == 0 {
		return nil, errors.New("licenses cannot be empty")
	}
	if _, dup := firstDuplicate(lr.Licenses); dup {
		return nil, errDuplicateLicenses
	}
	dKey, err := deallocateKey(lr.OrderID)
	if err != nil {
		return nil, err
	}
	if active, err := tx.privateExists(tx.spColl, dKey); err != nil || active {
		if err == nil {
			err = fmt.Errorf("a request to return licenses for order %s is already active", lr.OrderID)
		}
		return nil, err
	}
	if pending, err := tx.privateExistsKey(allocateKey(lr.OrderID)); err != nil || pending {
		if err == nil {
			err = fmt.Errorf("cannot return licenses of order %s while an allocation of them is being sent", lr.OrderID)
		}
		return nil, err
	}
	coll := ImplicitCollection(lr.Account)
	for _, id := range lr.Licenses {
		key, err := allocatedKey(lr.OrderID, id)
		if err != nil {
			return nil, err
		}
		leased, err := tx.privateExists(coll, key)
		if err != nil {
			return nil, err
		}
		if !leased {
			return nil, fmt.Errorf("license %s is not leased by %s", id, lr.Account)
		}
	}
	if err := tx.putPrivate(tx.spColl, dKey, "return request", &lr); err != nil {
		return nil, err
	}
	return nil, tx.putTrustRecord("order:InitiateReturn", lr.OrderID, lr.Account, "", lr.Licenses)
}

// getReturn returns the pending return of an order, or nil.
func (tx *txn) getReturn(orderID string) (*returnRecord, error) {
	key, err := deallocateKey(orderID)
	if err != nil {
		return nil, err
	}
	var r returnRecord
	found, err := tx.getPrivate(tx.spColl, key, "return request", &r)
	if err != nil || !found {
		return nil, err
	}
	return &r, nil
}

func noReturn(orderID string) error {
	return fmt.Errorf("no deallocate request exists for order %s", orderID)
}

// getInitiatedReturnForOrder is order:GetInitiatedReturnForOrder {orderId}.
func getInitiatedReturnForOrder(stub contract.Stub, args [][]byte) ([]byte, error) {
	tx, err := begin(stub, args)
	if err != nil {
		return nil, err
	}
	req, err := readRequest(stub)
	if err != nil {
		return nil, err
	}
	orderID, err := req.id("orderId")
	if err != nil {
		return nil, err
	}
	if err := tx.authorizeAsset(blossompolicy.RightAllocateLicense); err != nil {
		return nil, err
	}
	r, err := tx.getReturn(orderID)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, noReturn(orderID)
	}
	return response(r.request())
}

// deallocateLicensesFromAccount is order:DeallocateLicensesFromAccount (a
// LicensesRequest): the service provider's Acquisition Officer removes the
// returned licenses (and their SWID tags, R-09) from the requesting
// member's collection and marks the return request. The request
// must equal the pending one, tested through its hash; endorsed by the
// member and the service provider.
func deallocateLicensesFromAccount(stub contract.Stub, args [][]byte) ([]byte, error) {
	tx, lr, dKey, err := beginPendingLicenses(stub, args, deallocateKey, "return request", "provided deallocation request does not match the one initiated")
	if err != nil {
		return nil, err
	}
	coll := ImplicitCollection(lr.Account)
	for _, id := range lr.Licenses {
		for _, keyOf := range []func(string, string) (string, error){allocatedKey, swidKey} {
			key, err := keyOf(lr.OrderID, id)
			if err != nil {
				return nil, err
			}
			if err := stub.DelPrivateData(coll, key); err != nil {
				return nil, err
			}
		}
	}
	marked := &returnRecord{Account: lr.Account, AssetID: lr.AssetID, OrderID: lr.OrderID,
		Expiration: lr.Expiration, Licenses: lr.Licenses, RemovedFromAccount: true}
	return nil, tx.putPrivate(tx.spColl, dKey, "return request", marked)
}

// deallocateLicensesFromSP is order:DeallocateLicensesFromSP {orderId,
// account}: the returned licenses become available again, the order keeps
// the others (O13; its status does not change, R-26).
func deallocateLicensesFromSP(stub contract.Stub, args [][]byte) ([]byte, error) {
	tx, err := begin(stub, args)
	if err != nil {
		return nil, err
	}
	req, err := readRequest(stub)
	if err != nil {
		return nil, err
	}
	ref, err := req.orderRef()
	if err != nil {
		return nil, err
	}
	if err := tx.authorizeAsset(blossompolicy.RightAllocateLicense); err != nil {
		return nil, err
	}
	o, err := tx.getOrder(ref.Account, ref.OrderID)
	if err != nil {
		return nil, err
	}
	if o == nil {
		return nil, noOrder(ref.OrderID, ref.Account)
	}
	r, err := tx.getReturn(ref.OrderID)
	if err != nil {
		return nil, err
	}
	if r == nil || r.Account != ref.Account {
		return nil, noReturn(ref.OrderID)
	}
	if !r.RemovedFromAccount {
		return nil, fmt.Errorf("licenses have not been removed from account %s yet", ref.Account)
	}
	idx, err := tx.getLicenseIndex(o.AssetID)
	if err != nil {
		return nil, err
	}
	records := make([]*License, len(r.Licenses))
	markers := make([]string, len(r.Licenses))
	for i, id := range r.Licenses {
		l, marker, err := tx.findLicense(idx, o.AssetID, id)
		if err != nil {
			return nil, err
		}
		if l == nil {
			return nil, fmt.Errorf("license %s does not exist", id)
		}
		if l.Allocated == nil || l.Allocated.OrderID != o.ID || l.Allocated.Account != o.Account {
			return nil, fmt.Errorf("license %s is not allocated to order %s", id, o.ID)
		}
		records[i], markers[i] = l, marker
	}
	for i, l := range records {
		l.Allocated = nil
		if err := tx.putLicense(o.AssetID, markers[i], l); err != nil {
			return nil, err
		}
	}
	returned := make(map[string]bool, len(r.Licenses))
	for _, id := range r.Licenses {
		returned[id] = true
	}
	o.Licenses = slices.DeleteFunc(slices.Clone(o.Licenses), func(id string) bool { return returned[id] })
	o.Amount -= len(r.Licenses)
	if o.Amount < 0 {
		o.Amount = 0
	}
	if err := tx.putOrder(o); err != nil {
		return nil, err
	}
	key, err := deallocateKey(ref.OrderID)
	if err != nil {
		return nil, err
	}
	return nil, stub.DelPrivateData(tx.spColl, key)
}
