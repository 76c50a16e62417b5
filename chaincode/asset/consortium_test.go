package asset

import (
	"encoding/json"
	"testing"

	"github.com/blossom-ledger/blossom/chaincode/authorization/authorizationtest"
	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
	"github.com/blossom-ledger/blossom/sdk/contract/contracttest"
)

// TestWithAuthorizationChaincode runs the asset chaincode next to the real
// authorization chaincode (authorizationtest): account statuses come from
// votes, and a member voted UNAUTHORIZED loses its asset rights in the
// same transaction that reads its status.
func TestWithAuthorizationChaincode(t *testing.T) {
	ag1, ag2 := authorizationtest.Agency(1), authorizationtest.Agency(2)
	stub := contracttest.NewStub(ChaincodeName, New())
	stub.SetDefinitionParams(map[string]string{AdminMSPParam: authorizationtest.AdminMSP})
	c := authorizationtest.Register(t, stub, ag1, ag2)
	c.AddMember(authorizationtest.Agency(3), blossompolicy.Pending)

	call := func(msp, role, fn string, req any) ([]byte, error) {
		authorizationtest.SetCreator(t, stub, msp, role)
		b, err := json.Marshal(req)
		must(t, err)
		stub.SetTransient(map[string][]byte{RequestKey: b})
		return stub.Invoke(fn)
	}
	ok := func(msp, role, fn string, req any) []byte {
		t.Helper()
		out, err := call(msp, role, fn, req)
		if err != nil {
			t.Fatalf("%s as %s %s: %v", fn, msp, role, err)
		}
		return out
	}
	var id IDResponse
	must(t, json.Unmarshal(ok(authorizationtest.AdminMSP, lo, "asset:AddAsset", map[string]any{
		"name": "Office", "endDate": "2030-01-01 00:00:00", "licenses": []map[string]string{{"id": "lic-1", "salt": "s1"}}}), &id))
	assetID := id.ID
	quote := map[string]any{"account": ag1, "assetId": assetID, "amount": 1, "duration": 1}
	must(t, json.Unmarshal(ok(ag1, tpoc, "order:GetQuote", quote), &id))
	ok(authorizationtest.AdminMSP, acq, "order:SendQuote", map[string]any{"orderId": id.ID, "account": ag1, "price": 1})

	for _, c := range []struct {
		msp, want string
	}{
		{authorizationtest.Agency(3), "unauthorized"},                      // PENDING
		{authorizationtest.Agency(4), "account Agency4MSP does not exist"}, // never signed the MOU
	} {
		q := map[string]any{"account": c.msp, "assetId": assetID, "amount": 1, "duration": 1}
		if _, err := call(c.msp, tpoc, "order:GetQuote", q); !errorIs(err, c.want) {
			t.Errorf("GetQuote as %s: %v, want %q", c.msp, err, c.want)
		}
	}

	c.SetStatus(ag1, blossompolicy.Unauthorized)
	if _, err := call(ag1, tpoc, "order:InitiateOrder", map[string]any{"orderId": id.ID, "account": ag1}); !errorIs(err, "unauthorized") {
		t.Fatalf("InitiateOrder by an UNAUTHORIZED member: %v", err)
	}
	c.SetStatus(ag1, blossompolicy.Authorized)
	ok(ag1, tpoc, "order:InitiateOrder", map[string]any{"orderId": id.ID, "account": ag1})
	var o Order
	must(t, json.Unmarshal(ok(ag1, acq, "order:GetOrder", map[string]any{"orderId": id.ID, "account": ag1}), &o))
	if o.Status != Initiated {
		t.Fatalf("order: %+v", o)
	}
}
