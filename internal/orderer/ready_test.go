package orderer

import (
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// TestLiveAndReady: an orderer of a running cluster is live and ready;
// once it loses quorum (two of three killed) it is still live but not
// ready (no leader); with a consenter back it is ready again.
func TestLiveAndReady(t *testing.T) {
	c := newCluster(t, 3, nil)
	leader := c.leader()
	for i, tn := range c.nodes {
		eventually(t, 10*time.Second, "ready", func() bool { return tn.node.Ready() == nil })
		if err := tn.node.Live(); err != nil {
			t.Fatalf("orderer %d not live: %v", i, err)
		}
	}
	survivor := (leader + 1) % 3
	var killed []int
	for i := range c.nodes {
		if i != survivor {
			c.kill(i)
			killed = append(killed, i)
		}
	}
	s := c.nodes[survivor].node
	var notReady error
	eventually(t, 15*time.Second, "the survivor to lose the leader", func() bool {
		notReady = s.Ready()
		return notReady != nil
	})
	if !strings.Contains(notReady.Error(), "has no leader") {
		t.Fatalf("survivor not ready for another reason: %v", notReady)
	}
	if err := s.Live(); err != nil {
		t.Fatalf("survivor without quorum not live: %v", err)
	}
	c.restart(killed[0])
	eventually(t, 15*time.Second, "ready again", func() bool { return s.Ready() == nil && c.nodes[killed[0]].node.Ready() == nil })
}

// TestRemovedLeaderIsLiveNotReady: a config update that removes the
// leader makes it leave the Raft group (Raft shuts its node down); it stays
// live, serving Deliver, but is not ready, and the other two order on.
func TestRemovedLeaderIsLiveNotReady(t *testing.T) {
	c := newCluster(t, 3, nil)
	leader := c.leader()
	cfg, _ := c.nodes[leader].node.Config(testChannel)
	self := c.nodes[leader].cred.Cert.Subject.CommonName
	var rest []*pb.Consenter
	for _, cs := range cfg.Consenters() {
		if cs.Id != self {
			rest = append(rest, cs)
		}
	}
	resp := broadcastOne(t, c.dial(leader, c.clients["Org1MSP"]), configUpdate(t, cfg, rest, c.admins["Org1MSP"], c.admins["Org2MSP"]))
	if resp.Status != pb.Status_SUCCESS {
		t.Fatalf("remove the leader: %s %s", resp.Status, resp.Info)
	}
	removed := c.nodes[leader].node
	var notReady error
	eventually(t, 15*time.Second, "the removed leader to retire", func() bool {
		notReady = removed.Ready()
		return notReady != nil && strings.Contains(notReady.Error(), "no longer a consenter")
	})
	if err := removed.Live(); err != nil {
		t.Fatalf("removed leader not live: %v", err)
	}
	for i, tn := range c.nodes {
		if i != leader {
			eventually(t, 15*time.Second, "the others ready", func() bool { return tn.node.Ready() == nil })
		}
	}
}
