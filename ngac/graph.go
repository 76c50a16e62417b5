package ngac

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Size bounds. They keep a decision's cost and a decoded policy's memory
// bounded whatever the stored policy contains; the BloSS@M policy needs a few
// hundred nodes for tens of member accounts.
const (
	MaxNameLen               = 256     // bytes in a node or prohibition name
	MaxRightLen              = 64      // bytes in a resource right name
	MaxResourceRights        = 128     // declared resource rights
	MaxNodes                 = 10000   // nodes of every kind
	MaxPolicyClasses         = 64      // policy classes (a decision keeps them in a 64-bit set)
	MaxAssignments           = 50000   // assignment edges
	MaxAssociations          = 20000   // associations
	MaxProhibitions          = 10000   // prohibitions
	MaxProhibitionContainers = 32      // container conditions in one prohibition
	MaxSubjectAttributes     = 64      // user attributes named by one Subject
	MaxEncodedSize           = 4 << 20 // bytes of an encoded graph
	maxRelationRights        = MaxResourceRights
	maxParentsAtCreate       = 64 // parents named when creating one node
)

// AllRights, used as the only right of an association or prohibition, stands
// for every declared resource right, including rights declared later.
const AllRights = "*"

// Kind is the kind of a node.
type Kind uint8

// Node kinds.
const (
	PolicyClass Kind = iota + 1
	UserAttribute
	ObjectAttribute
	User
	Object
)

// String returns the NGAC abbreviation of the kind ("PC", "UA", "OA", "U", "O").
func (k Kind) String() string {
	switch k {
	case PolicyClass:
		return "PC"
	case UserAttribute:
		return "UA"
	case ObjectAttribute:
		return "OA"
	case User:
		return "U"
	case Object:
		return "O"
	}
	return "invalid kind"
}

// parseKind is the inverse of Kind.String.
func parseKind(s string) (Kind, bool) {
	for k := PolicyClass; k <= Object; k++ {
		if k.String() == s {
			return k, true
		}
	}
	return 0, false
}

// canAssign reports whether a node of kind child may be assigned to a node of
// kind parent.
func canAssign(child, parent Kind) bool {
	switch child {
	case User:
		return parent == UserAttribute
	case UserAttribute:
		return parent == UserAttribute || parent == PolicyClass
	case Object:
		return parent == ObjectAttribute
	case ObjectAttribute:
		return parent == ObjectAttribute || parent == PolicyClass
	}
	return false
}

// Graph is an NGAC policy: resource rights, nodes, assignments, associations
// and prohibitions. The zero value is not usable; call New or Decode.
type Graph struct {
	rights       []string // sorted, unique
	nodes        map[string]*node
	prohibitions map[string]*prohibition
	policyClasses,
	assignments,
	associations int
}

type node struct {
	name      string
	kind      Kind
	parents   []*node        // sorted by name
	children  []*node        // sorted by name
	out       []*association // this node is the source; sorted by target name
	in        []*association // this node is the target; sorted by source name
	subjectOf []*prohibition // this node is the subject; sorted by name
	condRefs  int            // container conditions naming this node
}

type association struct {
	source, target *node
	rights         []string // sorted, unique; or exactly [AllRights]
}

type prohibition struct {
	name         string
	subject      *node
	rights       []string // sorted, unique; or exactly [AllRights]
	intersection bool
	conds        []condition // sorted by container name, unique containers
}

type condition struct {
	container  *node
	complement bool
}

// New returns an empty graph with no resource rights.
func New() *Graph {
	return &Graph{nodes: make(map[string]*node), prohibitions: make(map[string]*prohibition)}
}

// ---- names and rights ----

func validateName(what, name string) error {
	switch {
	case name == "":
		return errorf(ErrInvalid, "%s name is empty", what)
	case len(name) > MaxNameLen:
		return errorf(ErrInvalid, "%s name longer than %d bytes", what, MaxNameLen)
	case !utf8.ValidString(name):
		return errorf(ErrInvalid, "%s name %q is not valid UTF-8", what, name)
	case strings.TrimSpace(name) != name:
		return errorf(ErrInvalid, "%s name %q has leading or trailing white space", what, name)
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return errorf(ErrInvalid, "%s name %q contains a control character", what, name)
		}
	}
	return nil
}

