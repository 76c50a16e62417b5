package asset

import (
	"testing"
)

// fixture is a world with:
//   - asset A (4 licenses lic-00 … lic-03) and asset B (1 license);
//   - "leased": Agency1MSP's order of 2 licenses of A, allocated and sent
//     (lic-00, lic-01), with a SWID tag on lic-00;
//   - "requested": Agency1MSP's order of A in QUOTE_REQUESTED;
//   - "approved": Agency2MSP's order of 2 licenses of A, APPROVED;
//   - "big": Agency2MSP's order of 3 licenses of A, APPROVED (more than
//     the 2 available).
type fixture struct {
	*world
	a, b                           string
	leased, requested, approved    string
	big                            string
	leasedRef, approvedRef, bigRef map[string]any
}

const validSWID = `<SoftwareIdentity tagId="tag-1" name="Office" version="16.0"></SoftwareIdentity>`

func newFixture(t *testing.T) *fixture {
	t.Helper()
	w := newWorld(t)
	f := &fixture{world: w}
	f.a = w.addAsset("a", 4)
	f.b = w.addAsset("b", 1)
	f.leased = w.newOrder(ag1, f.a, 2)
	for _, s := range pathTo[Allocated] {
		w.step(ag1, f.leased, s)
	}
	w.submitOK(ag1, tpoc, "swid:ReportSWID", map[string]any{"account": ag1, "primaryTag": "tag-1", "xml": validSWID, "orderId": f.leased, "licenseId": "lic-00"}, ag1)
	f.requested = w.newOrder(ag1, f.a, 1)
	f.approved = w.newOrder(ag2, f.a, 2)
	f.big = w.newOrder(ag2, f.a, 3)
	for _, s := range pathTo[Approved] {
		w.step(ag2, f.approved, s)
		w.step(ag2, f.big, s)
	}
	f.leasedRef = map[string]any{"orderId": f.leased, "account": ag1}
	f.approvedRef = map[string]any{"orderId": f.approved, "account": ag2}
	f.bigRef = map[string]any{"orderId": f.big, "account": ag2}
	return f
}

// refusal is one refused call: who, what, and the exact error.
type refusal struct {
	name      string
	msp, role string
	fn        string
	req       any
	want      string
}

func runRefusals(t *testing.T, f *fixture, cases []refusal) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.world.t = t
			f.refuse(c.msp, c.role, c.fn, c.req, c.want)
		})
	}
}

// with returns a copy of m with the given keys set (a nil value deletes).
func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m)+len(kv)/2)
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

const (
	noRequest = `missing transient input "request": the function's input is a JSON object under that key`
	noAccount = "account Agency9MSP does not exist"
)

