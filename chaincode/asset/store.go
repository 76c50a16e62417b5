package asset

import (
	"fmt"
	"slices"
	"strings"
)

// Reads and writes of the service provider's collection. Functions that a
// requesting member's peer also endorses must not call the value reads
// here (those peers do not hold the values): they use privateExists and
// privateEquals.

func assetKey(assetID string) (string, error) { return compositeKey(keyAsset, assetID) }

// getAsset returns the asset, or nil if it does not exist.
func (tx *txn) getAsset(assetID string) (*Asset, error) {
	key, err := assetKey(assetID)
	if err != nil {
		return nil, err
	}
	var a Asset
	found, err := tx.getPrivate(tx.spColl, key, "asset", &a)
	if err != nil || !found {
		return nil, err
	}
	return &a, nil
}

// existingAsset is getAsset for an asset that must exist: a missing one is
// the spec's "asset ... does not exist" error (noAsset).
func (tx *txn) existingAsset(assetID string) (*Asset, error) {
	a, err := tx.getAsset(assetID)
	if err != nil {
		return nil, err
	}
	if a == nil {
		return nil, noAsset(assetID)
	}
	return a, nil
}

func (tx *txn) putAsset(a *Asset) error {
	key, err := assetKey(a.ID)
	if err != nil {
		return err
	}
	return tx.putPrivate(tx.spColl, key, "asset", a)
}

// getLicenseIndex returns the asset's license index (empty if none).
func (tx *txn) getLicenseIndex(assetID string) (*licenseIndex, error) {
	key, err := compositeKey(keyLicenses, assetID)
	if err != nil {
		return nil, err
	}
	idx := &licenseIndex{}
	if _, err := tx.getPrivate(tx.spColl, key, "license index", idx); err != nil {
		return nil, err
	}
	if idx.Markers == nil {
		idx.Markers = map[string]string{}
	}
	return idx, nil
}

func (tx *txn) putLicenseIndex(assetID string, idx *licenseIndex) error {
	key, err := compositeKey(keyLicenses, assetID)
	if err != nil {
		return err
	}
	return tx.putPrivate(tx.spColl, key, "license index of asset "+assetID, idx)
}

func licenseKey(assetID, marker string) (string, error) {
	return compositeKey(keyLicense, assetID, marker)
}

// getLicense returns the license record under marker, or nil.
func (tx *txn) getLicense(assetID, marker string) (*License, error) {
	key, err := licenseKey(assetID, marker)
	if err != nil {
		return nil, err
	}
	var l License
	found, err := tx.getPrivate(tx.spColl, key, "license", &l)
	if err != nil || !found {
		return nil, err
	}
	return &l, nil
}

// findLicense returns the asset's license with ID licenseID and its
// marker, or nil.
func (tx *txn) findLicense(idx *licenseIndex, assetID, licenseID string) (*License, string, error) {
	marker, ok := idx.Markers[licenseID]
	if !ok {
		return nil, "", nil
	}
	l, err := tx.getLicense(assetID, marker)
	if err != nil || l == nil {
		return nil, "", err
	}
	if l.ID != licenseID {
		return nil, "", fmt.Errorf("stored license under marker %s is not %s", marker, licenseID)
	}
	return l, marker, nil
}

// putLicense writes the license record and (re)writes its public marker,
// so that the transaction appears in the license's history.
func (tx *txn) putLicense(assetID, marker string, l *License) error {
	key, err := licenseKey(assetID, marker)
	if err != nil {
		return err
	}
	if err := tx.putPrivate(tx.spColl, key, "license", l); err != nil {
		return err
	}
	return tx.stub.PutState(marker, markerValue)
}

// scanLicenses returns every license of the asset (read-only functions
// only: it is a private range read).
func (tx *txn) scanLicenses(assetID string) ([]License, error) {
	var out []License
	err := tx.scanPrivate(tx.spColl, keyLicense, []string{assetID}, func(_ string, v []byte) error {
		var l License
		if err := jsonUnmarshal(v, &l, "license"); err != nil {
			return err
		}
		out = append(out, l)
		return nil
	})
	slices.SortFunc(out, func(a, b License) int { return strings.Compare(a.ID, b.ID) })
	return out, err
}

// Orders.

func orderKey(account, orderID string) (string, error) {
	return compositeKey(keyOrder, account, orderID)
}

func orderStatusKey(account, orderID string) (string, error) {
	return compositeKey(keyOrderStatus, account, orderID)
}

func orderDateKey(account, orderID, kind string) (string, error) {
	return compositeKey(keyOrderDate, account, orderID, kind)
}

// getOrder returns the order (account, orderID), or nil if it does not
// exist.
func (tx *txn) getOrder(account, orderID string) (*Order, error) {
	key, err := orderKey(account, orderID)
	if err != nil {
		return nil, err
	}
	var rec orderRecord
	found, err := tx.getPrivate(tx.spColl, key, "order", &rec)
	if err != nil || !found {
		return nil, err
	}
	return tx.completeOrder(&rec)
}

