package asset

import (
	"crypto/sha256"
	"encoding/hex"
)

// OrderStatus is the state of an order (spec §1.1, §3.4).
type OrderStatus string

// Order statuses.
const (
	QuoteRequested        OrderStatus = "QUOTE_REQUESTED"
	QuoteReceived         OrderStatus = "QUOTE_RECEIVED"
	Initiated             OrderStatus = "INITIATED"
	Approved              OrderStatus = "APPROVED"
	Denied                OrderStatus = "DENIED"
	Allocated             OrderStatus = "ALLOCATED"
	RenewalQuoteRequested OrderStatus = "RENEWAL_QUOTE_REQUESTED"
	RenewalQuoteReceived  OrderStatus = "RENEWAL_QUOTE_RECEIVED"
	RenewalInitiated      OrderStatus = "RENEWAL_INITIATED"
	RenewalApproved       OrderStatus = "RENEWAL_APPROVED"
	RenewalDenied         OrderStatus = "RENEWAL_DENIED"
)

// OrderStatuses returns every order status in the order of spec §1.1.
func OrderStatuses() []OrderStatus {
	return []OrderStatus{QuoteRequested, QuoteReceived, Initiated, Approved, Denied, Allocated,
		RenewalQuoteRequested, RenewalQuoteReceived, RenewalInitiated, RenewalApproved, RenewalDenied}
}

// Asset is a software asset offered by the service provider (spec §1.3).
type Asset struct {
	ID        string `json:"id"`        // tx ID of AddAsset
	Name      string `json:"name"`      // display name
	StartDate string `json:"startDate"` // AddAsset's tx timestamp (Instant format)
	EndDate   string `json:"endDate"`   // yyyy-MM-dd HH:mm:ss, UTC
}

// License is one license of an asset, kept only in the service provider's
// implicit collection. Salt is the client-chosen secret that makes the
// public tracking marker (LicenseMarker) unguessable.
type License struct {
	ID        string           `json:"id"`
	Salt      string           `json:"salt"`
	Allocated *AllocatedRecord `json:"allocated"` // nil: available
}

// AllocatedRecord is a license's allocation: in the service provider's
// License record and, once sent, the value the lessee keeps in its own
// implicit collection (spec §1.3 "Allocated").
type AllocatedRecord struct {
	LicenseID  string `json:"licenseId"`
	Account    string `json:"account"`    // the lessee's MSP ID
	Expiration string `json:"expiration"` // yyyy-MM-dd HH:mm:ss, UTC
	OrderID    string `json:"orderId"`
}

// Order is a quote, an order and a lease in one record (spec §1.3), as
// order functions return it.
type Order struct {
	ID                string      `json:"id"`      // tx ID of the first GetQuote
	Account           string      `json:"account"` // the requesting member
	Status            OrderStatus `json:"status"`
	InitiationDate    string      `json:"initiationDate"`
	ApprovalDate      string      `json:"approvalDate"`
	AllocatedDate     string      `json:"allocatedDate"`
	LatestRenewalDate string      `json:"latestRenewalDate"`
	AssetID           string      `json:"assetId"`
	Amount            int         `json:"amount"`
	Duration          int         `json:"duration"` // years
	Price             float64     `json:"price"`
	Expiration        *string     `json:"expiration"` // nil until the first allocation
	Licenses          []string    `json:"licenses"`   // nil until the first allocation
}

// LicensesRequest is an allocation or a return of licenses of one order:
// the pending ALLOCATE and DEALLOCATE records and the input of SendLicenses,
// InitiateReturn and DeallocateLicensesFromAccount (spec §1.3). Requests
// that must equal a stored one are compared by the SHA-256 of their
// canonical JSON, so the field order here is part of the protocol.
type LicensesRequest struct {
	Account    string   `json:"account"`
	AssetID    string   `json:"assetId"`
	OrderID    string   `json:"orderId"`
	Expiration string   `json:"expiration"`
	Licenses   []string `json:"licenses"`
}

// SWID is a software identification tag reported on a leased license,
// kept in the lessee's implicit collection.
type SWID struct {
	PrimaryTag string `json:"primaryTag"` // equals the tag's tagId
	XML        string `json:"xml"`        // the SoftwareIdentity document
	OrderID    string `json:"orderId"`
	LicenseID  string `json:"licenseId"`
}

// TrustRecord is written into the requesting member's implicit collection
// by the transactions that commit that member (InitiateOrder, ApproveOrder,
// DenyOrder, InitiateReturn), so that a peer of that member must endorse
// them (DESIGN §11): the service provider cannot fake them.
type TrustRecord struct {
	TxID      string      `json:"txId"`
	Timestamp string      `json:"timestamp"` // Instant format
	Function  string      `json:"function"`  // e.g. "order:ApproveOrder"
	OrderID   string      `json:"orderId"`
	Account   string      `json:"account"`
	User      string      `json:"user"`             // the caller's enrollment ID (certificate common name)
	Status    OrderStatus `json:"status,omitempty"` // the order's status after the transaction
	Licenses  []string    `json:"licenses,omitempty"`
}

// Responses (spec §1.3).

// IDResponse carries the ID of the asset or order a function acted on.
type IDResponse struct {
	ID string `json:"id"`
}

