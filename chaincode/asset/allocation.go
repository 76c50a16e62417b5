package asset

import (
	"errors"
	"fmt"
	"time"

	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// The allocation protocol of the order contract (spec §2.3.2, license
// lifecycle §3.5 L3-L5): 1. GetLicensesToAllocateForOrder proposes
// licenses, 2. AllocateLicenses allocates them at the service provider and
// stores the pending ALLOCATE request, 3. GetAllocateRequestForOrder reads
// it, 4. SendLicenses delivers it into the requesting member's collection.

// getLicensesToAllocateForOrder is order:GetLicensesToAllocateForOrder
// {orderId, account}: the first amount available licenses of the order's
// asset, by license ID. Nothing is reserved.
func getLicensesToAllocateForOrder(stub contract.Stub, args [][]byte) ([]byte, error) {
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
	switch o.Status {
	case Approved:
	case RenewalApproved:
		return nil, errors.New("cannot get licenses to allocate for an order that is being renewed")
	default:
		return nil, errors.New("cannot get licenses to allocate for an order that has not been approved")
	}
	licenses, err := tx.scanLicenses(o.AssetID)
	if err != nil {
		return nil, err
	}
	available := []string{}
	for _, l := range licenses { // sorted by ID
		if l.Allocated == nil && len(available) < o.Amount {
			available = append(available, l.ID)
		}
	}
	if len(available) < o.Amount {
		return nil, fmt.Errorf("not enough available licenses to complete order %s", ref.OrderID)
	}
	return response(AllocateLicensesResponse{OrderID: o.ID, Account: o.Account, Licenses: available})
}

// allocateLicenses is order:AllocateLicenses {orderId, account, licenses}:
// the service provider's Acquisition Officer allocates exactly amount
// available licenses to an approved order (O6, R-07), or extends the
// order's licenses for an approved renewal (O12; the request's list is
// not used). It stores the ALLOCATE request and returns only the order ID.
func allocateLicenses(stub contract.Stub, args [][]byte) ([]byte, error) {
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
	requested, err := req.licenseIDs("licenses")
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
	renewal := o.Status == RenewalApproved
	if o.Status != Approved && !renewal {
		return nil, errors.New("cannot allocate licenses for an order that has not been approved")
	}
	// An allocation and a return of the same order never overlap, so that
	// SendLicenses cannot put back a license being returned.
	if pending, err := tx.privateExistsKey(deallocateKey(ref.OrderID)); err != nil || pending {
		if err == nil {
			err = fmt.Errorf("cannot allocate licenses for order %s while a return of its licenses is in progress", ref.OrderID)
		}
		return nil, err
	}
	idx, err := tx.getLicenseIndex(o.AssetID)
	if err != nil {
		return nil, err
	}
	now := stub.GetTxTimestamp()
	var base time.Time
	ids := requested
	if renewal {
		ids = o.Licenses
		if o.Expiration == nil {
			return nil, fmt.Errorf("order %s has no expiration to renew", o.ID)
		}
		if base, err = parseStoredDate(*o.Expiration); err != nil {
			return nil, fmt.Errorf("order %s: expiration %w", o.ID, err)
		}
	} else {
		base = now
		if _, dup := firstDuplicate(ids); dup {
			return nil, errDuplicateLicenses
		}
		if len(ids) != o.Amount {
			return nil, fmt.Errorf("number of licenses %d does not match order amount %d", len(ids), o.Amount)
		}
	}
	exp, err := addYears(base, o.Duration)
	if err != nil {
		return nil, err
	}
	expiration := formatDate(exp)

	records := make([]*License, len(ids))
	markers := make([]string, len(ids))
	for i, id := range ids {
		l, marker, err := tx.findLicense(idx, o.AssetID, id)
		if err != nil {
			return nil, err
		}
		switch {
		case renewal && l == nil:
			return nil, fmt.Errorf("allocated license %s does not exist for asset %s", id, o.AssetID)
		case renewal && (l.Allocated == nil || l.Allocated.OrderID != o.ID || l.Allocated.Account != o.Account):
			return nil, fmt.Errorf("license %s is not allocated to order %s", id, o.ID)
		case l == nil:
			return nil, fmt.Errorf("license %s does not exist for asset %s", id, o.AssetID)
		case !renewal && l.Allocated != nil:
			return nil, fmt.Errorf("license %s is already allocated", id)
		}
		records[i], markers[i] = l, marker
	}

	for i, l := range records {
		l.Allocated = &AllocatedRecord{LicenseID: l.ID, Account: o.Account, Expiration: expiration, OrderID: o.ID}
		if err := tx.putLicense(o.AssetID, markers[i], l); err != nil {
			return nil, err
		}
	}
	date := formatInstant(now)
	o.Expiration = &expiration
	o.AllocatedDate, o.LatestRenewalDate = date, date
	o.Licenses = append([]string{}, ids...)
	if err := tx.putOrder(o); err != nil {
		return nil, err
	}
	if err := tx.putOrderStatus(o.Account, o.ID, Allocated); err != nil {
		return nil, err
	}
	pending := LicensesRequest{Account: o.Account, AssetID: o.AssetID, OrderID: o.ID, Expiration: expiration, Licenses: o.Licenses}
	key, err := allocateKey(o.ID)
	if err != nil {
		return nil, err
	}
	if err := tx.putPrivate(tx.spColl, key, "allocation request", &pending); err != nil {
		return nil, err
	}
	// The spec returns the request, but a submitted transaction's result
	// is stored in the block every member reads, which would reveal the
	// license IDs; the service provider reads the request back with
	// GetAllocateRequestForOrder (an evaluation) instead.
	return response(IDResponse{ID: o.ID})
}

// privateExistsKey is privateExists on the service provider's collection
// for a key still to be built.
func (tx *txn) privateExistsKey(key string, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	return tx.privateExists(tx.spColl, key)
}

// getAllocateRequestForOrder is order:GetAllocateRequestForOrder {orderId}.
func getAllocateRequestForOrder(stub contract.Stub, args [][]byte) ([]byte, error) {
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
	key, err := allocateKey(orderID)
	if err != nil {
		return nil, err
	}
	var pending LicensesRequest
	found, err := tx.getPrivate(tx.spColl, key, "allocation request", &pending)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("no allocate request exists for order %s", orderID)
	}
	return response(pending)
}

