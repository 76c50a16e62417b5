package blossompolicy

import (
	"errors"
	"testing"
)

const (
	ro      = "Agency1MSP" // a requesting organization
	otherRO = "Agency2MSP"
)

func mustAssetPolicy(t testing.TB) *AssetPolicy {
	t.Helper()
	p, err := NewAssetPolicy(admin)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAssetLevelTable reproduces spec §4.4, first table ("Effective
// result"), for an AUTHORIZED caller; the text above it says nothing is
// granted to a caller whose account is not AUTHORIZED.
func TestAssetLevelTable(t *testing.T) {
	p := mustAssetPolicy(t)
	rows := []struct {
		msp, role                                             string
		readAssets, readAssetDetail, writeAsset, allocLicense bool
	}{
		{admin, RoleLicenseOwner, true, true, true, false},
		{admin, RoleAcquisitionOfficer, true, true, false, true},
		{ro, RoleAcquisitionOfficer, true, false, false, false},
		{ro, RoleTechnicalPointOfContact, true, false, false, false},
	}
	for _, row := range rows {
		for _, status := range []Status{Authorized, Pending, Unauthorized} {
			c := AssetCaller{MSPID: row.msp, Role: row.role, Status: status}
			want := map[string]bool{
				RightReadAssets:      row.readAssets,
				RightReadAssetDetail: row.readAssetDetail,
				RightWriteAsset:      row.writeAsset,
				RightAllocateLicense: row.allocLicense,
			}
			for right, w := range want {
				w = w && status == Authorized
				got, err := p.DecideAsset(c, right)
				if err != nil {
					t.Fatalf("%+v %s: %v", c, right, err)
				}
				if got != w {
					t.Errorf("%s @ %s (%s) %s = %v, want %v", row.role, row.msp, status, right, got, w)
				}
			}
			// Account-level rights are never granted on the asset object.
			for _, right := range []string{RightInitiateOrder, RightApproveOrder, RightReadOrder, RightReadLicense, RightWriteSWID} {
				if got, err := p.DecideAsset(c, right); err != nil || got {
					t.Errorf("%s @ %s %s on the asset = %v, %v", row.role, row.msp, right, got, err)
				}
			}
		}
	}
}

// TestAccountLevelTable reproduces spec §4.4, second table, for AUTHORIZED
// callers; "approve_order (also Deny)" covers deny_order.
func TestAccountLevelTable(t *testing.T) {
	p := mustAssetPolicy(t)
	type perms struct{ initiate, approve, readOrder, readLicense, returnLicense, writeSWID, readSWID bool }
	rows := []struct {
		name, msp, role, account string
		want                     perms
	}{
		{"TPOC @ T", ro, RoleTechnicalPointOfContact, ro, perms{true, false, true, true, true, true, true}},
		{"ACQ @ T", ro, RoleAcquisitionOfficer, ro, perms{false, true, true, true, false, false, true}},
		{"LO @ ADMINMSP (RO)", admin, RoleLicenseOwner, ro, perms{false, false, true, false, false, false, true}},
		{"LO @ ADMINMSP (itself)", admin, RoleLicenseOwner, admin, perms{false, false, true, false, false, false, true}},
		{"ACQ @ ADMINMSP (RO)", admin, RoleAcquisitionOfficer, ro, perms{false, false, true, true, false, false, true}},
		{"ACQ @ ADMINMSP (itself)", admin, RoleAcquisitionOfficer, admin, perms{false, false, true, true, false, false, true}},
		{"TPOC @ another RO", otherRO, RoleTechnicalPointOfContact, ro, perms{}},
		{"ACQ @ another RO", otherRO, RoleAcquisitionOfficer, ro, perms{}},
		{"TPOC @ RO on ADMINMSP", ro, RoleTechnicalPointOfContact, admin, perms{}},
		{"ACQ @ RO on ADMINMSP", ro, RoleAcquisitionOfficer, admin, perms{}},
	}
	for _, row := range rows {
		for _, status := range []Status{Authorized, Pending, Unauthorized} {
			c := AssetCaller{MSPID: row.msp, Role: row.role, Status: status}
			want := map[string]bool{
				RightInitiateOrder: row.want.initiate,
				RightApproveOrder:  row.want.approve,
				RightDenyOrder:     row.want.approve,
				RightReadOrder:     row.want.readOrder,
				RightReadLicense:   row.want.readLicense,
				RightReturnLicense: row.want.returnLicense,
				RightWriteSWID:     row.want.writeSWID,
				RightReadSWID:      row.want.readSWID,
			}
			for right, w := range want {
				w = w && status == Authorized
				got, err := p.DecideAccount(c, row.account, right)
				if err != nil {
					t.Fatalf("%s: %v", row.name, err)
				}
				if got != w {
					t.Errorf("%s (%s) %s on %s = %v, want %v", row.name, status, right, row.account, got, w)
				}
			}
			// Asset-level rights are never granted on an account object.
			for _, right := range []string{RightWriteAsset, RightReadAssets, RightReadAssetDetail, RightAllocateLicense} {
				if got, err := p.DecideAccount(c, row.account, right); err != nil || got {
					t.Errorf("%s %s on an account = %v, %v", row.name, right, got, err)
				}
			}
		}
	}
}

// TestAssetCallerChecks covers spec §2.1's asset checks: role validation per
// MSP ("invalid role <role>"), then the status, then member IDs.
func TestAssetCallerChecks(t *testing.T) {
	p := mustAssetPolicy(t)
	tests := []struct {
		name    string
		caller  AssetCaller
		account string
		want    error
		msg     string
	}{
		{"LO at an RO", AssetCaller{ro, RoleLicenseOwner, Authorized}, ro, ErrInvalidRole, "invalid role License Owner"},
		{"TPOC at the admin", AssetCaller{admin, RoleTechnicalPointOfContact, Authorized}, ro, ErrInvalidRole, "invalid role Technical Point of Contact"},
		{"AO", AssetCaller{ro, RoleAuthorizingOfficial, Authorized}, ro, ErrInvalidRole, "invalid role Authorizing Official"},
		{"forged status role", AssetCaller{ro, "AUTHORIZED", Authorized}, ro, ErrInvalidRole, "invalid role AUTHORIZED"},
		{"missing role", AssetCaller{ro, "", Authorized}, ro, ErrInvalidRole, "invalid role "},
		{"role before status", AssetCaller{ro, RoleLicenseOwner, "BOGUS"}, ro, ErrInvalidRole, "invalid role License Owner"},
		{"unknown status", AssetCaller{ro, RoleTechnicalPointOfContact, "NOT_AUTHORIZED"}, ro, ErrUnknownStatus, "unknown Status: NOT_AUTHORIZED"},
		{"empty status", AssetCaller{ro, RoleTechnicalPointOfContact, ""}, ro, ErrUnknownStatus, "unknown Status: "},
		{"invalid caller MSP", AssetCaller{"Agency 1", RoleTechnicalPointOfContact, Authorized}, ro, ErrInvalidMemberID, ""},
		{"invalid account", AssetCaller{ro, RoleTechnicalPointOfContact, Authorized}, "Agency1MSP/x", ErrInvalidMemberID, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := p.DecideAccount(tt.caller, tt.account, RightReadOrder)
			if ok || !errors.Is(err, tt.want) || tt.msg != "" && err.Error() != tt.msg {
				t.Fatalf("DecideAccount = %v, %v; want false, %v %q", ok, err, tt.want, tt.msg)
			}
			if tt.name != "invalid account" {
				if ok, err := p.DecideAsset(tt.caller, RightReadAssets); ok || !errors.Is(err, tt.want) {
					t.Fatalf("DecideAsset = %v, %v; want false, %v", ok, err, tt.want)
				}
			}
		})
	}
	if _, err := p.DecideAsset(AssetCaller{ro, RoleTechnicalPointOfContact, Authorized}, "fly"); err == nil {
		t.Error("undeclared right accepted")
	}
	if _, err := NewAssetPolicy(""); !errors.Is(err, ErrInvalidMemberID) {
		t.Errorf("empty admin MSP: %v", err)
	}
}

// TestAssetGraphShape checks the per-decision graphs of spec §4.4.
func TestAssetGraphShape(t *testing.T) {
	p := mustAssetPolicy(t)
	g, err := p.AccountGraph(AssetCaller{admin, RoleAcquisitionOfficer, Authorized}, ro)
	if err != nil {
		t.Fatal(err)
	}
	if rs, ok := g.AssociationRights(MemberUA(admin), MemberOA(ro)); !ok || len(rs) != 1 || rs[0] != "*" {
		t.Errorf("admin association = %v, %v", rs, ok)
	}
	if ps := g.Prohibitions(); len(ps) != 1 || ps[0].Subject != RoleAcquisitionOfficer {
		t.Errorf("admin account decision prohibitions = %+v", ps)
	}
	g, err = p.AccountGraph(AssetCaller{ro, RoleAcquisitionOfficer, Authorized}, ro)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := g.AssociationRights(MemberUA(ro), MemberOA(ro)); !ok {
		t.Error("own account association missing")
	}
	if len(g.Prohibitions()) != 0 {
		t.Error("RO account decision has prohibitions")
	}
	g, err = p.AssetGraph(AssetCaller{ro, RoleAcquisitionOfficer, Authorized})
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Parents(AssetTarget); len(got) != 2 || got[0] != OARBACAsset || got[1] != OAStatusAsset {
		t.Errorf("asset_target parents = %v", got)
	}
	if len(g.Prohibitions()) != 1 {
		t.Error("non-admin asset decision lacks the ACQ prohibition")
	}
}
