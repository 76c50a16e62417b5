// Package blossomnet runs the BloSS@M chaincodes on a nettest network: it
// builds chaincode/authorization and chaincode/asset to WebAssembly (once
// per test binary), installs the packages on every peer, deploys them
// through the real chaincode lifecycle with the endorsement policies of
// DESIGN §10 (authorization: MAJORITY Endorsement; asset: the admin
// member's peers; each member's implicit collection: that member's peers)
// and the admin member's MSP ID as the definition parameter adminMSP, and
// drives them as users holding BloSS@M roles.
//
//	net := blossomnet.Start(t)                 // 3 members, member 0 is the admin (service provider)
//	out := net.Submit(t, blossomnet.Call{Member: 1, Role: blossompolicy.RoleAuthorizingOfficial,
//		Chaincode: "authorization", Function: "mou:SignMOU", Args: []string{"1"}, Endorsers: []int{0, 1}})
//
// Submit returns only once every peer committed the transaction's block
// with the same commit hash.
package blossomnet

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/chaincode/asset"
	"github.com/blossom-ledger/blossom/chaincode/authorization"
	"github.com/blossom-ledger/blossom/internal/client"
	"github.com/blossom-ledger/blossom/internal/lifecycle"
	"github.com/blossom-ledger/blossom/internal/network/nettest"
	"github.com/blossom-ledger/blossom/internal/peer"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/txn"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// Admin is the index of the network's admin member (the BloSS@M service
// provider); its MSP ID is the chaincodes' adminMSP parameter.
const Admin = 0

// callTimeout bounds one transaction or query.
const callTimeout = 30 * time.Second

// Definitions returns the definitions of the two chaincodes for a
// consortium whose admin member is adminMSP, running the packages
// authorizationPackage and assetPackage: the authorization chaincode's
// public writes need a MAJORITY of the members' peers, the asset
// chaincode's the admin member's peer; private writes need the owner of
// the implicit collection they go to (the peer's rule for implicit
// collections, so no collection is declared).
func Definitions(adminMSP, authorizationPackage, assetPackage string) []*lifecycle.Definition {
	params := map[string]string{authorization.AdminMSPParam: adminMSP}
	return []*lifecycle.Definition{
		{Name: authorization.ChaincodeName, Version: "1", Sequence: 1, PackageID: authorizationPackage,
			EndorsementPolicy: "MAJORITY Endorsement", Params: params},
		{Name: asset.ChaincodeName, Version: "1", Sequence: 1, PackageID: assetPackage,
			EndorsementPolicy: adminMSP + ".peer", Params: params},
	}
}

// Network is a nettest network running the BloSS@M chaincodes.
type Network struct {
	*nettest.Network
	// AdminMSP is the admin member's MSP ID.
	AdminMSP string

	root    testing.TB // the test that started the network: clients live as long as it
	mu      sync.Mutex
	clients map[string]*client.Client // by member and role
}

// Start starts a three-member nettest network without the kv chaincode,
// builds and installs both BloSS@M packages on every peer and deploys
// them (DeployBloSSAM).
func Start(t testing.TB) *Network {
	t.Helper()
	net := nettest.Start(t, nettest.Options{Chaincodes: func() []peer.Definition { return nil }})
	n := &Network{Network: net, AdminMSP: net.Members[Admin].MSPID, root: t, clients: map[string]*client.Client{}}
	n.DeployBloSSAM(t)
	return n
}

// DeployBloSSAM installs the wasm packages of both chaincodes (labels
// "authorization" and "asset") on every peer, then approves and commits
// their Definitions through the lifecycle.
func (n *Network) DeployBloSSAM(t testing.TB) {
	t.Helper()
	ids := map[string]string{}
	for _, name := range []string{authorization.ChaincodeName, asset.ChaincodeName} {
		pkg, id := nettest.ChaincodePackage(t, name, name)
		for i := range n.Members {
			if got := n.Install(t, i, pkg); got != id {
				t.Fatalf("blossomnet: peer %d installed %s as %s, want %s", i, name, got, id)
			}
		}
		ids[name] = id
	}
	for _, d := range Definitions(n.AdminMSP, ids[authorization.ChaincodeName], ids[asset.ChaincodeName]) {
		n.Deploy(t, d)
	}
}

// MSP returns member i's MSP ID.
func (n *Network) MSP(i int) string { return n.Members[i].MSPID }

