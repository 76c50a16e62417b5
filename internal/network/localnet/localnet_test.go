package localnet

import (
	"encoding/json"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/orderer"
	"github.com/blossom-ledger/blossom/internal/pki"
)

func TestCreateWritesANetwork(t *testing.T) {
	dir := t.TempDir()
	l, err := Create(Options{Dir: dir, Members: 4, BatchTimeout: 25 * time.Millisecond, BatchMaxCount: 7, NodeValidity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := channelconfig.FromBlock(l.Genesis)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ChannelID() != DefaultChannel || len(cfg.ConsenterIDs()) != 4 || cfg.BatchTimeout() != 25*time.Millisecond {
		t.Errorf("genesis: channel %s, consenters %v, batch timeout %s", cfg.ChannelID(), cfg.ConsenterIDs(), cfg.BatchTimeout())
	}
	addrs := map[string]bool{}
	for i, m := range l.Members {
		fc, err := orderer.LoadFileConfig(m.OrdererConfig)
		if err != nil {
			t.Fatalf("member %d orderer config: %v", i, err)
		}
		nc, err := fc.NodeConfig(nil)
		if err != nil || nc.Certificate.Leaf.NotAfter.After(time.Now().Add(time.Hour+time.Minute)) {
			t.Errorf("member %d orderer node config: %v", i, err)
		}
		var pc map[string]any
		data, err := os.ReadFile(m.PeerConfig)
		if err != nil || json.Unmarshal(data, &pc) != nil || pc["channel"] != DefaultChannel || pc["listen"] != m.PeerAddr {
			t.Errorf("member %d peer config: %v %s", i, err, data)
		}
		for _, f := range []string{m.UserKey, m.ordDir + "/key.pem", m.peerDir + "/key.pem"} {
			info, err := os.Stat(f)
			if err != nil || info.Mode().Perm() != 0o600 {
				t.Errorf("%s: %v, mode %v", f, err, info.Mode())
			}
		}
		for _, a := range []string{m.PeerAddr, m.OrdererAddr, m.PeerHealth, m.OrdererHealth} {
			if addrs[a] {
				t.Errorf("address %s used twice", a)
			}
			addrs[a] = true
		}
	}
	if _, err := Create(Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), "already holds") {
		t.Errorf("second Create in the same directory: %v", err)
	}
	if err := l.RenewNodeCertificate(0, pki.RoleOrderer, 0); err == nil {
		t.Error("renewing an orderer certificate was accepted")
	}
	old := l.PeerCertificate(1)
	if err := l.RenewNodeCertificate(1, pki.RolePeer, time.Minute); err != nil {
		t.Fatal(err)
	}
	renewed := l.PeerCertificate(1)
	if renewed.Equal(old) || renewed.Subject.CommonName != old.Subject.CommonName || renewed.NotAfter.After(time.Now().Add(2*time.Minute)) {
		t.Errorf("renewed certificate: %s until %s", renewed.Subject, renewed.NotAfter)
	}
	if bundle, err := pki.ParseCertificatesPEM(l.CABundle()); err != nil || len(bundle) != 5 {
		t.Errorf("CA bundle: %d certificates, %v", len(bundle), err)
	}
}

func TestHostIPs(t *testing.T) {
	l, err := Create(Options{Dir: t.TempDir(), Members: 2, HostIPs: []string{"127.0.0.1", "10.213.7.2"}})
	if err != nil {
		t.Fatal(err)
	}
	m := l.Members[1]
	for _, a := range []string{m.PeerAddr, m.OrdererAddr, m.PeerHealth, m.OrdererHealth} {
		if !strings.HasPrefix(a, "10.213.7.2:") {
			t.Errorf("member 1 address %s", a)
		}
	}
	ips := l.PeerCertificate(1).IPAddresses
	if len(ips) != 2 || ips[1].String() != "10.213.7.2" {
		t.Errorf("member 1 peer certificate IPs %v", ips)
	}
	if len(l.PeerCertificate(0).IPAddresses) != 1 || !strings.HasPrefix(l.Members[0].PeerAddr, "127.0.0.1:") {
		t.Errorf("member 0: %s, %v", l.Members[0].PeerAddr, l.PeerCertificate(0).IPAddresses)
	}
}

func TestCreateRefusesBadOptions(t *testing.T) {
	for _, o := range []Options{{}, {Dir: t.TempDir(), Members: -1}, {Dir: t.TempDir(), Members: MaxMembers + 1},
		{Dir: t.TempDir(), HostIPs: []string{"127.0.0.1"}}, {Dir: t.TempDir(), HostIPs: []string{"127.0.0.1", "::1", "x"}}} {
		if _, err := Create(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

// TestFreeAddrsNeverRepeatsAPort asks for addresses in turn, as members
// do, and requires every port to be handed out once: the kernel offers a
// port again as soon as it is released.
func TestFreeAddrsNeverRepeatsAPort(t *testing.T) {
	l := &Layout{}
	seen := make(map[string]bool)
	for range 100 {
		addrs, err := l.freeAddrs(4, net.IPv4(127, 0, 0, 1))
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range addrs {
			if seen[a] {
				t.Fatalf("address %s handed out twice", a)
			}
			seen[a] = true
		}
	}
}
