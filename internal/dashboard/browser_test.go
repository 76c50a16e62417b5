package dashboard_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/blossom-ledger/blossom/internal/chaincode/ccpackage"
	"github.com/blossom-ledger/blossom/internal/dashboard"
	"github.com/blossom-ledger/blossom/internal/gateway/auth"
	"github.com/blossom-ledger/blossom/internal/lifecycle"
)

// chromiumPath finds Debian's chromium. In CI (CI set) its absence fails
// the test; elsewhere the test is skipped with the reason.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed: run scripts/install-test-deps.sh (apt-get install chromium)")
	}
	t.Skip("chromium is not installed (scripts/install-test-deps.sh installs it); the browser tests need it")
	return ""
}

// artifactsDir is where screenshots go: $BLOSSOM_ARTIFACTS/<test> if set,
// else a temporary directory.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if base := os.Getenv("BLOSSOM_ARTIFACTS"); base != "" {
		dir = filepath.Join(base, strings.ReplaceAll(t.Name(), "/", "_"))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser is one headless chromium; each user gets a tab in a browser
// context of its own (separate cookies).
type browser struct {
	t         *testing.T
	root      context.Context
	artifacts string
	shots     int
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		// The gateways' certificates come from a throwaway test CA.
		chromedp.IgnoreCertErrors,
		chromedp.WindowSize(1280, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	root, cancelRoot := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelRoot(); cancelAlloc() })
	if err := chromedp.Do(root); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{t: t, root: root, artifacts: artifactsDir(t)}
}

// tab is one signed-in user's tab.
type tab struct {
	b     *browser
	who   string
	gw    *memberGateway
	ctx   context.Context
	pages []string // every page source seen
}

// signIn opens a new browser context, signs name in at gw through the
// provider's form, and waits for the dashboard.
func (b *browser) signIn(gw *memberGateway, name string) *tab {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.root, chromedp.WithNewBrowserContext())
	b.t.Cleanup(cancel)
	tb := &tab{b: b, who: name + "@" + gw.MSPID, gw: gw, ctx: ctx}
	if err := chromedp.Do(ctx, chromedp.Navigate(gw.URL+"/")); err != nil {
		b.t.Fatalf("%s: open the dashboard: %v", tb.who, err)
	}
	tb.waitText("h1", "member dashboard")
	tb.navigate(chromedp.Click(chromedp.ID("sign-in")))
	tb.run(chromedp.SendKeys(chromedp.ID("username"), name), chromedp.SendKeys(chromedp.ID("password"), userPassword))
	tb.navigate(chromedp.Click(chromedp.CSS(`button[type=submit]`)))
	tb.waitText("#who", name)
	return tb
}

// run runs steps with a deadline.
func (tb *tab) run(steps ...chromedp.Action[chromedp.Void]) {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.b.t.Fatalf("%s: %v", tb.who, err)
	}
}

// navigate runs steps that load a page and waits for it.
func (tb *tab) navigate(steps ...chromedp.Action[chromedp.Void]) {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.RunResponse(ctx, steps...); err != nil {
		tb.b.t.Fatalf("%s: %v", tb.who, err)
	}
	tb.pages = append(tb.pages, tb.source())
}

// open loads a dashboard path.
func (tb *tab) open(path string) {
	tb.b.t.Helper()
	tb.navigate(chromedp.Navigate(tb.gw.URL + path))
}

func evaluate[T any](tb *tab, expr string) T {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.b.t.Fatalf("%s: evaluate %s: %v", tb.who, expr, err)
	}
	return v
}

func (tb *tab) source() string {
	return evaluate[string](tb, "document.documentElement.outerHTML")
}

// text is the text of the first element matching the CSS selector ("" if
// none).
func (tb *tab) text(sel string) string {
	return evaluate[string](tb, fmt.Sprintf(`(function(){var e=document.querySelector(%q);return e?e.textContent:""})()`, sel))
}

// waitText waits until the element matching sel contains want (the live
// region refreshes itself; no reload).
func (tb *tab) waitText(sel, want string) {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	expr := fmt.Sprintf(`(function(){var e=document.querySelector(%q);return !!e && e.textContent.includes(%q)})()`, sel, want)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(25*time.Second))); err != nil {
		tb.b.t.Fatalf("%s: %q never showed %q (it shows %q): %v", tb.who, sel, want, tb.text(sel), err)
	}
}

