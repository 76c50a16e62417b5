package cli

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/fsutil"
	"github.com/blossom-ledger/blossom/internal/governance"
	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/network/nettest"
	"github.com/blossom-ledger/blossom/internal/orderer"
	"github.com/blossom-ledger/blossom/internal/pki"
)

// TestGovernanceCommands drives propose, show, approve, submit and list
// against a three-member network: a member publishes its CRL with its own
// admin alone; a batch change needs a second member's admin.
func TestGovernanceCommands(t *testing.T) {
	net := nettest.Start(t, nettest.Options{})
	dir := t.TempDir()
	genesis := filepath.Join(dir, "blossom.block")
	if err := orderer.WriteBlockFile(genesis, net.Genesis); err != nil {
		t.Fatal(err)
	}
	clientFile := func(i int) string { return writeAdminClientFile(t, net, dir, i) }
	admin0, admin1 := clientFile(0), clientFile(1)
	sync := func() { syncPeers(t, net) }
	run := func(client string, args ...string) (string, error) {
		t.Helper()
		var out, errb bytes.Buffer
		code := Main(append([]string{"governance", "--client", client}, args...), &out, &errb)
		sync()
		if code != 0 {
			return out.String(), fmt.Errorf("exit %d: %s", code, errb.String())
		}
		return out.String(), nil
	}
	mustRun := func(client string, args ...string) string {
		t.Helper()
		out, err := run(client, args...)
		if err != nil {
			t.Fatalf("blossom governance %s: %v", strings.Join(args, " "), err)
		}
		return out
	}
	hashOf := func(out string) string {
		t.Helper()
		m := regexp.MustCompile(`update hash: ([0-9a-f]{64})`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no update hash in %q", out)
		}
		return m[1]
	}

	// Org1 revokes its user and publishes the CRL alone.
	org1 := net.PKI.Member(net.Members[0].MSPID)
	org1.Revoke(net.Members[0].User.Cert)
	crlFile := filepath.Join(dir, "org1.crl")
	if err := os.WriteFile(crlFile, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: org1.CRL().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	out := mustRun(admin0, "propose", "update-crl", "--id", "crl-1", "--description", "revoke user0", "--msp-id", "Org1MSP", "--crl", crlFile)
	crlHash := hashOf(out)
	if out := mustRun(admin1, "show", "--id", "crl-1"); !strings.Contains(out, "proposed by Org1MSP/admin0") || !strings.Contains(out, `"crls"`) || !strings.Contains(out, crlHash) {
		t.Errorf("show: %s", out)
	}
	if _, err := run(admin0, "approve", "--id", "crl-1", "--hash", strings.Repeat("0", 64)); err == nil || !strings.Contains(err.Error(), "not the reviewed") {
		t.Errorf("approve with another hash: %v", err)
	}
	mustRun(admin0, "approve", "--id", "crl-1", "--hash", crlHash)
	if out := mustRun(admin0, "submit", "--id", "crl-1"); !strings.Contains(out, "configuration sequence 1") {
		t.Errorf("submit crl-1: %s", out)
	}
	if _, err := net.PeerChannel(2).Config().Manager().Validate("Org1MSP", net.Members[0].User.Cert.Raw, identity.AnyRole, time.Now()); err == nil {
		t.Error("the revoked user is still valid on peer 2")
	}

	// A batch change needs a majority.
	batchHash := hashOf(mustRun(admin1, "propose", "set-batch", "--id", "batch-1", "--max-count", "42", "--batch-timeout", "150ms"))
	mustRun(admin1, "approve", "--id", "batch-1", "--hash", batchHash)
	if _, err := run(admin1, "submit", "--id", "batch-1"); err == nil || !strings.Contains(err.Error(), "needs 2 of 3 members, got 1") {
		t.Fatalf("submit batch-1 with one signature: %v", err)
	}
	mustRun(admin0, "approve", "--id", "batch-1", "--hash", batchHash)
	if out := mustRun(admin1, "submit", "--id", "batch-1"); !strings.Contains(out, "configuration sequence 2") {
		t.Errorf("submit batch-1: %s", out)
	}
	if cfg := net.PeerChannel(0).Config(); cfg.BatchSize().MaxMessageCount != 42 || cfg.BatchTimeout() != 150*time.Millisecond {
		t.Errorf("batch %+v timeout %v", cfg.BatchSize(), cfg.BatchTimeout())
	}

	out = mustRun(admin0, "list")
	for _, want := range []string{"crl-1\t" + crlHash, "batch-1\t" + batchHash} {
		if !strings.Contains(out, want) {
			t.Errorf("list does not show %q:\n%s", want, out)
		}
	}
	// Signers are listed in signer certificate hash order.
	if line := regexp.MustCompile(`(?m)^batch-1\t.*$`).FindString(out); !strings.Contains(line, "Org1MSP/admin0") || !strings.Contains(line, "Org2MSP/admin1") {
		t.Errorf("batch-1 signers: %q", line)
	}

	// fetch-config writes the config block in force; a client file that
	// trusts from it (configBlock) works, one whose block is missing is
	// refused with the way to get it.
	cfgBlock := filepath.Join(dir, "config.block")
	if out := mustRun(admin0, "fetch-config", "--out", cfgBlock); !strings.Contains(out, "configuration sequence 2") {
		t.Errorf("fetch-config: %s", out)
	}
	block, err := orderer.ReadBlockFile(cfgBlock)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, _, err := channelconfig.FromBlock(block); err != nil || cfg.Sequence() != 2 || cfg.BatchSize().MaxMessageCount != 42 {
		t.Fatalf("fetched config block: %v", err)
	}
	withBlock := func(path string) string {
		raw, _ := os.ReadFile(admin1)
		var f governanceClientFile
		json.Unmarshal(raw, &f)
		f.ConfigBlock = path
		raw, _ = json.Marshal(f)
		p := filepath.Join(filepath.Dir(admin1), "client-"+filepath.Base(path)+".json")
		os.WriteFile(p, raw, 0o600)
		return p
	}
	mustRun(withBlock(cfgBlock), "list")
	if _, err := run(withBlock(filepath.Join(dir, "absent.block")), "list"); err == nil || !strings.Contains(err.Error(), "fetch-config") {
		t.Errorf("client file with a missing config block: %v", err)
	}
	if _, err := run(withBlock(crlFile), "list"); err == nil {
		t.Error("client file whose config block is a CRL accepted")
	}

	// Consenter proposals check the orderer's certificate and ID.
	userCert := filepath.Join(dir, "user-cert.pem")
	os.WriteFile(userCert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: net.Members[1].User.Cert.Raw}), 0o644)
	ordererCert := filepath.Join(dir, "orderer-cert.pem")
	extra := net.PKI.Member("Org2MSP").Issue(pki.RoleOrderer, "orderer-org2-b", nil)
	os.WriteFile(ordererCert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: extra.Cert.Raw}), 0o644)
	addHash := hashOf(mustRun(admin1, "propose", "add-consenter", "--id", "cons-1", "--msp-id", "Org2MSP", "--address", "127.0.0.1:1", "--cert", ordererCert))
	if out := mustRun(admin0, "show", "--id", "cons-1"); !strings.Contains(out, addHash) || !strings.Contains(out, "orderer-org2-b") {
		t.Errorf("show cons-1: %s", out)
	}

	// A consenter's renewed certificate (orderer1 is Org2MSP's orderer).
	renewedCert := filepath.Join(dir, "orderer1-renewed.pem")
	renewed := net.PKI.Member("Org2MSP").Issue(pki.RoleOrderer, "orderer1", nil)
	os.WriteFile(renewedCert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: renewed.Cert.Raw}), 0o644)
	updHash := hashOf(mustRun(admin1, "propose", "update-consenter", "--id", "cons-6", "--consenter", "orderer1", "--cert", renewedCert))
	if out := mustRun(admin0, "show", "--id", "cons-6"); !strings.Contains(out, updHash) || !strings.Contains(out, "orderer1") {
		t.Errorf("show cons-6: %s", out)
	}

	// Bad input.
	for _, args := range [][]string{
		{"propose", "update-consenter", "--id", "cons-7", "--consenter", "orderer1", "--cert", ordererCert},
		{"propose", "update-consenter", "--id", "cons-8", "--consenter", "orderer-nobody", "--cert", renewedCert},
		{"propose", "update-consenter", "--id", "cons-9", "--consenter", "orderer1", "--cert", userCert},
		{"propose", "add-consenter", "--id", "cons-2", "--msp-id", "Org2MSP", "--address", "127.0.0.1:2", "--cert", userCert},
		{"propose", "add-consenter", "--id", "cons-3", "--msp-id", "Org1MSP", "--address", "127.0.0.1:3", "--cert", ordererCert},
		{"propose", "add-consenter", "--id", "cons-4", "--msp-id", "Org2MSP", "--address", "127.0.0.1:4", "--cert", crlFile},
		{"propose", "remove-consenter", "--id", "cons-5", "--consenter", "orderer-nobody"},
		{"propose", "remove-member", "--id", "bad id", "--msp-id", "Org3MSP"},
		{"propose", "remove-member", "--id", "rm-9", "--msp-id", "Org9MSP"},
		{"propose", "set-batch", "--id", "batch-2"},
		{"propose", "update-crl", "--id", "crl-2", "--msp-id", "Org1MSP", "--crl", genesis},
		{"submit", "--id", "nothing"},
	} {
		if _, err := run(admin0, args...); err == nil {
			t.Errorf("blossom governance %s succeeded", strings.Join(args, " "))
		}
	}
}