func validateRightName(r string) error {
	if r == "" || len(r) > MaxRightLen {
		return errorf(ErrInvalid, "resource right %q must have 1 to %d bytes", r, MaxRightLen)
	}
	for i := 0; i < len(r); i++ {
		c := r[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return errorf(ErrInvalid, "resource right %q may contain only ASCII letters, digits, '_', '-' and '.'", r)
		}
	}
	return nil
}

// AddResourceRights declares resource rights. Names have 1 to MaxRightLen
// ASCII letters, digits, '_', '-' or '.'; declaring a right twice is an
// error. Rights cannot be removed.
func (g *Graph) AddResourceRights(rights ...string) error {
	if len(g.rights)+len(rights) > MaxResourceRights {
		return errorf(ErrLimit, "more than %d resource rights", MaxResourceRights)
	}
	seen := make(map[string]bool, len(rights))
	for _, r := range rights {
		if err := validateRightName(r); err != nil {
			return err
		}
		if seen[r] || g.HasResourceRight(r) {
			return errorf(ErrExists, "resource right %q is already declared", r)
		}
		seen[r] = true
	}
	g.rights = append(g.rights, rights...)
	sort.Strings(g.rights)
	return nil
}

// HasResourceRight reports whether r is a declared resource right.
func (g *Graph) HasResourceRight(r string) bool {
	i := sort.SearchStrings(g.rights, r)
	return i < len(g.rights) && g.rights[i] == r
}

// ResourceRights returns the declared resource rights, sorted.
func (g *Graph) ResourceRights() []string { return append([]string(nil), g.rights...) }

// normalizeRights validates a right set of a relation and returns it sorted.
func (g *Graph) normalizeRights(what string, rights []string) ([]string, error) {
	if len(rights) == 0 {
		return nil, errorf(ErrInvalid, "%s grants or denies no right", what)
	}
	if len(rights) > maxRelationRights {
		return nil, errorf(ErrLimit, "%s names more than %d rights", what, maxRelationRights)
	}
	out := append([]string(nil), rights...)
	sort.Strings(out)
	for i, r := range out {
		if r == AllRights {
			if len(out) != 1 {
				return nil, errorf(ErrInvalid, "%s: %q cannot be combined with other rights", what, AllRights)
			}
			continue
		}
		if !g.HasResourceRight(r) {
			return nil, errorf(ErrNotFound, "%s: resource right %q is not declared", what, r)
		}
		if i > 0 && out[i-1] == r {
			return nil, errorf(ErrInvalid, "%s: right %q is named twice", what, r)
		}
	}
	return out, nil
}

// ---- sorted slices ----

func indexByName[T any](s []T, name string, key func(T) string) (int, bool) {
	i := sort.Search(len(s), func(i int) bool { return key(s[i]) >= name })
	return i, i < len(s) && key(s[i]) == name
}

func insertAt[T any](s []T, i int, v T) []T {
	var zero T
	s = append(s, zero)
	copy(s[i+1:], s[i:])
	s[i] = v
	return s
}

func removeAt[T any](s []T, i int) []T {
	copy(s[i:], s[i+1:])
	var zero T
	s[len(s)-1] = zero
	return s[:len(s)-1]
}

func nodeName(n *node) string               { return n.name }
func assocTargetName(a *association) string { return a.target.name }
func assocSourceName(a *association) string { return a.source.name }
func prohibitionName(p *prohibition) string { return p.name }
func conditionContainer(c condition) string { return c.container.name }
func insertNode(s []*node, n *node) []*node {
	i, _ := indexByName(s, n.name, nodeName)
	return insertAt(s, i, n)
}
func removeNode(s []*node, n *node) []*node {
	i, _ := indexByName(s, n.name, nodeName)
	return removeAt(s, i)
}
func hasNode(s []*node, name string) bool { _, ok := indexByName(s, name, nodeName); return ok }

