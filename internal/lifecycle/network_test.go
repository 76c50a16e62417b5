package lifecycle_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/blossom-ledger/blossom/internal/chaincode/ccpackage"
	"github.com/blossom-ledger/blossom/internal/client"
	"github.com/blossom-ledger/blossom/internal/ledger"
	"github.com/blossom-ledger/blossom/internal/lifecycle"
	"github.com/blossom-ledger/blossom/internal/network/nettest"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/transport"
	"github.com/blossom-ledger/blossom/internal/txn"
)

const ccName = "kvw"

func kvDefinition(seq uint64, packageID, version string) *lifecycle.Definition {
	return &lifecycle.Definition{
		Name: ccName, Version: version, Sequence: seq, PackageID: packageID,
		EndorsementPolicy: "MAJORITY Endorsement",
		Params:            map[string]string{"version": version},
	}
}

// TestLifecycleOnNetwork deploys the kvtest chaincode built to wasm
// through the real lifecycle on a three-member network (real mTLS, Raft,
// Pebble): install on every member's peer (admin only), a commit with one
// approval of three fails, with two it succeeds; then an upgrade to v2 runs
// while clients submit continuously, and the peer holding a package of
// another hash under v2's label refuses to endorse v2.
func TestLifecycleOnNetwork(t *testing.T) {
	net := nettest.Start(t, nettest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	pkg1, id1 := nettest.KVTestPackage(t, "kvw_v1")
	for i := range 3 {
		if got := net.Install(t, i, pkg1); got != id1 {
			t.Fatalf("peer %d installed %s, want %s", i, got, id1)
		}
	}
	t.Run("install is admin only", func(t *testing.T) {
		for name, cred := range map[string]tls.Certificate{
			"own user":        net.Members[0].User.TLS,
			"other's admin":   net.Members[1].Admin.TLS,
			"own peer itself": net.Members[0].PeerCred.TLS,
		} {
			conn, err := transport.Dial(ctx, net.Members[0].PeerAddr, transport.ClientTLSConfig(cred, net.Trust, pki.RolePeer))
			if err != nil {
				t.Fatal(err)
			}
			_, err = lifecycle.Install(ctx, conn, pkg1)
			conn.Close()
			if status.Code(errors.Unwrap(err)) != codes.PermissionDenied {
				t.Errorf("%s: install = %v, want PermissionDenied", name, err)
			}
		}
		_, err := lifecycle.Install(ctx, net.AdminConn(t, 0), []byte("not a package"))
		if status.Code(errors.Unwrap(err)) != codes.InvalidArgument {
			t.Errorf("install of garbage = %v, want InvalidArgument", err)
		}
		installed, err := lifecycle.ListInstalled(ctx, net.AdminConn(t, 0))
		if err != nil || len(installed) != 1 || installed[0].PackageId != id1 || installed[0].Label != "kvw_v1" {
			t.Errorf("installed = %v, %v; want only %s", installed, err, id1)
		}
	})

	admins := []*lifecycle.Ledger{net.Lifecycle(t, 0), net.Lifecycle(t, 1), net.Lifecycle(t, 2)}
	v1 := kvDefinition(1, id1, "1")
	if _, err := admins[0].Approve(ctx, v1); err != nil {
		t.Fatal(err)
	}
	if _, err := admins[0].Commit(ctx, v1); err == nil || !strings.Contains(err.Error(), "approvals from 1 of 3 members; MAJORITY needs 2") {
		t.Fatalf("commit with 1 approval of 3 = %v, want refused", err)
	}
	user := net.Client(t, 0)
	if _, err := user.Evaluate(ctx, txn.Request{Chaincode: ccName, Function: "kv:Get", Args: [][]byte{[]byte("k")}}); status.Code(errors.Unwrap(err)) != codes.NotFound && !strings.Contains(fmt.Sprint(err), "is not defined") {
		t.Fatalf("evaluate before commit = %v, want not defined", err)
	}
	approved, err := admins[1].Approve(ctx, v1)
	if err != nil {
		t.Fatal(err)
	}
	net.WaitForHeight(t, approved+1, 20*time.Second) // other admins read it
	ready, err := admins[2].CheckCommitReadiness(ctx, v1)
	if err != nil || !ready["Org1MSP"] || !ready["Org2MSP"] || ready["Org3MSP"] {
		t.Fatalf("readiness = %v, %v", ready, err)
	}
	commitBlock, err := admins[2].Commit(ctx, v1)
	if err != nil {
		t.Fatalf("commit with 2 approvals of 3: %v", err)
	}
	net.WaitForHeight(t, commitBlock+1, 20*time.Second)
	got, err := admins[2].QueryDefinition(ctx, ccName)
	if err != nil || got.PackageID != id1 || got.Sequence != 1 {
		t.Fatalf("committed definition = %+v, %v", got, err)
	}
	res, err := user.Submit(ctx, txn.Request{Chaincode: ccName, Function: "kv:PutParam", Args: [][]byte{[]byte("first"), []byte("version")}}, net.PeerNames(0, 1, 2))
	if err != nil {
		t.Fatalf("submit to the committed wasm chaincode: %v", err)
	}
	net.WaitForHeight(t, res.Block+1, 20*time.Second)
	for i := range 3 {
		if v, _ := net.PeerChannel(i).Ledger().State().Get(ccName, "first"); v == nil || string(v.Value) != "1" {
			t.Fatalf("peer %d: first = %v, want 1", i, v)
		}
	}

	// v2: a different package (another label, so another hash). Peers 0
	// and 1 install it; peer 2 installs a package under the same label
	// with other bytes (other limits), so another hash.
	pkg2, id2 := nettest.KVTestPackage(t, "kvw_v2")
	wrong, err := (&ccpackage.Package{Label: "kvw_v2", Wasm: nettest.KVTestWasm(t), Limits: ccpackage.Limits{Fuel: 1 << 31}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	net.Install(t, 0, pkg2)
	net.Install(t, 1, pkg2)
	wrongID := net.Install(t, 2, wrong)
	if wrongID == id2 {
		t.Fatal("the wrong package has the right ID")
	}
	v2 := kvDefinition(2, id2, "2")

	// A transaction endorsed under v1 and ordered only after the v2 commit
	// must be rejected (MVCC on the definition's sequence), writing nothing.
	stale, err := user.NewProposal(txn.Request{Chaincode: ccName, Function: "kv:PutParam", Args: [][]byte{[]byte("stale"), []byte("version")}})
	if err != nil {
		t.Fatal(err)
	}
	staleResponses, err := user.Endorse(ctx, stale, net.PeerNames(0, 1))
	if err != nil {
		t.Fatalf("endorse under v1: %v", err)
	}
	staleEnv, err := txn.Assemble(net.Members[0].User.Signer, stale, staleResponses)
	if err != nil {
		t.Fatal(err)
	}

	up := startSubmitters(t, net, 2)
	up.waitAcknowledged(t, 5)
	for _, a := range admins[:2] {
		if approved, err = a.Approve(ctx, v2); err != nil {
			t.Fatal(err)
		}
		net.WaitForHeight(t, approved+1, 20*time.Second)
	}
	upgradeBlock, err := admins[0].Commit(ctx, v2)
	if err != nil {
		t.Fatalf("commit v2: %v", err)
	}
	if err := user.Broadcast(ctx, staleEnv); err != nil {
		t.Fatal(err)
	}
	staleRes, err := user.WaitForCommit(ctx, "", stale.TxID)
	var invalid *client.InvalidTxError
	if !errors.As(err, &invalid) || invalid.Code != pb.TxValidationCode_MVCC_READ_CONFLICT || staleRes.Block <= upgradeBlock {
		t.Fatalf("transaction endorsed under v1, ordered after the v2 commit: %+v, %v; want MVCC_READ_CONFLICT", staleRes, err)
	}
	up.waitAcknowledgedAfter(t, upgradeBlock, 5)
	acked, rejected := up.stop()
	var height uint64 // each client waited for its own peer only
	for i := range net.Members {
		height = max(height, net.PeerChannel(i).Height())
	}
	net.WaitForHeight(t, height, 20*time.Second)
	checkUpgrade(t, net, acked, rejected)

	_, err = net.Client(t, 2).Evaluate(ctx, txn.Request{Chaincode: ccName, Function: "kv:Get", Args: [][]byte{[]byte("first")}}, net.PeerNames(2)...)
	if status.Code(errors.Unwrap(err)) != codes.FailedPrecondition || !strings.Contains(err.Error(), id2) || !strings.Contains(err.Error(), wrongID) {
		t.Fatalf("peer with another package's hash: %v, want FailedPrecondition naming %s and %s", err, id2, wrongID)
	}
}

// submitted is one PutParam transaction of the upgrade test.
type submitted struct {
	key string
	res *client.SubmitResult
	err error
}

// submitters submit kv:PutParam(<unique key>, "version") continuously.
type submitters struct {
	stopCh chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	cond   *sync.Cond
	done   []submitted
	failed error
}

func startSubmitters(t *testing.T, net *nettest.Network, workers int) *submitters {
	s := &submitters{stopCh: make(chan struct{})}
	s.cond = sync.NewCond(&s.mu)
	for w := range workers {
		cl := net.Client(t, w)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-s.stopCh:
					return
				default:
				}
				key := fmt.Sprintf("up/%d/%05d", w, i)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				res, err := cl.Submit(ctx, txn.Request{Chaincode: ccName, Function: "kv:PutParam", Args: [][]byte{[]byte(key), []byte("version")}}, net.PeerNames(0, 1))
				cancel()
				s.mu.Lock()
				s.done = append(s.done, submitted{key: key, res: res, err: err})
				s.cond.Broadcast()
				s.mu.Unlock()
			}
		}()
	}
	return s
}

