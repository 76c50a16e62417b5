package blossompolicy

import "github.com/blossom-ledger/blossom/ngac"

// builder applies a sequence of graph mutations, stopping at the first
// error. It is used inside ngac.Graph.Update so that a failed sequence
// leaves nothing behind.
type builder struct {
	g   *ngac.Graph
	err error
}

func (b *builder) rights(rs ...string) {
	if b.err == nil {
		b.err = b.g.AddResourceRights(rs...)
	}
}

func (b *builder) pc(name string) {
	if b.err == nil {
		b.err = b.g.CreatePolicyClass(name)
	}
}

func (b *builder) ua(name string, parents ...string) {
	if b.err == nil {
		b.err = b.g.CreateUserAttribute(name, parents...)
	}
}

func (b *builder) oa(name string, parents ...string) {
	if b.err == nil {
		b.err = b.g.CreateObjectAttribute(name, parents...)
	}
}

func (b *builder) o(name string, parents ...string) {
	if b.err == nil {
		b.err = b.g.CreateObject(name, parents...)
	}
}

func (b *builder) assoc(ua, target string, rights ...string) {
	if b.err == nil {
		b.err = b.g.Associate(ua, target, rights...)
	}
}

func (b *builder) prohibit(p ngac.Prohibition) {
	if b.err == nil {
		b.err = b.g.CreateProhibition(p)
	}
}
