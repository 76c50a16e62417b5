package ngac

// parser reads the canonical encoding and nothing else: the exact field
// order, no white space, strings with only the escapes Encode writes for
// valid names ('\"' and '\\'), decimal version without sign or leading
// zero. It does not use reflection. Anything else is ErrInvalid with the
// byte offset; semantic checks happen afterwards in Decode.
type parser struct {
	data []byte
	pos  int
}

func (p *parser) fail(what string) error {
	return errorf(ErrInvalid, "policy JSON is not in canonical form at byte %d: %s", p.pos, what)
}

// lit consumes the literal s.
func (p *parser) lit(s string) error {
	if len(p.data)-p.pos < len(s) || string(p.data[p.pos:p.pos+len(s)]) != s {
		return p.fail("expected " + quote(s))
	}
	p.pos += len(s)
	return nil
}

// next reports whether the next byte is c and consumes it if so.
func (p *parser) next(c byte) bool {
	if p.pos < len(p.data) && p.data[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

func (p *parser) str() (string, error) {
	if !p.next('"') {
		return "", p.fail("expected a string")
	}
	start := p.pos
	escaped := false
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			raw := p.data[start:p.pos]
			p.pos++
			if !escaped {
				return string(raw), nil
			}
			out := make([]byte, 0, len(raw))
			for i := 0; i < len(raw); i++ {
				if raw[i] == '\\' {
					i++
				}
				out = append(out, raw[i])
			}
			return string(out), nil
		case c == '\\':
			if p.pos+1 >= len(p.data) || (p.data[p.pos+1] != '"' && p.data[p.pos+1] != '\\') {
				return "", p.fail(`only \" and \\ escapes occur in canonical strings`)
			}
			escaped = true
			p.pos += 2
		case c < 0x20:
			return "", p.fail("control character in a string")
		default:
			p.pos++
		}
	}
	return "", p.fail("unterminated string")
}

func (p *parser) boolean() (bool, error) {
	if p.next('t') {
		return true, p.lit("rue")
	}
	if p.next('f') {
		return false, p.lit("alse")
	}
	return false, p.fail("expected true or false")
}

// version reads a small non-negative decimal integer.
func (p *parser) version() (int, error) {
	start, v := p.pos, 0
	for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' && p.pos-start < 9 {
		v = v*10 + int(p.data[p.pos]-'0')
		p.pos++
	}
	if p.pos == start || (p.data[start] == '0' && p.pos-start > 1) {
		return 0, p.fail("expected a version number")
	}
	return v, nil
}

// list reads '[' elem (',' elem)* ']' or '[]', calling elem for each
// element; max bounds the element count (ErrLimit).
func (p *parser) list(what string, max int, elem func() error) error {
	if err := p.lit("["); err != nil {
		return err
	}
	if p.next(']') {
		return nil
	}
	for n := 1; ; n++ {
		if n > max {
			return errorf(ErrLimit, "policy JSON lists more than %d %s", max, what)
		}
		if err := elem(); err != nil {
			return err
		}
		if p.next(']') {
			return nil
		}
		if err := p.lit(","); err != nil {
			return err
		}
	}
}

func (p *parser) strings(what string, max int) ([]string, error) {
	out := []string{}
	err := p.list(what, max, func() error {
		s, err := p.str()
		out = append(out, s)
		return err
	})
	return out, err
}

