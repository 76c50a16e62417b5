package asset

import (
	"fmt"

	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// The quote and approval part of the order contract (spec §2.3.2, state
// machine §3.4).

// getQuote is order:GetQuote {account, assetId, amount, duration,
// orderId?}: the requesting member's Technical Point of Contact asks for a
// quote on a new order (transition O1), or, with orderId, for the renewal
// of an allocated order (O7; R-06: only from ALLOCATED or RENEWAL_DENIED,
// for the order's own asset, keeping its amount and duration). Endorsed by
// the service provider.
func getQuote(stub contract.Stub, args [][]byte) ([]byte, error) {
	tx, err := begin(stub, args)
	if err != nil {
		return nil, err
	}
	req, err := readRequest(stub)
	if err != nil {
		return nil, err
	}
	account, err := req.account("account")
	if err != nil {
		return nil, err
	}
	assetID, err := req.id("assetId")
	if err != nil {
		return nil, err
	}
	amount, err := req.positiveInt("amount", MaxLicenses)
	if err != nil {
		return nil, err
	}
	duration, err := req.positiveInt("duration", MaxDuration)
	if err != nil {
		return nil, err
	}
	renewalOf, renewal, err := req.optionalID("orderId")
	if err != nil {
		return nil, err
	}
	if err := tx.authorizeAccount(account, blossompolicy.RightInitiateOrder); err != nil {
		return nil, err
	}
	// Only the member's own TPOC holds initiate_order on its account.
	msp := stub.GetMSPID()
	if renewal {
		o, err := tx.getOrder(msp, renewalOf)
		if err != nil {
			return nil, err
		}
		if o == nil {
			return nil, noOrder(renewalOf, msp)
		}
		if err := tx.requireAsset(assetID); err != nil {
			return nil, err
		}
		if assetID != o.AssetID {
			return nil, fmt.Errorf("asset %s is not the asset of order %s", assetID, renewalOf)
		}
		if (o.Status != Allocated && o.Status != RenewalDenied) || len(o.Licenses) == 0 {
			return nil, fmt.Errorf("order %s cannot be renewed", renewalOf)
		}
		if err := tx.putOrderStatus(msp, renewalOf, RenewalQuoteRequested); err != nil {
			return nil, err
		}
		return response(IDResponse{ID: renewalOf})
	}
	if err := tx.requireAsset(assetID); err != nil {
		return nil, err
	}
	orderID := stub.GetTxID()
	if err := checkID("order id", orderID); err != nil {
		return nil, err
	}
	if exists, err := tx.orderExists(msp, orderID); err != nil || exists {
		if err == nil {
			err = fmt.Errorf("order %s already exists", orderID)
		}
		return nil, err
	}
	o := &Order{ID: orderID, Account: msp, AssetID: assetID, Amount: amount, Duration: duration}
	if err := tx.putOrder(o); err != nil {
		return nil, err
	}
	if err := tx.putOrderStatus(msp, orderID, QuoteRequested); err != nil {
		return nil, err
	}
	return response(IDResponse{ID: orderID})
}

// requireAsset refuses an asset that does not exist: "asset <a> does not
// exist" (GetQuote's text).
func (tx *txn) requireAsset(assetID string) error {
	a, err := tx.getAsset(assetID)
	if err != nil {
		return err
	}
	if a == nil {
		return fmt.Errorf("asset %s does not exist", assetID)
	}
	return nil
}

// sendQuote is order:SendQuote {orderId, account, price}: the service
// provider's Acquisition Officer quotes a price (O2, O8).
func sendQuote(stub contract.Stub, args [][]byte) ([]byte, error) {
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
	price, err := req.price("price")
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
	var next OrderStatus
	switch o.Status {
	case QuoteRequested:
		next = QuoteReceived
	case RenewalQuoteRequested:
		next = RenewalQuoteReceived
	default:
		return nil, fmt.Errorf("a quote request for order %s does not exist", ref.OrderID)
	}
	o.Price = price
	if err := tx.putOrder(o); err != nil {
		return nil, err
	}
	if err := tx.putOrderStatus(ref.Account, ref.OrderID, next); err != nil {
		return nil, err
	}
	return response(IDResponse{ID: ref.OrderID})
}

// A transition made by the requesting member: InitiateOrder, ApproveOrder
// and DenyOrder are endorsed by the service provider (whose collection
// holds the order) and by the requesting member (whose collection gets the
// trust record). Neither peer can read the other's values, so the order is
// tested through hashes only and written without being read.
type memberTransition struct {
	function string // for the trust record
	right    string // decided on the order's account
	// from lists the statuses the transition applies to (new order,
	// renewal), to the status each one moves to.
	from, to [2]OrderStatus
	refused  string // format of the refusal, with the order ID
	date     string // the date record the new-order branch sets, or ""
	dateBoth bool   // set the date on renewals too
	respond  bool   // return IDResponse
}

var (
	initiateOrderTransition = memberTransition{
		function: "order:InitiateOrder", right: blossompolicy.RightInitiateOrder,
		from: [2]OrderStatus{QuoteReceived, RenewalQuoteReceived}, to: [2]OrderStatus{Initiated, RenewalInitiated},
		refused: "order %s has not received a quote", date: initiationDate, respond: true,
	}
	approveOrderTransition = memberTransition{
		function: "order:ApproveOrder", right: blossompolicy.RightApproveOrder,
		from: [2]OrderStatus{Initiated, RenewalInitiated}, to: [2]OrderStatus{Approved, RenewalApproved},
		refused: "order %s is not up for approval", date: approvalDate, dateBoth: true, respond: true,
	}
	// DenyOrder checks approve_order, as the reference does.
	denyOrderTransition = memberTransition{
		function: "order:DenyOrder", right: blossompolicy.RightApproveOrder,
		from: [2]OrderStatus{Initiated, RenewalInitiated}, to: [2]OrderStatus{Denied, RenewalDenied},
		refused: "order %s is not up for approval",
	}
)

// initiateOrder is order:InitiateOrder {orderId, account} (O3, O9).
func initiateOrder(stub contract.Stub, args [][]byte) ([]byte, error) {
	return initiateOrderTransition.run(stub, args)
}

// approveOrder is order:ApproveOrder {orderId, account} (O4, O10).
func approveOrder(stub contract.Stub, args [][]byte) ([]byte, error) {
	return approveOrderTransition.run(stub, args)
}

// denyOrder is order:DenyOrder {orderId, account} (O5, O11).
func denyOrder(stub contract.Stub, args [][]byte) ([]byte, error) {
	return denyOrderTransition.run(stub, args)
}

func (m *memberTransition) run(stub contract.Stub, args [][]byte) ([]byte, error) {
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
	if err := tx.authorizeAccount(ref.Account, m.right); err != nil {
		return nil, err
	}
	exists, err := tx.orderExists(ref.Account, ref.OrderID)
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, noOrder(ref.OrderID, ref.Account)
	}
	branch := -1
	for i, from := range m.from {
		is, err := tx.orderStatusIs(ref.Account, ref.OrderID, from)
		if err != nil {
			return nil, err
		}
		if is {
			branch = i
			break
		}
	}
	if branch < 0 {
		return nil, fmt.Errorf(m.refused, ref.OrderID)
	}
	next := m.to[branch]
	if err := tx.putOrderStatus(ref.Account, ref.OrderID, next); err != nil {
		return nil, err
	}
	if m.date != "" && (branch == 0 || m.dateBoth) {
		if err := tx.putOrderDate(ref.Account, ref.OrderID, m.date, formatInstant(stub.GetTxTimestamp())); err != nil {
			return nil, err
		}
	}
	if err := tx.putTrustRecord(m.function, ref.OrderID, ref.Account, next, nil); err != nil {
		return nil, err
	}
	if !m.respond {
		return nil, nil
	}
	return response(IDResponse{ID: ref.OrderID})
}
