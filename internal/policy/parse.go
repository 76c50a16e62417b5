package policy

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// MaxPolicyText bounds the text Parse accepts.
const MaxPolicyText = 4096

// validRoles are the roles a principal may name.
var validRoles = map[string]bool{"admin": true, "client": true, "peer": true, "orderer": true, "gateway": true, RoleMember: true}

// Parse reads a policy written as Fabric writes them:
//
//	MAJORITY Endorsement            implicit meta (ANY | ALL | MAJORITY) over
//	                                Admins, Readers, Writers or Endorsement
//	'Agency1MSP.peer'               one principal (quotes optional)
//	AND(p, ...)  OR(p, ...)  OutOf(n, p, ...)
func Parse(text string) (*pb.Policy, error) {
	if len(text) > MaxPolicyText {
		return nil, fmt.Errorf("policy text longer than %d bytes", MaxPolicyText)
	}
	text = strings.TrimSpace(text)
	if fields := strings.Fields(text); len(fields) == 2 {
		if rule, ok := pb.ImplicitMetaPolicy_Rule_value[fields[0]]; ok {
			if _, ok := subPolicyRoles[fields[1]]; !ok {
				return nil, fmt.Errorf("policy %q: unknown sub-policy %q (want Admins, Readers, Writers or Endorsement)", text, fields[1])
			}
			return ImplicitMeta(pb.ImplicitMetaPolicy_Rule(rule), fields[1]), nil
		}
	}
	p := &parser{s: text}
	sp, err := p.expr(0)
	if err != nil {
		return nil, fmt.Errorf("policy %q: %w", text, err)
	}
	p.space()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("policy %q: unexpected %q at offset %d", text, p.s[p.i:], p.i)
	}
	return Signature(sp), nil
}

type parser struct {
	s string
	i int
}

func (p *parser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n') {
		p.i++
	}
}

func (p *parser) word() string {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '(' || c == ')' || c == ',' || c == ' ' || c == '\t' || c == '\n' {
			break
		}
		p.i++
	}
	return p.s[start:p.i]
}

func (p *parser) expect(c byte) error {
	p.space()
	if p.i >= len(p.s) || p.s[p.i] != c {
		return fmt.Errorf("expected %q at offset %d", c, p.i)
	}
	p.i++
	return nil
}

func (p *parser) expr(depth int) (*pb.SignaturePolicy, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested deeper than %d", maxDepth)
	}
	p.space()
	w := p.word()
	switch strings.ToUpper(w) {
	case "AND", "OR", "OUTOF":
		if err := p.expect('('); err != nil {
			return nil, err
		}
		n := -1
		if strings.ToUpper(w) == "OUTOF" {
			p.space()
			num := p.word()
			v, err := strconv.Atoi(num)
			if err != nil || v < 0 || v > 1000 {
				return nil, fmt.Errorf("OutOf needs a count from 0 to 1000, got %q", num)
			}
			n = v
			if err := p.expect(','); err != nil {
				return nil, err
			}
		}
		var rules []*pb.SignaturePolicy
		for {
			r, err := p.expr(depth + 1)
			if err != nil {
				return nil, err
			}
			rules = append(rules, r)
			p.space()
			if p.i < len(p.s) && p.s[p.i] == ',' {
				p.i++
				continue
			}
			if err := p.expect(')'); err != nil {
				return nil, err
			}
			break
		}
		switch {
		case strings.ToUpper(w) == "AND":
			return And(rules...), nil
		case strings.ToUpper(w) == "OR":
			return Or(rules...), nil
		case n > len(rules):
			return nil, fmt.Errorf("OutOf(%d) has only %d rules", n, len(rules))
		}
		return OutOf(n, rules...), nil
	case "":
		return nil, fmt.Errorf("expected a principal or AND/OR/OutOf at offset %d", p.i)
	}
	return parsePrincipal(w)
}

func parsePrincipal(w string) (*pb.SignaturePolicy, error) {
	if len(w) >= 2 && (w[0] == '\'' || w[0] == '"') && w[len(w)-1] == w[0] {
		w = w[1 : len(w)-1]
	}
	dot := strings.LastIndexByte(w, '.')
	if dot <= 0 || dot == len(w)-1 {
		return nil, fmt.Errorf("principal %q must be MSPID.role", w)
	}
	msp, role := w[:dot], w[dot+1:]
	if !validRoles[role] {
		return nil, fmt.Errorf("principal %q: unknown role %q (want admin, client, peer, orderer, gateway or member)", w, role)
	}
	return SignedBy(msp, role), nil
}