// TestAssetRefusals: asset contract checks, in the reference's order.
func TestAssetRefusals(t *testing.T) {
	f := newFixture(t)
	add := map[string]any{"name": "n", "endDate": "2030-01-01 00:00:00", "licenses": []map[string]string{{"id": "x", "salt": "s"}}}
	more := map[string]any{"assetId": f.a, "licenses": []map[string]string{{"id": "new", "salt": "s"}}}
	remove := map[string]any{"assetId": f.a, "licenses": []string{"lic-03"}}
	end := map[string]any{"assetId": f.a, "newEndDate": "2031-01-01 00:00:00"}
	runRefusals(t, f, []refusal{
		{"AddAsset/no request", sp, lo, "asset:AddAsset", nil, noRequest},
		{"AddAsset/not JSON", sp, lo, "asset:AddAsset", "[1,2]", "request must be a JSON object"},
		{"AddAsset/null name before privilege", ag1, tpoc, "asset:AddAsset", with(add, "name", nil), "name cannot be null"},
		{"AddAsset/empty name", sp, lo, "asset:AddAsset", with(add, "name", ""), "name cannot be empty"},
		{"AddAsset/name not a string", sp, lo, "asset:AddAsset", with(add, "name", 5), "name must be a string"},
		{"AddAsset/null endDate", sp, lo, "asset:AddAsset", with(add, "endDate", nil), "endDate cannot be null"},
		{"AddAsset/null licenses", sp, lo, "asset:AddAsset", with(add, "licenses", nil), "licenses cannot be null"},
		{"AddAsset/null salt", sp, lo, "asset:AddAsset", with(add, "licenses", []map[string]any{{"id": "x"}}), "licenses[0]: salt cannot be null"},
		{"AddAsset/empty id", sp, lo, "asset:AddAsset", with(add, "licenses", []map[string]any{{"id": "", "salt": "s"}}), "licenses[0]: id cannot be empty"},
		{"AddAsset/id with NUL", sp, lo, "asset:AddAsset", with(add, "licenses", []map[string]any{{"id": "a\x00b", "salt": "s"}}), "licenses[0]: id contains the character U+0000, which is not allowed"},
		{"AddAsset/TPOC", ag1, tpoc, "asset:AddAsset", add, "unauthorized"},
		{"AddAsset/SP ACQ", sp, acq, "asset:AddAsset", add, "unauthorized"},
		{"AddAsset/bad date after privilege", ag1, tpoc, "asset:AddAsset", with(add, "endDate", "2030-01-01"), "unauthorized"},
		{"AddAsset/bad date", sp, lo, "asset:AddAsset", with(add, "endDate", "2030-01-01"), "endDate 2030-01-01 is not a date of the form yyyy-MM-dd HH:mm:ss"},
		{"AddAsset/duplicates R-15", sp, lo, "asset:AddAsset", with(add, "licenses", []map[string]string{{"id": "x", "salt": "s"}, {"id": "x", "salt": "t"}}), "duplicate licenses are not allowed"},
		{"abuse/role Authorizing Official", sp, aoRole, "asset:AddAsset", add, "invalid role Authorizing Official"},
		{"abuse/TPOC at the SP", sp, tpoc, "asset:AddAsset", add, "invalid role Technical Point of Contact"},
		{"abuse/LO at an agency", ag1, lo, "asset:AddAsset", add, "invalid role License Owner"},
		{"abuse/forged role", sp, "Blossom Admin", "asset:AddAsset", add, "invalid role Blossom Admin"},
		{"abuse/no role attribute", sp, noRole, "asset:AddAsset", add, "invalid role (the certificate has no blossom.role attribute)"},
		{"abuse/no account R-17", ag9, tpoc, "asset:GetAssets", nil, noAccount},
		{"abuse/pending member", ag3, tpoc, "asset:GetAssets", nil, "unauthorized"},
		{"abuse/unauthorized member", ag4, acq, "asset:GetAssets", nil, "unauthorized"},
		{"abuse/invalid role before the account", ag9, lo, "asset:GetAssets", nil, "invalid role License Owner"},

		{"AddLicenses/privilege before input", ag1, tpoc, "asset:AddLicenses", map[string]any{}, "unauthorized"},
		{"AddLicenses/null assetId", sp, lo, "asset:AddLicenses", with(more, "assetId", nil), "assetId cannot be null"},
		{"AddLicenses/null licenses", sp, lo, "asset:AddLicenses", with(more, "licenses", nil), "licenses cannot be null"},
		{"AddLicenses/empty", sp, lo, "asset:AddLicenses", with(more, "licenses", []string{}), "licenses cannot be empty"},
		{"AddLicenses/no asset", sp, lo, "asset:AddLicenses", with(more, "assetId", "nope"), "asset with id nope does not exist"},
		{"AddLicenses/existing", sp, lo, "asset:AddLicenses", with(more, "licenses", []map[string]string{{"id": "lic-02", "salt": "other"}}), "license lic-02 already exists"},
		{"AddLicenses/duplicates", sp, lo, "asset:AddLicenses", with(more, "licenses", []map[string]string{{"id": "n", "salt": "s"}, {"id": "n", "salt": "s"}}), "duplicate licenses are not allowed"},
		{"AddLicenses/marker collision", sp, lo, "asset:AddLicenses", with(more, "licenses", []map[string]string{{"id": f.a + "z", "salt": "s"}, {"id": "z", "salt": "s" + f.a}}),
			"license z cannot be added: its tracking marker is already in use, choose another salt"},

		{"RemoveLicenses/privilege before input", sp, acq, "asset:RemoveLicenses", nil, "unauthorized"},
		{"RemoveLicenses/null licenses", sp, lo, "asset:RemoveLicenses", with(remove, "licenses", nil), "licenses cannot be null"},
		{"RemoveLicenses/no asset", sp, lo, "asset:RemoveLicenses", with(remove, "assetId", "nope"), "asset with id nope does not exist"},
		{"RemoveLicenses/missing", sp, lo, "asset:RemoveLicenses", with(remove, "licenses", []string{"lic-03", "nope"}), "license nope does not exist"},
		{"RemoveLicenses/allocated", sp, lo, "asset:RemoveLicenses", with(remove, "licenses", []string{"lic-03", "lic-01"}), "license lic-01 is allocated to Agency1MSP"},
		{"RemoveLicenses/duplicates", sp, lo, "asset:RemoveLicenses", with(remove, "licenses", []string{"lic-03", "lic-03"}), "duplicate licenses are not allowed"},
		{"RemoveLicenses/element not a string", sp, lo, "asset:RemoveLicenses", with(remove, "licenses", []any{1}), "licenses[0] must be a string"},

		{"UpdateEndDate/privilege before input", ag2, acq, "asset:UpdateEndDate", nil, "unauthorized"},
		{"UpdateEndDate/null newEndDate", sp, lo, "asset:UpdateEndDate", with(end, "newEndDate", nil), "newEndDate cannot be null"},
		{"UpdateEndDate/no asset", sp, lo, "asset:UpdateEndDate", with(end, "assetId", "nope", "newEndDate", "bad"), "asset with id nope does not exist"},
		{"UpdateEndDate/bad date", sp, lo, "asset:UpdateEndDate", with(end, "newEndDate", "2031-02-30 00:00:00"), "newEndDate 2031-02-30 00:00:00 is not a date of the form yyyy-MM-dd HH:mm:ss"},

		{"GetAsset/null", ag1, tpoc, "asset:GetAsset", map[string]any{}, "assetId cannot be null"},
		{"GetAsset/authorize first R-24", ag3, tpoc, "asset:GetAsset", map[string]any{"assetId": "nope"}, "unauthorized"},
		{"GetAsset/missing", ag1, tpoc, "asset:GetAsset", map[string]any{"assetId": "nope"}, "asset with id nope does not exist"},
		{"GetLicenseTxHistory/null", ag1, tpoc, "asset:GetLicenseTxHistory", map[string]any{"assetId": f.a}, "licenseId cannot be null"},
		{"GetLicenseTxHistory/agency", ag1, acq, "asset:GetLicenseTxHistory", map[string]any{"assetId": f.a, "licenseId": "lic-00"}, "unauthorized"},
		{"GetLicenseTxHistory/missing", sp, acq, "asset:GetLicenseTxHistory", map[string]any{"assetId": f.a, "licenseId": "nope"}, "license nope does not exist for asset " + f.a},
		{"GetLicenseTxHistory/other asset", sp, lo, "asset:GetLicenseTxHistory", map[string]any{"assetId": f.b, "licenseId": "lic-01"}, "license lic-01 does not exist for asset " + f.b},
	})
}

