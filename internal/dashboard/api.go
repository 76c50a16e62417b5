package dashboard

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"

	"github.com/blossom-ledger/blossom/internal/gateway"
	"github.com/blossom-ledger/blossom/internal/gateway/auth"
)

// outcome is the result of one ledger call, as the user sees it.
type outcome struct {
	// Function is the chaincode function called.
	Function string
	OK       bool
	// TxID and Block are set for committed submissions.
	TxID  string
	Block uint64
	// Result is the chaincode's answer (evaluations and submissions).
	Result string
	// Status, Code and Message describe a refusal.
	Status  int
	Code    string
	Message string
}

// Summary is the outcome in plain words.
func (o outcome) Summary() string {
	if o.OK {
		if o.TxID != "" {
			return fmt.Sprintf("%s committed in block %d (transaction %s).", o.Function, o.Block, o.TxID)
		}
		return o.Function + " answered."
	}
	switch o.Code {
	case "CHAINCODE_ERROR":
		return fmt.Sprintf("%s was refused by the ledger: %s", o.Function, sentence(o.Message))
	case "FUNCTION_NOT_ALLOWED":
		return fmt.Sprintf("%s is not allowed for your role.", o.Function)
	}
	return fmt.Sprintf("%s did not complete: %s", o.Function, sentence(o.Message))
}

// call is one request to the gateway API.
type call struct {
	chaincode string
	function  string
	args      []string
	// request, if not nil, is sent JSON-encoded as the transient key
	// "request" (the asset chaincode's convention); rawRequest sends a
	// JSON text as is.
	request    any
	rawRequest string
	transient  map[string]string
	// endorsers names the members whose peers endorse or evaluate (nil:
	// the gateway plans).
	endorsers []string
}

// apiRecorder collects the gateway API's answer.
type apiRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (a *apiRecorder) Header() http.Header { return a.header }
func (a *apiRecorder) WriteHeader(code int) {
	if a.status == 0 {
		a.status = code
	}
}
func (a *apiRecorder) Write(b []byte) (int, error) {
	if a.status == 0 {
		a.status = http.StatusOK
	}
	return a.body.Write(b)
}

// failure is the code and message of the API's refusal.
func (a *apiRecorder) failure() (code, message string) {
	var e auth.ErrorBody
	if json.Unmarshal(a.body.Bytes(), &e) == nil && e.Error.Code != "" {
		return e.Error.Code, e.Error.Message
	}
	return "ERROR", fmt.Sprintf("the gateway answered %d", a.status)
}

// invoke runs c through the gateway's API as the signed-in user ("submit"
// or "evaluate").
func (d *Dashboard) invoke(s *session, op string, c call) outcome {
	o := outcome{Function: c.function}
	body := gateway.InvokeRequest{Function: c.function, Args: c.args, Transient: c.transient, EndorsingMembers: c.endorsers}
	// Read your own writes: the peers answer only once they hold the
	// last block this user's transactions committed in.
	body.MinBlock = d.heights.get(s.key())
	if c.request != nil || c.rawRequest != "" {
		raw := c.rawRequest
		if c.request != nil {
			b, err := json.Marshal(c.request)
			if err != nil {
				o.Message = "the request could not be encoded"
				return o
			}
			raw = string(b)
		}
		body.Transient = map[string]string{"request": raw}
	}
	payload, err := json.Marshal(body)
	if err != nil {
		o.Message = "the request could not be encoded"
		return o
	}
	path := "/api/v1/channels/" + url.PathEscape(d.cfg.Channel) + "/chaincodes/" + url.PathEscape(c.chaincode) + "/" + op
	rec, err := d.callAPI(s, http.MethodPost, path, payload)
	if err != nil {
		o.Message = "the request could not be built"
		return o
	}
	o.Status = rec.status
	if rec.status != http.StatusOK {
		o.Code, o.Message = rec.failure()
		return o
	}
	switch op {
	case "submit":
		var sr gateway.SubmitResponse
		if err := json.Unmarshal(rec.body.Bytes(), &sr); err != nil {
			o.Message = "the gateway's answer could not be read"
			return o
		}
		o.OK, o.TxID, o.Block = true, sr.TxID, sr.Block
		d.heights.raise(s.key(), sr.Block+1)
		if sr.Result != nil {
			o.Result = *sr.Result
		}
	default:
		var er gateway.EvaluateResponse
		if err := json.Unmarshal(rec.body.Bytes(), &er); err != nil {
			o.Message = "the gateway's answer could not be read"
			return o
		}
		o.OK, o.Result = true, er.Result
	}
	return o
}

// callAPI runs one request through the gateway's API as the signed-in
// user: it carries the user's session cookie and CSRF token, so the
// gateway authenticates, checks and audits it like any other.
func (d *Dashboard) callAPI(s *session, method, path string, body []byte) (*apiRecorder, error) {
	req, err := http.NewRequestWithContext(s.r.Context(), method, path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set(auth.CSRFHeader, auth.CSRFToken(s.p))
	if ck, err := s.r.Cookie(auth.SessionCookie); err == nil {
		req.AddCookie(ck)
	}
	req.TLS, req.RemoteAddr, req.Host = s.r.TLS, s.r.RemoteAddr, s.r.Host
	rec := &apiRecorder{header: http.Header{}}
	s.api.ServeHTTP(rec, req)
	return rec, nil
}

// me is the gateway's view of the signed-in user (GET /api/v1/me).
func (d *Dashboard) me(s *session) (*gateway.Me, bool) {
	rec, err := d.callAPI(s, http.MethodGet, "/api/v1/me", nil)
	if err != nil || rec.status != http.StatusOK {
		return nil, false
	}
	var m gateway.Me
	if json.Unmarshal(rec.body.Bytes(), &m) != nil {
		return nil, false
	}
	return &m, true
}

// query evaluates c and decodes its JSON answer into v. The returned
// outcome says why when it did not answer.
func (d *Dashboard) query(s *session, c call, v any) outcome {
	o := d.invoke(s, "evaluate", c)
	if o.OK && v != nil {
		if err := json.Unmarshal([]byte(o.Result), v); err != nil {
			o.OK, o.Message = false, "the ledger's answer could not be read"
		}
	}
	return o
}

func (d *Dashboard) submit(s *session, c call) outcome { return d.invoke(s, "submit", c) }

// asset and authz build calls of the two chaincodes.
func (d *Dashboard) asset(function string, request any, endorsers ...string) call {
	return call{chaincode: d.cfg.AssetChaincode, function: function, request: request, endorsers: endorsers}
}

func (d *Dashboard) authz(function string, args ...string) call {
	return call{chaincode: d.cfg.AuthorizationChaincode, function: function, args: args}
}

// randomID is 16 random bytes in hex (flash IDs, license salts).
func randomID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("dashboard: no randomness: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// problems joins the messages of failed outcomes (for a page's notices).
func problems(os ...outcome) []string {
	var out []string
	for _, o := range os {
		if !o.OK && o.Code != "CHAINCODE_ERROR" {
			out = append(out, o.Summary())
		}
	}
	return out
}

// heightBook remembers, per user, the ledger height their last committed
// transaction reached (bounded: forgotten wholesale when full, which only
// costs read-your-writes for the next page).
type heightBook struct {
	mu sync.Mutex
	m  map[string]uint64
}

const maxHeightEntries = 10000

func (h *heightBook) get(k string) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.m[k]
}

func (h *heightBook) raise(k string, height uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil || len(h.m) >= maxHeightEntries {
		h.m = map[string]uint64{}
	}
	h.m[k] = max(h.m[k], height)
}
