package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/ledger"
	"github.com/blossom-ledger/blossom/internal/network/nettest"
	"github.com/blossom-ledger/blossom/internal/orderer"
	"github.com/blossom-ledger/blossom/internal/peer"
	"github.com/blossom-ledger/blossom/internal/pki"
)

// TestLedgerSnapshotAndPeerJoin: `blossom ledger snapshot` takes a
// snapshot of the admin's own peer over mutual TLS and prints its hash,
// `blossom ledger snapshot-info` checks it and prints the same hash, and
// `blossom peer` with joinSnapshot in its file (and the hash pinned with
// --snapshot-hash) joins from it without a genesis block, catches up and
// answers queries; a wrong pinned hash is refused.
func TestLedgerSnapshotAndPeerJoin(t *testing.T) {
	net := nettest.Start(t, nettest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl := net.Client(t, 0)
	if _, err := cl.Submit(ctx, put("before", "1"), net.PeerNames(0, 1)); err != nil {
		t.Fatal(err)
	}
	net.WaitForHeight(t, net.OrdererHeight(0), 10*time.Second)
	dir := t.TempDir()
	if err := orderer.WriteBlockFile(filepath.Join(dir, "blossom.block"), net.Genesis); err != nil {
		t.Fatal(err)
	}
	clientFile := writeAdminClientFile(t, net, dir, 0)
	snapDir := filepath.Join(dir, "snap")
	code, out, errOut := runLedger("snapshot", "--client", clientFile, "--out", snapDir)
	hashRE := regexp.MustCompile(`snapshot hash ([0-9a-f]{64})`)
	m := hashRE.FindStringSubmatch(out)
	if code != 0 || m == nil || !strings.Contains(out, "private data  yes, of Org1MSP") {
		t.Fatalf("ledger snapshot: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	hash := m[1]
	code, out, errOut = runLedger("snapshot-info", snapDir)
	if code != 0 || !strings.Contains(out, "snapshot hash "+hash) {
		t.Fatalf("ledger snapshot-info: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, _, _ = runLedger("snapshot", "--client", clientFile, "--out", snapDir); code == 0 {
		t.Fatal("snapshot over an existing directory succeeded")
	}

	cred := net.PKI.Member("Org1MSP").Issue(pki.RolePeer, "peer-snap", nil)
	keyPath, certPath := cred.WriteFiles(t, dir)
	writeConfig := func(name, dataDir string) string {
		config := fmt.Sprintf(`dataDir: %s
listen: 127.0.0.1:0
cert: %s
key: %s
channel: %s
joinSnapshot: snap
logLevel: warn
chaincodes:
  - name: kv
    implementation: kvtest
    endorsementPolicy: MAJORITY Endorsement
`, dataDir, filepath.Base(certPath), filepath.Base(keyPath), net.Channel)
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	bad := writeConfig("bad.yaml", "bad-data")
	err := runPeerWith(ctx, bad, peerFlags{joinSnapshotHash: strings.Repeat("00", 32)}, &bytes.Buffer{}, nil)
	if err == nil || !strings.Contains(err.Error(), "expected") {
		t.Fatalf("peer with a wrong pinned snapshot hash: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "bad-data", "channels")); len(entries) != 0 {
		t.Fatalf("a refused snapshot left %d entries in the data directory", len(entries))
	}

	configPath := writeConfig("peer.yaml", "data")
	runCtx, stop := context.WithCancel(ctx)
	started := make(chan *peer.Node, 1)
	done := make(chan error, 1)
	go func() {
		done <- runPeerWith(runCtx, configPath, peerFlags{joinSnapshotHash: hash}, &syncWriter{w: new(bytes.Buffer)}, func(n *peer.Node) { started <- n })
	}()
	var node *peer.Node
	select {
	case node = <-started:
	case err := <-done:
		t.Fatalf("peer exited: %v", err)
	case <-ctx.Done():
		t.Fatal("peer did not start")
	}
	ch, ok := node.Channel(net.Channel)
	if !ok || ch.Ledger().SnapshotHeight() == 0 {
		t.Fatal("the peer did not join from the snapshot")
	}
	res, err := cl.Submit(ctx, put("after", "2"), net.PeerNames(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Ledger().WaitForHeight(ctx, res.Block+1); err != nil {
		t.Fatalf("the snapshot peer did not catch up: %v", err)
	}
	cfg := net.ClientConfig(0, nil)
	cfg.Peers = append(cfg.Peers, clientEndpoint("Org1MSP/peer-snap", node.Addr().String()))
	viaNew := net.ConnectClient(t, cfg)
	for key, want := range map[string]string{"before": "1", "after": "2"} {
		if got, err := viaNew.Evaluate(ctx, kvReq("kv:Get", key), "Org1MSP/peer-snap"); err != nil || string(got) != want {
			t.Fatalf("get %s on the snapshot peer: %q %v", key, got, err)
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("peer stopped with %v", err)
	}
	// A restart with the genesis block in the file reopens the ledger (its
	// block 0, the snapshot's last config block, is that genesis block)
	// and leaves the snapshot alone.
	cfgBytes, _ := os.ReadFile(configPath)
	withGenesis := filepath.Join(dir, "peer-genesis.yaml")
	if err := os.WriteFile(withGenesis, append(cfgBytes, []byte("genesisBlock: blossom.block\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	// ... but refuses the genesis block of another chain.
	cc, _, err := ledger.ConfigFromBlock(net.Genesis)
	if err != nil {
		t.Fatal(err)
	}
	otherGenesis, err := channelconfig.GenesisBlock(cc, time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if err := orderer.WriteBlockFile(filepath.Join(dir, "other.block"), otherGenesis); err != nil {
		t.Fatal(err)
	}
	withOther := filepath.Join(dir, "peer-other.yaml")
	if err := os.WriteFile(withOther, append(cfgBytes, []byte("genesisBlock: other.block\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := runPeerWith(ctx, withOther, peerFlags{}, &bytes.Buffer{}, nil); err == nil || !strings.Contains(err.Error(), "not the genesis block given") {
		t.Fatalf("snapshot peer with another chain's genesis block: %v", err)
	}
	runCtx, stop = context.WithCancel(ctx)
	go func() {
		done <- runPeerWith(runCtx, withGenesis, peerFlags{}, &syncWriter{w: new(bytes.Buffer)}, func(n *peer.Node) { started <- n })
	}()
	select {
	case node = <-started:
	case err := <-done:
		t.Fatalf("restarted peer exited: %v", err)
	}
	if ch, _ := node.Channel(net.Channel); ch.Height() <= res.Block {
		t.Fatalf("restarted snapshot peer at height %d", ch.Height())
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("peer stopped with %v", err)
	}
	code, out, errOut = runLedger("verify", filepath.Join(dir, "data", "channels", net.Channel))
	if code != 0 || !strings.Contains(out, "ledger OK") || !strings.Contains(out, "created from the snapshot at height") || !strings.Contains(out, hash) {
		t.Fatalf("verify of the snapshot peer's ledger: exit %d, %q %q", code, out, errOut)
	}
}
