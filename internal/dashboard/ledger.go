package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/blossom-ledger/blossom/internal/gateway"
)

// recentBlocks is how many of the newest blocks the ledger page lists.
const recentBlocks = 10

var txIDPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ledgerPage is the data of ledger.html: the newest blocks, or one block,
// or one transaction.
type ledgerPage struct {
	Notices notices
	Query   string
	Height  uint64
	Blocks  []gateway.BlockView
	Block   *gateway.BlockView
	Tx      *gateway.TxView
}

// lookup reads one of the gateway's lookup routes as the signed-in user
// (so the allow-list decides what the user sees) into v.
func (d *Dashboard) lookup(s *session, what string, v any) outcome {
	o := outcome{Function: "lookup"}
	path := "/api/v1/channels/" + url.PathEscape(d.cfg.Channel) + "/" + what
	rec, err := d.callAPI(s, http.MethodGet, path, nil)
	if err != nil {
		o.Message = "the request could not be built"
		return o
	}
	o.Status = rec.status
	if rec.status != http.StatusOK {
		o.Code, o.Message = rec.failure()
		return o
	}
	if err := json.Unmarshal(rec.body.Bytes(), v); err != nil {
		o.Message = "the gateway's answer could not be read"
		return o
	}
	o.OK = true
	return o
}

// ledger serves /ledger: the newest blocks with each transaction's
// validation code, and a search by block number or transaction ID.
func (d *Dashboard) ledger(w http.ResponseWriter, r *http.Request, s *session) {
	if !d.guard(w, r, s, "/ledger") {
		return
	}
	pg := ledgerPage{}
	if q := r.URL.Query().Get("q"); q != "" {
		switch {
		case txIDPattern.MatchString(q):
			http.Redirect(w, r, "/ledger/transactions/"+q, http.StatusSeeOther)
			return
		case isBlockNumber(q):
			http.Redirect(w, r, "/ledger/blocks/"+q, http.StatusSeeOther)
			return
		}
		pg.Query = truncate(q, 80)
		pg.Notices = notices{"Search for a block number or a transaction ID (64 hexadecimal digits)."}
	}
	if d.cfg.Client == nil {
		pg.Notices = append(pg.Notices, "The ledger's height is not available.")
		d.render(w, r, s, http.StatusOK, "ledger", pg)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	info, err := d.cfg.Client.ChannelInfo(ctx, "", d.cfg.Channel)
	cancel()
	if err != nil {
		pg.Notices = append(pg.Notices, "The member's peer does not answer.")
		d.render(w, r, s, http.StatusOK, "ledger", pg)
		return
	}
	pg.Height = info.Height
	for n := info.Height; n > 0 && len(pg.Blocks) < recentBlocks; n-- {
		var b gateway.BlockView
		if o := d.lookup(s, "blocks/"+strconv.FormatUint(n-1, 10), &b); !o.OK {
			pg.Notices = append(pg.Notices, o.Summary())
			break
		}
		pg.Blocks = append(pg.Blocks, b)
	}
	d.render(w, r, s, http.StatusOK, "ledger", pg)
}

// ledgerBlock serves /ledger/blocks/{number}.
func (d *Dashboard) ledgerBlock(w http.ResponseWriter, r *http.Request, s *session) {
	if !d.guard(w, r, s, "/ledger") {
		return
	}
	n := r.PathValue("number")
	if !isBlockNumber(n) {
		d.renderError(w, r, s, http.StatusNotFound, "A block number is a decimal number.")
		return
	}
	var b gateway.BlockView
	if o := d.lookup(s, "blocks/"+n, &b); !o.OK {
		d.lookupFailed(w, r, s, o, "Block "+n)
		return
	}
	d.render(w, r, s, http.StatusOK, "ledger", ledgerPage{Block: &b})
}

// ledgerTx serves /ledger/transactions/{txId}.
func (d *Dashboard) ledgerTx(w http.ResponseWriter, r *http.Request, s *session) {
	if !d.guard(w, r, s, "/ledger") {
		return
	}
	id := r.PathValue("txId")
	if !txIDPattern.MatchString(id) {
		d.renderError(w, r, s, http.StatusNotFound, "A transaction ID is 64 hexadecimal digits.")
		return
	}
	var tx gateway.TxView
	if o := d.lookup(s, "transactions/"+id, &tx); !o.OK {
		d.lookupFailed(w, r, s, o, "Transaction "+id)
		return
	}
	d.render(w, r, s, http.StatusOK, "ledger", ledgerPage{Tx: &tx})
}

// lookupFailed shows a failed lookup as a page: not found, not allowed, or
// why the gateway could not answer.
func (d *Dashboard) lookupFailed(w http.ResponseWriter, r *http.Request, s *session, o outcome, what string) {
	switch o.Status {
	case http.StatusNotFound:
		d.renderError(w, r, s, http.StatusNotFound, what+" is not on the ledger (or not visible to your role).")
	case http.StatusForbidden:
		d.renderError(w, r, s, http.StatusForbidden, "Your role may not read this channel.")
	default:
		d.renderError(w, r, s, http.StatusBadGateway, sentence(o.Message))
	}
}

// isBlockNumber: decimal digits, no leading zero but "0", at most 20.
func isBlockNumber(s string) bool {
	if s == "" || len(s) > 20 || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}
