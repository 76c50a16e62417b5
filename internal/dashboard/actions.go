package dashboard

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/blossom-ledger/blossom/chaincode/asset"
)

// action is one form's handler: who may post it and what it does. run
// returns the outcomes of its ledger calls (in order) and the page to show
// next; a non-nil error is bad input, shown without calling the ledger.
type action struct {
	allowed func(user) bool
	run     func(s *session, f form) (steps []outcome, next string, err error)
}

// form reads a posted form's fields, trimmed and bounded.
type form struct{ r *http.Request }

const maxField = 16 << 10

func (f form) get(name string) string {
	v := strings.TrimSpace(f.r.PostFormValue(name))
	if v == "" && f.r.MultipartForm != nil {
		v = strings.TrimSpace(f.r.FormValue(name))
	}
	if len(v) > maxField {
		v = v[:maxField]
	}
	return v
}

// required returns the named fields or an error naming the first missing.
func (f form) required(labels map[string]string, names ...string) ([]string, error) {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = f.get(n)
		if out[i] == "" {
			label := labels[n]
			if label == "" {
				label = n
			}
			return nil, errors.New(label + " is required")
		}
	}
	return out, nil
}

// list returns the non-empty values of a multi-valued field (checkboxes)
// or of a text area, one per line.
func (f form) list(name string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range f.r.PostForm[name] {
		for _, line := range strings.Split(v, "\n") {
			line = strings.TrimSpace(line)
			if line != "" && !seen[line] && len(out) < 10000 {
				seen[line] = true
				out = append(out, line)
			}
		}
	}
	return out
}

// positive parses a positive integer field.
func positive(label, v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, errors.New(label + " must be a whole number greater than 0")
	}
	return n, nil
}

var labels = map[string]string{
	"assetId": "The asset", "amount": "The number of licenses", "duration": "The lease duration",
	"orderId": "The order", "account": "The member", "price": "The price", "licenseId": "The license",
	"name": "The asset name", "endDate": "The end date", "text": "The MOU text", "version": "The MOU version",
	"target": "The member", "status": "The new status", "comments": "The comments", "atoVersion": "The ATO version",
}

func orderPath(account, id string) string {
	return "/orders/" + url.PathEscape(account) + "/" + url.PathEscape(id)
}

// act serves POST /act/{action}: the role check (403 for another role),
// the action, and a redirect to the next page with the outcome.
func (d *Dashboard) act(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PathValue("action")
	a, ok := d.actions[name]
	if !ok {
		d.renderError(w, r, s, http.StatusNotFound, "There is no such action.")
		return
	}
	if !a.allowed(s.user) {
		d.log.Warn("dashboard: action refused for role", "action", name, "enrollmentId", s.Name, "role", s.Role, "msp", s.MSPID)
		d.renderError(w, r, s, http.StatusForbidden, "Your role ("+roleName(s.Role)+") may not do this.")
		return
	}
	if r.PostForm == nil {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		if err := r.ParseForm(); err != nil {
			d.renderError(w, r, s, http.StatusBadRequest, "The form could not be read.")
			return
		}
	}
	steps, next, err := a.run(s, form{r})
	back := r.PostFormValue("back")
	if p, ok := localPage(back); ok && next == "" {
		next = p
	}
	if next == "" {
		next = "/"
	}
	fl := &flash{OK: err == nil, Steps: steps, owner: s.key()}
	if err != nil {
		fl.Message = sentence(err.Error())
	}
	for _, o := range steps {
		if !o.OK {
			fl.OK = false
		}
	}
	sep := "?"
	if strings.Contains(next, "?") {
		sep = "&"
	}
	http.Redirect(w, r, next+sep+"flash="+d.flashes.put(fl), http.StatusSeeOther)
}

// localPage accepts a dashboard path to return to.
func localPage(p string) (string, bool) {
	if p == "" || len(p) > 512 || p[0] != '/' || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n") {
		return "", false
	}
	u, err := url.Parse(p)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return "", false
	}
	// The escaped path: decoding "/%2F%2Fx" would give "///x", which
	// browsers read as another host.
	if out := u.EscapedPath(); strings.HasPrefix(out, "/") && !strings.HasPrefix(out, "//") {
		return out, true
	}
	return "", false
}

// idOf reads the {"id": ...} answer of a submission.
func idOf(o outcome) string {
	var r asset.IDResponse
	if o.OK && json.Unmarshal([]byte(o.Result), &r) == nil {
		return r.ID
	}
	return ""
}

