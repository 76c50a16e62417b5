package asset

import (
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// secrets are the values that must never reach public state or events:
// license IDs (except in the keys and values of the lessee's own
// collection) and salts (never outside the service provider's values).
type secrets struct {
	ids    []string
	salts  []string
	leased map[string][]string // member → license IDs it leases
}

// checkPrivacy inspects the writes, events and payload of the transaction
// the world committed last.
func (w *world) checkPrivacy(s *secrets, fn string, payload []byte) {
	w.t.Helper()
	contains := func(text string, needles []string) (string, bool) {
		for _, n := range needles {
			if strings.Contains(text, n) {
				return n, true
			}
		}
		return "", false
	}
	if evs := w.stub.Events(); len(evs) != 0 {
		w.t.Fatalf("%s set events %v: the asset chaincode emits none", fn, evs)
	}
	for _, wr := range w.stub.Writes() {
		if wr.Namespace != ChaincodeName {
			w.t.Fatalf("%s wrote public key %q of namespace %s", fn, wr.Key, wr.Namespace)
		}
		if _, err := hex.DecodeString(wr.Key); err != nil || len(wr.Key) != 64 {
			w.t.Fatalf("%s wrote public key %q, not a marker", fn, wr.Key)
		}
		if !wr.IsDelete && string(wr.Value) != "\x00" {
			w.t.Fatalf("%s wrote public value %q", fn, wr.Value)
		}
		if n, ok := contains(wr.Key, append(s.ids, s.salts...)); ok {
			w.t.Fatalf("%s: public key %q reveals %q", fn, wr.Key, n)
		}
	}
	spColl := ImplicitCollection(sp)
	for _, pw := range w.stub.PrivateWrites() {
		if n, ok := contains(pw.Key, s.salts); ok {
			w.t.Fatalf("%s: private key %q of %s reveals salt %q", fn, pw.Key, pw.Collection, n)
		}
		if pw.Collection == spColl {
			if n, ok := contains(pw.Key, s.ids); ok {
				w.t.Fatalf("%s: the service provider's private key %q reveals license ID %q", fn, pw.Key, n)
			}
			continue
		}
		member := strings.TrimPrefix(pw.Collection, "_implicit_org_")
		if n, ok := contains(string(pw.Value), s.salts); ok {
			w.t.Fatalf("%s: a value of %s's collection reveals salt %q", fn, member, n)
		}
		for _, id := range s.ids {
			if strings.Contains(pw.Key, id) && !slices.Contains(s.leased[member], id) {
				w.t.Fatalf("%s: key %q of %s's collection names license %s, which it does not lease", fn, pw.Key, member, id)
			}
		}
	}
	// A submitted transaction's result is stored in its block, which every
	// member reads: it must name neither salts nor license IDs.
	if n, ok := contains(string(payload), append(s.ids, s.salts...)); ok {
		w.t.Fatalf("%s returned %q in a result every member's block will hold", fn, n)
	}
}

// txAt sets the timestamp of the following transactions.
func (w *world) txAt(ts string) {
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		w.t.Fatal(err)
	}
	w.stub.SetTxTimestamp(t)
}

func (w *world) order(orderID, account string) Order {
	w.t.Helper()
	var o Order
	w.evaluate(sp, lo, "order:GetOrder", map[string]any{"orderId": orderID, "account": account}, sp, &o)
	return o
}

func (w *world) leasedRecord(member, orderID, licenseID string) (AllocatedRecord, bool) {
	w.t.Helper()
	key, err := allocatedKey(orderID, licenseID)
	if err != nil {
		w.t.Fatal(err)
	}
	v, ok := w.stub.PrivateData(ImplicitCollection(member), key)
	if !ok {
		return AllocatedRecord{}, false
	}
	var a AllocatedRecord
	if err := json.Unmarshal(v, &a); err != nil {
		w.t.Fatal(err)
	}
	return a, true
}

func requireJSON(t *testing.T, what string, got any, want string) {
	t.Helper()
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Fatalf("%s:\n got %s\nwant %s", what, b, want)
	}
}

