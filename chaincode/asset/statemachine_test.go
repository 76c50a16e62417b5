package asset

import (
	"encoding/json"
	"fmt"
	"testing"
)

// Drivers that move an order through the API, each transaction simulated
// on the peers that must endorse it.

// addAsset adds an asset with n licenses lic-00 ... and returns its ID.
func (w *world) addAsset(name string, n int) string {
	w.t.Helper()
	licenses := make([]map[string]string, n)
	for i := range licenses {
		licenses[i] = map[string]string{"id": fmt.Sprintf("lic-%02d", i), "salt": fmt.Sprintf("salt-%s-%02d", name, i)}
	}
	var id IDResponse
	must(w.t, json.Unmarshal(w.submitOK(sp, lo, "asset:AddAsset", map[string]any{"name": name, "endDate": "2030-01-01 00:00:00", "licenses": licenses}, sp), &id))
	return id.ID
}

// newOrder asks for a quote as account's TPOC and returns the order ID.
func (w *world) newOrder(account, assetID string, amount int) string {
	w.t.Helper()
	var id IDResponse
	must(w.t, json.Unmarshal(w.submitOK(account, tpoc, "order:GetQuote", map[string]any{"account": account, "assetId": assetID, "amount": amount, "duration": 2}, sp), &id))
	return id.ID
}

// step applies one named step to an order.
func (w *world) step(account, orderID, step string) {
	w.t.Helper()
	ref := map[string]any{"orderId": orderID, "account": account}
	switch step {
	case "quote":
		w.submitOK(sp, acq, "order:SendQuote", map[string]any{"orderId": orderID, "account": account, "price": 100}, sp)
	case "initiate":
		w.submitOK(account, tpoc, "order:InitiateOrder", ref, sp, account)
	case "approve":
		w.submitOK(account, acq, "order:ApproveOrder", ref, sp, account)
	case "deny":
		w.submitOK(account, acq, "order:DenyOrder", ref, sp, account)
	case "allocate":
		licenses := []string{}
		if w.order(orderID, account).Status == Approved {
			var p AllocateLicensesResponse
			w.evaluate(sp, acq, "order:GetLicensesToAllocateForOrder", ref, sp, &p)
			licenses = p.Licenses
		}
		w.submitOK(sp, acq, "order:AllocateLicenses", map[string]any{"orderId": orderID, "account": account, "licenses": licenses}, sp)
	case "send":
		var lr LicensesRequest
		w.evaluate(sp, acq, "order:GetAllocateRequestForOrder", map[string]any{"orderId": orderID}, sp, &lr)
		w.submitOK(sp, acq, "order:SendLicenses", lr, sp, account)
	case "renew":
		o := w.order(orderID, account)
		w.submitOK(account, tpoc, "order:GetQuote", map[string]any{"account": account, "assetId": o.AssetID, "amount": 1, "duration": 1, "orderId": orderID}, sp)
	default:
		w.t.Fatalf("unknown step %s", step)
	}
}

// pathTo lists the steps from a new order to each status.
var pathTo = map[OrderStatus][]string{
	QuoteRequested:        nil,
	QuoteReceived:         {"quote"},
	Initiated:             {"quote", "initiate"},
	Approved:              {"quote", "initiate", "approve"},
	Denied:                {"quote", "initiate", "deny"},
	Allocated:             {"quote", "initiate", "approve", "allocate", "send"},
	RenewalQuoteRequested: {"quote", "initiate", "approve", "allocate", "send", "renew"},
	RenewalQuoteReceived:  {"quote", "initiate", "approve", "allocate", "send", "renew", "quote"},
	RenewalInitiated:      {"quote", "initiate", "approve", "allocate", "send", "renew", "quote", "initiate"},
	RenewalApproved:       {"quote", "initiate", "approve", "allocate", "send", "renew", "quote", "initiate", "approve"},
	RenewalDenied:         {"quote", "initiate", "approve", "allocate", "send", "renew", "quote", "initiate", "deny"},
}

// orderIn returns a world with an asset of 3 licenses and an order of 2
// of Agency1MSP in status.
func orderIn(t testing.TB, status OrderStatus) (w *world, assetID, orderID string) {
	t.Helper()
	w = newWorld(t)
	assetID = w.addAsset("suite", 3)
	orderID = w.newOrder(ag1, assetID, 2)
	for _, s := range pathTo[status] {
		w.step(ag1, orderID, s)
	}
	if got := w.order(orderID, ag1).Status; got != status {
		t.Fatalf("driving the order to %s reached %s", status, got)
	}
	return w, assetID, orderID
}

