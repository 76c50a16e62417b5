package gateway_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/gateway"
	"github.com/blossom-ledger/blossom/internal/gateway/auth"
	"github.com/blossom-ledger/blossom/internal/gateway/binding"
	"github.com/blossom-ledger/blossom/internal/gateway/gatewaytest"
	"github.com/blossom-ledger/blossom/internal/gateway/oidcprovider"
	"github.com/blossom-ledger/blossom/internal/gateway/oidcprovider/oidctest"
)

const (
	audience     = "blossom-api"
	clientSecret = "api-client-secret-0123456789abcdef"
	password     = "tulip-garden-7391"
	redirect     = "https://127.0.0.1:1/cb"
)

// fixture is a gateway with its member's OIDC provider, and a second
// member's provider that the gateway does not trust.
type fixture struct {
	*gatewaytest.Gateway
	idp, foreign *oidctest.Server
	http         *http.Client
	token        string // acq's access token
	foreignToken string
	secrets      []string
}

func startProvider(t testing.TB, x *oidctest.TLS) *oidctest.Server {
	idp := oidctest.Start(t, x, oidcprovider.Config{
		Clients: []oidcprovider.ClientConfig{{ID: "api-client", Secret: clientSecret, RedirectURIs: []string{redirect}, Audiences: []string{audience}}},
	})
	if err := idp.AddUser(oidcprovider.User{Username: "acq", Password: password, Role: "Acquisition Officer"}); err != nil {
		t.Fatal(err)
	}
	return idp
}

