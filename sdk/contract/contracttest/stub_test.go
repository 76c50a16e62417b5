package contracttest_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/chaincode/kvtest"
	"github.com/blossom-ledger/blossom/sdk/contract"
	"github.com/blossom-ledger/blossom/sdk/contract/contracttest"
)

func newKV(t *testing.T) *contracttest.Stub {
	t.Helper()
	stub := contracttest.NewStub("kv", kvtest.New())
	if err := stub.SetCreatorWithAttributes("Agency1MSP", "user1", map[string]string{contract.RoleAttribute: "Acquisition Officer"}); err != nil {
		t.Fatal(err)
	}
	return stub
}

func mustInvoke(t *testing.T, stub *contracttest.Stub, fn string, args ...string) string {
	t.Helper()
	out, err := stub.Invoke(fn, args...)
	if err != nil {
		t.Fatalf("%s%q: %v", fn, args, err)
	}
	return string(out)
}

func TestStubCommitsOnSuccessOnly(t *testing.T) {
	stub := newKV(t)
	mustInvoke(t, stub, "kv:Put", "a", "1")
	if v, ok := stub.State("a"); !ok || string(v) != "1" {
		t.Fatalf("State(a) = %q, %v", v, ok)
	}
	if w := stub.Writes(); len(w) != 1 || w[0].Namespace != "kv" || w[0].Key != "a" || string(w[0].Value) != "1" || w[0].IsDelete {
		t.Fatalf("Writes = %+v", w)
	}
	_, err := stub.Invoke("kv:Fail", "no way")
	if err == nil || err.Error() != "no way" {
		t.Fatalf("Fail error = %v", err)
	}
	if w := stub.Writes(); len(w) != 0 {
		t.Fatalf("writes after a failed transaction: %+v", w)
	}
	_, err = stub.Invoke("kv:Panic")
	if err == nil || !strings.Contains(err.Error(), "chaincode kv panicked: kvtest: deliberate panic") {
		t.Fatalf("Panic error = %v", err)
	}
	mustInvoke(t, stub, "kv:Del", "a")
	if _, ok := stub.State("a"); ok {
		t.Fatal("a still present after Del")
	}
}

func TestStubReadsSeeCommittedState(t *testing.T) {
	stub := newKV(t)
	stub.SetState("k", []byte("old"))
	if got := mustInvoke(t, stub, "kv:PutGet", "k", "new"); got != "old" {
		t.Fatalf("PutGet read %q, want the committed %q", got, "old")
	}
	if v, _ := stub.State("k"); string(v) != "new" {
		t.Fatalf("after commit State(k) = %q", v)
	}
	if got := mustInvoke(t, stub, "kv:Incr", "n"); got != "1" {
		t.Fatalf("Incr = %q", got)
	}
	if got := mustInvoke(t, stub, "kv:Incr", "n"); got != "2" {
		t.Fatalf("Incr = %q", got)
	}
}

