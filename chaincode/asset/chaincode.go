package asset

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// Deployment names.
const (
	// ChaincodeName is the name the chaincode is deployed under.
	ChaincodeName = "asset"
	// AuthorizationChaincode is the chaincode, on the same channel, that
	// keeps the members' accounts.
	AuthorizationChaincode = "authorization"
	// AccountStatusFunction returns the calling member's account status.
	AccountStatusFunction = "account:GetAccountStatus"
	// AdminMSPParam is the definition parameter naming the service
	// provider (the BloSS@M admin member).
	AdminMSPParam = "adminMSP"
)

// New returns the asset chaincode. It holds no state of its own and is
// safe for concurrent use. Its Warmup prepares the JSON encoders and
// decoders of its records (see contract.Warmer), so that a wasm instance
// starts each transaction with them ready.
func New() contract.Chaincode {
	return contract.WithWarmup(router(), warmup)
}

// warmup encodes and decodes each record type once.
func warmup() {
	contract.WarmJSON([]Asset{{}}, []License{{}}, []AllocatedRecord{{}}, []Order{{}}, LicensesRequest{}, SWID{}, TrustRecord{}, IDResponse{},
		[]AssetResponse{{}}, AssetDetailResponse{}, []LicenseExpiration{{}}, AllocateLicensesResponse{}, request{}, []newLicense{{}}, orderRef{})
}

func router() contract.Chaincode {
	return contract.New(
		contract.Contract{Name: "asset", Functions: map[string]contract.Function{
			"AddAsset":            addAsset,
			"AddLicenses":         addLicenses,
			"RemoveLicenses":      removeLicenses,
			"UpdateEndDate":       updateEndDate,
			"GetAssets":           getAssets,
			"GetAsset":            getAsset,
			"GetLicenseTxHistory": getLicenseTxHistory,
		}},
		contract.Contract{Name: "order", Functions: map[string]contract.Function{
			"GetQuote":                      getQuote,
			"SendQuote":                     sendQuote,
			"InitiateOrder":                 initiateOrder,
			"ApproveOrder":                  approveOrder,
			"DenyOrder":                     denyOrder,
			"GetLicensesToAllocateForOrder": getLicensesToAllocateForOrder,
			"AllocateLicenses":              allocateLicenses,
			"GetAllocateRequestForOrder":    getAllocateRequestForOrder,
			"SendLicenses":                  sendLicenses,
			"InitiateReturn":                initiateReturn,
			"GetInitiatedReturnForOrder":    getInitiatedReturnForOrder,
			"DeallocateLicensesFromAccount": deallocateLicensesFromAccount,
			"DeallocateLicensesFromSP":      deallocateLicensesFromSP,
			"GetOrder":                      getOrder,
			"GetOrdersByAccount":            getOrdersByAccount,
			"GetOrdersByAccountAndAsset":    getOrdersByAccountAndAsset,
			"GetOrdersByAsset":              getOrdersByAsset,
			"GetAvailableLicensesForOrder":  getAvailableLicensesForOrder,
			"GetExpiredOrders":              getExpiredOrders,
		}},
		contract.Contract{Name: "swid", Functions: map[string]contract.Function{
			"ReportSWID":                   reportSWID,
			"DeleteSWID":                   deleteSWID,
			"GetSWID":                      getSWID,
			"GetLicensesWithSWIDsForOrder": getLicensesWithSWIDsForOrder,
		}},
		contract.Contract{Name: "ngac", Functions: map[string]contract.Function{
			"GetAllRoles":      getAllRoles,
			"GetAllPrivileges": getAllPrivileges,
		}},
	)
}

// errUnauthorized is the reference's refusal by the access decision.
var errUnauthorized = errors.New("unauthorized")

// txn is one function call: the stub, the service provider and the
// caller as the policy sees it, read once and only when needed.
type txn struct {
	stub   contract.Stub
	spColl string // the service provider's implicit collection
	policy *blossompolicy.AssetPolicy

	callerDone bool
	caller     blossompolicy.AssetCaller
	callerErr  error
	decisions  map[string]bool // account decisions on read_order, by account
}

