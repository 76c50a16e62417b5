// Command probe is a test chaincode for the wasm runtime's sandbox:
// determinism, isolation and limits. Contract "p":
//
//	p:Env()          JSON of what a chaincode can observe of its environment
//	p:ReadFile(path) the file's contents (the sandbox must refuse)
//	p:Dial(addr)     "connected" if a TCP connection opens (the sandbox must refuse)
//	p:Loop()         never returns
//	p:Alloc(n)       allocates and touches n bytes
//	p:Recurse()      unbounded recursion
//	p:Panic()        panics
//	p:Exit(code)     os.Exit(code)
//	p:Print(s)       writes s to stdout and stderr
//	p:Put(k, v)      PutState
//	p:Deadlock()     blocks forever on a channel
//	p:GoPanic()      panics in another goroutine
package main

import (
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/blossom-ledger/blossom/sdk/contract"
)

// counter is a global that every transaction increments: with per-
// transaction isolation every transaction sees 1.
var counter int

var sink []byte

func init() {
	contract.Serve(contract.New(contract.Contract{Name: "p", Functions: map[string]contract.Function{
		"Env":      env,
		"ReadFile": readFile,
		"Dial":     dial,
		"Loop":     loop,
		"Alloc":    alloc,
		"Recurse":  func(contract.Stub, [][]byte) ([]byte, error) { return []byte(strconv.Itoa(recurse(0))), nil },
		"Panic":    func(contract.Stub, [][]byte) ([]byte, error) { panic("probe: deliberate panic") },
		"Exit":     exit,
		"Print":    print,
		"Put":      func(s contract.Stub, a [][]byte) ([]byte, error) { return nil, s.PutState(string(a[0]), a[1]) },
		"Deadlock": func(contract.Stub, [][]byte) ([]byte, error) { <-make(chan int); return nil, nil },
		"GoPanic":  goPanic,
	}}))
}

func main() {}

func env(stub contract.Stub, args [][]byte) ([]byte, error) {
	counter++
	t0 := time.Now()
	time.Sleep(10 * time.Millisecond)
	slept := time.Since(t0)

	rb := make([]byte, 16)
	if _, err := crand.Read(rb); err != nil {
		return nil, err
	}
	m := map[string]int{}
	for i := 0; i < 64; i++ {
		m[strconv.Itoa(i)] = i
	}
	var order []string
	for k := range m {
		order = append(order, k)
	}
	// Goroutines and channels are scheduled deterministically too.
	ch := make(chan int)
	var got []string
	for i := 0; i < 4; i++ {
		go func(i int) { ch <- i }(i)
	}
	for i := 0; i < 4; i++ {
		got = append(got, strconv.Itoa(<-ch))
	}
	var keys []string
	for _, k := range os.Environ() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return contract.CanonicalJSON(map[string]any{
		"now":        time.Now().UTC().Format(time.RFC3339Nano),
		"txTime":     stub.GetTxTimestamp().Format(time.RFC3339Nano),
		"slept":      slept.String(),
		"cryptoRand": hex.EncodeToString(rb),
		"mathRand":   rand.Int64(),
		"mapOrder":   strings.Join(order, ","),
		"goroutines": strings.Join(got, ","),
		"counter":    counter,
		"environ":    keys,
		"args":       os.Args,
	})
}

func readFile(stub contract.Stub, args [][]byte) ([]byte, error) {
	return os.ReadFile(string(args[0]))
}

func dial(stub contract.Stub, args [][]byte) ([]byte, error) {
	c, err := net.Dial("tcp", string(args[0]))
	if err != nil {
		return nil, err
	}
	c.Close()
	return []byte("connected"), nil
}

func loop(contract.Stub, [][]byte) ([]byte, error) {
	for i := 0; ; i++ {
		counter += i
	}
}

func alloc(stub contract.Stub, args [][]byte) ([]byte, error) {
	n, err := strconv.Atoi(string(args[0]))
	if err != nil {
		return nil, err
	}
	sink = make([]byte, n)
	for i := 0; i < n; i += 4096 {
		sink[i] = 1
	}
	return []byte(strconv.Itoa(len(sink))), nil
}

func recurse(n int) int {
	var pad [64]byte
	pad[n%64] = byte(n)
	return recurse(n+1) + int(pad[0])
}

func exit(stub contract.Stub, args [][]byte) ([]byte, error) {
	code, _ := strconv.Atoi(string(args[0]))
	os.Exit(code)
	return nil, nil
}

func print(stub contract.Stub, args [][]byte) ([]byte, error) {
	fmt.Println(string(args[0]))
	fmt.Fprintln(os.Stderr, string(args[0]))
	return nil, nil
}

// goPanic panics in a goroutine of its own, which no recover of the SDK
// covers: the Go runtime prints the panic and exits.
func goPanic(contract.Stub, [][]byte) ([]byte, error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		panic("probe: goroutine panic")
	}()
	<-done
	return nil, nil
}
