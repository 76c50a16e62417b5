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
	documented := []string{"Put", "Get", "Del", "PutGet", "Range", "Incr", "PutComposite", "Partial", "History",
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
