package blossompolicy

import (
	"fmt"
	"sort"

	"github.com/blossom-ledger/blossom/ngac"
)

// AuthorizationPolicy is the authorization chaincode's NGAC policy (spec
// §4.2) bound to the consortium's admin MSP. Methods that change the policy
// are atomic: on error the policy is unchanged. It is not safe for
// concurrent mutation.
type AuthorizationPolicy struct {
	adminMSP string
	g        *ngac.Graph
}

// Caller is the identity of an authorization-chaincode caller, taken from
// the client certificate: its MSP ID and its blossom.role attribute ("" when
// the attribute is missing).
type Caller struct {
	MSPID string
	Role  string
}

// StaticAuthorizationGraph returns the static part of the authorization
// policy (spec §4.2.1) for the given admin MSP, without any account.
func StaticAuthorizationGraph(adminMSP string) (*ngac.Graph, error) {
	if err := ValidateMemberID(adminMSP); err != nil {
		return nil, err
	}
	b := &builder{g: ngac.New()}
	b.rights(AuthorizationPrivileges()...)
	b.pc(PCAdminMSP)
	b.pc(PCRBAC)
	b.pc(PCStatus)
	b.pc(PCVotes)

	b.oa(adminMSP, PCAdminMSP) // unused by any decision

	b.ua(RoleAuthorizingOfficial, PCRBAC)
	b.ua(UABlossomAdmin, RoleAuthorizingOfficial)
	b.oa(OARBACBlossomTarget, PCRBAC)
	b.oa(OARBACAccounts, PCRBAC)
	b.oa(OARBACVotes, PCRBAC)

	b.ua(UAAuthorized, PCStatus)
	b.ua(UAPending, PCStatus)
	b.ua(UAUnauthorized, UAPending)
	b.oa(OAStatusTarget, PCStatus)
	b.oa(OAStatusAccounts, PCStatus)
	b.oa(OAStatusVotes, PCStatus)

	b.oa(BlossomTarget, OARBACBlossomTarget, OAStatusTarget)
	b.oa(OAAllVotes, PCVotes)

	b.assoc(UABlossomAdmin, OARBACBlossomTarget, RightBootstrap, RightUpdateMOU)
	b.assoc(RoleAuthorizingOfficial, BlossomTarget, RightGetMOU, RightSignMOU, RightJoin)
	b.assoc(RoleAuthorizingOfficial, OARBACVotes, RightVote, RightCertifyVote, RightInitiateVote)
	b.assoc(RoleAuthorizingOfficial, OARBACAccounts, RightInitiateVote, RightSubmitFeedback, RightReadATO, RightJoin)
	b.assoc(UAAuthorized, OAStatusTarget, ngac.AllRights)
	b.assoc(UAAuthorized, OAStatusAccounts, ngac.AllRights)
	b.assoc(UAAuthorized, OAStatusVotes, ngac.AllRights)
	b.assoc(UAPending, OAStatusAccounts, RightSubmitFeedback, RightReadATO, RightWriteATO)
	b.assoc(UABlossomAdmin, OAAllVotes, RightCertifyVote)
	b.assoc(RoleAuthorizingOfficial, OAAllVotes, RightVote, RightInitiateVote)
	if b.err != nil {
		return nil, fmt.Errorf("building the static authorization policy: %w", b.err)
	}
	return b.g, nil
}

// NewAuthorizationPolicy returns the policy Bootstrap stores (spec §4.2.3):
// the static part, then SignMOU(adminMSP) and UpdateAccountStatus(adminMSP,
// AUTHORIZED). Only the admin account exists, AUTHORIZED.
func NewAuthorizationPolicy(adminMSP string) (*AuthorizationPolicy, error) {
	g, err := StaticAuthorizationGraph(adminMSP)
	if err != nil {
		return nil, err
	}
	p := &AuthorizationPolicy{adminMSP: adminMSP, g: g}
	if _, err := p.SignMOU(adminMSP); err != nil {
		return nil, err
	}
	if err := p.UpdateAccountStatus(adminMSP, Authorized); err != nil {
		return nil, err
	}
	return p, nil
}

