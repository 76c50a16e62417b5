package peer_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/blossom-ledger/blossom/internal/ledger"
	"github.com/blossom-ledger/blossom/internal/network/nettest"
	"github.com/blossom-ledger/blossom/internal/peer"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/transport"
	"github.com/blossom-ledger/blossom/internal/txn"
)

// marker returns a distinctive random value to grep for.
func marker(t *testing.T, label string) []byte {
	t.Helper()
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	return []byte(label + "-" + hex.EncodeToString(raw))
}

// peerRef names peer k of member i.
type peerRef struct{ member, k int }

func allPeers(net *nettest.Network) []peerRef {
	var out []peerRef
	for i, m := range net.Members {
		for k := range m.Peers {
			out = append(out, peerRef{i, k})
		}
	}
	return out
}

// TestPrivateDataTwoPeersPerMember runs three members with two peers each
// and a write to member 0's implicit collection:
//   - dissemination reaches member 0's second peer and nothing reaches
//     the other members' peers (checked in their transient stores);
//   - member 0's peers hold the value, the others only its hash (checked
//     in their stores), and all six ledgers agree;
//   - member 1's user reading the key through member 1's peers gets
//     PRIVATE_DATA_NOT_HELD, GetPrivateDataHash answers on every peer;
//   - member 0's second peer, stopped while two more writes commit (for
//     one of which it received tampered data beforehand), gets the right
//     values by reconciliation after its restart;
//   - neither the private values nor a transient-only value are in any
//     block file of any peer or orderer, and no other member's peer
//     directory holds a private value.
func TestPrivateDataTwoPeersPerMember(t *testing.T) {
	net := nettest.Start(t, nettest.Options{PeersPerMember: 2})
	ctx := testContext(t, 60*time.Second)
	owner := net.Members[0]
	coll := peer.ImplicitCollection(owner.MSPID)
	cl := net.Client(t, 0)
	transientOnly := marker(t, "transient-only")
	values := [][]byte{marker(t, "pvt-1"), marker(t, "pvt-2"), marker(t, "pvt-3")}
	tampered := marker(t, "tampered")
	putReq := func(key string, value []byte) txn.Request {
		req := kv("kv:PutPrivate", coll, key)
		req.Transient = map[string][]byte{"value": value, "note": transientOnly}
		return req
	}
	submit := func(prop *txn.Proposal) *pb.ProposalResponse {
		t.Helper()
		responses, err := cl.Endorse(ctx, prop, net.PeerNames(0))
		if err != nil {
			t.Fatal(err)
		}
		env, err := txn.Assemble(owner.User.Signer, prop, responses)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.Broadcast(ctx, env); err != nil {
			t.Fatal(err)
		}
		return responses[0]
	}
	waitValid := func(txID string) uint64 {
		t.Helper()
		res, err := cl.WaitForCommit(ctx, "", txID, net.PeerNames(0)...)
		if err != nil || res.Code != pb.TxValidationCode_VALID {
			t.Fatalf("commit of %s: %+v, %v", txID, res, err)
		}
		return res.Block
	}

	// Write 1: endorse, then look at every peer's transient store before
	// the transaction is ordered.
	prop1, err := cl.NewProposal(putReq("k1", values[0]))
	if err != nil {
		t.Fatal(err)
	}
	responses, err := cl.Endorse(ctx, prop1, net.PeerNames(0))
	if err != nil {
		t.Fatal(err)
	}
	nettest.Eventually(t, 10*time.Second, func() error {
		sets, err := net.MemberPeerChannel(0, 1).TransientSets(prop1.TxID)
		if err != nil || len(sets) == 0 {
			return fmt.Errorf("member 0's second peer has not received the push: %v", err)
		}
		if !holdsValue(sets, values[0]) {
			return errors.New("member 0's second peer received another value")
		}
		return nil
	})
	for _, p := range allPeers(net)[2:] {
		if sets, err := net.MemberPeerChannel(p.member, p.k).TransientSets(prop1.TxID); err != nil || len(sets) != 0 {
			t.Fatalf("%s received member 0's private data: %d sets, %v", net.Members[p.member].Peers[p.k].Name, len(sets), err)
		}
	}
	env, err := txn.Assemble(owner.User.Signer, prop1, responses)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Broadcast(ctx, env); err != nil {
		t.Fatal(err)
	}
	block1 := waitValid(prop1.TxID)
	net.WaitForHeight(t, block1+1, 15*time.Second)

	k1Hash, v1Hash := sha256.Sum256([]byte("k1")), sha256.Sum256(values[0])
	for _, p := range allPeers(net) {
		name := net.Members[p.member].Peers[p.k].Name
		st := net.MemberPeerChannel(p.member, p.k).Ledger().State()
		if h, err := st.GetPrivateDataHash(nettest.KVChaincode, coll, k1Hash[:]); err != nil || h == nil || !bytes.Equal(h.Value, v1Hash[:]) {
			t.Fatalf("%s: hashed state %+v, %v", name, h, err)
		}
		v, err := st.GetPrivateData(nettest.KVChaincode, coll, "k1")
		if p.member == 0 {
			if err != nil || v == nil || !bytes.Equal(v.Value, values[0]) {
				t.Fatalf("%s: private value %+v, %v", name, v, err)
			}
		} else if !errors.Is(err, ledger.ErrPrivateDataMissing) {
			t.Fatalf("%s holds member 0's private value: %+v, %v", name, v, err)
		}
		got, err := cl.Evaluate(ctx, kv("kv:GetPrivateHash", coll, "k1"), name)
		if err != nil || got == nil || string(got) != hex.EncodeToString(v1Hash[:]) {
			t.Fatalf("%s: GetPrivateDataHash = %q, %v", name, got, err)
		}
	}
	outsider := net.Client(t, 1)
	for k := range net.Members[1].Peers {
		name := net.Members[1].Peers[k].Name
		got, err := outsider.Evaluate(ctx, kv("kv:GetPrivate", coll, "k1"), name)
		if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "PRIVATE_DATA_NOT_HELD("+coll+")") {
			t.Fatalf("member 1 reading member 0's private key through %s: %q, %v; want PRIVATE_DATA_NOT_HELD", name, got, err)
		}
	}

	// Writes 2 and 3 while member 0's second peer is down; before it
	// stopped it received tampered data for write 2 (pushed by member 1's
	// peer, which the receiving side accepts from any member's peer).
	prop2, err := cl.NewProposal(putReq("k2", values[1]))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := transport.Dial(ctx, owner.Peers[1].Addr, transport.ClientTLSConfig(net.Members[1].PeerCred.TLS, net.Trust, pki.RolePeer))
	if err != nil {
		t.Fatal(err)
	}
	pushed, err := pb.NewPrivateDataClient(conn).Push(ctx, &pb.PrivateDataPushRequest{
		ChannelId: net.Channel, TxId: prop2.TxID,
		PvtRwset: &pb.TxPvtReadWriteSet{NsPvtRwsets: []*pb.NsPvtReadWriteSet{{
			Namespace:           nettest.KVChaincode,
			CollectionPvtRwsets: []*pb.CollectionPvtReadWriteSet{{Collection: coll, Writes: []*pb.KVWrite{{Key: "k2", Value: tampered}}}},
		}}},
	})
	conn.Close()
	if err != nil || pushed.Accepted != 1 {
		t.Fatalf("push of tampered data: %v, %v", pushed, err)
	}
	net.StopMemberPeer(0, 1)
	submit(prop2)
	block2 := waitValid(prop2.TxID)
	prop3, err := cl.NewProposal(putReq("k3", values[2]))
	if err != nil {
		t.Fatal(err)
	}
	submit(prop3)
	block3 := waitValid(prop3.TxID)
	if files := filesContaining(t, owner.Peers[1].Dir, "", values[2]); len(files) != 0 {
		t.Fatalf("the stopped peer holds write 3's value in %v before its restart", files)
	}

	net.RestartMemberPeer(0, 1)
	second := net.MemberPeerChannel(0, 1).Ledger()
	nettest.Eventually(t, 20*time.Second, func() error {
		if second.Height() <= block3 {
			return fmt.Errorf("restarted peer at height %d", second.Height())
		}
		missing, err := second.MissingPrivateData(0)
		if err != nil || len(missing) != 0 {
			return fmt.Errorf("restarted peer still misses %+v (%v)", missing, err)
		}
		return nil
	})
	for key, want := range map[string][]byte{"k1": values[0], "k2": values[1], "k3": values[2]} {
		v, err := second.State().GetPrivateData(nettest.KVChaincode, coll, key)
		if err != nil || v == nil || !bytes.Equal(v.Value, want) {
			t.Fatalf("restarted peer's %s: %+v, %v; want the endorsed value", key, v, err)
		}
	}
	if v, err := second.State().GetPrivateData(nettest.KVChaincode, coll, "k2"); err != nil || v.Version.Block != block2 {
		t.Fatalf("k2 at %+v, %v; want block %d's version", v, err, block2)
	}
	if !strings.Contains(net.Logs.String(), "reconciled private data") {
		t.Fatal("no peer logged a reconciliation")
	}

	// All six ledgers agree.
	height := net.OrdererHeight(0)
	net.WaitForHeight(t, height, 15*time.Second)
	var commit []byte
	for _, p := range allPeers(net) {
		got, err := net.MemberPeerChannel(p.member, p.k).Ledger().CommitHash(height)
		if err != nil {
			t.Fatal(err)
		}
		if commit == nil {
			commit = got
		} else if !bytes.Equal(got, commit) {
			t.Fatalf("%s: commit hash at height %d differs", net.Members[p.member].Peers[p.k].Name, height)
		}
	}

	// On disk.
	blocksDir := string(filepath.Separator) + "blocks" + string(filepath.Separator)
	for _, p := range allPeers(net) {
		mp := net.Members[p.member].Peers[p.k]
		for _, m := range append([][]byte{transientOnly}, values...) {
			if files := filesContaining(t, mp.Dir, blocksDir, m); len(files) != 0 {
				t.Fatalf("%s: %q in block files %v", mp.Name, m[:12], files)
			}
		}
		if files := filesContaining(t, mp.Dir, "", transientOnly); len(files) != 0 {
			t.Fatalf("%s stores a transient-only value in %v", mp.Name, files)
		}
		files := filesContaining(t, mp.Dir, "", values[0])
		if p.member == 0 && len(files) == 0 {
			t.Fatalf("%s does not store the private value on disk: the search is blind", mp.Name)
		}
		if p.member != 0 && len(files) != 0 {
			t.Fatalf("%s (not a member of the collection) stores the private value in %v", mp.Name, files)
		}
	}
	for _, m := range net.Members {
		for _, v := range append([][]byte{transientOnly}, values...) {
			if files := filesContaining(t, m.OrdererDir, "", v); len(files) != 0 {
				t.Fatalf("orderer of %s: %q in %v", m.MSPID, v[:12], files)
			}
		}
	}
}

// holdsValue reports whether a private write of sets has value v.
func holdsValue(sets []*pb.TxPvtReadWriteSet, v []byte) bool {
	for _, set := range sets {
		for _, ns := range set.GetNsPvtRwsets() {
			for _, c := range ns.GetCollectionPvtRwsets() {
				for _, w := range c.GetWrites() {
					if bytes.Equal(w.GetValue(), v) {
						return true
					}
				}
			}
		}
	}
	return false
}
