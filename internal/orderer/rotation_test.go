package orderer

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
	"github.com/blossom-ledger/blossom/internal/transport"
)

// rotated is orderer1 (Org2MSP's orderer) in the rotation tests.
const rotated = 1

// commitConsenterCert commits a config update naming cert as orderer
// rotated's consenter certificate, signed by two of three admins.
func (c *cluster) commitConsenterCert(t *testing.T, cert *x509.Certificate) {
	t.Helper()
	leader := c.leader()
	cfg, _ := c.nodes[leader].node.Config(testChannel)
	update := ordererUpdate(t, cfg, func(o *pb.OrdererConfig) {
		for _, cs := range o.Consenters {
			if cs.Id == "orderer1" {
				cs.CertDer = cert.Raw
			}
		}
	}, c.admins["Org1MSP"], c.admins["Org3MSP"])
	if resp := broadcastOne(t, c.dial(leader, c.clients["Org1MSP"]), update); resp.Status != pb.Status_SUCCESS {
		t.Fatalf("consenter certificate update: %s %s", resp.Status, resp.Info)
	}
}

// presentedCert opens a new TLS connection to orderer i and returns the
// certificate it presents.
func (c *cluster) presentedCert(t *testing.T, i int) []byte {
	t.Helper()
	host, _, _ := net.SplitHostPort(c.nodes[i].addr)
	conf := transport.WithServerName(transport.ClientTLSConfig(c.clients["Org1MSP"].TLS, c.trust, pki.RoleOrderer), host)
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", c.nodes[i].addr, conf)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Raw
}

// TestOrdererCertificateRotation: orderer1 stages a renewed certificate
// (certificates with a key that does not match, another CN, member or role
// are refused and change nothing); a config update naming it commits while
// clients keep broadcasting, and no acknowledged envelope is lost. From the
// config block on, orderer1 presents the new certificate on new
// handshakes, signs blocks that verify with it, and takes part in Raft:
// with another orderer restarted (new Raft streams both ways) and the
// third stopped, the quorum needs orderer1, and the channel still orders.
func TestOrdererCertificateRotation(t *testing.T) {
	c := newCluster(t, 3, func(cc *pb.ChannelConfig) { cc.Orderer.BatchSize = &pb.BatchSize{MaxMessageCount: 10} })
	node := c.nodes[rotated].node
	old := c.nodes[rotated].cred
	org2 := c.pki.Member("Org2MSP")
	renewed := org2.Issue(pki.RoleOrderer, "orderer1", nil)

	refused := []struct {
		name string
		cert tls.Certificate
		want string
	}{
		{"a key that does not match", tls.Certificate{Certificate: renewed.TLS.Certificate, PrivateKey: old.TLS.PrivateKey}, "refused"},
		{"another CN", org2.Issue(pki.RoleOrderer, "orderer9", nil).TLS, "enrollment ID"},
		{"another member", c.pki.Member("Org1MSP").Issue(pki.RoleOrderer, "orderer1", nil).TLS, "names member"},
		{"another role", org2.Issue(pki.RolePeer, "orderer1", nil).TLS, "role"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := node.StageCertificate(tc.cert); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("staging %s: %v, want an error containing %q", tc.name, err, tc.want)
			}
			if node.StagedCertificate() != nil || !bytes.Equal(node.Certificate().Raw, old.Cert.Raw) {
				t.Fatal("a refused certificate changed the node's certificates")
			}
		})
	}
	if switched, err := node.StageCertificate(renewed.TLS); err != nil || switched {
		t.Fatalf("staging the renewed certificate: switched %v, %v", switched, err)
	}
	if !bytes.Equal(node.StagedCertificate().Raw, renewed.Cert.Raw) || !bytes.Equal(c.presentedCert(t, rotated), old.Cert.Raw) {
		t.Fatal("the staged certificate is not kept aside, or is already in use")
	}

	// Clients broadcast through every orderer while the update commits.
	const sent = 600
	var envs [][]byte
	var ids []string
	for k := 0; k < sent; k++ {
		env, id := newEnvelope(t, c.clients[mspID(k%3)], testChannel, 32)
		envs, ids = append(envs, env), append(ids, id)
	}
	addrs := []string{c.nodes[0].addr, c.nodes[1].addr, c.nodes[2].addr}
	st := newLoadStats()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	errs := make(chan error, 3)
	for k := 0; k < 3; k++ {
		go func(k int) {
			errs <- loadClient(ctx, addrs, c.clients[mspID(k)], c.trust, envs[k*sent/3:(k+1)*sent/3], ids[k*sent/3:(k+1)*sent/3], k, 16, st)
		}(k)
	}
	eventually(t, 30*time.Second, "a sixth of the envelopes acknowledged", func() bool { return st.acked.Load() >= sent/6 })
	c.commitConsenterCert(t, renewed.Cert)
	acked := st.acked.Load()
	for k := 0; k < 3; k++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("update committed after %d of %d envelopes were acknowledged", acked, sent)
	if len(st.other) > 0 {
		t.Fatalf("unexpected answers: %v", st.other[:min(5, len(st.other))])
	}
	if len(st.success)+len(st.duplicate) != sent {
		t.Fatalf("%d SUCCESS + %d DUPLICATE_TXID answers for %d envelopes", len(st.success), len(st.duplicate), sent)
	}
	eventually(t, 10*time.Second, "orderer1 to switch to the new certificate", func() bool {
		return bytes.Equal(node.Certificate().Raw, renewed.Cert.Raw)
	})
	if node.StagedCertificate() != nil {
		t.Fatal("the certificate switched to is still staged")
	}
	c.logs.waitFor(t, "switched to the staged certificate", time.Second)
	if !bytes.Equal(c.presentedCert(t, rotated), renewed.Cert.Raw) {
		t.Fatal("orderer1 presents its old certificate on a new handshake")
	}

	// Restart another orderer: the Raft streams between it and orderer1 are
	// new, with orderer1's new certificate. Then stop the third: ordering
	// needs orderer1, and orderer1 leads, signing the blocks.
	other, third := (rotated+1)%3, (rotated+2)%3
	c.kill(other)
	c.restart(other)
	c.waitSameHeight(0, 30*time.Second)
	c.kill(third)
	leader := c.leader()
	if leader != rotated {
		if err := c.nodes[leader].node.chain(testChannel).raft.LeadershipTransferToServer(raft.ServerID("orderer1"), raft.ServerAddress("orderer1")).Error(); err != nil {
			t.Fatalf("leadership transfer to orderer1: %v", err)
		}
		if leader = c.leader(); leader != rotated {
			t.Fatalf("orderer%d leads after the transfer to orderer1", leader)
		}
	}
	before := c.height(rotated)
	c.sendLoad(t, other, 30)
	h := c.waitSameHeight(before+1, 10*time.Second)

	// Every acknowledged envelope is in the chain exactly once, and the
	// blocks orderer1 cut since verify with its new certificate.
	blocks := deliverAll(t, c.dial(other, c.clients["Org1MSP"]), h-1)
	seen := map[string]int{}
	for _, id := range chainTxIDs(t, blocks) {
		if seen[id]++; seen[id] > 1 {
			t.Fatalf("transaction %s is in the chain twice", id)
		}
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Fatalf("acknowledged transaction %s is in the chain %d times", id, seen[id])
		}
	}
	cfg, _ := c.nodes[other].node.Config(testChannel)
	keys := newConsenterKeys(cfg)
	for _, b := range blocks[before:] {
		si, err := protocol.ParseSerializedIdentity(b.Metadata.Signature.Signer)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(si.CertDer, renewed.Cert.Raw) {
			t.Fatalf("block %d is not signed with orderer1's new certificate", b.Header.Number)
		}
		if err := keys.verify(b); err != nil {
			t.Fatalf("block %d: %v", b.Header.Number, err)
		}
	}
}

