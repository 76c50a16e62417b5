package dashboard

import (
	"errors"
	"net/http"
	"slices"
	"strconv"

	"github.com/blossom-ledger/blossom/internal/governance"
	"github.com/blossom-ledger/blossom/internal/lifecycle"
)

// adminPage is the data of admin.html: the channel's chaincode
// definitions with the upgrades members approved, and the pending
// governance proposals.
type adminPage struct {
	Notices     notices
	Definitions []definitionRow
	Proposals   []governance.Summary
}

// definitionRow is a committed chaincode definition and the definitions
// members approved for its next sequence.
type definitionRow struct {
	Committed lifecycle.Definition
	Pending   []pendingDefinition
}

// pendingDefinition is one definition approved by Members (the same
// definition, exactly); Own: the user's member is among them.
type pendingDefinition struct {
	Definition lifecycle.Definition
	Members    []string
	Own        bool
}

func (d *Dashboard) lifecycleCall(function string, args ...string) call {
	return call{chaincode: lifecycle.Name, function: "lifecycle:" + function, args: args}
}

// approvals are the definitions members approved for name at sequence.
func (d *Dashboard) approvals(s *session, name string, sequence uint64) (map[string]*lifecycle.Definition, outcome) {
	var m map[string]*lifecycle.Definition
	o := d.query(s, d.lifecycleCall("QueryApprovals", name, strconv.FormatUint(sequence, 10)), &m)
	return m, o
}

// admin serves /admin to member administrators.
func (d *Dashboard) admin(w http.ResponseWriter, r *http.Request, s *session) {
	if !d.guard(w, r, s, "/admin") {
		return
	}
	pg := adminPage{}
	var defs []lifecycle.Definition
	if o := d.query(s, d.lifecycleCall("ListDefinitions"), &defs); !o.OK {
		pg.Notices = append(pg.Notices, o.Summary())
	}
	for _, def := range defs {
		row := definitionRow{Committed: def}
		approved, o := d.approvals(s, def.Name, def.Sequence+1)
		if !o.OK {
			pg.Notices = append(pg.Notices, o.Summary())
		}
		row.Pending = groupApprovals(approved, s.MSPID)
		pg.Definitions = append(pg.Definitions, row)
	}
	if o := d.query(s, call{chaincode: governance.Name, function: "governance:List"}, &pg.Proposals); !o.OK {
		pg.Notices = append(pg.Notices, o.Summary())
	}
	d.render(w, r, s, http.StatusOK, "admin", pg)
}

// groupApprovals groups members by the exact definition they approved.
func groupApprovals(approved map[string]*lifecycle.Definition, own string) []pendingDefinition {
	members := make([]string, 0, len(approved))
	for m := range approved {
		members = append(members, m)
	}
	slices.Sort(members)
	var out []pendingDefinition
	keys := map[string]int{}
	for _, m := range members {
		def := approved[m]
		if def == nil {
			continue
		}
		canon, err := def.Canonical()
		if err != nil {
			continue
		}
		i, ok := keys[string(canon)]
		if !ok {
			i = len(out)
			keys[string(canon)] = i
			out = append(out, pendingDefinition{Definition: *def})
		}
		out[i].Members = append(out[i].Members, m)
		out[i].Own = out[i].Own || m == own
	}
	return out
}

// approveDefinition approves, for the user's member, exactly the
// definition another member approved (form: name, sequence, from).
func (d *Dashboard) approveDefinition(s *session, f form) ([]outcome, string, error) {
	v, err := f.required(labels, "name", "sequence", "from")
	if err != nil {
		return fail(err)
	}
	seq, err := strconv.ParseUint(v[1], 10, 64)
	if err != nil || seq == 0 {
		return fail(errors.New("the sequence must be a whole number greater than 0"))
	}
	approved, o := d.approvals(s, v[0], seq)
	if !o.OK {
		return []outcome{o}, "/admin", nil
	}
	def := approved[v[2]]
	if def == nil {
		return fail(errors.New(v[2] + " has not approved a definition of " + v[0] + " at sequence " + v[1]))
	}
	canon, err := def.Canonical()
	if err != nil {
		return fail(err)
	}
	return []outcome{d.submit(s, d.lifecycleCall("ApproveForMyOrg", string(canon)))}, "/admin", nil
}