// TestOrderRefusals: order contract checks, in the reference's order.
func TestOrderRefusals(t *testing.T) {
	f := newFixture(t)
	quote := map[string]any{"account": ag1, "assetId": f.a, "amount": 1, "duration": 1}
	renew := with(quote, "orderId", f.leased)
	send := map[string]any{"orderId": f.requested, "account": ag1, "price": 10}
	reqRef := map[string]any{"orderId": f.requested, "account": ag1}
	allocate := with(f.approvedRef, "licenses", []string{"lic-02", "lic-03"})
	lr := map[string]any{"account": ag1, "assetId": f.a, "orderId": f.leased, "expiration": "2028-01-02 03:04:05", "licenses": []string{"lic-00"}}
	runRefusals(t, f, []refusal{
		{"GetQuote/null account", ag1, tpoc, "order:GetQuote", with(quote, "account", nil), "account cannot be null"},
		{"GetQuote/bad account", ag1, tpoc, "order:GetQuote", with(quote, "account", "a:b"), `account "a:b" is not a member id: 1 to 128 ASCII letters, digits, '.', '-' or '_'`},
		{"GetQuote/null assetId", ag1, tpoc, "order:GetQuote", with(quote, "assetId", nil), "assetId cannot be null"},
		{"GetQuote/amount 0", ag1, tpoc, "order:GetQuote", with(quote, "amount", 0), "amount cannot be 0"},
		{"GetQuote/amount negative R-16", ag1, tpoc, "order:GetQuote", with(quote, "amount", -2), "amount must be greater than 0"},
		{"GetQuote/amount fraction", ag1, tpoc, "order:GetQuote", with(quote, "amount", 1.5), "amount must be an integer"},
		{"GetQuote/amount text", ag1, tpoc, "order:GetQuote", with(quote, "amount", "two"), "amount must be a number"},
		{"GetQuote/amount too large", ag1, tpoc, "order:GetQuote", with(quote, "amount", 10001), "amount must be at most 10000"},
		{"GetQuote/duration 0", ag1, tpoc, "order:GetQuote", with(quote, "duration", 0), "duration cannot be 0"},
		{"GetQuote/duration negative", ag1, tpoc, "order:GetQuote", with(quote, "duration", -1), "duration must be greater than 0"},
		{"GetQuote/duration too long", ag1, tpoc, "order:GetQuote", with(quote, "duration", 101), "duration must be at most 100"},
		{"GetQuote/empty orderId", ag1, tpoc, "order:GetQuote", with(quote, "orderId", ""), "orderId cannot be empty"},
		{"GetQuote/input before privilege", sp, lo, "order:GetQuote", with(quote, "amount", 0), "amount cannot be 0"},
		{"abuse/agency orders for another agency R-34", ag2, tpoc, "order:GetQuote", quote, "unauthorized"},
		{"GetQuote/agency ACQ", ag1, acq, "order:GetQuote", quote, "unauthorized"},
		{"GetQuote/SP LO", sp, lo, "order:GetQuote", quote, "unauthorized"},
		{"GetQuote/pending member", ag3, tpoc, "order:GetQuote", with(quote, "account", ag3), "unauthorized"},
		{"GetQuote/no account", ag9, tpoc, "order:GetQuote", with(quote, "account", ag9), noAccount},
		{"GetQuote/no asset", ag1, tpoc, "order:GetQuote", with(quote, "assetId", "nope"), "asset nope does not exist"},
		{"renewal/no order", ag1, tpoc, "order:GetQuote", with(renew, "orderId", "nope"), "order with ID nope and account Agency1MSP does not exist"},
		{"abuse/renewal of another agency's order", ag2, tpoc, "order:GetQuote", with(renew, "account", ag2), "order with ID " + f.leased + " and account Agency2MSP does not exist"},
		{"renewal/no asset", ag1, tpoc, "order:GetQuote", with(renew, "assetId", "nope"), "asset nope does not exist"},
		{"renewal/other asset R-06", ag1, tpoc, "order:GetQuote", with(renew, "assetId", f.b), "asset " + f.b + " is not the asset of order " + f.leased},
		{"renewal/not allocated R-06", ag1, tpoc, "order:GetQuote", with(renew, "orderId", f.requested), "order " + f.requested + " cannot be renewed"},

		{"SendQuote/null orderId", sp, acq, "order:SendQuote", with(send, "orderId", nil), "orderId cannot be null"},
		{"SendQuote/null account", sp, acq, "order:SendQuote", with(send, "account", nil), "account cannot be null"},
		{"SendQuote/price 0", sp, acq, "order:SendQuote", with(send, "price", 0), "price cannot be 0"},
		{"SendQuote/price negative", sp, acq, "order:SendQuote", with(send, "price", -3.5), "price must be greater than 0"},
		{"SendQuote/price NaN", sp, acq, "order:SendQuote", with(send, "price", "NaN"), "price must be a number"},
		{"SendQuote/price huge", sp, acq, "order:SendQuote", with(send, "price", 1e16), "price must be at most 1e+15"},
		{"SendQuote/SP LO", sp, lo, "order:SendQuote", send, "unauthorized"},
		{"SendQuote/agency ACQ", ag1, acq, "order:SendQuote", send, "unauthorized"},
		{"SendQuote/no order", sp, acq, "order:SendQuote", with(send, "orderId", "nope"), "order with ID nope and account Agency1MSP does not exist"},
		{"SendQuote/wrong account", sp, acq, "order:SendQuote", with(send, "account", ag2), "order with ID " + f.requested + " and account Agency2MSP does not exist"},
		{"SendQuote/not requested", sp, acq, "order:SendQuote", with(send, "orderId", f.leased), "a quote request for order " + f.leased + " does not exist"},

		{"InitiateOrder/null", ag1, tpoc, "order:InitiateOrder", map[string]any{"orderId": f.requested}, "account cannot be null"},
		{"abuse/agency initiates another agency's order", ag2, tpoc, "order:InitiateOrder", reqRef, "unauthorized"},
		{"InitiateOrder/agency ACQ", ag1, acq, "order:InitiateOrder", reqRef, "unauthorized"},
		{"InitiateOrder/no order", ag1, tpoc, "order:InitiateOrder", with(reqRef, "orderId", "nope"), "order with ID nope and account Agency1MSP does not exist"},
		{"InitiateOrder/no quote", ag1, tpoc, "order:InitiateOrder", reqRef, "order " + f.requested + " has not received a quote"},

		{"ApproveOrder/SP ACQ is prohibited", sp, acq, "order:ApproveOrder", f.approvedRef, "unauthorized"},
		{"ApproveOrder/TPOC", ag2, tpoc, "order:ApproveOrder", f.approvedRef, "unauthorized"},
		{"abuse/agency approves another agency's order", ag1, acq, "order:ApproveOrder", f.approvedRef, "unauthorized"},
		{"ApproveOrder/no order", ag2, acq, "order:ApproveOrder", with(f.approvedRef, "orderId", "nope"), "order with ID nope and account Agency2MSP does not exist"},
		{"ApproveOrder/approved already", ag2, acq, "order:ApproveOrder", f.approvedRef, "order " + f.approved + " is not up for approval"},
		{"DenyOrder/SP ACQ is prohibited", sp, acq, "order:DenyOrder", f.approvedRef, "unauthorized"},
		{"DenyOrder/approved already", ag2, acq, "order:DenyOrder", f.approvedRef, "order " + f.approved + " is not up for approval"},

		{"GetLicensesToAllocate/null", sp, acq, "order:GetLicensesToAllocateForOrder", map[string]any{"account": ag2}, "orderId cannot be null"},
		{"GetLicensesToAllocate/SP LO", sp, lo, "order:GetLicensesToAllocateForOrder", f.approvedRef, "unauthorized"},
		{"GetLicensesToAllocate/no order", sp, acq, "order:GetLicensesToAllocateForOrder", with(f.approvedRef, "account", ag1), "order with ID " + f.approved + " and account Agency1MSP does not exist"},
		{"GetLicensesToAllocate/not approved", sp, acq, "order:GetLicensesToAllocateForOrder", reqRef, "cannot get licenses to allocate for an order that has not been approved"},
		{"GetLicensesToAllocate/not enough", sp, acq, "order:GetLicensesToAllocateForOrder", f.bigRef, "not enough available licenses to complete order " + f.big},

		{"AllocateLicenses/null licenses", sp, acq, "order:AllocateLicenses", f.approvedRef, "licenses cannot be null"},
		{"AllocateLicenses/agency ACQ", ag2, acq, "order:AllocateLicenses", allocate, "unauthorized"},
		{"AllocateLicenses/not approved", sp, acq, "order:AllocateLicenses", with(reqRef, "licenses", []string{"lic-02"}), "cannot allocate licenses for an order that has not been approved"},
		{"abuse/double allocation of an order", sp, acq, "order:AllocateLicenses", with(f.leasedRef, "licenses", []string{"lic-02", "lic-03"}), "cannot allocate licenses for an order that has not been approved"},
		{"AllocateLicenses/duplicates", sp, acq, "order:AllocateLicenses", with(allocate, "licenses", []string{"lic-02", "lic-02"}), "duplicate licenses are not allowed"},
		{"abuse/under-allocation R-07", sp, acq, "order:AllocateLicenses", with(allocate, "licenses", []string{"lic-02"}), "number of licenses 1 does not match order amount 2"},
		{"abuse/over-allocation R-07", sp, acq, "order:AllocateLicenses", with(allocate, "licenses", []string{"lic-01", "lic-02", "lic-03"}), "number of licenses 3 does not match order amount 2"},
		{"AllocateLicenses/no license", sp, acq, "order:AllocateLicenses", with(allocate, "licenses", []string{"lic-02", "nope"}), "license nope does not exist for asset " + f.a},
		{"abuse/double allocation of a license", sp, acq, "order:AllocateLicenses", with(allocate, "licenses", []string{"lic-02", "lic-01"}), "license lic-01 is already allocated"},
		{"GetAllocateRequest/agency", ag1, tpoc, "order:GetAllocateRequestForOrder", map[string]any{"orderId": f.leased}, "unauthorized"},
		{"GetAllocateRequest/none", sp, acq, "order:GetAllocateRequestForOrder", map[string]any{"orderId": f.leased}, "no allocate request exists for order " + f.leased},

		{"SendLicenses/null expiration", sp, acq, "order:SendLicenses", with(lr, "expiration", nil), "expiration cannot be null"},
		{"SendLicenses/null licenses", sp, acq, "order:SendLicenses", with(lr, "licenses", nil), "licenses cannot be null"},
		{"SendLicenses/agency", ag1, tpoc, "order:SendLicenses", lr, "unauthorized"},
		{"SendLicenses/replay", sp, acq, "order:SendLicenses", lr, "provided licenses to send do not match the licenses allocated"},

		{"InitiateReturn/null assetId", ag1, tpoc, "order:InitiateReturn", with(lr, "assetId", nil), "assetId cannot be null"},
		{"abuse/return for another agency", ag2, tpoc, "order:InitiateReturn", lr, "unauthorized"},
		{"InitiateReturn/agency ACQ", ag1, acq, "order:InitiateReturn", lr, "unauthorized"},
		{"InitiateReturn/SP ACQ", sp, acq, "order:InitiateReturn", lr, "unauthorized"},
		{"InitiateReturn/empty", ag1, tpoc, "order:InitiateReturn", with(lr, "licenses", []string{}), "licenses cannot be empty"},
		{"InitiateReturn/duplicates", ag1, tpoc, "order:InitiateReturn", with(lr, "licenses", []string{"lic-00", "lic-00"}), "duplicate licenses are not allowed"},
		{"abuse/return of a license not leased", ag1, tpoc, "order:InitiateReturn", with(lr, "licenses", []string{"lic-00", "lic-02"}), "license lic-02 is not leased by Agency1MSP"},
		{"abuse/return of another agency's lease", ag2, tpoc, "order:InitiateReturn", with(lr, "account", ag2), "license lic-00 is not leased by Agency2MSP"},
		{"abuse/return under another order", ag1, tpoc, "order:InitiateReturn", with(lr, "orderId", f.requested), "license lic-00 is not leased by Agency1MSP"},
		{"GetInitiatedReturn/none", sp, acq, "order:GetInitiatedReturnForOrder", map[string]any{"orderId": f.leased}, "no deallocate request exists for order " + f.leased},
		{"GetInitiatedReturn/agency", ag1, acq, "order:GetInitiatedReturnForOrder", map[string]any{"orderId": f.leased}, "unauthorized"},
		{"DeallocateFromAccount/nothing initiated", sp, acq, "order:DeallocateLicensesFromAccount", lr, "provided deallocation request does not match the one initiated"},
		{"DeallocateFromAccount/agency", ag1, tpoc, "order:DeallocateLicensesFromAccount", lr, "unauthorized"},
		{"DeallocateFromSP/no order", sp, acq, "order:DeallocateLicensesFromSP", with(f.leasedRef, "orderId", "nope"), "order with ID nope and account Agency1MSP does not exist"},
		{"DeallocateFromSP/nothing initiated", sp, acq, "order:DeallocateLicensesFromSP", f.leasedRef, "no deallocate request exists for order " + f.leased},
		{"DeallocateFromSP/SP LO", sp, lo, "order:DeallocateLicensesFromSP", f.leasedRef, "unauthorized"},

		{"GetOrder/null", ag1, tpoc, "order:GetOrder", map[string]any{}, "orderId cannot be null"},
		{"abuse/agency reads another agency's order", ag2, tpoc, "order:GetOrder", f.leasedRef, "unauthorized"},
		{"GetOrder/missing", ag1, acq, "order:GetOrder", with(f.leasedRef, "orderId", "nope"), "order with ID nope and account Agency1MSP does not exist"},
		{"GetOrdersByAccount/other agency", ag2, acq, "order:GetOrdersByAccount", map[string]any{"account": ag1}, "unauthorized"},
		{"GetOrdersByAccountAndAsset/null", ag1, acq, "order:GetOrdersByAccountAndAsset", map[string]any{"account": ag1}, "assetId cannot be null"},
		{"GetOrdersByAsset/invalid role", ag1, aoRole, "order:GetOrdersByAsset", map[string]any{"assetId": f.a}, "invalid role Authorizing Official"},
		{"GetOrdersByAsset/no account", ag9, tpoc, "order:GetOrdersByAsset", map[string]any{"assetId": f.a}, noAccount},
		{"GetAvailableLicenses/SP LO", sp, lo, "order:GetAvailableLicensesForOrder", f.leasedRef, "unauthorized"},
		{"GetAvailableLicenses/other agency", ag2, tpoc, "order:GetAvailableLicensesForOrder", f.leasedRef, "unauthorized"},
	})
}

