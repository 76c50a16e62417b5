package nettest

import (
	"context"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/blossom-ledger/blossom/chaincode/kvtest"
	"github.com/blossom-ledger/blossom/internal/chaincode/ccpackage"
	"github.com/blossom-ledger/blossom/internal/lifecycle"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/transport"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// KVPackageID is the package ID under which every network peer runs the
// native kvtest implementation for the "kv" definition Start commits.
var KVPackageID = ccpackage.ID("kvtest_native", []byte("nettest: kvtest run natively"))

// kvDefinition is the definition of "kv" Start commits.
func kvDefinition() *lifecycle.Definition {
	return &lifecycle.Definition{Name: KVChaincode, Version: "1", Sequence: 1, PackageID: KVPackageID, EndorsementPolicy: "MAJORITY Endorsement"}
}

// withKVPackage adds the native kvtest under KVPackageID to natives.
func withKVPackage(natives func() map[string]contract.Chaincode) func() map[string]contract.Chaincode {
	return func() map[string]contract.Chaincode {
		m := map[string]contract.Chaincode{}
		if natives != nil {
			m = natives()
		}
		m[KVPackageID] = kvtest.New()
		return m
	}
}

// deployKV approves kvDefinition as a MAJORITY of the members' admins,
// commits it as member 0's admin and waits until every peer has it.
func (n *Network) deployKV() {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := kvDefinition()
	var block uint64
	for i := 0; i < len(n.Members)/2+1; i++ {
		b, err := n.Lifecycle(n.t, i).Approve(ctx, d)
		if err != nil {
			n.t.Fatalf("nettest: approve kv as member %d: %v", i, err)
		}
		block = max(block, b)
	}
	n.WaitForHeight(n.t, block+1, time.Minute) // the committer reads every approval
	block, err := n.Lifecycle(n.t, 0).Commit(ctx, d)
	if err != nil {
		n.t.Fatalf("nettest: commit kv: %v", err)
	}
	n.WaitForHeight(n.t, block+1, time.Minute)
}

// kvtestWasm is the kvtest chaincode built to wasm, once per test binary
// (the build takes seconds).
var kvtestWasm struct {
	once sync.Once
	wasm []byte
	err  error
}

// KVTestWasm returns the kvtest chaincode (chaincode/kvtest/wasm) built
// to WebAssembly with the reproducible build of ccpackage; it is built
// once per test binary.
func KVTestWasm(t testing.TB) []byte {
	t.Helper()
	kvtestWasm.once.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "chaincode", "kvtest", "wasm")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		kvtestWasm.wasm, kvtestWasm.err = ccpackage.BuildWasm(ctx, "", dir)
	})
	if kvtestWasm.err != nil {
		t.Fatalf("nettest: build kvtest to wasm: %v", kvtestWasm.err)
	}
	return kvtestWasm.wasm
}

// KVTestPackage packages the kvtest wasm under label and returns the
// package and its ID. Packages of different labels differ, so their IDs
// (and hashes) differ too.
func KVTestPackage(t testing.TB, label string) ([]byte, string) {
	t.Helper()
	pkg, err := (&ccpackage.Package{Label: label, Wasm: KVTestWasm(t)}).Marshal()
	if err != nil {
		t.Fatalf("nettest: package kvtest: %v", err)
	}
	return pkg, ccpackage.ID(label, pkg)
}

// AdminConn dials member i's peer as the member's admin (for the
// ChaincodeAdmin service); it is closed at cleanup.
func (n *Network) AdminConn(t testing.TB, i int) *grpc.ClientConn {
	t.Helper()
	m := n.Members[i]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := transport.Dial(ctx, m.PeerAddr, transport.ClientTLSConfig(m.Admin.TLS, n.Trust, pki.RolePeer), transport.WithMaxMessageSize(8<<20))
	if err != nil {
		t.Fatalf("nettest: dial peer %d as admin: %v", i, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Install installs pkg on member i's peer as the member's admin and
// returns its package ID.
func (n *Network) Install(t testing.TB, i int, pkg []byte) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id, err := lifecycle.Install(ctx, n.AdminConn(t, i), pkg)
	if err != nil {
		t.Fatalf("nettest: install on peer %d: %v", i, err)
	}
	return id
}

// Lifecycle returns a _lifecycle client acting as member i's admin,
// endorsed by every member's peer.
func (n *Network) Lifecycle(t testing.TB, i int) *lifecycle.Ledger {
	t.Helper()
	all := make([]int, len(n.Members))
	for k := range all {
		all[k] = k
	}
	return &lifecycle.Ledger{Client: n.ConnectClient(t, n.ClientConfig(i, n.Members[i].Admin)), EndorsingPeers: n.PeerNames(all...)}
}
