package contract

import (
	"encoding/json"
	"math"
	"testing"
)

type licensesRequest struct {
	Account    string   `json:"account"`
	AssetID    string   `json:"assetId"`
	OrderID    string   `json:"orderId"`
	Expiration string   `json:"expiration"`
	Licenses   []string `json:"licenses"`
}

type rawMarshaler struct{}

func (rawMarshaler) MarshalJSON() ([]byte, error) {
	return []byte("{ \"b\" : 1,\n \"a\" : [ 1 , 2 ] }"), nil
}

func TestCanonicalJSON(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{
			name: "struct field order is declaration order",
			v:    licensesRequest{Account: "Agency1MSP", AssetID: "a1", OrderID: "o1", Expiration: "2027-01-01 00:00:00", Licenses: []string{"l2", "l1"}},
			want: `{"account":"Agency1MSP","assetId":"a1","orderId":"o1","expiration":"2027-01-01 00:00:00","licenses":["l2","l1"]}`,
		},
		{name: "no HTML escaping", v: map[string]string{"x": "<a&b>"}, want: `{"x":"<a&b>"}`},
		{name: "map keys sorted", v: map[string]int{"b": 2, "a": 1, "B": 3}, want: `{"B":3,"a":1,"b":2}`},
		{name: "line separators escaped", v: "a\u2028b\u2029c\n", want: `"a\u2028b\u2029c\n"`},
		{name: "control characters", v: "\x01\t", want: `"\u0001\t"`},
		{name: "non-ASCII kept", v: "ünï", want: `"ünï"`},
		{name: "nil slice is null", v: struct {
			L []string `json:"l"`
		}{}, want: `{"l":null}`},
		{name: "omitempty honoured", v: struct {
			A string `json:"a,omitempty"`
			B int    `json:"b"`
		}{}, want: `{"b":0}`},
		{name: "bytes are base64", v: []byte{0, 1, 255}, want: `"AAH/"`},
		{name: "floats shortest", v: []float64{100, 0.1, 1e21, 1e-7}, want: `[100,0.1,1e+21,1e-7]`},
		{name: "marshaler output compacted", v: rawMarshaler{}, want: `{"b":1,"a":[1,2]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CanonicalJSON(tt.v)
			if err != nil || string(got) != tt.want {
				t.Fatalf("CanonicalJSON = %s, %v; want %s", got, err, tt.want)
			}
			if !json.Valid(got) {
				t.Fatalf("output %s is not valid JSON", got)
			}
		})
	}
}

func TestCanonicalJSONRoundTripIsStable(t *testing.T) {
	in := licensesRequest{Account: "A<", AssetID: "x", Licenses: []string{"1", "2"}}
	first, err := CanonicalJSON(in)
	if err != nil {
		t.Fatal(err)
	}
	var back licensesRequest
	if err := json.Unmarshal(first, &back); err != nil {
		t.Fatal(err)
	}
	second, err := CanonicalJSON(back)
	if err != nil || string(second) != string(first) {
		t.Fatalf("re-encoding differs: %s vs %s (%v)", first, second, err)
	}
}

func TestCanonicalJSONRefusesNaN(t *testing.T) {
	if _, err := CanonicalJSON(math.NaN()); err == nil {
		t.Fatal("NaN encoded")
	}
}
