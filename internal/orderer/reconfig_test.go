package orderer

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
)

// configUpdate builds a CONFIG_UPDATE envelope changing the orderer
// section of cfg to consenters, signed by the given admins.
func configUpdate(t *testing.T, cfg *channelconfig.Config, consenters []*pb.Consenter, admins ...*testpki.Credential) []byte {
	t.Helper()
	return ordererUpdate(t, cfg, func(o *pb.OrdererConfig) { o.Consenters = consenters }, admins...)
}

// ordererUpdate builds a CONFIG_UPDATE envelope changing the orderer
// section of cfg as change does, signed by the given admins.
func ordererUpdate(t *testing.T, cfg *channelconfig.Config, change func(*pb.OrdererConfig), admins ...*testpki.Credential) []byte {
	t.Helper()
	u := cfg.NewUpdate(channelconfig.ElementOrderer)
	o := cfg.Proto().Orderer
	change(o)
	u.Orderer = o
	return signedUpdate(t, cfg, u, admins...)
}

// sendLoad broadcasts n small envelopes through orderer i and waits for
// all of them to be ordered (answered SUCCESS, or DUPLICATE_TXID when a
// leadership change lost the first answer and the client resubmitted).
func (c *cluster) sendLoad(t *testing.T, i, n int) {
	t.Helper()
	cred := c.clients[mspID(0)]
	envs := make([][]byte, n)
	ids := make([]string, n)
	for k := range envs {
		envs[k], ids[k] = newEnvelope(t, cred, testChannel, 32)
	}
	st := newLoadStats()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := loadClient(ctx, []string{c.nodes[i].addr}, cred, c.trust, envs, ids, 0, 64, st); err != nil {
		t.Fatal(err)
	}
	if len(st.success)+len(st.duplicate) != n || len(st.other) > 0 {
		t.Fatalf("%d of %d envelopes SUCCESS, %d DUPLICATE_TXID; other answers %v", len(st.success), n, len(st.duplicate), st.other)
	}
}

func raftServers(t *testing.T, n *Node) []string {
	t.Helper()
	fut := n.chain(testChannel).raft.GetConfiguration()
	if err := fut.Error(); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range fut.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			ids = append(ids, string(s.ID))
		}
	}
	slices.Sort(ids)
	return ids
}

// TestAddAndRemoveOrderer: a fourth orderer joins through a config update
// signed by a majority of the member admins (an update signed by one of
// three is refused), catches up from a Raft snapshot by pulling blocks
// from the others' Deliver, and orders; then a consenter is removed the
// same way and leaves the Raft group.
func TestAddAndRemoveOrderer(t *testing.T) {
	c := newCluster(t, 3, func(cc *pb.ChannelConfig) {
		cc.Orderer.BatchSize = &pb.BatchSize{MaxMessageCount: 10}
		cc.Orderer.Raft = &pb.RaftOptions{SnapshotIntervalBlocks: 4, TrailingLogs: 2}
	})
	leader := c.leader()
	c.sendLoad(t, leader, 200) // at least 20 blocks: several snapshots, log compacted

	// The new orderer: a second orderer of Org1, on a pre-bound port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cred := c.pki.Member("Org1MSP").Issue(pki.RoleOrderer, "orderer3", nil)
	fourth := &testNode{cred: cred, msp: "Org1MSP", dir: filepath.Join(t.TempDir(), "orderer3"), addr: ln.Addr().String()}
	cfg, _ := c.nodes[leader].node.Config(testChannel)
	consenters := append(cfg.Consenters(), &pb.Consenter{Id: "orderer3", MspId: "Org1MSP", Address: fourth.addr, CertDer: cred.Cert.Raw})
	conn := c.dial(leader, c.clients["Org1MSP"])

	resp := broadcastOne(t, conn, configUpdate(t, cfg, consenters, c.admins["Org1MSP"]))
	if resp.Status != pb.Status_FORBIDDEN || !strings.Contains(resp.Info, "MAJORITY Admins needs 2 of 3 members, got 1") {
		t.Fatalf("update signed by 1 of 3 admins: %s %s", resp.Status, resp.Info)
	}
	resp = broadcastOne(t, conn, configUpdate(t, cfg, consenters, c.admins["Org1MSP"], c.admins["Org3MSP"]))
	if resp.Status != pb.Status_SUCCESS {
		t.Fatalf("update signed by 2 of 3 admins: %s %s", resp.Status, resp.Info)
	}
	h := c.waitSameHeight(0, 10*time.Second)
	for i, tn := range c.nodes {
		cfg, _ := tn.node.Config(testChannel)
		if cfg.Sequence() != 1 || len(cfg.ConsenterIDs()) != 4 {
			t.Fatalf("orderer %d: config sequence %d consenters %v", i, cfg.Sequence(), cfg.ConsenterIDs())
		}
		last, _ := tn.node.Block(testChannel, h-1)
		if !channelconfig.IsConfigBlock(last) || last.Metadata.LastConfig != h-1 {
			t.Fatalf("orderer %d: block %d is not the config block", i, h-1)
		}
	}
	leader = c.leader()
	eventually(t, 10*time.Second, "four voters", func() bool {
		return strings.Join(raftServers(t, c.nodes[leader].node), ",") == "orderer0,orderer1,orderer2,orderer3"
	})

	// Start the new orderer from the genesis block alone.
	c.nodes = append(c.nodes, fourth)
	c.startWith(3, ln)
	c.waitSameHeight(h, 30*time.Second)
	c.logs.waitFor(t, "snapshot is ahead of the local chain; pulling blocks", 5*time.Second)
	c.logs.waitFor(t, "caught up from another orderer", 5*time.Second)
	eventually(t, 10*time.Second, "the new orderer to know the leader", func() bool { return fourth.node.Leader(testChannel) != "" })

	// It orders (forwarding to the leader, or leading).
	c.sendLoad(t, 3, 30)
	h = c.waitSameHeight(h+1, 10*time.Second)

	// Remove a follower that is not the new orderer.
	leader = c.leader()
	victim := (leader + 1) % 3
	victimID := fmt.Sprintf("orderer%d", victim)
	cfg, _ = c.nodes[leader].node.Config(testChannel)
	var rest []*pb.Consenter
	for _, cs := range cfg.Consenters() {
		if cs.Id != victimID {
			rest = append(rest, cs)
		}
	}
	resp = broadcastOne(t, c.dial(leader, c.clients["Org2MSP"]), configUpdate(t, cfg, rest, c.admins["Org2MSP"], c.admins["Org3MSP"]))
	if resp.Status != pb.Status_SUCCESS {
		t.Fatalf("remove %s: %s %s", victimID, resp.Status, resp.Info)
	}
	eventually(t, 10*time.Second, "three voters", func() bool {
		l := c.leader()
		return !slices.Contains(raftServers(t, c.nodes[l].node), victimID) && len(raftServers(t, c.nodes[l].node)) == 3
	})
	if !c.nodes[victim].node.chain(testChannel).retired.Load() {
		t.Errorf("%s applied its removal but did not retire", victimID)
	}
	if err := c.nodes[victim].node.Ready(); err == nil || !strings.Contains(err.Error(), "no longer a consenter") {
		t.Errorf("removed orderer ready: %v", err)
	}
	if err := c.nodes[victim].node.Live(); err != nil {
		t.Errorf("removed orderer not live: %v", err)
	}
	c.logs.waitFor(t, "raft node stopped: no longer a consenter", 10*time.Second)
	removedHeight := c.height(victim)
	c.sendLoad(t, c.leader(), 20)
	var remaining []int
	for i := range c.nodes {
		if i != victim {
			remaining = append(remaining, i)
		}
	}
	eventually(t, 10*time.Second, "the remaining orderers to agree", func() bool {
		h0 := c.height(remaining[0])
		return h0 > removedHeight && c.height(remaining[1]) == h0 && c.height(remaining[2]) == h0
	})
	if got := c.height(victim); got != removedHeight {
		t.Errorf("the removed orderer's chain grew from %d to %d", removedHeight, got)
	}
}

