package blossompolicy_test

import (
	"fmt"

	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
)

// Example shows the calls the authorization chaincode makes: Bootstrap
// stores the bootstrap policy; later transactions load it, decide, apply
// the policy side of the operation and store it again.
func Example() {
	const adminMSP = "SAMSMSP"

	// bootstrap:Bootstrap
	pol, _ := blossompolicy.NewAuthorizationPolicy(adminMSP)
	caller := blossompolicy.Caller{MSPID: adminMSP, Role: blossompolicy.RoleAuthorizingOfficial}
	ok, _ := pol.Decide(caller, blossompolicy.RightBootstrap, blossompolicy.BlossomTarget)
	fmt.Println("bootstrap:", ok)
	stored, _ := pol.Encode() // PutState(blossompolicy.PolicyKey, stored)

	// mou:SignMOU by Agency1MSP's Authorizing Official
	pol, _ = blossompolicy.LoadAuthorizationPolicy(adminMSP, stored) // GetState(PolicyKey)
	agency := blossompolicy.Caller{MSPID: "Agency1MSP", Role: blossompolicy.RoleAuthorizingOfficial}
	ok, _ = pol.Decide(agency, blossompolicy.RightSignMOU, blossompolicy.BlossomTarget)
	created, _ := pol.SignMOU(agency.MSPID)
	fmt.Println("sign_mou:", ok, "account created:", created)

	// Pending members manage only their own ATO.
	ok, _ = pol.Decide(agency, blossompolicy.RightReadATO, blossompolicy.AccountTarget(adminMSP))
	fmt.Println("pending agency reads the admin's ATO:", ok)

	// vote:InitiateVote by the admin, then vote:CertifyOngoingVote (passed)
	ok, _ = pol.Decide(caller, blossompolicy.RightInitiateVote, blossompolicy.AccountTarget(agency.MSPID))
	_ = pol.InitiateVote(adminMSP, agency.MSPID)
	fmt.Println("initiate_vote:", ok)
	ok, _ = pol.Decide(caller, blossompolicy.RightCertifyVote, blossompolicy.VoteTarget(agency.MSPID))
	_ = pol.CertifyVote(agency.MSPID, true, blossompolicy.Authorized)
	fmt.Println("certify_vote:", ok)

	ok, _ = pol.Decide(agency, blossompolicy.RightReadATO, blossompolicy.AccountTarget(adminMSP))
	fmt.Println("authorized agency reads the admin's ATO:", ok)

	// A forged role is refused (R-01).
	_, err := pol.Decide(blossompolicy.Caller{MSPID: "Agency1MSP", Role: "Blossom Admin"}, blossompolicy.RightUpdateMOU, blossompolicy.BlossomTarget)
	fmt.Println(err)

	// The asset chaincode: status from account:GetAccountStatus, policy built per call.
	assets, _ := blossompolicy.NewAssetPolicy(adminMSP)
	tpoc := blossompolicy.AssetCaller{MSPID: "Agency1MSP", Role: blossompolicy.RoleTechnicalPointOfContact, Status: blossompolicy.Authorized}
	ok, _ = assets.DecideAccount(tpoc, "Agency1MSP", blossompolicy.RightInitiateOrder)
	fmt.Println("TPOC initiates an order for its own agency:", ok)
	ok, _ = assets.DecideAsset(tpoc, blossompolicy.RightReadAssetDetail)
	fmt.Println("TPOC reads asset detail:", ok)

	// Output:
	// bootstrap: true
	// sign_mou: true account created: true
	// pending agency reads the admin's ATO: false
	// initiate_vote: true
	// certify_vote: true
	// authorized agency reads the admin's ATO: true
	// unknown user role: Blossom Admin
	// TPOC initiates an order for its own agency: true
	// TPOC reads asset detail: false
}