// writeAdminClientFile writes a client file for member i's admin (its own
// peer first) under dir, next to dir/blossom.block, and returns its path.
func writeAdminClientFile(t *testing.T, net *nettest.Network, dir string, i int) string {
	t.Helper()
	m := net.Members[i]
	sub := filepath.Join(dir, fmt.Sprintf("admin%d", i))
	if err := os.MkdirAll(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	key, cert := m.Admin.WriteFiles(t, sub)
	f := governanceClientFile{Channel: net.Channel, Cert: cert, Key: key, GenesisBlock: "../blossom.block", Chaincode: governance.Name}
	for k := range net.Members {
		o := net.Members[(i+k)%len(net.Members)]
		f.Peers = append(f.Peers, governanceEndpoint{Name: o.PeerName(), Address: o.PeerAddr})
		f.Orderers = append(f.Orderers, governanceEndpoint{Name: o.MSPID + "/orderer0", Address: o.OrdererAddr})
	}
	data, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(sub, "client.json")
	if err := fsutil.WriteFileAtomic(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// syncPeers waits until every peer has every block, so that a command of
// another admin reads what the previous one wrote.
func syncPeers(t *testing.T, net *nettest.Network) {
	t.Helper()
	var height uint64
	for i := range net.Members {
		height = max(height, net.PeerChannel(i).Height())
	}
	net.WaitForHeight(t, height, 10*time.Second)
}