// begin starts a function call: no positional arguments (the input is the
// transient request) and the adminMSP definition parameter.
func begin(stub contract.Stub, args [][]byte) (*txn, error) {
	if err := contract.ExpectArgs(args, 0); err != nil {
		return nil, fmt.Errorf("%w: the input is the transient %q", err, RequestKey)
	}
	admin, ok := stub.GetDefinitionParam(AdminMSPParam)
	if !ok || admin == "" {
		return nil, fmt.Errorf("the chaincode definition has no %q parameter naming the BloSS@M service provider", AdminMSPParam)
	}
	policy, err := blossompolicy.NewAssetPolicy(admin)
	if err != nil {
		return nil, fmt.Errorf("the chaincode definition parameter %q is invalid: %v", AdminMSPParam, err)
	}
	return &txn{stub: stub, spColl: ImplicitCollection(admin), policy: policy}, nil
}

// assetCaller returns the caller (spec §2.1): its role is checked first
// ("invalid role <role>"), then its member's account status is read from
// the authorization chaincode in this transaction (DESIGN §10).
func (tx *txn) assetCaller() (blossompolicy.AssetCaller, error) {
	if !tx.callerDone {
		tx.callerDone = true
		tx.caller, tx.callerErr = tx.readCaller()
	}
	return tx.caller, tx.callerErr
}

func (tx *txn) readCaller() (blossompolicy.AssetCaller, error) {
	role, found, err := tx.stub.GetAttribute(contract.RoleAttribute)
	if err != nil {
		return blossompolicy.AssetCaller{}, fmt.Errorf("reading the caller's %s attribute: %w", contract.RoleAttribute, err)
	}
	c := blossompolicy.AssetCaller{MSPID: tx.stub.GetMSPID(), Role: role}
	if err := tx.policy.CheckRole(c); err != nil {
		if !found {
			return c, errors.New("invalid role (the certificate has no blossom.role attribute)")
		}
		return c, err
	}
	if c.Status, err = tx.accountStatus(c.MSPID); err != nil {
		return c, err
	}
	return c, nil
}

// accountStatus calls account:GetAccountStatus of the authorization
// chaincode, which answers for the caller's member. A member without
// account is "account <MSP> does not exist".
func (tx *txn) accountStatus(msp string) (blossompolicy.Status, error) {
	payload, err := tx.stub.InvokeChaincode(AuthorizationChaincode, AccountStatusFunction, nil)
	if err != nil {
		var refused *contract.InvokeError
		if errors.As(err, &refused) {
			if strings.Contains(refused.Message, "does not exist") || strings.HasPrefix(refused.Message, "unknown Status") {
				return "", fmt.Errorf("account %s does not exist", msp)
			}
			return "", fmt.Errorf("reading the account status of %s: %s", msp, refused.Message)
		}
		return "", fmt.Errorf("reading the account status of %s: %w", msp, err)
	}
	text := strings.TrimSpace(string(payload))
	if strings.HasPrefix(text, `"`) {
		if err := json.Unmarshal([]byte(text), &text); err != nil {
			return "", fmt.Errorf("reading the account status of %s: malformed answer", msp)
		}
	}
	return blossompolicy.ParseStatus(text)
}

// allowAsset decides right on the asset object for the caller.
func (tx *txn) allowAsset(right string) (bool, error) {
	c, err := tx.assetCaller()
	if err != nil {
		return false, err
	}
	return tx.policy.DecideAsset(c, right)
}

// authorizeAsset requires right on the asset object: "unauthorized".
func (tx *txn) authorizeAsset(right string) error {
	ok, err := tx.allowAsset(right)
	if err != nil {
		return err
	}
	if !ok {
		return errUnauthorized
	}
	return nil
}

// allowAccount decides right on member account's object for the caller.
func (tx *txn) allowAccount(account, right string) (bool, error) {
	c, err := tx.assetCaller()
	if err != nil {
		return false, err
	}
	return tx.policy.DecideAccount(c, account, right)
}

// authorizeAccount requires right on account's object: "unauthorized".
func (tx *txn) authorizeAccount(account, right string) error {
	ok, err := tx.allowAccount(account, right)
	if err != nil {
		return err
	}
	if !ok {
		return errUnauthorized
	}
	return nil
}

