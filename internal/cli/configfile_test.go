package cli

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestParseYAML(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // JSON
	}{
		{"empty", "", `{}`},
		{"flat mapping", "a: 1\nb: two\nc: true\nd: null\ne: ~\nf: 1.5e3\n", `{"a":1,"b":"two","c":true,"d":null,"e":null,"f":1.5e3}`},
		{"comments and document start", "--- # start\n# whole line\na: x # trailing\nb: 'it''s # not a comment'\nc: \"q # no\"\n", `{"a":"x","b":"it's # not a comment","c":"q # no"}`},
		{"values with colons", "listen: 0.0.0.0:7051\nurl: http://h:1/p\n", `{"listen":"0.0.0.0:7051","url":"http://h:1/p"}`},
		{"policy text", "endorsementPolicy: AND('Org1MSP.peer', 'Org2MSP.peer')\n", `{"endorsementPolicy":"AND('Org1MSP.peer', 'Org2MSP.peer')"}`},
		{"nested mapping", "a:\n  b:\n    c: 1\n  d: 2\ne: 3\n", `{"a":{"b":{"c":1},"d":2},"e":3}`},
		{"sequence of mappings", "list:\n  - name: kv\n    policy: MAJORITY Endorsement\n  - name: other\n    params:\n      adminMSP: Org1MSP\n", `{"list":[{"name":"kv","policy":"MAJORITY Endorsement"},{"name":"other","params":{"adminMSP":"Org1MSP"}}]}`},
		{"sequence at the key's indent", "list:\n- a\n- 'b'\nnext: 1\n", `{"list":["a","b"],"next":1}`},
		{"flow sequence", "l: [a, \"b, c\", 3, 'd']\nempty: []\n", `{"l":["a","b, c",3,"d"],"empty":[]}`},
		{"quoted key and escapes", "\"a b\": \"x\\ty\"\n", `{"a b":"x\ty"}`},
		{"number-like strings quoted", "port: '7051'\n", `{"port":"7051"}`},
		{"top-level sequence", "- 1\n- x\n", `[1,"x"]`},
		{"nested sequence item", "-\n  - a\n", `[["a"]]`},
		{"windows line endings", "a: 1\r\nb: 2\r\n", `{"a":1,"b":2}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseYAML([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			var want any
			if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
				t.Fatal(err)
			}
			raw, _ := json.Marshal(got)
			var norm any
			if err := json.Unmarshal(raw, &norm); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(norm, want) {
				t.Fatalf("got %s, want %s", raw, tc.want)
			}
		})
	}
}

func TestParseYAMLRefusals(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"tab indentation", "a:\n\tb: 1\n", "line 2: tab"},
		{"duplicate key", "a: 1\na: 2\n", "line 2: key \"a\" appears twice"},
		{"bad indentation", "a: 1\n  b: 2\n", "line 2: unexpected indentation"},
		{"anchor", "a: &x 1\n", "unsupported YAML syntax"},
		{"block scalar", "a: |\n  text\n", "unsupported YAML syntax"},
		{"flow mapping", "a: {b: 1}\n", "unsupported YAML syntax"},
		{"two documents", "a: 1\n---\nb: 2\n", "one YAML document"},
		{"no colon", "just text\n", `expected "key: value"`},
		{"unterminated quote", "a: 'x\n", "unterminated"},
		{"sequence in mapping", "a: 1\n- b\n", "sequence item"},
		{"nested flow sequence", "a: [[1]]\n", "nested flow"},
		{"deep nesting", deepYAML(40), "nested more than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := parseYAML([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, %v; want an error containing %q", v, err, tc.want)
			}
		})
	}
}

func deepYAML(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(strings.Repeat(" ", i) + "k:\n")
	}
	return b.String()
}

func TestDecodeConfig(t *testing.T) {
	type cfg struct {
		A string   `json:"a"`
		B []string `json:"b"`
	}
	for _, tc := range []struct {
		name   string
		in     string
		isJSON bool
		want   cfg
		err    string
	}{
		{name: "yaml", in: "a: x\nb: [p, q]\n", want: cfg{A: "x", B: []string{"p", "q"}}},
		{name: "json by content", in: ` {"a": "x"}`, want: cfg{A: "x"}},
		{name: "json by name", in: `{"a": "x"}`, isJSON: true, want: cfg{A: "x"}},
		{name: "unknown field", in: "a: x\nc: 1\n", err: "unknown field"},
		{name: "wrong type", in: "a: 7051\n", err: "cannot unmarshal number"},
		{name: "trailing json", in: `{"a": "x"} {}`, err: "data after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got cfg
			err := decodeConfig([]byte(tc.in), tc.isJSON, &got)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error containing %q", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
	}
}

// FuzzParseYAML: the configuration parser never panics and whatever it
// accepts encodes as JSON.
func FuzzParseYAML(f *testing.F) {
	f.Add("a: 1\nb:\n  - name: x\n    p: [1, 'two', \"3\"]\n")
	f.Add("- a\n-\n  - b\n")
	f.Add("\"k\": 'v''s' # c\n")
	f.Add("a: {b}\n")
	f.Fuzz(func(t *testing.T, in string) {
		v, err := parseYAML([]byte(in))
		if err != nil {
			return
		}
		if _, err := json.Marshal(v); err != nil {
			t.Fatalf("accepted %q but cannot encode it: %v", in, err)
		}
	})
}
