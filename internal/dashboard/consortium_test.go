package dashboard_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/chaincode/asset"
	"github.com/blossom-ledger/blossom/chaincode/authorization"
	"github.com/blossom-ledger/blossom/internal/dashboard"
	"github.com/blossom-ledger/blossom/internal/gateway"
	"github.com/blossom-ledger/blossom/internal/gateway/auth"
	"github.com/blossom-ledger/blossom/internal/gateway/binding"
	"github.com/blossom-ledger/blossom/internal/gateway/binding/bindingtest"
	"github.com/blossom-ledger/blossom/internal/gateway/gatewaytest"
	"github.com/blossom-ledger/blossom/internal/gateway/oidcprovider"
	"github.com/blossom-ledger/blossom/internal/gateway/oidcprovider/oidctest"
	"github.com/blossom-ledger/blossom/internal/network/nettest"
	"github.com/blossom-ledger/blossom/internal/peer"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/txn"
)

// The test consortium: member 0 is the service provider (the BloSS@M
// admin), member 1 an agency that bootstrap authorizes, member 2 an agency
// that has not signed the MOU yet.
var (
	spMSP      = nettest.MSPID(0)
	agencyMSP  = nettest.MSPID(1)
	newcomeMSP = nettest.MSPID(2)
)

const (
	clientSecret = "dashboard-client-secret-0123456789abcdef"
	userPassword = "tulip-garden-7391"
	testAssetEnd = "2031-12-31 23:59:59"
)

// testUser is a dashboard user of one member.
// testUser is a user of a member's provider; admin users get a member
// administrator's ledger identity.
type testUser struct {
	name, role string
	admin      bool
}

// memberGateway is one member's gateway with its dashboard, sign-in
// provider, member CA, binding table and wallet.
type memberGateway struct {
	MSPID   string
	URL     string
	IdP     *oidctest.Server
	Secrets *oidctest.SecretRecorder
}

// consortium is a running three-member network with BloSS@M deployed,
// the first agency authorized, one asset of three licenses, and a gateway
// with its dashboard for each member given users.
type consortium struct {
	Net      *nettest.Network
	Gateways map[string]*memberGateway
	AssetID  string
	TLS      *oidctest.TLS
}

// blossomChaincodes defines the BloSS@M chaincodes natively as DESIGN §11
// deploys them.
func blossomChaincodes() []peer.Definition {
	params := map[string]string{"adminMSP": spMSP}
	return []peer.Definition{
		{Name: dashboard.DefaultAuthorization, EndorsementPolicy: "MAJORITY Endorsement", Chaincode: authorization.New(), Params: params},
		{Name: dashboard.DefaultAsset, EndorsementPolicy: "'" + spMSP + ".peer'", Chaincode: asset.New(), Params: params},
	}
}

// startConsortium starts the network and a gateway for each member of
// users (by MSP ID).
func startConsortium(t *testing.T, users map[string][]testUser) *consortium {
	t.Helper()
	logs := &nettest.LogBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gateway logs (tail):\n%s", logs.Tail(60))
		}
	})
	cas := map[string]*bindingtest.CA{}
	for msp := range users {
		cas[msp] = bindingtest.Start(t, msp, logs)
	}
	n := nettest.Start(t, nettest.Options{
		Chaincodes: blossomChaincodes,
		Mutate: func(cc *pb.ChannelConfig) {
			// The member CAs' users act on the channel for their members.
			for msp, ca := range cas {
				m := cc.Members[msp]
				m.RootCerts = append(m.RootCerts, ca.Root.Raw)
				m.IntermediateCerts = append(m.IntermediateCerts, ca.Inter.Raw)
			}
		},
	})
	c := &consortium{Net: n, TLS: oidctest.NewTLS(t), Gateways: map[string]*memberGateway{}}
	c.AssetID = bootstrap(t, n)
	for i, m := range n.Members {
		if us, ok := users[m.MSPID]; ok {
			c.Gateways[m.MSPID] = startMemberGateway(t, n, i, cas[m.MSPID], c.TLS, us, logger)
		}
	}
	return c
}

