package kvtest_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/blossom-ledger/blossom/chaincode/kvtest"
	"github.com/blossom-ledger/blossom/sdk/contract/contracttest"
)

// TestDocumentedFunctionsExist calls every function the package comment
// lists with no arguments: each must be routed (fail on its arguments, not
// as an unknown function).
func TestDocumentedFunctionsExist(t *testing.T) {
	documented := []string{"Put", "Get", "Del", "PutGet", "Range", "Incr", "Fill", "PutComposite", "Partial", "History",
		"PutPrivate", "GetPrivate", "GetPrivateHash", "DelPrivate", "PrivateRange", "Call", "TryCall", "Nest",
		"Event", "Fail", "Panic", "Whoami", "Param", "TxInfo", "Transient"}
	stub := contracttest.NewStub("kv", kvtest.New())
	for _, fn := range documented {
		_, err := stub.Invoke("kv:" + fn)
		if err != nil && strings.HasPrefix(err.Error(), "unknown function") {
			t.Errorf("kv:%s is not routed", fn)
		}
	}
	if _, err := stub.Invoke("kv:Nope"); err == nil || err.Error() != "unknown function kv:Nope" {
		t.Fatalf("kv:Nope: %v", err)
	}
	// Arity errors are plain and bounded.
	_, err := stub.Invoke("kv:Put", "only-key")
	if ok, _ := regexp.MatchString(`^wrong number of arguments: want 2, got 1$`, err.Error()); !ok {
		t.Fatalf("kv:Put arity error: %v", err)
	}
}

func TestFill(t *testing.T) {
	stub := contracttest.NewStub("kv", kvtest.New())
	if _, err := stub.Invoke("kv:Fill", "r/", "5", "3", "0"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"r/5", "r/6", "r/7"} {
		if v, err := stub.Invoke("kv:Get", k); err != nil || string(v) != "0" {
			t.Errorf("%s = %q, %v", k, v, err)
		}
	}
	if v, _ := stub.Invoke("kv:Get", "r/8"); len(v) != 0 {
		t.Errorf("r/8 written: %q", v)
	}
	for _, bad := range [][]string{{"p", "x", "1", "v"}, {"p", "0", "0", "v"}, {"p", "0", "10001", "v"}, {"p", "-1", "1", "v"}} {
		if _, err := stub.Invoke("kv:Fill", bad...); err == nil || !strings.Contains(err.Error(), "kv:Fill wants") {
			t.Errorf("kv:Fill%v: %v", bad, err)
		}
	}
}
