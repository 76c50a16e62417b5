package dashboard

import (
	"context"
	"net/http"
	"sort"
	"time"

	"github.com/blossom-ledger/blossom/chaincode/asset"
	"github.com/blossom-ledger/blossom/chaincode/authorization"
)

// notices are a page's problems reading the ledger, in plain words.
type notices = []string

// guard renders 403 when u may not open path's page.
func (d *Dashboard) guard(w http.ResponseWriter, r *http.Request, s *session, path string) bool {
	if pageAllowed(s.user, path) {
		return true
	}
	d.renderError(w, r, s, http.StatusForbidden, "Your role ("+roleName(s.Role)+") has no access to this page.")
	return false
}

func roleName(r string) string {
	if r == "" {
		return "none"
	}
	return r
}

// certWarning is how early the home page warns of a certificate's expiry.
const certWarning = 30 * 24 * time.Hour

// homePage is home.html's data.
type homePage struct {
	Account *authorization.Account
	// CertExpiry is when the user's ledger certificate expires; CertSoon
	// says it does within 30 days.
	CertExpiry string
	CertSoon   bool
	Notices    notices
}

func (d *Dashboard) home(w http.ResponseWriter, r *http.Request, s *session) {
	var acct authorization.Account
	o := d.query(s, d.authz("account:GetAccount", s.MSPID), &acct)
	pg := homePage{Notices: problems(o)}
	if o.OK {
		pg.Account = &acct
	} else if o.Code == "CHAINCODE_ERROR" {
		pg.Notices = append(pg.Notices, "Your member has no BloSS@M account yet: its Authorizing Official signs the MOU to create it.")
	}
	if me, ok := d.me(s); ok && me.CertificateExpiry != "" {
		if exp, err := time.Parse(time.RFC3339, me.CertificateExpiry); err == nil {
			pg.CertExpiry = exp.UTC().Format("2006-01-02 15:04 MST")
			pg.CertSoon = time.Until(exp) < certWarning
		}
	}
	d.render(w, r, s, http.StatusOK, "home", pg)
}

// catalogPage is catalog.html's data.
type catalogPage struct {
	Assets  []asset.AssetResponse
	Notices notices
}

func (d *Dashboard) catalog(w http.ResponseWriter, r *http.Request, s *session) {
	if !d.guard(w, r, s, "/catalog") {
		return
	}
	pg := catalogPage{}
	o := d.query(s, d.asset("asset:GetAssets", nil), &pg.Assets)
	pg.Notices = notOK(o)
	d.render(w, r, s, http.StatusOK, "catalog", pg)
}

// notOK is o's summary as a notice when it failed.
func notOK(os ...outcome) notices {
	var out notices
	for _, o := range os {
		if !o.OK {
			out = append(out, o.Summary())
		}
	}
	return out
}

// assetPage is asset.html's data.
type assetDetailPage struct {
	Asset   asset.AssetDetailResponse
	Orders  []asset.Order
	Notices notices
}

func (d *Dashboard) assetPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !d.guard(w, r, s, "/catalog") {
		return
	}
	id := r.PathValue("asset")
	pg := assetDetailPage{}
	o := d.query(s, d.asset("asset:GetAsset", map[string]string{"assetId": id}), &pg.Asset)
	if !o.OK {
		d.renderError(w, r, s, statusOf(o), o.Summary())
		return
	}
	o2 := d.query(s, d.asset("order:GetOrdersByAsset", map[string]string{"assetId": id}), &pg.Orders)
	pg.Notices = notOK(o2)
	d.render(w, r, s, http.StatusOK, "asset", pg)
}

// statusOf is the HTTP status of a page whose main query failed.
func statusOf(o outcome) int {
	switch {
	case o.Status == http.StatusForbidden:
		return http.StatusForbidden
	case o.Code == "CHAINCODE_ERROR":
		return http.StatusNotFound
	}
	return http.StatusBadGateway
}

// ordersPage is orders.html's data.
type ordersPage struct {
	Orders  []asset.Order
	Assets  []asset.AssetResponse
	Notices notices
}

// accounts lists the members' accounts.
func (d *Dashboard) accounts(s *session) ([]authorization.Account, outcome) {
	var accts []authorization.Account
	o := d.query(s, d.authz("account:GetAccounts"), &accts)
	return accts, o
}