func TestStubDirectCallsStayPendingUntilCommit(t *testing.T) {
	stub := contracttest.NewStub("kv", nil)
	if err := stub.PutState("x", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if v, err := stub.GetState("x"); err != nil || v != nil {
		t.Fatalf("pending write visible to a read: %q, %v", v, err)
	}
	if len(stub.Writes()) != 1 {
		t.Fatalf("Writes = %+v", stub.Writes())
	}
	stub.Commit()
	if v, err := stub.GetState("x"); err != nil || string(v) != "1" {
		t.Fatalf("after Commit GetState = %q, %v", v, err)
	}
	if w := stub.Writes(); len(w) != 1 || w[0].Key != "x" {
		t.Fatalf("after Commit Writes = %+v, want the committed write", w)
	}
	if err := stub.PutState("y", []byte("2")); err != nil {
		t.Fatal(err)
	}
	if w := stub.Writes(); len(w) != 1 || w[0].Key != "y" {
		t.Fatalf("Commit did not start a new transaction: Writes = %+v", w)
	}
	if _, err := contracttest.NewStub("kv", kvtest.New()).Invoke("kv:Get", "x"); err != nil {
		t.Fatal(err)
	}
	stub.Register("kv", kvtest.New(), nil)
	if _, err := stub.Invoke("kv:Get", "x"); err == nil {
		t.Fatal("Invoke ran over uncommitted direct writes")
	}
}

func TestStubRangeCompositeHistory(t *testing.T) {
	stub := newKV(t)
	for _, kv := range [][2]string{{"b", "2"}, {"a", "1"}, {"c", "3"}} {
		mustInvoke(t, stub, "kv:Put", kv[0], kv[1])
	}
	mustInvoke(t, stub, "kv:PutComposite", "order", "v1", "Agency1MSP", "o1")
	mustInvoke(t, stub, "kv:PutComposite", "order", "v2", "Agency2MSP", "o2")
	if got := mustInvoke(t, stub, "kv:Range", "", ""); got != `[{"key":"a","value":"1"},{"key":"b","value":"2"},{"key":"c","value":"3"}]` {
		t.Fatalf("Range = %s", got)
	}
	if got := mustInvoke(t, stub, "kv:Range", "b", "c"); got != `[{"key":"b","value":"2"}]` {
		t.Fatalf("Range(b,c) = %s", got)
	}
	if got := mustInvoke(t, stub, "kv:Partial", "order", "Agency2MSP"); got != `[{"objectType":"order","attributes":["Agency2MSP","o2"],"value":"v2"}]` {
		t.Fatalf("Partial = %s", got)
	}
	stub.SetTxID("t-last")
	stub.SetTxTimestamp(time.Date(2027, 5, 6, 7, 8, 9, 0, time.UTC))
	mustInvoke(t, stub, "kv:Del", "a")
	want := `[{"txId":"t-last","timestamp":"2027-05-06T07:08:09Z","value":"","isDelete":true},{"txId":"tx2","timestamp":"2026-01-02T03:04:05Z","value":"1","isDelete":false}]`
	if got := mustInvoke(t, stub, "kv:History", "a"); got != want {
		t.Fatalf("History = %s\nwant      %s", got, want)
	}
}

func TestStubPrivateData(t *testing.T) {
	stub := newKV(t)
	stub.SetTransient(map[string][]byte{"value": []byte("secret")})
	mustInvoke(t, stub, "kv:PutPrivate", "coll", "k")
	if v, ok := stub.PrivateData("coll", "k"); !ok || string(v) != "secret" {
		t.Fatalf("PrivateData = %q, %v", v, ok)
	}
	if pw := stub.PrivateWrites(); len(pw) != 1 || pw[0].Collection != "coll" || string(pw[0].Value) != "secret" {
		t.Fatalf("PrivateWrites = %+v", pw)
	}
	if got := mustInvoke(t, stub, "kv:GetPrivateHash", "coll", "k"); got != "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b" {
		t.Fatalf("GetPrivateHash = %s", got)
	}
	if got := mustInvoke(t, stub, "kv:GetPrivateHash", "coll", "absent"); got != "" {
		t.Fatalf("hash of absent key = %q", got)
	}
	if got := mustInvoke(t, stub, "kv:PrivateRange", "coll", "", ""); got != `[{"key":"k","value":"secret"}]` {
		t.Fatalf("PrivateRange = %s", got)
	}
	// A private range query excludes writes in the same transaction.
	if err := stub.PutState("x", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if _, err := stub.GetPrivateDataByRange("coll", "", ""); !errors.Is(err, contract.ErrPrivateQueryAfterWrite) {
		t.Fatalf("range after write: %v", err)
	}
	stub.Commit()
	if _, err := stub.GetPrivateDataByRange("coll", "", ""); err != nil {
		t.Fatal(err)
	}
	if err := stub.PutPrivateData("coll", "y", []byte("1")); !errors.Is(err, contract.ErrWriteAfterPrivateQuery) {
		t.Fatalf("write after range: %v", err)
	}
}

func TestStubInvokeChaincode(t *testing.T) {
	stub := newKV(t)
	other := stub.Register("other", kvtest.New(), map[string]string{"adminMSP": "SAMSMSP"})
	other.SetState("k", []byte("theirs"))
	if got := mustInvoke(t, stub, "kv:Call", "other", "kv:Get", "k"); got != "theirs" {
		t.Fatalf("Call Get = %q", got)
	}
	if got := mustInvoke(t, stub, "kv:Call", "other", "kv:Param", "adminMSP"); got != "SAMSMSP" {
		t.Fatalf("callee param = %q", got)
	}
	mustInvoke(t, stub, "kv:Call", "other", "kv:Put", "w", "1")
	if v, ok := other.State("w"); !ok || string(v) != "1" {
		t.Fatal("callee write not committed in its namespace")
	}
	if _, ok := stub.State("w"); ok {
		t.Fatal("callee write landed in the caller's namespace")
	}
	// A failing callee's writes are discarded even if the caller goes on.
	if got := mustInvoke(t, stub, "kv:TryCall", "other", "kv:Fail", "nope"); got != "error:nope" {
		t.Fatalf("TryCall = %q", got)
	}
	if got := mustInvoke(t, stub, "kv:Nest", "kv", "8"); got != "0" {
		t.Fatalf("Nest 8 = %q", got)
	}
	if _, err := stub.Invoke("kv:Nest", "kv", "9"); err == nil || err.Error() != contract.ErrCallDepth.Error() {
		t.Fatalf("Nest 9 error = %v", err)
	}
	if _, err := stub.Invoke("kv:Call", "missing", "kv:Get", "k"); err == nil {
		t.Fatal("call to an unregistered chaincode succeeded")
	}
}

func TestStubEventsAndContext(t *testing.T) {
	stub := newKV(t)
	stub.SetChannelID("blossom")
	stub.SetTxID("t1")
	mustInvoke(t, stub, "kv:Event", "SignMOU", `{"account":"A"}`)
	ev := stub.Events()
	if len(ev) != 1 || ev[0].Chaincode != "kv" || ev[0].Name != "SignMOU" || string(ev[0].Payload) != `{"account":"A"}` {
		t.Fatalf("Events = %+v", ev)
	}
	if got := mustInvoke(t, stub, "kv:Whoami"); got != `{"mspId":"Agency1MSP","role":"Acquisition Officer","hasRole":true}` {
		t.Fatalf("Whoami = %s", got)
	}
	if got := mustInvoke(t, stub, "kv:TxInfo"); got != `{"txId":"t1","channelId":"blossom","timestamp":"2026-01-02T03:04:05Z"}` {
		t.Fatalf("TxInfo = %s", got)
	}
	if _, err := stub.Invoke("kv:Param", "adminMSP"); err == nil {
		t.Fatal("unset parameter found")
	}
	stub.SetDefinitionParams(map[string]string{"adminMSP": "SAMSMSP"})
	if got := mustInvoke(t, stub, "kv:Param", "adminMSP"); got != "SAMSMSP" {
		t.Fatalf("Param = %q", got)
	}
}

func TestStubRefusesBadInput(t *testing.T) {
	stub := newKV(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"", "v"}, "empty key"},
		{[]string{"\x00bad", "v"}, "not a valid composite key"},
		{[]string{strings.Repeat("k", contract.MaxKeyLength+1), "v"}, "at most 1024"},
		{[]string{"k", strings.Repeat("v", contract.MaxValueSize+1)}, "at most 4194304"},
	}
	for _, tt := range tests {
		if _, err := stub.Invoke("kv:Put", tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Put(%.20q) error = %v, want %q", tt.args[0], err, tt.want)
		}
	}
	if keys := stub.StateKeys(); len(keys) != 0 {
		t.Fatalf("refused writes changed state: %q", keys)
	}
}

func TestEncodeAttributesRefusesBadNames(t *testing.T) {
	if _, err := contracttest.EncodeAttributes(map[string]string{"1bad": "x"}); err == nil {
		t.Fatal("bad attribute name encoded")
	}
}
