package chaincode_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/blossom-ledger/blossom/chaincode/kvtest"
	"github.com/blossom-ledger/blossom/internal/chaincode"
	"github.com/blossom-ledger/blossom/internal/chaincode/chaincodetest"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

var txTime = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// env is a peer-like setting: an in-memory state, a native runtime with
// the kv test chaincode under the names "kv" and "other" and the probe
// chaincode under "probe", and a real creator certificate.
type env struct {
	state *chaincodetest.State
	rt    *chaincode.NativeRuntime
	cert  []byte
}

func newEnv(t testing.TB) *env {
	t.Helper()
	c := testpki.NewConsortium(t, "Agency1MSP")
	cred := c.Member("Agency1MSP").Issue(pki.RoleClient, "user1", map[string]string{pki.RoleAttribute: "Technical Point of Contact"})
	e := &env{state: chaincodetest.NewState(), rt: chaincode.NewNativeRuntime(), cert: cred.Cert.Raw}
	for name, cc := range map[string]contract.Chaincode{"kv": kvtest.New(), "other": kvtest.New(), "probe": probe()} {
		if err := e.rt.Register(name, cc); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *env) tx(chaincodeName, function string, args ...string) *chaincode.Transaction {
	b := make([][]byte, len(args))
	for i, a := range args {
		b[i] = []byte(a)
	}
	return &chaincode.Transaction{
		ChannelID:    "blossom",
		TxID:         "tx-1",
		Timestamp:    txTime,
		CreatorMSPID: "Agency1MSP",
		CreatorCert:  e.cert,
		Invocation:   &pb.ChaincodeInvocation{Chaincode: chaincodeName, Function: function, Args: b},
		DefinitionParams: func(name string) map[string]string {
			return map[string]string{"adminMSP": "SAMSMSP", "self": name}
		},
	}
}

func (e *env) simulate(t testing.TB, tx *chaincode.Transaction) *chaincode.Result {
	t.Helper()
	res, err := chaincode.Simulate(context.Background(), e.rt, e.state, tx)
	if err != nil {
		t.Fatalf("Simulate(%s %s): %v", tx.Invocation.Chaincode, tx.Invocation.Function, err)
	}
	return res
}

// ok simulates and requires success.
func (e *env) ok(t testing.TB, tx *chaincode.Transaction) *chaincode.Result {
	t.Helper()
	res := e.simulate(t, tx)
	if res.Response.Status != chaincode.StatusOK {
		t.Fatalf("%s %s: status %d %q", tx.Invocation.Chaincode, tx.Invocation.Function, res.Response.Status, res.Response.Message)
	}
	return res
}

// commit applies a successful result at (block, 0).
func (e *env) commit(res *chaincode.Result, block uint64) {
	e.state.Apply(res.RWSet, res.PvtRWSet, "tx", txTime, block, 0)
}

func ver(block, tx uint64) *pb.Version { return &pb.Version{Block: block, Tx: tx} }

func seqRead(name string, v *pb.Version) *pb.KVRead {
	return &pb.KVRead{Key: chaincode.SequenceKey(name), Version: v}
}

func lifecycleNs(reads ...*pb.KVRead) *pb.NsReadWriteSet {
	return &pb.NsReadWriteSet{Namespace: chaincode.LifecycleNamespace, Reads: reads}
}

func requireRWSet(t *testing.T, got, want *pb.TxReadWriteSet) {
	t.Helper()
	if !proto.Equal(got, want) {
		t.Fatalf("rwset mismatch\n got: %v\nwant: %v", got, want)
	}
}

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// probe is a chaincode for behaviour kvtest does not show.
func probe() contract.Chaincode {
	return contract.New(contract.Contract{Name: "p", Functions: map[string]contract.Function{
		// First reads one result of [args0, args1) and stops.
		"First": func(stub contract.Stub, args [][]byte) ([]byte, error) {
			it, err := stub.GetStateByRange(string(args[0]), string(args[1]))
			if err != nil {
				return nil, err
			}
			defer it.Close()
			kv, err := it.Next()
			if err != nil {
				return nil, err
			}
			return []byte(kv.Key), nil
		},
		// Probe asks HasNext only.
		"HasNext": func(stub contract.Stub, args [][]byte) ([]byte, error) {
			it, err := stub.GetStateByRange(string(args[0]), string(args[1]))
			if err != nil {
				return nil, err
			}
			return []byte(fmt.Sprint(it.HasNext())), nil
		},
		// Open opens n iterators and closes none.
		"Open": func(stub contract.Stub, args [][]byte) ([]byte, error) {
			var n int
			fmt.Sscan(string(args[0]), &n)
			for i := 0; i < n; i++ {
				if _, err := stub.GetStateByRange("", ""); err != nil {
					return nil, err
				}
			}
			return nil, nil
		},
		// Writes does a sequence of writes that collapse.
		"Writes": func(stub contract.Stub, args [][]byte) ([]byte, error) {
			steps := []error{
				stub.PutState("a", []byte("1")), stub.PutState("a", []byte("2")),
				stub.DelState("b"), stub.PutState("b", []byte("3")),
				stub.PutState("c", []byte("1")), stub.DelState("c"),
				stub.PutState("d", nil),
			}
			return nil, errors.Join(steps...)
		},
		// WriteFail writes z, reads r, sets an event, then refuses.
		"WriteFail": func(stub contract.Stub, args [][]byte) ([]byte, error) {
			if err := stub.PutState("z", []byte("1")); err != nil {
				return nil, err
			}
			if _, err := stub.GetState("r"); err != nil {
				return nil, err
			}
			if err := stub.SetEvent("lost", nil); err != nil {
				return nil, err
			}
			return nil, errors.New("callee refuses")
		},
		// Events sets two events; the second replaces the first.
		"Events": func(stub contract.Stub, args [][]byte) ([]byte, error) {
			if err := stub.SetEvent("first", []byte("1")); err != nil {
				return nil, err
			}
			return nil, stub.SetEvent("second", []byte("2"))
		},
		// Flood reads keys until refused, ignores the refusal and succeeds.
		"Flood": func(stub contract.Stub, args [][]byte) ([]byte, error) {
			for i := 0; ; i++ {
				if _, err := stub.GetState(fmt.Sprintf("k%d", i)); err != nil {
					return []byte(err.Error()), nil
				}
			}
		},
		// Swallow reads a key and succeeds whatever the read returned.
		"Swallow": func(stub contract.Stub, args [][]byte) ([]byte, error) {
			_, err := stub.GetState("k")
			return []byte(fmt.Sprint(err)), nil
		},
		// Leak keeps its stub for later use.
		"Leak": func(stub contract.Stub, args [][]byte) ([]byte, error) {
			leaked = stub
			return nil, nil
		},
		// Big returns an oversized payload.
		"Big": func(stub contract.Stub, args [][]byte) ([]byte, error) {
			return make([]byte, chaincode.MaxResponsePayloadSize+1), nil
		},
		// LongError refuses with an oversized, invalid UTF-8 message.
		"LongError": func(stub contract.Stub, args [][]byte) ([]byte, error) {
			return nil, errors.New("\xff" + strings.Repeat("é", chaincode.MaxResponseMessageSize))
		},
		// PrivateThenWrite runs a private range query, then writes.
		"PrivateThenWrite": func(stub contract.Stub, args [][]byte) ([]byte, error) {
			it, err := stub.GetPrivateDataByRange("coll", "", "")
			if err != nil {
				return nil, err
			}
			it.Close()
			return nil, stub.PutState("x", []byte("1"))
		},
		// WriteThenPrivate writes, then runs a private range query.
		"WriteThenPrivate": func(stub contract.Stub, args [][]byte) ([]byte, error) {
			if err := stub.PutState("x", []byte("1")); err != nil {
				return nil, err
			}
			_, err := stub.GetPrivateDataByPartialCompositeKey("coll", "t", nil)
			return nil, err
		},
	}})
}

var leaked contract.Stub

func TestReadVersions(t *testing.T) {
	e := newEnv(t)
	e.state.Put(chaincode.LifecycleNamespace, chaincode.SequenceKey("kv"), []byte("1"), ver(2, 0))
	e.state.Put("kv", "a", []byte("A"), ver(3, 1))
	e.state.Put("other", "a", []byte("not mine"), ver(4, 0))
	tests := []struct {
		name    string
		key     string
		payload string
		want    *pb.TxReadWriteSet
	}{
		{"present key", "a", "A", &pb.TxReadWriteSet{NsRwsets: []*pb.NsReadWriteSet{
			{Namespace: "_lifecycle", Reads: []*pb.KVRead{seqRead("kv", ver(2, 0))}},
			{Namespace: "kv", Reads: []*pb.KVRead{{Key: "a", Version: ver(3, 1)}}},
		}}},
		{"absent key has no version", "b", "", &pb.TxReadWriteSet{NsRwsets: []*pb.NsReadWriteSet{
			{Namespace: "_lifecycle", Reads: []*pb.KVRead{seqRead("kv", ver(2, 0))}},
			{Namespace: "kv", Reads: []*pb.KVRead{{Key: "b"}}},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.ok(t, e.tx("kv", "kv:Get", tt.key))
			if string(res.Response.Payload) != tt.payload {
				t.Fatalf("payload %q, want %q", res.Response.Payload, tt.payload)
			}
			requireRWSet(t, res.RWSet, tt.want)
			if res.PvtRWSet != nil || len(res.Events.Events) != 0 {
				t.Fatalf("unexpected private writes %v or events %v", res.PvtRWSet, res.Events)
			}
		})
	}
}

func TestReadsSeeCommittedStateOnly(t *testing.T) {
	e := newEnv(t)
	e.state.Put("kv", "k", []byte("old"), ver(5, 2))
	res := e.ok(t, e.tx("kv", "kv:PutGet", "k", "new"))
	if got := string(res.Response.Payload); got != "old" {
		t.Fatalf("read after own write returned %q, want the committed %q", got, "old")
	}
	requireRWSet(t, res.RWSet, &pb.TxReadWriteSet{NsRwsets: []*pb.NsReadWriteSet{
		lifecycleNs(seqRead("kv", nil)),
		{Namespace: "kv", Reads: []*pb.KVRead{{Key: "k", Version: ver(5, 2)}}, Writes: []*pb.KVWrite{{Key: "k", Value: []byte("new")}}},
	}})

	// Read-modify-write over committed transactions.
	for i, want := range []string{"1", "2", "3"} {
		res := e.ok(t, e.tx("kv", "kv:Incr", "n"))
		if string(res.Response.Payload) != want {
			t.Fatalf("Incr #%d = %q, want %q", i, res.Response.Payload, want)
		}
		e.commit(res, uint64(10+i))
	}
	res = e.ok(t, e.tx("kv", "kv:Incr", "n"))
	if got := res.RWSet.NsRwsets[1].Reads[0]; got.Key != "n" || !proto.Equal(got.Version, ver(12, 0)) {
		t.Fatalf("Incr read %v, want n at (12,0)", got)
	}
}

func TestRangeQueryInfo(t *testing.T) {
	e := newEnv(t)
	for i, k := range []string{"a", "b", "c", "d"} {
		e.state.Put("kv", k, []byte(strings.ToUpper(k)), ver(1, uint64(i)))
		e.state.Put("probe", k, []byte(k), ver(1, uint64(i)))
	}
	composite, _ := contract.CreateCompositeKey("t", []string{"x"})
	e.state.Put("kv", composite, []byte("hidden"), ver(1, 9))

	tests := []struct {
		name    string
		tx      *chaincode.Transaction
		payload string
		want    []*pb.RangeQueryInfo
	}{
		{
			name: "bounded range read to the end", tx: e.tx("kv", "kv:Range", "b", "d"),
			payload: `[{"key":"b","value":"B"},{"key":"c","value":"C"}]`,
			want: []*pb.RangeQueryInfo{{StartKey: "b", EndKey: "d", ItrExhausted: true, Reads: []*pb.KVRead{
				{Key: "b", Version: ver(1, 1)}, {Key: "c", Version: ver(1, 2)}}}},
		},
		{
			name: "open range skips composite keys", tx: e.tx("kv", "kv:Range", "", ""),
			payload: `[{"key":"a","value":"A"},{"key":"b","value":"B"},{"key":"c","value":"C"},{"key":"d","value":"D"}]`,
			want: []*pb.RangeQueryInfo{{StartKey: "\x01", EndKey: "", ItrExhausted: true, Reads: []*pb.KVRead{
				{Key: "a", Version: ver(1, 0)}, {Key: "b", Version: ver(1, 1)}, {Key: "c", Version: ver(1, 2)}, {Key: "d", Version: ver(1, 3)}}}},
		},
		{
			name: "stopped early: range ends at the last key read", tx: e.tx("probe", "p:First", "b", ""),
			payload: "b",
			want:    []*pb.RangeQueryInfo{{StartKey: "b", EndKey: "b", ItrExhausted: false, Reads: []*pb.KVRead{{Key: "b", Version: ver(1, 1)}}}},
		},
		{
			name: "HasNext alone reads the key it found", tx: e.tx("probe", "p:HasNext", "b", ""),
			payload: "true",
			want:    []*pb.RangeQueryInfo{{StartKey: "b", EndKey: "b", ItrExhausted: false, Reads: []*pb.KVRead{{Key: "b", Version: ver(1, 1)}}}},
		},
		{
			name: "empty range is still checked for phantoms", tx: e.tx("probe", "p:HasNext", "x", "z"),
			payload: "false",
			want:    []*pb.RangeQueryInfo{{StartKey: "x", EndKey: "z", ItrExhausted: true}},
		},
		{
			name: "unread iterator records nothing", tx: e.tx("probe", "p:Open", "1"),
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.ok(t, tt.tx)
			if string(res.Response.Payload) != tt.payload {
				t.Fatalf("payload %s, want %s", res.Response.Payload, tt.payload)
			}
			var got []*pb.RangeQueryInfo
			for _, ns := range res.RWSet.NsRwsets {
				got = append(got, ns.RangeQueries...)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("range queries %v, want %v", got, tt.want)
			}
			for i := range got {
				if !proto.Equal(got[i], tt.want[i]) {
					t.Fatalf("range query %d = %v, want %v", i, got[i], tt.want[i])
				}
			}
		})
	}
	if _, err := chaincode.Simulate(context.Background(), e.rt, e.state, e.tx("kv", "kv:Range", "\x00t", "")); err != nil {
		t.Fatal(err)
	} else if res := e.simulate(t, e.tx("kv", "kv:Range", "\x00t", "")); res.Response.Status != chaincode.StatusError || !strings.Contains(res.Response.Message, "partial composite key") {
		t.Fatalf("range from a composite key: %v", res.Response)
	}
}

func TestWriteCollapse(t *testing.T) {
	e := newEnv(t)
	res := e.ok(t, e.tx("probe", "p:Writes"))
	requireRWSet(t, res.RWSet, &pb.TxReadWriteSet{NsRwsets: []*pb.NsReadWriteSet{
		lifecycleNs(seqRead("probe", nil)),
		{Namespace: "probe", Writes: []*pb.KVWrite{
			{Key: "a", Value: []byte("2")},
			{Key: "b", Value: []byte("3")},
			{Key: "c", IsDelete: true},
			{Key: "d", IsDelete: true},
		}},
	}})
}

func TestCompositeKeys(t *testing.T) {
	e := newEnv(t)
	for i, w := range [][]string{
		{"order", "v1", "Agency1MSP", "o1"},
		{"order", "v2", "Agency1MSP", "o2"},
		{"order", "v3", "Agency2MSP", "o3"},
		{"asset", "v4", "Agency1MSP"},
	} {
		e.commit(e.ok(t, e.tx("kv", "kv:PutComposite", w...)), uint64(i+1))
	}
	res := e.ok(t, e.tx("kv", "kv:Partial", "order", "Agency1MSP"))
	want := `[{"objectType":"order","attributes":["Agency1MSP","o1"],"value":"v1"},{"objectType":"order","attributes":["Agency1MSP","o2"],"value":"v2"}]`
	if string(res.Response.Payload) != want {
		t.Fatalf("Partial = %s\nwant %s", res.Response.Payload, want)
	}
	prefix, _ := contract.CreateCompositeKey("order", []string{"Agency1MSP"})
	rq := res.RWSet.NsRwsets[1].RangeQueries[0]
	if rq.StartKey != prefix || rq.EndKey != prefix+"\U0010FFFF" || !rq.ItrExhausted || len(rq.Reads) != 2 {
		t.Fatalf("range query info %v", rq)
	}
	res = e.simulate(t, e.tx("kv", "kv:PutComposite", "bad\x00type", "v"))
	if res.Response.Status != chaincode.StatusError || !strings.Contains(res.Response.Message, "U+0000") {
		t.Fatalf("bad composite key: %v", res.Response)
	}
}

func TestPrivateData(t *testing.T) {
	e := newEnv(t)
	const key, value = "private-key-7f3a", "private-value-91c2"
	tx := e.tx("kv", "kv:PutPrivate", "coll", key)
	tx.Transient = map[string][]byte{"value": []byte(value)}
	res := e.ok(t, tx)

	public := protocol.MustMarshal(res.RWSet)
	if bytes.Contains(public, []byte(value)) || bytes.Contains(public, []byte(key)) {
		t.Fatal("private key or value appears in the public read/write set")
	}
	wantPvt := &pb.CollectionPvtReadWriteSet{Collection: "coll", Writes: []*pb.KVWrite{{Key: key, Value: []byte(value)}}}
	pvtHash := sha256.Sum256(protocol.MustMarshal(wantPvt))
	requireRWSet(t, res.RWSet, &pb.TxReadWriteSet{NsRwsets: []*pb.NsReadWriteSet{
		lifecycleNs(seqRead("kv", nil)),
		{Namespace: "kv", CollectionHashedRwsets: []*pb.CollectionHashedReadWriteSet{{
			Collection:   "coll",
			HashedWrites: []*pb.KVWriteHash{{KeyHash: hash(key), ValueHash: hash(value)}},
			PvtRwsetHash: pvtHash[:],
		}}},
	}})
	if !proto.Equal(res.PvtRWSet, &pb.TxPvtReadWriteSet{NsPvtRwsets: []*pb.NsPvtReadWriteSet{{Namespace: "kv", CollectionPvtRwsets: []*pb.CollectionPvtReadWriteSet{wantPvt}}}}) {
		t.Fatalf("private rwset %v", res.PvtRWSet)
	}
	e.commit(res, 7)

	// Reads by value and by hash record hashed reads with the version.
	for _, fn := range []string{"kv:GetPrivate", "kv:GetPrivateHash"} {
		res := e.ok(t, e.tx("kv", fn, "coll", key))
		want := value
		if fn == "kv:GetPrivateHash" {
			want = fmt.Sprintf("%x", hash(value))
		}
		if string(res.Response.Payload) != want {
			t.Fatalf("%s = %q, want %q", fn, res.Response.Payload, want)
		}
		coll := res.RWSet.NsRwsets[1].CollectionHashedRwsets[0]
		if len(coll.HashedReads) != 1 || !bytes.Equal(coll.HashedReads[0].KeyHash, hash(key)) || !proto.Equal(coll.HashedReads[0].Version, ver(7, 0)) || coll.PvtRwsetHash != nil {
			t.Fatalf("%s hashed set %v", fn, coll)
		}
	}

	// Delete.
	res = e.ok(t, e.tx("kv", "kv:DelPrivate", "coll", key))
	hw := res.RWSet.NsRwsets[1].CollectionHashedRwsets[0].HashedWrites[0]
	if !hw.IsDelete || hw.ValueHash != nil || !res.PvtRWSet.NsPvtRwsets[0].CollectionPvtRwsets[0].Writes[0].IsDelete {
		t.Fatalf("private delete: %v / %v", hw, res.PvtRWSet)
	}

	// A peer outside the collection: value reads fail the simulation with
	// PRIVATE_DATA_NOT_HELD, hash reads still work.
	e.state.SetNotHeld("kv", "coll")
	_, err := chaincode.Simulate(context.Background(), e.rt, e.state, e.tx("kv", "kv:GetPrivate", "coll", key))
	var notHeld *chaincode.PrivateDataNotHeldError
	if !errors.As(err, &notHeld) || notHeld.Collection != "coll" || err.Error() != "PRIVATE_DATA_NOT_HELD(coll)" {
		t.Fatalf("not-held error = %v", err)
	}
	e.ok(t, e.tx("kv", "kv:GetPrivateHash", "coll", key))

	// An undeclared collection is the chaincode's error.
	e.state.SetUnknownCollection("kv", "nope")
	res = e.simulate(t, e.tx("kv", "kv:GetPrivate", "nope", key))
	if res.Response.Status != chaincode.StatusError || res.Response.Message != chaincode.ErrUnknownCollection.Error() {
		t.Fatalf("unknown collection: %v", res.Response)
	}
}

func TestPrivateRangeExcludesWrites(t *testing.T) {
	e := newEnv(t)
	e.state.PutPrivate("kv", "coll", "a", []byte("1"), ver(1, 0))
	res := e.ok(t, e.tx("kv", "kv:PrivateRange", "coll", "", ""))
	if string(res.Response.Payload) != `[{"key":"a","value":"1"}]` {
		t.Fatalf("PrivateRange = %s", res.Response.Payload)
	}
	for _, ns := range res.RWSet.NsRwsets {
		if len(ns.RangeQueries) > 0 || len(ns.CollectionHashedRwsets) > 0 {
			t.Fatalf("private range query recorded: %v", ns)
		}
	}
	for fn, want := range map[string]error{"p:PrivateThenWrite": contract.ErrWriteAfterPrivateQuery, "p:WriteThenPrivate": contract.ErrPrivateQueryAfterWrite} {
		res := e.simulate(t, e.tx("probe", fn))
		if res.Response.Status != chaincode.StatusError || res.Response.Message != want.Error() {
			t.Errorf("%s: %v, want %q", fn, res.Response, want)
		}
	}
}

func TestInvokeChaincode(t *testing.T) {
	e := newEnv(t)
	e.state.Put(chaincode.LifecycleNamespace, chaincode.SequenceKey("other"), []byte("3"), ver(1, 0))
	e.state.Put("other", "y", []byte("Y"), ver(2, 0))

	t.Run("callee reads and writes join the transaction", func(t *testing.T) {
		res := e.ok(t, e.tx("kv", "kv:Call", "other", "kv:PutGet", "y", "new"))
		if string(res.Response.Payload) != "Y" {
			t.Fatalf("payload %q", res.Response.Payload)
		}
		requireRWSet(t, res.RWSet, &pb.TxReadWriteSet{NsRwsets: []*pb.NsReadWriteSet{
			lifecycleNs(seqRead("kv", nil), seqRead("other", ver(1, 0))),
			{Namespace: "other", Reads: []*pb.KVRead{{Key: "y", Version: ver(2, 0)}}, Writes: []*pb.KVWrite{{Key: "y", Value: []byte("new")}}},
		}})
	})
	t.Run("callee sees its own definition parameters", func(t *testing.T) {
		res := e.ok(t, e.tx("kv", "kv:Call", "other", "kv:Param", "self"))
		if string(res.Response.Payload) != "other" {
			t.Fatalf("callee param self = %q", res.Response.Payload)
		}
	})
	t.Run("failed callee: writes and event dropped, reads kept", func(t *testing.T) {
		res := e.ok(t, e.tx("kv", "kv:TryCall", "probe", "p:WriteFail"))
		if string(res.Response.Payload) != "error:callee refuses" {
			t.Fatalf("payload %q", res.Response.Payload)
		}
		requireRWSet(t, res.RWSet, &pb.TxReadWriteSet{NsRwsets: []*pb.NsReadWriteSet{
			lifecycleNs(seqRead("kv", nil), seqRead("probe", nil)),
			{Namespace: "probe", Reads: []*pb.KVRead{{Key: "r"}}},
		}})
		if len(res.Events.Events) != 0 {
			t.Fatalf("failed callee's event kept: %v", res.Events)
		}
	})
	t.Run("callee refusal propagates verbatim", func(t *testing.T) {
		res := e.simulate(t, e.tx("kv", "kv:Call", "other", "kv:Fail", "an account with id X does not exist"))
		if res.Response.Status != chaincode.StatusError || res.Response.Message != "an account with id X does not exist" || res.RWSet != nil {
			t.Fatalf("response %v rwset %v", res.Response, res.RWSet)
		}
	})
	t.Run("depth 8 allowed, 9 refused", func(t *testing.T) {
		res := e.ok(t, e.tx("kv", "kv:Nest", "kv", fmt.Sprint(contract.MaxCallDepth)))
		if string(res.Response.Payload) != "0" {
			t.Fatalf("payload %q", res.Response.Payload)
		}
		res = e.simulate(t, e.tx("kv", "kv:Nest", "kv", fmt.Sprint(contract.MaxCallDepth+1)))
		if res.Response.Status != chaincode.StatusError || res.Response.Message != contract.ErrCallDepth.Error() {
			t.Fatalf("depth 9: %v", res.Response)
		}
	})
	t.Run("events of caller and callee", func(t *testing.T) {
		res := e.ok(t, e.tx("kv", "kv:Call", "probe", "p:Events"))
		want := &pb.ChaincodeEvents{Events: []*pb.ChaincodeEvent{{Chaincode: "probe", TxId: "tx-1", Name: "second", Payload: []byte("2")}}}
		if !proto.Equal(res.Events, want) {
			t.Fatalf("events %v, want %v", res.Events, want)
		}
	})
	t.Run("unknown callee fails the simulation", func(t *testing.T) {
		_, err := chaincode.Simulate(context.Background(), e.rt, e.state, e.tx("kv", "kv:TryCall", "missing", "kv:Get", "a"))
		if !errors.Is(err, chaincode.ErrChaincodeNotFound) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("bad callee name refused", func(t *testing.T) {
		res := e.simulate(t, e.tx("kv", "kv:Call", "bad name", "kv:Get", "a"))
		if res.Response.Status != chaincode.StatusError || !strings.Contains(res.Response.Message, "chaincode name") {
			t.Fatalf("response %v", res.Response)
		}
	})
}

func TestEvents(t *testing.T) {
	e := newEnv(t)
	res := e.ok(t, e.tx("kv", "kv:Event", "SignMOU", `{"account":"A","version":1}`))
	want := &pb.ChaincodeEvents{Events: []*pb.ChaincodeEvent{{Chaincode: "kv", TxId: "tx-1", Name: "SignMOU", Payload: []byte(`{"account":"A","version":1}`)}}}
	if !proto.Equal(res.Events, want) {
		t.Fatalf("events %v", res.Events)
	}
	res = e.simulate(t, e.tx("kv", "kv:Event", "", "x"))
	if res.Response.Status != chaincode.StatusError || res.Response.Message != "empty event name" {
		t.Fatalf("empty event name: %v", res.Response)
	}
}

func TestTransactionContext(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		fn   string
		args []string
		want string
	}{
		{"kv:Whoami", nil, `{"mspId":"Agency1MSP","role":"Technical Point of Contact","hasRole":true}`},
		{"kv:Param", []string{"adminMSP"}, "SAMSMSP"},
		{"kv:TxInfo", nil, `{"txId":"tx-1","channelId":"blossom","timestamp":"2026-11-23T10:00:00Z"}`},
		{"kv:Transient", []string{"request"}, `{"a":1}`},
	}
	for _, tt := range tests {
		tx := e.tx("kv", tt.fn, tt.args...)
		tx.Transient = map[string][]byte{"request": []byte(`{"a":1}`)}
		if got := string(e.ok(t, tx).Response.Payload); got != tt.want {
			t.Errorf("%s = %s, want %s", tt.fn, got, tt.want)
		}
	}
	// No definition parameters at all.
	tx := e.tx("kv", "kv:Param", "adminMSP")
	tx.DefinitionParams = nil
	if res := e.simulate(t, tx); res.Response.Message != `definition parameter "adminMSP" is not set` {
		t.Fatalf("missing parameter: %v", res.Response)
	}
}

func TestHistoryRecordsNoRead(t *testing.T) {
	e := newEnv(t)
	e.state.AddHistory("kv", "k", contract.KeyModification{TxID: "t1", Timestamp: txTime, Value: []byte("1")})
	e.state.AddHistory("kv", "k", contract.KeyModification{TxID: "t2", Timestamp: txTime.Add(time.Second), IsDelete: true})
	res := e.ok(t, e.tx("kv", "kv:History", "k"))
	want := `[{"txId":"t2","timestamp":"2026-11-23T10:00:01Z","value":"","isDelete":true},{"txId":"t1","timestamp":"2026-11-23T10:00:00Z","value":"1","isDelete":false}]`
	if string(res.Response.Payload) != want {
		t.Fatalf("History = %s", res.Response.Payload)
	}
	requireRWSet(t, res.RWSet, &pb.TxReadWriteSet{NsRwsets: []*pb.NsReadWriteSet{lifecycleNs(seqRead("kv", nil))}})
}

func TestChaincodeFailures(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name string
		tx   *chaincode.Transaction
		want string
	}{
		{"error verbatim", e.tx("kv", "kv:Fail", "cid is not authorized to sign the MOU — ü"), "cid is not authorized to sign the MOU — ü"},
		{"panic", e.tx("kv", "kv:Panic"), "chaincode kv panicked: kvtest: deliberate panic"},
		{"unknown function", e.tx("kv", "kv:Nope"), "unknown function kv:Nope"},
		{"malformed function", e.tx("kv", "Nope"), `malformed function name "Nope": want "contract:Function"`},
		{"empty key", e.tx("kv", "kv:Put", "", "v"), "empty key"},
		{"bad composite key", e.tx("kv", "kv:Put", "\x00x", "v"), `key "\x00x" starts with U+0000 but is not a valid composite key: not a composite key`},
		{"invalid UTF-8 key", e.tx("kv", "kv:Get", "a\xffb"), `key "a\xffb" is not valid UTF-8`},
		{"long key", e.tx("kv", "kv:Put", strings.Repeat("k", contract.MaxKeyLength+1), "v"), "is 1025 bytes long (at most 1024)"},
		{"oversized value", e.tx("kv", "kv:Put", "k", strings.Repeat("v", contract.MaxValueSize+1)), "value is 4194305 bytes long (at most 4194304)"},
		{"bad collection", e.tx("kv", "kv:GetPrivate", "a/b", "k"), `collection name "a/b" has a character outside [A-Za-z0-9_.-]`},
		{"oversized payload", e.tx("probe", "p:Big"), "chaincode probe returned a payload of 8388609 bytes (at most 8388608)"},
		{"key limit holds though ignored", e.tx("probe", "p:Flood"), "transaction reads and writes more than 100000 keys"},
		{"too many iterators", e.tx("probe", "p:Open", "65"), "more than 64 iterators open: close iterators when done"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.simulate(t, tt.tx)
			if res.Response.Status != chaincode.StatusError || !strings.HasSuffix(res.Response.Message, tt.want) {
				t.Fatalf("response %d %q, want %q", res.Response.Status, res.Response.Message, tt.want)
			}
			if res.RWSet != nil || res.PvtRWSet != nil || res.Events != nil {
				t.Fatal("a refused transaction returned read/write sets")
			}
		})
	}
	t.Run("long invalid message bounded", func(t *testing.T) {
		res := e.simulate(t, e.tx("probe", "p:LongError"))
		msg := res.Response.Message
		if len(msg) > chaincode.MaxResponseMessageSize || !strings.HasPrefix(msg, "\uFFFDé") || strings.HasSuffix(msg, "\xc3") {
			t.Fatalf("message of %d bytes starting %q", len(msg), msg[:8])
		}
		if _, err := protocol.Marshal(res.Response); err != nil {
			t.Fatalf("bounded response does not marshal: %v", err)
		}
	})
}

