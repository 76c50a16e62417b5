package gateway_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/chaincode/kvtest"
	"github.com/blossom-ledger/blossom/internal/chaincode/ccpackage"
	"github.com/blossom-ledger/blossom/internal/gateway"
	"github.com/blossom-ledger/blossom/internal/gateway/gatewaytest"
	"github.com/blossom-ledger/blossom/internal/lifecycle"
	"github.com/blossom-ledger/blossom/internal/network/nettest"
	"github.com/blossom-ledger/blossom/internal/txn"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// TestPlanFromCommittedDefinition: the gateway (Org1) has no configured
// policy for a chaincode whose committed definition needs Org3's peer
// alone. A MAJORITY plan (Org1, Org2) would fail validation with
// ENDORSEMENT_POLICY_FAILURE; planned from the definition, the submit is
// VALID. An upgrade to a policy naming Org2 is followed once the cached
// policy expires.
func TestPlanFromCommittedDefinition(t *testing.T) {
	pkgID := ccpackage.ID("kvplan", []byte("native kvtest for the planning test"))
	opts := gatewaytest.Options{}
	opts.Network.NativePackages = func() map[string]contract.Chaincode {
		return map[string]contract.Chaincode{pkgID: kvtest.New()}
	}
	g := gatewaytest.Start(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	commit := func(seq uint64, pol string) {
		d := &lifecycle.Definition{Name: "kvplan", Version: "1", Sequence: seq, PackageID: pkgID, EndorsementPolicy: pol}
		for i := range 2 {
			block, err := g.Net.Lifecycle(t, i).Approve(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			g.Net.WaitForHeight(t, block+1, 20*time.Second)
		}
		block, err := g.Net.Lifecycle(t, 0).Commit(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		g.Net.WaitForHeight(t, block+1, 20*time.Second)
	}
	commit(1, "'Org3MSP.peer'")

	app := g.AppCredential(t, "app1", "Acquisition Officer")
	r := &gateway.Remote{URL: g.URL, HTTP: g.HTTPClient(&app.TLS), Signer: app.Signer}
	put := txn.Request{ChannelID: "blossom", Chaincode: "kvplan", Function: "kv:Put", Args: [][]byte{[]byte("k"), []byte("v")}}
	res, err := r.Submit(ctx, put, nil, nil)
	if err != nil || res.Status != "VALID" {
		t.Fatalf("submit planned from the definition: %+v, %v", res, err)
	}
	// The override still wins: endorsed by Org1 and Org2 only, the
	// transaction fails the definition's policy.
	res, err = r.Submit(ctx, put, []string{"Org1MSP", "Org2MSP"}, nil)
	if res == nil || res.Status != "ENDORSEMENT_POLICY_FAILURE" {
		t.Fatalf("submit with an endorsing-members override: %+v, %v", res, err)
	}

	commit(2, "'Org2MSP.peer'")
	// Until the cached policy (2 s) expires the gateway may still plan
	// Org3 alone, which the new definition refuses.
	nettest.Eventually(t, 15*time.Second, func() error {
		res, err := r.Submit(ctx, put, nil, nil)
		if err != nil {
			return err
		}
		if res.Status != "VALID" {
			return fmt.Errorf("submit after the upgrade: %s", res.Status)
		}
		return nil
	})
}