// fail is a bad-input answer.
func fail(err error) ([]outcome, string, error) { return nil, "", err }

func (d *Dashboard) actionTable() map[string]action {
	sp := d.cfg.AdminMSP
	orderKey := func(s *session, f form) (string, string, error) {
		v, err := f.required(labels, "orderId")
		if err != nil {
			return "", "", err
		}
		account := s.MSPID
		if s.SP {
			if account = f.get("account"); account == "" {
				return "", "", errors.New("the member is required")
			}
		}
		return v[0], account, nil
	}
	// orderStep is an action on one order: one submission, endorsed by
	// the members whose data it writes.
	orderStep := func(fn string, by endorsedBy, extra func(f form, req map[string]any) error) func(*session, form) ([]outcome, string, error) {
		return func(s *session, f form) ([]outcome, string, error) {
			id, account, err := orderKey(s, f)
			if err != nil {
				return fail(err)
			}
			req := map[string]any{"orderId": id, "account": account}
			if extra != nil {
				if err := extra(f, req); err != nil {
					return fail(err)
				}
			}
			o := d.submit(s, d.asset(fn, req, by.members(sp, account)...))
			return []outcome{o}, orderPath(account, id), nil
		}
	}
	// relayPending submits, endorsed by the service provider and the
	// agency, the pending request the service provider's query returns
	// verbatim (the chaincode compares it byte for byte), then next, if
	// any, once that committed.
	relayPending := func(query, fn string, next func(s *session, id, account string) call) func(*session, form) ([]outcome, string, error) {
		return func(s *session, f form) ([]outcome, string, error) {
			id, account, err := orderKey(s, f)
			if err != nil {
				return fail(err)
			}
			back := orderPath(account, id)
			pending := d.invoke(s, "evaluate", d.asset(query, map[string]string{"orderId": id}))
			if !pending.OK {
				return []outcome{pending}, back, nil
			}
			c := d.asset(fn, nil, sp, account)
			c.rawRequest = pending.Result
			steps := []outcome{d.submit(s, c)}
			if steps[0].OK && next != nil {
				steps = append(steps, d.submit(s, next(s, id, account)))
			}
			return steps, back, nil
		}
	}
	return map[string]action{
		// Member administration.
		"approve-definition": {user.IsMemberAdmin, d.approveDefinition},
		// Acquisition.
		"request-quote": {user.TPOC, func(s *session, f form) ([]outcome, string, error) {
			v, err := f.required(labels, "assetId", "amount", "duration")
			if err != nil {
				return fail(err)
			}
			amount, err := positive("the number of licenses", v[1])
			if err != nil {
				return fail(err)
			}
			years, err := positive("the lease duration", v[2])
			if err != nil {
				return fail(err)
			}
			req := map[string]any{"account": s.MSPID, "assetId": v[0], "amount": amount, "duration": years}
			if id := f.get("orderId"); id != "" {
				req["orderId"] = id // a renewal
			}
			o := d.submit(s, d.asset("order:GetQuote", req, sp))
			if id := idOf(o); id != "" {
				return []outcome{o}, orderPath(s.MSPID, id), nil
			}
			return []outcome{o}, "", nil
		}},
		"send-quote": {user.SPACQ, orderStep("order:SendQuote", byProvider, func(f form, req map[string]any) error {
			p, err := strconv.ParseFloat(f.get("price"), 64)
			if err != nil || p <= 0 || p > 1e12 {
				return errors.New("the price must be a number greater than 0")
			}
			req["price"] = p
			return nil
		})},
		"initiate-order": {user.TPOC, orderStep("order:InitiateOrder", byBoth, nil)},
		"approve-order":  {user.AgencyACQ, orderStep("order:ApproveOrder", byBoth, nil)},
		"deny-order":     {user.AgencyACQ, orderStep("order:DenyOrder", byBoth, nil)},
		"allocate": {user.SPACQ, orderStep("order:AllocateLicenses", byProvider, func(f form, req map[string]any) error {
			ls := f.list("licenses")
			if len(ls) == 0 {
				return errors.New("choose the licenses to allocate")
			}
			req["licenses"] = ls
			return nil
		})},
		"send-licenses": {user.SPACQ, relayPending("order:GetAllocateRequestForOrder", "order:SendLicenses", nil)},
		// Returns.
		"initiate-return": {user.TPOC, func(s *session, f form) ([]outcome, string, error) {
			id, account, err := orderKey(s, f)
			if err != nil {
				return fail(err)
			}
			ls := f.list("licenses")
			if len(ls) == 0 {
				return fail(errors.New("choose the licenses to return"))
			}
			var ord asset.Order
			o := d.query(s, d.asset("order:GetOrder", map[string]string{"orderId": id, "account": account}), &ord)
			if !o.OK {
				return []outcome{o}, orderPath(account, id), nil
			}
			req := asset.LicensesRequest{Account: account, AssetID: ord.AssetID, OrderID: id, Expiration: derefStr(ord.Expiration), Licenses: ls}
			return []outcome{d.submit(s, d.asset("order:InitiateReturn", req, sp, account))}, orderPath(account, id), nil
		}},
		"process-return": {user.SPACQ, relayPending("order:GetInitiatedReturnForOrder", "order:DeallocateLicensesFromAccount",
			// Then make the returned licenses available again.
			func(s *session, id, account string) call {
				return d.asset("order:DeallocateLicensesFromSP", map[string]string{"orderId": id, "account": account}, sp)
			})},
		// Usage.
		"report-swid": {user.TPOC, func(s *session, f form) ([]outcome, string, error) {
			id, account, err := orderKey(s, f)
			if err != nil {
				return fail(err)
			}
			lic := f.get("licenseId")
			if lic == "" {
				return fail(errors.New("choose the license the software is installed under"))
			}
			xml, err := uploadedTag(f.r)
			if err != nil {
				return fail(err)
			}
			tagID, err := SWIDTagID(xml)
			if err != nil {
				return fail(err)
			}
			req := map[string]string{"account": account, "primaryTag": tagID, "xml": string(xml), "orderId": id, "licenseId": lic}
			return []outcome{d.submit(s, d.asset("swid:ReportSWID", req, account))}, orderPath(account, id), nil
		}},
		"delete-swid": {user.TPOC, orderStep("swid:DeleteSWID", byAgency, func(f form, req map[string]any) error {
			if req["licenseId"] = f.get("licenseId"); req["licenseId"] == "" {
				return errors.New("the license is required")
			}
			return nil
		})},
		// Catalog.
		"add-asset": {user.LO, func(s *session, f form) ([]outcome, string, error) {
			v, err := f.required(labels, "name", "endDate")
			if err != nil {
				return fail(err)
			}
			end, err := endOfDay(v[1])
			if err != nil {
				return fail(err)
			}
			ls := saltedLicenses(f.list("licenses"))
			if len(ls) == 0 {
				return fail(errors.New("list at least one license ID, one per line"))
			}
			o := d.submit(s, d.asset("asset:AddAsset", map[string]any{"name": v[0], "endDate": end, "licenses": ls}, sp))
			if id := idOf(o); id != "" {
				return []outcome{o}, "/catalog/" + url.PathEscape(id), nil
			}
			return []outcome{o}, "/catalog", nil
		}},
		"add-licenses": {user.LO, func(s *session, f form) ([]outcome, string, error) {
			id := f.get("assetId")
			ls := saltedLicenses(f.list("licenses"))
			if id == "" || len(ls) == 0 {
				return fail(errors.New("list at least one license ID, one per line"))
			}
			o := d.submit(s, d.asset("asset:AddLicenses", map[string]any{"assetId": id, "licenses": ls}, sp))
			return []outcome{o}, "/catalog/" + url.PathEscape(id), nil
		}},
		"remove-licenses": {user.LO, func(s *session, f form) ([]outcome, string, error) {
			id, ls := f.get("assetId"), f.list("licenses")
			if id == "" || len(ls) == 0 {
				return fail(errors.New("choose the licenses to remove"))
			}
			o := d.submit(s, d.asset("asset:RemoveLicenses", map[string]any{"assetId": id, "licenses": ls}, sp))
			return []outcome{o}, "/catalog/" + url.PathEscape(id), nil
		}},
		"update-end-date": {user.LO, func(s *session, f form) ([]outcome, string, error) {
			v, err := f.required(labels, "assetId", "endDate")
			if err != nil {
				return fail(err)
			}
			end, err := endOfDay(v[1])
			if err != nil {
				return fail(err)
			}
			o := d.submit(s, d.asset("asset:UpdateEndDate", map[string]string{"assetId": v[0], "newEndDate": end}, sp))
			return []outcome{o}, "/catalog/" + url.PathEscape(v[0]), nil
		}},
		// Onboarding and governance.
		"update-mou": {user.Admin, func(s *session, f form) ([]outcome, string, error) {
			v, err := f.required(labels, "text")
			if err != nil {
				return fail(err)
			}
			return []outcome{d.submit(s, d.authz("mou:UpdateMOU", v[0]))}, "/governance", nil
		}},
		"sign-mou": {user.AO, func(s *session, f form) ([]outcome, string, error) {
			v, err := f.required(labels, "version")
			if err != nil {
				return fail(err)
			}
			return []outcome{d.submit(s, d.authz("mou:SignMOU", v[0]))}, "/governance", nil
		}},
		"save-ato": {user.AO, func(s *session, f form) ([]outcome, string, error) {
			memo, artifacts := f.get("memo"), f.get("artifacts")
			fn := "ato:UpdateATO"
			if f.get("create") == "1" {
				fn = "ato:CreateATO"
				if memo == "" || artifacts == "" {
					return fail(errors.New("a new ATO needs a memo and its artifacts"))
				}
			}
			c := d.authz(fn)
			// The ATO lives in the member's own collection alone.
			c.endorsers = []string{s.MSPID}
			c.transient = map[string]string{}
			if memo != "" {
				c.transient["memo"] = memo
			}
			if artifacts != "" {
				c.transient["artifacts"] = artifacts
			}
			return []outcome{d.submit(s, c)}, "/governance", nil
		}},
		"feedback": {user.AO, func(s *session, f form) ([]outcome, string, error) {
			v, err := f.required(labels, "target", "atoVersion", "comments")
			if err != nil {
				return fail(err)
			}
			c := d.authz("ato:SubmitFeedback")
			c.transient = map[string]string{"targetAccountId": v[0], "atoVersion": v[1], "comments": v[2]}
			c.endorsers = []string{v[0]}
			return []outcome{d.submit(s, c)}, "/governance", nil
		}},
		"initiate-vote": {user.AO, func(s *session, f form) ([]outcome, string, error) {
			v, err := f.required(labels, "target", "status")
			if err != nil {
				return fail(err)
			}
			return []outcome{d.submit(s, d.authz("vote:InitiateVote", v[0], v[1], f.get("reason")))}, "/governance", nil
		}},
		"vote": {user.AO, func(s *session, f form) ([]outcome, string, error) {
			ballot := f.get("ballot")
			if ballot != "true" && ballot != "false" {
				return fail(errors.New("vote yes or no"))
			}
			return []outcome{d.submit(s, d.authz("vote:Vote", ballot))}, "/governance", nil
		}},
		"certify-vote": {user.AO, func(s *session, f form) ([]outcome, string, error) {
			return []outcome{d.submit(s, d.authz("vote:CertifyOngoingVote"))}, "/governance", nil
		}},
		"abort-vote": {user.AO, func(s *session, f form) ([]outcome, string, error) {
			return []outcome{d.submit(s, d.authz("vote:AbortOngoingVote"))}, "/governance", nil
		}},
		"join": {user.AO, func(s *session, f form) ([]outcome, string, error) {
			return []outcome{d.submit(s, d.authz("account:Join"))}, "/governance", nil
		}},
	}
}