// TestNewConsenterReplaysEarlierConfig: a consenter added after another
// config block, with the log not compacted, replays that earlier block
// (which does not list it) before the one that adds it; it must not take
// the earlier block for its removal. It becomes ready and orders.
func TestNewConsenterReplaysEarlierConfig(t *testing.T) {
	c := newCluster(t, 3, nil)
	leader := c.leader()
	conn := c.dial(leader, c.clients["Org1MSP"])
	admins := []*testpki.Credential{c.admins["Org1MSP"], c.admins["Org2MSP"]}

	// 1. A config block that changes the batch size only.
	cfg, _ := c.nodes[leader].node.Config(testChannel)
	u := cfg.NewUpdate(channelconfig.ElementOrderer)
	o := cfg.Proto().Orderer
	o.BatchSize = &pb.BatchSize{MaxMessageCount: 7}
	u.Orderer = o
	if resp := broadcastOne(t, conn, signedUpdate(t, cfg, u, admins...)); resp.Status != pb.Status_SUCCESS {
		t.Fatalf("batch update: %s %s", resp.Status, resp.Info)
	}
	c.waitSameHeight(2, 10*time.Second)

	// 2. A config block that adds a fourth consenter.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cred := c.pki.Member("Org2MSP").Issue(pki.RoleOrderer, "orderer3", nil)
	fourth := &testNode{cred: cred, msp: "Org2MSP", dir: filepath.Join(t.TempDir(), "orderer3"), addr: ln.Addr().String()}
	cfg, _ = c.nodes[leader].node.Config(testChannel)
	consenters := append(cfg.Consenters(), &pb.Consenter{Id: "orderer3", MspId: "Org2MSP", Address: fourth.addr, CertDer: cred.Cert.Raw})
	if resp := broadcastOne(t, conn, configUpdate(t, cfg, consenters, admins...)); resp.Status != pb.Status_SUCCESS {
		t.Fatalf("add orderer3: %s %s", resp.Status, resp.Info)
	}
	h := c.waitSameHeight(3, 10*time.Second)

	c.nodes = append(c.nodes, fourth)
	c.startWith(3, ln)
	c.waitSameHeight(h, 30*time.Second)
	eventually(t, 15*time.Second, "the new consenter to be ready", func() bool { return fourth.node.Ready() == nil })
	if fourth.node.chain(testChannel).retired.Load() {
		t.Fatal("the new consenter retired on replaying a config block from before its addition")
	}
	c.sendLoad(t, 3, 20)
	c.waitSameHeight(h+1, 10*time.Second)
}

// signedUpdate signs a config update by admins into a CONFIG_UPDATE
// envelope.
func signedUpdate(t *testing.T, cfg *channelconfig.Config, u *pb.ConfigUpdate, admins ...*testpki.Credential) []byte {
	t.Helper()
	raw := protocol.MustMarshal(u)
	var sigs []*pb.ConfigSignature
	for _, a := range admins {
		s, err := channelconfig.SignUpdate(raw, a.Signer)
		if err != nil {
			t.Fatal(err)
		}
		sigs = append(sigs, s)
	}
	env, _, err := channelconfig.NewUpdateEnvelope(admins[0].Signer, cfg.ChannelID(), raw, sigs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return env
}