// LoadAuthorizationPolicy decodes the policy stored under PolicyKey (strict
// canonical JSON, see ngac.Decode) and checks that it is an authorization
// policy built for adminMSP: the rights are those of AuthorizationPrivileges
// and the static nodes exist with their kinds (ErrWrongPolicy otherwise).
func LoadAuthorizationPolicy(adminMSP string, data []byte) (*AuthorizationPolicy, error) {
	if err := ValidateMemberID(adminMSP); err != nil {
		return nil, err
	}
	g, err := ngac.Decode(data)
	if err != nil {
		return nil, err
	}
	want := AuthorizationPrivileges()
	sort.Strings(want)
	if got := g.ResourceRights(); !equalStrings(got, want) {
		return nil, specErrorf(ErrWrongPolicy, "stored policy declares rights %q, want %q", got, want)
	}
	static := []struct {
		name string
		kind ngac.Kind
	}{
		{PCAdminMSP, ngac.PolicyClass}, {PCRBAC, ngac.PolicyClass}, {PCStatus, ngac.PolicyClass}, {PCVotes, ngac.PolicyClass},
		{adminMSP, ngac.ObjectAttribute},
		{RoleAuthorizingOfficial, ngac.UserAttribute}, {UABlossomAdmin, ngac.UserAttribute},
		{UAAuthorized, ngac.UserAttribute}, {UAPending, ngac.UserAttribute}, {UAUnauthorized, ngac.UserAttribute},
		{OARBACBlossomTarget, ngac.ObjectAttribute}, {OARBACAccounts, ngac.ObjectAttribute}, {OARBACVotes, ngac.ObjectAttribute},
		{OAStatusTarget, ngac.ObjectAttribute}, {OAStatusAccounts, ngac.ObjectAttribute}, {OAStatusVotes, ngac.ObjectAttribute},
		{BlossomTarget, ngac.ObjectAttribute}, {OAAllVotes, ngac.ObjectAttribute},
	}
	for _, s := range static {
		if k, ok := g.NodeKind(s.name); !ok || k != s.kind {
			return nil, specErrorf(ErrWrongPolicy, "stored policy lacks %s %q (is it the policy of admin MSP %q?)", s.kind, s.name, adminMSP)
		}
	}
	if !g.IsAssigned(adminMSP, PCAdminMSP) {
		return nil, specErrorf(ErrWrongPolicy, "stored policy is not the policy of admin MSP %q", adminMSP)
	}
	return &AuthorizationPolicy{adminMSP: adminMSP, g: g}, nil
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Encode returns the canonical JSON to store under PolicyKey.
func (p *AuthorizationPolicy) Encode() ([]byte, error) { return p.g.Encode() }

// AdminMSP returns the admin MSP the policy is bound to.
func (p *AuthorizationPolicy) AdminMSP() string { return p.adminMSP }

// Graph returns a copy of the policy graph, for inspection.
func (p *AuthorizationPolicy) Graph() *ngac.Graph { return p.g.Clone() }

// HasAccount reports whether member m has signed the MOU, i.e. its account
// nodes exist in the policy.
func (p *AuthorizationPolicy) HasAccount(m string) bool {
	if ValidateMemberID(m) != nil {
		return false
	}
	k, ok := p.g.NodeKind(AccountUsers(m))
	return ok && k == ngac.UserAttribute
}

// AccountStatus returns member m's status as recorded in the policy.
func (p *AuthorizationPolicy) AccountStatus(m string) (Status, error) {
	if !p.HasAccount(m) {
		return "", specErrorf(ErrNoAccount, "account %s does not exist", m)
	}
	users := AccountUsers(m)
	switch {
	case p.g.IsAssigned(users, UAAuthorized):
		return Authorized, nil
	case p.g.IsAssigned(users, UAUnauthorized):
		return Unauthorized, nil
	case p.g.IsAssigned(users, UAPending):
		return Pending, nil
	}
	return "", specErrorf(ErrWrongPolicy, "account %s has no status in the policy", m)
}

// SignMOU is the policy side of mou:SignMOU by member m (spec §4.2.4
// signMOU): if m has no account nodes yet it creates those of spec §4.2.2
// with status PENDING and both prohibitions, and reports created = true;
// otherwise it changes nothing.
func (p *AuthorizationPolicy) SignMOU(m string) (created bool, err error) {
	if err := ValidateMemberID(m); err != nil {
		return false, err
	}
	if p.HasAccount(m) {
		return false, nil
	}
	err = p.g.Update(func(g *ngac.Graph) error {
		b := &builder{g: g}
		users, account, voteAttr := AccountUsers(m), AccountAttribute(m), VoteAttribute(m)
		b.ua(users, UAPending)
		b.oa(account, OARBACAccounts, OAStatusAccounts)
		b.o(AccountTarget(m), account)
		b.assoc(users, account, RightWriteATO, RightSubmitFeedback, RightReadATO)
		b.ua(VoteInitiators(m), PCVotes)
		b.oa(voteAttr, OARBACVotes, OAStatusVotes, OAAllVotes)
		b.o(VoteTarget(m), voteAttr)
		b.assoc(users, voteAttr, RightVote)
		b.assoc(VoteInitiators(m), voteAttr, RightCertifyVote)
		b.prohibit(exceptSelfProhibition(m))
		b.prohibit(noSelfVoteProhibition(m))
		return b.err
	})
	if err != nil {
		return false, fmt.Errorf("creating the policy of account %s: %w", m, err)
	}
	return true, nil
}

// exceptSelfProhibition: member m's callers may not read_ato or
// submit_feedback on targets in Status/accounts that are not in m's account.
func exceptSelfProhibition(m string) ngac.Prohibition {
	return ngac.Prohibition{
		Name:         ExceptSelfProhibition(m),
		Subject:      AccountUsers(m),
		Rights:       []string{RightSubmitFeedback, RightReadATO},
		Intersection: true,
		Containers: []ngac.ContainerCondition{
			{Container: OAStatusAccounts},
			{Container: AccountAttribute(m), Complement: true},
		},
	}
}

// noSelfVoteProhibition: member m's callers may not initiate_vote on targets
// in Status/accounts that are in m's own account.
func noSelfVoteProhibition(m string) ngac.Prohibition {
	return ngac.Prohibition{
		Name:         NoSelfVoteProhibition(m),
		Subject:      AccountUsers(m),
		Rights:       []string{RightInitiateVote},
		Intersection: true,
		Containers: []ngac.ContainerCondition{
			{Container: OAStatusAccounts},
			{Container: AccountAttribute(m)},
		},
	}
}

// InitiateVote is the policy side of vote:InitiateVote (spec §4.2.4
// initiateVote): member initiator's callers become certifiers of the vote on
// target. Both accounts must exist.
func (p *AuthorizationPolicy) InitiateVote(initiator, target string) error {
	for _, m := range []string{initiator, target} {
		if !p.HasAccount(m) {
			return specErrorf(ErrNoAccount, "account %s does not exist", m)
		}
	}
	if p.g.IsAssigned(AccountUsers(initiator), VoteInitiators(target)) {
		return nil
	}
	return p.g.Assign(AccountUsers(initiator), VoteInitiators(target))
}

// CertifyVote is the policy side of vote:CertifyOngoingVote (spec §4.2.4
// certifyVote, with R-04): every member is removed from target's initiators
// and, if the vote passed, target's status becomes statusChange.
func (p *AuthorizationPolicy) CertifyVote(target string, passed bool, statusChange Status) error {
	if !p.HasAccount(target) {
		return specErrorf(ErrNoAccount, "account %s does not exist", target)
	}
	if passed {
		if _, err := ParseStatus(string(statusChange)); err != nil {
			return err
		}
	}
	return p.g.Update(func(g *ngac.Graph) error {
		tx := &AuthorizationPolicy{adminMSP: p.adminMSP, g: g}
		if err := tx.removeInitiators(target); err != nil {
			return err
		}
		if passed {
			return tx.updateAccountStatus(target, statusChange)
		}
		return nil
	})
}

// AbortVote is the policy side of vote:AbortOngoingVote: like a
// failed certification, every member is removed from target's initiators.
func (p *AuthorizationPolicy) AbortVote(target string) error {
	if !p.HasAccount(target) {
		return specErrorf(ErrNoAccount, "account %s does not exist", target)
	}
	return p.g.Update(func(g *ngac.Graph) error {
		return (&AuthorizationPolicy{adminMSP: p.adminMSP, g: g}).removeInitiators(target)
	})
}

func (p *AuthorizationPolicy) removeInitiators(target string) error {
	initiators := VoteInitiators(target)
	for _, member := range p.g.Children(initiators) {
		if err := p.g.Deassign(member, initiators); err != nil {
			return err
		}
	}
	return nil
}

// UpdateAccountStatus is spec §4.2.4 updateAccountStatus: member m's users
// move to the status group of status only; the "read_ato/submit_feedback
// only on self" prohibition exists exactly while m is not AUTHORIZED; then
// the admin member's self-vote exception is recomputed: while no account is
// AUTHORIZED the admin's callers may initiate a vote on any account,
// including the admin's own, otherwise not on the admin's own.
func (p *AuthorizationPolicy) UpdateAccountStatus(m string, status Status) error {
	if !p.HasAccount(m) {
		return specErrorf(ErrNoAccount, "account %s does not exist", m)
	}
	if _, err := ParseStatus(string(status)); err != nil {
		return err
	}
	return p.g.Update(func(g *ngac.Graph) error {
		return (&AuthorizationPolicy{adminMSP: p.adminMSP, g: g}).updateAccountStatus(m, status)
	})
}

func (p *AuthorizationPolicy) updateAccountStatus(m string, status Status) error {
	g, users, group := p.g, AccountUsers(m), statusUA(status)
	if !g.IsAssigned(users, group) {
		if err := g.Assign(users, group); err != nil {
			return err
		}
	}
	for _, other := range []string{UAAuthorized, UAPending, UAUnauthorized} {
		if other != group && g.IsAssigned(users, other) {
			if err := g.Deassign(users, other); err != nil {
				return err
			}
		}
	}
	exceptSelf := ExceptSelfProhibition(m)
	switch {
	case status == Authorized && g.HasProhibition(exceptSelf):
		if err := g.DeleteProhibition(exceptSelf); err != nil {
			return err
		}
	case status != Authorized && !g.HasProhibition(exceptSelf):
		if err := g.CreateProhibition(exceptSelfProhibition(m)); err != nil {
			return err
		}
	}
	return p.recomputeAdminSelfVote()
}

// recomputeAdminSelfVote applies the last step of updateAccountStatus.
func (p *AuthorizationPolicy) recomputeAdminSelfVote() error {
	g, admin := p.g, p.adminMSP
	adminUsers := AccountUsers(admin)
	if !g.HasNode(adminUsers) {
		return nil // the admin has not signed the MOU yet
	}
	noSelfVote := NoSelfVoteProhibition(admin)
	_, associated := g.AssociationRights(adminUsers, OAStatusAccounts)
	if len(g.Children(UAAuthorized)) == 0 {
		if !associated {
			if err := g.Associate(adminUsers, OAStatusAccounts, RightInitiateVote); err != nil {
				return err
			}
		}
		if g.HasProhibition(noSelfVote) {
			return g.DeleteProhibition(noSelfVote)
		}
		return nil
	}
	if associated {
		if err := g.Dissociate(adminUsers, OAStatusAccounts); err != nil {
			return err
		}
	}
	if !g.HasProhibition(noSelfVote) {
		return g.CreateProhibition(noSelfVoteProhibition(admin))
	}
	return nil
}

// requiresAccount reports whether a right's check requires the caller's
// account to exist (spec §2.1 step 3: every check except SignMOU's).
func requiresAccount(right string) bool { return right != RightSignMOU }

// subject checks the caller (spec §2.1 steps 2 and 3) and returns its user
// attributes (spec §4.1): Authorizing Official, Blossom Admin when its MSP is
// the admin MSP, and "<MSP> users" when its account exists.
func (p *AuthorizationPolicy) subject(c Caller, needAccount bool) (ngac.Subject, error) {
	if c.Role != RoleAuthorizingOfficial {
		return ngac.Subject{}, specErrorf(ErrUnknownRole, "unknown user role: %s", c.Role)
	}
	hasAccount := p.HasAccount(c.MSPID)
	if needAccount && !hasAccount {
		return ngac.Subject{}, specErrorf(ErrNoAccount, "account %s does not exist", c.MSPID)
	}
	attrs := []string{RoleAuthorizingOfficial}
	if c.MSPID == p.adminMSP {
		attrs = append(attrs, UABlossomAdmin)
	}
	if hasAccount {
		attrs = append(attrs, AccountUsers(c.MSPID))
	}
	return ngac.AttributeSubject(attrs...), nil
}

func (p *AuthorizationPolicy) checkObject(object string) error {
	if k, ok := p.g.NodeKind(object); !ok || k == ngac.PolicyClass {
		return specErrorf(ErrUnknownObject, "object %q does not exist", object)
	}
	return nil
}

// Decide answers whether caller c may exercise right on object (BlossomTarget,
// AccountTarget(T) or VoteTarget(T)), with the checks of spec §2.1 in order:
//
//  1. the role must be "Authorizing Official", else ErrUnknownRole
//     "unknown user role: <role>";
//  2. for every right but sign_mou the caller's account must exist, else
//     ErrNoAccount "account <MSP> does not exist";
//  3. the object must exist, else ErrUnknownObject;
//  4. the NGAC decision (false, nil when denied: the chaincode reports its
//     function-specific "cid is not authorized ..." message).
func (p *AuthorizationPolicy) Decide(c Caller, right, object string) (bool, error) {
	if !p.g.HasResourceRight(right) {
		return false, fmt.Errorf("blossompolicy: %q is not an authorization right", right)
	}
	s, err := p.subject(c, requiresAccount(right))
	if err != nil {
		return false, err
	}
	if err := p.checkObject(object); err != nil {
		return false, err
	}
	return p.g.Decide(s, object, right)
}

// Privileges returns the rights for which Decide(c, right, object) would
// return true, sorted. It checks the role and the object like Decide; a
// caller without account gets only the rights that do not require one.
func (p *AuthorizationPolicy) Privileges(c Caller, object string) ([]string, error) {
	s, err := p.subject(c, false)
	if err != nil {
		return nil, err
	}
	if err := p.checkObject(object); err != nil {
		return nil, err
	}
	rs, err := p.g.Privileges(s, object)
	if err != nil {
		return nil, err
	}
	hasAccount := p.HasAccount(c.MSPID)
	out := rs[:0]
	for _, r := range rs {
		if hasAccount || !requiresAccount(r) {
			out = append(out, r)
		}
	}
	return out, nil
}
