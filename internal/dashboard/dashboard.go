package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/blossom-ledger/blossom/internal/client"
	"github.com/blossom-ledger/blossom/internal/gateway/auth"
	"github.com/blossom-ledger/blossom/internal/pki"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Chaincode and channel names of a BloSS@M deployment.
const (
	DefaultChannel       = "blossom"
	DefaultAuthorization = "authorization"
	DefaultAsset         = "asset"
)

// DefaultLiveRefresh is the default polling period of the live region.
const DefaultLiveRefresh = 5 * time.Second

// maxUploadBytes bounds a multipart form (a SWID tag is at most 1 MiB).
const maxUploadBytes = 1<<20 + 64<<10

// Config configures a dashboard.
type Config struct {
	// MSPID is the gateway's member.
	MSPID string
	// AdminMSP is the BloSS@M service provider (the chaincodes' adminMSP
	// definition parameter).
	AdminMSP string
	// Channel, AuthorizationChaincode and AssetChaincode name the BloSS@M
	// deployment (defaults: blossom, authorization, asset).
	Channel, AuthorizationChaincode, AssetChaincode string
	// Authenticate is the gateway's authentication middleware
	// ((*auth.Authenticator).Authenticate, with web sign-in configured).
	// The gateway itself serves the sign-in routes (gateway.Config.SignIn).
	Authenticate func(http.Handler) http.Handler
	// Client, if set, answers the network view's block heights (the
	// gateway's own client).
	Client *client.Client
	// LiveRefresh is how often a page polls for changes of its live
	// region while the gateway's event stream is not open (0:
	// DefaultLiveRefresh; negative: no live updates at all). With the
	// stream open, the region refreshes on each new block instead.
	LiveRefresh time.Duration
	// Version is shown in the footer.
	Version string
	Logger  *slog.Logger
}

// Dashboard serves the member dashboard.
type Dashboard struct {
	cfg     Config
	log     *slog.Logger
	pages   map[string]*template.Template
	flashes *flashStore
	actions map[string]action
	static  http.Handler
	heights heightBook
}

// New checks cfg and parses the templates.
func New(cfg Config) (*Dashboard, error) {
	if err := pki.ValidateMSPID(cfg.MSPID); err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	if err := pki.ValidateMSPID(cfg.AdminMSP); err != nil {
		return nil, fmt.Errorf("dashboard: admin member: %w", err)
	}
	if cfg.Authenticate == nil {
		return nil, errors.New("dashboard: the authentication middleware is required")
	}
	if cfg.Channel == "" {
		cfg.Channel = DefaultChannel
	}
	if cfg.AuthorizationChaincode == "" {
		cfg.AuthorizationChaincode = DefaultAuthorization
	}
	if cfg.AssetChaincode == "" {
		cfg.AssetChaincode = DefaultAsset
	}
	if cfg.LiveRefresh == 0 {
		cfg.LiveRefresh = DefaultLiveRefresh
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	pages, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	sub, _ := fs.Sub(staticFS, "static")
	d := &Dashboard{cfg: cfg, log: cfg.Logger, pages: pages, flashes: newFlashStore(),
		static: http.StripPrefix("/static/", http.FileServerFS(sub))}
	d.actions = d.actionTable()
	return d, nil
}

var funcs = template.FuncMap{
	"join": strings.Join,
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12] + "…"
		}
		return s
	},
	"pathEscape": url.PathEscape,
	"inc":        func(n uint64) uint64 { return n + 1 },
	"dec":        func(n uint64) uint64 { return n - 1 },
}

// pageNames are the page templates; each defines "title" and "content"
// and is rendered inside layout.html.
var pageNames = []string{"landing", "home", "catalog", "asset", "orders", "order", "licenses", "governance", "audit", "network", "ledger", "admin", "error"}