// ---- nodes ----

// HasNode reports whether a node with the given name exists.
func (g *Graph) HasNode(name string) bool { _, ok := g.nodes[name]; return ok }

// NodeKind returns the kind of the named node.
func (g *Graph) NodeKind(name string) (Kind, bool) {
	n, ok := g.nodes[name]
	if !ok {
		return 0, false
	}
	return n.kind, true
}

// Nodes returns the names of all nodes of the given kinds (every kind when
// none is given), sorted.
func (g *Graph) Nodes(kinds ...Kind) []string {
	var out []string
	for name, n := range g.nodes {
		if len(kinds) == 0 || containsKind(kinds, n.kind) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func containsKind(ks []Kind, k Kind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// Parents returns the names of the nodes the named node is assigned to,
// sorted (nil for an unknown node).
func (g *Graph) Parents(name string) []string {
	n, ok := g.nodes[name]
	if !ok {
		return nil
	}
	return names(n.parents)
}

// Children returns the names of the nodes assigned to the named node, sorted
// (nil for an unknown node).
func (g *Graph) Children(name string) []string {
	n, ok := g.nodes[name]
	if !ok {
		return nil
	}
	return names(n.children)
}

func names(ns []*node) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.name
	}
	return out
}

// Size reports the number of nodes, assignments, associations and prohibitions.
func (g *Graph) Size() (nodes, assignments, associations, prohibitions int) {
	return len(g.nodes), g.assignments, g.associations, len(g.prohibitions)
}

// IsAssigned reports whether child is directly assigned to parent.
func (g *Graph) IsAssigned(child, parent string) bool {
	c, ok := g.nodes[child]
	return ok && hasNode(c.parents, parent)
}

// Contains reports whether node is contained in container: node = container,
// or a path of assignments leads from node to container. Unknown names are
// contained in nothing.
func (g *Graph) Contains(node, container string) bool {
	n, ok := g.nodes[node]
	c, ok2 := g.nodes[container]
	if !ok || !ok2 {
		return false
	}
	return reaches(n, c)
}

// reaches reports whether to is reachable from from along assignments
// (reflexively). It visits each ancestor of from at most once.
func reaches(from, to *node) bool {
	if from == to {
		return true
	}
	seen := map[*node]bool{from: true}
	stack := []*node{from}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, p := range n.parents {
			if p == to {
				return true
			}
			if !seen[p] {
				seen[p] = true
				stack = append(stack, p)
			}
		}
	}
	return false
}

// CreatePolicyClass creates a policy class.
func (g *Graph) CreatePolicyClass(name string) error {
	return g.createNode(PolicyClass, name, nil)
}

// CreateUserAttribute creates a user attribute assigned to each of parents
// (user attributes or policy classes; at least one).
func (g *Graph) CreateUserAttribute(name string, parents ...string) error {
	return g.createNode(UserAttribute, name, parents)
}

// CreateObjectAttribute creates an object attribute assigned to each of
// parents (object attributes or policy classes; at least one).
func (g *Graph) CreateObjectAttribute(name string, parents ...string) error {
	return g.createNode(ObjectAttribute, name, parents)
}

// CreateUser creates a user assigned to each of parents (user attributes; at
// least one).
func (g *Graph) CreateUser(name string, parents ...string) error {
	return g.createNode(User, name, parents)
}

// CreateObject creates an object assigned to each of parents (object
// attributes; at least one).
func (g *Graph) CreateObject(name string, parents ...string) error {
	return g.createNode(Object, name, parents)
}

