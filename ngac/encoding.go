package ngac

import (
	"bytes"
	"sort"
	"strconv"
	"unicode/utf8"
)

// EncodingVersion is the version field of the encoding Encode writes and
// Decode accepts.
const EncodingVersion = 1

// encodedGraph is the JSON document (the json tags document the field names;
// Encode and the parser write and read it without reflection). Field order
// is the encoding order.
//
//	{"version":1,
//	 "resourceRights":["read","write"],
//	 "nodes":[{"name":"n","type":"UA","parents":["p"]}, ...],
//	 "associations":[{"source":"ua","target":"oa","rights":["read"]}, ...],
//	 "prohibitions":[{"name":"p","subject":"ua","rights":["write"],
//	                  "intersection":true,
//	                  "containers":[{"container":"oa","complement":false}]}, ...]}
//
// Every list is sorted (nodes and prohibitions by name, parents and rights
// byte-wise, associations by source then target, containers by name) and
// present even when empty.
type encodedGraph struct {
	Version        int           `json:"version"`
	ResourceRights []string      `json:"resourceRights"`
	Nodes          []encodedNode `json:"nodes"`
	Associations   []Association `json:"associations"`
	Prohibitions   []Prohibition `json:"prohibitions"`
}

type encodedNode struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	Parents []string `json:"parents"`
}

