package dashboard

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/chaincode/asset"
	"github.com/blossom-ledger/blossom/chaincode/authorization"
	"github.com/blossom-ledger/blossom/internal/gateway"
	"github.com/blossom-ledger/blossom/internal/governance"
	"github.com/blossom-ledger/blossom/internal/lifecycle"
)

func TestSWIDTagID(t *testing.T) {
	const ns = `xmlns="http://standards.iso.org/iso/19770/-2/2015/schema.xsd"`
	tests := []struct {
		name, doc, want, err string
	}{
		{"minimal", `<SoftwareIdentity ` + ns + ` tagId="acme-office-16" name="Office" version="16.0"/>`, "acme-office-16", ""},
		{"declaration and comment", "<?xml version=\"1.0\"?>\n<!-- x -->\n<SoftwareIdentity tagId=\"t-1\" name=\"n\" version=\"1\"><Entity/></SoftwareIdentity>", "t-1", ""},
		{"empty", "", "", "empty"},
		{"not utf-8", "<SoftwareIdentity tagId=\"\xff\"/>", "", "UTF-8"},
		{"wrong root", `<Software tagId="x"/>`, "", "not SoftwareIdentity"},
		{"no tagId", `<SoftwareIdentity name="n"/>`, "", "no tagId"},
		{"blank tagId", `<SoftwareIdentity tagId="  "/>`, "", "no tagId"},
		{"doctype", `<!DOCTYPE SoftwareIdentity [<!ENTITY x "y">]><SoftwareIdentity tagId="x"/>`, "", "DOCTYPE"},
		{"malformed", `<SoftwareIdentity tagId="x"`, "", "not well-formed"},
		{"no element", `<?xml version="1.0"?>`, "", "no SoftwareIdentity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SWIDTagID([]byte(tt.doc))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func FuzzSWIDTagID(f *testing.F) {
	f.Add([]byte(`<SoftwareIdentity tagId="acme" name="n" version="1"/>`))
	f.Add([]byte(`<!DOCTYPE a><SoftwareIdentity tagId="x"/>`))
	f.Add([]byte(`<a><SoftwareIdentity tagId="x"/></a>`))
	f.Add([]byte("\xff"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		id, err := SWIDTagID(doc)
		if err == nil && (strings.TrimSpace(id) == "" || !strings.Contains(string(doc), "SoftwareIdentity")) {
			t.Fatalf("accepted %q with tag ID %q", doc, id)
		}
		if err != nil && id != "" {
			t.Fatalf("error %v with tag ID %q", err, id)
		}
	})
}

func TestEndOfDay(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"2030-12-31", "2030-12-31 23:59:59", ""},
		{"2030-02-28 12:00:00", "2030-02-28 12:00:00", ""},
		{"2030-13-01", "", "yyyy-mm-dd"},
		{"31/12/2030", "", "yyyy-mm-dd"},
		{"", "", "yyyy-mm-dd"},
	}
	for _, tt := range tests {
		got, err := endOfDay(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("endOfDay(%q) error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("endOfDay(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestLocalPage(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"/orders", "/orders", true},
		{"/orders/Org2MSP/abc?x=1", "/orders/Org2MSP/abc", true},
		{"", "", false},
		{"orders", "", false},
		{"//evil.example/x", "", false},
		{"/\\evil.example", "", false},
		{"https://evil.example/", "", false},
		{"/a\r\nLocation: x", "", false},
	}
	for _, tt := range tests {
		got, ok := localPage(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("localPage(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzLocalPage(f *testing.F) {
	for _, s := range []string{"/orders", "//x", "/\\x", "https://x/", "/a?b#c", "/%2F%2Fx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, ok := localPage(in)
		if !ok {
			return
		}
		u, err := url.Parse(p)
		if err != nil || u.Host != "" || u.Scheme != "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
			t.Fatalf("localPage(%q) accepted %q", in, p)
		}
	})
}

// newTestDashboard builds a dashboard whose authentication lets nothing
// through (the routing tests below never reach it).
func newTestDashboard(t *testing.T) *Dashboard {
	t.Helper()
	refuse := func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"error":{"code":"UNAUTHENTICATED","message":"the session has ended; sign in again"}}`, http.StatusUnauthorized)
		})
	}
	d, err := New(Config{MSPID: "Agency1MSP", AdminMSP: "SAMSMSP", Authenticate: refuse})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestNewRefusesIncompleteConfig(t *testing.T) {
	ok := func(h http.Handler) http.Handler { return h }
	for name, cfg := range map[string]Config{
		"no member":         {AdminMSP: "SAMSMSP", Authenticate: ok},
		"no admin member":   {MSPID: "Agency1MSP", Authenticate: ok},
		"no authentication": {MSPID: "Agency1MSP", AdminMSP: "SAMSMSP"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestRoutingWithoutSession: pages send visitors to sign in, the home page
// greets them, actions and unknown paths are refused in HTML, and every
// answer carries the security headers.
func TestRoutingWithoutSession(t *testing.T) {
	h := newTestDashboard(t).Handler(http.NotFoundHandler())
	tests := []struct {
		method, path, cookie string
		status               int
		location, body       string
	}{
		{"GET", "/", "", 200, "", `href="/auth/login?return=/"`},
		{"GET", "/orders", "", 303, "/auth/login?return=%2Forders", ""},
		{"GET", "/orders/Agency1MSP/abc?x=1", "", 303, "/auth/login?return=%2Forders%2FAgency1MSP%2Fabc%3Fx%3D1", ""},
		{"POST", "/act/request-quote", "", 401, "", "sign in again"},
		{"GET", "/no-such-page", "", 404, "", "There is no such page."},
		{"GET", "/static/live.js", "", 200, "", "blossomRefresh"},
		// A dead session: the middleware's JSON refusal becomes a page.
		{"GET", "/orders", "__Host-blossom-session=stale", 401, "", "The session has ended; sign in again."},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, nil)
			if tt.cookie != "" {
				req.Header.Set("Cookie", tt.cookie)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if loc := rec.Header().Get("Location"); loc != tt.location {
				t.Errorf("Location %q, want %q", loc, tt.location)
			}
			if !strings.Contains(rec.Body.String(), tt.body) {
				t.Errorf("body lacks %q: %.400s", tt.body, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); tt.status >= 400 && !strings.HasPrefix(ct, "text/html") {
				t.Errorf("refusal as %q, want an HTML page", ct)
			}
			for _, hd := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"} {
				if rec.Header().Get(hd) == "" {
					t.Errorf("no %s header", hd)
				}
			}
		})
	}
}

// roles is every role at both kinds of member.
var roles = []user{
	{Role: RoleTPOC, MSPID: "Agency1MSP"},
	{Role: RoleACQ, MSPID: "Agency1MSP"},
	{Role: RoleAO, MSPID: "Agency1MSP"},
	{Role: RoleLO, MSPID: "Agency1MSP"},
	{Role: "", MSPID: "Agency1MSP"},
	{Role: RoleACQ, MSPID: "SAMSMSP", SP: true},
	{Role: RoleLO, MSPID: "SAMSMSP", SP: true},
	{Role: RoleAO, MSPID: "SAMSMSP", SP: true},
	{Role: RoleTPOC, MSPID: "SAMSMSP", SP: true},
	{Role: "", MSPID: "Agency1MSP", MemberAdmin: true},
}

// TestRoleMenusAndActions pins what each role sees and may post.
func TestRoleMenusAndActions(t *testing.T) {
	d := newTestDashboard(t)
	governance := []string{"feedback", "initiate-vote", "join", "save-ato", "sign-mou", "abort-vote", "certify-vote", "vote"}
	want := map[string]struct {
		menu    string
		actions []string
	}{
		RoleTPOC + "@agency": {"Home|Catalog|Orders|My licenses|Audit|Consortium|Ledger", []string{"delete-swid", "initiate-order", "initiate-return", "report-swid", "request-quote"}},
		RoleACQ + "@agency":  {"Home|Catalog|Orders|My licenses|Audit|Consortium|Ledger", []string{"approve-order", "deny-order"}},
		RoleAO + "@agency":   {"Home|Onboarding and votes|Audit|Consortium|Ledger", governance},
		RoleLO + "@agency":   {"Home|Audit|Consortium|Ledger", nil},
		"@agency":            {"Home|Audit|Consortium", nil},
		RoleACQ + "@sp":      {"Home|Catalog|Orders|Audit|Consortium|Ledger", []string{"allocate", "process-return", "send-licenses", "send-quote"}},
		RoleLO + "@sp":       {"Home|Catalog|Orders|Audit|Consortium|Ledger", []string{"add-asset", "add-licenses", "remove-licenses", "update-end-date"}},
		RoleAO + "@sp":       {"Home|Onboarding and votes|Audit|Consortium|Ledger", append([]string{"update-mou"}, governance...)},
		RoleTPOC + "@sp":     {"Home|Audit|Consortium|Ledger", nil},
		"admin@agency":       {"Home|Audit|Consortium|Ledger|Administration", []string{"approve-definition"}},
	}
	for _, u := range roles {
		key := u.Role + "@agency"
		if u.SP {
			key = u.Role + "@sp"
		}
		if u.MemberAdmin {
			key = "admin" + key
		}
		var menu []string
		for _, n := range navFor(u) {
			menu = append(menu, n.Label)
		}
		if got := strings.Join(menu, "|"); got != want[key].menu {
			t.Errorf("%s: menu %q, want %q", key, got, want[key].menu)
		}
		var allowed []string
		for name, a := range d.actions {
			if a.allowed(u) {
				allowed = append(allowed, name)
			}
		}
		slices.Sort(allowed)
		exp := slices.Sorted(slices.Values(want[key].actions))
		if !slices.Equal(allowed, exp) {
			t.Errorf("%s: may post %v, want %v", key, allowed, exp)
		}
	}
}

// TestPagesRender renders every page for a user of each role with
// typical data: the templates execute and show what the role may do.
func TestIsBlockNumber(t *testing.T) {
	for in, want := range map[string]bool{"0": true, "7": true, "18446744073709551615": true, "": false, "07": false,
		"-1": false, "+1": false, "1e3": false, "18446744073709551616": false, "١": false, " 1": false} {
		if got := isBlockNumber(in); got != want {
			t.Errorf("isBlockNumber(%q) = %v", in, got)
		}
	}
}

// FuzzIsBlockNumber: what isBlockNumber accepts is exactly the canonical
// decimal form of a uint64.
func FuzzIsBlockNumber(f *testing.F) {
	for _, s := range []string{"0", "12", "007", "18446744073709551615", "18446744073709551616", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := strconv.ParseUint(s, 10, 64)
		canonical := err == nil && strconv.FormatUint(n, 10) == s
		if isBlockNumber(s) != canonical {
			t.Fatalf("isBlockNumber(%q) = %v, canonical uint64: %v", s, !canonical, canonical)
		}
	})
}

func TestPagesRender(t *testing.T) {
	d := newTestDashboard(t)
	exp := "2027-01-02 03:04:05"
	order := asset.Order{ID: "o1", Account: "Agency1MSP", Status: asset.Allocated, AssetID: "a1", Amount: 2, Duration: 1, Price: 100, Expiration: &exp, Licenses: []string{"L1", "L2"}}
	vote := authorization.Vote{InitiatingAccountID: "SAMSMSP", TargetAccountID: "Agency2MSP", StatusChange: "AUTHORIZED",
		Voters: []string{"Agency2MSP", "SAMSMSP", "Agency1MSP"}, SubmittedVotes: map[string]bool{"SAMSMSP": true, "Agency2MSP": false}}
	accts := []authorization.Account{{ID: "SAMSMSP", Status: "AUTHORIZED"}, {ID: "Agency1MSP", Status: "AUTHORIZED", MOUVersion: 1}}
	pages := []struct {
		page string
		data any
		who  user
		want []string
		not  []string
	}{
		{"home", homePage{Account: &accts[1]}, roles[0], []string{`id="account-status"`, "Request quotes"}, []string{"Manage the", "cert-expiry"}},
		{"home", homePage{CertExpiry: "2026-12-01 00:00 UTC", CertSoon: true}, roles[5], []string{"expires on 2026-12-01 00:00 UTC: within 30 days", "Send quotes"}, nil},
		{"catalog", catalogPage{Assets: []asset.AssetResponse{{ID: "a1", Name: "Office", NumAvailable: 3}}}, roles[0], []string{"quote-form", "Office (3 available)"}, []string{"add-asset"}},
		{"catalog", catalogPage{}, roles[6], []string{`id="add-asset"`, "No assets yet."}, []string{"quote-form"}},
		{"asset", assetDetailPage{Asset: asset.AssetDetailResponse{ID: "a1", Name: "Office", AvailableLicenses: []string{"L3"},
			AllocatedLicenses: map[string]map[string][]asset.LicenseExpiration{"Agency1MSP": {"o1": {{LicenseID: "L1", Expiration: exp}}}}}}, roles[6],
			[]string{`id="rm-L3"`, "update-end-date", "L1", exp}, nil},
		{"orders", ordersPage{Orders: []asset.Order{order}}, roles[5], []string{`data-order="o1"`, "ALLOCATED"}, []string{"quote-form"}},
		{"order", orderPage{Order: order, Leased: []string{"L1", "L2"}, WithSWID: []string{"L1"}}, roles[0],
			[]string{`id="report-swid"`, `enctype="multipart/form-data"`, `id="initiate-return"`, `id="renew"`, "Delete SWID tag"}, []string{"send-quote", "approve-order", "allocate"}},
		{"order", orderPage{Order: asset.Order{ID: "o1", Account: "Agency1MSP", Status: asset.Initiated}}, roles[1],
			[]string{"approve-order", "deny-order"}, []string{"report-swid", "send-quote"}},
		{"order", orderPage{Order: asset.Order{ID: "o1", Account: "Agency1MSP", Status: asset.Approved, Amount: 2}, Proposed: []string{"L1", "L2"}}, roles[5],
			[]string{`id="allocate"`, `id="al-L2"`}, []string{"approve-order"}},
		{"order", orderPage{Order: order, Delivery: &asset.LicensesRequest{Account: "Agency1MSP", Licenses: []string{"L1", "L2"}, Expiration: exp},
			Return: &asset.LicensesRequest{Account: "Agency1MSP", Licenses: []string{"L2"}}}, roles[5],
			[]string{`id="send-licenses"`, `id="process-return"`, "returns licenses L2"}, []string{"report-swid"}},
		{"licenses", licensesPage{Rows: []leaseRow{{Order: order, License: "L1", Expiration: exp, SWID: true, Delivered: true}}}, roles[0], []string{`data-license="L1"`, "reported"}, nil},
		{"governance", governancePage{Accounts: accts, Own: &accts[1], MOU: &authorization.MOU{Text: "terms", Version: 2}, Vote: tally(vote, "Agency1MSP")}, roles[2],
			[]string{`id="sign-mou"`, "Sign MOU version 2", "1</strong> yes, <strong>1</strong> no, 1 not voted", "Vote yes", `id="save-ato"`}, []string{"update-mou", "certify-vote"}},
		{"governance", governancePage{Accounts: accts, Own: &accts[0]}, roles[7], []string{`id="update-mou"`, `id="initiate-vote"`}, []string{`id="save-ato"`}},
		{"governance", governancePage{Accounts: accts, Own: &accts[0], Vote: tally(vote, "SAMSMSP")}, roles[7], []string{"certify-vote", "abort-vote", "Your member voted yes"}, []string{`id="initiate-vote"`}},
		{"audit", auditPage{Accounts: accts, Account: "Agency1MSP", AssetID: "a1", LicenseID: "L1", LicenseHistory: []string{"tx2", "tx1"}}, roles[6],
			[]string{"license-history", "tx2", "Expired orders"}, nil},
		{"audit", auditPage{Accounts: accts, Account: "Agency1MSP"}, roles[2], []string{"account-history"}, []string{"license-history-form", "Expired orders"}},
		{"network", networkPage{Accounts: accts, Peers: []peerStatus{{Name: "Agency1MSP/peer0", Height: 9, Lag: 1}, {Name: "SAMSMSP/peer0", Err: "does not answer"}},
			Orderers: []peerStatus{{Name: "SAMSMSP/orderer0", Height: 10}, {Name: "Agency1MSP/orderer0", Err: "does not answer"}}}, roles[0],
			[]string{"1 block(s)", "does not answer", "No certificate information.", `<tr data-node="SAMSMSP/orderer0"><td>SAMSMSP/orderer0</td><td>10</td><td>0 block(s)</td>`}, []string{"cert-warning"}},
		{"network", networkPage{Certificates: []certStatus{{Holder: "Org1MSP intermediate CA", Subject: "ica", NotAfter: "2026-12-01 00:00 UTC", Soon: true},
			{Holder: "orderer o0 of Org1MSP", Subject: "o0", NotAfter: "2030-01-01 00:00 UTC"}}, Expiring: 1}, roles[0],
			[]string{`id="cert-warning"`, "1 certificate(s) of the channel configuration expire within 30 days", "2026-12-01 00:00 UTC <strong class=\"error\">within 30 days", "orderer o0 of Org1MSP"}, nil},
		{"ledger", ledgerPage{Height: 5, Blocks: []gateway.BlockView{{Number: 4, Transactions: []gateway.TxView{
			{TxID: strings.Repeat("a", 64), ValidationCode: "VALID", Function: "order:SendQuote"},
			{TxID: strings.Repeat("b", 64), ValidationCode: "MVCC_READ_CONFLICT"}}}}}, roles[0],
			[]string{`id="ledger-search"`, `<strong id="height">5</strong>`, "order:SendQuote: VALID", `class="code bad"`, "bbbbbbbbbbbb…: MVCC_READ_CONFLICT",
				`href="/ledger/transactions/` + strings.Repeat("a", 64) + `"`}, []string{`id="tx"`}},
		{"ledger", ledgerPage{Block: &gateway.BlockView{Number: 0, Transactions: []gateway.TxView{{TxID: strings.Repeat("c", 64), ValidationCode: "VALID", Type: "CONFIG"}}}}, roles[2],
			[]string{"Block 0", `data-tx="` + strings.Repeat("c", 64) + `"`, "CONFIG", `href="/ledger/blocks/1"`}, []string{"prev-block", "ledger-search"}},
		{"ledger", ledgerPage{Block: &gateway.BlockView{Number: 7}}, roles[2], []string{`href="/ledger/blocks/6"`, "No transactions."}, nil},
		{"ledger", ledgerPage{Tx: &gateway.TxView{TxID: strings.Repeat("d", 64), Block: 7, Index: 2, ValidationCode: "ENDORSEMENT_POLICY_FAILURE", Chaincode: "asset", Function: "order:Allocate"}}, roles[5],
			[]string{`<span class="code bad" id="tx-code">ENDORSEMENT_POLICY_FAILURE</span>`, `href="/ledger/blocks/7"`, "position 2", "asset order:Allocate"}, []string{"ledger-search"}},
	}
	pages = append(pages, []struct {
		page string
		data any
		who  user
		want []string
		not  []string
	}{
		{"admin", adminPage{
			Definitions: []definitionRow{
				{Committed: lifecycle.Definition{Name: "kv", Version: "1", Sequence: 1, PackageID: "kv:ab", EndorsementPolicy: "MAJORITY Endorsement"},
					Pending: []pendingDefinition{{Definition: lifecycle.Definition{Name: "kv", Version: "2", Sequence: 2, PackageID: "kv:cd"}, Members: []string{"Org2MSP", "Org3MSP"}}}},
				{Committed: lifecycle.Definition{Name: "other", Version: "1", Sequence: 1},
					Pending: []pendingDefinition{{Definition: lifecycle.Definition{Name: "other", Version: "2", Sequence: 2}, Members: []string{"Agency1MSP"}, Own: true}}},
			},
			Proposals: []governance.Summary{{ID: "add-org4", Description: "Add Org4", UpdateHash: "ff00", Proposer: governance.Signer{MSPID: "Org2MSP", EnrollmentID: "admin2"},
				ProposedAt: time.Date(2026, 11, 1, 10, 30, 0, 0, time.UTC), Signers: []string{"Org2MSP/admin2"}}},
		}, roles[9],
			[]string{`data-chaincode="kv"`, "version 2, sequence 2, package <code>kv:cd</code>", "Org2MSP, Org3MSP", `name="from" value="Org2MSP"`,
				"Approve for Agency1MSP", "Your member approved it.", `data-proposal="add-org4"`, "Org2MSP/admin2, 2026-11-01 10:30 UTC", "<td>Org2MSP/admin2</td>"}, nil},
		{"admin", adminPage{}, roles[9], []string{"No chaincode definitions", "No proposals."}, []string{"approve-definition\""}},
	}...)
	for _, tt := range pages {
		t.Run(tt.page+" as "+tt.who.Role, func(t *testing.T) {
			rec := httptest.NewRecorder()
			d.render(rec, httptest.NewRequest("GET", "/x", nil), &session{user: tt.who, p: nil}, 200, tt.page, tt.data)
			body := rec.Body.String()
			if rec.Code != 200 {
				t.Fatalf("status %d: %s", rec.Code, body)
			}
			// The live region follows the gateway's event stream.
			if !strings.Contains(body, `data-events="/api/v1/channels/blossom/events"`) {
				t.Error("the live region names no event stream")
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("lacks %q", w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(body, n) {
					t.Errorf("shows %q", n)
				}
			}
			// Every labelled field has its label (keyboard and screen
			// reader users).
			for _, id := range labelledIDs.FindAllStringSubmatch(body, -1) {
				if !strings.Contains(body, `for="`+id[1]+`"`) {
					t.Errorf("field %s has no label", id[1])
				}
			}
		})
	}
}

var labelledIDs = regexp.MustCompile(`<(?:input|select|textarea) id="([^"]+)"`)