func (g *Graph) createNode(kind Kind, name string, parentNames []string) error {
	if err := validateName(kind.String(), name); err != nil {
		return err
	}
	if _, ok := g.nodes[name]; ok {
		return errorf(ErrExists, "node %q already exists", name)
	}
	if len(g.nodes) >= MaxNodes {
		return errorf(ErrLimit, "more than %d nodes", MaxNodes)
	}
	if kind == PolicyClass {
		if len(parentNames) != 0 {
			return errorf(ErrInvalid, "policy class %q cannot be assigned to anything", name)
		}
		if g.policyClasses >= MaxPolicyClasses {
			return errorf(ErrLimit, "more than %d policy classes", MaxPolicyClasses)
		}
	} else if len(parentNames) == 0 {
		return errorf(ErrInvalid, "%s %q must be assigned to at least one node", kind, name)
	}
	if len(parentNames) > maxParentsAtCreate {
		return errorf(ErrLimit, "node %q: more than %d parents at creation", name, maxParentsAtCreate)
	}
	if g.assignments+len(parentNames) > MaxAssignments {
		return errorf(ErrLimit, "more than %d assignments", MaxAssignments)
	}
	parents := make([]*node, 0, len(parentNames))
	for _, pn := range parentNames {
		p, ok := g.nodes[pn]
		if !ok {
			return errorf(ErrNotFound, "node %q does not exist", pn)
		}
		if !canAssign(kind, p.kind) {
			return errorf(ErrInvalid, "cannot assign %s %q to %s %q", kind, name, p.kind, pn)
		}
		if hasNode(parents, pn) {
			return errorf(ErrInvalid, "node %q: parent %q is named twice", name, pn)
		}
		parents = insertNode(parents, p)
	}
	n := &node{name: name, kind: kind, parents: parents}
	for _, p := range parents {
		p.children = insertNode(p.children, n)
	}
	g.nodes[name] = n
	g.assignments += len(parents)
	if kind == PolicyClass {
		g.policyClasses++
	}
	return nil
}

// DeleteNode deletes a node. It is refused (ErrInUse) while other nodes are
// assigned to it or while an association or prohibition names it: remove
// those first.
func (g *Graph) DeleteNode(name string) error {
	n, ok := g.nodes[name]
	if !ok {
		return errorf(ErrNotFound, "node %q does not exist", name)
	}
	switch {
	case len(n.children) > 0:
		return errorf(ErrInUse, "node %q still has %d node(s) assigned to it", name, len(n.children))
	case len(n.out) > 0 || len(n.in) > 0:
		return errorf(ErrInUse, "node %q is still named by %d association(s)", name, len(n.out)+len(n.in))
	case len(n.subjectOf) > 0 || n.condRefs > 0:
		return errorf(ErrInUse, "node %q is still named by a prohibition", name)
	}
	for _, p := range n.parents {
		p.children = removeNode(p.children, n)
	}
	g.assignments -= len(n.parents)
	if n.kind == PolicyClass {
		g.policyClasses--
	}
	delete(g.nodes, name)
	return nil
}

// Assign assigns child to parent. The kinds must fit (U->UA, UA->UA|PC,
// O->OA, OA->OA|PC), the assignment must not exist yet and must not close a
// cycle.
func (g *Graph) Assign(child, parent string) error {
	c, ok := g.nodes[child]
	if !ok {
		return errorf(ErrNotFound, "node %q does not exist", child)
	}
	p, ok := g.nodes[parent]
	if !ok {
		return errorf(ErrNotFound, "node %q does not exist", parent)
	}
	if !canAssign(c.kind, p.kind) {
		return errorf(ErrInvalid, "cannot assign %s %q to %s %q", c.kind, child, p.kind, parent)
	}
	if hasNode(c.parents, parent) {
		return errorf(ErrExists, "%q is already assigned to %q", child, parent)
	}
	if reaches(p, c) {
		return errorf(ErrCycle, "assigning %q to %q would create a cycle", child, parent)
	}
	if g.assignments >= MaxAssignments {
		return errorf(ErrLimit, "more than %d assignments", MaxAssignments)
	}
	c.parents = insertNode(c.parents, p)
	p.children = insertNode(p.children, c)
	g.assignments++
	return nil
}