// waitStream waits until the page's live region follows the gateway's
// event stream (live.js marks it data-stream="open").
func (tb *tab) waitStream() {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	expr := `document.getElementById("live").dataset.stream === "open"`
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(25*time.Second))); err != nil {
		tb.b.t.Fatalf("%s: the event stream never opened (data-stream %q): %v", tb.who,
			evaluate[string](tb, `document.getElementById("live").dataset.stream || ""`), err)
	}
}

// reloadUntil reloads path until sel contains want: what another member
// committed reaches this member's peer a moment later.
func (tb *tab) reloadUntil(path, sel, want string) {
	tb.b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		tb.open(path)
		if strings.Contains(tb.text(sel), want) {
			return
		}
		if time.Now().After(deadline) {
			tb.b.t.Fatalf("%s: %s: %q shows %q, never %q", tb.who, path, sel, tb.text(sel), want)
		}
	}
}

// submit clicks the submit button of the form matching formSel and
// returns the outcome shown on the next page; it fails the test unless
// every step committed.
func (tb *tab) submit(formSel string) string {
	tb.b.t.Helper()
	tb.navigate(chromedp.Click(chromedp.CSS(formSel + ` button[type=submit]`)))
	return tb.committed(formSel)
}

// submitByKeyboard is submit with the keyboard alone: Tab until the
// form's button has the focus, then Enter.
func (tb *tab) submitByKeyboard(formSel string) string {
	tb.b.t.Helper()
	target := fmt.Sprintf(`document.activeElement === document.querySelector(%q)`, formSel+` button[type=submit]`)
	for i := 0; !evaluate[bool](tb, target); i++ {
		if i == 50 {
			tb.b.t.Fatalf("%s: Tab never reaches the button of %s", tb.who, formSel)
		}
		tb.run(chromedp.KeyEvent("\t"))
	}
	tb.navigate(chromedp.KeyEvent("\r"))
	return tb.committed(formSel)
}

// committed checks that the page shows only committed outcomes.
func (tb *tab) committed(formSel string) string {
	tb.b.t.Helper()
	out := tb.text("#outcome")
	if out == "" || tb.text("#outcome.ok") == "" || !strings.Contains(out, "committed in block") {
		tb.b.t.Fatalf("%s: %s: no committed outcome; the page says %q %q", tb.who, formSel, out, tb.text("main"))
	}
	return out
}

// postForm submits a form built by hand (as a user could with the
// browser's tools) with the page's CSRF token, and waits for the next page.
func (tb *tab) postForm(action string, fields map[string]string) {
	tb.b.t.Helper()
	js := `(function(){var f=document.createElement("form");f.method="post";f.action=` + fmt.Sprintf("%q", action) + `;
		var add=function(k,v){var i=document.createElement("input");i.type="hidden";i.name=k;i.value=v;f.appendChild(i)};
		add("csrf_token",document.querySelector("input[name=csrf_token]").value);`
	for k, v := range fields {
		js += fmt.Sprintf("add(%q,%q);", k, v)
	}
	js += `document.body.appendChild(f);f.submit();return true})()`
	tb.navigate(func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Evaluate[bool](js)(ctx, t)
		return chromedp.Void{}, err
	})
}

// shot writes a screenshot of the tab.
func (tb *tab) shot(label string) {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.b.t.Fatalf("%s: screenshot: %v", tb.who, err)
	}
	tb.b.shots++
	name := fmt.Sprintf("%02d-%s.png", tb.b.shots, label)
	if err := os.WriteFile(filepath.Join(tb.b.artifacts, name), png, 0o644); err != nil {
		tb.b.t.Fatal(err)
	}
}

// nav lists the menu entries shown.
func (tb *tab) nav() string {
	return evaluate[string](tb, `Array.from(document.querySelectorAll("nav a")).map(function(a){return a.textContent}).join("|")`)
}

// post sends a form by hand from the page (fetch with the page's CSRF
// token unless token is false) and returns the HTTP status.
func (tb *tab) post(path, fields string, token bool) int {
	tb.b.t.Helper()
	csrf := `""`
	if token {
		csrf = `document.querySelector("input[name=csrf_token]").value`
	}
	expr := fmt.Sprintf(`(async function(){var b=new URLSearchParams(%q);var t=%s;if(t){b.set("csrf_token",t)}
		var r=await fetch(%q,{method:"POST",body:b,redirect:"manual"});return r.status})()`, fields, csrf, path)
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[int](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.b.t.Fatalf("%s: POST %s: %v", tb.who, path, err)
	}
	return v
}

