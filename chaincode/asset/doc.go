// Package asset is the BloSS@M asset chaincode: the service provider's
// pool of software licenses, leased to member agencies through quotes,
// orders approved by the agency, a four-step allocation, renewals, a
// four-step return, and SWID tags reported on leased licenses. It follows
// shared/spec/blossom-chaincode.md §2.3 (the J-ASSET design) with the
// state machines of §3.4 and §3.5, the NGAC policy of §4.4 (built per call
// by ngac/blossompolicy's AssetPolicy), the roles of §5.1 and the fixes of
// §7.2 and §7.3, and DESIGN.md §10 and §11 where they differ.
//
// New returns the chaincode; it is deployed as "asset" on channel
// "blossom", next to "authorization", with the definition parameter
// "adminMSP" naming the service provider (the BloSS@M admin member).
// Every function takes its input from the transient key "request", a JSON
// object, and no positional argument. Functions, with the caller's role
// (LO = License Owner and SP ACQ = Acquisition Officer of the service
// provider; TPOC = Technical Point of Contact and ACQ = Acquisition Officer
// of an agency) and the members whose peers endorse them:
//
//	asset:AddAsset            {name, endDate, licenses:[{id, salt}]}     LO            SP
//	asset:AddLicenses         {assetId, licenses:[{id, salt}]}           LO            SP
//	asset:RemoveLicenses      {assetId, licenses:[id]}                   LO            SP
//	asset:UpdateEndDate       {assetId, newEndDate}                      LO            SP
//	asset:GetAssets           —                                          any role      SP (query)
//	asset:GetAsset            {assetId}                                  any role      SP (query)
//	asset:GetLicenseTxHistory {assetId, licenseId}                       LO, SP ACQ    SP (query)
//	order:GetQuote            {account, assetId, amount, duration, orderId?}  TPOC     SP
//	order:SendQuote           {orderId, account, price}                  SP ACQ        SP
//	order:InitiateOrder       {orderId, account}                         TPOC          SP + agency
//	order:ApproveOrder        {orderId, account}                         ACQ           SP + agency
//	order:DenyOrder           {orderId, account}                         ACQ           SP + agency
//	order:GetLicensesToAllocateForOrder {orderId, account}               SP ACQ        SP (query)
//	order:AllocateLicenses    {orderId, account, licenses}               SP ACQ        SP
//	order:GetAllocateRequestForOrder {orderId}                           SP ACQ        SP (query)
//	order:SendLicenses        LicensesRequest                            SP ACQ        SP + agency
//	order:InitiateReturn      LicensesRequest                            TPOC          SP + agency
//	order:GetInitiatedReturnForOrder {orderId}                           SP ACQ        SP (query)
//	order:DeallocateLicensesFromAccount LicensesRequest                  SP ACQ        SP + agency
//	order:DeallocateLicensesFromSP {orderId, account}                    SP ACQ        SP
//	order:GetOrder            {orderId, account}                         readers       SP (query)
//	order:GetOrdersByAccount  {account}                                  readers       SP (query)
//	order:GetOrdersByAccountAndAsset {assetId, account}                  readers       SP (query)
//	order:GetOrdersByAsset    {assetId}                                  any (filtered) SP (query)
//	order:GetAvailableLicensesForOrder {orderId, account}                TPOC, ACQ, SP ACQ  agency (query)
//	order:GetExpiredOrders    —                                          any (filtered) SP (query)
//	swid:ReportSWID           {account, primaryTag, xml, orderId, licenseId}  TPOC     agency
//	swid:DeleteSWID           {account, orderId, licenseId}              TPOC          agency
//	swid:GetSWID              {account, orderId, licenseId}              TPOC, ACQ, LO, SP ACQ  agency (query)
//	swid:GetLicensesWithSWIDsForOrder {orderId, account}                 TPOC, ACQ, SP ACQ  agency (query)
//	ngac:GetAllRoles, ngac:GetAllPrivileges                              anyone
//
// where LicensesRequest is {account, assetId, orderId, expiration,
// licenses}. Every NGAC-checked caller's member must be AUTHORIZED: its
// status is read in the same transaction by calling "authorization" /
// "account:GetAccountStatus" (DESIGN §10). Error texts are the reference
// chaincode's (spec §2.3) so that clients and acceptance tests can match
// them; checks run in the reference's order and nothing is written before
// the last check.
//
// # Storage and privacy (DESIGN §11)
//
// Every multi-part key is a composite key. The service provider's
// implicit collection "_implicit_org_<adminMSP>" holds assets
// (asset/assetId), each asset's license index (licenses/assetId: license
// ID → marker), licenses (license/assetId/marker, with salt and
// allocation), orders (order/account/orderId; the status in
// orderStatus/account/orderId, the initiation and approval dates in
// orderDate/account/orderId/kind) and the pending allocation and return
// requests (ALLOCATE/orderId, DEALLOCATE/orderId). A license's key embeds
// its public marker (LicenseMarker), not its ID, so the private write
// hashes of an allocation or a return do not reveal which licenses moved;
// the index is written only when licenses are added or removed.
//
// An agency's implicit collection holds its leased licenses
// (allocated/orderId/licenseId), its SWID tags (swid/orderId/licenseId)
// and the trust records (trust/orderId/txId) that InitiateOrder,
// ApproveOrder, DenyOrder and InitiateReturn write there, so that the
// agency's own peer must endorse them: the service provider cannot fake an
// agency's order, approval or return.
//
// Public world state holds only the license markers (value 0x00), whose
// key history is GetLicenseTxHistory. License IDs and salts never reach
// public state; the chaincode emits no events.
//
// A function endorsed by the service provider and an agency runs on both
// peers, and neither holds the other's private values: such functions
// (InitiateOrder, ApproveOrder, DenyOrder, SendLicenses, InitiateReturn,
// DeallocateLicensesFromAccount) read private data only through
// GetPrivateDataHash. A request that must equal a stored record is
// re-encoded with contract.CanonicalJSON and compared by SHA-256; an
// order's status is a record of its own whose encoding depends on the
// order's key and status only, so that it can be tested the same way.
//
// # Dates
//
// Transaction dates (startDate, initiationDate, approvalDate,
// allocatedDate, latestRenewalDate) are the transaction timestamp rendered
// like Java's Instant.toString with milliseconds; end dates and
// expirations are "yyyy-MM-dd HH:mm:ss" UTC. An expiration is the
// allocation's timestamp plus the order's duration in years, a renewal's
// the previous expiration plus the duration, with 29 February becoming
// 28 February in a common year. An order is expired when the transaction
// timestamp is strictly after its expiration.
//
// # Spec §7 fixes applied
//
//   - GetExpiredOrders skips orders without expiration and reads both
//     date formats.
//   - InitiateReturn treats an empty hash as an absent key.
//   - a renewal (GetQuote with orderId) starts only from ALLOCATED or
//     RENEWAL_DENIED, for an order that still has licenses ("order <o>
//     cannot be renewed"), for the order's own asset ("asset <a> is not the
//     asset of order <o>"), and keeps the order's amount and duration.
//   - AllocateLicenses requires exactly amount distinct licenses
//     ("number of licenses <n> does not match order amount <m>").
//   - expirations always use yyyy-MM-dd HH:mm:ss.
//   - DeallocateLicensesFromAccount deletes the returned licenses'
//     SWID tags.
//   - DeallocateLicensesFromAccount marks the return request;
//     DeallocateLicensesFromSP refuses an unmarked one ("licenses have not
//     been removed from account <a> yet").
//   - composite keys everywhere; license IDs are read from values.
//   - R-15: duplicate license IDs are refused ("duplicate licenses are not
//     allowed"), empty strings are refused everywhere; an asset may start
//     without licenses.
//   - R-16: amount, duration and price must be greater than 0 ("<f> cannot
//     be 0" for 0, "<f> must be greater than 0" below).
//   - a member without account gets "account <MSP> does not exist".
//   - records are canonical JSON with the field names of spec §1.3.
//   - no events.
//   - the service provider is the definition parameter adminMSP.
//   - GetAsset authorizes before looking the asset up.
//   - DenyOrder checks approve_order.
//
// Beyond the spec: an allocation and a return of the same order never
// overlap (AllocateLicenses refuses while a return is pending,
// InitiateReturn while an allocation is not yet sent), so that SendLicenses
// cannot put back a license being returned; ReportSWID validates the tag
// (ValidateSWID, DESIGN §11).
package asset