// Deassign removes the assignment of child to parent. Removing a node's last
// assignment is refused (ErrInUse): assign it elsewhere first or delete it.
func (g *Graph) Deassign(child, parent string) error {
	c, ok := g.nodes[child]
	if !ok {
		return errorf(ErrNotFound, "node %q does not exist", child)
	}
	if !g.HasNode(parent) {
		return errorf(ErrNotFound, "node %q does not exist", parent)
	}
	i, ok := indexByName(c.parents, parent, nodeName)
	if !ok {
		return errorf(ErrNotFound, "%q is not assigned to %q", child, parent)
	}
	if len(c.parents) == 1 {
		return errorf(ErrInUse, "cannot remove the last assignment of %q", child)
	}
	p := c.parents[i]
	c.parents = removeAt(c.parents, i)
	p.children = removeNode(p.children, c)
	g.assignments--
	return nil
}

// ---- associations ----

// Association is a grant of rights from a user attribute (Source) to the
// nodes contained in a user or object attribute (Target).
type Association struct {
	Source string   `json:"source"`
	Target string   `json:"target"`
	Rights []string `json:"rights"` // sorted; or exactly [AllRights]
}

// Associate creates the association (ua, target, rights): ua must be a user
// attribute, target a user or object attribute, rights a non-empty set of
// declared rights or exactly [AllRights]. An association between the same
// pair must not exist yet (ErrExists): Dissociate it first to change its
// rights.
func (g *Graph) Associate(ua, target string, rights ...string) error {
	s, ok := g.nodes[ua]
	if !ok {
		return errorf(ErrNotFound, "node %q does not exist", ua)
	}
	t, ok := g.nodes[target]
	if !ok {
		return errorf(ErrNotFound, "node %q does not exist", target)
	}
	if s.kind != UserAttribute {
		return errorf(ErrInvalid, "association source %q is a %s, not a UA", ua, s.kind)
	}
	if t.kind != UserAttribute && t.kind != ObjectAttribute {
		return errorf(ErrInvalid, "association target %q is a %s, not a UA or OA", target, t.kind)
	}
	rs, err := g.normalizeRights("association "+quote(ua)+" -> "+quote(target), rights)
	if err != nil {
		return err
	}
	i, exists := indexByName(s.out, target, assocTargetName)
	if exists {
		return errorf(ErrExists, "association %q -> %q already exists", ua, target)
	}
	if g.associations >= MaxAssociations {
		return errorf(ErrLimit, "more than %d associations", MaxAssociations)
	}
	a := &association{source: s, target: t, rights: rs}
	s.out = insertAt(s.out, i, a)
	j, _ := indexByName(t.in, ua, assocSourceName)
	t.in = insertAt(t.in, j, a)
	g.associations++
	return nil
}

// Dissociate deletes the association between ua and target.
func (g *Graph) Dissociate(ua, target string) error {
	s, ok := g.nodes[ua]
	if !ok {
		return errorf(ErrNotFound, "node %q does not exist", ua)
	}
	i, ok := indexByName(s.out, target, assocTargetName)
	if !ok {
		return errorf(ErrNotFound, "association %q -> %q does not exist", ua, target)
	}
	t := s.out[i].target
	s.out = removeAt(s.out, i)
	j, _ := indexByName(t.in, ua, assocSourceName)
	t.in = removeAt(t.in, j)
	g.associations--
	return nil
}

// AssociationRights returns the rights of the association between ua and
// target, if it exists.
func (g *Graph) AssociationRights(ua, target string) ([]string, bool) {
	s, ok := g.nodes[ua]
	if !ok {
		return nil, false
	}
	i, ok := indexByName(s.out, target, assocTargetName)
	if !ok {
		return nil, false
	}
	return append([]string(nil), s.out[i].rights...), true
}

// Associations returns every association, sorted by source then target.
func (g *Graph) Associations() []Association {
	out := make([]Association, 0, g.associations)
	for _, name := range g.Nodes(UserAttribute) {
		for _, a := range g.nodes[name].out {
			out = append(out, Association{Source: name, Target: a.target.name, Rights: append([]string(nil), a.rights...)})
		}
	}
	return out
}

