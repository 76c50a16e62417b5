package asset

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
	"github.com/blossom-ledger/blossom/sdk/contract/contracttest"
)

// TestDocumentedFunctionsExist calls every function of spec §2.3 and
// requires that none is unknown to the router.
func TestDocumentedFunctionsExist(t *testing.T) {
	w := newWorld(t)
	for _, fn := range []string{
		"asset:AddAsset", "asset:AddLicenses", "asset:RemoveLicenses", "asset:UpdateEndDate", "asset:GetAssets", "asset:GetAsset", "asset:GetLicenseTxHistory",
		"order:GetQuote", "order:SendQuote", "order:InitiateOrder", "order:ApproveOrder", "order:DenyOrder", "order:GetLicensesToAllocateForOrder",
		"order:AllocateLicenses", "order:GetAllocateRequestForOrder", "order:SendLicenses", "order:InitiateReturn", "order:GetInitiatedReturnForOrder",
		"order:DeallocateLicensesFromAccount", "order:DeallocateLicensesFromSP", "order:GetOrder", "order:GetOrdersByAccount",
		"order:GetOrdersByAccountAndAsset", "order:GetOrdersByAsset", "order:GetAvailableLicensesForOrder", "order:GetExpiredOrders",
		"swid:ReportSWID", "swid:DeleteSWID", "swid:GetSWID", "swid:GetLicensesWithSWIDsForOrder",
		"ngac:GetAllRoles", "ngac:GetAllPrivileges",
	} {
		if _, err := w.call(sp, lo, fn, nil); err != nil && err.Error() == "unknown function "+fn {
			t.Errorf("%s is not routed", fn)
		}
	}
}

func TestNGACContract(t *testing.T) {
	w := newWorld(t)
	for _, c := range []struct{ fn, want string }{
		{"ngac:GetAllRoles", `["Acquisition Officer","Technical Point of Contact","License Owner"]`},
		{"ngac:GetAllPrivileges", `["write_asset","read_assets","read_asset_detail","initiate_order","approve_order","deny_order","read_order","allocate_license","return_license","read_license","write_swid","read_swid"]`},
	} {
		// Anyone, even without role or account.
		if got := string(w.ok(ag9, noRole, c.fn, nil)); got != c.want {
			t.Errorf("%s = %s, want %s", c.fn, got, c.want)
		}
	}
}

func TestDeploymentErrors(t *testing.T) {
	w := newWorld(t)
	w.as(sp, lo)
	w.setRequest(map[string]any{"assetId": "x"})
	if _, err := w.stub.Invoke("asset:GetAsset", "x"); !errorIs(err, `wrong number of arguments: want 0, got 1: the input is the transient "request"`) {
		t.Errorf("positional argument: %v", err)
	}
	w.stub.SetDefinitionParams(nil)
	if _, err := w.stub.Invoke("asset:GetAssets"); !errorIs(err, `the chaincode definition has no "adminMSP" parameter naming the BloSS@M service provider`) {
		t.Errorf("no adminMSP: %v", err)
	}
	w.stub.SetDefinitionParams(map[string]string{AdminMSPParam: "bad msp"})
	if _, err := w.stub.Invoke("asset:GetAssets"); !errorIs(err, `the chaincode definition parameter "adminMSP" is invalid: invalid member id "bad msp": only ASCII letters, digits, '.', '-' and '_' are allowed`) {
		t.Errorf("invalid adminMSP: %v", err)
	}
	// Without the authorization chaincode no status can be read.
	w2 := contracttest.NewStub(ChaincodeName, New())
	w2.SetDefinitionParams(map[string]string{AdminMSPParam: sp})
	w2.SetCreator(sp, certFor(t, sp, lo))
	if _, err := w2.Invoke("asset:GetAssets"); !errorIs(err, "reading the account status of SAMSMSP: chaincode authorization is not defined on channel testchannel") {
		t.Errorf("no authorization chaincode: %v", err)
	}
	// A malformed status answer.
	w.stub.SetDefinitionParams(map[string]string{AdminMSPParam: sp})
	w.statuses[sp] = "authorized"
	if _, err := w.call(sp, lo, "asset:GetAssets", nil); !errorIs(err, "unknown Status: authorized") {
		t.Errorf("bad status: %v", err)
	}
}

