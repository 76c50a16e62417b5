package asset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// RequestKey is the transient key carrying a function's input: a JSON
// object (spec §1.5). Transient data is signed by the client but never
// stored in a block, which keeps license IDs and salts off the ledger.
const RequestKey = "request"

// Input limits.
const (
	// MaxRequestSize bounds the transient request.
	MaxRequestSize = contract.MaxValueSize
	// MaxIDLength bounds identifiers (asset, order and license IDs, salts,
	// SWID primary tags, dates) in bytes.
	MaxIDLength = 128
	// MaxNameLength bounds an asset name in bytes.
	MaxNameLength = 1024
	// MaxLicenses bounds the licenses of one asset, of one request and the
	// amount of one order.
	MaxLicenses = 10000
	// MaxDuration bounds a lease duration in years.
	MaxDuration = 100
	// MaxPrice bounds a quoted price.
	MaxPrice = 1e15
	// MaxSWIDSize bounds a SWID tag document (DESIGN §11).
	MaxSWIDSize = 1 << 20
)

// request is a decoded transient request. Fields are looked up by their
// exact (case-sensitive) name; unknown fields are ignored, as the
// reference chaincode's JSON parser does.
type request struct {
	fields map[string]json.RawMessage
}

// readRequest returns the function's transient request.
func readRequest(stub contract.Stub) (*request, error) {
	raw, ok := stub.GetTransient()[RequestKey]
	if !ok {
		return nil, fmt.Errorf("missing transient input %q: the function's input is a JSON object under that key", RequestKey)
	}
	return decodeRequest(raw)
}

// decodeRequest decodes a request: a JSON object of at most
// MaxRequestSize bytes.
func decodeRequest(raw []byte) (*request, error) {
	if len(raw) > MaxRequestSize {
		return nil, fmt.Errorf("request is %d bytes long (at most %d)", len(raw), MaxRequestSize)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return nil, errors.New("request must be a JSON object")
	}
	return &request{fields: fields}, nil
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(raw, []byte("null")) }

// value returns the raw field, "<name> cannot be null" when it is absent
// or null.
func (r *request) value(name string) (json.RawMessage, error) {
	raw, ok := r.fields[name]
	if !ok || isNull(raw) {
		return nil, fmt.Errorf("%s cannot be null", name)
	}
	return raw, nil
}

// present reports whether the field is given and not null.
func (r *request) present(name string) bool {
	raw, ok := r.fields[name]
	return ok && !isNull(raw)
}

// str returns a mandatory non-empty string field of at most max bytes.
func (r *request) str(name string, max int) (string, error) {
	raw, err := r.value(name)
	if err != nil {
		return "", err
	}
	return decodeString(name, raw, max)
}

func decodeString(name string, raw json.RawMessage, max int) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%s must be a string", name)
	}
	if s == "" {
		return "", fmt.Errorf("%s cannot be empty", name)
	}
	if len(s) > max {
		return "", fmt.Errorf("%s is %d bytes long (at most %d)", name, len(s), max)
	}
	return s, nil
}

// id returns a mandatory identifier field (checkID).
func (r *request) id(name string) (string, error) {
	s, err := r.str(name, MaxIDLength)
	if err != nil {
		return "", err
	}
	return s, checkID(name, s)
}

// optionalID returns an identifier field that may be absent or null.
func (r *request) optionalID(name string) (string, bool, error) {
	if !r.present(name) {
		return "", false, nil
	}
	s, err := r.id(name)
	return s, true, err
}

// account returns a mandatory member ID field.
func (r *request) account(name string) (string, error) {
	s, err := r.str(name, MaxIDLength)
	if err != nil {
		return "", err
	}
	if blossompolicy.ValidateMemberID(s) != nil {
		return "", fmt.Errorf("%s %s is not a member id: 1 to 128 ASCII letters, digits, '.', '-' or '_'", name, contract.QuoteKey(s))
	}
	return s, nil
}

// checkID checks an identifier: valid UTF-8 without control characters
// (which excludes U+0000, the composite-key separator) and without
// U+10FFFF (the composite-key range bound).
func checkID(name, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", name)
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f || c == utf8.MaxRune {
			return fmt.Errorf("%s contains the character %U, which is not allowed", name, c)
		}
	}
	return nil
}

// number returns a numeric field: a JSON number, or a string holding one
// (the reference clients send "100" for a price).
func (r *request) number(name string) (float64, error) {
	raw, err := r.value(name)
	if err != nil {
		return 0, err
	}
	text := string(raw)
	if len(raw) > 0 && raw[0] == '"' {
		if err := json.Unmarshal(raw, &text); err != nil {
			return 0, fmt.Errorf("%s must be a number", name)
		}
	} else if !json.Valid(raw) {
		return 0, fmt.Errorf("%s must be a number", name)
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%s must be a number", name)
	}
	return f, nil
}