// sendLicenses is order:SendLicenses (a LicensesRequest): the service
// provider delivers a pending allocation into the requesting member's
// collection. The request must equal the stored ALLOCATE record, which is
// tested through its hash: the function is endorsed by the service
// provider and the requesting member, neither of which reads the other's
// values.
func sendLicenses(stub contract.Stub, args [][]byte) ([]byte, error) {
	tx, lr, key, err := beginPendingLicenses(stub, args, allocateKey, "allocation request", "provided licenses to send do not match the licenses allocated")
	if err != nil {
		return nil, err
	}
	if err := stub.DelPrivateData(tx.spColl, key); err != nil {
		return nil, err
	}
	coll := ImplicitCollection(lr.Account)
	for _, id := range lr.Licenses {
		key, err := allocatedKey(lr.OrderID, id)
		if err != nil {
			return nil, err
		}
		rec := &AllocatedRecord{LicenseID: id, Account: lr.Account, Expiration: lr.Expiration, OrderID: lr.OrderID}
		if err := tx.putPrivate(coll, key, "leased license", rec); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// beginPendingLicenses opens a step that completes a pending licenses
// request (a delivery or a return) stored in the service provider's
// collection under keyOf(orderId): the request must equal the pending one,
// compared by the hash of its canonical encoding, so that the requesting
// member's peer, which cannot read the service provider's values, endorses
// the same verdict. Check order: arguments, request, allocate privilege,
// then the comparison (mismatch: the error text given).
func beginPendingLicenses(stub contract.Stub, args [][]byte, keyOf func(string) (string, error), what, mismatch string) (*txn, LicensesRequest, string, error) {
	tx, err := begin(stub, args)
	if err != nil {
		return nil, LicensesRequest{}, "", err
	}
	req, err := readRequest(stub)
	if err != nil {
		return nil, LicensesRequest{}, "", err
	}
	lr, err := req.licensesRequest()
	if err != nil {
		return nil, LicensesRequest{}, "", err
	}
	if err := tx.authorizeAsset(blossompolicy.RightAllocateLicense); err != nil {
		return nil, LicensesRequest{}, "", err
	}
	key, err := keyOf(lr.OrderID)
	if err != nil {
		return nil, LicensesRequest{}, "", err
	}
	same, err := tx.privateEquals(tx.spColl, key, what, &lr)
	if err != nil {
		return nil, LicensesRequest{}, "", err
	}
	if !same {
		return nil, LicensesRequest{}, "", errors.New(mismatch)
	}
	return tx, lr, key, nil
}
