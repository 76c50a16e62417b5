package asset

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// The swid contract (spec §2.3.3): SWID tags of leased licenses, kept in
// the requesting member's collection and endorsed by that member.

// maxSWIDDepth bounds the element nesting of a SWID tag.
const maxSWIDDepth = 64

// ValidateSWID checks a reported SWID tag (DESIGN §11): doc is at most
// MaxSWIDSize bytes of well-formed XML whose single root element is a
// SoftwareIdentity (in any namespace) with non-empty tagId, name and
// version attributes, and primaryTag equals its tagId. A pointer to a tag
// (a URL, a file name) is refused. DOCTYPE declarations are refused. The
// error is "invalid SWID tag: <reason>".
func ValidateSWID(primaryTag, doc string) error {
	if err := validateSWID(primaryTag, doc); err != nil {
		return fmt.Errorf("invalid SWID tag: %w", err)
	}
	return nil
}

func validateSWID(primaryTag, doc string) error {
	if len(doc) > MaxSWIDSize {
		return fmt.Errorf("xml is %d bytes long (at most %d)", len(doc), MaxSWIDSize)
	}
	if !strings.HasPrefix(strings.TrimLeft(doc, " \t\r\n\ufeff"), "<") {
		return errors.New("xml must be the SoftwareIdentity document itself, not a pointer to it")
	}
	dec := xml.NewDecoder(strings.NewReader(doc))
	dec.Strict = true
	depth := 0
	var root *xml.StartElement
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("xml is not well-formed: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				if root != nil {
					return errors.New("xml has more than one root element")
				}
				t := t.Copy()
				root = &t
			}
			depth++
			if depth > maxSWIDDepth {
				return fmt.Errorf("xml nests elements more than %d deep", maxSWIDDepth)
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && strings.Trim(string(t), " \t\r\n\ufeff") != "" {
				return errors.New("xml has text outside the root element")
			}
		case xml.Directive:
			return errors.New("xml declarations such as DOCTYPE are not allowed")
		}
	}
	if root == nil {
		return errors.New("xml has no root element")
	}
	if depth != 0 {
		return errors.New("xml is not well-formed: unclosed element")
	}
	if root.Name.Local != "SoftwareIdentity" {
		return fmt.Errorf("the root element is %s, not SoftwareIdentity", short(root.Name.Local))
	}
	attrs := map[string]string{}
	for _, a := range root.Attr {
		if a.Name.Space == "" {
			attrs[a.Name.Local] = a.Value
		}
	}
	for _, name := range []string{"tagId", "name", "version"} {
		if strings.TrimSpace(attrs[name]) == "" {
			return fmt.Errorf("SoftwareIdentity has no %s", name)
		}
	}
	if primaryTag != attrs["tagId"] {
		return fmt.Errorf("primaryTag %s does not equal the tagId %s", short(primaryTag), short(attrs["tagId"]))
	}
	return nil
}

// swidRef is the {account, orderId, licenseId} input of DeleteSWID and
// GetSWID.
func (r *request) swidRef() (account, orderID, licenseID string, err error) {
	if account, err = r.account("account"); err != nil {
		return
	}
	if orderID, err = r.id("orderId"); err != nil {
		return
	}
	licenseID, err = r.id("licenseId")
	return
}

func noSWID(orderID, licenseID string) error {
	return fmt.Errorf("SWID for license %s in order %s does not exist", licenseID, orderID)
}

// reportSWID is swid:ReportSWID {account, primaryTag, xml, orderId,
// licenseId}: the member's Technical Point of Contact reports the SWID
// tag of a software installed under a leased license (replacing an
// earlier report).
func reportSWID(stub contract.Stub, args [][]byte) ([]byte, error) {
	tx, err := begin(stub, args)
	if err != nil {
		return nil, err
	}
	req, err := readRequest(stub)
	if err != nil {
		return nil, err
	}
	account, err := req.account("account")
	if err != nil {
		return nil, err
	}
	primaryTag, err := req.id("primaryTag")
	if err != nil {
		return nil, err
	}
	// The size is checked by ValidateSWID (xml cannot be empty either).
	doc, err := req.str("xml", MaxRequestSize)
	if err != nil {
		return nil, err
	}
	orderID, err := req.id("orderId")
	if err != nil {
		return nil, err
	}
	licenseID, err := req.id("licenseId")
	if err != nil {
		return nil, err
	}
	if err := ValidateSWID(primaryTag, doc); err != nil {
		return nil, err
	}
	if err := tx.authorizeAccount(account, blossompolicy.RightWriteSWID); err != nil {
		return nil, err
	}
	coll := ImplicitCollection(account)
	aKey, err := allocatedKey(orderID, licenseID)
	if err != nil {
		return nil, err
	}
	leased, err := tx.privateExists(coll, aKey)
	if err != nil {
		return nil, err
	}
	if !leased {
		return nil, errors.New("license not found")
	}
	key, err := swidKey(orderID, licenseID)
	if err != nil {
		return nil, err
	}
	return nil, tx.putPrivate(coll, key, "SWID", &SWID{PrimaryTag: primaryTag, XML: doc, OrderID: orderID, LicenseID: licenseID})
}

// deleteSWID is swid:DeleteSWID {account, orderId, licenseId}.
func deleteSWID(stub contract.Stub, args [][]byte) ([]byte, error) {
	tx, err := begin(stub, args)
	if err != nil {
		return nil, err
	}
	req, err := readRequest(stub)
	if err != nil {
		return nil, err
	}
	account, orderID, licenseID, err := req.swidRef()
	if err != nil {
		return nil, err
	}
	if err := tx.authorizeAccount(account, blossompolicy.RightWriteSWID); err != nil {
		return nil, err
	}
	coll := ImplicitCollection(account)
	key, err := swidKey(orderID, licenseID)
	if err != nil {
		return nil, err
	}
	exists, err := tx.privateExists(coll, key)
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, noSWID(orderID, licenseID)
	}
	return nil, stub.DelPrivateData(coll, key)
}

// getSWID is swid:GetSWID {account, orderId, licenseId}.
func getSWID(stub contract.Stub, args [][]byte) ([]byte, error) {
	tx, err := begin(stub, args)
	if err != nil {
		return nil, err
	}
	req, err := readRequest(stub)
	if err != nil {
		return nil, err
	}
	account, orderID, licenseID, err := req.swidRef()
	if err != nil {
		return nil, err
	}
	if err := tx.authorizeAccount(account, blossompolicy.RightReadSWID); err != nil {
		return nil, err
	}
	key, err := swidKey(orderID, licenseID)
	if err != nil {
		return nil, err
	}
	var s SWID
	found, err := tx.getPrivate(ImplicitCollection(account), key, "SWID", &s)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, noSWID(orderID, licenseID)
	}
	return response(s)
}

// getLicensesWithSWIDsForOrder is swid:GetLicensesWithSWIDsForOrder
// {orderId, account}: the IDs of the order's licenses that have a SWID
// tag.
func getLicensesWithSWIDsForOrder(stub contract.Stub, args [][]byte) ([]byte, error) {
	return leasedLicenses(stub, args, true)
}

// getAllRoles is ngac:GetAllRoles.
func getAllRoles(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 0); err != nil {
		return nil, err
	}
	return response(blossompolicy.AssetRoles())
}

// getAllPrivileges is ngac:GetAllPrivileges.
func getAllPrivileges(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 0); err != nil {
		return nil, err
	}
	return response(blossompolicy.AssetPrivileges())
}