// AssetResponse is the basic view of an asset.
type AssetResponse struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	NumAvailable int    `json:"numAvailable"`
	StartDate    string `json:"startDate"`
	EndDate      string `json:"endDate"`
}

// AssetDetailResponse is GetAsset's answer for callers holding
// read_asset_detail (the service provider's License Owner and Acquisition
// Officer); other callers get the AssetResponse fields only (spec §1.3: the
// last three fields are omitted).
type AssetDetailResponse struct {
	ID                string                                    `json:"id"`
	Name              string                                    `json:"name"`
	NumAvailable      int                                       `json:"numAvailable"`
	StartDate         string                                    `json:"startDate"`
	EndDate           string                                    `json:"endDate"`
	TotalAmount       int                                       `json:"totalAmount"`
	AvailableLicenses []string                                  `json:"availableLicenses"` // sorted
	AllocatedLicenses map[string]map[string][]LicenseExpiration `json:"allocatedLicenses"` // account → order → licenses (sorted)
}

// LicenseExpiration is one allocated license in AssetDetailResponse.
type LicenseExpiration struct {
	LicenseID  string `json:"licenseId"`
	Expiration string `json:"expiration"`
}

// AllocateLicensesResponse is GetLicensesToAllocateForOrder's answer.
type AllocateLicensesResponse struct {
	OrderID  string   `json:"orderId"`
	Account  string   `json:"account"`
	Licenses []string `json:"licenses"`
}

// Stored records that are not returned as they are.

// orderRecord is the part of an order that only the service provider's
// functions change; it lives in the service provider's collection. The
// status and the initiation and approval dates are separate records
// (orderStatusRecord, orderDate) because the requesting member's
// InitiateOrder, ApproveOrder and DenyOrder are endorsed by that member
// too, whose peers cannot read the service provider's values: those
// functions check the status through its hash and write the status and
// dates without reading the order (DESIGN §11).
type orderRecord struct {
	ID                string   `json:"id"`
	Account           string   `json:"account"`
	AssetID           string   `json:"assetId"`
	Amount            int      `json:"amount"`
	Duration          int      `json:"duration"`
	Price             float64  `json:"price"`
	AllocatedDate     string   `json:"allocatedDate"`
	LatestRenewalDate string   `json:"latestRenewalDate"`
	Expiration        *string  `json:"expiration"`
	Licenses          []string `json:"licenses"`
}

// orderStatusRecord is an order's status. Its encoding is a function of
// the order's key and status alone, so that a function can test the
// status by comparing hashes.
type orderStatusRecord struct {
	OrderID string      `json:"orderId"`
	Account string      `json:"account"`
	Status  OrderStatus `json:"status"`
}

// Kinds of order date records.
const (
	initiationDate = "initiationDate"
	approvalDate   = "approvalDate"
)

// licenseIndex maps an asset's license IDs to their markers, which are
// the keys of the License records. It is read to find a license by ID and
// written only when licenses are added or removed, never when they move.
type licenseIndex struct {
	Markers map[string]string `json:"markers"` // license ID → marker
}

// returnRecord is a pending return (DEALLOCATE). Until
// DeallocateLicensesFromAccount it is stored without RemovedFromAccount,
// so its encoding equals the LicensesRequest's and the request can be
// compared by hash; that function then marks it.
type returnRecord struct {
	Account            string   `json:"account"`
	AssetID            string   `json:"assetId"`
	OrderID            string   `json:"orderId"`
	Expiration         string   `json:"expiration"`
	Licenses           []string `json:"licenses"`
	RemovedFromAccount bool     `json:"removedFromAccount,omitempty"`
}

func (r *returnRecord) request() LicensesRequest {
	return LicensesRequest{Account: r.Account, AssetID: r.AssetID, OrderID: r.OrderID, Expiration: r.Expiration, Licenses: r.Licenses}
}

// LicenseMarker is the public tracking marker of a license (spec §1.3):
// the lowercase hex SHA-256 of salt, asset ID and license ID concatenated.
// It is the public world-state key whose history GetLicenseTxHistory
// reads, and it is embedded in the key of the license's private record.
func LicenseMarker(salt, assetID, licenseID string) string {
	h := sha256.Sum256([]byte(salt + assetID + licenseID))
	return hex.EncodeToString(h[:])
}

// markerValue is the value of a public marker key.
var markerValue = []byte{0}

// Composite-key object types. Service provider's collection:
// asset (assetId), licenses (assetId), license (assetId, marker), order,
// orderStatus (account, orderId), orderDate (account, orderId, kind),
// ALLOCATE and DEALLOCATE (orderId). A requesting member's collection:
// allocated and swid (orderId, licenseId), trust (orderId, txId).
const (
	keyAsset       = "asset"
	keyLicenses    = "licenses"
	keyLicense     = "license"
	keyOrder       = "order"
	keyOrderStatus = "orderStatus"
	keyOrderDate   = "orderDate"
	keyAllocate    = "ALLOCATE"
	keyDeallocate  = "DEALLOCATE"
	keyAllocated   = "allocated"
	keySWID        = "swid"
	keyTrust       = "trust"
)

// ImplicitCollection is the name of member m's implicit private data
// collection.
func ImplicitCollection(m string) string { return "_implicit_org_" + m }