// completeOrder adds an order record's status and dates.
func (tx *txn) completeOrder(rec *orderRecord) (*Order, error) {
	key, err := orderStatusKey(rec.Account, rec.ID)
	if err != nil {
		return nil, err
	}
	var st orderStatusRecord
	found, err := tx.getPrivate(tx.spColl, key, "order status", &st)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("order %s of account %s has no status", rec.ID, rec.Account)
	}
	o := &Order{
		ID: rec.ID, Account: rec.Account, Status: st.Status,
		AllocatedDate: rec.AllocatedDate, LatestRenewalDate: rec.LatestRenewalDate,
		AssetID: rec.AssetID, Amount: rec.Amount, Duration: rec.Duration, Price: rec.Price,
		Expiration: rec.Expiration, Licenses: rec.Licenses,
	}
	if o.InitiationDate, err = tx.getOrderDate(rec.Account, rec.ID, initiationDate); err != nil {
		return nil, err
	}
	if o.ApprovalDate, err = tx.getOrderDate(rec.Account, rec.ID, approvalDate); err != nil {
		return nil, err
	}
	return o, nil
}

func (tx *txn) getOrderDate(account, orderID, kind string) (string, error) {
	key, err := orderDateKey(account, orderID, kind)
	if err != nil {
		return "", err
	}
	var d string
	_, err = tx.getPrivate(tx.spColl, key, "order date", &d)
	return d, err
}

// putOrder writes the service provider's part of the order (not its
// status or its initiation and approval dates).
func (tx *txn) putOrder(o *Order) error {
	key, err := orderKey(o.Account, o.ID)
	if err != nil {
		return err
	}
	rec := orderRecord{
		ID: o.ID, Account: o.Account, AssetID: o.AssetID, Amount: o.Amount, Duration: o.Duration, Price: o.Price,
		AllocatedDate: o.AllocatedDate, LatestRenewalDate: o.LatestRenewalDate, Expiration: o.Expiration, Licenses: o.Licenses,
	}
	return tx.putPrivate(tx.spColl, key, "order "+o.ID, &rec)
}

// putOrderStatus writes the order's status record (a blind write).
func (tx *txn) putOrderStatus(account, orderID string, status OrderStatus) error {
	key, err := orderStatusKey(account, orderID)
	if err != nil {
		return err
	}
	return tx.putPrivate(tx.spColl, key, "order status", &orderStatusRecord{OrderID: orderID, Account: account, Status: status})
}

// orderStatusIs tests the order's status through the hash of its record.
func (tx *txn) orderStatusIs(account, orderID string, status OrderStatus) (bool, error) {
	key, err := orderStatusKey(account, orderID)
	if err != nil {
		return false, err
	}
	return tx.privateEquals(tx.spColl, key, "order status", &orderStatusRecord{OrderID: orderID, Account: account, Status: status})
}

// orderExists tests the order's existence through its hash.
func (tx *txn) orderExists(account, orderID string) (bool, error) {
	key, err := orderKey(account, orderID)
	if err != nil {
		return false, err
	}
	return tx.privateExists(tx.spColl, key)
}

func (tx *txn) putOrderDate(account, orderID, kind, date string) error {
	key, err := orderDateKey(account, orderID, kind)
	if err != nil {
		return err
	}
	return tx.putPrivate(tx.spColl, key, "order date", date)
}

// scanOrders returns the orders under the leading key attributes attrs
// (none: every order; one: an account's), in key order. Read-only
// functions only.
func (tx *txn) scanOrders(attrs ...string) ([]*Order, error) {
	var recs []orderRecord
	err := tx.scanPrivate(tx.spColl, keyOrder, attrs, func(_ string, v []byte) error {
		var rec orderRecord
		if err := jsonUnmarshal(v, &rec, "order"); err != nil {
			return err
		}
		recs = append(recs, rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	orders := make([]*Order, 0, len(recs))
	for i := range recs {
		o, err := tx.completeOrder(&recs[i])
		if err != nil {
			return nil, err
		}
		orders = append(orders, o)
	}
	return orders, nil
}

// noOrder is the reference's message for a missing order.
func noOrder(orderID, account string) error {
	return fmt.Errorf("order with ID %s and account %s does not exist", orderID, account)
}

// Pending allocation (ALLOCATE) and return (DEALLOCATE) requests.

func allocateKey(orderID string) (string, error)   { return compositeKey(keyAllocate, orderID) }
func deallocateKey(orderID string) (string, error) { return compositeKey(keyDeallocate, orderID) }

// Records of a requesting member's collection.

func allocatedKey(orderID, licenseID string) (string, error) {
	return compositeKey(keyAllocated, orderID, licenseID)
}

func swidKey(orderID, licenseID string) (string, error) {
	return compositeKey(keySWID, orderID, licenseID)
}

// putTrustRecord writes the trust record of this transaction into the
// calling member's collection (DESIGN §11).
func (tx *txn) putTrustRecord(function, orderID, account string, status OrderStatus, licenses []string) error {
	user, err := tx.callerUser()
	if err != nil {
		return err
	}
	msp := tx.stub.GetMSPID()
	key, err := compositeKey(keyTrust, orderID, tx.stub.GetTxID())
	if err != nil {
		return err
	}
	rec := &TrustRecord{
		TxID: tx.stub.GetTxID(), Timestamp: formatInstant(tx.stub.GetTxTimestamp()), Function: function,
		OrderID: orderID, Account: account, User: user, Status: status, Licenses: licenses,
	}
	return tx.putPrivate(ImplicitCollection(msp), key, "trust record", rec)
}
