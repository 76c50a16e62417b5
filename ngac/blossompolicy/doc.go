// Package blossompolicy builds the NGAC policies of the BloSS@M chaincodes
// (shared/spec/blossom-chaincode.md §4) on package ngac and answers their
// access questions.
//
// # Authorization chaincode (spec §4.2)
//
// AuthorizationPolicy is the policy the authorization chaincode keeps on the
// ledger under key "policy" (PolicyKey):
//
//   - NewAuthorizationPolicy builds the bootstrap content (§4.2.3): the
//     static part (§4.2.1, also available alone from StaticAuthorizationGraph)
//     followed by SignMOU(adminMSP) and UpdateAccountStatus(adminMSP,
//     AUTHORIZED);
//   - LoadAuthorizationPolicy decodes it from the ledger (strict canonical
//     JSON, see ngac.Decode) and Encode writes it back;
//   - SignMOU (§4.2.2), InitiateVote, CertifyVote, AbortVote and
//     UpdateAccountStatus are the operations of §4.2.4; each is atomic;
//   - Decide answers "may this caller exercise this right on this object"
//     with the checks of spec §2.1 steps 2 to 4 (role, account, decision).
//     Its results are the table of §4.2.5.
//
// Callers are never stored in the graph: following §4.1 a caller is the
// user attributes it is directly assigned to, derived on each decision from
// its MSP ID and blossom.role (see ngac.AttributeSubject).
//
// # Asset chaincode (spec §4.4)
//
// AssetPolicy builds the asset chaincode's small policy in memory for each
// decision, from the caller's MSP ID, role and account status (read from
// the authorization chaincode) and the object: DecideAsset for the single
// asset object, DecideAccount for a member account's object. Nothing is
// stored.
//
// # Node names
//
// Node names are those of the J reference policy (policy.pml and
// PolicyBuilder.java), so a stored policy stays inspectable: per-account
// nodes are "<M> users", "<M> account", "<M> target", "<M> initiator",
// "<M> vote attr" and "<M> vote" (authorization) and "<M>_UA", "<M>_OA",
// "<M>_target" (asset). Member IDs (MSP IDs) are therefore restricted to 1
// to 128 ASCII letters, digits, '.', '-' and '_' (ValidateMemberID), which
// makes per-account names unambiguous.
//
// # Spec §7 fixes applied
//
//   - the authorization policy accepts only the role
//     "Authorizing Official"; any other blossom.role value, including
//     "Blossom Admin", "authorized" and the empty string, is refused with
//     "unknown user role: <role>". "Blossom Admin" is derived solely from
//     MSP ID = admin MSP (and role Authorizing Official).
//   - CertifyVote (and AbortVote) remove every member from
//     "<T> initiator", so the certify_vote right of an initiator lasts only
//     for the vote it initiated.
//   - R-13 (in scope per DESIGN §11): AbortVote ends a vote like a failed
//     certification; the chaincode authorises AbortOngoingVote with the
//     certify_vote right on "<T> vote" (the initiator, or the admin member
//     while AUTHORIZED).
//   - the admin member's self-vote exception is kept as coded (only
//     while no account is AUTHORIZED).
//   - the admin MSP is a parameter of every constructor (DESIGN §11:
//     a named parameter of the chaincode definitions), identical for both
//     chaincodes; LoadAuthorizationPolicy refuses a stored policy built for
//     another admin MSP.
//   - deny_order has the same holders as approve_order; the
//     chaincode checks approve_order for DenyOrder as the reference does.
//   - PENDING and UNAUTHORIZED grant identical rights (kept).
//   - a decision on the object of a member that never signed the MOU
//     fails with ErrUnknownObject instead of an engine error, so GetATO can
//     answer "<id> has not created an ATO yet".
//   - the unused ADMIN_MSP_PC policy class is kept, harmless, so the
//     stored graph matches the reference one.
//
// Fixes outside this package's reach are the chaincodes' (R-05 ballot
// eligibility, R-11 check order, R-12 composite keys, R-17 missing account
// message, R-24 authorize before existence checks).
package blossompolicy