// positiveInt returns an integer field in [1, max]: 0 is "<name> cannot be
// 0" (the reference text), a negative value "<name> must be greater than
// 0" (R-16).
func (r *request) positiveInt(name string, max int) (int, error) {
	f, err := r.number(name)
	if err != nil {
		return 0, err
	}
	switch {
	case f != math.Trunc(f):
		return 0, fmt.Errorf("%s must be an integer", name)
	case f == 0:
		return 0, fmt.Errorf("%s cannot be 0", name)
	case f < 0:
		return 0, fmt.Errorf("%s must be greater than 0", name)
	case f > float64(max):
		return 0, fmt.Errorf("%s must be at most %d", name, max)
	}
	return int(f), nil
}

// price returns the price field: a number in (0, MaxPrice].
func (r *request) price(name string) (float64, error) {
	f, err := r.number(name)
	if err != nil {
		return 0, err
	}
	switch {
	case f == 0:
		return 0, fmt.Errorf("%s cannot be 0", name)
	case f < 0:
		return 0, fmt.Errorf("%s must be greater than 0", name)
	case f > MaxPrice:
		return 0, fmt.Errorf("%s must be at most %g", name, float64(MaxPrice))
	}
	return f, nil
}

// array returns the elements of a mandatory array field of at most
// MaxLicenses elements.
func (r *request) array(name string) ([]json.RawMessage, error) {
	raw, err := r.value(name)
	if err != nil {
		return nil, err
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, fmt.Errorf("%s must be an array", name)
	}
	if len(elems) > MaxLicenses {
		return nil, fmt.Errorf("%s has %d elements (at most %d)", name, len(elems), MaxLicenses)
	}
	return elems, nil
}

// licenseIDs returns a mandatory array of license IDs; the array may be
// empty, an element may not.
func (r *request) licenseIDs(name string) ([]string, error) {
	elems, err := r.array(name)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(elems))
	for i, e := range elems {
		field := fmt.Sprintf("%s[%d]", name, i)
		if isNull(e) {
			return nil, fmt.Errorf("%s cannot be null", field)
		}
		s, err := decodeString(field, e, MaxIDLength)
		if err != nil {
			return nil, err
		}
		if err := checkID(field, s); err != nil {
			return nil, err
		}
		ids[i] = s
	}
	return ids, nil
}

// newLicense is a license given to AddAsset or AddLicenses.
type newLicense struct {
	ID   string
	Salt string
}

// newLicenses returns a mandatory array of {id, salt} objects (possibly
// empty). Error messages name the license by its position and ID, never
// by its salt.
func (r *request) newLicenses(name string) ([]newLicense, error) {
	elems, err := r.array(name)
	if err != nil {
		return nil, err
	}
	out := make([]newLicense, len(elems))
	for i, e := range elems {
		field := fmt.Sprintf("%s[%d]", name, i)
		if isNull(e) {
			return nil, fmt.Errorf("%s cannot be null", field)
		}
		lr, err := decodeRequest(e)
		if err != nil {
			return nil, fmt.Errorf("%s must be an object with id and salt", field)
		}
		id, err := lr.id("id")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		// The salt is a secret: its checks never quote it.
		salt, err := lr.id("salt")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		out[i] = newLicense{ID: id, Salt: salt}
	}
	return out, nil
}

// licensesRequest decodes the five mandatory fields of a LicensesRequest,
// in the order of spec §1.3.
func (r *request) licensesRequest() (LicensesRequest, error) {
	var lr LicensesRequest
	var err error
	if lr.Account, err = r.account("account"); err != nil {
		return lr, err
	}
	if lr.AssetID, err = r.id("assetId"); err != nil {
		return lr, err
	}
	if lr.OrderID, err = r.id("orderId"); err != nil {
		return lr, err
	}
	if lr.Expiration, err = r.id("expiration"); err != nil {
		return lr, err
	}
	if lr.Licenses, err = r.licenseIDs("licenses"); err != nil {
		return lr, err
	}
	return lr, nil
}

// orderRef is the {orderId, account} input of many order functions.
type orderRef struct {
	OrderID string
	Account string
}

// orderRef decodes orderId, then account.
func (r *request) orderRef() (orderRef, error) {
	id, err := r.id("orderId")
	if err != nil {
		return orderRef{}, err
	}
	acc, err := r.account("account")
	if err != nil {
		return orderRef{}, err
	}
	return orderRef{OrderID: id, Account: acc}, nil
}

// short returns s for an error message, cut to its first 64 bytes.
func short(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// firstDuplicate returns a value that occurs twice in ids.
func firstDuplicate(ids []string) (string, bool) {
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			return id, true
		}
		seen[id] = true
	}
	return "", false
}