// document reads a whole encoded graph.
func (p *parser) document() (*encodedGraph, error) {
	doc := &encodedGraph{}
	var err error
	if err = p.lit(`{"version":`); err != nil {
		return nil, err
	}
	if doc.Version, err = p.version(); err != nil {
		return nil, err
	}
	if doc.Version != EncodingVersion {
		return nil, errorf(ErrInvalid, "policy encoding version %d, want %d", doc.Version, EncodingVersion)
	}
	if err = p.lit(`,"resourceRights":`); err != nil {
		return nil, err
	}
	if doc.ResourceRights, err = p.strings("resource rights", MaxResourceRights); err != nil {
		return nil, err
	}
	if err = p.lit(`,"nodes":`); err != nil {
		return nil, err
	}
	doc.Nodes = []encodedNode{}
	if err = p.list("nodes", MaxNodes, p.node(doc)); err != nil {
		return nil, err
	}
	if err = p.lit(`,"associations":`); err != nil {
		return nil, err
	}
	doc.Associations = []Association{}
	if err = p.list("associations", MaxAssociations, p.association(doc)); err != nil {
		return nil, err
	}
	if err = p.lit(`,"prohibitions":`); err != nil {
		return nil, err
	}
	doc.Prohibitions = []Prohibition{}
	if err = p.list("prohibitions", MaxProhibitions, p.prohibition(doc)); err != nil {
		return nil, err
	}
	if err = p.lit("}"); err != nil {
		return nil, err
	}
	if p.pos != len(p.data) {
		return nil, p.fail("data after the document")
	}
	return doc, nil
}

func (p *parser) node(doc *encodedGraph) func() error {
	return func() error {
		var n encodedNode
		var err error
		if err = p.lit(`{"name":`); err != nil {
			return err
		}
		if n.Name, err = p.str(); err != nil {
			return err
		}
		if err = p.lit(`,"type":`); err != nil {
			return err
		}
		if n.Type, err = p.str(); err != nil {
			return err
		}
		if err = p.lit(`,"parents":`); err != nil {
			return err
		}
		if n.Parents, err = p.strings("parents", MaxAssignments); err != nil {
			return err
		}
		doc.Nodes = append(doc.Nodes, n)
		return p.lit("}")
	}
}

func (p *parser) association(doc *encodedGraph) func() error {
	return func() error {
		var a Association
		var err error
		if err = p.lit(`{"source":`); err != nil {
			return err
		}
		if a.Source, err = p.str(); err != nil {
			return err
		}
		if err = p.lit(`,"target":`); err != nil {
			return err
		}
		if a.Target, err = p.str(); err != nil {
			return err
		}
		if err = p.lit(`,"rights":`); err != nil {
			return err
		}
		if a.Rights, err = p.strings("rights", maxRelationRights); err != nil {
			return err
		}
		doc.Associations = append(doc.Associations, a)
		return p.lit("}")
	}
}

func (p *parser) prohibition(doc *encodedGraph) func() error {
	return func() error {
		var pr Prohibition
		var err error
		if err = p.lit(`{"name":`); err != nil {
			return err
		}
		if pr.Name, err = p.str(); err != nil {
			return err
		}
		if err = p.lit(`,"subject":`); err != nil {
			return err
		}
		if pr.Subject, err = p.str(); err != nil {
			return err
		}
		if err = p.lit(`,"rights":`); err != nil {
			return err
		}
		if pr.Rights, err = p.strings("rights", maxRelationRights); err != nil {
			return err
		}
		if err = p.lit(`,"intersection":`); err != nil {
			return err
		}
		if pr.Intersection, err = p.boolean(); err != nil {
			return err
		}
		if err = p.lit(`,"containers":`); err != nil {
			return err
		}
		pr.Containers = []ContainerCondition{}
		err = p.list("containers", MaxProhibitionContainers, func() error {
			var c ContainerCondition
			var err error
			if err = p.lit(`{"container":`); err != nil {
				return err
			}
			if c.Container, err = p.str(); err != nil {
				return err
			}
			if err = p.lit(`,"complement":`); err != nil {
				return err
			}
			if c.Complement, err = p.boolean(); err != nil {
				return err
			}
			pr.Containers = append(pr.Containers, c)
			return p.lit("}")
		})
		if err != nil {
			return err
		}
		doc.Prohibitions = append(doc.Prohibitions, pr)
		return p.lit("}")
	}
}