// TestLicenseJourney runs the whole license journey: an asset,
// a quote, an order approved by the agency, the 4-step allocation, a SWID
// report, a renewal, the 4-step return, expired orders and the license
// history. Each transaction is simulated on the peers of exactly the
// members whose endorsement its writes need (DESIGN §11), and after each
// one no license ID or salt may appear in public state or events.
func TestLicenseJourney(t *testing.T) {
	w := newWorld(t)
	licenses := []map[string]string{
		{"id": "lic-delta-0004", "salt": "salt-delta-9c1e-secret"},
		{"id": "lic-alpha-0001", "salt": "salt-alpha-7f3a-secret"},
		{"id": "lic-charlie-0003", "salt": "salt-charlie-0b2d-secret"},
		{"id": "lic-bravo-0002", "salt": "salt-bravo-55e0-secret"},
	}
	sec := &secrets{leased: map[string][]string{}}
	for _, l := range licenses {
		sec.ids = append(sec.ids, l["id"])
		sec.salts = append(sec.salts, l["salt"])
	}
	submit := func(msp, role, fn string, req any, peers ...string) []byte {
		t.Helper()
		out := w.submitOK(msp, role, fn, req, peers...)
		w.checkPrivacy(sec, fn, out)
		return out
	}

	// The License Owner adds the asset.
	w.txAt("2024-02-29T09:00:00.5Z")
	var id IDResponse
	must(t, json.Unmarshal(submit(sp, lo, "asset:AddAsset", map[string]any{
		"name": "Office Suite", "endDate": "2030-12-31 23:59:59", "licenses": licenses}, sp), &id))
	assetID := id.ID
	if got := len(w.stub.Writes()); got != 4 {
		t.Fatalf("AddAsset wrote %d public markers, want 4", got)
	}
	marker := LicenseMarker("salt-alpha-7f3a-secret", assetID, "lic-alpha-0001")
	if v, ok := w.stub.State(marker); !ok || string(v) != "\x00" {
		t.Fatalf("marker of lic-alpha-0001: %q %v", v, ok)
	}

	// Everybody sees the basic view; the service provider the detail.
	var basic []AssetResponse
	w.evaluate(ag1, tpoc, "asset:GetAssets", nil, sp, &basic)
	requireJSON(t, "GetAssets", basic, `[{"id":"`+assetID+`","name":"Office Suite","numAvailable":4,"startDate":"2024-02-29T09:00:00.500Z","endDate":"2030-12-31 23:59:59"}]`)
	var raw json.RawMessage
	w.evaluate(ag1, acq, "asset:GetAsset", map[string]any{"assetId": assetID}, sp, &raw)
	if strings.Contains(string(raw), "totalAmount") || strings.Contains(string(raw), "lic-") {
		t.Fatalf("an agency's GetAsset shows detail: %s", raw)
	}

	// Quote, order, approval.
	w.txAt("2024-02-29T10:00:00Z")
	must(t, json.Unmarshal(submit(ag1, tpoc, "order:GetQuote", map[string]any{
		"account": ag1, "assetId": assetID, "amount": 2, "duration": 1}, sp), &id))
	orderID := id.ID
	ref := map[string]any{"orderId": orderID, "account": ag1}
	submit(sp, acq, "order:SendQuote", map[string]any{"orderId": orderID, "account": ag1, "price": "100"}, sp)
	w.txAt("2024-02-29T10:30:00.123Z")
	submit(ag1, tpoc, "order:InitiateOrder", ref, sp, ag1)
	w.txAt("2024-02-29T11:00:00Z")
	submit(ag1, acq, "order:ApproveOrder", ref, sp, ag1)
	requireTrust(t, w, ag1, orderID, []string{"order:ApproveOrder", "order:InitiateOrder"})

	// Allocation, steps 1 to 4.
	var proposal AllocateLicensesResponse
	w.evaluate(sp, acq, "order:GetLicensesToAllocateForOrder", ref, sp, &proposal)
	requireJSON(t, "proposal", proposal, `{"orderId":"`+orderID+`","account":"Agency1MSP","licenses":["lic-alpha-0001","lic-bravo-0002"]}`)
	w.txAt("2024-02-29T12:00:00.250Z")
	submit(sp, acq, "order:AllocateLicenses", map[string]any{"orderId": orderID, "account": ag1, "licenses": proposal.Licenses}, sp)
	var pending LicensesRequest
	w.evaluate(sp, acq, "order:GetAllocateRequestForOrder", map[string]any{"orderId": orderID}, sp, &pending)
	requireJSON(t, "pending allocation", pending, `{"account":"Agency1MSP","assetId":"`+assetID+`","orderId":"`+orderID+`","expiration":"2025-02-28 12:00:00","licenses":["lic-alpha-0001","lic-bravo-0002"]}`)
	sec.leased[ag1] = pending.Licenses
	submit(sp, acq, "order:SendLicenses", pending, sp, ag1)
	if a, ok := w.leasedRecord(ag1, orderID, "lic-bravo-0002"); !ok || a.Expiration != "2025-02-28 12:00:00" {
		t.Fatalf("Agency1MSP's lease of lic-bravo-0002: %+v %v", a, ok)
	}
	o := w.order(orderID, ag1)
	requireJSON(t, "allocated order", o, `{"id":"`+orderID+`","account":"Agency1MSP","status":"ALLOCATED",`+
		`"initiationDate":"2024-02-29T10:30:00.123Z","approvalDate":"2024-02-29T11:00:00Z",`+
		`"allocatedDate":"2024-02-29T12:00:00.250Z","latestRenewalDate":"2024-02-29T12:00:00.250Z",`+
		`"assetId":"`+assetID+`","amount":2,"duration":1,"price":100,"expiration":"2025-02-28 12:00:00",`+
		`"licenses":["lic-alpha-0001","lic-bravo-0002"]}`)

	// The agency reports a SWID tag on one license.
	swid := map[string]any{"account": ag1, "primaryTag": "tag-office-1", "orderId": orderID, "licenseId": "lic-alpha-0001",
		"xml": `<SoftwareIdentity xmlns="http://standards.iso.org/iso/19770/-2/2015/schema.xsd" tagId="tag-office-1" name="Office" version="16.0"/>`}
	submit(ag1, tpoc, "swid:ReportSWID", swid, ag1)
	var ids []string
	w.evaluate(ag1, tpoc, "order:GetAvailableLicensesForOrder", ref, ag1, &ids)
	requireJSON(t, "licenses without SWID", ids, `["lic-bravo-0002"]`)
	w.evaluate(sp, acq, "swid:GetLicensesWithSWIDsForOrder", ref, ag1, &ids)
	requireJSON(t, "licenses with SWID", ids, `["lic-alpha-0001"]`)
	var gotSWID SWID
	w.evaluate(sp, lo, "swid:GetSWID", map[string]any{"account": ag1, "orderId": orderID, "licenseId": "lic-alpha-0001"}, ag1, &gotSWID)
	if gotSWID.PrimaryTag != "tag-office-1" || gotSWID.XML != swid["xml"] {
		t.Fatalf("GetSWID: %+v", gotSWID)
	}

	// A renewal: quote, order, approval, allocation extending the lease.
	w.txAt("2025-01-15T08:00:00Z")
	submit(ag1, tpoc, "order:GetQuote", map[string]any{"account": ag1, "assetId": assetID, "amount": 5, "duration": 9, "orderId": orderID}, sp)
	submit(sp, acq, "order:SendQuote", map[string]any{"orderId": orderID, "account": ag1, "price": 90.5}, sp)
	submit(ag1, tpoc, "order:InitiateOrder", ref, sp, ag1)
	w.txAt("2025-01-16T08:00:00Z")
	submit(ag1, acq, "order:ApproveOrder", ref, sp, ag1)
	w.refuse(sp, acq, "order:GetLicensesToAllocateForOrder", ref, "cannot get licenses to allocate for an order that is being renewed")
	w.txAt("2025-01-17T08:00:00Z")
	submit(sp, acq, "order:AllocateLicenses", map[string]any{"orderId": orderID, "account": ag1, "licenses": []string{}}, sp)
	w.evaluate(sp, acq, "order:GetAllocateRequestForOrder", map[string]any{"orderId": orderID}, sp, &pending)
	if pending.Expiration != "2026-02-28 12:00:00" || !slices.Equal(pending.Licenses, []string{"lic-alpha-0001", "lic-bravo-0002"}) {
		t.Fatalf("renewal allocation: %+v", pending)
	}
	submit(sp, acq, "order:SendLicenses", pending, sp, ag1)
	if a, _ := w.leasedRecord(ag1, orderID, "lic-alpha-0001"); a.Expiration != "2026-02-28 12:00:00" {
		t.Fatalf("renewed lease: %+v", a)
	}
	o = w.order(orderID, ag1)
	if o.Status != Allocated || o.Amount != 2 || o.Duration != 1 || o.Price != 90.5 || *o.Expiration != "2026-02-28 12:00:00" ||
		o.InitiationDate != "2024-02-29T10:30:00.123Z" || o.ApprovalDate != "2025-01-16T08:00:00Z" || o.LatestRenewalDate != "2025-01-17T08:00:00Z" {
		t.Fatalf("renewed order: %+v", o)
	}

	// The agency returns one license: steps 1 to 4.
	w.txAt("2025-06-01T08:00:00Z")
	ret := LicensesRequest{Account: ag1, AssetID: assetID, OrderID: orderID, Expiration: "2026-02-28 12:00:00", Licenses: []string{"lic-alpha-0001"}}
	submit(ag1, tpoc, "order:InitiateReturn", ret, sp, ag1)
	var initiated LicensesRequest
	w.evaluate(sp, acq, "order:GetInitiatedReturnForOrder", map[string]any{"orderId": orderID}, sp, &initiated)
	requireJSON(t, "initiated return", initiated, mustJSON(t, ret))
	w.refuse(sp, acq, "order:DeallocateLicensesFromSP", ref, "licenses have not been removed from account Agency1MSP yet")
	submit(sp, acq, "order:DeallocateLicensesFromAccount", initiated, sp, ag1)
	if _, ok := w.leasedRecord(ag1, orderID, "lic-alpha-0001"); ok {
		t.Fatal("the returned license is still in Agency1MSP's collection")
	}
	swidKey, _ := swidKey(orderID, "lic-alpha-0001")
	if _, ok := w.stub.PrivateData(ImplicitCollection(ag1), swidKey); ok {
		t.Fatal("the returned license's SWID survived (R-09)")
	}
	submit(sp, acq, "order:DeallocateLicensesFromSP", ref, sp)
	o = w.order(orderID, ag1)
	if o.Status != Allocated || o.Amount != 1 || !slices.Equal(o.Licenses, []string{"lic-bravo-0002"}) {
		t.Fatalf("order after the return: %+v", o)
	}
	var detail AssetDetailResponse
	w.evaluate(sp, lo, "asset:GetAsset", map[string]any{"assetId": assetID}, sp, &detail)
	requireJSON(t, "asset detail", detail, `{"id":"`+assetID+`","name":"Office Suite","numAvailable":3,"startDate":"2024-02-29T09:00:00.500Z",`+
		`"endDate":"2030-12-31 23:59:59","totalAmount":4,"availableLicenses":["lic-alpha-0001","lic-charlie-0003","lic-delta-0004"],`+
		`"allocatedLicenses":{"Agency1MSP":{"`+orderID+`":[{"licenseId":"lic-bravo-0002","expiration":"2026-02-28 12:00:00"}]}}}`)

	// Expired orders: strictly after the expiration, filtered by reader.
	var expired []Order
	w.txAt("2026-02-28T12:00:00Z")
	w.evaluate(sp, acq, "order:GetExpiredOrders", nil, sp, &expired)
	if len(expired) != 0 {
		t.Fatalf("expired at the expiration instant: %+v", expired)
	}
	w.txAt("2026-02-28T12:00:01Z")
	for _, c := range []struct {
		msp, role string
		want      int
	}{{sp, acq, 1}, {sp, lo, 1}, {ag1, tpoc, 1}, {ag1, acq, 1}, {ag2, tpoc, 0}} {
		w.evaluate(c.msp, c.role, "order:GetExpiredOrders", nil, sp, &expired)
		if len(expired) != c.want || (c.want == 1 && expired[0].ID != orderID) {
			t.Fatalf("GetExpiredOrders as %s %s: %+v", c.msp, c.role, expired)
		}
	}

	// License history: the transactions that wrote each marker.
	var history []string
	w.evaluate(sp, lo, "asset:GetLicenseTxHistory", map[string]any{"assetId": assetID, "licenseId": "lic-bravo-0002"}, sp, &history)
	if len(history) != 3 || history[2] != assetID {
		t.Fatalf("history of lic-bravo-0002 (add, allocation, renewal): %q", history)
	}
	w.evaluate(sp, acq, "asset:GetLicenseTxHistory", map[string]any{"assetId": assetID, "licenseId": "lic-alpha-0001"}, sp, &history)
	if len(history) != 4 || history[3] != assetID {
		t.Fatalf("history of lic-alpha-0001 (add, allocation, renewal, return): %q", history)
	}

	// Nothing public but markers, ever.
	for _, k := range w.stub.StateKeys() {
		v, _ := w.stub.State(k)
		if _, err := hex.DecodeString(k); err != nil || len(k) != 64 || string(v) != "\x00" {
			t.Fatalf("public state %q = %q", k, v)
		}
	}
}

// requireTrust requires the trust records of member for the order, by
// function.
func requireTrust(t *testing.T, w *world, member, orderID string, want []string) {
	t.Helper()
	it, err := w.stub.GetPrivateDataByPartialCompositeKey(ImplicitCollection(member), keyTrust, []string{orderID})
	must(t, err)
	var got []string
	for it.HasNext() {
		kv, err := it.Next()
		must(t, err)
		var r TrustRecord
		must(t, json.Unmarshal(kv.Value, &r))
		if r.OrderID != orderID || r.Account != member || r.User != "user-"+strings.ToLower(member) || r.TxID == "" {
			t.Fatalf("trust record %+v", r)
		}
		got = append(got, r.Function)
	}
	w.stub.Commit()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("trust records of %s: %q, want %q", member, got, want)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