// User returns a client of member i's user whose certificate carries
// blossom.role = role ("" for none), issued by the member's CA on first
// use; the client's own peer is member i's. The client stays open until
// the test that started the network ends.
func (n *Network) User(t testing.TB, i int, role string) *client.Client {
	t.Helper()
	key := fmt.Sprintf("%d/%s", i, role)
	n.mu.Lock()
	defer n.mu.Unlock()
	if c, ok := n.clients[key]; ok {
		return c
	}
	var attrs map[string]string
	if role != "" {
		attrs = map[string]string{contract.RoleAttribute: role}
	}
	slug := strings.ToLower(strings.ReplaceAll(role, " ", "-"))
	cred := n.PKI.Member(n.MSP(i)).Issue(pki.RoleClient, fmt.Sprintf("bloss-%d-%s", i, slug), attrs)
	c := n.ConnectClient(n.root, n.ClientConfig(i, cred))
	n.clients[key] = c
	return c
}

// Call is one call of a BloSS@M function.
type Call struct {
	Member    int    // the caller's member
	Role      string // the caller's blossom.role ("" for none)
	Chaincode string
	Function  string   // "contract:Function"
	Args      []string // positional arguments (authorization)
	// Request, if not nil, is marshalled to JSON under the transient key
	// "request" (the asset chaincode's input).
	Request any
	// Transient holds further transient values (the ATO functions).
	Transient map[string]string
	// Endorsers are the members whose peers endorse a submission, or
	// whose first peer answers a query (none: the caller's own).
	Endorsers []int
}

func (n *Network) request(t testing.TB, c Call) (txn.Request, []string) {
	t.Helper()
	req := txn.Request{Chaincode: c.Chaincode, Function: c.Function, Transient: map[string][]byte{}}
	for _, a := range c.Args {
		req.Args = append(req.Args, []byte(a))
	}
	for k, v := range c.Transient {
		req.Transient[k] = []byte(v)
	}
	if c.Request != nil {
		b, err := json.Marshal(c.Request)
		if err != nil {
			t.Fatalf("blossomnet: %s request: %v", c.Function, err)
		}
		req.Transient[asset.RequestKey] = b
	}
	endorsers := c.Endorsers
	if len(endorsers) == 0 {
		endorsers = []int{c.Member}
	}
	return req, n.PeerNames(endorsers...)
}

// Try submits c and waits for its commit on every peer: it returns the
// chaincode's result, the block holding the transaction, and the error of
// a refusal or an invalidation.
func (n *Network) Try(t testing.TB, c Call) ([]byte, uint64, error) {
	t.Helper()
	req, peers := n.request(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	res, err := n.User(t, c.Member, c.Role).Submit(ctx, req, peers)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", c.Function, err)
	}
	n.RequireAgreement(t, res.Block+1)
	if res.Code != pb.TxValidationCode_VALID {
		return res.Result, res.Block, fmt.Errorf("%s committed as %s", c.Function, res.Code)
	}
	return res.Result, res.Block, nil
}

// Submit is Try failing the test unless the transaction commits VALID.
func (n *Network) Submit(t testing.TB, c Call) []byte {
	t.Helper()
	out, _, err := n.Try(t, c)
	if err != nil {
		t.Fatalf("blossomnet: %s as %s %q: %v", c.Function, n.MSP(c.Member), c.Role, err)
	}
	return out
}

// Evaluate runs c as a query on the first endorser's peer (or the
// caller's own).
func (n *Network) Evaluate(t testing.TB, c Call) ([]byte, error) {
	t.Helper()
	req, peers := n.request(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	out, err := n.User(t, c.Member, c.Role).Evaluate(ctx, req, peers[0])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Function, err)
	}
	return out, nil
}

// Query is Evaluate decoding the JSON result into out, failing the test
// on any error.
func (n *Network) Query(t testing.TB, c Call, out any) {
	t.Helper()
	raw, err := n.Evaluate(t, c)
	if err != nil {
		t.Fatalf("blossomnet: %s as %s %q: %v", c.Function, n.MSP(c.Member), c.Role, err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("blossomnet: %s answered %.300s: %v", c.Function, raw, err)
	}
}

// RequireAgreement waits until every running peer reached height and
// fails the test unless their commit hashes at height agree; it returns
// that commit hash.
func (n *Network) RequireAgreement(t testing.TB, height uint64) []byte {
	t.Helper()
	n.WaitForHeight(t, height, callTimeout)
	var want []byte
	for i := range n.Members {
		got, err := n.PeerChannel(i).Ledger().CommitHash(height)
		if err != nil {
			t.Fatalf("blossomnet: peer %d commit hash at %d: %v", i, height, err)
		}
		if want == nil {
			want = got
		} else if string(got) != string(want) {
			t.Fatalf("blossomnet: peer %d's commit hash at height %d differs from peer 0's", i, height)
		}
	}
	return want
}

// IsRefusal reports whether err is a chaincode's refusal at endorsement
// with message want (the peer passes the message on verbatim).
func IsRefusal(err error, want string) bool {
	return err != nil && strings.Contains(err.Error(), "chaincode refused") && strings.Contains(err.Error(), ": "+want)
}