// TestAssetContract: AddLicenses, RemoveLicenses, UpdateEndDate and the
// asset views.
func TestAssetContract(t *testing.T) {
	w := newWorld(t)
	a := w.addAsset("a", 2)
	w.submitOK(sp, lo, "asset:AddLicenses", map[string]any{"assetId": a, "licenses": []map[string]string{{"id": "lic-10", "salt": "s10"}, {"id": "lic-11", "salt": "s11"}}}, sp)
	if _, ok := w.stub.State(LicenseMarker("s10", a, "lic-10")); !ok {
		t.Fatal("AddLicenses wrote no marker")
	}
	w.submitOK(sp, lo, "asset:RemoveLicenses", map[string]any{"assetId": a, "licenses": []string{"lic-01", "lic-10"}}, sp)
	if _, ok := w.stub.State(LicenseMarker("s10", a, "lic-10")); ok {
		t.Fatal("RemoveLicenses kept the marker")
	}
	// A removed license can be added again, even with its old salt.
	w.submitOK(sp, lo, "asset:AddLicenses", map[string]any{"assetId": a, "licenses": []map[string]string{{"id": "lic-10", "salt": "s10"}}}, sp)
	w.submitOK(sp, lo, "asset:UpdateEndDate", map[string]any{"assetId": a, "newEndDate": "2035-06-30 12:00:00"}, sp)

	var detail AssetDetailResponse
	w.evaluate(sp, acq, "asset:GetAsset", map[string]any{"assetId": a}, sp, &detail)
	if detail.EndDate != "2035-06-30 12:00:00" || detail.TotalAmount != 3 || detail.NumAvailable != 3 ||
		!slices.Equal(detail.AvailableLicenses, []string{"lic-00", "lic-10", "lic-11"}) || len(detail.AllocatedLicenses) != 0 {
		t.Fatalf("detail: %+v", detail)
	}
	var raw json.RawMessage
	w.evaluate(sp, lo, "asset:GetAsset", map[string]any{"assetId": a}, sp, &raw)
	if want := `"availableLicenses":["lic-00","lic-10","lic-11"],"allocatedLicenses":{}}`; string(raw[len(raw)-len(want):]) != want {
		t.Fatalf("detail JSON: %s", raw)
	}
	b := w.addAsset("b", 0) // an empty asset is allowed
	var assets []AssetResponse
	w.evaluate(ag2, acq, "asset:GetAssets", nil, sp, &assets)
	if len(assets) != 2 || assets[0].NumAvailable+assets[1].NumAvailable != 3 {
		t.Fatalf("GetAssets: %+v", assets)
	}
	var basic AssetResponse
	w.evaluate(ag2, tpoc, "asset:GetAsset", map[string]any{"assetId": b}, sp, &basic)
	if basic.ID != b || basic.NumAvailable != 0 {
		t.Fatalf("basic view: %+v", basic)
	}
}

// TestOrderQueries: the order lists are filtered by the reader.
func TestOrderQueries(t *testing.T) {
	w := newWorld(t)
	const ag1x = "Agency1MSP2" // Agency1MSP is a prefix of its ID
	w.statuses[ag1x] = "AUTHORIZED"
	a, b := w.addAsset("a", 3), w.addAsset("b", 3)
	o1 := w.newOrder(ag1, a, 1)
	o4 := w.newOrder(ag1x, a, 1)
	o2 := w.newOrder(ag1, b, 1)
	o3 := w.newOrder(ag2, a, 1)
	ids := func(orders []Order) []string {
		var out []string
		for _, o := range orders {
			out = append(out, o.ID)
		}
		slices.Sort(out)
		return out
	}
	sorted := func(s ...string) []string { slices.Sort(s); return s }
	var orders []Order
	for _, c := range []struct {
		msp, role, fn string
		req           any
		want          []string
	}{
		{ag1, tpoc, "order:GetOrdersByAccount", map[string]any{"account": ag1}, sorted(o1, o2)},
		{sp, lo, "order:GetOrdersByAccount", map[string]any{"account": ag2}, []string{o3}},
		{ag1, acq, "order:GetOrdersByAccountAndAsset", map[string]any{"account": ag1, "assetId": b}, []string{o2}},
		{ag1, tpoc, "order:GetOrdersByAsset", map[string]any{"assetId": a}, []string{o1}},
		{ag2, acq, "order:GetOrdersByAsset", map[string]any{"assetId": a}, []string{o3}},
		{sp, acq, "order:GetOrdersByAsset", map[string]any{"assetId": a}, sorted(o1, o3, o4)},
		{ag3, tpoc, "order:GetOrdersByAsset", map[string]any{"assetId": a}, nil}, // pending: denials are skipped
		{ag1, aoRole, "order:GetOrdersByAsset", map[string]any{"assetId": "none"}, nil},
		{sp, lo, "order:GetOrdersByAccount", map[string]any{"account": ag1}, sorted(o1, o2)},
		{ag1x, tpoc, "order:GetOrdersByAccount", map[string]any{"account": ag1x}, []string{o4}},
		{ag1x, tpoc, "order:GetOrdersByAsset", map[string]any{"assetId": a}, []string{o4}},
	} {
		w.evaluate(c.msp, c.role, c.fn, c.req, sp, &orders)
		if got := ids(orders); !slices.Equal(got, c.want) {
			t.Errorf("%s as %s %s: %q, want %q", c.fn, c.msp, c.role, got, c.want)
		}
	}
	var o Order
	w.evaluate(ag1, acq, "order:GetOrder", map[string]any{"orderId": o1, "account": ag1}, sp, &o)
	requireJSON(t, "new order", o, `{"id":"`+o1+`","account":"Agency1MSP","status":"QUOTE_REQUESTED","initiationDate":"","approvalDate":"",`+
		`"allocatedDate":"","latestRenewalDate":"","assetId":"`+a+`","amount":1,"duration":2,"price":0,"expiration":null,"licenses":null}`)
}

