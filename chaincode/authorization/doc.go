// Package authorization is the BloSS@M authorization chaincode: member
// accounts, the consortium's Memorandum of Understanding (MOU), each
// member's Authority To Operate (ATO) package with peer feedback, and the
// democratic votes that change account statuses. It follows
// shared/spec/blossom-chaincode.md §2.2 (the J-AUTH design) with the state
// machines of §3.1 to §3.3, the NGAC policy of §4.2 (built by package
// ngac/blossompolicy and kept on the ledger) and the roles of §5.1.
//
// New returns the chaincode; it is deployed as "authorization" on channel
// "blossom" with the definition parameter "adminMSP" naming the BloSS@M
// administrator member (the service provider). Functions are addressed
// "<contract>:<Function>":
//
//	bootstrap:Bootstrap()                                   admin AO, once
//	bootstrap:Test()                                        "hello blossom"
//	account:Join()                                          AO of an AUTHORIZED member
//	account:GetAccounts()                                   anyone
//	account:GetAccount(accountId)                           anyone
//	account:GetAccountStatus()                              anyone; the caller member's status
//	account:GetAccountHistory(accountId)                    anyone
//	mou:UpdateMOU(text)                                     admin AO while AUTHORIZED
//	mou:GetMOU()                                            anyone
//	mou:GetMOUHistory()                                     anyone
//	mou:SignMOU(version)                                    any AO
//	ato:CreateATO()          transient memo, artifacts      AO, own account
//	ato:UpdateATO()          transient memo, artifacts      AO, own account
//	ato:GetATO(accountId)                                   AO: own, or any when AUTHORIZED
//	ato:SubmitFeedback()     transient targetAccountId,     AO: own, or any when AUTHORIZED
//	                         atoVersion, comments
//	vote:InitiateVote(targetAccountId, statusChange[, reason])  AO of an AUTHORIZED member
//	vote:Vote(value)                                        AO of a voter
//	vote:CertifyOngoingVote()                               initiator, or admin AO while AUTHORIZED
//	vote:AbortOngoingVote()                                 as CertifyOngoingVote
//	vote:GetOngoingVote()                                   anyone
//	vote:GetVoteHistory(member)                             anyone
//	ngac:GetAllRoles()                                      anyone
//	ngac:GetAllPrivileges()                                 anyone
//
// The caller is the transaction creator: its MSP ID and its blossom.role
// certificate attribute. Every error text is the reference chaincode's
// (spec §2.2) so that clients and acceptance tests can match it.
//
// Package main ./wasm builds the chaincode as a WebAssembly module;
// package authorizationtest sets up a bootstrapped consortium in a
// contracttest world for other chaincodes' unit tests.
//
// # Storage
//
// Public world state: "policy" (the NGAC graph, canonical JSON),
// "account:<MSP>" (Account), "mou" (MOU), "vote:<target MSP>" (the latest
// Vote on that member; its key history is the vote history) and
// "ongoing_vote" (the target of the ongoing vote, absent when none). A
// member's ATO lives only in its implicit collection "_implicit_org_<MSP>"
// under "ato:<MSP>", so it stays on that member's peers (DESIGN §11):
// ATO functions must be endorsed by a peer of the ATO's owner. All records
// are contract.CanonicalJSON of the types of this package. The keys are the
// reference's: member IDs cannot contain ':' (blossompolicy.ValidateMemberID),
// so "<type>:<MSP>" keys are unambiguous and R-12 (an asset-chaincode fix)
// does not apply.
//
// # Spec §7 fixes applied
//
//   - R-01: only the role "Authorizing Official" is accepted; "Blossom
//     Admin" follows from MSP = adminMSP alone; a missing role attribute is
//     "unknown user role: (missing blossom.role attribute)".
//   - certification removes the initiator's certify right, so an
//     initiator certifies only the vote it initiated (blossompolicy).
//   - a ballot from a member that is not in the vote's voters is
//     refused with "<MSP> is not a voter in the ongoing vote".
//   - CertifyOngoingVote checks the ongoing vote, then decidability,
//     then authorization, and writes only after all checks; every function
//     writes only after its last check.
//   - vote:AbortOngoingVote ends an undecided vote with result
//     ABORTED (initiator, or the admin AO while AUTHORIZED; the admin may not
//     abort a vote on itself that another member initiated, and a decided
//     vote must be certified, not aborted).
//   - the admin's self-vote exception is kept as coded (only while no
//     member is AUTHORIZED).
//   - account:GetAccountStatus for a member without account fails
//     with "account <MSP> does not exist".
//   - records, responses and event payloads are JSON with
//     the field names of spec §1.2; events are those of §2.2.
//   - the admin MSP is the definition parameter "adminMSP" read
//     through the stub, the same one the asset chaincode reads.
//   - GetATO and SubmitFeedback on a member that never signed the MOU
//     answer "<id> has not created an ATO yet".
//   - a non-numeric atoVersion is "atoVersion must be an integer".
package authorization
