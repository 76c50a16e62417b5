// Package kvtest is a small key-value chaincode that exercises the whole
// stub API: runtime and simulator tests run it natively, and it builds for
// GOOS=wasip1 GOARCH=wasm so that the wasm runtime runs the same code.
//
// Functions (contract "kv"); arguments are UTF-8 strings, JSON results use
// contract.CanonicalJSON:
//
//	kv:Put(key, value)                 write key
//	kv:Get(key)                        value, empty if absent
//	kv:Del(key)                        delete key
//	kv:PutGet(key, value)              write, then read: returns the committed value
//	kv:Range(start, end)               [{"key","value"}...] of [start, end)
//	kv:Incr(key)                       read-modify-write of a decimal counter; returns the new value
//	kv:PutComposite(type, value, a...) write composite key (type, a...)
//	kv:Partial(type, a...)             [{"objectType","attributes","value"}...]
//	kv:History(key)                    [{"txId","timestamp","value","isDelete"}...] newest first
//	kv:PutPrivate(collection, key)     write transient "value" privately
//	kv:GetPrivate(collection, key)     private value, empty if absent
//	kv:GetPrivateHash(collection, key) hex SHA-256 of the private value, empty if absent
//	kv:DelPrivate(collection, key)     delete a private key
//	kv:PrivateRange(collection, s, e)  like Range over a collection
//	kv:Call(chaincode, function, a...) invoke another chaincode, return its payload
//	kv:TryCall(chaincode, function, a...) like Call but succeed anyway: "ok:<payload>" or "error:<message>"
//	kv:Nest(chaincode, n)              call chaincode's kv:Nest(chaincode, n-1) down to 0
//	kv:Event(name, payload)            set the event
//	kv:Fail(message)                   refuse with message
//	kv:Panic()                         panic
//	kv:Whoami()                        {"mspId","role","hasRole"} of the creator
//	kv:Param(name)                     a definition parameter, error if absent
//	kv:PutParam(key, name)             write definition parameter name's value under key
//	kv:TxInfo()                        {"txId","channelId","timestamp"}
//	kv:Transient(key)                  a transient value
package kvtest

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/blossom-ledger/blossom/sdk/contract"
)

// New returns the chaincode. Its Warmup prepares the JSON encoders of
// its results (see contract.Warmer).
func New() contract.Chaincode {
	return contract.WithWarmup(router(), warmup)
}

// warmup encodes each JSON result type once.
func warmup() {
	contract.WarmJSON([]kvJSON{{}}, []compositeJSON{{Attributes: []string{""}}}, []historyJSON{{}}, whoamiJSON{}, txInfoJSON{})
}

func router() contract.Chaincode {
	return contract.New(contract.Contract{
		Name: "kv",
		Functions: map[string]contract.Function{
			"Put":            put,
			"Get":            get,
			"Del":            del,
			"PutGet":         putGet,
			"Range":          rangeQuery,
			"Incr":           incr,
			"PutComposite":   putComposite,
			"Partial":        partial,
			"History":        history,
			"PutPrivate":     putPrivate,
			"GetPrivate":     getPrivate,
			"GetPrivateHash": getPrivateHash,
			"DelPrivate":     delPrivate,
			"PrivateRange":   privateRange,
			"Call":           call,
			"TryCall":        tryCall,
			"Nest":           nest,
			"Event":          event,
			"Fail":           fail,
			"Panic":          panicFn,
			"Whoami":         whoami,
			"Param":          param,
			"PutParam":       putParam,
			"TxInfo":         txInfo,
			"Transient":      transient,
		},
	})
}

func put(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 2); err != nil {
		return nil, err
	}
	return nil, stub.PutState(string(args[0]), args[1])
}

func get(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 1); err != nil {
		return nil, err
	}
	return stub.GetState(string(args[0]))
}

func del(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 1); err != nil {
		return nil, err
	}
	return nil, stub.DelState(string(args[0]))
}

func putGet(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 2); err != nil {
		return nil, err
	}
	if err := stub.PutState(string(args[0]), args[1]); err != nil {
		return nil, err
	}
	return stub.GetState(string(args[0]))
}

type kvJSON struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func collect(it contract.StateIterator, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := []kvJSON{}
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return nil, err
		}
		out = append(out, kvJSON{Key: kv.Key, Value: string(kv.Value)})
	}
	return contract.CanonicalJSON(out)
}

func rangeQuery(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 2); err != nil {
		return nil, err
	}
	return collect(stub.GetStateByRange(string(args[0]), string(args[1])))
}

func incr(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 1); err != nil {
		return nil, err
	}
	key := string(args[0])
	old, err := stub.GetState(key)
	if err != nil {
		return nil, err
	}
	var n int64
	if old != nil {
		if n, err = strconv.ParseInt(string(old), 10, 64); err != nil {
			return nil, fmt.Errorf("key %s does not hold a counter", contract.QuoteKey(key))
		}
	}
	next := []byte(strconv.FormatInt(n+1, 10))
	return next, stub.PutState(key, next)
}

func strs(args [][]byte) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = string(a)
	}
	return out
}

func putComposite(stub contract.Stub, args [][]byte) ([]byte, error) {
	if len(args) < 2 {
		return nil, errors.New("want objectType, value and attributes")
	}
	key, err := stub.CreateCompositeKey(string(args[0]), strs(args[2:]))
	if err != nil {
		return nil, err
	}
	return nil, stub.PutState(key, args[1])
}

