package ngac

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// goldenGraph and goldenJSON pin the canonical encoding: field order, sorted
// collections (built here in unsorted order), empty parents as [], no
// HTML escaping, no white space.
func goldenGraph(t testing.TB) *Graph {
	t.Helper()
	g := New()
	steps := []error{
		g.AddResourceRights("write", "read"),
		g.CreatePolicyClass("pc"),
		g.CreateUserAttribute("u a", "pc"),
		g.CreateObjectAttribute("o<a>", "pc"),
		g.Associate("u a", "o<a>", "write", "read"),
		g.CreateProhibition(Prohibition{Name: "p", Subject: "u a", Rights: []string{"write"},
			Containers: []ContainerCondition{{Container: "pc"}, {Container: "o<a>", Complement: true}}}),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	return g
}

const goldenJSON = `{"version":1,"resourceRights":["read","write"],` +
	`"nodes":[{"name":"o<a>","type":"OA","parents":["pc"]},{"name":"pc","type":"PC","parents":[]},{"name":"u a","type":"UA","parents":["pc"]}],` +
	`"associations":[{"source":"u a","target":"o<a>","rights":["read","write"]}],` +
	`"prohibitions":[{"name":"p","subject":"u a","rights":["write"],"intersection":false,` +
	`"containers":[{"container":"o<a>","complement":true},{"container":"pc","complement":false}]}]}`

func TestEncodeGolden(t *testing.T) {
	got := mustEncode(t, goldenGraph(t))
	if string(got) != goldenJSON {
		t.Fatalf("encoding:\n got %s\nwant %s", got, goldenJSON)
	}
	g, err := Decode([]byte(goldenJSON))
	if err != nil {
		t.Fatal(err)
	}
	if again := mustEncode(t, g); string(again) != goldenJSON {
		t.Fatalf("re-encoding differs:\n%s", again)
	}
	p, ok := g.Prohibition("p")
	if !ok || p.Subject != "u a" || p.Intersection || len(p.Containers) != 2 || !p.Containers[0].Complement {
		t.Fatalf("decoded prohibition = %+v", p)
	}
}

func TestEncodeEmptyGraph(t *testing.T) {
	const want = `{"version":1,"resourceRights":[],"nodes":[],"associations":[],"prohibitions":[]}`
	if got := mustEncode(t, New()); string(got) != want {
		t.Fatalf("got %s", got)
	}
	if _, err := Decode([]byte(want)); err != nil {
		t.Fatal(err)
	}
}

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	graphs := []*Graph{smallGraph(t), goldenGraph(t), New()}
	for i := 0; i < 100; i++ {
		graphs = append(graphs, buildFromBytes(t, randomBytes(rng, 200)))
	}
	for i, g := range graphs {
		enc := mustEncode(t, g)
		d, err := Decode(enc)
		if err != nil {
			t.Fatalf("graph %d: Decode: %v\n%s", i, err, enc)
		}
		if again := mustEncode(t, d); !bytes.Equal(enc, again) {
			t.Fatalf("graph %d: round trip not byte-identical:\n%s\n%s", i, enc, again)
		}
		subjects, targets := testSubjects(g), testTargets(g)
		want, got := allDecisions(t, g, subjects, targets), allDecisions(t, d, subjects, targets)
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("graph %d: decision %s changed by the round trip", i, k)
			}
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	valid := goldenJSON
	replace := func(old, new string) string {
		if !strings.Contains(valid, old) {
			t.Fatalf("test setup: %q not in golden JSON", old)
		}
		return strings.Replace(valid, old, new, 1)
	}
	nodeList := func(nodes string) string {
		return `{"version":1,"resourceRights":["r"],"nodes":[` + nodes + `],"associations":[],"prohibitions":[]}`
	}
	tests := []struct {
		name  string
		input string
		want  error
	}{
		{"empty", "", ErrInvalid},
		{"null", "null", ErrInvalid},
		{"array", "[]", ErrInvalid},
		{"white space", replace(`{"version":1,`, `{ "version":1,`), ErrInvalid},
		{"trailing newline", valid + "\n", ErrInvalid},
		{"trailing value", valid + "{}", ErrInvalid},
		{"unknown field", replace(`"version":1,`, `"version":1,"extra":true,`), ErrInvalid},
		{"unknown nested field", replace(`"type":"PC",`, `"type":"PC","label":"x",`), ErrInvalid},
		{"key in other case", replace(`"version":1`, `"Version":1`), ErrInvalid},
		{"duplicate key", replace(`"version":1,`, `"version":1,"version":1,`), ErrInvalid},
		{"wrong version", replace(`"version":1`, `"version":2`), ErrInvalid},
		{"missing version", replace(`"version":1,`, ``), ErrInvalid},
		{"unsorted rights", replace(`["read","write"],"nodes"`, `["write","read"],"nodes"`), ErrInvalid},
		{"unsorted association rights", replace(`"rights":["read","write"]`, `"rights":["write","read"]`), ErrInvalid},
		{"null parents", replace(`"parents":[]`, `"parents":null`), ErrInvalid},
		{"escaped html", replace(`"o<a>","type"`, `"o\u003ca>","type"`), ErrInvalid},
		{"unknown type", replace(`"type":"PC"`, `"type":"XX"`), ErrInvalid},
		{"right declared twice", replace(`["read","write"],"nodes"`, `["read","read","write"],"nodes"`), ErrExists},
		{"undeclared right", replace(`"rights":["write"]`, `"rights":["fly"]`), ErrNotFound},
		{"unknown parent", replace(`"parents":["pc"]}`, `"parents":["qq"]}`), ErrNotFound},
		{"PC with parent", replace(`"type":"PC","parents":[]`, `"type":"PC","parents":["u a"]`), ErrInvalid},
		{"attribute without parent", replace(`"type":"UA","parents":["pc"]`, `"type":"UA","parents":[]`), ErrInvalid},
		{"wrong kind parent", replace(`"type":"UA","parents":["pc"]`, `"type":"UA","parents":["o<a>"]`), ErrInvalid},
		{"no containers", replace(`"containers":[{"container":"o<a>","complement":true},{"container":"pc","complement":false}]`, `"containers":[]`), ErrInvalid},
		{"association from OA", replace(`"source":"u a","target":"o<a>"`, `"source":"o<a>","target":"o<a>"`), ErrInvalid},
		{"invalid UTF-8", replace(`"u a","type"`, "\"u\xffa\",\"type\""), ErrInvalid},
		{"control character", replace(`"u a","type"`, `"u\na","type"`), ErrInvalid},
		{"duplicate node", nodeList(`{"name":"a","type":"PC","parents":[]},{"name":"a","type":"PC","parents":[]}`), ErrExists},
		{"duplicate parent", nodeList(`{"name":"a","type":"OA","parents":["p","p"]},{"name":"p","type":"PC","parents":[]}`), ErrExists},
		{"cycle", nodeList(`{"name":"a","type":"OA","parents":["b"]},{"name":"b","type":"OA","parents":["a"]},{"name":"p","type":"PC","parents":[]}`), ErrCycle},
		{"self loop", nodeList(`{"name":"a","type":"OA","parents":["a","p"]},{"name":"p","type":"PC","parents":[]}`), ErrCycle},
		{"too large", strings.Repeat(" ", MaxEncodedSize+1), ErrLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := Decode([]byte(tt.input))
			if !errors.Is(err, tt.want) || g != nil {
				t.Fatalf("Decode = %v, %v; want nil, %v", g, err, tt.want)
			}
		})
	}
}

func TestDecodeNodeLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"version":1,"resourceRights":[],"nodes":[`)
	for i := 0; i <= MaxNodes; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name":"n%05d","type":"OA","parents":["pc"]}`, i)
	}
	b.WriteString(`],"associations":[],"prohibitions":[]}`)
	if _, err := Decode([]byte(b.String())); !errors.Is(err, ErrLimit) {
		t.Fatalf("Decode error %v, want ErrLimit", err)
	}
}

func TestEncodeSizeLimit(t *testing.T) {
	g := New()
	if err := g.CreatePolicyClass("pc"); err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("x", MaxNameLen-10)
	parent := pad + "parent"
	if err := g.CreateObjectAttribute(parent, "pc"); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if err := g.CreateObjectAttribute(fmt.Sprintf("%s%05d", pad, i), parent); err != nil {
			t.Fatal(err)
		}
		if i%500 != 0 {
			continue
		}
		_, err := g.Encode()
		if errors.Is(err, ErrLimit) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if n, _, _, _ := g.Size(); n >= MaxNodes-1 {
			t.Fatal("Encode never reached its size limit")
		}
	}
}

// TestEncodeMatchesEncodingJSON cross-checks the hand-written encoder with
// encoding/json's rendering of the same document.
func TestEncodeMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	graphs := []*Graph{smallGraph(t), goldenGraph(t), New()}
	for i := 0; i < 50; i++ {
		graphs = append(graphs, buildFromBytes(t, randomBytes(rng, 200)))
	}
	quoted := New()
	for _, name := range []string{`back\slash`, `"quoted"`, "tab\there", "<html>&amp;", "ünïcødé ✓"} {
		if err := quoted.CreatePolicyClass(name); err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatal(err)
		}
	}
	graphs = append(graphs, quoted)
	for i, g := range graphs {
		doc := encodedGraph{
			Version:        EncodingVersion,
			ResourceRights: append([]string{}, g.ResourceRights()...),
			Nodes:          []encodedNode{},
			Associations:   append([]Association{}, g.Associations()...),
			Prohibitions:   append([]Prohibition{}, g.Prohibitions()...),
		}
		for _, n := range g.Nodes() {
			k, _ := g.NodeKind(n)
			doc.Nodes = append(doc.Nodes, encodedNode{Name: n, Type: k.String(), Parents: append([]string{}, g.Parents(n)...)})
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(&doc); err != nil {
			t.Fatal(err)
		}
		want := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		if got := mustEncode(t, g); !bytes.Equal(got, want) {
			t.Fatalf("graph %d:\n got %s\nwant %s", i, got, want)
		}
	}
}
