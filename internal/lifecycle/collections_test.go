package lifecycle_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/blossom-ledger/blossom/chaincode/kvtest"
	"github.com/blossom-ledger/blossom/internal/chaincode/ccpackage"
	"github.com/blossom-ledger/blossom/internal/ledger"
	"github.com/blossom-ledger/blossom/internal/lifecycle"
	"github.com/blossom-ledger/blossom/internal/network/nettest"
	"github.com/blossom-ledger/blossom/internal/peer"
	"github.com/blossom-ledger/blossom/internal/txn"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// TestExplicitCollection commits a definition with an explicit collection
// of Org1 and Org2 (requiredPeerCount 1, memberOnlyRead and
// memberOnlyWrite) on a three-member network and shows: its members' peers
// store the value and Org3's peer only the hash; Org3's client may neither
// read nor write it; a non-member peer does not serve it; and without a
// reachable peer to disseminate to, the endorser refuses to endorse.
func TestExplicitCollection(t *testing.T) {
	pkgID := ccpackage.ID("kvpdc", []byte("native kvtest for the collection test"))
	net := nettest.Start(t, nettest.Options{NativePackages: func() map[string]contract.Chaincode {
		return map[string]contract.Chaincode{pkgID: kvtest.New()}
	}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := &lifecycle.Definition{
		Name: "pdc", Version: "1", Sequence: 1, PackageID: pkgID, EndorsementPolicy: "MAJORITY Endorsement",
		Collections: []lifecycle.Collection{{
			Name: "shared", Policy: "OR('Org1MSP.peer', 'Org2MSP.peer')",
			RequiredPeerCount: 1, MaxPeerCount: 2, MemberOnlyRead: true, MemberOnlyWrite: true,
		}, {
			Name: "ttl", Policy: "OR('Org1MSP.peer', 'Org2MSP.peer')", RequiredPeerCount: 1, MaxPeerCount: 2, BlockToLive: 2,
		}},
	}
	for i := range 2 {
		block, err := net.Lifecycle(t, i).Approve(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		net.WaitForHeight(t, block+1, 20*time.Second)
	}
	block, err := net.Lifecycle(t, 0).Commit(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	net.WaitForHeight(t, block+1, 20*time.Second)

	put := txn.Request{Chaincode: "pdc", Function: "kv:PutPrivate", Args: [][]byte{[]byte("shared"), []byte("k")}, Transient: map[string][]byte{"value": []byte("secret")}}
	get := txn.Request{Chaincode: "pdc", Function: "kv:GetPrivate", Args: [][]byte{[]byte("shared"), []byte("k")}}
	org1, org3 := net.Client(t, 0), net.Client(t, 2)
	res, err := org1.Submit(ctx, put, net.PeerNames(0, 1))
	if err != nil {
		t.Fatalf("put into the collection: %v", err)
	}
	net.WaitForHeight(t, res.Block+1, 20*time.Second)
	for i := range 2 {
		if v, err := net.PeerChannel(i).Ledger().State().GetPrivateData("pdc", "shared", "k"); err != nil || v == nil || string(v.Value) != "secret" {
			t.Errorf("member peer %d holds %v, %v; want the value", i, v, err)
		}
	}
	// Org3's peer has the hash only, and does not count the value as
	// missing (it is not a member: it never reconciles it).
	l2 := net.PeerChannel(2).Ledger()
	if v, err := l2.State().GetPrivateData("pdc", "shared", "k"); v != nil || !errors.Is(err, ledger.ErrPrivateDataMissing) {
		t.Errorf("non-member peer holds %v, %v", v, err)
	}
	if missing, err := l2.MissingPrivateData(100); err != nil || len(missing) != 0 {
		t.Errorf("non-member peer misses %v, %v", missing, err)
	}
	if got, err := org1.Evaluate(ctx, get, net.PeerNames(1)...); err != nil || string(got) != "secret" {
		t.Errorf("Org1 reads on Org2's peer: %q, %v", got, err)
	}
	tests := []struct {
		name string
		call func() error
		code codes.Code
		want string
	}{
		{"non-member reads (memberOnlyRead)", func() error { _, err := org3.Evaluate(ctx, get, net.PeerNames(0)...); return err }, codes.PermissionDenied, peer.CodeMemberOnly},
		{"non-member writes (memberOnlyWrite)", func() error { _, err := org3.Evaluate(ctx, put, net.PeerNames(0)...); return err }, codes.PermissionDenied, peer.CodeMemberOnly},
		{"non-member peer serves", func() error { _, err := org1.Evaluate(ctx, get, net.PeerNames(2)...); return err }, codes.FailedPrecondition, "PRIVATE_DATA_NOT_HELD(shared)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if status.Code(errors.Unwrap(err)) != tc.code || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tc.want)) {
				t.Fatalf("got %v, want %v with %q", err, tc.code, tc.want)
			}
		})
	}

	// blockToLive 2: a value written in block b is readable while blocks
	// b+1 and b+2 commit and purged from every member peer by block b+3;
	// its hash stays.
	ttlPut := txn.Request{Chaincode: "pdc", Function: "kv:PutPrivate", Args: [][]byte{[]byte("ttl"), []byte("k")}, Transient: map[string][]byte{"value": []byte("short-lived")}}
	written, err := org1.Submit(ctx, ttlPut, net.PeerNames(0, 1))
	if err != nil {
		t.Fatalf("put into the ttl collection: %v", err)
	}
	held := func(i int) bool {
		v, err := net.PeerChannel(i).Ledger().State().GetPrivateData("pdc", "ttl", "k")
		if err != nil {
			t.Fatalf("peer %d reads the ttl collection: %v", i, err)
		}
		return v != nil && v.Value != nil
	}
	for block := written.Block; block < written.Block+3; {
		net.WaitForHeight(t, block+1, 20*time.Second)
		for i := range 2 {
			if !held(i) {
				t.Fatalf("peer %d lost the ttl value at height %d (written in block %d)", i, block+1, written.Block)
			}
		}
		res, err := org1.Submit(ctx, txn.Request{Chaincode: "pdc", Function: "kv:Put", Args: [][]byte{[]byte("tick"), []byte("x")}}, net.PeerNames(0, 1))
		if err != nil {
			t.Fatal(err)
		}
		block = res.Block
	}
	net.WaitForHeight(t, written.Block+4, 20*time.Second)
	for i := range 2 {
		if held(i) {
			t.Errorf("peer %d still holds the ttl value after block %d", i, written.Block+3)
		}
		kh := sha256.Sum256([]byte("k"))
		if h, err := net.PeerChannel(i).Ledger().State().GetPrivateDataHash("pdc", "ttl", kh[:]); err != nil || h == nil {
			t.Errorf("peer %d lost the ttl value's hash: %v, %v", i, h, err)
		}
	}

	// Org2's peer down: Org1's peer has no other collection peer to push
	// to, so requiredPeerCount 1 cannot be met and it does not endorse.
	net.StopPeer(1)
	_, err = org1.Evaluate(ctx, put, net.PeerNames(0)...)
	if status.Code(errors.Unwrap(err)) != codes.Unavailable || !strings.Contains(err.Error(), peer.CodePrivateDataDissemination) {
		t.Fatalf("endorse with no peer to disseminate to: %v, want %s", err, peer.CodePrivateDataDissemination)
	}
}