// ---- prohibitions ----

// ContainerCondition is one condition of a prohibition: a target meets it
// when it is contained in Container (Complement false) or not contained in
// it (Complement true).
type ContainerCondition struct {
	Container  string `json:"container"`
	Complement bool   `json:"complement"`
}

// Prohibition denies Rights to Subject (a user, or every user contained in a
// user attribute) on the targets that meet all (Intersection) or at least one
// (union) of Containers.
type Prohibition struct {
	Name         string               `json:"name"`
	Subject      string               `json:"subject"`
	Rights       []string             `json:"rights"` // sorted; or exactly [AllRights]
	Intersection bool                 `json:"intersection"`
	Containers   []ContainerCondition `json:"containers"` // sorted by container
}

// CreateProhibition creates a prohibition. The name must be unique among
// prohibitions; the subject must be a user or a user attribute; rights are
// declared rights or exactly [AllRights]; there must be 1 to
// MaxProhibitionContainers conditions on distinct existing nodes other than
// users. Rights and conditions are stored sorted.
func (g *Graph) CreateProhibition(p Prohibition) error {
	if err := validateName("prohibition", p.Name); err != nil {
		return err
	}
	if _, ok := g.prohibitions[p.Name]; ok {
		return errorf(ErrExists, "prohibition %q already exists", p.Name)
	}
	subj, ok := g.nodes[p.Subject]
	if !ok {
		return errorf(ErrNotFound, "prohibition %q: node %q does not exist", p.Name, p.Subject)
	}
	if subj.kind != User && subj.kind != UserAttribute {
		return errorf(ErrInvalid, "prohibition %q: subject %q is a %s, not a U or UA", p.Name, p.Subject, subj.kind)
	}
	rs, err := g.normalizeRights("prohibition "+quote(p.Name), p.Rights)
	if err != nil {
		return err
	}
	if len(p.Containers) == 0 {
		return errorf(ErrInvalid, "prohibition %q has no container condition", p.Name)
	}
	if len(p.Containers) > MaxProhibitionContainers {
		return errorf(ErrLimit, "prohibition %q has more than %d container conditions", p.Name, MaxProhibitionContainers)
	}
	conds := make([]condition, 0, len(p.Containers))
	for _, cc := range p.Containers {
		c, ok := g.nodes[cc.Container]
		if !ok {
			return errorf(ErrNotFound, "prohibition %q: node %q does not exist", p.Name, cc.Container)
		}
		if c.kind == User {
			return errorf(ErrInvalid, "prohibition %q: container %q is a user", p.Name, cc.Container)
		}
		i, dup := indexByName(conds, cc.Container, conditionContainer)
		if dup {
			return errorf(ErrInvalid, "prohibition %q: container %q is named twice", p.Name, cc.Container)
		}
		conds = insertAt(conds, i, condition{container: c, complement: cc.Complement})
	}
	if len(g.prohibitions) >= MaxProhibitions {
		return errorf(ErrLimit, "more than %d prohibitions", MaxProhibitions)
	}
	pr := &prohibition{name: p.Name, subject: subj, rights: rs, intersection: p.Intersection, conds: conds}
	g.prohibitions[p.Name] = pr
	i, _ := indexByName(subj.subjectOf, p.Name, prohibitionName)
	subj.subjectOf = insertAt(subj.subjectOf, i, pr)
	for _, c := range conds {
		c.container.condRefs++
	}
	return nil
}

// DeleteProhibition deletes the named prohibition.
func (g *Graph) DeleteProhibition(name string) error {
	pr, ok := g.prohibitions[name]
	if !ok {
		return errorf(ErrNotFound, "prohibition %q does not exist", name)
	}
	i, _ := indexByName(pr.subject.subjectOf, name, prohibitionName)
	pr.subject.subjectOf = removeAt(pr.subject.subjectOf, i)
	for _, c := range pr.conds {
		c.container.condRefs--
	}
	delete(g.prohibitions, name)
	return nil
}

