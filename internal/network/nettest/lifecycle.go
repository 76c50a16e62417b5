package nettest

import (
	"context"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/blossom-ledger/blossom/internal/chaincode/ccpackage"
	"github.com/blossom-ledger/blossom/internal/lifecycle"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/transport"
)

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
