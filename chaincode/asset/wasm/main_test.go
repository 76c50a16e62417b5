package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"testing"

	"github.com/blossom-ledger/blossom/chaincode/asset"
	"github.com/blossom-ledger/blossom/chaincode/authorization/authorizationtest"
	"github.com/blossom-ledger/blossom/internal/chaincode/wasm/wasmtest"
	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
	"github.com/blossom-ledger/blossom/sdk/contract"
	"github.com/blossom-ledger/blossom/sdk/contract/contracttest"
)

// TestWasmMatchesNative builds this package to wasm, runs a license
// journey through the wasm runtime (next to the native authorization
// chaincode, which the guest calls for account statuses) and natively,
// and requires the same results and the same public state.
func TestWasmMatchesNative(t *testing.T) {
	wasmCC := wasmtest.Build(t, ".", "asset")

	sp, ag1 := authorizationtest.AdminMSP, authorizationtest.Agency(1)
	lo, acq, tpoc := blossompolicy.RoleLicenseOwner, blossompolicy.RoleAcquisitionOfficer, blossompolicy.RoleTechnicalPointOfContact
	run := func(cc contract.Chaincode) (map[string]string, []string) {
		stub := contracttest.NewStub(asset.ChaincodeName, cc)
		stub.SetDefinitionParams(map[string]string{asset.AdminMSPParam: sp})
		authorizationtest.Register(t, stub, ag1)
		var results []string
		ids := map[string]string{}
		call := func(msp, role, fn string, req map[string]any) []byte {
			authorizationtest.SetCreator(t, stub, msp, role)
			for k, v := range req { // "$name" refers to an earlier result
				if s, ok := v.(string); ok && len(s) > 1 && s[0] == '$' {
					req[k] = ids[s[1:]]
				}
			}
			b, _ := json.Marshal(req)
			stub.SetTransient(map[string][]byte{asset.RequestKey: b})
			out, err := stub.Invoke(fn)
			if err != nil {
				results = append(results, fn+" error: "+err.Error())
				return nil
			}
			results = append(results, fn+" "+string(out))
			return out
		}
		idOf := func(name string, out []byte) {
			var r asset.IDResponse
			_ = json.Unmarshal(out, &r)
			ids[name] = r.ID
		}
		idOf("asset", call(sp, lo, "asset:AddAsset", map[string]any{"name": "Office", "endDate": "2030-01-01 00:00:00",
			"licenses": []map[string]string{{"id": "lic-b", "salt": "sb"}, {"id": "lic-a", "salt": "sa"}, {"id": "lic-c", "salt": "sc"}}}))
		idOf("order", call(ag1, tpoc, "order:GetQuote", map[string]any{"account": ag1, "assetId": "$asset", "amount": 2, "duration": 3}))
		ref := func() map[string]any { return map[string]any{"orderId": "$order", "account": ag1} }
		call(sp, acq, "order:SendQuote", map[string]any{"orderId": "$order", "account": ag1, "price": "12.5"})
		call(ag1, tpoc, "order:InitiateOrder", ref())
		call(ag1, acq, "order:ApproveOrder", ref())
		call(sp, acq, "order:GetLicensesToAllocateForOrder", ref())
		call(sp, acq, "order:AllocateLicenses", map[string]any{"orderId": "$order", "account": ag1, "licenses": []string{"lic-c"}})
		call(sp, acq, "order:AllocateLicenses", map[string]any{"orderId": "$order", "account": ag1, "licenses": []string{"lic-a", "lic-b"}})
		var pending map[string]any
		_ = json.Unmarshal(call(sp, acq, "order:GetAllocateRequestForOrder", map[string]any{"orderId": "$order"}), &pending)
		call(sp, acq, "order:SendLicenses", pending)
		call(ag1, tpoc, "swid:ReportSWID", map[string]any{"account": ag1, "primaryTag": "t", "orderId": "$order", "licenseId": "lic-a",
			"xml": `<SoftwareIdentity tagId="t" name="Office" version="1"/>`})
		call(ag1, tpoc, "swid:ReportSWID", map[string]any{"account": ag1, "primaryTag": "t", "orderId": "$order", "licenseId": "lic-a", "xml": "http://x"})
		call(ag1, tpoc, "order:GetAvailableLicensesForOrder", ref())
		ret := map[string]any{"account": ag1, "assetId": "$asset", "orderId": "$order", "expiration": pending["expiration"], "licenses": []string{"lic-a"}}
		call(ag1, tpoc, "order:InitiateReturn", ret)
		call(sp, acq, "order:DeallocateLicensesFromAccount", ret)
		call(sp, acq, "order:DeallocateLicensesFromSP", ref())
		call(sp, lo, "order:GetOrder", ref())
		call(sp, lo, "asset:GetAsset", map[string]any{"assetId": "$asset"})
		call(sp, lo, "asset:GetLicenseTxHistory", map[string]any{"assetId": "$asset", "licenseId": "lic-a"})
		call(ag1, "Authorizing Official", "asset:GetAssets", map[string]any{})
		state := map[string]string{}
		for _, k := range stub.StateKeys() {
			v, _ := stub.State(k)
			state[k] = string(v)
		}
		return state, results
	}
	wasmState, wasmResults := run(wasmCC)
	nativeState, nativeResults := run(asset.New())
	if len(wasmResults) != len(nativeResults) {
		t.Fatalf("wasm ran %d calls, native %d", len(wasmResults), len(nativeResults))
	}
	for i := range nativeResults {
		if wasmResults[i] != nativeResults[i] {
			t.Fatalf("result %d:\nwasm   %q\nnative %q", i, wasmResults[i], nativeResults[i])
		}
	}
	if !maps.Equal(wasmState, nativeState) {
		t.Fatal("wasm and native runs stored different public state")
	}
	if got, want := nativeResults[len(nativeResults)-2], "asset:GetLicenseTxHistory [\"tx"; len(got) < len(want) || got[:len(want)] != want {
		t.Fatalf("history: %s", got)
	}
	for i, r := range nativeResults {
		t.Log(i, fmt.Sprintf("%.160s", r))
	}
}
