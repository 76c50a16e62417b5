package lifecycle_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/network/nettest"
	"github.com/blossom-ledger/blossom/internal/txn"
)

// TestInitRequiredOnNetwork commits a definition with InitRequired
// through the lifecycle and checks that the peers enforce it: a call
// before the init call is refused at endorsement, the init call commits,
// later calls run, and a second init call is refused.
func TestInitRequiredOnNetwork(t *testing.T) {
	net := nettest.Start(t, nettest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pkg, id := nettest.KVTestPackage(t, "kvw_init")
	for i := range 3 {
		net.Install(t, i, pkg)
	}
	def := kvDefinition(1, id, "1")
	def.InitRequired = true
	var last uint64
	for i := range 2 {
		b, err := net.Lifecycle(t, i).Approve(ctx, def)
		if err != nil {
			t.Fatal(err)
		}
		last = max(last, b)
	}
	net.WaitForHeight(t, last+1, 20*time.Second)
	commit, err := net.Lifecycle(t, 0).Commit(ctx, def)
	if err != nil {
		t.Fatal(err)
	}
	net.WaitForHeight(t, commit+1, 20*time.Second)

	user := net.Client(t, 0)
	peers := net.PeerNames(0, 1, 2)
	put := func(key string, init bool) error {
		_, err := user.Submit(ctx, txn.Request{Chaincode: ccName, Function: "kv:Put", Args: [][]byte{[]byte(key), []byte("v")}, Init: init}, peers)
		return err
	}
	steps := []struct {
		name    string
		key     string
		init    bool
		refusal string
	}{
		{"call before init", "a", false, "has not been initialized for this version, must call as init first"},
		{"init call", "b", true, ""},
		{"call after init", "c", false, ""},
		{"second init call", "d", true, "is already initialized but called as init"},
	}
	for _, st := range steps {
		err := put(st.key, st.init)
		switch {
		case st.refusal == "" && err != nil:
			t.Fatalf("%s: %v", st.name, err)
		case st.refusal != "" && (err == nil || !strings.Contains(err.Error(), st.refusal)):
			t.Fatalf("%s: %v, want refusal %q", st.name, err, st.refusal)
		}
	}
	net.WaitForHeight(t, net.PeerChannel(0).Height(), 20*time.Second)
	for i := range 3 {
		state := net.PeerChannel(i).Ledger().State()
		for key, want := range map[string]bool{"a": false, "b": true, "c": true, "d": false} {
			if v, _ := state.Get(ccName, key); (v != nil) != want {
				t.Errorf("peer %d: key %s present = %v, want %v", i, key, v != nil, want)
			}
		}
	}
}
