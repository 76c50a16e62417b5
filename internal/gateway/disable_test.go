package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/client"
	"github.com/blossom-ledger/blossom/internal/gateway"
	"github.com/blossom-ledger/blossom/internal/gateway/auth"
	"github.com/blossom-ledger/blossom/internal/gateway/gatewaytest"
	"github.com/blossom-ledger/blossom/internal/governance"
	"github.com/blossom-ledger/blossom/internal/network/nettest"
	"github.com/blossom-ledger/blossom/internal/txn"
)

// TestDisabledUserRefusedEverywhere: a member administrator disables a
// bound user through the gateway's admin route; the gateway refuses the
// user at once, the member CA revokes its certificate, the gateway
// publishes the CRL through _governance with an admin of the member, and
// once the config block commits every peer refuses the user's proposals
// and the ordering service its transactions.
func TestDisabledUserRefusedEverywhere(t *testing.T) {
	var publisher *governance.Ledger
	f := newFixture(t, gatewaytest.Options{Gateway: func(c *gateway.Config) {
		c.Heartbeat = 50 * time.Millisecond
		c.PublishCRL = func(ctx context.Context, crl []byte) (string, error) {
			return publisher.PublishCRL(ctx, "blossom", gatewaytest.MSPID, governance.CRLProposalID(crl), crl)
		}
	}})
	m := f.Net.Members[0]
	publisher = &governance.Ledger{
		Client: f.Net.ConnectClient(t, f.Net.ClientConfig(0, m.Admin)), Signer: m.Admin.Signer,
		EndorsingPeers: f.Net.PeerNames(0, 1, 2),
	}
	adminHTTP := &fixture{Gateway: f.Gateway, http: f.HTTPClient(&m.Admin.TLS), secrets: f.secrets}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	submitOK(t, f, kvPath+"submit", invoke("kv:Put", "before", "v"))
	a := f.do(t, "GET", "/api/v1/me", f.token, nil)
	var me gateway.Me
	if err := json.Unmarshal(a.body, &me); err != nil || me.EnrollmentID == "" {
		t.Fatalf("me: %d %s", a.status, a.body)
	}
	// The user's own key (the wallet's copy; Disable deletes it), used
	// straight against the peers, over the member user's TLS session so
	// that refusals are the endorsers' and the orderers'.
	signer, err := f.Wallet.Signer(me.EnrollmentID)
	if err != nil {
		t.Fatal(err)
	}
	cfg := f.Net.ClientConfig(0, nil)
	cfg.Signer = signer
	direct := f.Net.ConnectClient(t, cfg)
	put := func(k string) txn.Request {
		return txn.Request{Chaincode: nettest.KVChaincode, Function: "kv:Put", Args: [][]byte{[]byte(k), []byte("v")}}
	}
	endorseEach := func(k string) []error {
		errs := make([]error, len(f.Net.Members))
		for i, m := range f.Net.Members {
			prop, err := direct.NewProposal(put(k))
			if err != nil {
				t.Fatal(err)
			}
			_, errs[i] = direct.Endorse(ctx, prop, []string{m.PeerName()})
		}
		return errs
	}
	for i, err := range endorseEach("direct-before") {
		if err != nil {
			t.Fatalf("peer %d refused the user before the disable: %v", i, err)
		}
	}
	// A transaction endorsed before the disable, broadcast after the CRL.
	prop, err := direct.NewProposal(put("endorsed-before"))
	if err != nil {
		t.Fatal(err)
	}
	responses, err := direct.Endorse(ctx, prop, f.Net.PeerNames(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	preEndorsed, err := txn.Assemble(signer, prop, responses)
	if err != nil {
		t.Fatal(err)
	}

	events, _ := openStream(t, f, f.http, f.token, "", "")
	before := f.Net.PeerChannel(0).Config().Sequence()

	t.Run("admin routes refuse others and bad input", func(t *testing.T) {
		disablePath := "/api/v1/admin/users/" + me.EnrollmentID + "/disable"
		wantCode(t, f.do(t, "POST", disablePath, f.token, []byte(`{}`)), 403, "ADMIN_ONLY")
		wantCode(t, adminHTTP.do(t, "POST", "/api/v1/admin/users/no-such-user/disable", "", []byte(`{}`)), 404, "NOT_FOUND")
		wantCode(t, adminHTTP.do(t, "POST", "/api/v1/admin/users/bad%20id/disable", "", []byte(`{}`)), 400, "BAD_REQUEST")
		wantCode(t, adminHTTP.do(t, "POST", disablePath, "", []byte(`{"reason":1}`)), 400, "BAD_REQUEST")
		wantCode(t, f.do(t, "POST", "/api/v1/admin/approvals", f.token, []byte(`{"issuer":"https://x","subject":"s","role":"r"}`)), 403, "ADMIN_ONLY")
		wantCode(t, adminHTTP.do(t, "POST", "/api/v1/admin/approvals", "", []byte(`{"issuer":"https://x","role":"r"}`)), 400, "BAD_REQUEST")
		if a := adminHTTP.do(t, "POST", "/api/v1/admin/approvals", "", []byte(`{"issuer":"https://x","subject":"s","role":"Viewer"}`)); a.status != 200 {
			t.Fatalf("approval: %d %s", a.status, a.body)
		}
	})

	a = adminHTTP.do(t, "POST", "/api/v1/admin/users/"+me.EnrollmentID+"/disable", "", []byte(`{"reason":"keyCompromise"}`))
	var res gateway.DisableResponse
	if err := json.Unmarshal(a.body, &res); err != nil || a.status != 200 {
		t.Fatalf("disable: %d %s", a.status, a.body)
	}
	if len(res.Revoked) == 0 || !strings.Contains(res.CRL, "X509 CRL") || len(res.CRLTxID) != 64 {
		t.Fatalf("disable answered %+v", res)
	}

	t.Run("refused at the gateway at once", func(t *testing.T) {
		wantCode(t, f.do(t, "GET", "/api/v1/me", f.token, nil), 403, auth.CodeAccountDisabled)
		wantCode(t, f.do(t, "POST", kvPath+"submit", f.token, invoke("kv:Put", "after", "v")), 403, auth.CodeAccountDisabled)
		wantCode(t, f.do(t, "GET", "/api/v1/channels/blossom/blocks/0", f.token, nil), 403, auth.CodeAccountDisabled)
		// The stream opened before the disable ends.
		if ev := events.next(t, false); ev.typ != "close" || !strings.Contains(ev.data, "account disabled") {
			t.Fatalf("open stream got %s %s", ev.typ, ev.data)
		}
	})

	t.Run("refused on every peer after the CRL update", func(t *testing.T) {
		nettest.Eventually(t, 20*time.Second, func() error {
			for i := range f.Net.Members {
				if got := f.Net.PeerChannel(i).Config().Sequence(); got <= before {
					return fmt.Errorf("peer %d at config sequence %d", i, got)
				}
			}
			return nil
		})
		for i, err := range endorseEach("direct-after") {
			var pe *client.PeerError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), "revoked") {
				t.Errorf("peer %d: the disabled user's proposal: %v", i, err)
			}
		}
		var be *client.BroadcastError
		if err := direct.Broadcast(ctx, preEndorsed); !errors.As(err, &be) || !strings.Contains(be.Info, "revoked") {
			t.Errorf("the ordering service accepted the disabled user's transaction: %v", err)
		}
		// The member's other identities are unaffected: the CRLs of its
		// other CA stay in force, the users of this CA not revoked work.
		if _, err := f.Net.Client(t, 0).Submit(ctx, put("member-user-after"), f.Net.PeerNames(0, 1)); err != nil {
			t.Fatalf("the member's other user after the CRL update: %v", err)
		}
	})
}
