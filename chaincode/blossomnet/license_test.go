package blossomnet

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/chaincode/asset"
)

// sp is the service provider: the admin member.
const sp = Admin

// assetCall is a call of the asset chaincode by member m's user of role
// with input req, endorsed by (or answered on) the peers of endorsers.
func assetCall(m int, role, function string, req any, endorsers ...int) Call {
	return Call{Member: m, Role: role, Chaincode: asset.ChaincodeName, Function: function, Request: req, Endorsers: endorsers}
}

// orderRef is the {orderId, account} input of the order functions.
func orderRef(orderID, account string) map[string]any {
	return map[string]any{"orderId": orderID, "account": account}
}

// pool is what the license journey leaves behind, for the privacy checks:
// the values only some peers may hold.
type pool struct {
	assetID, orderID string
	ids, salts       []string
	leased           []string // the IDs the agency still leases
	returned         string   // the ID it returned
	swidTag          string
}

// newLicenses returns n licenses whose IDs and salts are unique to this
// run, so that finding one in a file proves where it went.
func newLicenses(t testing.TB, n int) []map[string]string {
	t.Helper()
	var out []map[string]string
	for range n {
		r := make([]byte, 8)
		if _, err := rand.Read(r); err != nil {
			t.Fatal(err)
		}
		out = append(out, map[string]string{"id": "lic-" + hex.EncodeToString(r[:4]), "salt": "salt-" + hex.EncodeToString(r)})
	}
	return out
}

func (n *Network) order(t testing.TB, orderID string, agency int) asset.Order {
	t.Helper()
	var o asset.Order
	n.Query(t, assetCall(sp, acq, "order:GetOrder", orderRef(orderID, n.MSP(agency)), sp), &o)
	return o
}

// buy runs a quote, an order the agency places and approves, and the
// four allocation steps for order orderID ("": a new order) of amount
// licenses of assetID for agency m, and returns the order ID and the
// allocation the service provider sent.
func buy(t testing.TB, n *Network, m int, assetID, orderID string, amount int) (string, asset.LicensesRequest) {
	t.Helper()
	msp := n.MSP(m)
	quote := map[string]any{"account": msp, "assetId": assetID, "amount": amount, "duration": 1}
	if orderID != "" {
		quote["orderId"] = orderID // a renewal
	}
	var id asset.IDResponse
	if err := json.Unmarshal(n.Submit(t, assetCall(m, tpoc, "order:GetQuote", quote, sp)), &id); err != nil || (orderID != "" && id.ID != orderID) {
		t.Fatalf("GetQuote: %+v %v", id, err)
	}
	orderID = id.ID
	ref := orderRef(orderID, msp)
	n.Submit(t, assetCall(sp, acq, "order:SendQuote", map[string]any{"orderId": orderID, "account": msp, "price": 100}, sp))
	n.Submit(t, assetCall(m, tpoc, "order:InitiateOrder", ref, sp, m))
	n.Submit(t, assetCall(m, acq, "order:ApproveOrder", ref, sp, m))
	if o := n.order(t, orderID, m); o.Status != asset.Approved && o.Status != asset.RenewalApproved {
		t.Fatalf("order after approval: %+v", o)
	}

	var proposal asset.AllocateLicensesResponse
	if renewal := quote["orderId"] != nil; renewal {
		proposal.Licenses = []string{}
	} else {
		n.Query(t, assetCall(sp, acq, "order:GetLicensesToAllocateForOrder", ref, sp), &proposal)
		if len(proposal.Licenses) != amount {
			t.Fatalf("GetLicensesToAllocateForOrder proposes %q for %d", proposal.Licenses, amount)
		}
	}
	n.Submit(t, assetCall(sp, acq, "order:AllocateLicenses", map[string]any{"orderId": orderID, "account": msp, "licenses": proposal.Licenses}, sp))
	var pending asset.LicensesRequest
	n.Query(t, assetCall(sp, acq, "order:GetAllocateRequestForOrder", map[string]any{"orderId": orderID}, sp), &pending)
	n.Submit(t, assetCall(sp, acq, "order:SendLicenses", pending, sp, m))
	if o := n.order(t, orderID, m); o.Status != asset.Allocated || o.Expiration == nil || *o.Expiration != pending.Expiration {
		t.Fatalf("order after allocation: %+v (sent %+v)", o, pending)
	}
	return orderID, pending
}

