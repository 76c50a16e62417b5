package oidcprovider

import (
	"errors"
	"html/template"
	"net/http"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// Sign-in page paths.
const (
	loginPath = "/login"
	totpPath  = "/login/totp"
)

// Form bounds.
const (
	maxFormBytes     = 16 << 10
	maxRequestIDLen  = 128
	maxFormPassword  = 1024
	maxFormUsername  = maxFieldLen
	maxFormTOTPInput = 32
)

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in</title>
</head>
<body>
<main>
<h1>Sign in</h1>
{{if .Banner}}<section aria-label="Notice"><p>{{.Banner}}</p></section>{{end}}
{{if .Error}}<p role="alert"><strong>{{.Error}}</strong></p>{{end}}
{{if .Fatal}}{{else if .TOTP}}
<form method="post" action="{{.TOTPPath}}">
<input type="hidden" name="id" value="{{.ID}}">
<p><label for="code">One-time code from your authenticator app</label><br>
<input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required autofocus></p>
<p><button type="submit">Verify</button></p>
</form>
{{else}}
<form method="post" action="{{.LoginPath}}">
<input type="hidden" name="id" value="{{.ID}}">
<p><label for="username">User name</label><br>
<input id="username" name="username" type="text" autocomplete="username" maxlength="256" required autofocus value="{{.Username}}"></p>
<p><label for="password">Password</label><br>
<input id="password" name="password" type="password" autocomplete="current-password" maxlength="1024" required></p>
<p><button type="submit">Sign in</button></p>
</form>
{{end}}
</main>
</body>
</html>
`))

type pageData struct {
	Banner, Error, ID, Username string
	TOTP, Fatal                 bool
	LoginPath, TOTPPath         string
}

// Messages shown to the user; they never say which of name or password
// was wrong.
const (
	msgBadCredentials = "The user name or password is incorrect."
	msgBadCode        = "The one-time code is incorrect."
	msgLocked         = "Too many failed attempts. Try again later."
	msgExpired        = "This sign-in has expired or is unknown. Go back to the application and start again."
	msgBadRequest     = "The sign-in form was not filled in correctly."
)

func (p *Provider) render(w http.ResponseWriter, status int, d pageData) {
	d.Banner = p.cfg.LoginBanner
	d.LoginPath, d.TOTPPath = loginPath, totpPath
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_ = pageTemplate.Execute(w, d)
}

// loginForm is a decoded sign-in form.
type loginForm struct {
	id, username, password, code string
}

// parseLoginForm decodes and bounds the sign-in forms' fields. It reads at
// most maxFormBytes of an application/x-www-form-urlencoded body.
func parseLoginForm(w http.ResponseWriter, r *http.Request) (loginForm, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return loginForm{}, errors.New("unreadable form")
	}
	f := loginForm{
		id:       r.PostForm.Get("id"),
		username: r.PostForm.Get("username"),
		password: r.PostForm.Get("password"),
		code:     r.PostForm.Get("code"),
	}
	if f.id == "" || len(f.id) > maxRequestIDLen || len(f.username) > maxFormUsername ||
		len(f.password) > maxFormPassword || len(f.code) > maxFormTOTPInput {
		return loginForm{}, errors.New("field missing or too long")
	}
	for _, v := range r.PostForm {
		if len(v) > 1 {
			return loginForm{}, errors.New("repeated field")
		}
	}
	return f, nil
}

// pendingRequest returns a copy of a sign-in that may still be completed.
func (p *Provider) pendingRequest(id string) (*authRequest, bool) {
	if id == "" || len(id) > maxRequestIDLen {
		return nil, false
	}
	var out *authRequest
	err := p.store.updateRequest(id, func(ar *authRequest) error {
		if ar.done {
			return errNotFound
		}
		out = ar.clone()
		return nil
	})
	return out, err == nil
}

func (p *Provider) handleLogin(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		id := r.URL.Query().Get("id")
		ar, ok := p.pendingRequest(id)
		if !ok || ar.pendingSubject != "" {
			p.render(w, http.StatusBadRequest, pageData{Error: msgExpired, Fatal: true})
			return
		}
		p.render(w, http.StatusOK, pageData{ID: id})
	case http.MethodPost:
		p.postLogin(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (p *Provider) postLogin(w http.ResponseWriter, r *http.Request) {
	f, err := parseLoginForm(w, r)
	if err != nil {
		p.render(w, http.StatusBadRequest, pageData{Error: msgBadRequest, Fatal: true})
		return
	}
	ar, ok := p.pendingRequest(f.id)
	if !ok || ar.pendingSubject != "" {
		p.render(w, http.StatusBadRequest, pageData{Error: msgExpired, Fatal: true})
		return
	}
	if f.username == "" || f.password == "" {
		p.render(w, http.StatusBadRequest, pageData{ID: f.id, Username: f.username, Error: msgBadCredentials})
		return
	}
	if p.lockout.locked(f.username) {
		p.logger.Warn("oidc: sign-in refused: user name locked", "user", f.username, "client", ar.clientID)
		p.render(w, http.StatusTooManyRequests, pageData{ID: f.id, Username: f.username, Error: msgLocked})
		return
	}
	u, ok := p.checkPassword(f.username, f.password)
	if !ok {
		locked := p.lockout.fail(f.username)
		p.logger.Warn("oidc: sign-in failed: bad user name or password", "user", f.username, "client", ar.clientID, "locked", locked)
		if locked {
			p.render(w, http.StatusTooManyRequests, pageData{ID: f.id, Username: f.username, Error: msgLocked})
			return
		}
		p.render(w, http.StatusUnauthorized, pageData{ID: f.id, Username: f.username, Error: msgBadCredentials})
		return
	}
	if u.totpSecret != nil {
		err := p.store.updateRequest(f.id, func(ar *authRequest) error {
			if ar.done || ar.pendingSubject != "" {
				return errNotFound
			}
			ar.pendingSubject = u.subject
			return nil
		})
		if err != nil {
			p.render(w, http.StatusBadRequest, pageData{Error: msgExpired, Fatal: true})
			return
		}
		p.render(w, http.StatusOK, pageData{ID: f.id, TOTP: true})
		return
	}
	p.complete(w, r, f.id, u, []string{"pwd"}, ACRPassword)
}

func (p *Provider) handleTOTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	f, err := parseLoginForm(w, r)
	if err != nil {
		p.render(w, http.StatusBadRequest, pageData{Error: msgBadRequest, Fatal: true})
		return
	}
	ar, ok := p.pendingRequest(f.id)
	if !ok || ar.pendingSubject == "" {
		p.render(w, http.StatusBadRequest, pageData{Error: msgExpired, Fatal: true})
		return
	}
	u, ok := p.userBySubject(ar.pendingSubject)
	if !ok {
		p.store.dropRequest(f.id)
		p.render(w, http.StatusBadRequest, pageData{Error: msgExpired, Fatal: true})
		return
	}
	if p.lockout.locked(u.username) {
		p.store.dropRequest(f.id)
		p.logger.Warn("oidc: sign-in refused: user name locked", "user", u.username, "client", ar.clientID)
		p.render(w, http.StatusTooManyRequests, pageData{Error: msgLocked, Fatal: true})
		return
	}
	if !p.checkTOTP(u.subject, f.code) {
		locked := p.lockout.fail(u.username)
		p.logger.Warn("oidc: sign-in failed: bad one-time code", "user", u.username, "client", ar.clientID, "locked", locked)
		if locked {
			p.store.dropRequest(f.id)
			p.render(w, http.StatusTooManyRequests, pageData{Error: msgLocked, Fatal: true})
			return
		}
		p.render(w, http.StatusUnauthorized, pageData{ID: f.id, TOTP: true, Error: msgBadCode})
		return
	}
	p.complete(w, r, f.id, &u, []string{"pwd", "otp", "mfa"}, ACRMultiFactor)
}

// complete marks the sign-in done and sends the browser to op's callback,
// which issues the code to the client.
func (p *Provider) complete(w http.ResponseWriter, r *http.Request, id string, u *user, amr []string, acr string) {
	now := p.now()
	var clientID string
	err := p.store.updateRequest(id, func(ar *authRequest) error {
		if ar.done {
			return errNotFound
		}
		ar.pendingSubject = ""
		ar.subject = u.subject
		ar.authTime = now.Truncate(time.Second)
		ar.amr = amr
		ar.acr = acr
		ar.done = true
		clientID = ar.clientID
		return nil
	})
	if err != nil {
		p.render(w, http.StatusBadRequest, pageData{Error: msgExpired, Fatal: true})
		return
	}
	p.lockout.succeed(u.username)
	p.logger.Info("oidc: sign-in succeeded", "user", u.username, "client", clientID, "acr", acr)
	ctx := op.ContextWithIssuer(r.Context(), p.issuer)
	http.Redirect(w, r, op.AuthCallbackURL(p.op)(ctx, id), http.StatusSeeOther)
}