func parseTemplates() (map[string]*template.Template, error) {
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return nil, fmt.Errorf("dashboard: layout: %w", err)
	}
	pages := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("dashboard: template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// Handler returns the dashboard's handler; api is the gateway's handler,
// which the dashboard calls in-process. Its signature is that of
// gateway.Config.Dashboard.
func (d *Dashboard) Handler(api http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /static/", d.cacheStatic(d.static))
	page := func(pattern string, h pageFunc) { mux.Handle(pattern, d.signedIn(api, pattern == "GET /{$}", h)) }
	page("GET /{$}", d.home)
	page("GET /catalog", d.catalog)
	page("GET /catalog/{asset}", d.assetPage)
	page("GET /orders", d.orders)
	page("GET /orders/{account}/{order}", d.orderPage)
	page("GET /licenses", d.licenses)
	page("GET /governance", d.governance)
	page("GET /audit", d.audit)
	page("GET /network", d.network)
	page("GET /ledger", d.ledger)
	page("GET /admin", d.admin)
	page("GET /ledger/blocks/{number}", d.ledgerBlock)
	page("GET /ledger/transactions/{txId}", d.ledgerTx)
	mux.Handle("POST /act/{action}", d.signedIn(api, false, d.act))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		d.renderError(w, r, nil, http.StatusNotFound, "There is no such page.")
	})
	return securityHeaders(mux)
}

// securityHeaders: no framing, no sniffing, no cross-site referrers, scripts and
// styles only from this origin.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self' "+formActionExtra(r))
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		// "no-referrer" would make browsers send "Origin: null" on form
		// posts, which the CSRF check refuses.
		hd.Set("Referrer-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}

// formActionExtra allows the sign-out form's redirect to the provider's
// end-session endpoint (any https origin: the browser follows the
// gateway's redirect there).
func formActionExtra(*http.Request) string { return "https:" }

func (d *Dashboard) cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		h.ServeHTTP(w, r)
	})
}

// pageFunc serves a signed-in request.
type pageFunc func(w http.ResponseWriter, r *http.Request, s *session)

// session is a signed-in request's context.
type session struct {
	user
	p   *auth.Principal
	api http.Handler
	r   *http.Request
}

// key identifies the signed-in user (flashes, heights).
func (s *session) key() string { return s.p.Issuer + "\x00" + s.p.Subject }

// signedIn runs h behind the gateway's authentication. A request without
// a session cookie is sent to sign in (or, for the home page, shown the
// landing page); a refused one gets an HTML page with the refusal.
func (d *Dashboard) signedIn(api http.Handler, landing bool, h pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if _, err := r.Cookie(auth.SessionCookie); err != nil {
			if r.Method != http.MethodGet {
				d.renderError(w, r, nil, http.StatusUnauthorized, "Your session has ended; sign in again.")
				return
			}
			if landing {
				d.render(w, r, nil, http.StatusOK, "landing", nil)
				return
			}
			http.Redirect(w, r, auth.LoginPath+"?return="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
			// The middleware reads the CSRF token of url-encoded forms
			// itself; a file upload's travels in the same field, which
			// is handed over as the header the middleware also reads.
			r.Body = http.MaxBytesReader(w, r.Body, maxUploadBytes)
			if err := r.ParseMultipartForm(maxUploadBytes); err != nil {
				d.renderError(w, r, nil, http.StatusRequestEntityTooLarge, "The upload is too large or malformed (at most 1 MiB).")
				return
			}
			r.Header.Set(auth.CSRFHeader, r.FormValue(auth.CSRFField))
		}
		called := false
		cw := &refusalWriter{ResponseWriter: w, passed: &called}
		inner := http.HandlerFunc(func(w2 http.ResponseWriter, r2 *http.Request) {
			called = true
			p, _ := auth.PrincipalFrom(r2.Context())
			if p == nil || p.Method != auth.MethodSession {
				d.renderError(w2, r2, nil, http.StatusForbidden, "The dashboard is for signed-in users.")
				return
			}
			s := &session{user: d.userOf(p), p: p, api: api, r: r2}
			h(w2, r2, s)
		})
		d.cfg.Authenticate(inner).ServeHTTP(cw, r)
		if !called {
			var body auth.ErrorBody
			msg := "You are not signed in."
			if json.Unmarshal(cw.buf.Bytes(), &body) == nil && body.Error.Message != "" {
				msg = body.Error.Message
			}
			w.Header().Del("WWW-Authenticate")
			d.renderError(w, r, nil, cw.status, sentence(msg))
		}
	})
}

