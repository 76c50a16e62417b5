package blossompolicy

import (
	"errors"
	"fmt"
)

// PolicyKey is the world-state key under which the authorization chaincode
// keeps its policy (spec §1.4).
const PolicyKey = "policy"

// Roles (values of the blossom.role certificate attribute, spec §5.1).
const (
	RoleAuthorizingOfficial     = "Authorizing Official"
	RoleLicenseOwner            = "License Owner"
	RoleAcquisitionOfficer      = "Acquisition Officer"
	RoleTechnicalPointOfContact = "Technical Point of Contact"
)

// Status is an account status (spec §1.1). PENDING and UNAUTHORIZED grant
// the same rights.
type Status string

const (
	Authorized   Status = "AUTHORIZED"
	Pending      Status = "PENDING"
	Unauthorized Status = "UNAUTHORIZED"
)

// ParseStatus parses an account status case-sensitively; any other string
// gives the reference error "unknown Status: <s>" (ErrUnknownStatus).
func ParseStatus(s string) (Status, error) {
	switch st := Status(s); st {
	case Authorized, Pending, Unauthorized:
		return st, nil
	}
	return "", specErrorf(ErrUnknownStatus, "unknown Status: %s", s)
}

// Authorization chaincode resource rights (spec §4.2.1).
const (
	RightBootstrap      = "bootstrap"
	RightUpdateMOU      = "update_mou"
	RightGetMOU         = "get_mou"
	RightSignMOU        = "sign_mou"
	RightJoin           = "join"
	RightWriteATO       = "write_ato"
	RightReadATO        = "read_ato"
	RightSubmitFeedback = "submit_feedback"
	RightInitiateVote   = "initiate_vote"
	RightVote           = "vote"
	RightCertifyVote    = "certify_vote"
)

// AuthorizationPrivileges returns the authorization chaincode's rights in the
// order of ngac:GetAllPrivileges (spec §2.2.6).
func AuthorizationPrivileges() []string {
	return []string{RightBootstrap, RightUpdateMOU, RightGetMOU, RightSignMOU, RightJoin, RightWriteATO,
		RightReadATO, RightSubmitFeedback, RightInitiateVote, RightVote, RightCertifyVote}
}

// AuthorizationRoles returns the result of the authorization chaincode's
// ngac:GetAllRoles (spec §2.2.6).
func AuthorizationRoles() []string { return []string{RoleAuthorizingOfficial} }

// Asset chaincode resource rights (spec §4.4).
const (
	RightWriteAsset      = "write_asset"
	RightReadAssets      = "read_assets"
	RightReadAssetDetail = "read_asset_detail"
	RightInitiateOrder   = "initiate_order"
	RightApproveOrder    = "approve_order"
	RightDenyOrder       = "deny_order"
	RightReadOrder       = "read_order"
	RightAllocateLicense = "allocate_license"
	RightReturnLicense   = "return_license"
	RightReadLicense     = "read_license"
	RightWriteSWID       = "write_swid"
	RightReadSWID        = "read_swid"
)

// maxMemberIDLen bounds member IDs (MSP IDs).
const maxMemberIDLen = 128

// AssetPrivileges returns the asset chaincode's rights in the order of its
// ngac:GetAllPrivileges (spec §2.3.4).
func AssetPrivileges() []string {
	return []string{RightWriteAsset, RightReadAssets, RightReadAssetDetail, RightInitiateOrder, RightApproveOrder,
		RightDenyOrder, RightReadOrder, RightAllocateLicense, RightReturnLicense, RightReadLicense,
		RightWriteSWID, RightReadSWID}
}

// AssetRoles returns the result of the asset chaincode's ngac:GetAllRoles
// (spec §2.3.4).
func AssetRoles() []string {
	return []string{RoleAcquisitionOfficer, RoleTechnicalPointOfContact, RoleLicenseOwner}
}

