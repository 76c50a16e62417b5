package auth

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

func FuzzUnverifiedIssuer(f *testing.F) {
	enc := base64.RawURLEncoding.EncodeToString
	f.Add(enc([]byte(`{"alg":"ES256"}`)) + "." + enc([]byte(`{"iss":"https://idp.example"}`)) + ".sig")
	f.Add("a.b.c")
	f.Add("..")
	f.Add(enc([]byte(`{}`)) + "." + enc([]byte(`{"iss":7}`)) + ".")
	f.Add(strings.Repeat("a", 20000))
	f.Fuzz(func(t *testing.T, raw string) {
		iss, err := UnverifiedIssuer(raw)
		if err != nil {
			return
		}
		if iss == "" || len(iss) > maxClaimLen || len(raw) > MaxTokenSize || strings.Count(raw, ".") != 2 {
			t.Fatalf("UnverifiedIssuer(%q) = %q", raw, iss)
		}
	})
}

func FuzzParseSessionID(f *testing.F) {
	id, _, _ := newSessionID()
	f.Add(id)
	f.Add("")
	f.Add(strings.Repeat("A", 43))
	f.Add(strings.Repeat("_", 43))
	f.Add(id[:42] + "=")
	f.Fuzz(func(t *testing.T, v string) {
		got, ok := parseSessionID(v)
		if !ok {
			return
		}
		b, err := base64.RawURLEncoding.DecodeString(got)
		if err != nil || len(b) != sessionIDBytes || base64.RawURLEncoding.EncodeToString(b) != v {
			t.Fatalf("parseSessionID accepted %q", v)
		}
	})
}

func FuzzBearerHeader(f *testing.F) {
	f.Add("Bearer abc.def.ghi")
	f.Add("bearer x")
	f.Add("Basic dXNlcjpwYXNz")
	f.Add("Bearer  two words")
	f.Add("Bearer")
	f.Fuzz(func(t *testing.T, h string) {
		tok, ok := bearerToken(h)
		if !ok {
			return
		}
		if tok == "" || len(tok) > MaxTokenSize || strings.ContainsAny(tok, " \t\r\n") {
			t.Fatalf("bearerToken(%q) = %q", h, tok)
		}
	})
}

func FuzzLocalPath(f *testing.F) {
	f.Add("/dashboard?x=1")
	f.Add("//evil.example")
	f.Add("/\\evil.example")
	f.Add("https://evil.example/")
	f.Add("/%2F%2Fevil")
	f.Add("/a\nb")
	f.Fuzz(func(t *testing.T, p string) {
		got, ok := localPath(p)
		if !ok {
			return
		}
		u, err := url.Parse(got)
		if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\\r\n\t") {
			t.Fatalf("localPath accepted %q", p)
		}
		// What a browser would resolve it to stays on the gateway.
		base, _ := url.Parse("https://gw.example/")
		if r := base.ResolveReference(u); r.Host != "gw.example" {
			t.Fatalf("localPath accepted %q, which resolves to %s", p, r)
		}
	})
}

func FuzzRoleClaim(f *testing.F) {
	f.Add([]byte(`{"blossom.role":"Authorizing Official"}`))
	f.Add([]byte(`{"blossom.role":["a"]}`))
	f.Add([]byte(`{"blossom.role":["a","b"]}`))
	f.Add([]byte(`{"blossom.role":null}`))
	f.Add([]byte(`{"blossom.role":{"x":1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var raw map[string]json.RawMessage
		if json.Unmarshal(data, &raw) != nil {
			return
		}
		role, has, err := roleFromClaims(raw, "blossom.role")
		if err != nil {
			return
		}
		if !has && role != "" || len(role) > maxClaimLen {
			t.Fatalf("roleFromClaims(%s) = %q, %t", data, role, has)
		}
	})
}
