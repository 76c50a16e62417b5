package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/client"
	"github.com/blossom-ledger/blossom/internal/network/nettest"
	"github.com/blossom-ledger/blossom/internal/orderer"
	"github.com/blossom-ledger/blossom/internal/peer"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
	"github.com/blossom-ledger/blossom/internal/txn"
)

// TestPeerCommandJoinsAndStops: `blossom peer` started from a YAML file
// joins a running network's channel from the genesis block, catches up
// with the orderers, endorses, and stops cleanly when its context ends.
func TestPeerCommandJoinsAndStops(t *testing.T) {
	net := nettest.Start(t, nettest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cl := net.Client(t, 0)
	res, err := cl.Submit(ctx, put("before", "1"), net.PeerNames(0, 1))
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	cred := net.PKI.Member("Org1MSP").Issue(pki.RolePeer, "peer1", nil)
	keyPath, certPath := cred.WriteFiles(t, dir)
	if err := orderer.WriteBlockFile(filepath.Join(dir, "blossom.block"), net.Genesis); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`# a second peer of Org1MSP
dataDir: data
listen: 127.0.0.1:0
cert: %s
key: %s
genesisBlock: blossom.block
channel: %s
logLevel: warn
chaincodes:
  - name: kv
    implementation: kvtest
    endorsementPolicy: MAJORITY Endorsement
`, filepath.Base(certPath), filepath.Base(keyPath), net.Channel)
	configPath := filepath.Join(dir, "peer.yaml")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}

	runCtx, stop := context.WithCancel(ctx)
	started := make(chan *peer.Node, 1)
	done := make(chan error, 1)
	logs := &syncWriter{w: new(bytes.Buffer)}
	go func() {
		done <- runPeer(runCtx, configPath, logs, func(n *peer.Node) { started <- n })
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
	if !ok {
		t.Fatal("channel not joined")
	}
	if _, err := ch.Ledger().WaitForHeight(ctx, res.Block+1); err != nil {
		t.Fatalf("the new peer did not catch up: %v", err)
	}
	// It endorses like the others.
	cfg := net.ClientConfig(0, nil)
	cfg.Peers = append(cfg.Peers, clientEndpoint("Org1MSP/peer1", node.Addr().String()))
	got, err := net.ConnectClient(t, cfg).Evaluate(ctx, kvReq("kv:Get", "before"), "Org1MSP/peer1")
	if err != nil || string(got) != "1" {
		t.Fatalf("evaluate on the new peer: %q %v", got, err)
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("peer stopped with %v", err)
		}
	case <-ctx.Done():
		t.Fatal("peer did not stop")
	}
	// A restart reopens the same ledger.
	runCtx, stop = context.WithCancel(ctx)
	go func() {
		done <- runPeer(runCtx, configPath, logs, func(n *peer.Node) { started <- n })
	}()
	node = <-started
	ch, _ = node.Channel(net.Channel)
	if ch.Height() < res.Block+1 {
		t.Fatalf("restarted peer at height %d", ch.Height())
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestPeerCommandRefusesBadConfigs(t *testing.T) {
	dir := t.TempDir()
	c := testpki.NewConsortium(t, "Org1MSP")
	cred := c.Member("Org1MSP").Issue(pki.RolePeer, "peer0", nil)
	keyPath, certPath := cred.WriteFiles(t, dir)
	loose := filepath.Join(dir, "loose-key.pem")
	data, _ := os.ReadFile(keyPath)
	if err := os.WriteFile(loose, data, 0o644); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{"dataDir": "data", "listen": "127.0.0.1:0", "cert": certPath, "key": keyPath, "genesisBlock": filepath.Join(dir, "missing.block"), "channel": "blossom"}
	render := func(over map[string]string) string {
		var b strings.Builder
		for _, k := range []string{"dataDir", "listen", "cert", "key", "genesisBlock", "channel", "extra", "chaincodes"} {
			v, ok := over[k]
			if !ok {
				v, ok = base[k]
			}
			if ok && v != "-" {
				fmt.Fprintf(&b, "%s: %s\n", k, v)
			}
		}
		return b.String()
	}
	tests := []struct {
		name string
		over map[string]string
		want string
	}{
		{"missing fields", map[string]string{"listen": "-", "key": "-"}, "missing listen, key"},
		{"unknown field", map[string]string{"extra": "1"}, `unknown field "extra"`},
		{"key readable by others", map[string]string{"key": loose}, "must not be readable by group or others"},
		{"no genesis block", nil, "genesis block"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "peer.yaml")
			if err := os.WriteFile(path, []byte(render(tc.over)), 0o600); err != nil {
				t.Fatal(err)
			}
			err := runPeer(context.Background(), path, &bytes.Buffer{}, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	var stderr bytes.Buffer
	if code := Main([]string{"peer"}, &bytes.Buffer{}, &stderr); code == 0 || !strings.Contains(stderr.String(), "config") {
		t.Fatalf("blossom peer without --config: exit %d, %q", code, stderr.String())
	}
}

// syncWriter serialises writes to a buffer shared with the test.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func kvReq(function string, args ...string) txn.Request {
	req := txn.Request{Chaincode: nettest.KVChaincode, Function: function}
	for _, a := range args {
		req.Args = append(req.Args, []byte(a))
	}
	return req
}

func put(key, value string) txn.Request { return kvReq("kv:Put", key, value) }

func clientEndpoint(name, addr string) client.Endpoint {
	return client.Endpoint{Name: name, Address: addr}
}