func newFixture(t testing.TB, opts gatewaytest.Options) *fixture {
	t.Helper()
	x := oidctest.NewTLS(t)
	idp := startProvider(t, x)
	foreign := startProvider(t, x)
	opts.TLS = x
	opts.Bearer = func(hc *http.Client) []*auth.BearerVerifier {
		v, err := auth.NewBearerVerifier(auth.BearerConfig{Issuer: idp.URL, Audience: audience, HTTPClient: hc})
		if err != nil {
			t.Fatal(err)
		}
		return []*auth.BearerVerifier{v}
	}
	g := gatewaytest.Start(t, opts)
	sub, err := idp.Subject("acq")
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Binder.Approve(binding.Approval{Issuer: idp.URL, Subject: sub, Role: "Acquisition Officer", ApprovedBy: "admin"}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{Gateway: g, idp: idp, foreign: foreign, http: g.HTTPClient(nil)}
	f.token = oidctest.Tokens(t, idp, oidctest.OAuth2Config(idp, "api-client", clientSecret, redirect), "acq", password).AccessToken
	f.foreignToken = oidctest.Tokens(t, foreign, oidctest.OAuth2Config(foreign, "api-client", clientSecret, redirect), "acq", password).AccessToken
	f.secrets = []string{f.token, f.foreignToken, clientSecret, password}
	return f
}

type answer struct {
	status int
	body   []byte
}

func (a answer) errorCode() string {
	var e auth.ErrorBody
	json.Unmarshal(a.body, &e)
	return e.Error.Code
}

func (f *fixture) do(t testing.TB, method, path, token string, body []byte) answer {
	t.Helper()
	req, err := http.NewRequest(method, f.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := f.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range f.secrets {
		if bytes.Contains(b, []byte(s)) {
			t.Fatalf("%s %s: the answer contains a secret", method, path)
		}
	}
	return answer{resp.StatusCode, b}
}

func invoke(function string, args ...string) []byte {
	b, _ := json.Marshal(gateway.InvokeRequest{Function: function, Args: args})
	return b
}

const kvPath = "/api/v1/channels/blossom/chaincodes/kv/"

func wantCode(t *testing.T, a answer, status int, code string) {
	t.Helper()
	if a.status != status || a.errorCode() != code {
		t.Fatalf("got %d %s, want %d %s", a.status, a.body, status, code)
	}
	if bytes.Contains(a.body, []byte("goroutine")) || bytes.Contains(a.body, []byte(".go:")) {
		t.Fatalf("error body looks like a stack trace: %s", a.body)
	}
}

func TestGatewayAPI(t *testing.T) {
	f := newFixture(t, gatewaytest.Options{})

	t.Run("public routes", func(t *testing.T) {
		if a := f.do(t, "GET", "/healthz", "", nil); a.status != 200 {
			t.Fatalf("healthz %d", a.status)
		}
		if a := f.do(t, "GET", "/readyz", "", nil); a.status != 200 {
			t.Fatalf("readyz %d %s", a.status, a.body)
		}
		a := f.do(t, "GET", "/openapi.json", "", nil)
		if a.status != 200 || !json.Valid(a.body) {
			t.Fatalf("openapi %d", a.status)
		}
	})

	t.Run("authentication", func(t *testing.T) {
		tests := []struct{ name, token string }{
			{"no token", ""},
			{"another member's provider", f.foreignToken},
			{"garbage", "not.a.jwt"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				wantCode(t, f.do(t, "POST", kvPath+"submit", tc.token, invoke("kv:Put", "k", "v")), 401, auth.CodeUnauthenticated)
				wantCode(t, f.do(t, "GET", "/api/v1/me", tc.token, nil), 401, auth.CodeUnauthenticated)
			})
		}
	})

	t.Run("me", func(t *testing.T) {
		a := f.do(t, "GET", "/api/v1/me", f.token, nil)
		var me gateway.Me
		if err := json.Unmarshal(a.body, &me); err != nil || a.status != 200 {
			t.Fatalf("me: %d %s", a.status, a.body)
		}
		if me.Role != "Acquisition Officer" || me.MSPID != gatewaytest.MSPID || me.Method != "bearer" || me.CertificateExpiry == "" {
			t.Fatalf("me = %+v", me)
		}
		if _, err := time.Parse(time.RFC3339, me.CertificateExpiry); err != nil {
			t.Fatalf("certificateExpiry %q: %v", me.CertificateExpiry, err)
		}
	})

	t.Run("bad requests", func(t *testing.T) {
		big := fmt.Appendf(nil, `{"function":"kv:Put","args":["k",%q]}`, strings.Repeat("x", gateway.DefaultMaxBodyBytes))
		tests := []struct {
			name   string
			path   string
			body   []byte
			status int
			code   string
		}{
			{"malformed JSON", kvPath + "submit", []byte(`{"function":`), 400, "BAD_REQUEST"},
			{"not an object", kvPath + "evaluate", []byte(`[1,2]`), 400, "BAD_REQUEST"},
			{"unknown field", kvPath + "submit", []byte(`{"function":"kv:Put","argz":[]}`), 400, "BAD_REQUEST"},
			{"trailing data", kvPath + "submit", []byte(`{"function":"kv:Put"} {}`), 400, "BAD_REQUEST"},
			{"args not strings", kvPath + "submit", []byte(`{"function":"kv:Put","args":[1]}`), 400, "BAD_REQUEST"},
			{"no function", kvPath + "submit", []byte(`{"args":["a"]}`), 400, "BAD_REQUEST"},
			{"oversized body", kvPath + "submit", big, 413, "BODY_TOO_LARGE"},
			{"system chaincode", "/api/v1/channels/blossom/chaincodes/_lifecycle/submit", invoke("lifecycle:Approve"), 403, "FUNCTION_NOT_ALLOWED"},
			{"unknown endorser", kvPath + "submit", []byte(`{"function":"kv:Put","args":["a","b"],"endorsingMembers":["NoSuchMSP"]}`), 400, "BAD_REQUEST"},
			{"certificate route with a token", kvPath + "proposals/endorse", []byte(`{"signedProposal":""}`), 400, "CERTIFICATE_REQUIRED"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				wantCode(t, f.do(t, "POST", tc.path, f.token, tc.body), tc.status, tc.code)
			})
		}
	})

	t.Run("submit then evaluate", func(t *testing.T) {
		a := f.do(t, "POST", kvPath+"submit", f.token, invoke("kv:Put", "color", "blue"))
		var res gateway.SubmitResponse
		if err := json.Unmarshal(a.body, &res); err != nil || a.status != 200 {
			t.Fatalf("submit: %d %s", a.status, a.body)
		}
		// The own peer committed the block before the answer.
		if h := f.Net.PeerChannel(0).Height(); res.Status != "VALID" || res.Block == 0 || h <= res.Block {
			t.Fatalf("submit %+v, own peer height %d", res, h)
		}
		if len(res.TxID) != 64 {
			t.Fatalf("txId %q", res.TxID)
		}
		a = f.do(t, "POST", kvPath+"evaluate", f.token, []byte(fmt.Sprintf(`{"function":"kv:Get","args":["color"],"minBlock":%d}`, res.Block+1)))
		var ev gateway.EvaluateResponse
		if err := json.Unmarshal(a.body, &ev); err != nil || a.status != 200 || ev.Result != "blue" {
			t.Fatalf("evaluate: %d %s", a.status, a.body)
		}
		// Overriding the endorsers with a member alone fails validation
		// under MAJORITY, and the gateway says so.
		a = f.do(t, "POST", kvPath+"submit", f.token, []byte(`{"function":"kv:Put","args":["solo","x"],"endorsingMembers":["Org2MSP"]}`))
		if a.status != 409 || a.errorCode() != "ENDORSEMENT_POLICY_FAILURE" {
			t.Fatalf("single-member endorsement: %d %s", a.status, a.body)
		}
	})

	t.Run("chaincode error verbatim", func(t *testing.T) {
		const msg = `asset "A-17" is not yours: ask its owner (ref #42)`
		a := f.do(t, "POST", kvPath+"submit", f.token, invoke("kv:Fail", msg))
		wantCode(t, a, 422, "CHAINCODE_ERROR")
		var e auth.ErrorBody
		json.Unmarshal(a.body, &e)
		if e.Error.Message != msg {
			t.Fatalf("message %q, want %q", e.Error.Message, msg)
		}
		wantCode(t, f.do(t, "POST", kvPath+"evaluate", f.token, invoke("kv:Fail", msg)), 422, "CHAINCODE_ERROR")
	})

	t.Run("MVCC conflict", func(t *testing.T) {
		// Concurrent increments of one counter: each is VALID or a 409
		// MVCC conflict, and the counter equals the number of VALID ones.
		valid, conflicts := 0, 0
		for round := 0; round < 10 && conflicts == 0; round++ {
			var wg sync.WaitGroup
			answers := make([]answer, 4)
			for i := range answers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					answers[i] = f.do(t, "POST", kvPath+"submit", f.token, invoke("kv:Incr", "counter"))
				}()
			}
			wg.Wait()
			for _, a := range answers {
				switch {
				case a.status == 200:
					valid++
				case a.status == 409 && a.errorCode() == "MVCC_READ_CONFLICT":
					conflicts++
				default:
					t.Fatalf("increment: %d %s", a.status, a.body)
				}
			}
		}
		if conflicts == 0 {
			t.Fatal("no MVCC conflict in 40 concurrent increments")
		}
		a := f.do(t, "POST", kvPath+"evaluate", f.token, invoke("kv:Get", "counter"))
		var ev gateway.EvaluateResponse
		json.Unmarshal(a.body, &ev)
		if n, _ := strconv.Atoi(ev.Result); n != valid {
			t.Fatalf("counter %q after %d valid increments", ev.Result, valid)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		a := f.do(t, "GET", "/metrics", "", nil)
		want := `blossom_gateway_requests_total{route="POST /api/v1/channels/{channel}/chaincodes/{chaincode}/submit",status="200"}`
		if a.status != 200 || !bytes.Contains(a.body, []byte(want)) {
			t.Fatalf("metrics lack %s", want)
		}
	})

	t.Run("audit log and no secrets", func(t *testing.T) {
		logs := f.Logs.String()
		if !regexp.MustCompile(`gateway: audit.*function=kv:Put.*txId=[0-9a-f]{64}.*outcome=VALID`).MatchString(logs) {
			t.Fatal("no audit line for the valid submit")
		}
		for _, s := range f.secrets {
			if strings.Contains(logs, s) {
				t.Fatal("a secret reached the logs")
			}
		}
	})

	t.Run("OpenAPI documents every route", func(t *testing.T) {
		var doc struct {
			OpenAPI string                    `json:"openapi"`
			Paths   map[string]map[string]any `json:"paths"`
		}
		if err := json.Unmarshal(gateway.OpenAPIDocument(), &doc); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(doc.OpenAPI, "3.") {
			t.Fatalf("openapi %q", doc.OpenAPI)
		}
		routes := f.Gateway.Gateway.Routes()
		if len(routes) < 10 {
			t.Fatalf("only %d routes", len(routes))
		}
		documented := 0
		for _, r := range routes {
			method, path, _ := strings.Cut(r, " ")
			ops, ok := doc.Paths[path]
			if !ok {
				t.Errorf("route %s is not in the OpenAPI document", r)
				continue
			}
			if _, ok := ops[strings.ToLower(method)]; !ok {
				t.Errorf("route %s: method not in the OpenAPI document", r)
				continue
			}
			documented++
		}
		// The browser sign-in routes are served only when configured
		// (signIn); this gateway has none.
		optional := 0
		for path := range doc.Paths {
			if strings.HasPrefix(path, "/auth/") {
				optional++
			}
		}
		if optional != 3 || documented != len(doc.Paths)-optional {
			t.Errorf("the document has %d paths (%d of sign-in), the gateway serves %d of them", len(doc.Paths), optional, documented)
		}
	})
}

// TestReadyzFollowsTheOwnPeer: /readyz answers 200 while the member's own
// peer answers and 503 NOT_READY once it is stopped, while /healthz (the
// gateway process itself) stays 200; with the peer back it is ready again.
func TestReadyzFollowsTheOwnPeer(t *testing.T) {
	f := newFixture(t, gatewaytest.Options{})
	if a := f.do(t, "GET", "/readyz", "", nil); a.status != 200 {
		t.Fatalf("readyz with the peer up: %d %s", a.status, a.body)
	}
	f.Net.StopPeer(0)
	wantCode(t, f.do(t, "GET", "/readyz", "", nil), http.StatusServiceUnavailable, "NOT_READY")
	if a := f.do(t, "GET", "/healthz", "", nil); a.status != 200 {
		t.Fatalf("healthz with the peer down: %d %s", a.status, a.body)
	}
	f.Net.RestartPeer(0)
	deadline := time.Now().Add(20 * time.Second)
	for a := f.do(t, "GET", "/readyz", "", nil); a.status != 200; a = f.do(t, "GET", "/readyz", "", nil) {
		if time.Now().After(deadline) {
			t.Fatalf("readyz after the peer restarted: %d %s", a.status, a.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
