package asset

import (
	"fmt"
	"strings"
	"testing"
)

func TestDecodeRequest(t *testing.T) {
	for _, c := range []struct {
		in, want string
	}{
		{`{}`, ""},
		{`{"a":1,"a":2}`, ""}, // the last duplicate wins, as in the reference's parser
		{`null`, "request must be a JSON object"},
		{`[]`, "request must be a JSON object"},
		{`"x"`, "request must be a JSON object"},
		{`{"a":1`, "request must be a JSON object"},
		{`{"a":1} {}`, "request must be a JSON object"},
		{`{"a":"` + strings.Repeat("x", MaxRequestSize) + `"}`, "request is 4194312 bytes long (at most 4194304)"},
	} {
		_, err := decodeRequest([]byte(c.in))
		if got := errText(err); got != c.want {
			t.Errorf("decodeRequest(%.40q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestRequestFields(t *testing.T) {
	for _, c := range []struct {
		in   string
		get  func(*request) (any, error)
		want string // error text, or the value's %v
	}{
		{`{"n":2}`, func(r *request) (any, error) { return r.positiveInt("n", 10) }, "2"},
		{`{"n":"2"}`, func(r *request) (any, error) { return r.positiveInt("n", 10) }, "2"},
		{`{"n":2.0}`, func(r *request) (any, error) { return r.positiveInt("n", 10) }, "2"},
		{`{"n":2e0}`, func(r *request) (any, error) { return r.positiveInt("n", 10) }, "2"},
		{`{"n":11}`, func(r *request) (any, error) { return r.positiveInt("n", 10) }, "n must be at most 10"},
		{`{"n":1e400}`, func(r *request) (any, error) { return r.positiveInt("n", 10) }, "n must be a number"},
		{`{"n":true}`, func(r *request) (any, error) { return r.positiveInt("n", 10) }, "n must be a number"},
		{`{"n":" 2"}`, func(r *request) (any, error) { return r.positiveInt("n", 10) }, "n must be a number"},
		{`{"n":"Inf"}`, func(r *request) (any, error) { return r.price("n") }, "n must be a number"},
		{`{"n":"100"}`, func(r *request) (any, error) { return r.price("n") }, "100"},
		{`{"n":0.01}`, func(r *request) (any, error) { return r.price("n") }, "0.01"},
		{`{"n":-0}`, func(r *request) (any, error) { return r.price("n") }, "n cannot be 0"},
		{`{"N":1}`, func(r *request) (any, error) { return r.price("n") }, "n cannot be null"}, // names are case-sensitive
		{`{"s":"x"}`, func(r *request) (any, error) { return r.id("s") }, "x"},
		{`{"s":"` + strings.Repeat("x", MaxIDLength+1) + `"}`, func(r *request) (any, error) { return r.id("s") }, "s is 129 bytes long (at most 128)"},
		{`{"s":"a\tb"}`, func(r *request) (any, error) { return r.id("s") }, "s contains the character U+0009, which is not allowed"},
		{`{"s":"\udbff\udfff"}`, func(r *request) (any, error) { return r.id("s") }, "s contains the character U+10FFFF, which is not allowed"},
		{`{"s":["x"]}`, func(r *request) (any, error) { return r.id("s") }, "s must be a string"},
		{`{"s":null}`, func(r *request) (any, error) { v, ok, err := r.optionalID("s"); return [2]any{v, ok}, err }, "[ false]"},
		{`{}`, func(r *request) (any, error) { v, ok, err := r.optionalID("s"); return [2]any{v, ok}, err }, "[ false]"},
		{`{"account":"Agency1MSP"}`, func(r *request) (any, error) { return r.account("account") }, "Agency1MSP"},
		{`{"l":{}}`, func(r *request) (any, error) { return r.licenseIDs("l") }, "l must be an array"},
		{`{"l":[null]}`, func(r *request) (any, error) { return r.licenseIDs("l") }, "l[0] cannot be null"},
		{`{"l":[]}`, func(r *request) (any, error) { return r.licenseIDs("l") }, "[]"},
		{`{"l":[{"id":"a","salt":"s","x":1}]}`, func(r *request) (any, error) { return r.newLicenses("l") }, "[{a s}]"},
		{`{"l":["a"]}`, func(r *request) (any, error) { return r.newLicenses("l") }, "l[0] must be an object with id and salt"},
		{`{"l":[{"id":"a","salt":""}]}`, func(r *request) (any, error) { return r.newLicenses("l") }, "l[0]: salt cannot be empty"},
		{`{"l":[` + strings.Repeat(`"a",`, MaxLicenses) + `"a"]}`, func(r *request) (any, error) { return r.licenseIDs("l") }, "l has 10001 elements (at most 10000)"},
	} {
		r, err := decodeRequest([]byte(c.in))
		must(t, err)
		v, err := c.get(r)
		got := errText(err)
		if err == nil {
			got = fmt.Sprint(v)
		}
		if got != c.want {
			t.Errorf("%.60s: got %q, want %q", c.in, got, c.want)
		}
	}
}