// TestOrderStateMachine tries every order transition from every status
// (spec §3.4, R-06): the allowed ones reach the next status, the others
// fail with the reference's message and change nothing.
func TestOrderStateMachine(t *testing.T) {
	const (
		noQuoteRequest = "a quote request for order %s does not exist"
		noQuote        = "order %s has not received a quote"
		notForApproval = "order %s is not up for approval"
		notApproved    = "cannot get licenses to allocate for an order that has not been approved"
		beingRenewed   = "cannot get licenses to allocate for an order that is being renewed"
		cannotAllocate = "cannot allocate licenses for an order that has not been approved"
		cannotRenew    = "order %s cannot be renewed"
	)
	type outcome struct {
		next OrderStatus // "" with err: refused
		err  string
	}
	to := func(s OrderStatus) outcome { return outcome{next: s} }
	no := func(msg string) outcome { return outcome{err: msg} }
	ok := outcome{} // a query that succeeds
	functions := []string{"renew", "SendQuote", "InitiateOrder", "ApproveOrder", "DenyOrder", "GetLicensesToAllocateForOrder", "AllocateLicenses"}
	table := map[OrderStatus][7]outcome{
		QuoteRequested:        {no(cannotRenew), to(QuoteReceived), no(noQuote), no(notForApproval), no(notForApproval), no(notApproved), no(cannotAllocate)},
		QuoteReceived:         {no(cannotRenew), no(noQuoteRequest), to(Initiated), no(notForApproval), no(notForApproval), no(notApproved), no(cannotAllocate)},
		Initiated:             {no(cannotRenew), no(noQuoteRequest), no(noQuote), to(Approved), to(Denied), no(notApproved), no(cannotAllocate)},
		Approved:              {no(cannotRenew), no(noQuoteRequest), no(noQuote), no(notForApproval), no(notForApproval), ok, to(Allocated)},
		Denied:                {no(cannotRenew), no(noQuoteRequest), no(noQuote), no(notForApproval), no(notForApproval), no(notApproved), no(cannotAllocate)},
		Allocated:             {to(RenewalQuoteRequested), no(noQuoteRequest), no(noQuote), no(notForApproval), no(notForApproval), no(notApproved), no(cannotAllocate)},
		RenewalQuoteRequested: {no(cannotRenew), to(RenewalQuoteReceived), no(noQuote), no(notForApproval), no(notForApproval), no(notApproved), no(cannotAllocate)},
		RenewalQuoteReceived:  {no(cannotRenew), no(noQuoteRequest), to(RenewalInitiated), no(notForApproval), no(notForApproval), no(notApproved), no(cannotAllocate)},
		RenewalInitiated:      {no(cannotRenew), no(noQuoteRequest), no(noQuote), to(RenewalApproved), to(RenewalDenied), no(notApproved), no(cannotAllocate)},
		RenewalApproved:       {no(cannotRenew), no(noQuoteRequest), no(noQuote), no(notForApproval), no(notForApproval), no(beingRenewed), to(Allocated)},
		RenewalDenied:         {to(RenewalQuoteRequested), no(noQuoteRequest), no(noQuote), no(notForApproval), no(notForApproval), no(notApproved), no(cannotAllocate)},
	}
	for _, from := range OrderStatuses() {
		for i, fn := range functions {
			want := table[from][i]
			t.Run(fmt.Sprintf("%s/%s", from, fn), func(t *testing.T) {
				w, assetID, orderID := orderIn(t, from)
				ref := map[string]any{"orderId": orderID, "account": ag1}
				var msp, role, function string
				var req any = ref
				peers := []string{sp}
				switch fn {
				case "renew":
					msp, role, function = ag1, tpoc, "order:GetQuote"
					req = map[string]any{"account": ag1, "assetId": assetID, "amount": 1, "duration": 1, "orderId": orderID}
				case "SendQuote":
					msp, role, function = sp, acq, "order:SendQuote"
					req = map[string]any{"orderId": orderID, "account": ag1, "price": 5}
				case "InitiateOrder":
					msp, role, function, peers = ag1, tpoc, "order:InitiateOrder", []string{sp, ag1}
				case "ApproveOrder", "DenyOrder":
					msp, role, function, peers = ag1, acq, "order:"+fn, []string{sp, ag1}
				case "GetLicensesToAllocateForOrder":
					msp, role, function = sp, acq, "order:GetLicensesToAllocateForOrder"
				case "AllocateLicenses":
					msp, role, function = sp, acq, "order:AllocateLicenses"
					licenses := []string{}
					if from == Approved {
						licenses = []string{"lic-00", "lic-01"}
					}
					req = map[string]any{"orderId": orderID, "account": ag1, "licenses": licenses}
				}
				if want.err != "" {
					msg := want.err
					if msg == cannotRenew || msg == noQuoteRequest || msg == noQuote || msg == notForApproval {
						msg = fmt.Sprintf(msg, orderID)
					}
					w.refuse(msp, role, function, req, msg)
					return
				}
				if want.next == "" { // a query
					w.evaluate(msp, role, function, req, sp, nil)
					return
				}
				w.submitOK(msp, role, function, req, peers...)
				if got := w.order(orderID, ag1).Status; got != want.next {
					t.Fatalf("%s from %s reached %s, want %s", fn, from, got, want.next)
				}
			})
		}
	}
}