// cookies are the browser's cookies for the gateway.
func (tb *tab) cookies() []*network.Cookie {
	tb.b.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	cs, err := chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) ([]*network.Cookie, error) {
		res, err := cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{URLs: []string{tb.gw.URL + "/"}})
		return res.Cookies, err
	})
	if err != nil {
		tb.b.t.Fatalf("%s: cookies: %v", tb.who, err)
	}
	return cs
}

var orderIDPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

var outcomeTxID = regexp.MustCompile(`\(transaction ([0-9a-f]{64})\)`)

// txIDIn is the transaction ID an action's outcome names.
func txIDIn(t *testing.T, outcome string) string {
	t.Helper()
	m := outcomeTxID.FindStringSubmatch(outcome)
	if m == nil {
		t.Fatalf("the outcome %q names no transaction", outcome)
	}
	return m[1]
}

// TestAcquisitionJourneyInBrowsers drives the dashboards of an agency and
// the service provider in headless Chromium: the License Owner adds an
// asset and changes its end date, then a lease: quote,
// order, approval, allocation and delivery, a SWID tag uploaded from a
// file, a SWID deletion, a refusal, a return and a renewal; each step
// shows on the other member's dashboard. It also
// checks role-aware menus, 403 for actions posted by hand, CSRF, and that
// no secret reaches the browser.
func TestAcquisitionJourneyInBrowsers(t *testing.T) {
	b := newBrowser(t)
	c := startConsortium(t, map[string][]testUser{
		spMSP:     {{"acq", dashboard.RoleACQ, false}, {"lo", dashboard.RoleLO, false}},
		agencyMSP: {{"tpoc", dashboard.RoleTPOC, false}, {"acq", dashboard.RoleACQ, false}},
	})
	sp, agency := c.Gateways[spMSP], c.Gateways[agencyMSP]

	tpoc := b.signIn(agency, "tpoc")
	tpoc.waitText("#cert-expiry", "Your ledger certificate expires on")
	tpoc.shot("agency-tpoc-signed-in")
	if got := tpoc.nav(); got != "Home|Catalog|Orders|My licenses|Audit|Consortium|Ledger" {
		t.Errorf("agency TPOC menu %q", got)
	}
	spACQ := b.signIn(sp, "acq")
	if got := spACQ.nav(); got != "Home|Catalog|Orders|Audit|Consortium|Ledger" {
		t.Errorf("service provider ACQ menu %q", got)
	}

	// 0. The License Owner adds an asset, moves its end date and reads a
	// license's history; the agency sees it in the catalog.
	lo := b.signIn(sp, "lo")
	lo.open("/catalog")
	lo.run(chromedp.SetValue(chromedp.ID("aa-name"), "Design Tool"), chromedp.SetValue(chromedp.ID("aa-end"), "2031-06-30"),
		chromedp.SetValue(chromedp.ID("aa-lic"), "DT-1\nDT-2"))
	lo.submit("#add-asset")
	lo.waitText("#end-date", "2031-06-30 23:59:59")
	lo.run(chromedp.SetValue(chromedp.ID("ue-end"), "2032-06-30"))
	lo.submit("#update-end-date")
	lo.waitText("#end-date", "2032-06-30 23:59:59")
	lo.waitText("#available", "DT-2")
	lo.shot("sp-lo-asset-added")
	lo.navigate(chromedp.Click(chromedp.CSS(`#available a[href*="license=DT-1"]`)))
	if n := evaluate[int](lo, `document.querySelectorAll("#license-history li code").length`); n != 1 {
		t.Errorf("license DT-1 has %d transactions in its history, want 1 (AddAsset)", n)
	}

	// 1. The agency's TPOC requests a quote for two licenses.
	tpoc.open("/catalog")
	tpoc.waitText("#assets", "Office Suite")
	tpoc.waitText("#assets", "2032-06-30 23:59:59") // the new asset's end date
	if strings.Contains(tpoc.source(), `action="/act/add-asset"`) {
		t.Error("the TPOC sees the License Owner's add-asset form")
	}
	tpoc.run(chromedp.SetValue(chromedp.ID("q-asset"), c.AssetID), chromedp.SetValue(chromedp.ID("q-amount"), "2"))
	tpoc.submit("#quote-form")
	orderID := strings.TrimSpace(tpoc.text("#order-id"))
	if !orderIDPattern.MatchString(orderID) {
		t.Fatalf("order ID %q; the page says %q", orderID, tpoc.text("main"))
	}
	tpoc.waitText("#order-status", "QUOTE_REQUESTED")
	tpoc.shot("agency-quote-requested")
	orderPath := "/orders/" + agencyMSP + "/" + orderID

	// Pages of other roles are refused.
	tpoc.open("/governance")
	tpoc.waitText("h1", "Not allowed")

	// Forbidden actions posted by hand are refused before the ledger.
	if st := tpoc.post("/act/send-quote", "orderId="+orderID+"&account="+agencyMSP+"&price=1", true); st != 403 {
		t.Errorf("TPOC posting send-quote: status %d, want 403", st)
	}
	if st := tpoc.post("/act/approve-order", "orderId="+orderID, true); st != 403 {
		t.Errorf("TPOC posting approve-order: status %d, want 403", st)
	}
	if st := tpoc.post("/act/initiate-order", "orderId="+orderID, false); st != 403 {
		t.Errorf("posting without the CSRF token: status %d, want 403", st)
	}

	tpoc.open(orderPath) // stays open: it updates by itself
	tpoc.waitStream()

	// 2. The service provider's ACQ sees the request and sends the quote.
	spACQ.open("/orders")
	spACQ.waitText(`tr[data-order="`+orderID+`"] .status`, "QUOTE_REQUESTED")
	spACQ.open(orderPath)
	spACQ.run(chromedp.SetValue(chromedp.ID("sq-price"), "250"))
	quoteTx := txIDIn(t, spACQ.submit("#send-quote"))
	spACQ.waitText("#order-status", "QUOTE_RECEIVED")
	spACQ.shot("sp-quote-sent")

	// The quote's transaction in the ledger explorer: found by its ID,
	// VALID, in its block; an unknown ID is not found.
	spACQ.open("/ledger")
	spACQ.run(chromedp.SetValue(chromedp.ID("lq"), quoteTx))
	spACQ.navigate(chromedp.Click(chromedp.CSS(`#ledger-search button[type=submit]`)))
	if code, fn := spACQ.text("#tx-code"), spACQ.text("#tx-function"); code != "VALID" || !strings.Contains(fn, "order:SendQuote") {
		t.Errorf("transaction %s shows %q %q, want VALID order:SendQuote", quoteTx, code, fn)
	}
	spACQ.navigate(chromedp.Click(chromedp.ID("tx-block")))
	spACQ.waitText(`#transactions tr[data-tx="`+quoteTx+`"]`, "VALID")
	spACQ.open("/ledger/transactions/" + strings.Repeat("0", 64))
	spACQ.waitText("#error-message", "is not on the ledger")
	// Network health lists the channel configuration's certificates.
	spACQ.open("/network")
	spACQ.waitText("#certificates", spMSP+" root CA")
	spACQ.waitText("#certificates", "orderer ")
	spACQ.waitText(`#orderers tr[data-node="`+spMSP+`/orderer0"]`, "block(s)")
	spACQ.shot("sp-network")
	// The explorer's newest blocks follow the event stream.
	spACQ.open("/ledger")
	spACQ.waitStream()
	spACQ.shot("sp-ledger")

	// 3. The agency's open page updates by itself; the TPOC places the order.
	tpoc.waitText("#order-status", "QUOTE_RECEIVED")
	tpoc.waitText("#order-price", "250")
	tpoc.submit("#initiate-order")
	tpoc.waitText("#order-status", "INITIATED")
	tpoc.shot("agency-order-initiated")
	spACQ.waitText("#blocks", "order:InitiateOrder: VALID")
	spACQ.open(orderPath)

	// 4. The agency's ACQ approves it.
	agencyACQ := b.signIn(agency, "acq")
	if got := agencyACQ.nav(); got != "Home|Catalog|Orders|My licenses|Audit|Consortium|Ledger" {
		t.Errorf("agency ACQ menu %q", got)
	}
	agencyACQ.open(orderPath)
	if strings.Contains(agencyACQ.source(), `action="/act/report-swid"`) {
		t.Error("the agency ACQ sees the TPOC's SWID form")
	}
	agencyACQ.submit(`#approval form[action="/act/approve-order"]`)
	agencyACQ.waitText("#order-status", "APPROVED")
	agencyACQ.shot("agency-order-approved")

	// 5. The service provider allocates two licenses and sends them.
	spACQ.waitText("#order-status", "APPROVED")
	spACQ.waitText("#allocate", "OFF-0001")
	spACQ.submit("#allocate")
	spACQ.waitText("#order-status", "ALLOCATED")
	spACQ.waitText("#send-licenses", "OFF-0001, OFF-0002")
	spACQ.submit("#send-licenses")
	spACQ.shot("sp-licenses-sent")

	// 6. The agency sees its licenses and reports a SWID tag from a file.
	tpoc.reloadUntil(orderPath, "#leased", "OFF-0002")
	tag := filepath.Join(t.TempDir(), "office.swidtag")
	if err := os.WriteFile(tag, []byte(`<?xml version="1.0" encoding="UTF-8"?>
<SoftwareIdentity xmlns="http://standards.iso.org/iso/19770/-2/2015/schema.xsd" tagId="acme-office-16" name="Office" version="16.0"/>`), 0o600); err != nil {
		t.Fatal(err)
	}
	tpoc.run(chromedp.SetValue(chromedp.ID("rs-license"), "OFF-0001"), chromedp.SetUploadFiles(chromedp.ID("rs-tag"), []string{tag}))
	tpoc.submit("#report-swid")
	tpoc.waitText(`tr[data-license="OFF-0001"] .swid`, "reported")
	tpoc.shot("agency-swid-reported")
	tpoc.open("/licenses")
	tpoc.waitText(`#my-licenses tr[data-license="OFF-0001"]`, "reported")
	spACQ.reloadUntil(orderPath, `tr[data-license="OFF-0001"] .swid`, "reported")
	spACQ.shot("sp-sees-swid")

	// A refused transaction shows the ledger's reason in plain words.
	tpoc.open(orderPath)
	tpoc.postForm("/act/initiate-order", map[string]string{"orderId": orderID})
	if out := tpoc.text("#outcome.bad"); !strings.Contains(out, "order:InitiateOrder was refused by the ledger: Order "+orderID+" has not received a quote.") {
		t.Errorf("refusal shown as %q", out)
	}
	tpoc.shot("agency-refusal-shown")

	// The agency uninstalls: the SWID tag is deleted, also for the SP.
	tpoc.open(orderPath)
	tpoc.submit(`tr[data-license="OFF-0001"]`)
	tpoc.waitText(`tr[data-license="OFF-0001"] .swid`, "none")
	spACQ.reloadUntil(orderPath, `tr[data-license="OFF-0001"] .swid`, "none")

	// 7. The agency returns one license; the service provider takes it back.
	tpoc.open(orderPath)
	tpoc.run(chromedp.Click(chromedp.ID("rt-OFF-0002")))
	tpoc.submit("#initiate-return")
	tpoc.shot("agency-return-initiated")
	spACQ.reloadUntil(orderPath, "#process-return", "OFF-0002")
	out := spACQ.submit("#process-return")
	if n := strings.Count(out, "committed in block"); n != 2 {
		t.Errorf("processing the return: %d commits shown, want 2: %q", n, out)
	}
	spACQ.shot("sp-return-processed")
	tpoc.reloadUntil("/licenses", `#my-licenses tr[data-license="OFF-0001"]`, "none")
	if strings.Contains(tpoc.text("#my-licenses"), "OFF-0002") {
		t.Errorf("the returned license is still listed: %q", tpoc.text("#my-licenses"))
	}
	tpoc.shot("agency-after-return")

	// 8. The agency renews the remaining license for another year.
	tpoc.open(orderPath)
	before := tpoc.text("#order-expiration")
	tpoc.submit("#renew")
	tpoc.waitText("#order-status", "RENEWAL_QUOTE_REQUESTED")
	spACQ.reloadUntil(orderPath, "#order-status", "RENEWAL_QUOTE_REQUESTED")
	spACQ.run(chromedp.SetValue(chromedp.ID("sq-price"), "120"))
	spACQ.submit("#send-quote")
	tpoc.waitText("#order-status", "RENEWAL_QUOTE_RECEIVED")
	tpoc.submit("#initiate-order")
	agencyACQ.reloadUntil(orderPath, "#order-status", "RENEWAL_INITIATED")
	agencyACQ.submit(`#approval form[action="/act/approve-order"]`)
	spACQ.reloadUntil(orderPath, "#order-status", "RENEWAL_APPROVED")
	spACQ.submit("#allocate")
	spACQ.waitText("#send-licenses", "OFF-0001")
	spACQ.submit("#send-licenses")
	tpoc.reloadUntil(orderPath, "#order-status", "ALLOCATED")
	if after := tpoc.text("#order-expiration"); after <= before {
		t.Errorf("renewal: expiration %q, was %q", after, before)
	}
	tpoc.shot("agency-renewed")

	// No client secret, token, code verifier or key reaches the browser.
	for _, tb := range []*tab{tpoc, spACQ, agencyACQ} {
		if got := evaluate[string](tb, "document.cookie"); got != "" {
			t.Errorf("%s: scripts can read cookies: %q", tb.who, got)
		}
		secrets := tb.gw.Secrets.Secrets()
		if len(secrets) < 4 {
			t.Fatalf("%s: only %d secrets recorded; the sign-in did not go through the recorder", tb.who, len(secrets))
		}
		for _, ck := range tb.cookies() {
			if ck.Name == auth.SessionCookie && (!ck.HTTPOnly || !ck.Secure) {
				t.Errorf("%s: session cookie without HttpOnly/Secure: %+v", tb.who, ck)
			}
			for _, s := range secrets {
				if strings.Contains(ck.Value, s) {
					t.Errorf("%s: cookie %s carries a secret", tb.who, ck.Name)
				}
			}
		}
		for _, page := range tb.pages {
			for _, s := range append(secrets, "PRIVATE KEY", "access_token", "refresh_token") {
				if strings.Contains(page, s) {
					t.Errorf("%s: a page carries a secret (%.12s…)", tb.who, s)
				}
			}
		}
	}
}

