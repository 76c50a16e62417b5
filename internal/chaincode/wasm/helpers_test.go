package wasm

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/chaincode"
	"github.com/blossom-ledger/blossom/internal/chaincode/ccpackage"
	"github.com/blossom-ledger/blossom/internal/chaincode/chaincodetest"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
)

// Test chaincodes are built once per test binary run (the Go build cache
// makes later runs quick) and their packages shared by the tests.
var (
	buildMu  sync.Mutex
	builds   = map[string]*buildResult{}
	cacheDir string
	cacheMu  sync.Mutex
)

type buildResult struct {
	done chan struct{}
	pkg  []byte
	err  error
}

// testChaincodeDirs are the chaincodes tests build, by name.
var testChaincodeDirs = map[string]string{
	"kvtest": "../../../chaincode/kvtest/wasm",
	"probe":  "testdata/probe",
}

func goCommand() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// buildPackage returns the package of a test chaincode. The first call
// starts the builds of all test chaincodes at once.
func buildPackage(t testing.TB, name string) []byte {
	t.Helper()
	buildMu.Lock()
	if len(builds) == 0 {
		for n, dir := range testChaincodeDirs {
			b := &buildResult{done: make(chan struct{})}
			builds[n] = b
			go func() {
				defer close(b.done)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				defer cancel()
				b.pkg, _, b.err = ccpackage.Build(ctx, goCommand(), dir, n, ccpackage.Limits{})
			}()
		}
	}
	b := builds[name]
	buildMu.Unlock()
	if b == nil {
		t.Fatalf("no test chaincode %s", name)
	}
	<-b.done
	if b.err != nil {
		t.Fatalf("build %s: %v", name, b.err)
	}
	return b.pkg
}

// sharedCacheDir is one compilation cache directory per test binary run,
// so that every runtime of the tests shares compiled modules.
func sharedCacheDir(t testing.TB) string {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if cacheDir == "" {
		dir, err := os.MkdirTemp("", "blossom-wasm-cache-")
		if err != nil {
			t.Fatal(err)
		}
		cacheDir = dir
	}
	return cacheDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if cacheDir != "" {
		os.RemoveAll(cacheDir)
	}
	os.Exit(code)
}

// newTestRuntime returns a runtime (an "endorser") with the named test
// chaincodes installed and defined under their names.
func newTestRuntime(t testing.TB, cfg Config, names ...string) *Runtime {
	t.Helper()
	if cfg.CacheDir == "" {
		cfg.CacheDir = sharedCacheDir(t)
	}
	ctx := context.Background()
	rt, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(ctx) })
	for _, name := range names {
		id, err := rt.Install(ctx, buildPackage(t, name))
		if err != nil {
			t.Fatalf("install %s: %v", name, err)
		}
		if err := rt.Define(name, id, ccpackage.Limits{}); err != nil {
			t.Fatal(err)
		}
	}
	return rt
}

var txTime = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// txEnv is a creator certificate and a state to simulate against.
type txEnv struct {
	state *chaincodetest.State
	cert  []byte
}

var (
	creatorOnce sync.Once
	creatorCert []byte
)

func newTxEnv(t testing.TB) *txEnv {
	t.Helper()
	creatorOnce.Do(func() {
		c := testpki.NewConsortium(t, "Agency1MSP")
		cred := c.Member("Agency1MSP").Issue(pki.RoleClient, "user1", map[string]string{pki.RoleAttribute: "Technical Point of Contact"})
		creatorCert = cred.Cert.Raw
	})
	return &txEnv{state: chaincodetest.NewState(), cert: creatorCert}
}

func (e *txEnv) tx(txID, cc, function string, args ...string) *chaincode.Transaction {
	b := make([][]byte, len(args))
	for i, a := range args {
		b[i] = []byte(a)
	}
	return &chaincode.Transaction{
		ChannelID:    "blossom",
		TxID:         txID,
		Timestamp:    txTime,
		CreatorMSPID: "Agency1MSP",
		CreatorCert:  e.cert,
		Transient:    map[string][]byte{"value": []byte("secret"), "other": []byte("o")},
		Invocation:   &pb.ChaincodeInvocation{Chaincode: cc, Function: function, Args: b},
		DefinitionParams: func(name string) map[string]string {
			return map[string]string{"adminMSP": "SAMSMSP", "self": name}
		},
	}
}

func simulate(t testing.TB, rt chaincode.Runtime, st chaincode.StateReader, tx *chaincode.Transaction) *chaincode.Result {
	t.Helper()
	res, err := chaincode.Simulate(context.Background(), rt, st, tx)
	if err != nil {
		t.Fatalf("Simulate(%s %s): %v", tx.Invocation.Chaincode, tx.Invocation.Function, err)
	}
	return res
}
