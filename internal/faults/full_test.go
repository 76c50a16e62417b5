//go:build faults && linux

package faults

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/blossom-ledger/blossom/internal/network/localnet"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/transport"
)

// TestKillRestartLong: 100 kills (a third of them the Raft leader) and
// SIGSTOPs of the leader and of a peer, under load.
func TestKillRestartLong(t *testing.T) {
	c := startCluster(t, localnet.Options{}, nil)
	ld := c.startLoad(60, 12)
	ld.waitProgress(t, 0, 10, 30*time.Second)
	var failovers []time.Duration
	for round := 0; round < 5; round++ {
		failovers = append(failovers, runKills(t, c, ld, 20)...)
		failovers = append(failovers, stopLeader(t, c, ld, 3*time.Second))
		stopPeer(t, c, ld, c.proc(fmt.Sprintf("peer%d", round%3)), 3*time.Second)
	}
	acked := ld.stop()
	t.Logf("100 kills, 10 SIGSTOPs, %d transactions acknowledged; leader failovers: %v", len(acked), failovers)
	c.verify(acked, true)
}

// stopPeer pauses a peer with SIGSTOP for pause while the network keeps
// ordering, then resumes it.
func stopPeer(t *testing.T, c *cluster, ld *load, p *proc, pause time.Duration) {
	t.Helper()
	stopped := time.Now()
	c.kill(p, syscall.SIGSTOP)
	ld.waitProgress(t, ld.count(), 3, 30*time.Second)
	if rest := pause - time.Since(stopped); rest > 0 {
		time.Sleep(rest) // hold the pause for its full length
	}
	c.kill(p, syscall.SIGCONT)
	c.waitHealthy(p, 30*time.Second)
}

// TestTLSCertificateExpiryAndRenewal lets peer0's certificate expire under
// load: a new TLS connection to it is refused as expired, and restarted on
// the expired certificate it stays unreachable; renewed, it serves and
// catches up. Transactions it endorsed with the expired certificate over
// connections opened before may commit invalid, but each acknowledged one
// commits exactly once everywhere.
func TestTLSCertificateExpiryAndRenewal(t *testing.T) {
	const lifetime = 12 * time.Second
	c := startCluster(t, localnet.Options{}, func(c *cluster) {
		if err := c.layout.RenewNodeCertificate(0, pki.RolePeer, lifetime); err != nil {
			t.Fatal(err)
		}
	})
	expiry := c.layout.PeerCertificate(0).NotAfter
	ld := c.startLoad(30, 6)
	ld.waitProgress(t, 0, 10, 30*time.Second)
	if wait := time.Until(expiry) + time.Second; wait > 0 {
		time.Sleep(wait) // the certificate's lifetime is the fault
	}
	p := c.proc("peer0")
	c.killAndRestart(p) // restarts on the expired certificate: healthz is local, it serves
	if err := dialPeer(c, 0); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("a TLS connection to peer0 with an expired certificate: %v, want a certificate expired error", err)
	}
	ld.waitProgress(t, ld.count(), 5, 30*time.Second) // the others go on
	if err := c.layout.RenewNodeCertificate(0, pki.RolePeer, 0); err != nil {
		t.Fatal(err)
	}
	c.killAndRestart(p)
	if err := dialPeer(c, 0); err != nil {
		t.Fatalf("peer0 after renewal: %v", err)
	}
	ld.waitProgress(t, ld.count(), 5, 30*time.Second)
	acked := ld.stop()
	c.verify(acked, false)
}

// dialPeer opens a fresh TLS connection to member i's peer and asks for
// its channel information.
func dialPeer(c *cluster, i int) error {
	cfg := c.configs[1]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := transport.Dial(ctx, c.layout.Members[i].PeerAddr, transport.ClientTLSConfig(cfg.TLSCertificate, cfg.Trust, pki.RolePeer))
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = pb.NewPeerClient(conn).ChannelInfo(ctx, &pb.ChannelInfoRequest{ChannelId: c.layout.Channel})
	return err
}

// TestDiskFull fills the file system holding peer2's ledger under load: it
// stops committing (or exits) while the others go on; once space is freed
// and it is restarted it catches up, and nothing acknowledged is lost. A
// small tmpfs makes the disk genuinely full (ENOSPC); that needs root
// (mount). Without it the running peer's RLIMIT_FSIZE is lowered to zero
// instead (prlimit), so its file writes fail with EFBIG: the same
// failed-write paths, though not the same errno.
func TestDiskFull(t *testing.T) {
	var tmpfs string
	c := startCluster(t, localnet.Options{}, func(c *cluster) {
		dir := c.layout.Members[2].PeerDataDir
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		// BLOSSOM_FAULTS_NO_TMPFS=1 takes the path of a machine without root.
		if os.Geteuid() == 0 && os.Getenv("BLOSSOM_FAULTS_NO_TMPFS") == "" && exec.Command("mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", dir).Run() == nil {
			tmpfs = dir
			t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
		}
	})
	ld := c.startLoad(40, 8)
	ld.waitProgress(t, 0, 10, 30*time.Second)
	p := c.proc("peer2")
	filler := ""
	if tmpfs != "" {
		filler = filepath.Join(tmpfs, "filler")
		fillDisk(t, filler)
	} else {
		t.Log("not root: no tmpfs; limiting peer2's file size to 0 with prlimit instead")
		if err := setFileSizeLimit(p.cmd.Process.Pid, 0); err != nil {
			t.Fatalf("prlimit: %v", err)
		}
	}
	// Wait until peer2 falls behind by 10 blocks or exits.
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		h0, err0 := c.clients[0].ChannelInfo(ctx, c.layout.Members[0].PeerName(), "")
		h2, err2 := c.clients[0].ChannelInfo(ctx, c.layout.Members[2].PeerName(), "")
		cancel()
		if !p.running() || (err0 == nil && err2 == nil && h2.Height+10 <= h0.Height) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("peer2 keeps up with a full disk: %v %v %v %v", h0, err0, h2, err2)
		}
		time.Sleep(50 * time.Millisecond)
	}
	logged, err := os.ReadFile(p.log)
	if err != nil || !strings.Contains(string(logged), "no space left on device") && !strings.Contains(string(logged), "file too large") {
		t.Fatalf("peer2's log does not report the failed writes (%v)", err)
	}
	t.Logf("peer2 with a full disk: running=%v", p.running())
	if filler != "" {
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
	}
	if p.running() {
		c.kill(p, syscall.SIGKILL)
	}
	c.start(p)
	c.waitHealthy(p, 30*time.Second)
	ld.waitProgress(t, ld.count(), 5, 30*time.Second)
	acked := ld.stop()
	c.verify(acked, true)
}

// setFileSizeLimit sets process pid's soft RLIMIT_FSIZE, keeping its hard
// limit (allowed without privilege for a process of the same user).
func setFileSizeLimit(pid int, soft uint64) error {
	var old syscall.Rlimit
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), syscall.RLIMIT_FSIZE, 0, uintptr(unsafe.Pointer(&old)), 0, 0); e != 0 {
		return e
	}
	lim := syscall.Rlimit{Cur: soft, Max: old.Max}
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), syscall.RLIMIT_FSIZE, uintptr(unsafe.Pointer(&lim)), 0, 0, 0); e != 0 {
		return e
	}
	return nil
}

// fillDisk writes path until the file system is full.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for {
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatalf("fill disk: %v", err)
		}
	}
}
