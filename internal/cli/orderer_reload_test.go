package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/governance"
	"github.com/blossom-ledger/blossom/internal/orderer"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
	"github.com/blossom-ledger/blossom/internal/transport"
)

// TestOrdererCommandStagesOnSIGHUP: `blossom orderer` (one orderer, one
// member) rereads its certificate and key files on SIGHUP: a key that does
// not match is refused; a renewed pair is staged, not used; once a config
// update naming the new certificate is ordered, the orderer presents it.
func TestOrdererCommandStagesOnSIGHUP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	consortium := testpki.NewConsortium(t, "Org1MSP")
	org := consortium.Member("Org1MSP")
	old := org.Issue(pki.RoleOrderer, "orderer0", nil)
	admin := org.Issue(pki.RoleAdmin, "admin0", nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a free port for the consenter address
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	genesis, err := channelconfig.GenesisBlock(&pb.ChannelConfig{
		ChannelId: "blossom", Capability: channelconfig.CapabilityV1, Policies: channelconfig.DefaultPolicies(),
		Members: map[string]*pb.MemberConfig{"Org1MSP": {MspId: "Org1MSP", RootCerts: [][]byte{consortium.Root.Cert.Raw}, IntermediateCerts: [][]byte{org.CA.Cert.Raw}}},
		Orderer: &pb.OrdererConfig{Consenters: []*pb.Consenter{{Id: "orderer0", MspId: "Org1MSP", Address: addr, CertDer: old.Cert.Raw}}},
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyPath, certPath := old.WriteFiles(t, dir)
	if err := orderer.WriteBlockFile(filepath.Join(dir, "blossom.block"), genesis); err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(map[string]any{"listenAddress": addr, "dataDir": "data", "certFile": "cert.pem", "keyFile": "key.pem", "genesisBlocks": []string{"blossom.block"}})
	configPath := filepath.Join(dir, "orderer.json")
	if err := os.WriteFile(configPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(withSIGHUPReload(ctx))
	started := make(chan *orderer.Node, 1)
	done := make(chan error, 1)
	logs := &syncWriter{w: new(bytes.Buffer)}
	go func() { done <- runOrderer(runCtx, configPath, logs, func(n *orderer.Node) { started <- n }) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("orderer stopped with %v", err)
		}
	})
	var node *orderer.Node
	select {
	case node = <-started:
	case err := <-done:
		done <- err
		t.Fatalf("orderer exited: %v", err)
	}
	trust := transport.NewTrustSource(consortium.Manager())
	presented := func() []byte {
		t.Helper()
		cfg := transport.WithServerName(transport.ClientTLSConfig(admin.TLS, trust, pki.RoleOrderer), "127.0.0.1")
		cfg.NextProtos = []string{"h2"}
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Raw
	}

	renewed := org.Issue(pki.RoleOrderer, "orderer0", nil)
	stray := org.Issue(pki.RoleOrderer, "orderer0", nil)
	install := func(key, cert string) {
		t.Helper()
		for _, f := range [][2]string{{key, keyPath}, {cert, certPath}} {
			if err := os.Rename(f[0], f[1]); err != nil {
				t.Fatal(err)
			}
		}
	}
	_, renewedCert := renewed.WriteFiles(t, t.TempDir())
	strayKey, _ := stray.WriteFiles(t, t.TempDir())
	install(strayKey, renewedCert)
	sighup(t)
	waitForLogCount(t, logs, "certificate reload refused; keeping the current certificate", 1)
	install(renewed.WriteFiles(t, t.TempDir()))
	sighup(t)
	waitForLogCount(t, logs, "new certificate staged", 1)
	if !bytes.Equal(presented(), old.Cert.Raw) || !bytes.Equal(node.StagedCertificate().Raw, renewed.Cert.Raw) {
		t.Fatal("the staged certificate is in use before the configuration names it")
	}

	// The consenter update, signed by the one member's admin.
	conf, err := node.Config("blossom")
	if err != nil {
		t.Fatal(err)
	}
	upd, err := governance.UpdateConsenterCertificate(conf, "orderer0", pki.EncodeCertificatePEM(renewed.Cert.Raw))
	if err != nil {
		t.Fatal(err)
	}
	raw := protocol.MustMarshal(upd)
	sig, err := channelconfig.SignUpdate(raw, admin.Signer)
	if err != nil {
		t.Fatal(err)
	}
	env, _, err := channelconfig.NewUpdateEnvelope(admin.Signer, "blossom", raw, []*pb.ConfigSignature{sig}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := transport.Dial(ctx, addr, transport.ClientTLSConfig(admin.TLS, trust, pki.RoleOrderer))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stream, err := pb.NewAtomicBroadcastClient(conn).Broadcast(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e := new(pb.Envelope)
	if err := protocol.Unmarshal(env, e, 0); err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(e); err != nil {
		t.Fatal(err)
	}
	if resp, err := stream.Recv(); err != nil || resp.Status != pb.Status_SUCCESS {
		t.Fatalf("consenter update: %v %v", resp, err)
	}
	waitForLogCount(t, logs, "switched to the staged certificate", 1)
	if !bytes.Equal(presented(), renewed.Cert.Raw) || node.StagedCertificate() != nil {
		t.Fatal("the orderer does not present the certificate the configuration names")
	}
}