// TestSWIDRefusals: swid contract checks.
func TestSWIDRefusals(t *testing.T) {
	f := newFixture(t)
	report := map[string]any{"account": ag1, "primaryTag": "tag-1", "xml": validSWID, "orderId": f.leased, "licenseId": "lic-01"}
	ref := map[string]any{"account": ag1, "orderId": f.leased, "licenseId": "lic-01"}
	runRefusals(t, f, []refusal{
		{"ReportSWID/null account", ag1, tpoc, "swid:ReportSWID", with(report, "account", nil), "account cannot be null"},
		{"ReportSWID/null primaryTag", ag1, tpoc, "swid:ReportSWID", with(report, "primaryTag", nil), "primaryTag cannot be null"},
		{"ReportSWID/null xml", ag1, tpoc, "swid:ReportSWID", with(report, "xml", nil), "xml cannot be null"},
		{"ReportSWID/null orderId", ag1, tpoc, "swid:ReportSWID", with(report, "orderId", nil), "orderId cannot be null"},
		{"ReportSWID/null licenseId", ag1, tpoc, "swid:ReportSWID", with(report, "licenseId", nil), "licenseId cannot be null"},
		{"ReportSWID/pointer", ag1, tpoc, "swid:ReportSWID", with(report, "xml", "https://example.com/office.swidtag"), "invalid SWID tag: xml must be the SoftwareIdentity document itself, not a pointer to it"},
		{"ReportSWID/tag mismatch", ag1, tpoc, "swid:ReportSWID", with(report, "primaryTag", "tag-2"), "invalid SWID tag: primaryTag tag-2 does not equal the tagId tag-1"},
		{"ReportSWID/invalid before privilege", ag2, acq, "swid:ReportSWID", with(report, "xml", "<a/>"), "invalid SWID tag: the root element is a, not SoftwareIdentity"},
		{"ReportSWID/agency ACQ", ag1, acq, "swid:ReportSWID", report, "unauthorized"},
		{"ReportSWID/SP ACQ", sp, acq, "swid:ReportSWID", report, "unauthorized"},
		{"abuse/report for another agency", ag2, tpoc, "swid:ReportSWID", report, "unauthorized"},
		{"ReportSWID/not leased", ag1, tpoc, "swid:ReportSWID", with(report, "licenseId", "lic-02"), "license not found"},
		{"abuse/report on another agency's lease", ag2, tpoc, "swid:ReportSWID", with(report, "account", ag2), "license not found"},
		{"DeleteSWID/null", ag1, tpoc, "swid:DeleteSWID", with(ref, "licenseId", nil), "licenseId cannot be null"},
		{"DeleteSWID/agency ACQ", ag1, acq, "swid:DeleteSWID", with(ref, "licenseId", "lic-00"), "unauthorized"},
		{"DeleteSWID/missing", ag1, tpoc, "swid:DeleteSWID", ref, "SWID for license lic-01 in order " + f.leased + " does not exist"},
		{"GetSWID/other agency", ag2, acq, "swid:GetSWID", with(ref, "licenseId", "lic-00"), "unauthorized"},
		{"GetSWID/missing", sp, lo, "swid:GetSWID", ref, "SWID for license lic-01 in order " + f.leased + " does not exist"},
		{"GetLicensesWithSWIDs/SP LO", sp, lo, "swid:GetLicensesWithSWIDsForOrder", f.leasedRef, "unauthorized"},
	})
}