// visibleOrders is every order u may read: its own member's, or for the
// service provider every agency's.
func (d *Dashboard) visibleOrders(s *session) ([]asset.Order, notices) {
	members := []string{s.MSPID}
	var ns notices
	if s.SP {
		accts, o := d.accounts(s)
		ns = append(ns, notOK(o)...)
		members = members[:0]
		for _, a := range accts {
			if a.ID != d.cfg.AdminMSP {
				members = append(members, a.ID)
			}
		}
	}
	var all []asset.Order
	for _, m := range members {
		var orders []asset.Order
		o := d.query(s, d.asset("order:GetOrdersByAccount", map[string]string{"account": m}), &orders)
		ns = append(ns, notOK(o)...)
		all = append(all, orders...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].InitiationDate > all[j].InitiationDate })
	return all, ns
}

func (d *Dashboard) orders(w http.ResponseWriter, r *http.Request, s *session) {
	if !d.guard(w, r, s, "/orders") {
		return
	}
	pg := ordersPage{}
	pg.Orders, pg.Notices = d.visibleOrders(s)
	if s.TPOC() {
		o := d.query(s, d.asset("asset:GetAssets", nil), &pg.Assets)
		pg.Notices = append(pg.Notices, notOK(o)...)
	}
	d.render(w, r, s, http.StatusOK, "orders", pg)
}

// orderPage is order.html's data: the order and what the user can do.
type orderPage struct {
	Order asset.Order
	// Proposed are the licenses the service provider would allocate.
	Proposed []string
	// Delivery is the allocation waiting to be sent; Return the return
	// waiting to be processed.
	Delivery *asset.LicensesRequest
	Return   *asset.LicensesRequest
	// WithSWID are the order's leased licenses with a SWID tag.
	WithSWID []string
	// Leased are the licenses the agency holds (from the agency's peer).
	Leased  []string
	Notices notices
}

// Actions offered by status.
func (p orderPage) QuoteRequested() bool {
	return p.Order.Status == asset.QuoteRequested || p.Order.Status == asset.RenewalQuoteRequested
}
func (p orderPage) QuoteReceived() bool {
	return p.Order.Status == asset.QuoteReceived || p.Order.Status == asset.RenewalQuoteReceived
}
func (p orderPage) Initiated() bool {
	return p.Order.Status == asset.Initiated || p.Order.Status == asset.RenewalInitiated
}
func (p orderPage) Approved() bool {
	return p.Order.Status == asset.Approved || p.Order.Status == asset.RenewalApproved
}
func (p orderPage) Renewable() bool {
	return (p.Order.Status == asset.Allocated || p.Order.Status == asset.RenewalDenied) && len(p.Order.Licenses) > 0
}

// HasSWID reports whether license l has a SWID tag.
func (p orderPage) HasSWID(l string) bool {
	for _, x := range p.WithSWID {
		if x == l {
			return true
		}
	}
	return false
}

func (d *Dashboard) orderPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !d.guard(w, r, s, "/orders") {
		return
	}
	account, id := r.PathValue("account"), r.PathValue("order")
	key := map[string]string{"orderId": id, "account": account}
	pg := orderPage{}
	o := d.query(s, d.asset("order:GetOrder", key), &pg.Order)
	if !o.OK {
		d.renderError(w, r, s, statusOf(o), o.Summary())
		return
	}
	if s.SPACQ() {
		if pg.Order.Status == asset.Approved {
			var prop asset.AllocateLicensesResponse
			if o := d.query(s, d.asset("order:GetLicensesToAllocateForOrder", key), &prop); o.OK {
				pg.Proposed = prop.Licenses
			} else {
				pg.Notices = append(pg.Notices, o.Summary())
			}
		}
		var del asset.LicensesRequest
		if o := d.query(s, d.asset("order:GetAllocateRequestForOrder", map[string]string{"orderId": id}), &del); o.OK {
			pg.Delivery = &del
		}
		var ret asset.LicensesRequest
		if o := d.query(s, d.asset("order:GetInitiatedReturnForOrder", map[string]string{"orderId": id}), &ret); o.OK {
			pg.Return = &ret
		}
	}
	if len(pg.Order.Licenses) > 0 && (s.Agency() || s.SPACQ()) {
		o1 := d.query(s, d.asset("swid:GetLicensesWithSWIDsForOrder", key, account), &pg.WithSWID)
		var free []string
		o2 := d.query(s, d.asset("order:GetAvailableLicensesForOrder", key, account), &free)
		pg.Leased = append(append(pg.Leased, pg.WithSWID...), free...)
		sort.Strings(pg.Leased)
		pg.Notices = append(pg.Notices, notOK(o1, o2)...)
	}
	d.render(w, r, s, http.StatusOK, "order", pg)
}

