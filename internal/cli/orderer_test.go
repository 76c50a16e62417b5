package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/fsutil"
	"github.com/blossom-ledger/blossom/internal/orderer"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
	"github.com/blossom-ledger/blossom/internal/transport"
	"github.com/blossom-ledger/blossom/internal/txn"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func writeCert(t *testing.T, path string, der []byte) {
	t.Helper()
	if err := fsutil.WriteFileAtomic(path, pki.EncodeCertificatePEM(der), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestChannelCreateAndOrderer builds a genesis block with `blossom channel
// create`, runs `blossom orderer` on it, orders an envelope through it and
// stops it by cancelling its context (as SIGTERM does).
func TestChannelCreateAndOrderer(t *testing.T) {
	dir := t.TempDir()
	c := testpki.NewConsortium(t, "SAMSMSP", "Agency1MSP")
	writeCert(t, filepath.Join(dir, "root.pem"), c.Root.Cert.Raw)
	ordDir := filepath.Join(dir, "orderer0")
	os.MkdirAll(ordDir, 0o700)
	ord := c.Member("SAMSMSP").Issue(pki.RoleOrderer, "orderer0", nil)
	keyFile, certFile := ord.WriteFiles(t, ordDir)
	addr := freeAddr(t)
	var members []string
	for _, id := range []string{"SAMSMSP", "Agency1MSP"} {
		writeCert(t, filepath.Join(dir, id+".pem"), c.Member(id).CA.Cert.Raw)
		members = append(members, fmt.Sprintf(`{"mspId":%q,"rootCerts":["root.pem"],"intermediateCerts":[%q]}`, id, id+".pem"))
	}
	spec := fmt.Sprintf(`{"channel":"blossom","members":[%s],"orderers":[{"id":"orderer0","mspId":"SAMSMSP","address":%q,"cert":"orderer0/cert.pem"}],"batch":{"timeout":"20ms"}}`,
		strings.Join(members, ","), addr)
	if err := os.WriteFile(filepath.Join(dir, "consortium.json"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	genesisPath := filepath.Join(dir, "blossom.block")
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"channel", "create", "--spec", filepath.Join(dir, "consortium.json"), "--out", genesisPath}, &stdout, &stderr); code != 0 {
		t.Fatalf("channel create: exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "consenters: orderer0") {
		t.Errorf("channel create output: %s", stdout.String())
	}
	genesis, err := orderer.ReadBlockFile(genesisPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := channelconfig.FromBlock(genesis)
	if err != nil || cfg.BatchTimeout() != 20*time.Millisecond {
		t.Fatalf("genesis config: %v (%v)", err, cfg)
	}

	health := freeAddr(t)
	conf := fmt.Sprintf(`{"listenAddress":%q,"dataDir":"data","certFile":%q,"keyFile":%q,"genesisBlocks":["blossom.block"],"healthAddress":%q,"logLevel":"warn"}`,
		addr, certFile, keyFile, health)
	confPath := filepath.Join(dir, "orderer.json")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root := NewRootCommand()
	root.SetArgs([]string{"orderer", "--config", confPath})
	var out syncBuffer
	root.SetOut(&out)
	root.SetErr(&out)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()

	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + health + "/readyz") // a leader: ready to order
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && strings.TrimSpace(string(body)) == "ok" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("orderer not ready: %v; output: %s", err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	client := c.Member("Agency1MSP").Issue(pki.RoleClient, "client0", nil)
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	defer dcancel()
	conn, err := transport.Dial(dctx, addr, transport.ClientTLSConfig(client.TLS, transport.NewTrustSource(c.Manager()), pki.RoleOrderer))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hdr, txID, _ := txn.NewHeader(client.Signer, pb.HeaderType_ENDORSER_TRANSACTION, "blossom", time.Now())
	raw, _ := txn.SignEnvelope(client.Signer, hdr, []byte("hello"))
	env := new(pb.Envelope)
	protocol.Unmarshal(raw, env, 0)
	stream, err := pb.NewAtomicBroadcastClient(conn).Broadcast(dctx)
	if err != nil {
		t.Fatal(err)
	}
	stream.Send(env)
	resp, err := stream.Recv()
	if err != nil || resp.Status != pb.Status_SUCCESS || resp.TxId != txID {
		t.Fatalf("broadcast: %v %v", resp, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("orderer exited with %v; output: %s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("orderer did not stop")
	}
	if !strings.Contains(out.String(), "orderer orderer0 listening on") {
		t.Errorf("output: %s", out.String())
	}
	// The chain survived on disk: block 1 holds the envelope.
	if _, err := os.Stat(filepath.Join(dir, "data", "channels", "blossom", "blocks", "blocks.dat")); err != nil {
		t.Error(err)
	}
}

func TestOrdererCommandErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, conf, want string
	}{
		{"missing fields", `{"listenAddress":"127.0.0.1:0"}`, "missing"},
		{"unknown field", `{"listen":"x"}`, "unknown field"},
		{"bad level", `{"listenAddress":"a:1","dataDir":"d","certFile":"c","keyFile":"k","logLevel":"loud"}`, "log level"},
		{"missing key file", `{"listenAddress":"a:1","dataDir":"d","certFile":"c","keyFile":"nokey.pem"}`, "nokey.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, "o.json")
			os.WriteFile(p, []byte(tt.conf), 0o644)
			var stdout, stderr bytes.Buffer
			if code := Main([]string{"orderer", "--config", p}, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("exit %d, stderr %q, want mention of %q", code, stderr.String(), tt.want)
			}
		})
	}
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"channel", "create", "--spec", filepath.Join(dir, "none.json"), "--out", filepath.Join(dir, "g.block")}, &stdout, &stderr); code == 0 {
		t.Error("channel create without a spec file succeeded")
	}
}

// syncBuffer is a bytes.Buffer safe for the command's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
