package peer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/blossom-ledger/blossom/internal/client"
	"github.com/blossom-ledger/blossom/internal/governance"
	"github.com/blossom-ledger/blossom/internal/ledger"
	"github.com/blossom-ledger/blossom/internal/network/nettest"
	"github.com/blossom-ledger/blossom/internal/peer"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/transport"
)

// TestJoinFromSnapshot: a network commits public and private writes of the
// lifecycle-deployed kv chaincode; member 0's admin takes a snapshot of
// its peer over the admin RPC (member 1's peer gives the same snapshot
// hash); a NEW peer of member 0 joins from it, pulls the later blocks from
// the orderers, agrees with every other peer on commit hash and state
// hash, answers queries (public and its member's private data from
// before the snapshot), endorses, refuses history and blocks before the
// snapshot, and its ledger verifies from the snapshot height. A second new
// peer of member 0 joins from member 1's snapshot (no private data of
// member 0) and reconciles member 0's pre-snapshot private value.
func TestJoinFromSnapshot(t *testing.T) {
	net := nettest.Start(t, nettest.Options{})
	ctx := testContext(t, 60*time.Second)
	cl := net.Client(t, 0)
	coll := peer.ImplicitCollection(net.Members[0].MSPID)

	first, err := cl.Submit(ctx, kv("kv:Put", "before", "b1"), net.PeerNames(0, 1))
	if err != nil || first.Code != pb.TxValidationCode_VALID {
		t.Fatalf("put: %+v %v", first, err)
	}
	req := kv("kv:PutPrivate", coll, "secret")
	req.Transient = map[string][]byte{"value": []byte("pre-snapshot secret")}
	if res, err := cl.Submit(ctx, req, net.PeerNames(0)); err != nil || res.Code != pb.TxValidationCode_VALID {
		t.Fatalf("private put: %+v %v", res, err)
	}
	before := sameLedgers(t, net)

	// Only an admin of the peer's own member may take a snapshot.
	for _, cred := range []struct {
		name string
		i    int
		user bool
	}{{name: "member 0's user", i: 0, user: true}, {name: "member 1's admin", i: 1}} {
		m := net.Members[cred.i]
		id := m.Admin
		if cred.user {
			id = m.User
		}
		conn, err := transport.Dial(ctx, net.Members[0].PeerAddr, transport.ClientTLSConfig(id.TLS, net.Trust, pki.RolePeer))
		if err != nil {
			t.Fatal(err)
		}
		_, err = peer.FetchSnapshot(ctx, conn, net.Channel, 0, false, filepath.Join(t.TempDir(), "refused"))
		conn.Close()
		if status.Code(errors.Unwrap(err)) != codes.PermissionDenied {
			t.Fatalf("%s took a snapshot: %v", cred.name, err)
		}
	}

	snapDir := filepath.Join(t.TempDir(), "snap")
	info, err := peer.FetchSnapshot(ctx, net.AdminConn(t, 0), net.Channel, 0, false, snapDir)
	if err != nil {
		t.Fatalf("FetchSnapshot: %v", err)
	}
	otherDir := filepath.Join(t.TempDir(), "snap1")
	other, err := peer.FetchSnapshot(ctx, net.AdminConn(t, 1), net.Channel, before.height, true, otherDir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := peer.FetchSnapshot(ctx, net.AdminConn(t, 2), net.Channel, before.height-1, false, filepath.Join(t.TempDir(), "passed")); status.Code(errors.Unwrap(err)) != codes.FailedPrecondition {
		t.Fatalf("snapshot at a passed height: %v", err)
	}
	if info.Manifest.Height != before.height || other.Manifest.Height != before.height || !bytes.Equal(info.Hash, other.Hash) {
		t.Fatalf("snapshots of two members' peers at height %d: %d %x, %d %x", before.height, info.Manifest.Height, info.Hash, other.Manifest.Height, other.Hash)
	}

	dataDir := filepath.Join(t.TempDir(), "newpeer")
	node, addr := net.StartPeerFromSnapshot(t, 0, "peer0-snap", dataDir, snapDir, info.Hash)
	ch, ok := node.Channel(net.Channel)
	if !ok || ch.Ledger().SnapshotHeight() != before.height {
		t.Fatalf("new peer's channel: %v", ok)
	}

	// More transactions, one endorsed by the new peer itself.
	newName := net.Members[0].MSPID + "/peer0-snap"
	cfg := net.ClientConfig(0, nil)
	cfg.Peers = append([]client.Endpoint{{Name: newName, Address: addr}}, cfg.Peers...)
	viaNew := net.ConnectClient(t, cfg)
	res, err := viaNew.Submit(ctx, kv("kv:Put", "after", "a1"), []string{newName, net.Members[1].PeerName()})
	if err != nil || res.Code != pb.TxValidationCode_VALID {
		t.Fatalf("put endorsed by the new peer: %+v %v", res, err)
	}
	req = kv("kv:PutPrivate", coll, "secret2")
	req.Transient = map[string][]byte{"value": []byte("post-snapshot secret")}
	if res, err = cl.Submit(ctx, req, net.PeerNames(0)); err != nil || res.Code != pb.TxValidationCode_VALID {
		t.Fatalf("private put: %+v %v", res, err)
	}
	after := sameLedgers(t, net)
	if _, err := ch.Ledger().WaitForHeight(ctx, after.height); err != nil {
		t.Fatal(err)
	}
	h, commit, err := ch.CommitHash()
	if err != nil {
		t.Fatal(err)
	}
	st, err := ch.StateHash()
	if err != nil {
		t.Fatal(err)
	}
	if h != after.height || !bytes.Equal(commit, after.commit) || !bytes.Equal(st, after.st) {
		t.Fatalf("new peer diverges: height %d commit %x state %x; others %s", h, commit[:6], st[:6], after.description)
	}

	// Queries through the new peer.
	for _, q := range []struct {
		req  []string
		want string
	}{{[]string{"kv:Get", "before"}, "b1"}, {[]string{"kv:Get", "after"}, "a1"}, {[]string{"kv:GetPrivate", coll, "secret"}, "pre-snapshot secret"}} {
		got, err := viaNew.Evaluate(ctx, kv(q.req[0], q.req[1:]...), newName)
		if err != nil || string(got) != q.want {
			t.Fatalf("%v through the new peer: %q %v", q.req, got, err)
		}
	}
	if _, err := viaNew.Evaluate(ctx, kv("kv:History", "before"), newName); err == nil || !strings.Contains(err.Error(), "before the snapshot") {
		t.Fatalf("history before the snapshot through the new peer: %v", err)
	}
	if _, err := viaNew.Block(ctx, newName, net.Channel, 1); err == nil || !strings.Contains(err.Error(), "before the snapshot") {
		t.Fatalf("block 1 from the new peer: %v", err)
	}
	// The last config block (the genesis block here) is served: clients
	// read the configuration in force through it.
	if cfg, err := governance.LatestConfig(ctx, viaNewConn(t, net, addr), net.Channel); err != nil || cfg.ChannelID() != net.Channel {
		t.Fatalf("configuration in force from the new peer: %v", err)
	}
	if b, err := viaNew.Block(ctx, newName, net.Channel, before.height); err != nil || b.GetHeader().GetNumber() != before.height {
		t.Fatalf("block %d from the new peer: %v", before.height, err)
	}
	// The transaction IDs before the snapshot are known: a replay is a
	// duplicate.
	if exists, err := ch.Ledger().TxIDExists(first.TxID); err != nil || !exists {
		t.Fatalf("pre-snapshot txID on the new peer: %v %v", exists, err)
	}

	// A second new peer of member 0 joins from member 1's snapshot, which
	// carries no private data of member 0: it reconciles the value written
	// before the snapshot from member 0's peer, checked against the hashes.
	node2, _ := net.StartPeerFromSnapshot(t, 0, "peer0-snap2", filepath.Join(t.TempDir(), "newpeer2"), otherDir, nil)
	ch2, _ := node2.Channel(net.Channel)
	nettest.Eventually(t, 20*time.Second, func() error {
		v, err := ch2.Ledger().State().GetPrivateData(nettest.KVChaincode, coll, "secret")
		if err != nil {
			return err
		}
		if v == nil || string(v.Value) != "pre-snapshot secret" {
			return fmt.Errorf("private value %+v", v)
		}
		return nil
	})

	if err := node.Stop(); err != nil {
		t.Fatal(err)
	}
	rep, err := ledger.Verify(filepath.Join(dataDir, "channels", net.Channel))
	if err != nil || rep.SnapshotHeight != before.height || rep.IndexedHeight != after.height {
		t.Fatalf("verify of the new peer's ledger: %v %+v", err, rep)
	}
}

// viaNewConn dials the peer at addr as member 0's user.
func viaNewConn(t *testing.T, net *nettest.Network, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := transport.Dial(context.Background(), addr, transport.ClientTLSConfig(net.Members[0].User.TLS, net.Trust, pki.RolePeer))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