// endorsedBy names whose peers endorse an asset transaction: the owners
// of the collections it writes (docs/blossom-asset.md).
type endorsedBy int

const (
	byProvider endorsedBy = iota // the service provider's collection
	byBoth                       // and a trust record in the agency's
	byAgency                     // the agency's collection only (SWID tags)
)

func (b endorsedBy) members(sp, agency string) []string {
	switch b {
	case byBoth:
		return []string{sp, agency}
	case byAgency:
		return []string{agency}
	}
	return []string{sp}
}

// saltedLicenses gives each license ID a fresh random salt (kept by the
// chaincode in the service provider's collection, never shown).
func saltedLicenses(ids []string) []map[string]string {
	out := make([]map[string]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, map[string]string{"id": id, "salt": randomID()})
	}
	return out
}

// uploadedTag reads the SWID tag file of a report form (field "tag").
func uploadedTag(r *http.Request) ([]byte, error) {
	if r.MultipartForm == nil {
		return nil, errors.New("upload the SWID tag file")
	}
	file, hdr, err := r.FormFile("tag")
	if err != nil {
		return nil, errors.New("upload the SWID tag file")
	}
	defer file.Close()
	if hdr.Size > 1<<20 {
		return nil, errors.New("the SWID tag file is larger than 1 MiB")
	}
	b, err := io.ReadAll(io.LimitReader(file, 1<<20+1))
	if err != nil || len(b) > 1<<20 {
		return nil, errors.New("the SWID tag file could not be read (at most 1 MiB)")
	}
	return b, nil
}
