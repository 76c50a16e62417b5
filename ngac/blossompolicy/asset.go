package blossompolicy

import (
	"fmt"

	"github.com/blossom-ledger/blossom/ngac"
)

// Node names of the asset chaincode's policy (spec §4.4).
const (
	AssetPCRBAC       = "RBAC"
	AssetPCAccount    = "Account"
	AssetPCStatus     = "Status"
	OARBACAsset       = "RBAC/asset"
	OARBACAccount     = "RBAC/account"
	OAStatusAccount   = "Status/account"
	OAStatusAsset     = "Status/asset"
	AssetTarget       = "asset_target" // the object of asset-level decisions
	assetPolicyPrefix = "asset policy"
)

// MemberUA is the asset policy's user attribute of member m's callers.
func MemberUA(m string) string { return m + "_UA" }

// MemberOA is the asset policy's object attribute of member m's account.
func MemberOA(m string) string { return m + "_OA" }

// MemberTarget is the object of account-level decisions about member m.
func MemberTarget(m string) string { return m + "_target" }

// AssetPolicy builds the asset chaincode's policy (spec §4.4) afresh for
// every decision, from the caller and the object; it holds only the admin
// MSP and is safe for concurrent use.
type AssetPolicy struct {
	adminMSP string
}

// AssetCaller is an asset-chaincode caller: MSP ID and blossom.role from its
// certificate, and its member's account status as returned by the
// authorization chaincode's account:GetAccountStatus.
type AssetCaller struct {
	MSPID  string
	Role   string
	Status Status
}

// NewAssetPolicy returns the asset policy of the consortium whose admin (the
// service provider) is adminMSP.
func NewAssetPolicy(adminMSP string) (*AssetPolicy, error) {
	if err := ValidateMemberID(adminMSP); err != nil {
		return nil, err
	}
	return &AssetPolicy{adminMSP: adminMSP}, nil
}

// AdminMSP returns the admin MSP the policy is bound to.
func (p *AssetPolicy) AdminMSP() string { return p.adminMSP }

// CheckRole is spec §2.1's asset role validation: at the admin MSP only
// License Owner and Acquisition Officer, elsewhere only Technical Point of
// Contact and Acquisition Officer; else ErrInvalidRole "invalid role <role>".
func (p *AssetPolicy) CheckRole(c AssetCaller) error {
	if c.MSPID == p.adminMSP {
		if c.Role == RoleLicenseOwner || c.Role == RoleAcquisitionOfficer {
			return nil
		}
	} else if c.Role == RoleTechnicalPointOfContact || c.Role == RoleAcquisitionOfficer {
		return nil
	}
	return specErrorf(ErrInvalidRole, "invalid role %s", c.Role)
}

// checkCaller validates the caller in the order of spec §2.1: role, then
// status, then the member ID (which must be able to name policy nodes).
func (p *AssetPolicy) checkCaller(c AssetCaller) error {
	if err := p.CheckRole(c); err != nil {
		return err
	}
	if _, err := ParseStatus(string(c.Status)); err != nil {
		return err
	}
	return ValidateMemberID(c.MSPID)
}

// subject is the caller's user attributes (spec §4.1): its role, its
// member's UA and its status.
func subjectOf(c AssetCaller) ngac.Subject {
	return ngac.AttributeSubject(c.Role, MemberUA(c.MSPID), string(c.Status))
}

// base builds the part common to every decision.
func (p *AssetPolicy) base(c AssetCaller) *builder {
	b := &builder{g: ngac.New()}
	b.rights(AssetPrivileges()...)
	b.pc(AssetPCRBAC)
	b.pc(AssetPCAccount)
	b.pc(AssetPCStatus)

	b.ua(RoleLicenseOwner, AssetPCRBAC)
	b.ua(RoleAcquisitionOfficer, AssetPCRBAC)
	b.ua(RoleTechnicalPointOfContact, AssetPCRBAC)
	b.oa(OARBACAsset, AssetPCRBAC)
	b.oa(OARBACAccount, AssetPCRBAC)

	b.ua(MemberUA(c.MSPID), AssetPCAccount)

	b.ua(string(Authorized), AssetPCStatus)
	b.ua(string(Pending), AssetPCStatus)
	b.ua(string(Unauthorized), string(Pending))
	b.oa(OAStatusAccount, AssetPCStatus)
	b.oa(OAStatusAsset, AssetPCStatus)

	b.assoc(RoleLicenseOwner, OARBACAsset, RightReadAssets, RightWriteAsset, RightReadAssetDetail)
	b.assoc(RoleLicenseOwner, OARBACAccount, RightReadOrder, RightReadSWID)
	b.assoc(RoleAcquisitionOfficer, OARBACAsset, RightReadAssets, RightReadAssetDetail, RightAllocateLicense)
	b.assoc(RoleAcquisitionOfficer, OARBACAccount, RightReadOrder, RightApproveOrder, RightDenyOrder, RightReadLicense, RightReadSWID)
	b.assoc(RoleTechnicalPointOfContact, OARBACAsset, RightReadAssets)
	b.assoc(RoleTechnicalPointOfContact, OARBACAccount, RightInitiateOrder, RightReadOrder, RightReadSWID, RightWriteSWID, RightReadLicense, RightReturnLicense)
	b.assoc(string(Authorized), OAStatusAccount, ngac.AllRights)
	b.assoc(string(Authorized), OAStatusAsset, ngac.AllRights)
	return b
}

