package ngac

import (
	"bytes"
	"math/rand"
	"testing"
)

// FuzzDecode: Decode never panics; whatever it accepts is a consistent graph
// whose canonical encoding is exactly the input, decodes again to the same
// bytes, and answers decisions without error.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(goldenJSON))
	f.Add(mustEncode(f, smallGraph(f)))
	f.Add(mustEncode(f, New()))
	rng := rand.New(rand.NewSource(5))
	for i := 0; i < 8; i++ {
		f.Add(mustEncode(f, buildFromBytes(f, randomBytes(rng, 200))))
	}
	f.Add([]byte(`{"version":1,"resourceRights":["r"],"nodes":[{"name":"a","type":"OA","parents":["b"]},{"name":"b","type":"OA","parents":["a"]}],"associations":[],"prohibitions":[]}`))
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Decode(data)
		if err != nil {
			if g != nil {
				t.Fatal("Decode returned a graph with an error")
			}
			return
		}
		if err := g.checkInvariants(); err != nil {
			t.Fatalf("decoded graph is inconsistent: %v", err)
		}
		enc, err := g.Encode()
		if err != nil {
			t.Fatalf("decoded graph does not encode: %v", err)
		}
		if !bytes.Equal(enc, data) {
			t.Fatalf("accepted non-canonical input:\n%s\nre-encodes as\n%s", data, enc)
		}
		g2, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		if enc2 := mustEncode(t, g2); !bytes.Equal(enc, enc2) {
			t.Fatal("second round trip differs")
		}
		subjects, targets := testSubjects(g), testTargets(g)
		if len(subjects) > 8 {
			subjects = subjects[:8]
		}
		if len(targets) > 8 {
			targets = targets[:8]
		}
		ref := newOracle(g)
		for _, s := range subjects {
			for _, target := range targets {
				for _, r := range g.ResourceRights() {
					ok, err := g.Decide(s, target, r)
					if err != nil {
						t.Fatalf("Decide(%s): %v", decisionKey(s, target, r), err)
					}
					if want := ref.decide(s, target, r); ok != want {
						t.Fatalf("Decide(%s) = %v, reference %v", decisionKey(s, target, r), ok, want)
					}
				}
			}
		}
	})
}

// FuzzDecide builds a small graph from the fuzz input (a program of graph
// operations, see buildFromBytes, which also checks the invariants after
// every operation) and checks every decision against the literal decision
// rule, the Privileges view and the encoding round trip.
func FuzzDecide(f *testing.F) {
	rng := rand.New(rand.NewSource(6))
	for i := 0; i < 16; i++ {
		f.Add(randomBytes(rng, 200))
	}
	f.Add([]byte{})
	f.Add([]byte{2, 0, 0, 1, 1, 0, 1, 2, 1, 3, 3, 6, 0, 0, 5, 8, 1, 0, 1, 3, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		g := buildFromBytes(t, data)
		ref := newOracle(g)
		for _, s := range testSubjects(g) {
			for _, target := range testTargets(g) {
				privs, err := g.Privileges(s, target)
				if err != nil {
					t.Fatalf("Privileges: %v", err)
				}
				for _, r := range testRights {
					ok, err := g.Decide(s, target, r)
					if err != nil {
						t.Fatalf("Decide(%s): %v", decisionKey(s, target, r), err)
					}
					if want := ref.decide(s, target, r); ok != want {
						t.Fatalf("Decide(%s) = %v, reference %v\n%s", decisionKey(s, target, r), ok, want, mustEncode(t, g))
					}
					if ok != rightsInclude(privs, r) {
						t.Fatalf("Privileges %v disagrees with Decide on %s", privs, decisionKey(s, target, r))
					}
				}
			}
		}
		enc := mustEncode(t, g)
		d, err := Decode(enc)
		if err != nil {
			t.Fatalf("Decode of an encoded graph: %v\n%s", err, enc)
		}
		if !bytes.Equal(enc, mustEncode(t, d)) {
			t.Fatal("round trip not byte-identical")
		}
	})
}