// TestOrdererCertificateNotStaged: a config update naming a certificate
// the orderer was not given leaves it on its old certificate (an operator
// error, logged); the others refuse its Raft streams. Given the named
// certificate afterwards (SIGHUP), it switches at once and orders again.
func TestOrdererCertificateNotStaged(t *testing.T) {
	c := newCluster(t, 3, nil)
	node := c.nodes[rotated].node
	old := c.nodes[rotated].cred
	renewed := c.pki.Member("Org2MSP").Issue(pki.RoleOrderer, "orderer1", nil)

	// Make another orderer lead, so that orderer1's Raft streams must be
	// accepted by the others.
	if leader := c.leader(); leader == rotated {
		if err := node.chain(testChannel).raft.LeadershipTransfer().Error(); err != nil {
			t.Fatal(err)
		}
	}
	c.commitConsenterCert(t, renewed.Cert)
	c.waitSameHeight(2, 10*time.Second)
	c.logs.waitFor(t, "names a certificate for this orderer other than the one it uses", 5*time.Second)
	if !bytes.Equal(node.Certificate().Raw, old.Cert.Raw) || !bytes.Equal(c.presentedCert(t, rotated), old.Cert.Raw) {
		t.Fatal("orderer1 switched to a certificate it was never given")
	}
	// Its next new Raft stream is refused: restart it so it must dial.
	c.kill(rotated)
	c.restart(rotated)
	node = c.nodes[rotated].node
	c.logs.waitFor(t, "presented a certificate other than the one channel", 10*time.Second)

	var cred *testpki.Credential = renewed
	switched, err := node.StageCertificate(cred.TLS)
	if err != nil || !switched {
		t.Fatalf("staging the certificate the configuration names: switched %v, %v", switched, err)
	}
	if !bytes.Equal(c.presentedCert(t, rotated), renewed.Cert.Raw) {
		t.Fatal("orderer1 does not present the certificate it switched to")
	}
	c.kill((rotated + 1) % 3) // the quorum needs orderer1
	c.sendLoad(t, rotated, 20)
}
