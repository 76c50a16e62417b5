package oidctest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sync"
)

// SecretRecorder wraps a relying party's transport to its provider and
// remembers the secrets that cross it (authorization codes, code
// verifiers, client secrets and assertions, access, refresh and ID
// tokens), so that a test can look for them where they must not be (logs,
// pages, cookies).
type SecretRecorder struct {
	base http.RoundTripper

	mu      sync.Mutex
	secrets []string
}

// NewSecretRecorder records what crosses base.
func NewSecretRecorder(base http.RoundTripper) *SecretRecorder {
	return &SecretRecorder{base: base}
}

// Add records more secrets (values shorter than 8 bytes are ignored).
func (r *SecretRecorder) Add(s ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range s {
		if len(v) >= 8 {
			r.secrets = append(r.secrets, v)
		}
	}
}

// Secrets returns what was recorded.
func (r *SecretRecorder) Secrets() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.secrets...)
}

// RoundTrip records the request's form secrets and the response's tokens.
func (r *SecretRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && req.Body != nil {
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		if form, err := url.ParseQuery(string(body)); err == nil {
			r.Add(form.Get("code_verifier"), form.Get("code"), form.Get("refresh_token"), form.Get("client_assertion"), form.Get("client_secret"))
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	resp, err := r.base.RoundTrip(req)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var tok struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
		ID      string `json:"id_token"`
	}
	if json.Unmarshal(body, &tok) == nil {
		r.Add(tok.Access, tok.Refresh, tok.ID)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}