// TestOnboardingJourneyInBrowsers takes a new agency through onboarding
// on the dashboards: its Authorizing Official signs the MOU and files an
// ATO; the admin reviews it and gives feedback, which the agency sees;
// a vote is started, both cast ballots and watch the tally, the admin
// certifies it and the agency joins; the audit shows the histories.
func TestOnboardingJourneyInBrowsers(t *testing.T) {
	b := newBrowser(t)
	c := startConsortium(t, map[string][]testUser{
		spMSP:      {{"ao", dashboard.RoleAO, false}, {"admin", "", true}},
		newcomeMSP: {{"ao", dashboard.RoleAO, false}},
	})
	admin := b.signIn(c.Gateways[spMSP], "ao")
	newcomer := b.signIn(c.Gateways[newcomeMSP], "ao")
	if got := newcomer.nav(); got != "Home|Onboarding and votes|Audit|Consortium|Ledger" {
		t.Errorf("Authorizing Official menu %q", got)
	}
	account := `tr[data-account="` + newcomeMSP + `"] .status`

	// The newcomer signs the MOU and files its ATO.
	newcomer.open("/governance")
	newcomer.waitText("#mou-text", "share software licenses")
	newcomer.run(chromedp.KeyEvent("\t"))
	if got := evaluate[string](newcomer, "document.activeElement.textContent"); got != "Skip to content" {
		t.Errorf("the first Tab reaches %q, not the skip link", got)
	}
	newcomer.submitByKeyboard("#sign-mou")
	newcomer.waitText(account, "PENDING")
	newcomer.run(chromedp.SetValue(chromedp.ID("ato-memo"), "FedRAMP moderate, SSP v3"),
		chromedp.SetValue(chromedp.ID("ato-art"), "https://agency2.example/ato"))
	newcomer.submit("#save-ato")
	newcomer.waitText("main", "No feedback yet")
	newcomer.shot("newcomer-ato-filed")

	// The admin sees the ATO, comments, and starts a vote.
	admin.reloadUntil("/governance", "#ato-"+newcomeMSP, "version 1")
	admin.run(chromedp.SetValue(chromedp.ID("fb-"+newcomeMSP), "Add the incident response plan"))
	admin.submit(`form[action="/act/feedback"]`)
	admin.run(chromedp.SetValue(chromedp.ID("iv-target"), newcomeMSP), chromedp.SetValue(chromedp.ID("iv-reason"), "ATO reviewed"))
	admin.submit("#initiate-vote")
	admin.waitText("#tally", "0 yes, 0 no, 3 not voted")
	admin.submit(`#ongoing-vote form[action="/act/vote"]`)
	admin.waitText("#tally", "1 yes, 0 no, 2 not voted")
	admin.shot("admin-voted")

	// The newcomer sees the feedback and the vote, and votes.
	newcomer.reloadUntil("/governance", "main", "Add the incident response plan")
	newcomer.waitText("#ongoing-vote", "becomes AUTHORIZED")
	newcomer.submit(`#ongoing-vote form[action="/act/vote"]`)
	newcomer.waitText("#tally", "2 yes, 0 no, 1 not voted")

	// The admin certifies; the newcomer is authorized and joins.
	admin.reloadUntil("/governance", "#tally", "2 yes")
	admin.submit(`form[action="/act/certify-vote"]`)
	admin.waitText(account, "AUTHORIZED")
	admin.shot("admin-vote-certified")
	newcomer.reloadUntil("/governance", account, "AUTHORIZED")
	newcomer.submit("#join")
	newcomer.waitText(`tr[data-account="`+newcomeMSP+`"]`, "yes")
	newcomer.shot("newcomer-joined")

	// The audit shows the account's changes and the vote.
	newcomer.open("/audit?account=" + newcomeMSP)
	newcomer.waitText("#account-history", "AUTHORIZED")
	newcomer.waitText("#vote-history", "PASSED")
	newcomer.waitText("#mou-history", "share software licenses")
	newcomer.shot("newcomer-audit")

	// A member administrator approves, for its member, the chaincode
	// upgrade another member's admin approved.
	notes := &lifecycle.Definition{Name: "notes", Version: "1", Sequence: 1, EndorsementPolicy: "MAJORITY Endorsement",
		PackageID: ccpackage.ID("notes", []byte("dashboard test: a definition only"))}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var last uint64
	var err error
	for i := range 2 {
		if last, err = c.Net.Lifecycle(t, i).Approve(ctx, notes); err != nil {
			t.Fatalf("approve notes v1 as member %d: %v", i, err)
		}
	}
	c.Net.WaitForHeight(t, last+1, time.Minute)
	if last, err = c.Net.Lifecycle(t, 0).Commit(ctx, notes); err != nil {
		t.Fatalf("commit notes v1: %v", err)
	}
	upgrade := *notes
	upgrade.Version, upgrade.Sequence = "2", 2
	other := c.Net.Lifecycle(t, 1)
	if last, err = other.Approve(ctx, &upgrade); err != nil {
		t.Fatalf("approve notes v2 as %s: %v", agencyMSP, err)
	}
	c.Net.WaitForHeight(t, last+1, time.Minute)
	spAdmin := b.signIn(c.Gateways[spMSP], "admin")
	if got := spAdmin.nav(); got != "Home|Audit|Consortium|Ledger|Administration" {
		t.Errorf("member administrator menu %q", got)
	}
	if st := admin.post("/act/approve-definition", "name=notes&sequence=2&from="+agencyMSP, true); st != 403 {
		t.Errorf("the Authorizing Official (no admin) posting approve-definition: status %d, want 403", st)
	}
	spAdmin.open("/admin")
	row := `#definitions tr[data-chaincode="notes"]`
	spAdmin.waitText(row, "version 1, sequence 1")
	spAdmin.waitText(row+" .approvers", agencyMSP)
	spAdmin.shot("member-admin-upgrade-pending")
	spAdmin.submit(row + " .approve-definition")
	spAdmin.waitText(row, "Your member approved it.")
	spAdmin.waitText(row+" .approvers", spMSP)
	approvals, err := other.QueryApprovals(ctx, "notes", 2)
	if err != nil || approvals[spMSP] == nil || approvals[spMSP].Version != "2" {
		t.Fatalf("approvals of notes v2 on the ledger: %v, %v", approvals, err)
	}
	spAdmin.shot("member-admin-approved")
}
