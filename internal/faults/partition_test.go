//go:build faults

package faults

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/network/localnet"
)

// TestPartition runs member 2's orderer and peer in their own network
// namespace, joined to the others by a veth pair, cuts the link under load
// (members 0 and 1 keep both a Raft and an endorsement majority), checks
// that the network keeps ordering and that member 2 is unreachable, heals
// the link, and then requires the usual end state: member 2 caught up,
// nothing acknowledged lost or duplicated. It needs root and ip netns; the
// test says so and does not run without them.
func TestPartition(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("partition needs root for ip netns: not running as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skipf("partition needs the ip command (iproute2): %v", err)
	}
	sub := 1 + rand.IntN(250)
	ns := fmt.Sprintf("blossom-part-%d-%d", os.Getpid(), sub)
	hostIf, nsIf := fmt.Sprintf("bph%d", sub), fmt.Sprintf("bpn%d", sub)
	hostIP, nsIP := fmt.Sprintf("10.213.%d.1", sub), fmt.Sprintf("10.213.%d.2", sub)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("partition needs network namespaces: ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	run("ip", "link", "add", hostIf, "type", "veth", "peer", "name", nsIf)
	t.Cleanup(func() { exec.Command("ip", "link", "del", hostIf).Run() })
	run("ip", "link", "set", nsIf, "netns", ns)
	run("ip", "addr", "add", hostIP+"/24", "dev", hostIf)
	run("ip", "link", "set", hostIf, "up")
	run("ip", "netns", "exec", ns, "ip", "addr", "add", nsIP+"/24", "dev", nsIf)
	run("ip", "netns", "exec", ns, "ip", "link", "set", nsIf, "up")
	run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")

	c := startCluster(t, localnet.Options{HostIPs: []string{hostIP, hostIP, nsIP}}, func(c *cluster) {
		for _, p := range c.procs {
			if p.member == 2 {
				p.prefix = []string{"ip", "netns", "exec", ns}
			}
		}
	})
	ld := c.startLoad(30, 8)
	ld.waitProgress(t, 0, 10, 30*time.Second)

	run("ip", "link", "set", hostIf, "down") // the partition
	cut := time.Now()
	ld.waitProgress(t, ld.count(), 10, 60*time.Second)
	if err := dialPeer(c, 2); err == nil {
		t.Fatal("peer2 answers across the partition")
	}
	t.Logf("ordering went on without member 2 (%s after the cut)", time.Since(cut).Round(time.Millisecond))

	run("ip", "link", "set", hostIf, "up") // healed
	for _, p := range c.procs {
		c.waitHealthy(p, 30*time.Second)
	}
	ld.waitProgress(t, ld.count(), 5, 30*time.Second)
	acked := ld.stop()
	c.verify(acked, true)
}