// TestReturnProtocol: the return's guards and its effects.
func TestReturnProtocol(t *testing.T) {
	w, assetID, orderID := orderIn(t, Allocated)
	ref := map[string]any{"orderId": orderID, "account": ag1}
	ret := LicensesRequest{Account: ag1, AssetID: assetID, OrderID: orderID, Expiration: "2028-01-02 03:04:05", Licenses: []string{"lic-01"}}
	w.submitOK(ag1, tpoc, "order:InitiateReturn", ret, sp, ag1)
	w.refuse(ag1, tpoc, "order:InitiateReturn", with(map[string]any{"account": ag1, "assetId": assetID, "orderId": orderID, "expiration": "x"}, "licenses", []string{"lic-00"}),
		"a request to return licenses for order "+orderID+" is already active")
	// No renewal allocation while a return is in progress.
	for _, s := range []string{"renew", "quote", "initiate", "approve"} {
		w.step(ag1, orderID, s)
	}
	w.refuse(sp, acq, "order:AllocateLicenses", with(ref, "licenses", []string{}), "cannot allocate licenses for order "+orderID+" while a return of its licenses is in progress")
	// The request must be the initiated one, license order included.
	other := ret
	other.Licenses = []string{"lic-00"}
	w.refuse(sp, acq, "order:DeallocateLicensesFromAccount", other, "provided deallocation request does not match the one initiated")
	w.submitOK(sp, acq, "order:DeallocateLicensesFromAccount", ret, sp, ag1)
	w.refuse(sp, acq, "order:DeallocateLicensesFromAccount", ret, "provided deallocation request does not match the one initiated")
	w.refuse(sp, acq, "order:DeallocateLicensesFromSP", with(ref, "account", ag2), "order with ID "+orderID+" and account Agency2MSP does not exist")
	w.submitOK(sp, acq, "order:DeallocateLicensesFromSP", ref, sp)
	w.refuse(sp, acq, "order:DeallocateLicensesFromSP", ref, "no deallocate request exists for order "+orderID)
	o := w.order(orderID, ag1)
	if o.Amount != 1 || !slices.Equal(o.Licenses, []string{"lic-00"}) || o.Status != RenewalApproved {
		t.Fatalf("order after the return: %+v", o)
	}
	// The renewal now allocates the remaining license; while it is not
	// sent, no return can start.
	w.submitOK(sp, acq, "order:AllocateLicenses", with(ref, "licenses", []string{}), sp)
	ret.Licenses = []string{"lic-00"}
	w.refuse(ag1, tpoc, "order:InitiateReturn", ret, "cannot return licenses of order "+orderID+" while an allocation of them is being sent")
	w.step(ag1, orderID, "send")
	w.submitOK(ag1, tpoc, "order:InitiateReturn", ret, sp, ag1)
	var detail AssetDetailResponse
	w.evaluate(sp, lo, "asset:GetAsset", map[string]any{"assetId": assetID}, sp, &detail)
	if !slices.Equal(detail.AvailableLicenses, []string{"lic-01", "lic-02"}) {
		t.Fatalf("available after the return: %q", detail.AvailableLicenses)
	}
	// The returned license can be allocated to another order.
	other2 := w.newOrder(ag2, assetID, 2)
	for _, s := range pathTo[Allocated] {
		w.step(ag2, other2, s)
	}
	if o := w.order(other2, ag2); !slices.Equal(o.Licenses, []string{"lic-01", "lic-02"}) {
		t.Fatalf("re-allocation: %+v", o)
	}
}