func TestSimulationFailures(t *testing.T) {
	e := newEnv(t)
	broken := errors.New("ledger snapshot released")

	t.Run("reader error overrides the chaincode's answer", func(t *testing.T) {
		e.state.FailWith(broken)
		defer e.state.FailWith(nil)
		_, err := chaincode.Simulate(context.Background(), e.rt, e.state, e.tx("probe", "p:Swallow"))
		if !errors.Is(err, broken) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := chaincode.Simulate(ctx, e.rt, e.state, e.tx("kv", "kv:Get", "a")); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unknown chaincode", func(t *testing.T) {
		if _, err := chaincode.Simulate(context.Background(), e.rt, e.state, e.tx("nosuch", "kv:Get", "a")); !errors.Is(err, chaincode.ErrChaincodeNotFound) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("stub unusable after its invocation", func(t *testing.T) {
		e.ok(t, e.tx("probe", "p:Leak"))
		if _, err := leaked.GetState("a"); err == nil || !strings.Contains(err.Error(), "after its invocation") {
			t.Fatalf("leaked stub: %v", err)
		}
		if err := leaked.PutState("a", []byte("1")); err == nil {
			t.Fatal("leaked stub wrote")
		}
	})
	bad := []struct {
		name   string
		mutate func(*chaincode.Transaction)
	}{
		{"no invocation", func(tx *chaincode.Transaction) { tx.Invocation = nil }},
		{"no channel", func(tx *chaincode.Transaction) { tx.ChannelID = "" }},
		{"no tx ID", func(tx *chaincode.Transaction) { tx.TxID = "" }},
		{"invalid UTF-8 tx ID", func(tx *chaincode.Transaction) { tx.TxID = "\xff" }},
		{"no timestamp", func(tx *chaincode.Transaction) { tx.Timestamp = time.Time{} }},
		{"no creator", func(tx *chaincode.Transaction) { tx.CreatorCert = nil }},
		{"bad chaincode name", func(tx *chaincode.Transaction) { tx.Invocation.Chaincode = "a:b" }},
		{"too many args", func(tx *chaincode.Transaction) { tx.Invocation.Args = make([][]byte, chaincode.MaxArgs+1) }},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			tx := e.tx("kv", "kv:Get", "a")
			tt.mutate(tx)
			if _, err := chaincode.Simulate(context.Background(), e.rt, e.state, tx); err == nil || !strings.HasPrefix(err.Error(), "simulate: ") {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// countingState counts the range iterators opened and closed.
type countingState struct {
	*chaincodetest.State
	opened, closed int
}

type countingIterator struct {
	chaincode.StateIterator
	s *countingState
}

func (c *countingState) GetStateRange(ns, start, end string) (chaincode.StateIterator, error) {
	it, err := c.State.GetStateRange(ns, start, end)
	if err != nil {
		return nil, err
	}
	c.opened++
	return &countingIterator{it, c}, nil
}

func (c *countingIterator) Close() { c.s.closed++; c.StateIterator.Close() }

func TestIteratorsClosedAtEnd(t *testing.T) {
	e := newEnv(t)
	cs := &countingState{State: e.state}
	res, err := chaincode.Simulate(context.Background(), e.rt, cs, e.tx("probe", "p:Open", "3"))
	if err != nil || res.Response.Status != chaincode.StatusOK {
		t.Fatalf("Simulate: %v %v", res, err)
	}
	if cs.opened != 3 || cs.closed != 3 {
		t.Fatalf("opened %d, closed %d", cs.opened, cs.closed)
	}
}

// TestDeterministicBytes simulates a transaction touching many keys,
// namespaces, collections and events twice and requires identical bytes.
func TestDeterministicBytes(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 50; i++ {
		k := fmt.Sprintf("key%02d", (i*37)%50)
		e.state.Put("kv", k, []byte(k), ver(uint64(i), 0))
		e.state.Put("other", k, []byte(k), ver(uint64(i), 1))
		e.state.PutPrivate("other", fmt.Sprintf("c%d", i%3), k, []byte(k), ver(uint64(i), 2))
	}
	run := func() [4][]byte {
		var out [4][]byte
		for i, tx := range []*chaincode.Transaction{
			e.tx("kv", "kv:Range", "key10", "key40"),
			e.tx("kv", "kv:Call", "other", "kv:Range", "", ""),
			e.tx("probe", "p:Writes"),
			e.tx("kv", "kv:TryCall", "other", "kv:GetPrivateHash", "c1", "key07"),
		} {
			res := e.ok(t, tx)
			out[i] = protocol.MustMarshal(&pb.ProposalResponsePayload{
				Results: protocol.MustMarshal(res.RWSet), Events: protocol.MustMarshal(res.Events), Response: res.Response,
			})
		}
		return out
	}
	first := run()
	for i := 0; i < 5; i++ {
		again := run()
		for j := range first {
			if !bytes.Equal(first[j], again[j]) {
				t.Fatalf("transaction %d: bytes differ between runs", j)
			}
		}
	}
	// Private writes across collections marshal identically too.
	pvt := func() []byte {
		tx := e.tx("probe", "p:Writes")
		tx.Invocation = &pb.ChaincodeInvocation{Chaincode: "kv", Function: "kv:PutPrivate", Args: [][]byte{[]byte("c2"), []byte("k")}}
		tx.Transient = map[string][]byte{"value": []byte("v")}
		res := e.ok(t, tx)
		return append(protocol.MustMarshal(res.RWSet), protocol.MustMarshal(res.PvtRWSet)...)
	}
	if !bytes.Equal(pvt(), pvt()) {
		t.Fatal("private simulation bytes differ between runs")
	}
}

func TestNativeRuntimeRegister(t *testing.T) {
	rt := chaincode.NewNativeRuntime()
	if err := rt.Register("kv", kvtest.New()); err != nil {
		t.Fatal(err)
	}
	for name, cc := range map[string]contract.Chaincode{"kv": kvtest.New(), "bad name": kvtest.New(), "": kvtest.New(), "nil": nil} {
		if err := rt.Register(name, cc); err == nil {
			t.Errorf("Register(%q) accepted", name)
		}
	}
	if _, err := rt.Invoke(context.Background(), nil, "nosuch", "kv:Get", nil); !errors.Is(err, chaincode.ErrChaincodeNotFound) {
		t.Fatalf("Invoke unknown: %v", err)
	}
}

func TestSequenceKey(t *testing.T) {
	if got := chaincode.SequenceKey("asset"); got != "namespaces/asset/sequence" {
		t.Fatalf("SequenceKey = %q", got)
	}
}

func BenchmarkSimulatePut100B(b *testing.B) {
	e := newEnv(b)
	value := string(bytes.Repeat([]byte("v"), 100))
	tx := e.tx("kv", "kv:Put", "bench-key", value)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := chaincode.Simulate(context.Background(), e.rt, e.state, tx)
		if err != nil || res.Response.Status != chaincode.StatusOK {
			b.Fatal(err, res)
		}
		if _, err := protocol.Marshal(res.RWSet); err != nil {
			b.Fatal(err)
		}
	}
}

// TestInitRequired walks a chaincode whose definition requires
// initialisation through Fabric's rules: nothing but an init call runs
// until the version in force is initialised; then an init call is
// refused; a new version must be initialised again; and the read of the
// initialised mark makes two concurrent init calls conflict.
func TestInitRequired(t *testing.T) {
	e := newEnv(t)
	call := func(version string, isInit bool, function string, args ...string) *chaincode.Transaction {
		tx := e.tx("kv", function, args...)
		tx.InitVersion = version
		tx.Invocation.IsInit = isInit
		return tx
	}
	const notInit = "chaincode kv has not been initialized for this version, must call as init first"
	const already = "chaincode kv is already initialized but called as init"
	steps := []struct {
		name    string
		tx      *chaincode.Transaction
		refusal string // "" for success
	}{
		{"no init needed: plain call", call("", false, "kv:Put", "a", "1"), ""},
		{"no init needed: init flag ignored", call("", true, "kv:Put", "a", "1"), ""},
		{"v1 before init", call("v1", false, "kv:Put", "a", "1"), notInit},
		{"v1 init", call("v1", true, "kv:Put", "a", "init"), ""},
		{"v1 after init", call("v1", false, "kv:Put", "a", "2"), ""},
		{"v1 init again", call("v1", true, "kv:Put", "a", "3"), already},
		{"v2 before init", call("v2", false, "kv:Get", "a"), notInit},
		{"v2 init", call("v2", true, "kv:Get", "a"), ""},
		{"v2 after init", call("v2", false, "kv:Get", "a"), ""},
	}
	for i, st := range steps {
		res := e.simulate(t, st.tx)
		switch {
		case st.refusal == "" && res.Response.Status != chaincode.StatusOK:
			t.Fatalf("%s: status %d %q", st.name, res.Response.Status, res.Response.Message)
		case st.refusal != "" && (res.Response.Status != chaincode.StatusError || res.Response.Message != st.refusal):
			t.Fatalf("%s: got status %d %q, want refusal %q", st.name, res.Response.Status, res.Response.Message, st.refusal)
		case st.refusal != "" && res.RWSet != nil:
			t.Fatalf("%s: a refused call has a read-write set", st.name)
		case st.refusal == "":
			e.commit(res, uint64(10+i))
		}
	}
	value, v, err := e.state.GetState("kv", chaincode.InitializedKey)
	if err != nil || v == nil || string(value) != "v2" {
		t.Fatalf("initialised mark = %q %v %v, want v2", value, v, err)
	}

	// Two init calls simulated against the same state both read the
	// mark's version: the validator's MVCC check keeps only the first.
	a := e.simulate(t, call("v3", true, "kv:Put", "b", "1"))
	b := e.simulate(t, call("v3", true, "kv:Put", "c", "1"))
	for _, r := range []*chaincode.Result{a, b} {
		if !readsKey(r.RWSet, "kv", chaincode.InitializedKey) || !writesKey(r.RWSet, "kv", chaincode.InitializedKey) {
			t.Fatalf("init call does not read and write the initialised mark: %v", r.RWSet)
		}
	}

	// No chaincode can touch the mark through its stub.
	res := e.simulate(t, e.tx("kv", "kv:Put", chaincode.InitializedKey, "forged"))
	if res.Response.Status == chaincode.StatusOK {
		t.Fatal("a chaincode wrote the initialised mark")
	}
}

// readsKey and writesKey report whether rw reads or writes key of ns.
func readsKey(rw *pb.TxReadWriteSet, ns, key string) bool {
	return slices.ContainsFunc(nsOf(rw, ns).GetReads(), func(r *pb.KVRead) bool { return r.GetKey() == key })
}

func writesKey(rw *pb.TxReadWriteSet, ns, key string) bool {
	return slices.ContainsFunc(nsOf(rw, ns).GetWrites(), func(w *pb.KVWrite) bool { return w.GetKey() == key })
}

// nsOf returns rw's set of namespace ns, nil if it has none.
func nsOf(rw *pb.TxReadWriteSet, ns string) *pb.NsReadWriteSet {
	for _, n := range rw.GetNsRwsets() {
		if n.GetNamespace() == ns {
			return n
		}
	}
	return nil
}
