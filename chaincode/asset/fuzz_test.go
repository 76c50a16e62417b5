package asset

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/blossom-ledger/blossom/sdk/contract"
)

// FuzzDecodeRequest feeds arbitrary transient requests to every field
// decoder: none may panic, and what they accept must be storable (valid
// composite-key components) and survive a canonical JSON round trip.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"account":"Agency1MSP","assetId":"tx1","orderId":"tx2","expiration":"2028-01-02 03:04:05","licenses":["lic-00","lic-01"]}`,
		`{"name":"Office","endDate":"2030-01-01 00:00:00","licenses":[{"id":"a","salt":"s"}]}`,
		`{"account":"Agency1MSP","assetId":"tx1","amount":"2","duration":1.0,"price":"1e3","orderId":null}`,
		`{"account":"a:b","licenses":[null,1,"\u0000"],"amount":-0,"price":"NaN"}`,
		`[]`, `null`, `{"licenses":{"id":"x"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := decodeRequest(raw)
		if err != nil {
			return
		}
		for _, name := range []string{"account", "assetId", "orderId", "expiration", "name", "endDate"} {
			if s, err := r.id(name); err == nil {
				if _, err := contract.CreateCompositeKey("k", []string{s}); err != nil {
					t.Fatalf("accepted id %q is not a key component: %v", s, err)
				}
			}
			_, _ = r.account(name)
			_, _ = r.str(name, MaxNameLength)
		}
		_, _ = r.positiveInt("amount", MaxLicenses)
		if p, err := r.price("price"); err == nil && !(p > 0 && p <= MaxPrice) {
			t.Fatalf("accepted price %v", p)
		}
		if ls, err := r.newLicenses("licenses"); err == nil {
			for _, l := range ls {
				if checkID("id", l.ID) != nil || checkID("salt", l.Salt) != nil {
					t.Fatalf("accepted license %q", l.ID)
				}
			}
		}
		lr, err := r.licensesRequest()
		if err != nil {
			return
		}
		b, err := contract.CanonicalJSON(lr)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := decodeRequest(b)
		if err != nil {
			t.Fatal(err)
		}
		lr2, err := r2.licensesRequest()
		if err != nil {
			t.Fatalf("re-decoding %s: %v", b, err)
		}
		if b2, _ := contract.CanonicalJSON(lr2); string(b2) != string(b) {
			t.Fatalf("canonical JSON is not stable: %s then %s", b, b2)
		}
	})
}

// FuzzValidateSWID: the SWID validator never panics and accepts only a
// document naming the primary tag.
func FuzzValidateSWID(f *testing.F) {
	f.Add("t", `<SoftwareIdentity tagId="t" name="n" version="1"/>`)
	f.Add("t", `<?xml version="1.0"?><SoftwareIdentity xmlns="http://standards.iso.org/iso/19770/-2/2015/schema.xsd" tagId="t" name="n" version="1"><Entity name="e" role="tagCreator"/></SoftwareIdentity>`)
	f.Add("t", `<!DOCTYPE x><a/>`)
	f.Add("t", "https://example.com/t")
	f.Add("t", `<SoftwareIdentity tagId="t" name="n" version="1"><a>`)
	f.Fuzz(func(t *testing.T, primaryTag, doc string) {
		if err := ValidateSWID(primaryTag, doc); err == nil {
			if len(doc) > MaxSWIDSize || !strings.Contains(doc, "SoftwareIdentity") {
				t.Fatalf("accepted %q", doc)
			}
		} else if !strings.HasPrefix(err.Error(), "invalid SWID tag: ") {
			t.Fatalf("error %q", err)
		}
	})
}

// FuzzParseStoredDate: stored dates never panic the parser, and a parsed
// date re-renders to a date that parses to the same second.
func FuzzParseStoredDate(f *testing.F) {
	for _, s := range []string{"2030-01-01 00:00:00", "2030-01-01T00:00:00Z", "2030-01-01T00:00:00.5+02:00", "0000-00-00 00:00:00", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseStoredDate(s)
		if err != nil || d.Year() > maxYear || d.Year() < 0 {
			return
		}
		again, err := parseStoredDate(formatDate(d))
		if err != nil || !again.Equal(d.Truncate(1e9)) {
			t.Fatalf("%q → %s → %v, %v", s, formatDate(d), again, err)
		}
	})
}

// FuzzChaincode runs every function with arbitrary transient requests as
// callers of every role on a world holding an asset and a leased order:
// the chaincode must never panic, and public state must only ever hold
// license markers.
func FuzzChaincode(f *testing.F) {
	functions := []string{
		"asset:AddAsset", "asset:AddLicenses", "asset:RemoveLicenses", "asset:UpdateEndDate", "asset:GetAsset", "asset:GetLicenseTxHistory",
		"order:GetQuote", "order:SendQuote", "order:InitiateOrder", "order:ApproveOrder", "order:DenyOrder", "order:GetLicensesToAllocateForOrder",
		"order:AllocateLicenses", "order:GetAllocateRequestForOrder", "order:SendLicenses", "order:InitiateReturn", "order:GetInitiatedReturnForOrder",
		"order:DeallocateLicensesFromAccount", "order:DeallocateLicensesFromSP", "order:GetOrder", "order:GetOrdersByAccount",
		"order:GetOrdersByAccountAndAsset", "order:GetOrdersByAsset", "order:GetAvailableLicensesForOrder",
		"swid:ReportSWID", "swid:DeleteSWID", "swid:GetSWID", "swid:GetLicensesWithSWIDsForOrder",
	}
	callers := [][2]string{{sp, lo}, {sp, acq}, {ag1, tpoc}, {ag1, acq}, {ag2, tpoc}}
	w, assetID, orderID := orderIn(f, Allocated)
	seeds := []map[string]any{
		{"account": ag1, "assetId": assetID, "orderId": orderID, "expiration": "2028-01-02 03:04:05", "licenses": []string{"lic-00"}},
		{"account": ag1, "assetId": assetID, "amount": 1, "duration": 1, "orderId": orderID},
		{"name": "n", "endDate": "2030-01-01 00:00:00", "licenses": []map[string]string{{"id": "x", "salt": "y"}}},
		{"account": ag1, "primaryTag": "t", "xml": `<SoftwareIdentity tagId="t" name="n" version="1"/>`, "orderId": orderID, "licenseId": "lic-00"},
	}
	for i, s := range seeds {
		b, _ := json.Marshal(s)
		f.Add(uint8(i), uint8(i), b)
	}
	f.Fuzz(func(t *testing.T, fn, caller uint8, raw []byte) {
		w.t = t
		c := callers[int(caller)%len(callers)]
		_, err := w.call(c[0], c[1], functions[int(fn)%len(functions)], raw)
		if err != nil && strings.Contains(err.Error(), "panicked") {
			t.Fatal(err)
		}
		for _, k := range w.stub.StateKeys() {
			if _, err := hex.DecodeString(k); err != nil || len(k) != 64 {
				t.Fatalf("public key %q", k)
			}
		}
	})
}
