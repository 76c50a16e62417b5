package blossomnet

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/blossom-ledger/blossom/chaincode/asset"
)

// ledgerState is what a refusal must leave unchanged on a peer.
type ledgerState struct {
	height            uint64
	commit, stateHash []byte
}

func (n *Network) ledgerStates(t *testing.T) []ledgerState {
	t.Helper()
	out := make([]ledgerState, len(n.Members))
	for i := range n.Members {
		ch := n.PeerChannel(i)
		h, commit, errCommit := ch.CommitHash()
		state, errState := ch.StateHash()
		if err := errors.Join(errCommit, errState); err != nil {
			t.Fatalf("peer %d: %v", i, err)
		}
		out[i] = ledgerState{height: h, commit: commit, stateHash: state}
	}
	return out
}

// requireRefused submits c and fails unless the chaincode refuses it with
// want and no peer's height, commit hash or state hash changes.
func (n *Network) requireRefused(t *testing.T, c Call, want string) {
	t.Helper()
	before := n.ledgerStates(t)
	_, _, err := n.Try(t, c)
	if !IsRefusal(err, want) {
		t.Errorf("%s as %s %q: %v, want the refusal %q", c.Function, n.MSP(c.Member), c.Role, err, want)
	}
	for i, after := range n.ledgerStates(t) {
		b := before[i]
		if after.height != b.height || !bytes.Equal(after.commit, b.commit) || !bytes.Equal(after.stateHash, b.stateHash) {
			t.Errorf("%s: peer %d's ledger changed (height %d → %d)", c.Function, i, b.height, after.height)
		}
	}
}

// checkAbuse runs the abuse table after the journeys: agency 1 leases
// p.leased under p.orderID; agency 2 gets an approved order of one
// license to allocate. Each call is refused with the specification's
// message and changes nothing on any peer.
func checkAbuse(t *testing.T, n *Network, p *pool) {
	ag1, ag2 := n.MSP(1), n.MSP(2)
	var id asset.IDResponse
	if err := json.Unmarshal(n.Submit(t, assetCall(2, tpoc, "order:GetQuote",
		map[string]any{"account": ag2, "assetId": p.assetID, "amount": 1, "duration": 1}, sp)), &id); err != nil {
		t.Fatal(err)
	}
	order2 := id.ID
	n.Submit(t, assetCall(sp, acq, "order:SendQuote", map[string]any{"orderId": order2, "account": ag2, "price": 10}, sp))
	n.Submit(t, assetCall(2, tpoc, "order:InitiateOrder", orderRef(order2, ag2), sp, 2))
	n.Submit(t, assetCall(2, acq, "order:ApproveOrder", orderRef(order2, ag2), sp, 2))
	var available []string
	for _, l := range p.ids {
		if l != p.leased[0] {
			available = append(available, l)
		}
	}
	allocate := func(licenses ...string) map[string]any {
		return map[string]any{"orderId": order2, "account": ag2, "licenses": append([]string{}, licenses...)}
	}
	var notLeased string
	for _, l := range p.ids {
		if l != p.leased[0] {
			notLeased = l
			break
		}
	}

	for _, c := range []struct {
		name string
		call Call
		want string
	}{
		{"authorization: a role the spec does not allow", Call{Member: 2, Role: lo, Chaincode: "authorization", Function: "mou:SignMOU", Args: []string{"1"}, Endorsers: majority},
			"unknown user role: License Owner"},
		{"authorization: no role at all", Call{Member: 1, Chaincode: "authorization", Function: "account:Join", Endorsers: majority},
			"unknown user role: (missing blossom.role attribute)"},
		{"asset: a role the spec does not allow", assetCall(sp, ao, "asset:AddAsset", map[string]any{"name": "X", "endDate": "2099-01-01 00:00:00",
			"licenses": []map[string]string{{"id": "x", "salt": "y"}}}, sp), "invalid role Authorizing Official"},
		{"asset: License Owner at an agency", assetCall(1, lo, "asset:GetAssets", nil, sp), "invalid role License Owner"},
		{"an agency placing another agency's order", assetCall(2, tpoc, "order:InitiateOrder", orderRef(p.orderID, ag1), sp, 2), "unauthorized"},
		{"an agency returning another agency's licenses", assetCall(2, tpoc, "order:InitiateReturn", asset.LicensesRequest{Account: ag1, AssetID: p.assetID,
			OrderID: p.orderID, Expiration: "2099-01-01 00:00:00", Licenses: p.leased}, sp, 2), "unauthorized"},
		{"double allocation", assetCall(sp, acq, "order:AllocateLicenses", allocate(p.leased[0]), sp), "license " + p.leased[0] + " is already allocated"},
		{"over-allocation", assetCall(sp, acq, "order:AllocateLicenses", allocate(available[:2]...), sp), "number of licenses 2 does not match order amount 1"},
		{"under-allocation", assetCall(sp, acq, "order:AllocateLicenses", allocate(), sp), "number of licenses 0 does not match order amount 1"},
		{"a return of licenses not leased", assetCall(1, tpoc, "order:InitiateReturn", asset.LicensesRequest{Account: ag1, AssetID: p.assetID,
			OrderID: p.orderID, Expiration: "2099-01-01 00:00:00", Licenses: []string{notLeased}}, sp, 1), "license " + notLeased + " is not leased by " + ag1},
	} {
		t.Run(c.name, func(t *testing.T) { n.requireRefused(t, c.call, c.want) })
	}
	// The approved order is still allocatable: the refusals left it as it was.
	n.Submit(t, assetCall(sp, acq, "order:AllocateLicenses", allocate(available[0]), sp))
}