// HasProhibition reports whether a prohibition with that name exists.
func (g *Graph) HasProhibition(name string) bool { _, ok := g.prohibitions[name]; return ok }

// Prohibition returns the named prohibition.
func (g *Graph) Prohibition(name string) (Prohibition, bool) {
	pr, ok := g.prohibitions[name]
	if !ok {
		return Prohibition{}, false
	}
	return pr.export(), true
}

// Prohibitions returns every prohibition, sorted by name.
func (g *Graph) Prohibitions() []Prohibition {
	keys := make([]string, 0, len(g.prohibitions))
	for k := range g.prohibitions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]Prohibition, len(keys))
	for i, k := range keys {
		out[i] = g.prohibitions[k].export()
	}
	return out
}

func (pr *prohibition) export() Prohibition {
	p := Prohibition{
		Name:         pr.name,
		Subject:      pr.subject.name,
		Rights:       append([]string(nil), pr.rights...),
		Intersection: pr.intersection,
		Containers:   make([]ContainerCondition, len(pr.conds)),
	}
	for i, c := range pr.conds {
		p.Containers[i] = ContainerCondition{Container: c.container.name, Complement: c.complement}
	}
	return p
}

func quote(s string) string { return `"` + s + `"` }

// ---- copies and transactions ----

// Clone returns a deep copy of g.
func (g *Graph) Clone() *Graph {
	c := &Graph{
		rights:        append([]string(nil), g.rights...),
		nodes:         make(map[string]*node, len(g.nodes)),
		prohibitions:  make(map[string]*prohibition, len(g.prohibitions)),
		policyClasses: g.policyClasses,
		assignments:   g.assignments,
		associations:  g.associations,
	}
	for name, n := range g.nodes {
		c.nodes[name] = &node{name: name, kind: n.kind, condRefs: n.condRefs}
	}
	remap := func(ns []*node) []*node {
		out := make([]*node, len(ns))
		for i, n := range ns {
			out[i] = c.nodes[n.name]
		}
		return out
	}
	for name, n := range g.nodes {
		cn := c.nodes[name]
		cn.parents = remap(n.parents)
		cn.children = remap(n.children)
		for _, a := range n.out {
			ca := &association{source: cn, target: c.nodes[a.target.name], rights: append([]string(nil), a.rights...)}
			cn.out = append(cn.out, ca)
		}
	}
	// Second pass: a target's incoming list must point at the same
	// association values as the sources' outgoing lists.
	for name, n := range g.nodes {
		cn := c.nodes[name]
		cn.in = make([]*association, len(n.in))
		for i, a := range n.in {
			src := c.nodes[a.source.name]
			j, _ := indexByName(src.out, name, assocTargetName)
			cn.in[i] = src.out[j]
		}
	}
	for name, p := range g.prohibitions {
		cp := &prohibition{name: name, subject: c.nodes[p.subject.name], rights: append([]string(nil), p.rights...), intersection: p.intersection}
		cp.conds = make([]condition, len(p.conds))
		for i, cd := range p.conds {
			cp.conds[i] = condition{container: c.nodes[cd.container.name], complement: cd.complement}
		}
		c.prohibitions[name] = cp
	}
	for name, n := range g.nodes {
		cn := c.nodes[name]
		cn.subjectOf = make([]*prohibition, len(n.subjectOf))
		for i, p := range n.subjectOf {
			cn.subjectOf[i] = c.prohibitions[p.name]
		}
	}
	return c
}

// Update applies fn to a copy of g and, only if fn returns nil, makes the
// copy g's content: a sequence of mutations either all happen or none does.
// fn must not keep the *Graph it is given.
func (g *Graph) Update(fn func(tx *Graph) error) error {
	tx := g.Clone()
	if err := fn(tx); err != nil {
		return err
	}
	*g = *tx
	return nil
}