// refusalWriter holds back what the authentication middleware writes when
// it refuses (a JSON error), so that an HTML page replaces it.
type refusalWriter struct {
	http.ResponseWriter
	passed *bool
	status int
	buf    bytes.Buffer
}

func (w *refusalWriter) WriteHeader(code int) {
	if *w.passed {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.status = code
}

func (w *refusalWriter) Write(b []byte) (int, error) {
	if *w.passed {
		return w.ResponseWriter.Write(b)
	}
	if w.buf.Len() < 4096 {
		w.buf.Write(b)
	}
	return len(b), nil
}

// sentence capitalises msg and ends it with a full stop.
func sentence(msg string) string {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return msg
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") && !strings.HasSuffix(msg, "?") && !strings.HasSuffix(msg, "!") {
		msg += "."
	}
	return msg
}

// view is what the layout renders.
type view struct {
	Title   string
	User    *user
	Nav     []navItem
	Active  string
	CSRF    template.HTML
	Flash   *flash
	Version string
	MSPID   string
	Page    any
	// LiveHash identifies the live region's content; the refresh script
	// swaps the region only when it changed.
	LiveHash string
	// Refresh is the live region's polling period in ms (0: off); Events
	// the gateway's event stream that drives it instead while open.
	Refresh int64
	Events  string
}

// render writes page with data; a request with the X-Dashboard-Live
// header gets only the live region (the refresh script asks for it).
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, s *session, status int, page string, data any) {
	v := view{Page: data, Version: d.cfg.Version, MSPID: d.cfg.MSPID, Active: r.URL.Path}
	if s != nil {
		u := s.user
		v.User = &u
		v.Nav = navFor(u)
		v.CSRF = auth.CSRFInput(s.p)
		if id := r.URL.Query().Get("flash"); id != "" {
			v.Flash = d.flashes.take(id, s.key())
		}
	}
	if s != nil && d.cfg.LiveRefresh > 0 {
		v.Refresh = d.cfg.LiveRefresh.Milliseconds()
		v.Events = "/api/v1/channels/" + url.PathEscape(d.cfg.Channel) + "/events"
	}
	var content, buf bytes.Buffer
	err := d.pages[page].ExecuteTemplate(&content, "content", v)
	sum := sha256.Sum256(content.Bytes())
	v.LiveHash = hex.EncodeToString(sum[:16])
	h := w.Header()
	if err == nil && r.Header.Get("X-Dashboard-Live") == "1" {
		h.Set("X-Dashboard-Hash", v.LiveHash)
		buf = content
	} else if err == nil {
		err = d.pages[page].ExecuteTemplate(&buf, "layout.html", v)
	}
	if err != nil {
		d.log.Error("dashboard: render", "page", page, "error", err.Error())
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorPage is the data of error.html.
type errorPage struct {
	Status  int
	Message string
}

func (d *Dashboard) renderError(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) {
	d.render(w, r, s, status, "error", errorPage{Status: status, Message: msg})
}

// flash is an action's outcome, shown once on the page it redirects to.
type flash struct {
	OK      bool
	Message string
	Steps   []outcome
	owner   string
}

// flashStore keeps flashes until shown (bounded; oldest dropped).
type flashStore struct {
	mu    sync.Mutex
	m     map[string]*flash
	order []string
}

const maxFlashes = 4096

func newFlashStore() *flashStore { return &flashStore{m: map[string]*flash{}} }

func (f *flashStore) put(fl *flash) string {
	id := randomID()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.order) >= maxFlashes {
		delete(f.m, f.order[0])
		f.order = f.order[1:]
	}
	f.m[id] = fl
	f.order = append(f.order, id)
	return id
}

func (f *flashStore) take(id, owner string) *flash {
	f.mu.Lock()
	defer f.mu.Unlock()
	fl, ok := f.m[id]
	if !ok || fl.owner != owner {
		return nil
	}
	delete(f.m, id)
	return fl
}