// AssetGraph returns the policy built for an asset-level decision by c
// (spec §4.4 "Asset decision"; the object is AssetTarget).
func (p *AssetPolicy) AssetGraph(c AssetCaller) (*ngac.Graph, error) {
	if err := p.checkCaller(c); err != nil {
		return nil, err
	}
	b := p.base(c)
	b.o(AssetTarget, OARBACAsset, OAStatusAsset)
	if c.MSPID != p.adminMSP {
		b.prohibit(ngac.Prohibition{
			Name:         "deny non-admin " + RoleAcquisitionOfficer + " asset detail and allocation",
			Subject:      RoleAcquisitionOfficer,
			Rights:       []string{RightReadAssetDetail, RightAllocateLicense},
			Intersection: true,
			Containers:   []ngac.ContainerCondition{{Container: OARBACAsset}},
		})
	}
	if b.err != nil {
		return nil, fmt.Errorf("%s: %w", assetPolicyPrefix, b.err)
	}
	return b.g, nil
}

// AccountGraph returns the policy built for a decision by c on member
// account's object (spec §4.4 "Account decision"; the object is
// MemberTarget(account)).
func (p *AssetPolicy) AccountGraph(c AssetCaller, account string) (*ngac.Graph, error) {
	if err := p.checkCaller(c); err != nil {
		return nil, err
	}
	if err := ValidateMemberID(account); err != nil {
		return nil, err
	}
	b := p.base(c)
	b.oa(MemberOA(account), AssetPCAccount)
	b.o(MemberTarget(account), MemberOA(account), OARBACAccount, OAStatusAccount)
	if account == c.MSPID {
		b.assoc(MemberUA(account), MemberOA(account), ngac.AllRights)
	}
	if c.MSPID == p.adminMSP {
		if account != c.MSPID {
			b.assoc(MemberUA(p.adminMSP), MemberOA(account), ngac.AllRights)
		}
		b.prohibit(ngac.Prohibition{
			Name:         "deny admin " + RoleAcquisitionOfficer + " order approval",
			Subject:      RoleAcquisitionOfficer,
			Rights:       []string{RightApproveOrder, RightDenyOrder},
			Intersection: true,
			Containers:   []ngac.ContainerCondition{{Container: OARBACAccount}},
		})
	}
	if b.err != nil {
		return nil, fmt.Errorf("%s: %w", assetPolicyPrefix, b.err)
	}
	return b.g, nil
}

// DecideAsset answers whether c holds right on the asset object (read_assets,
// read_asset_detail, write_asset, allocate_license; spec §4.4 first table).
// Checks, in order: role (ErrInvalidRole), status (ErrUnknownStatus), member
// ID, then the decision; a caller whose account is not AUTHORIZED is denied
// everything.
func (p *AssetPolicy) DecideAsset(c AssetCaller, right string) (bool, error) {
	g, err := p.AssetGraph(c)
	if err != nil {
		return false, err
	}
	return g.Decide(subjectOf(c), AssetTarget, right)
}

// DecideAccount answers whether c holds right on member account's object
// (initiate_order, approve_order, deny_order, read_order, read_license,
// return_license, write_swid, read_swid; spec §4.4 second table). Checks as
// DecideAsset, plus an invalid account ID (ErrInvalidMemberID).
func (p *AssetPolicy) DecideAccount(c AssetCaller, account, right string) (bool, error) {
	g, err := p.AccountGraph(c, account)
	if err != nil {
		return false, err
	}
	return g.Decide(subjectOf(c), MemberTarget(account), right)
}
