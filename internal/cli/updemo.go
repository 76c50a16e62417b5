package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/blossom-ledger/blossom/internal/devnet"
	"github.com/blossom-ledger/blossom/internal/gateway"
	"github.com/blossom-ledger/blossom/internal/txn"
)

// demoMOU is the text of the MOU `blossom up --demo` publishes.
const demoMOU = "BloSS@M development consortium MOU: members pool and share software licenses under the service provider's terms."

// runDemoJourney publishes an MOU as the service provider's Authorizing
// Official, onboards every agency (SignMOU, a vote by every AUTHORIZED
// member, certification, Join) and adds a sample asset as the License
// Owner. IDs (the MOU version, the asset ID) come from queries and
// results, never from assumptions.
func runDemoJourney(ctx context.Context, c *devnet.Consortium) error {
	sp := c.AdminMember()
	all := allMSPs(c)
	remotes := map[string]*gateway.Remote{}
	as := func(m *devnet.Member, user string) (*gateway.Remote, error) {
		key := m.Name + "/" + user
		if r, ok := remotes[key]; ok {
			return r, nil
		}
		r, err := userRemote(c, m, user)
		remotes[key] = r
		return r, err
	}
	call := func(m *devnet.Member, user, cc, fn string, transient map[string][]byte, args ...string) ([]byte, error) {
		r, err := as(m, user)
		if err != nil {
			return nil, err
		}
		req := txn.Request{ChannelID: c.Channel, Chaincode: cc, Function: fn, Transient: transient}
		for _, a := range args {
			req.Args = append(req.Args, []byte(a))
		}
		res, err := r.Submit(ctx, req, nil, all)
		if err != nil {
			return nil, fmt.Errorf("%s as %s/%s: %w", fn, m.Name, user, err)
		}
		if res.Status != "VALID" {
			return nil, fmt.Errorf("%s as %s/%s: invalidated: %s", fn, m.Name, user, res.Status)
		}
		return res.Result, nil
	}
	auth := devnet.AuthorizationChaincode
	if _, err := call(sp, "ao", auth, "mou:UpdateMOU", nil, demoMOU); err != nil {
		return err
	}
	r, err := as(sp, "ao")
	if err != nil {
		return err
	}
	mouJSON, err := r.Evaluate(ctx, txn.Request{ChannelID: c.Channel, Chaincode: auth, Function: "mou:GetMOU"}, nil)
	if err != nil {
		return fmt.Errorf("mou:GetMOU: %w", err)
	}
	var mou struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(mouJSON, &mou); err != nil || mou.Version == 0 {
		return fmt.Errorf("mou:GetMOU returned no version (%v)", err)
	}
	authorized := []*devnet.Member{sp}
	for i := range c.Members {
		ag := &c.Members[i]
		if ag.Admin {
			continue
		}
		if _, err := call(ag, "ao", auth, "mou:SignMOU", nil, strconv.Itoa(mou.Version)); err != nil {
			return err
		}
		if _, err := call(sp, "ao", auth, "vote:InitiateVote", nil, ag.MSPID, "AUTHORIZED", "demo onboarding"); err != nil {
			return err
		}
		// The voters are the target and every AUTHORIZED member.
		for _, voter := range append(authorized, ag) {
			if _, err := call(voter, "ao", auth, "vote:Vote", nil, "true"); err != nil {
				return err
			}
		}
		if _, err := call(sp, "ao", auth, "vote:CertifyOngoingVote", nil); err != nil {
			return err
		}
		if _, err := call(ag, "ao", auth, "account:Join", nil); err != nil {
			return err
		}
		authorized = append(authorized, ag)
	}
	request, err := json.Marshal(map[string]any{
		"name": "Demo Office Suite", "endDate": "2030-12-31 00:00:00",
		"licenses": []map[string]string{{"id": "demo-license-1", "salt": "demo-salt-1"}, {"id": "demo-license-2", "salt": "demo-salt-2"}},
	})
	if err != nil {
		return err
	}
	_, err = call(sp, "lo", devnet.AssetChaincode, "asset:AddAsset", map[string][]byte{"request": request})
	return err
}