// Encode returns the canonical JSON encoding of g: fixed field order, every
// collection sorted, no insignificant white space, no HTML escaping (the
// output equals encoding/json's rendering of the document with
// SetEscapeHTML(false), without the trailing newline). Equal graphs have
// identical encodings. It fails (ErrLimit) if the encoding would exceed
// MaxEncodedSize, which Decode would refuse.
func (g *Graph) Encode() ([]byte, error) {
	b := make([]byte, 0, 256+128*len(g.nodes)+64*g.associations)
	b = append(b, `{"version":`...)
	b = strconv.AppendInt(b, EncodingVersion, 10)
	b = append(b, `,"resourceRights":`...)
	b = appendStrings(b, g.rights)
	b = append(b, `,"nodes":[`...)
	for i, name := range g.Nodes() {
		n := g.nodes[name]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendString(b, name)
		b = append(b, `,"type":"`...)
		b = append(b, n.kind.String()...)
		b = append(b, `","parents":[`...)
		for j, p := range n.parents {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendString(b, p.name)
		}
		b = append(b, "]}"...)
	}
	b = append(b, `],"associations":[`...)
	for i, a := range g.Associations() {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"source":`...)
		b = appendString(b, a.Source)
		b = append(b, `,"target":`...)
		b = appendString(b, a.Target)
		b = append(b, `,"rights":`...)
		b = appendStrings(b, a.Rights)
		b = append(b, '}')
	}
	b = append(b, `],"prohibitions":[`...)
	for i, p := range g.Prohibitions() {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendString(b, p.Name)
		b = append(b, `,"subject":`...)
		b = appendString(b, p.Subject)
		b = append(b, `,"rights":`...)
		b = appendStrings(b, p.Rights)
		b = append(b, `,"intersection":`...)
		b = strconv.AppendBool(b, p.Intersection)
		b = append(b, `,"containers":[`...)
		for j, c := range p.Containers {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"container":`...)
			b = appendString(b, c.Container)
			b = append(b, `,"complement":`...)
			b = strconv.AppendBool(b, c.Complement)
			b = append(b, '}')
		}
		b = append(b, "]}"...)
	}
	b = append(b, "]}"...)
	if len(b) > MaxEncodedSize {
		return nil, errorf(ErrLimit, "encoded policy has %d bytes, more than %d", len(b), MaxEncodedSize)
	}
	return b, nil
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendString appends s as a JSON string escaped as encoding/json does
// without HTML escaping. Names and rights are valid UTF-8 without control
// characters, U+2028 or U+2029 (validated on creation), so only '"' and '\'
// need escaping; the other cases are kept for safety.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	plain := true
	for i := 0; i < len(s) && plain; i++ {
		plain = s[i] >= 0x20 && s[i] != '"' && s[i] != '\\'
	}
	if plain {
		b = append(b, s...)
		return append(b, '"')
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// Decode parses a graph encoded by Encode. It is strict: the input must be at
// most MaxEncodedSize bytes of valid UTF-8 in exactly the canonical layout
// (no unknown, missing, repeated or reordered fields, no white space), must
// describe a valid graph (every invariant and bound that the mutation
// methods enforce is re-checked) and must be byte for byte the canonical
// encoding of that graph. It uses no reflection. Errors wrap ErrInvalid, ErrLimit, ErrNotFound, ErrExists or
// ErrCycle.
func Decode(data []byte) (*Graph, error) {
	if len(data) > MaxEncodedSize {
		return nil, errorf(ErrLimit, "encoded policy has %d bytes, more than %d", len(data), MaxEncodedSize)
	}
	if !utf8.Valid(data) {
		return nil, errorf(ErrInvalid, "policy JSON is not valid UTF-8")
	}
	doc, err := (&parser{data: data}).document()
	if err != nil {
		return nil, err
	}
	g := New() // the parser bounded the number of nodes, associations and prohibitions
	if err := g.AddResourceRights(doc.ResourceRights...); err != nil {
		return nil, err
	}
	// Nodes first, then their assignments, so that parents may be listed
	// after their children; acyclicity is checked once for the whole graph.
	for _, en := range doc.Nodes {
		kind, ok := parseKind(en.Type)
		if !ok {
			return nil, errorf(ErrInvalid, "node %q has unknown type %q", en.Name, en.Type)
		}
		if err := validateName(kind.String(), en.Name); err != nil {
			return nil, err
		}
		if g.HasNode(en.Name) {
			return nil, errorf(ErrExists, "node %q is listed twice", en.Name)
		}
		if kind == PolicyClass {
			if g.policyClasses >= MaxPolicyClasses {
				return nil, errorf(ErrLimit, "more than %d policy classes", MaxPolicyClasses)
			}
			g.policyClasses++
		}
		g.nodes[en.Name] = &node{name: en.Name, kind: kind}
	}
	for _, en := range doc.Nodes {
		n := g.nodes[en.Name]
		if n.kind == PolicyClass && len(en.Parents) != 0 {
			return nil, errorf(ErrInvalid, "policy class %q cannot be assigned to anything", en.Name)
		}
		if n.kind != PolicyClass && len(en.Parents) == 0 {
			return nil, errorf(ErrInvalid, "%s %q must be assigned to at least one node", n.kind, en.Name)
		}
		if g.assignments+len(en.Parents) > MaxAssignments {
			return nil, errorf(ErrLimit, "more than %d assignments", MaxAssignments)
		}
		for _, pn := range en.Parents {
			p, ok := g.nodes[pn]
			if !ok {
				return nil, errorf(ErrNotFound, "node %q: parent %q does not exist", en.Name, pn)
			}
			if !canAssign(n.kind, p.kind) {
				return nil, errorf(ErrInvalid, "cannot assign %s %q to %s %q", n.kind, en.Name, p.kind, pn)
			}
			if hasNode(n.parents, pn) {
				return nil, errorf(ErrExists, "node %q: parent %q is listed twice", en.Name, pn)
			}
			n.parents = insertNode(n.parents, p)
			p.children = insertNode(p.children, n)
			g.assignments++
		}
	}
	if err := g.checkAcyclic(); err != nil {
		return nil, err
	}
	for _, a := range doc.Associations {
		if err := g.Associate(a.Source, a.Target, a.Rights...); err != nil {
			return nil, err
		}
	}
	for _, p := range doc.Prohibitions {
		if err := g.CreateProhibition(p); err != nil {
			return nil, err
		}
	}
	// Every invariant has now been enforced by the checks above or by the
	// mutation methods (the fuzz target verifies checkInvariants on every
	// decoded graph); the last check is canonical form.
	canon, err := g.Encode()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(canon, data) {
		return nil, errorf(ErrInvalid, "policy JSON is not in canonical form (sorted collections, no white space, fields in encoding order)")
	}
	return g, nil
}

// checkAcyclic verifies that the assignments form a DAG (Kahn's algorithm,
// linear in nodes and assignments).
func (g *Graph) checkAcyclic() error {
	pending := make(map[*node]int, len(g.nodes))
	var ready []*node
	for _, n := range g.nodes {
		pending[n] = len(n.parents)
		if len(n.parents) == 0 {
			ready = append(ready, n)
		}
	}
	done := 0
	for len(ready) > 0 {
		n := ready[len(ready)-1]
		ready = ready[:len(ready)-1]
		done++
		for _, c := range n.children {
			pending[c]--
			if pending[c] == 0 {
				ready = append(ready, c)
			}
		}
	}
	if done != len(g.nodes) {
		var stuck []string
		for _, n := range g.nodes {
			if pending[n] > 0 {
				stuck = append(stuck, n.name)
			}
		}
		sort.Strings(stuck)
		return errorf(ErrCycle, "assignments form a cycle through or above %q", stuck[0])
	}
	return nil
}
