package wasm

import (
	"bytes"
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/blossom-ledger/blossom/chaincode/kvtest"
	"github.com/blossom-ledger/blossom/internal/chaincode"
	"github.com/blossom-ledger/blossom/internal/chaincode/ccpackage"
	"github.com/blossom-ledger/blossom/internal/chaincode/chaincodetest"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// seedState fills a state with public keys, composite keys, history,
// private data and definition sequences.
func seedState(st *chaincodetest.State) {
	v := func(b, t uint64) *pb.Version { return &pb.Version{Block: b, Tx: t} }
	for _, ns := range []string{"kvtest", "other"} {
		st.Put(chaincode.LifecycleNamespace, chaincode.SequenceKey(ns), []byte("1"), v(1, 0))
		st.Put(ns, "a", []byte("A"), v(2, 0))
		st.Put(ns, "b", []byte("B"), v(2, 1))
		st.Put(ns, "c", []byte("C"), v(3, 0))
		st.Put(ns, "ctr", []byte("41"), v(3, 1))
		for _, k := range [][]string{{"x", "1"}, {"x", "2"}, {"y", "1"}} {
			key, _ := contract.CreateCompositeKey("t", k)
			st.Put(ns, key, []byte("v-"+k[0]+k[1]), v(4, 0))
		}
		st.AddHistory(ns, "h", contract.KeyModification{TxID: "t1", Timestamp: time.Date(2026, 1, 1, 0, 0, 0, 5, time.UTC), Value: []byte("1")})
		st.AddHistory(ns, "h", contract.KeyModification{TxID: "t2", Timestamp: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), IsDelete: true})
		st.PutPrivate(ns, "c1", "p1", []byte("private-1"), v(5, 0))
		st.PutPrivate(ns, "c1", "p2", []byte("private-2"), v(5, 1))
	}
	st.SetHeight(6)
}

// TestSameResultsAsNative runs kvtest through Simulate natively and in
// wasm and requires byte-identical responses, read/write sets, private
// write sets and events.
func TestSameResultsAsNative(t *testing.T) {
	native := chaincode.NewNativeRuntime()
	for _, name := range []string{"kvtest", "other"} {
		if err := native.Register(name, kvtest.New()); err != nil {
			t.Fatal(err)
		}
	}
	wasmRT := newTestRuntime(t, Config{}, "kvtest")
	id := wasmRT.Installed()[0]
	if err := wasmRT.Define("other", id, ccpackage.Limits{}); err != nil {
		t.Fatal(err)
	}
	e := newTxEnv(t)
	seedState(e.state)

	tests := []struct {
		fn   string
		args []string
	}{
		{"kv:Put", []string{"new", "value"}},
		{"kv:Put", []string{"a", ""}},
		{"kv:Get", []string{"a"}},
		{"kv:Get", []string{"missing"}},
		{"kv:Get", []string{"\x00bad"}},
		{"kv:Del", []string{"a"}},
		{"kv:PutGet", []string{"a", "new"}},
		{"kv:Range", []string{"", ""}},
		{"kv:Range", []string{"b", "d"}},
		{"kv:Range", []string{"\x00", ""}},
		{"kv:Incr", []string{"ctr"}},
		{"kv:Incr", []string{"a"}},
		{"kv:PutComposite", []string{"t", "val", "z", "9"}},
		{"kv:Partial", []string{"t", "x"}},
		{"kv:Partial", []string{"t"}},
		{"kv:History", []string{"h"}},
		{"kv:PutPrivate", []string{"c1", "k"}},
		{"kv:GetPrivate", []string{"c1", "p1"}},
		{"kv:GetPrivateHash", []string{"c1", "p2"}},
		{"kv:GetPrivateHash", []string{"c1", "missing"}},
		{"kv:DelPrivate", []string{"c1", "p1"}},
		{"kv:PrivateRange", []string{"c1", "", ""}},
		{"kv:Call", []string{"other", "kv:Put", "z", "1"}},
		{"kv:Call", []string{"other", "kv:Range", "", ""}},
		{"kv:Call", []string{"other", "kv:Panic"}},
		{"kv:TryCall", []string{"other", "kv:Fail", "callee says no"}},
		{"kv:TryCall", []string{"nope", "kv:Get", "a"}},
		{"kv:Nest", []string{"kvtest", "3"}},
		{"kv:Nest", []string{"kvtest", "8"}},
		{"kv:Nest", []string{"kvtest", "9"}},
		{"kv:Event", []string{"ev", "payload"}},
		{"kv:Fail", []string{"refused: ünïcode"}},
		{"kv:Panic", nil},
		{"kv:Whoami", nil},
		{"kv:Param", []string{"adminMSP"}},
		{"kv:Param", []string{"nope"}},
		{"kv:TxInfo", nil},
		{"kv:Transient", []string{"value"}},
		{"kv:Transient", []string{"missing"}},
		{"kv:Put", []string{"only-key"}},
		{"kv:Nope", nil},
		{"not a name", nil},
	}
	for _, tt := range tests {
		t.Run(tt.fn, func(t *testing.T) {
			tx := e.tx("tx-eq", "kvtest", tt.fn, tt.args...)
			want, werr := chaincode.Simulate(context.Background(), native, e.state, tx)
			got, gerr := chaincode.Simulate(context.Background(), wasmRT, e.state, tx)
			if (werr == nil) != (gerr == nil) {
				t.Fatalf("native error %v, wasm error %v", werr, gerr)
			}
			if werr != nil {
				if werr.Error() != gerr.Error() {
					t.Fatalf("errors differ: native %q, wasm %q", werr, gerr)
				}
				return
			}
			if !proto.Equal(want.Response, got.Response) {
				t.Fatalf("response: native %v, wasm %v", want.Response, got.Response)
			}
			for _, pair := range []struct {
				what      string
				want, got proto.Message
			}{
				{"response", want.Response, got.Response},
				{"rwset", want.RWSet, got.RWSet},
				{"private rwset", want.PvtRWSet, got.PvtRWSet},
				{"events", want.Events, got.Events},
			} {
				wb, err1 := protocol.Marshal(pair.want)
				gb, err2 := protocol.Marshal(pair.got)
				if err1 != nil || err2 != nil {
					t.Fatal(err1, err2)
				}
				if !bytes.Equal(wb, gb) {
					t.Fatalf("%s differs\nnative: %v\n  wasm: %v", pair.what, pair.want, pair.got)
				}
			}
			t.Logf("status %d %q", got.Response.Status, got.Response.Message)
		})
	}
}
