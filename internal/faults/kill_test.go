package faults

import (
	"syscall"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/network/localnet"
)

// runKills kills and restarts nodes under load: every third kill targets
// the orderer that currently leads, the others a random orderer or peer.
// After each restart it waits for fresh acknowledgements, so every fault
// happens under load. It returns the measured leader failover times.
func runKills(t *testing.T, c *cluster, ld *load, kills int) []time.Duration {
	t.Helper()
	var failovers []time.Duration
	leaderKills := 0
	for k := 0; k < kills; k++ {
		p := c.procs[c.rng.IntN(len(c.procs))]
		if k%3 == 0 {
			if l := c.leader(); l != nil {
				p = l
			}
		}
		before := ld.count()
		if d := c.killAndRestart(p); d > 0 {
			failovers = append(failovers, d)
			leaderKills++
		}
		ld.waitProgress(t, before, 3, 30*time.Second)
	}
	if leaderKills == 0 {
		t.Errorf("none of %d kills hit the Raft leader", kills)
	}
	return failovers
}

// stopLeader pauses the leading orderer with SIGSTOP for pause (past the
// election timeout), checks that another orderer takes over and the
// network keeps ordering, then resumes it.
func stopLeader(t *testing.T, c *cluster, ld *load, pause time.Duration) time.Duration {
	t.Helper()
	l := c.leader()
	if l == nil {
		t.Fatal("no orderer claims leadership")
	}
	stopped := time.Now()
	c.kill(l, syscall.SIGSTOP)
	failover := c.waitNewLeader(l, stopped, 20*time.Second)
	before := ld.count()
	ld.waitProgress(t, before, 3, 30*time.Second)
	if rest := pause - time.Since(stopped); rest > 0 {
		time.Sleep(rest) // hold the pause for its full length
	}
	c.kill(l, syscall.SIGCONT)
	c.waitHealthy(l, 30*time.Second)
	return failover
}

// TestKillRestartShort is the fault run CI executes: at least 20 kill -9s
// of orderers (the leader included) and peers under steady load, and a
// SIGSTOP of the leader; then no acknowledged transaction may be lost or
// duplicated, the ledgers verify, and the peers' hashes agree.
func TestKillRestartShort(t *testing.T) {
	c := startCluster(t, localnet.Options{}, nil)
	ld := c.startLoad(40, 8)
	ld.waitProgress(t, 0, 10, 30*time.Second)
	kills := 20
	failovers := runKills(t, c, ld, kills)
	failovers = append(failovers, stopLeader(t, c, ld, 2*time.Second))
	before := ld.count()
	ld.waitProgress(t, before, 5, 30*time.Second)
	acked := ld.stop()
	t.Logf("%d kills, %d transactions acknowledged of %d attempted; leader failovers: %v", kills, len(acked), ld.attempts.Load(), failovers)
	c.verify(acked, true)
}