// licenseJourney runs the license journey for agency m on the
// network: an asset, a quote, an order the agency approves, allocation,
// a SWID report, a renewal, a return of one license, expired orders and
// the license history.
func licenseJourney(t *testing.T, n *Network, m int) *pool {
	t.Helper()
	msp := n.MSP(m)
	licenses := newLicenses(t, 4)
	p := &pool{}
	for _, l := range licenses {
		p.ids = append(p.ids, l["id"])
		p.salts = append(p.salts, l["salt"])
	}
	var id asset.IDResponse
	if err := json.Unmarshal(n.Submit(t, assetCall(sp, lo, "asset:AddAsset", map[string]any{
		"name": "Office Suite", "endDate": "2099-12-31 23:59:59", "licenses": licenses}, sp)), &id); err != nil {
		t.Fatal(err)
	}
	p.assetID = id.ID
	var assets []asset.AssetResponse
	n.Query(t, assetCall(m, tpoc, "asset:GetAssets", nil, sp), &assets)
	if len(assets) != 1 || assets[0].ID != p.assetID || assets[0].NumAvailable != 4 {
		t.Fatalf("GetAssets as the agency: %+v", assets)
	}

	orderID, first := buy(t, n, m, p.assetID, "", 2)
	p.orderID = orderID
	sent, err := time.Parse(asset.DateLayout, first.Expiration)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(sent); d < 364*24*time.Hour || d > 367*24*time.Hour {
		t.Fatalf("a one-year lease expires %s", first.Expiration)
	}

	// The agency reports an installation under one license.
	p.swidTag = "tag-" + p.orderID[:12]
	n.Submit(t, assetCall(m, tpoc, "swid:ReportSWID", map[string]any{"account": msp, "primaryTag": p.swidTag, "orderId": orderID,
		"licenseId": first.Licenses[0],
		"xml":       `<SoftwareIdentity xmlns="http://standards.iso.org/iso/19770/-2/2015/schema.xsd" tagId="` + p.swidTag + `" name="Office" version="16.0"/>`}, m))
	var free []string
	n.Query(t, assetCall(m, tpoc, "order:GetAvailableLicensesForOrder", orderRef(orderID, msp), m), &free)
	if !slices.Equal(free, first.Licenses[1:]) {
		t.Fatalf("licenses without SWID: %q, leased %q", free, first.Licenses)
	}

	// A renewal extends the lease by the order's duration.
	_, renewed := buy(t, n, m, p.assetID, orderID, 2)
	if want := sent.AddDate(1, 0, 0).Format(asset.DateLayout); renewed.Expiration != want || !slices.Equal(renewed.Licenses, first.Licenses) {
		t.Fatalf("renewal: %+v, want expiration %s and licenses %q", renewed, want, first.Licenses)
	}

	// The agency returns the license with the SWID: steps 1 to 4.
	p.returned, p.leased = first.Licenses[0], first.Licenses[1:]
	ret := asset.LicensesRequest{Account: msp, AssetID: p.assetID, OrderID: orderID, Expiration: renewed.Expiration, Licenses: []string{p.returned}}
	n.Submit(t, assetCall(m, tpoc, "order:InitiateReturn", ret, sp, m))
	var initiated asset.LicensesRequest
	n.Query(t, assetCall(sp, acq, "order:GetInitiatedReturnForOrder", map[string]any{"orderId": orderID}, sp), &initiated)
	n.Submit(t, assetCall(sp, acq, "order:DeallocateLicensesFromAccount", initiated, sp, m))
	n.Submit(t, assetCall(sp, acq, "order:DeallocateLicensesFromSP", orderRef(orderID, msp), sp))
	if o := n.order(t, orderID, m); o.Status != asset.Allocated || o.Amount != 1 || !slices.Equal(o.Licenses, p.leased) {
		t.Fatalf("order after the return: %+v", o)
	}
	var detail asset.AssetDetailResponse
	n.Query(t, assetCall(sp, lo, "asset:GetAsset", map[string]any{"assetId": p.assetID}, sp), &detail)
	if detail.NumAvailable != 3 || !slices.Contains(detail.AvailableLicenses, p.returned) || len(detail.AllocatedLicenses[msp][orderID]) != 1 {
		t.Fatalf("asset after the return: %+v", detail)
	}

	// Nothing expires within a year: the orders' leases are in force.
	var expired []asset.Order
	n.Query(t, assetCall(m, tpoc, "order:GetExpiredOrders", nil, sp), &expired)
	if len(expired) != 0 {
		t.Fatalf("expired orders: %+v", expired)
	}

	// Each marker's history: added, allocated, renewed (and returned).
	for _, c := range []struct {
		license string
		writes  int
	}{{p.leased[0], 3}, {p.returned, 4}} {
		var history []string
		n.Query(t, assetCall(sp, lo, "asset:GetLicenseTxHistory", map[string]any{"assetId": p.assetID, "licenseId": c.license}, sp), &history)
		if len(history) != c.writes || history[len(history)-1] != p.assetID {
			t.Fatalf("history of %s: %q, want %d transactions, the first AddAsset", c.license, history, c.writes)
		}
	}
	return p
}
