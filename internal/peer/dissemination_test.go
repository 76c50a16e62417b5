package peer

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/transport"
)

func pvtSet(ns string, colls ...string) *pb.TxPvtReadWriteSet {
	nsSet := &pb.NsPvtReadWriteSet{Namespace: ns}
	for _, c := range colls {
		nsSet.CollectionPvtRwsets = append(nsSet.CollectionPvtRwsets, &pb.CollectionPvtReadWriteSet{
			Collection: c, Writes: []*pb.KVWrite{{Key: "k", Value: []byte("secret of " + c)}},
		})
	}
	return &pb.TxPvtReadWriteSet{NsPvtRwsets: []*pb.NsPvtReadWriteSet{nsSet}}
}

// TestPushChecksSenderAndMembership runs the receiving side of
// dissemination: only peers of channel members may push, and only the
// collections of this peer's member are kept.
func TestPushChecksSenderAndMembership(t *testing.T) {
	f := newFixture(t)
	svc := &privateDataService{node: f.node}
	userID, err := f.ch.current().authorize("Org1MSP", f.user.Cert.Raw, channelconfig.PolicyReaders, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	asPeer := transport.ContextWithIdentity(context.Background(), f.peerID)
	asUser := transport.ContextWithIdentity(context.Background(), userID)
	own, other := ImplicitCollection("Org1MSP"), ImplicitCollection("Org2MSP")
	tests := []struct {
		name     string
		ctx      context.Context
		req      *pb.PrivateDataPushRequest
		code     codes.Code
		accepted uint32
		want     string // text of the error
	}{
		{"own collection from a peer", asPeer, &pb.PrivateDataPushRequest{ChannelId: testChannel, TxId: "tx1", PvtRwset: pvtSet("kv", own)}, codes.OK, 1, ""},
		{"mixed: only own kept", asPeer, &pb.PrivateDataPushRequest{ChannelId: testChannel, TxId: "tx2", PvtRwset: pvtSet("kv", other, own)}, codes.OK, 1, ""},
		{"other member's collection", asPeer, &pb.PrivateDataPushRequest{ChannelId: testChannel, TxId: "tx3", PvtRwset: pvtSet("kv", other)}, codes.PermissionDenied, 0, "none of the pushed collections"},
		{"sender not a peer", asUser, &pb.PrivateDataPushRequest{ChannelId: testChannel, TxId: "tx4", PvtRwset: pvtSet("kv", own)}, codes.PermissionDenied, 0, "only be exchanged with a peer"},
		{"no identity", context.Background(), &pb.PrivateDataPushRequest{ChannelId: testChannel, TxId: "tx5", PvtRwset: pvtSet("kv", own)}, codes.Unauthenticated, 0, "certificate"},
		{"unknown channel", asPeer, &pb.PrivateDataPushRequest{ChannelId: "nope", TxId: "tx6", PvtRwset: pvtSet("kv", own)}, codes.NotFound, 0, "not joined"},
		{"empty txID", asPeer, &pb.PrivateDataPushRequest{ChannelId: testChannel, PvtRwset: pvtSet("kv", own)}, codes.InvalidArgument, 0, "transaction ID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := svc.Push(tc.ctx, tc.req)
			if status.Code(err) != tc.code || (tc.want != "" && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Push = %v, %v; want %s %q", resp, err, tc.code, tc.want)
			}
			if tc.req.TxId == "" {
				return
			}
			sets, err := f.ch.transient.Get(tc.req.TxId)
			if err != nil {
				t.Fatal(err)
			}
			if tc.code != codes.OK {
				if len(sets) != 0 {
					t.Fatalf("refused push stored %d sets", len(sets))
				}
				return
			}
			if resp.Accepted != tc.accepted || len(sets) != 1 {
				t.Fatalf("accepted %d, stored %d sets", resp.Accepted, len(sets))
			}
			for _, ns := range sets[0].NsPvtRwsets {
				for _, c := range ns.CollectionPvtRwsets {
					if c.Collection != own {
						t.Fatalf("stored collection %s of another member", c.Collection)
					}
				}
			}
		})
	}
}

// FuzzPushFilter feeds arbitrary pushed sets to the receiving side's
// filter: it must never panic nor keep a collection of another member.
func FuzzPushFilter(f *testing.F) {
	f.Add(protocol.MustMarshal(pvtSet("kv", ImplicitCollection("Org1MSP"), ImplicitCollection("Org2MSP"))))
	f.Add([]byte{})
	members := []string{"Org1MSP", "Org2MSP"}
	ch := &Channel{self: "Org1MSP"}
	keep := ch.memberOf(members)
	f.Fuzz(func(t *testing.T, b []byte) {
		set := new(pb.TxPvtReadWriteSet)
		if err := protocol.Unmarshal(b, set, 1<<20); err != nil {
			return
		}
		kept := filterCollections(set, keep)
		for _, ns := range kept.GetNsPvtRwsets() {
			for _, c := range ns.GetCollectionPvtRwsets() {
				if c.GetCollection() != ImplicitCollection("Org1MSP") {
					t.Fatalf("kept collection %q", c.GetCollection())
				}
			}
		}
	})
}
