package asset

import (
	"maps"
	"slices"

	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// The read functions of the order contract (spec §2.3.2).

// getOrder is order:GetOrder {orderId, account}.
func getOrder(stub contract.Stub, args [][]byte) ([]byte, error) {
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
	if err := tx.authorizeAccount(ref.Account, blossompolicy.RightReadOrder); err != nil {
		return nil, err
	}
	o, err := tx.getOrder(ref.Account, ref.OrderID)
	if err != nil {
		return nil, err
	}
	if o == nil {
		return nil, noOrder(ref.OrderID, ref.Account)
	}
	return response(o)
}

// getOrdersByAccount is order:GetOrdersByAccount {account}: the account's
// orders by order ID (a composite-key scan, so that no other account's
// orders can match, R-12).
func getOrdersByAccount(stub contract.Stub, args [][]byte) ([]byte, error) {
	return ordersOfAccount(stub, args, false)
}

// getOrdersByAccountAndAsset is order:GetOrdersByAccountAndAsset
// {assetId, account}.
func getOrdersByAccountAndAsset(stub contract.Stub, args [][]byte) ([]byte, error) {
	return ordersOfAccount(stub, args, true)
}

func ordersOfAccount(stub contract.Stub, args [][]byte, byAsset bool) ([]byte, error) {
	tx, err := begin(stub, args)
	if err != nil {
		return nil, err
	}
	req, err := readRequest(stub)
	if err != nil {
		return nil, err
	}
	var assetID string
	if byAsset {
		if assetID, err = req.id("assetId"); err != nil {
			return nil, err
		}
	}
	account, err := req.account("account")
	if err != nil {
		return nil, err
	}
	if err := tx.authorizeAccount(account, blossompolicy.RightReadOrder); err != nil {
		return nil, err
	}
	orders, err := tx.scanOrders(account)
	if err != nil {
		return nil, err
	}
	if byAsset {
		orders = slices.DeleteFunc(orders, func(o *Order) bool { return o.AssetID != assetID })
	}
	return response(orders)
}

// getOrdersByAsset is order:GetOrdersByAsset {assetId}: the asset's orders
// that the caller may read (read_order on the order's account); the
// others are silently left out.
func getOrdersByAsset(stub contract.Stub, args [][]byte) ([]byte, error) {
	tx, err := begin(stub, args)
	if err != nil {
		return nil, err
	}
	req, err := readRequest(stub)
	if err != nil {
		return nil, err
	}
	assetID, err := req.id("assetId")
	if err != nil {
		return nil, err
	}
	return tx.readableOrders(func(o *Order) (bool, error) { return o.AssetID == assetID, nil })
}

// getExpiredOrders is order:GetExpiredOrders: the orders whose expiration
// is strictly before the transaction timestamp and that the caller may
// read. Orders without expiration (not yet allocated) are skipped and
// both stored date formats are read.
func getExpiredOrders(stub contract.Stub, args [][]byte) ([]byte, error) {
	tx, err := begin(stub, args)
	if err != nil {
		return nil, err
	}
	now := stub.GetTxTimestamp()
	return tx.readableOrders(func(o *Order) (bool, error) {
		if o.Expiration == nil || *o.Expiration == "" {
			return false, nil
		}
		exp, err := parseStoredDate(*o.Expiration)
		if err != nil {
			return false, err
		}
		return now.After(exp), nil
	})
}

// readableOrders returns every order that match selects and that the
// caller may read, in key order (account, then order ID). The caller's
// role and status are checked only once an order is selected, as in the
// reference.
func (tx *txn) readableOrders(match func(*Order) (bool, error)) ([]byte, error) {
	orders, err := tx.scanOrders()
	if err != nil {
		return nil, err
	}
	out := []*Order{}
	for _, o := range orders {
		ok, err := match(o)
		if err != nil || !ok {
			if err != nil {
				return nil, err
			}
			continue
		}
		if ok, err = tx.mayReadOrders(o.Account); err != nil {
			return nil, err
		}
		if ok {
			out = append(out, o)
		}
	}
	return response(out)
}

// getAvailableLicensesForOrder is order:GetAvailableLicensesForOrder
// {orderId, account}: the licenses leased under the order, by ID, that
// have no SWID tag. It reads the requesting member's collection, so it is
// evaluated on that member's peer.
func getAvailableLicensesForOrder(stub contract.Stub, args [][]byte) ([]byte, error) {
	return leasedLicenses(stub, args, false)
}

// leasedLicenses lists the licenses leased under an order (in the order
// account's collection) with a SWID tag (withSWID) or without one.
func leasedLicenses(stub contract.Stub, args [][]byte, withSWID bool) ([]byte, error) {
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
	if err := tx.authorizeAccount(ref.Account, blossompolicy.RightReadLicense); err != nil {
		return nil, err
	}
	coll := ImplicitCollection(ref.Account)
	tagged := map[string]bool{}
	err = tx.scanPrivate(coll, keySWID, []string{ref.OrderID}, func(_ string, v []byte) error {
		var s SWID
		if err := jsonUnmarshal(v, &s, "SWID"); err != nil {
			return err
		}
		tagged[s.LicenseID] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := []string{}
	if withSWID {
		out = append(out, slices.Sorted(maps.Keys(tagged))...)
		return response(out)
	}
	err = tx.scanPrivate(coll, keyAllocated, []string{ref.OrderID}, func(_ string, v []byte) error {
		var a AllocatedRecord
		if err := jsonUnmarshal(v, &a, "leased license"); err != nil {
			return err
		}
		if !tagged[a.LicenseID] {
			out = append(out, a.LicenseID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(out)
	return response(out)
}
