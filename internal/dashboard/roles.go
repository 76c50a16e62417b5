package dashboard

import (
	"github.com/blossom-ledger/blossom/internal/gateway/auth"
	"github.com/blossom-ledger/blossom/internal/pki"
)

// The blossom.role values of BloSS@M users (docs/blossom.md).
const (
	RoleAO   = "Authorizing Official"
	RoleACQ  = "Acquisition Officer"
	RoleLO   = "License Owner"
	RoleTPOC = "Technical Point of Contact"
)

// user is the signed-in user as the pages see it.
type user struct {
	Name  string // enrollment ID
	Email string
	Role  string
	MSPID string
	// SP: the user's member is the service provider.
	SP bool
	// Admin: the user's ledger identity is an administrator of its
	// member (channel governance and chaincode definitions).
	MemberAdmin bool
}

func (d *Dashboard) userOf(p *auth.Principal) user {
	return user{Name: p.EnrollmentID, Email: p.Email, Role: p.Role, MSPID: p.MSPID, SP: p.MSPID == d.cfg.AdminMSP,
		MemberAdmin: p.Type == pki.RoleAdmin}
}

// IsMemberAdmin: a member administrator (for action tables).
func (u user) IsMemberAdmin() bool { return u.MemberAdmin }

// AO: an Authorizing Official (governance).
func (u user) AO() bool { return u.Role == RoleAO }

// Admin: the service provider's Authorizing Official (the BloSS@M admin).
func (u user) Admin() bool { return u.SP && u.Role == RoleAO }

// TPOC: an agency's Technical Point of Contact.
func (u user) TPOC() bool { return !u.SP && u.Role == RoleTPOC }

// AgencyACQ: an agency's Acquisition Officer (approves orders).
func (u user) AgencyACQ() bool { return !u.SP && u.Role == RoleACQ }

// SPACQ: the service provider's Acquisition Officer (quotes, allocation,
// returns).
func (u user) SPACQ() bool { return u.SP && u.Role == RoleACQ }

// LO: the service provider's License Owner (the catalog).
func (u user) LO() bool { return u.SP && u.Role == RoleLO }

// Agency: an agency user of the asset chaincode.
func (u user) Agency() bool { return u.TPOC() || u.AgencyACQ() }

// AssetUser: any role the asset chaincode accepts.
func (u user) AssetUser() bool { return u.TPOC() || u.AgencyACQ() || u.SPACQ() || u.LO() }

// SPReader: sees asset details and license histories.
func (u user) SPReader() bool { return u.SPACQ() || u.LO() }

// navItem is one menu entry.
type navItem struct {
	Path, Label string
}

// navFor is the menu of u's role: only what u can use.
func navFor(u user) []navItem {
	nav := []navItem{{"/", "Home"}}
	if u.AssetUser() {
		nav = append(nav, navItem{"/catalog", "Catalog"}, navItem{"/orders", "Orders"})
	}
	if u.Agency() {
		nav = append(nav, navItem{"/licenses", "My licenses"})
	}
	if u.AO() {
		nav = append(nav, navItem{"/governance", "Onboarding and votes"})
	}
	nav = append(nav, navItem{"/audit", "Audit"}, navItem{"/network", "Consortium"})
	if u.Role != "" || u.MemberAdmin {
		// The gateway lets administrators and identities with a role
		// read the channel.
		nav = append(nav, navItem{"/ledger", "Ledger"})
	}
	if u.MemberAdmin {
		nav = append(nav, navItem{"/admin", "Administration"})
	}
	return nav
}

// pageAllowed says whether u may open a page (by its menu path).
func pageAllowed(u user, path string) bool {
	for _, n := range navFor(u) {
		if n.Path == path {
			return true
		}
	}
	return false
}