// licensesPage is licenses.html's data: the agency's leased licenses.
type licensesPage struct {
	Rows    []leaseRow
	Notices notices
}

type leaseRow struct {
	Order      asset.Order
	License    string
	Expiration string
	SWID       bool
	Delivered  bool
}

func (d *Dashboard) licenses(w http.ResponseWriter, r *http.Request, s *session) {
	if !d.guard(w, r, s, "/licenses") {
		return
	}
	orders, ns := d.visibleOrders(s)
	pg := licensesPage{Notices: ns}
	for _, ord := range orders {
		if len(ord.Licenses) == 0 {
			continue
		}
		key := map[string]string{"orderId": ord.ID, "account": ord.Account}
		var with, free []string
		o1 := d.query(s, d.asset("swid:GetLicensesWithSWIDsForOrder", key, ord.Account), &with)
		o2 := d.query(s, d.asset("order:GetAvailableLicensesForOrder", key, ord.Account), &free)
		pg.Notices = append(pg.Notices, notOK(o1, o2)...)
		held := map[string]bool{}
		for _, l := range free {
			held[l] = true
		}
		has := map[string]bool{}
		for _, l := range with {
			held[l], has[l] = true, true
		}
		for _, l := range ord.Licenses {
			pg.Rows = append(pg.Rows, leaseRow{Order: ord, License: l, Expiration: derefStr(ord.Expiration), SWID: has[l], Delivered: held[l]})
		}
	}
	d.render(w, r, s, http.StatusOK, "licenses", pg)
}

