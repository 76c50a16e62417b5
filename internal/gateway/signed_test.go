package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/blossom-ledger/blossom/internal/gateway"
	"github.com/blossom-ledger/blossom/internal/gateway/gatewaytest"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
	"github.com/blossom-ledger/blossom/internal/txn"
)

func postJSON(t *testing.T, hc *http.Client, url string, in, out any) answer {
	t.Helper()
	body, _ := json.Marshal(in)
	resp, err := hc.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 && out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatal(err)
		}
	}
	return answer{resp.StatusCode, b}
}

// endorse has the gateway endorse a proposal signed by signer.
func endorse(t *testing.T, g *gatewaytest.Gateway, hc *http.Client, cred *testpki.Credential, req txn.Request) (*txn.Proposal, []*pb.ProposalResponse, answer) {
	t.Helper()
	prop, err := txn.NewProposal(cred.Signer, req)
	if err != nil {
		t.Fatal(err)
	}
	sp, _ := protocol.Marshal(prop.Signed)
	var out gateway.EndorseResponse
	a := postJSON(t, hc, g.URL+kvPath+"proposals/endorse", gateway.SignedProposalRequest{SignedProposal: sp}, &out)
	if a.status != 200 {
		return prop, nil, a
	}
	var responses []*pb.ProposalResponse
	for _, b := range out.ProposalResponses {
		r := new(pb.ProposalResponse)
		if err := protocol.Unmarshal(b, r, 0); err != nil {
			t.Fatal(err)
		}
		responses = append(responses, r)
	}
	return prop, responses, a
}

func TestClientSigned(t *testing.T) {
	g := gatewaytest.Start(t, gatewaytest.Options{})
	app := g.AppCredential(t, "app1", "Acquisition Officer")
	other := g.AppCredential(t, "app2", "Acquisition Officer")
	hc := g.HTTPClient(&app.TLS)
	ctx := context.Background()
	incr := txn.Request{ChannelID: "blossom", Chaincode: "kv", Function: "kv:Incr", Args: [][]byte{[]byte("n")}}

	t.Run("creator must be the certificate", func(t *testing.T) {
		_, _, a := endorse(t, g, hc, other, incr)
		wantCode(t, a, http.StatusForbidden, "CREATOR_MISMATCH")
	})

	t.Run("no role", func(t *testing.T) {
		noRole := g.AppCredential(t, "app3", "")
		_, _, a := endorse(t, g, g.HTTPClient(&noRole.TLS), noRole, incr)
		wantCode(t, a, http.StatusForbidden, "FUNCTION_NOT_ALLOWED")
	})

	t.Run("custodial routes need a token", func(t *testing.T) {
		a := postJSON(t, hc, g.URL+kvPath+"submit", gateway.InvokeRequest{Function: "kv:Get", Args: []string{"n"}}, nil)
		wantCode(t, a, http.StatusBadRequest, "CLIENT_MUST_SIGN")
	})

	t.Run("forced MVCC conflict", func(t *testing.T) {
		// Two increments endorsed against the same state: the first to
		// commit is VALID, the second MVCC_READ_CONFLICT.
		propA, respA, a := endorse(t, g, hc, app, incr)
		if a.status != 200 {
			t.Fatalf("endorse A: %d %s", a.status, a.body)
		}
		propB, respB, b := endorse(t, g, hc, app, incr)
		if b.status != 200 {
			t.Fatalf("endorse B: %d %s", b.status, b.body)
		}
		envA, err := txn.Assemble(app.Signer, propA, respA)
		if err != nil {
			t.Fatal(err)
		}
		envB, err := txn.Assemble(app.Signer, propB, respB)
		if err != nil {
			t.Fatal(err)
		}
		var resA, resB gateway.SubmitResponse
		if a := postJSON(t, hc, g.URL+"/api/v1/channels/blossom/transactions", gateway.CommitRequest{Envelope: envA}, &resA); a.status != 200 || resA.Status != "VALID" {
			t.Fatalf("commit A: %d %s", a.status, a.body)
		}
		if a := postJSON(t, hc, g.URL+"/api/v1/channels/blossom/transactions", gateway.CommitRequest{Envelope: envB}, &resB); a.status != 200 || resB.Status != "MVCC_READ_CONFLICT" {
			t.Fatalf("commit B: %d %s", a.status, a.body)
		}
		if resB.TxID != propB.TxID || resB.Block < resA.Block {
			t.Fatalf("B %+v after A %+v", resB, resA)
		}
		// Another client's envelope is refused.
		otherHC := g.HTTPClient(&other.TLS)
		wantCode(t, postJSON(t, otherHC, g.URL+"/api/v1/channels/blossom/transactions", gateway.CommitRequest{Envelope: envA}, nil),
			http.StatusForbidden, "CREATOR_MISMATCH")
	})

	t.Run("remote", func(t *testing.T) {
		r := &gateway.Remote{URL: g.URL, HTTP: hc, Signer: app.Signer}
		res, err := r.Submit(ctx, txn.Request{ChannelID: "blossom", Chaincode: "kv", Function: "kv:Put",
			Args: [][]byte{[]byte("r"), []byte("1")}}, nil, []string{"Org2MSP", "Org3MSP"})
		if err != nil || res.Status != "VALID" {
			t.Fatalf("submit: %+v, %v", res, err)
		}
		for i := range g.Net.Members {
			if h := g.Net.PeerChannel(i).Height(); h <= res.Block {
				t.Fatalf("peer %d at %d after block %d", i, h, res.Block)
			}
		}
		got, err := r.Evaluate(ctx, txn.Request{ChannelID: "blossom", Chaincode: "kv", Function: "kv:Get", Args: [][]byte{[]byte("r")}}, []string{"Org3MSP"})
		if err != nil || string(got) != "1" {
			t.Fatalf("evaluate on Org3: %q, %v", got, err)
		}
		_, err = r.Evaluate(ctx, txn.Request{ChannelID: "blossom", Chaincode: "kv", Function: "kv:Fail", Args: [][]byte{[]byte("no")}}, nil)
		var re *gateway.RemoteError
		if !errors.As(err, &re) || re.Status != 422 || re.Message != "no" {
			t.Fatalf("evaluate kv:Fail: %v", err)
		}
	})
}

func TestRateLimitAndMe(t *testing.T) {
	g := gatewaytest.Start(t, gatewaytest.Options{Gateway: func(c *gateway.Config) { c.RateLimit, c.Burst = 0.01, 2 }})
	app := g.AppCredential(t, "app1", "Acquisition Officer")
	hc := g.HTTPClient(&app.TLS)
	get := func() answer {
		resp, err := hc.Get(g.URL + "/api/v1/me")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return answer{resp.StatusCode, b}
	}
	a := get()
	var me gateway.Me
	if err := json.Unmarshal(a.body, &me); err != nil || a.status != 200 {
		t.Fatalf("me: %d %s", a.status, a.body)
	}
	if me.Method != "certificate" || me.EnrollmentID != "app1" || me.Role != "Acquisition Officer" || me.Type != "client" || me.CertificateExpiry == "" {
		t.Fatalf("me = %+v", me)
	}
	if a := get(); a.status != 200 {
		t.Fatalf("second request within the burst: %d", a.status)
	}
	wantCode(t, get(), http.StatusTooManyRequests, "RATE_LIMITED")
	// Another user has a bucket of its own.
	other := g.AppCredential(t, "app2", "Acquisition Officer")
	resp, err := g.HTTPClient(&other.TLS).Get(g.URL + "/api/v1/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("another user: %d", resp.StatusCode)
	}
}
