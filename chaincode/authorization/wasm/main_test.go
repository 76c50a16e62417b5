package main

import (
	"maps"
	"testing"

	"github.com/blossom-ledger/blossom/chaincode/authorization"
	"github.com/blossom-ledger/blossom/chaincode/authorization/authorizationtest"
	"github.com/blossom-ledger/blossom/internal/chaincode/wasm/wasmtest"
	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
	"github.com/blossom-ledger/blossom/sdk/contract"
	"github.com/blossom-ledger/blossom/sdk/contract/contracttest"
)

// TestWasmMatchesNative builds this package to wasm, runs a consortium
// journey through the wasm runtime and natively, and requires the same
// results and the same stored bytes.
func TestWasmMatchesNative(t *testing.T) {
	wasmCC := wasmtest.Build(t, ".", "authorization")

	run := func(cc contract.Chaincode) (map[string]string, []string) {
		stub := contracttest.NewStub(authorization.ChaincodeName, cc)
		stub.SetDefinitionParams(map[string]string{authorization.AdminMSPParam: authorizationtest.AdminMSP})
		var results []string
		call := func(msp, role, fn string, args ...string) {
			authorizationtest.SetCreator(t, stub, msp, role)
			out, err := stub.Invoke(fn, args...)
			if err != nil {
				results = append(results, fn+" error: "+err.Error())
				return
			}
			results = append(results, fn+" "+string(out))
		}
		ao := blossompolicy.RoleAuthorizingOfficial
		call("SAMSMSP", ao, "bootstrap:Bootstrap")
		call("SAMSMSP", ao, "mou:UpdateMOU", "MOU")
		call("Agency1MSP", ao, "mou:SignMOU", "1")
		stub.SetTransient(map[string][]byte{"memo": []byte("m"), "artifacts": []byte("a")})
		call("Agency1MSP", ao, "ato:CreateATO")
		call("SAMSMSP", ao, "ato:GetATO", "Agency1MSP")
		call("Agency1MSP", ao, "ato:GetATO", "SAMSMSP")
		call("Agency1MSP", "License Owner", "vote:InitiateVote", "SAMSMSP", "PENDING")
		call("SAMSMSP", ao, "vote:InitiateVote", "Agency1MSP", "AUTHORIZED", "ok")
		call("Agency1MSP", ao, "vote:Vote", "true")
		call("SAMSMSP", ao, "vote:CertifyOngoingVote")
		call("SAMSMSP", ao, "vote:Vote", "true")
		call("SAMSMSP", ao, "vote:CertifyOngoingVote")
		call("Agency1MSP", "Technical Point of Contact", "account:GetAccountStatus")
		call("Agency1MSP", ao, "account:Join")
		call("Agency9MSP", ao, "account:GetAccountHistory", "Agency1MSP")
		call("Agency9MSP", ao, "vote:GetVoteHistory", "Agency1MSP")
		state := map[string]string{}
		for _, k := range stub.StateKeys() {
			v, _ := stub.State(k)
			state[k] = string(v)
		}
		ato, _ := stub.PrivateData("_implicit_org_Agency1MSP", "ato:Agency1MSP")
		state["ato"] = string(ato)
		return state, results
	}
	wasmState, wasmResults := run(wasmCC)
	nativeState, nativeResults := run(authorization.New())
	for i := range nativeResults {
		if i >= len(wasmResults) || wasmResults[i] != nativeResults[i] {
			t.Fatalf("result %d: wasm %q, native %q", i, wasmResults[i], nativeResults[i])
		}
	}
	if !maps.Equal(wasmState, nativeState) {
		t.Fatal("wasm and native runs stored different state")
	}
	if nativeResults[len(nativeResults)-4] != "account:GetAccountStatus AUTHORIZED" {
		t.Fatalf("results: %q", nativeResults)
	}
	t.Logf("%d transactions agree", len(nativeResults))
}