// mayReadOrders is allowAccount(account, read_order), remembered per
// account for the listing functions.
func (tx *txn) mayReadOrders(account string) (bool, error) {
	if ok, done := tx.decisions[account]; done {
		return ok, nil
	}
	ok, err := tx.allowAccount(account, blossompolicy.RightReadOrder)
	if err != nil {
		return false, err
	}
	if tx.decisions == nil {
		tx.decisions = map[string]bool{}
	}
	tx.decisions[account] = ok
	return ok, nil
}

// callerUser returns the caller's enrollment ID (its certificate's common
// name) for trust records.
func (tx *txn) callerUser() (string, error) {
	msp, der := tx.stub.GetCreator()
	cert, err := contract.NewClientIdentity(msp, der).Certificate()
	if err != nil {
		return "", err
	}
	return cert.Subject.CommonName, nil
}

// Storage helpers. Records are contract.CanonicalJSON, so that a record
// rebuilt from a request hashes like the stored one (DESIGN §11).

func compositeKey(objectType string, attrs ...string) (string, error) {
	return contract.CreateCompositeKey(objectType, attrs)
}

func encodeRecord(what string, v any) ([]byte, error) {
	b, err := contract.CanonicalJSON(v)
	if err != nil {
		return nil, fmt.Errorf("encoding the %s: %w", what, err)
	}
	if len(b) > contract.MaxValueSize {
		return nil, fmt.Errorf("the %s would be %d bytes long (at most %d)", what, len(b), contract.MaxValueSize)
	}
	return b, nil
}

// recordHash is the SHA-256 of v's canonical JSON: what GetPrivateDataHash
// answers for a stored v.
func recordHash(what string, v any) ([]byte, error) {
	b, err := encodeRecord(what, v)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(b)
	return h[:], nil
}

// getPrivate decodes the private value of key into v; found is false when
// the key is absent.
func (tx *txn) getPrivate(coll, key, what string, v any) (found bool, err error) {
	b, err := tx.stub.GetPrivateData(coll, key)
	if err != nil || b == nil {
		return false, err
	}
	return true, jsonUnmarshal(b, v, what)
}

// jsonUnmarshal decodes a stored record.
func jsonUnmarshal(b []byte, v any, what string) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("stored %s is malformed: %v", what, err)
	}
	return nil
}

func (tx *txn) putPrivate(coll, key, what string, v any) error {
	b, err := encodeRecord(what, v)
	if err != nil {
		return err
	}
	return tx.stub.PutPrivateData(coll, key, b)
}

// privateExists tests a private key through its hash, which every peer of
// the channel can answer (an empty hash is an absent key, R-03).
func (tx *txn) privateExists(coll, key string) (bool, error) {
	h, err := tx.stub.GetPrivateDataHash(coll, key)
	return len(h) > 0, err
}

// privateEquals tests whether the private value of key is the canonical
// JSON of v, through its hash.
func (tx *txn) privateEquals(coll, key, what string, v any) (bool, error) {
	h, err := tx.stub.GetPrivateDataHash(coll, key)
	if err != nil || len(h) == 0 {
		return false, err
	}
	want, err := recordHash(what, v)
	if err != nil {
		return false, err
	}
	return string(h) == string(want), nil
}

// scanPrivate calls fn with every value of the composite keys of
// objectType under attrs in coll, in key order. Private range reads are
// allowed only in functions that write nothing.
func (tx *txn) scanPrivate(coll, objectType string, attrs []string, fn func(key string, value []byte) error) error {
	it, err := tx.stub.GetPrivateDataByPartialCompositeKey(coll, objectType, attrs)
	if err != nil {
		return err
	}
	defer it.Close()
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return err
		}
		if err := fn(kv.Key, kv.Value); err != nil {
			return err
		}
	}
	return nil
}

// response encodes a function's JSON result.
func response(v any) ([]byte, error) {
	b, err := contract.CanonicalJSON(v)
	if err != nil {
		return nil, fmt.Errorf("encoding the response: %w", err)
	}
	return b, nil
}