// TestFullReturnKeepsOrder: returning every license leaves the order
// ALLOCATED with amount 0, and it cannot be renewed.
func TestFullReturnKeepsOrder(t *testing.T) {
	w, assetID, orderID := orderIn(t, Allocated)
	ref := map[string]any{"orderId": orderID, "account": ag1}
	ret := LicensesRequest{Account: ag1, AssetID: assetID, OrderID: orderID, Expiration: "2028-01-02 03:04:05", Licenses: []string{"lic-01", "lic-00"}}
	w.submitOK(ag1, tpoc, "order:InitiateReturn", ret, sp, ag1)
	w.submitOK(sp, acq, "order:DeallocateLicensesFromAccount", ret, sp, ag1)
	w.submitOK(sp, acq, "order:DeallocateLicensesFromSP", ref, sp)
	o := w.order(orderID, ag1)
	if o.Status != Allocated || o.Amount != 0 || o.Licenses == nil || len(o.Licenses) != 0 {
		t.Fatalf("fully returned order: %+v", o)
	}
	w.refuse(ag1, tpoc, "order:GetQuote", map[string]any{"account": ag1, "assetId": assetID, "amount": 1, "duration": 1, "orderId": orderID}, "order "+orderID+" cannot be renewed")
}

// TestSWIDContract: report, replace, read and delete a SWID tag.
func TestSWIDContract(t *testing.T) {
	w, _, orderID := orderIn(t, Allocated)
	report := map[string]any{"account": ag1, "primaryTag": "tag-1", "xml": validSWID, "orderId": orderID, "licenseId": "lic-01"}
	ref := map[string]any{"account": ag1, "orderId": orderID, "licenseId": "lic-01"}
	w.submitOK(ag1, tpoc, "swid:ReportSWID", report, ag1)
	v2 := `<SoftwareIdentity tagId="tag-2" name="Office" version="17.0"/>`
	w.submitOK(ag1, tpoc, "swid:ReportSWID", with(report, "primaryTag", "tag-2", "xml", v2), ag1)
	for _, reader := range [][2]string{{ag1, tpoc}, {ag1, acq}, {sp, lo}, {sp, acq}} {
		var s SWID
		w.evaluate(reader[0], reader[1], "swid:GetSWID", ref, ag1, &s)
		if s != (SWID{PrimaryTag: "tag-2", XML: v2, OrderID: orderID, LicenseID: "lic-01"}) {
			t.Fatalf("GetSWID as %v: %+v", reader, s)
		}
	}
	w.submitOK(ag1, tpoc, "swid:DeleteSWID", ref, ag1)
	var ids []string
	w.evaluate(ag1, acq, "order:GetAvailableLicensesForOrder", map[string]any{"orderId": orderID, "account": ag1}, ag1, &ids)
	if !slices.Equal(ids, []string{"lic-00", "lic-01"}) {
		t.Fatalf("available after DeleteSWID: %q", ids)
	}
}

// TestExpiredOrders: orders without expiration are skipped and both
// stored formats are read; a caller's role is checked once an
// expired order is examined.
func TestExpiredOrders(t *testing.T) {
	w, assetID, orderID := orderIn(t, Allocated) // expires 2028-01-02 03:04:05
	w.newOrder(ag1, assetID, 1)                  // no expiration
	// An order whose expiration the reference wrote as an instant.
	iso := "2027-01-01T00:00:00Z"
	o := w.order(orderID, ag1)
	o.ID, o.Expiration, o.Licenses = "legacy", &iso, []string{}
	tx := &txn{stub: w.stub, spColl: ImplicitCollection(sp)}
	must(t, tx.putOrder(&o))
	must(t, tx.putOrderStatus(ag1, "legacy", Allocated))
	w.stub.Commit()
	var expired []Order
	for _, c := range []struct {
		at   string
		want []string
	}{
		{"2026-12-31T23:59:59Z", nil},
		{"2027-01-01T00:00:00.001Z", []string{"legacy"}},
		{"2028-01-02T03:04:06Z", []string{"legacy", orderID}},
	} {
		w.txAt(c.at)
		w.evaluate(ag1, tpoc, "order:GetExpiredOrders", nil, sp, &expired)
		var got []string
		for _, o := range expired {
			got = append(got, o.ID)
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(c.want))
		if !slices.Equal(got, want) {
			t.Errorf("at %s: %q, want %q", c.at, got, want)
		}
	}
	w.refuse(ag1, aoRole, "order:GetExpiredOrders", nil, "invalid role Authorizing Official")
}

// TestStatusChange: a member that stops being AUTHORIZED loses every
// right at once; its orders stay.
func TestStatusChange(t *testing.T) {
	w, _, orderID := orderIn(t, Allocated)
	ref := map[string]any{"orderId": orderID, "account": ag1}
	w.statuses[ag1] = string(blossompolicy.Unauthorized)
	w.refuse(ag1, tpoc, "order:GetOrder", ref, "unauthorized")
	delete(w.statuses, ag1)
	w.refuse(ag1, tpoc, "order:GetOrder", ref, "account Agency1MSP does not exist")
	// The service provider still reads the order.
	if o := w.order(orderID, ag1); o.ID != orderID {
		t.Fatalf("order: %+v", o)
	}
}