// bootstrap runs the ledger set-up the dashboards build on, with
// test-PKI users: the admin bootstraps and publishes the MOU, the agency
// signs it and is voted AUTHORIZED, the License Owner adds an asset.
func bootstrap(t *testing.T, n *nettest.Network) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	as := func(member int, name, role string) func(cc, fn string, transient map[string]any, peers []string, args ...string) []byte {
		cred := n.PKI.Member(nettest.MSPID(member)).Issue(pki.RoleClient, name, map[string]string{pki.RoleAttribute: role})
		cl := n.ConnectClient(t, n.ClientConfig(member, cred))
		return func(cc, fn string, transient map[string]any, peers []string, args ...string) []byte {
			req := txn.Request{ChannelID: n.Channel, Chaincode: cc, Function: fn}
			for _, a := range args {
				req.Args = append(req.Args, []byte(a))
			}
			if transient != nil {
				req.Transient = map[string][]byte{}
				for k, v := range transient {
					b, _ := json.Marshal(v)
					req.Transient[k] = b
				}
			}
			res, err := cl.Submit(ctx, req, peers)
			if err != nil {
				t.Fatalf("bootstrap %s as %s: %v", fn, name, err)
			}
			if res.Code != pb.TxValidationCode_VALID {
				t.Fatalf("bootstrap %s as %s: %s", fn, name, res.Code)
			}
			// The next caller may use another member's peer.
			n.WaitForHeight(t, res.Block+1, 20*time.Second)
			return res.Result
		}
	}
	majority := n.PeerNames(0, 1)
	spAO := as(0, "sp-ao", dashboard.RoleAO)
	agencyAO := as(1, "agency-ao", dashboard.RoleAO)
	spAO("authorization", "bootstrap:Bootstrap", nil, majority)
	spAO("authorization", "mou:UpdateMOU", nil, majority, "The BloSS@M members share software licenses.")
	agencyAO("authorization", "mou:SignMOU", nil, majority, "1")
	spAO("authorization", "vote:InitiateVote", nil, majority, agencyMSP, "AUTHORIZED", "ATO reviewed")
	agencyAO("authorization", "vote:Vote", nil, majority, "true")
	spAO("authorization", "vote:Vote", nil, majority, "true")
	spAO("authorization", "vote:CertifyOngoingVote", nil, majority)
	lo := as(0, "sp-lo", dashboard.RoleLO)
	out := lo("asset", "asset:AddAsset", map[string]any{"request": map[string]any{
		"name": "Office Suite", "endDate": testAssetEnd,
		"licenses": []map[string]string{{"id": "OFF-0001", "salt": "5f0c9d2e8a7b41c3a9e6d4b2c1f08e7a"},
			{"id": "OFF-0002", "salt": "c2a41e9b7d3f4a8c9e1b0d6f2a7c3e5b"}, {"id": "OFF-0003", "salt": "9b1d4f7e2c6a48d0b3e5a1c7d9f2e4b6"}},
	}}, n.PeerNames(0))
	var id asset.IDResponse
	if err := json.Unmarshal(out, &id); err != nil || id.ID == "" {
		t.Fatalf("AddAsset answered %q", out)
	}
	return id.ID
}

// startMemberGateway serves member idx's gateway with its dashboard over
// HTTPS on loopback: a built-in OpenID provider with users, the member
// CA, a binding table approving them, a wallet, and web sign-in.
func startMemberGateway(t *testing.T, n *nettest.Network, idx int, ca *bindingtest.CA, x *oidctest.TLS, users []testUser, logger *slog.Logger) *memberGateway {
	t.Helper()
	msp := nettest.MSPID(idx)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gwURL := "https://" + ln.Addr().String()
	idp := oidctest.Start(t, x, oidcprovider.Config{
		Clients: []oidcprovider.ClientConfig{{ID: "dashboard", Secret: clientSecret,
			RedirectURIs: []string{gwURL + auth.CallbackPath}, PostLogoutRedirectURIs: []string{gwURL + "/"}}},
		Logger: logger,
	})
	w, binder := gatewaytest.WalletAndBinder(t, ca, msp, logger)
	for _, u := range users {
		if err := idp.AddUser(oidcprovider.User{Username: u.name, Password: userPassword, Role: u.role, Email: u.name + "@" + strings.ToLower(msp) + ".example"}); err != nil {
			t.Fatal(err)
		}
		sub, err := idp.Subject(u.name)
		if err != nil {
			t.Fatal(err)
		}
		typ := pki.RoleClient
		if u.admin {
			typ = pki.RoleAdmin
		}
		if err := binder.Approve(binding.Approval{Issuer: idp.URL, Subject: sub, Type: typ, Role: u.role, ApprovedBy: "member-admin"}); err != nil {
			t.Fatal(err)
		}
	}
	rec := oidctest.NewSecretRecorder(x.HTTPClient().Transport)
	rec.Add(clientSecret)
	web, err := auth.NewWebSignIn(auth.WebConfig{
		Issuer: idp.URL, ClientID: "dashboard", ClientSecret: clientSecret,
		RedirectURL: gwURL + auth.CallbackPath, PostLogoutRedirectURL: gwURL + "/",
		HTTPClient: &http.Client{Transport: rec, Timeout: 20 * time.Second}, Logger: logger,
	}, binder)
	if err != nil {
		t.Fatal(err)
	}
	authn, err := auth.New(auth.Config{MSPID: msp, Binder: binder, Web: web, Trust: n.Trust, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	gwCred := n.PKI.Member(msp).Issue(pki.RoleClient, "gateway", nil)
	cl := n.ConnectClient(t, n.ClientConfig(idx, gwCred))
	dash, err := dashboard.New(dashboard.Config{
		MSPID: msp, AdminMSP: spMSP, Authenticate: authn.Authenticate,
		// Polling only while no event stream is open, and too rarely for
		// the tests' waits: pages must follow the gateway's event stream.
		Client: cl, LiveRefresh: 10 * time.Minute, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	members := map[string][]string{}
	for _, m := range n.Members {
		members[m.MSPID] = []string{m.PeerName()}
	}
	gwCfg := gateway.Config{
		MSPID: msp, Client: cl, Members: members, Policies: map[string]string{dashboard.DefaultAsset: spMSP + ".peer"},
		Authenticate: authn.Authenticate, Active: authn.Active, SignIn: web, Binder: binder,
		Signers: w.Signer, Logger: logger, RateLimit: -1, Dashboard: dash.Handler,
	}
	// The dashboard's users sign in through the gateway's sign-in routes.
	noSignIn := gwCfg
	noSignIn.SignIn = nil
	if _, err := gateway.New(noSignIn); err == nil || !strings.Contains(err.Error(), "browser sign-in") {
		t.Fatalf("a gateway with the dashboard and no sign-in: %v", err)
	}
	gw, err := gateway.New(gwCfg)
	if err != nil {
		t.Fatal(err)
	}
	gatewaytest.Serve(t, gw, ln, x.Cert, n.Trust, logger)
	return &memberGateway{MSPID: msp, URL: gwURL, IdP: idp, Secrets: rec}
}
