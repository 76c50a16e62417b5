package ecdsarate

import (
	"testing"
	"time"
)

func TestMeasure(t *testing.T) {
	r, err := Measure(20 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if r.SignPerSec <= 0 || r.VerifyPerSec <= 0 {
		t.Fatalf("rates %+v: every CPU should manage some operations in 20 ms", r)
	}
}