func derefStr(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// governancePage is governance.html's data.
type governancePage struct {
	Accounts []authorization.Account
	Own      *authorization.Account
	MOU      *authorization.MOU
	OwnATO   *authorization.ATO
	ATOs     []memberATO
	Vote     *voteView
	Notices  notices
}

type memberATO struct {
	Account string
	ATO     authorization.ATO
}

// voteView is an ongoing vote with its tally.
type voteView struct {
	authorization.Vote
	Yes, No, Pending int
	MayVote          bool
	MyBallot         string
}

func tally(v authorization.Vote, msp string) *voteView {
	vv := &voteView{Vote: v}
	for _, m := range v.Voters {
		b, ok := v.SubmittedVotes[m]
		switch {
		case !ok:
			vv.Pending++
		case b:
			vv.Yes++
		default:
			vv.No++
		}
		if m == msp {
			vv.MayVote = true
			if ok {
				vv.MyBallot = map[bool]string{true: "yes", false: "no"}[b]
			}
		}
	}
	return vv
}

// NeedsSignature: the MOU's current version is not yet signed by the own
// member.
func (p governancePage) NeedsSignature() bool {
	return p.MOU != nil && (p.Own == nil || p.Own.MOUVersion < p.MOU.Version)
}

// MayJoin: the own member is authorized and has not joined.
func (p governancePage) MayJoin() bool {
	return p.Own != nil && p.Own.Status == "AUTHORIZED" && !p.Own.Joined
}

func (d *Dashboard) governance(w http.ResponseWriter, r *http.Request, s *session) {
	if !d.guard(w, r, s, "/governance") {
		return
	}
	pg := governancePage{}
	accts, o := d.accounts(s)
	pg.Accounts, pg.Notices = accts, notOK(o)
	for i := range accts {
		if accts[i].ID == s.MSPID {
			pg.Own = &accts[i]
		}
	}
	var mou authorization.MOU
	if o := d.query(s, d.authz("mou:GetMOU"), &mou); o.OK {
		pg.MOU = &mou
	}
	for _, a := range accts {
		if a.ID == d.cfg.AdminMSP {
			continue
		}
		var ato authorization.ATO
		if o := d.query(s, d.authz("ato:GetATO", a.ID), &ato); o.OK {
			if a.ID == s.MSPID {
				pg.OwnATO = &ato
			} else {
				pg.ATOs = append(pg.ATOs, memberATO{Account: a.ID, ATO: ato})
			}
		}
	}
	var v authorization.Vote
	if o := d.query(s, d.authz("vote:GetOngoingVote"), &v); o.OK {
		pg.Vote = tally(v, s.MSPID)
	}
	d.render(w, r, s, http.StatusOK, "governance", pg)
}

// auditPage is audit.html's data.
type auditPage struct {
	Accounts       []authorization.Account
	Account        string
	AccountHistory []authorization.AccountHistorySnapshot
	VoteHistory    []authorization.Vote
	MOUHistory     []authorization.MOU
	Expired        []asset.Order
	AssetID        string
	LicenseID      string
	LicenseHistory []string
	Notices        notices
}

func (d *Dashboard) audit(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	pg := auditPage{Account: q.Get("account"), AssetID: q.Get("asset"), LicenseID: q.Get("license")}
	accts, o := d.accounts(s)
	pg.Accounts, pg.Notices = accts, notOK(o)
	if pg.Account == "" {
		pg.Account = s.MSPID
	}
	o1 := d.query(s, d.authz("account:GetAccountHistory", pg.Account), &pg.AccountHistory)
	o2 := d.query(s, d.authz("vote:GetVoteHistory", pg.Account), &pg.VoteHistory)
	o3 := d.query(s, d.authz("mou:GetMOUHistory"), &pg.MOUHistory)
	pg.Notices = append(pg.Notices, notOK(o1, o2, o3)...)
	if s.AssetUser() {
		o := d.query(s, d.asset("order:GetExpiredOrders", nil), &pg.Expired)
		pg.Notices = append(pg.Notices, notOK(o)...)
	}
	if s.SPReader() && pg.AssetID != "" && pg.LicenseID != "" {
		o := d.query(s, d.asset("asset:GetLicenseTxHistory", map[string]string{"assetId": pg.AssetID, "licenseId": pg.LicenseID}), &pg.LicenseHistory)
		pg.Notices = append(pg.Notices, notOK(o)...)
	}
	d.render(w, r, s, http.StatusOK, "audit", pg)
}

// networkPage is network.html's data.
type networkPage struct {
	Accounts []authorization.Account
	Peers    []peerStatus
	Orderers []peerStatus
	// Certificates are those of the channel configuration; Expiring
	// counts those expiring within 30 days or expired.
	Certificates []certStatus
	Expiring     int
	Notices      notices
}

type peerStatus struct {
	Name   string
	Height uint64
	Lag    uint64
	Err    string
}

func (d *Dashboard) network(w http.ResponseWriter, r *http.Request, s *session) {
	pg := networkPage{}
	accts, o := d.accounts(s)
	pg.Accounts, pg.Notices = accts, notOK(o)
	pg.Peers, pg.Orderers = d.peerHeights(r.Context())
	if d.cfg.Client != nil {
		if cc, err := d.channelConfig(r.Context()); err != nil {
			pg.Notices = append(pg.Notices, "The channel configuration could not be read from the member's peer.")
		} else {
			pg.Certificates = configCertificates(cc, time.Now())
			for _, c := range pg.Certificates {
				if c.Soon || c.Expired {
					pg.Expiring++
				}
			}
		}
	}
	d.render(w, r, s, http.StatusOK, "network", pg)
}

// peerHeights asks every peer and orderer the gateway knows for its
// height; lags are behind the highest node.
func (d *Dashboard) peerHeights(ctx context.Context) (peers, orderers []peerStatus) {
	if d.cfg.Client == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var top uint64
	for _, p := range d.cfg.Client.Peers() {
		ps := peerStatus{Name: p}
		if info, err := d.cfg.Client.ChannelInfo(ctx, p, d.cfg.Channel); err != nil {
			ps.Err = "does not answer"
		} else {
			ps.Height = info.Height
			top = max(top, info.Height)
		}
		peers = append(peers, ps)
	}
	for _, h := range d.cfg.Client.OrdererHeights(ctx, d.cfg.Channel) {
		os := peerStatus{Name: h.Orderer, Height: h.Height}
		if h.Err != nil {
			os.Err = "does not answer"
		}
		top = max(top, os.Height)
		orderers = append(orderers, os)
	}
	for _, list := range [][]peerStatus{peers, orderers} {
		for i := range list {
			if list[i].Err == "" {
				list[i].Lag = top - list[i].Height
			}
		}
	}
	return peers, orderers
}