// Static node names of the authorization policy (spec §4.2.1).
const (
	PCAdminMSP          = "ADMIN_MSP_PC"
	PCRBAC              = "RBAC"
	PCStatus            = "Status"
	PCVotes             = "Votes"
	UABlossomAdmin      = "Blossom Admin"
	UAAuthorized        = "authorized"
	UAPending           = "pending"
	UAUnauthorized      = "unauthorized"
	OARBACBlossomTarget = "RBAC/blossom_target"
	OAStatusTarget      = "Status/blossom_target"
	OARBACAccounts      = "RBAC/accounts"
	OAStatusAccounts    = "Status/accounts"
	OARBACVotes         = "RBAC/votes"
	OAStatusVotes       = "Status/votes"
	OAAllVotes          = "all votes"
	// BlossomTarget is the object of bootstrap, update_mou, get_mou and
	// sign_mou decisions (an object attribute in the reference policy).
	BlossomTarget = "blossom_target"
)

// Per-account node names of the authorization policy (spec §4.2.2).

// AccountUsers is the user attribute holding member m's callers.
func AccountUsers(m string) string { return m + " users" }

// AccountAttribute is the object attribute of member m's account.
func AccountAttribute(m string) string { return m + " account" }

// AccountTarget is the object of join, write_ato, read_ato, submit_feedback
// and initiate_vote decisions about member m.
func AccountTarget(m string) string { return m + " target" }

// VoteInitiators is the user attribute holding the members that initiated
// the ongoing vote on member m.
func VoteInitiators(m string) string { return m + " initiator" }

// VoteAttribute is the object attribute of votes on member m.
func VoteAttribute(m string) string { return m + " vote attr" }

// VoteTarget is the object of vote and certify_vote decisions about votes on
// member m.
func VoteTarget(m string) string { return m + " vote" }

// ExceptSelfProhibition names the prohibition denying member m's callers
// submit_feedback and read_ato on other accounts while m is not AUTHORIZED.
func ExceptSelfProhibition(m string) string {
	return m + " users: read_ato, submit_feedback only on self"
}

// NoSelfVoteProhibition names the prohibition denying member m's callers
// initiate_vote on m's own account.
func NoSelfVoteProhibition(m string) string { return m + " users: no initiate_vote on self" }

// statusUA maps an account status to its user attribute in the
// authorization policy.
func statusUA(s Status) string {
	switch s {
	case Authorized:
		return UAAuthorized
	case Unauthorized:
		return UAUnauthorized
	}
	return UAPending
}

// ValidateMemberID checks that m can name a member in a policy: 1 to 128
// ASCII letters, digits, '.', '-' or '_' (Fabric-style MSP IDs such as
// "Agency1MSP").
func ValidateMemberID(m string) error {
	if m == "" || len(m) > maxMemberIDLen {
		return specErrorf(ErrInvalidMemberID, "invalid member id %q: must have 1 to %d characters", m, maxMemberIDLen)
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return specErrorf(ErrInvalidMemberID, "invalid member id %q: only ASCII letters, digits, '.', '-' and '_' are allowed", m)
		}
	}
	return nil
}

// Error classes. Errors returned by Decide, DecideAsset, DecideAccount and
// ParseStatus carry the reference chaincode's message text (spec §2.1)
// verbatim, so chaincodes can return them as they are.
var (
	// ErrUnknownRole: "unknown user role: <role>" (authorization chaincode).
	ErrUnknownRole = errors.New("unknown user role")
	// ErrNoAccount: "account <MSP> does not exist".
	ErrNoAccount = errors.New("account does not exist")
	// ErrUnknownObject: the decision's object is not in the policy (for
	// instance the target of a member that never signed the MOU, R-31).
	ErrUnknownObject = errors.New("unknown object")
	// ErrInvalidRole: "invalid role <role>" (asset chaincode).
	ErrInvalidRole = errors.New("invalid role")
	// ErrUnknownStatus: "unknown Status: <s>".
	ErrUnknownStatus = errors.New("unknown status")
	// ErrInvalidMemberID: a member ID that cannot name policy nodes.
	ErrInvalidMemberID = errors.New("invalid member id")
	// ErrWrongPolicy: a stored policy that is not a BloSS@M authorization
	// policy for the configured admin MSP.
	ErrWrongPolicy = errors.New("not the authorization policy")
)

// specError is an error whose message is exactly the reference text.
type specError struct {
	class error
	msg   string
}

func (e *specError) Error() string { return e.msg }
func (e *specError) Unwrap() error { return e.class }

func specErrorf(class error, format string, args ...any) error {
	return &specError{class: class, msg: fmt.Sprintf(format, args...)}
}
