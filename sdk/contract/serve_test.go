package contract

import "testing"

// TestServeNative: natively Serve only records the chaincode, once.
func TestServeNative(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Fatalf("%s did not panic", name)
			}
		}()
		f()
	}
	mustPanic("Serve(nil)", func() { Serve(nil) })
	if Served() != nil {
		t.Fatal("a chaincode is registered before Serve")
	}
	cc := New(Contract{Name: "c", Functions: map[string]Function{"F": func(Stub, [][]byte) ([]byte, error) { return nil, nil }}})
	Serve(cc)
	if Served() != cc {
		t.Fatal("Served does not return the served chaincode")
	}
	mustPanic("second Serve", func() { Serve(cc) })
}

func TestWithWarmup(t *testing.T) {
	calls := 0
	inner := New(Contract{Name: "c", Functions: map[string]Function{
		"F": func(Stub, [][]byte) ([]byte, error) { return []byte("f"), nil },
	}})
	cc := WithWarmup(inner, func() { calls++ })
	w, ok := cc.(Warmer)
	if !ok {
		t.Fatal("WithWarmup's chaincode is not a Warmer")
	}
	w.Warmup()
	if calls != 1 {
		t.Fatalf("warm-up ran %d times", calls)
	}
	if out, err := cc.Invoke(nil, "c:F", nil); err != nil || string(out) != "f" {
		t.Fatalf("Invoke through the wrapper: %q, %v", out, err)
	}
	WithWarmup(inner, nil).(Warmer).Warmup() // a nil warm-up is allowed
	type record struct {
		A string `json:"a"`
		B []int  `json:"b"`
	}
	WarmJSON(record{}, &record{}, nil, make(chan int)) // unencodable values are skipped
}