// waitFor waits until cond holds over the transactions done so far.
func (s *submitters) waitFor(t *testing.T, what string, cond func([]submitted) bool) {
	t.Helper()
	deadline := time.AfterFunc(time.Minute, func() {
		s.mu.Lock()
		s.failed = fmt.Errorf("timed out waiting for %s", what)
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer deadline.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for !cond(s.done) && s.failed == nil {
		s.cond.Wait()
	}
	if s.failed != nil {
		t.Fatal(s.failed)
	}
}

func (s *submitters) waitAcknowledged(t *testing.T, n int) {
	s.waitAcknowledgedAfter(t, 0, n)
}

// waitAcknowledgedAfter waits for n acknowledged transactions in blocks
// after block.
func (s *submitters) waitAcknowledgedAfter(t *testing.T, block uint64, n int) {
	s.waitFor(t, fmt.Sprintf("%d transactions after block %d", n, block), func(done []submitted) bool {
		c := 0
		for _, d := range done {
			if d.err == nil && d.res.Block > block {
				c++
			}
		}
		return c >= n
	})
}

func (s *submitters) stop() (acked, rejected []submitted) {
	close(s.stopCh)
	s.wg.Wait()
	for _, d := range s.done {
		if d.err == nil {
			acked = append(acked, d)
		} else {
			rejected = append(rejected, d)
		}
	}
	return acked, rejected
}

// checkUpgrade proves that every acknowledged transaction is on every
// peer's ledger, valid, and wrote the version of the definition in force
// at its position (before the v2 commit: "1", after: "2"), and that every
// rejected one wrote nothing.
func checkUpgrade(t *testing.T, net *nettest.Network, acked, rejected []submitted) {
	t.Helper()
	if len(acked) == 0 {
		t.Fatal("no transaction acknowledged")
	}
	l := net.PeerChannel(0).Ledger()
	if v, err := l.State().Get(ccName, "stale"); err != nil || v != nil {
		t.Fatalf("the stale transaction wrote %v, %v", v, err)
	}
	upgrade := upgradePosition(t, l)
	var v1, v2 int
	for _, a := range acked {
		info, err := l.Tx(a.res.TxID)
		if err != nil || info.Code != pb.TxValidationCode_VALID || info.Block != a.res.Block {
			t.Fatalf("acknowledged %s (%s): on the ledger %+v, %v", a.res.TxID, a.key, info, err)
		}
		want := "2"
		if info.Block < upgrade.Block || info.Block == upgrade.Block && uint64(info.Index) < upgrade.Tx {
			want = "1"
			v1++
		} else {
			v2++
		}
		for i := range net.Members {
			v, err := net.PeerChannel(i).Ledger().State().Get(ccName, a.key)
			if err != nil || v == nil || string(v.Value) != want {
				t.Fatalf("peer %d: %s (tx %s at %d/%d, upgrade at %d/%d) = %v, %v; want version %s", i, a.key, a.res.TxID, info.Block, info.Index, upgrade.Block, upgrade.Tx, v, err, want)
			}
		}
	}
	for _, r := range rejected {
		var invalid *client.InvalidTxError
		if errors.As(r.err, &invalid) && invalid.Code == pb.TxValidationCode_VALID {
			t.Fatalf("%s rejected although valid: %v", r.key, r.err)
		}
		if v, err := l.State().Get(ccName, r.key); err != nil || v != nil {
			t.Fatalf("rejected %s (%v) wrote %v, %v", r.key, r.err, v, err)
		}
	}
	if v1 == 0 || v2 == 0 {
		t.Fatalf("%d transactions under v1 and %d under v2: want both", v1, v2)
	}
	t.Logf("upgrade under load: %d acknowledged (%d under v1, %d under v2), %d cleanly rejected", len(acked), v1, v2, len(rejected))
	_, h0, _ := net.PeerChannel(0).CommitHash()
	for i := 1; i < len(net.Members); i++ {
		if _, h, _ := net.PeerChannel(i).CommitHash(); string(h) != string(h0) {
			t.Fatalf("peer %d commit hash differs from peer 0's", i)
		}
	}
}

// upgradePosition returns where the sequence-2 commit of the chaincode is
// on the ledger: the version of its write of the sequence key.
func upgradePosition(t *testing.T, l *ledger.Ledger) ledger.Version {
	t.Helper()
	v, err := l.State().Get(lifecycle.Name, lifecycle.SequenceKey(ccName))
	if err != nil || v == nil || string(v.Value) != "2" {
		t.Fatalf("sequence of %s = %v, %v; want 2", ccName, v, err)
	}
	return v.Version
}