type compositeJSON struct {
	ObjectType string   `json:"objectType"`
	Attributes []string `json:"attributes"`
	Value      string   `json:"value"`
}

func partial(stub contract.Stub, args [][]byte) ([]byte, error) {
	if len(args) < 1 {
		return nil, errors.New("want objectType and attributes")
	}
	it, err := stub.GetStateByPartialCompositeKey(string(args[0]), strs(args[1:]))
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := []compositeJSON{}
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return nil, err
		}
		objectType, attrs, err := stub.SplitCompositeKey(kv.Key)
		if err != nil {
			return nil, err
		}
		out = append(out, compositeJSON{ObjectType: objectType, Attributes: attrs, Value: string(kv.Value)})
	}
	return contract.CanonicalJSON(out)
}

type historyJSON struct {
	TxID      string `json:"txId"`
	Timestamp string `json:"timestamp"`
	Value     string `json:"value"`
	IsDelete  bool   `json:"isDelete"`
}

func history(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 1); err != nil {
		return nil, err
	}
	it, err := stub.GetHistoryForKey(string(args[0]))
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := []historyJSON{}
	for it.HasNext() {
		m, err := it.Next()
		if err != nil {
			return nil, err
		}
		out = append(out, historyJSON{TxID: m.TxID, Timestamp: m.Timestamp.UTC().Format(time.RFC3339Nano), Value: string(m.Value), IsDelete: m.IsDelete})
	}
	return contract.CanonicalJSON(out)
}

func putPrivate(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 2); err != nil {
		return nil, err
	}
	value, ok := stub.GetTransient()["value"]
	if !ok {
		return nil, errors.New("transient value is missing")
	}
	return nil, stub.PutPrivateData(string(args[0]), string(args[1]), value)
}

func getPrivate(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 2); err != nil {
		return nil, err
	}
	return stub.GetPrivateData(string(args[0]), string(args[1]))
}

func getPrivateHash(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 2); err != nil {
		return nil, err
	}
	h, err := stub.GetPrivateDataHash(string(args[0]), string(args[1]))
	if err != nil || h == nil {
		return nil, err
	}
	return []byte(hex.EncodeToString(h)), nil
}

func delPrivate(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 2); err != nil {
		return nil, err
	}
	return nil, stub.DelPrivateData(string(args[0]), string(args[1]))
}

func privateRange(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 3); err != nil {
		return nil, err
	}
	return collect(stub.GetPrivateDataByRange(string(args[0]), string(args[1]), string(args[2])))
}

func call(stub contract.Stub, args [][]byte) ([]byte, error) {
	if len(args) < 2 {
		return nil, errors.New("want chaincode, function and arguments")
	}
	return stub.InvokeChaincode(string(args[0]), string(args[1]), args[2:])
}

func tryCall(stub contract.Stub, args [][]byte) ([]byte, error) {
	payload, err := call(stub, args)
	if err != nil {
		return []byte("error:" + err.Error()), nil
	}
	return append([]byte("ok:"), payload...), nil
}

func nest(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 2); err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(string(args[1]))
	if err != nil || n < 0 {
		return nil, errors.New("n must be a non-negative integer")
	}
	if n == 0 {
		return []byte("0"), nil
	}
	return stub.InvokeChaincode(string(args[0]), "kv:Nest", [][]byte{args[0], []byte(strconv.Itoa(n - 1))})
}

func event(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 2); err != nil {
		return nil, err
	}
	return nil, stub.SetEvent(string(args[0]), args[1])
}

func fail(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 1); err != nil {
		return nil, err
	}
	return nil, errors.New(string(args[0]))
}

func panicFn(stub contract.Stub, args [][]byte) ([]byte, error) {
	panic("kvtest: deliberate panic")
}

type whoamiJSON struct {
	MSPID   string `json:"mspId"`
	Role    string `json:"role"`
	HasRole bool   `json:"hasRole"`
}

func whoami(stub contract.Stub, args [][]byte) ([]byte, error) {
	role, found, err := stub.GetAttribute(contract.RoleAttribute)
	if err != nil {
		return nil, err
	}
	return contract.CanonicalJSON(whoamiJSON{MSPID: stub.GetMSPID(), Role: role, HasRole: found})
}

func param(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 1); err != nil {
		return nil, err
	}
	v, ok := stub.GetDefinitionParam(string(args[0]))
	if !ok {
		return nil, fmt.Errorf("definition parameter %s is not set", contract.QuoteKey(string(args[0])))
	}
	return []byte(v), nil
}

func putParam(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 2); err != nil {
		return nil, err
	}
	v, err := param(stub, args[1:])
	if err != nil {
		return nil, err
	}
	return v, stub.PutState(string(args[0]), v)
}

type txInfoJSON struct {
	TxID      string `json:"txId"`
	ChannelID string `json:"channelId"`
	Timestamp string `json:"timestamp"`
}

func txInfo(stub contract.Stub, args [][]byte) ([]byte, error) {
	return contract.CanonicalJSON(txInfoJSON{TxID: stub.GetTxID(), ChannelID: stub.GetChannelID(), Timestamp: stub.GetTxTimestamp().Format(time.RFC3339Nano)})
}

func transient(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 1); err != nil {
		return nil, err
	}
	v, ok := stub.GetTransient()[string(args[0])]
	if !ok {
		return nil, fmt.Errorf("transient %s is missing", contract.QuoteKey(string(args[0])))
	}
	return v, nil
}
