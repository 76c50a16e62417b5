package asset

import (
	"errors"
	"fmt"

	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// The asset contract (spec §2.3.1). Everything here is endorsed by the
// service provider alone: assets and licenses live in its collection.

// errDuplicateLicenses refuses a request naming a license twice.
var errDuplicateLicenses = errors.New("duplicate licenses are not allowed")

func noAsset(assetID string) error { return fmt.Errorf("asset with id %s does not exist", assetID) }

// addAsset is asset:AddAsset {name, endDate, licenses: [{id, salt}]}: the
// License Owner adds an asset (ID = tx ID) with its first licenses.
func addAsset(stub contract.Stub, args [][]byte) ([]byte, error) {
	tx, err := begin(stub, args)
	if err != nil {
		return nil, err
	}
	req, err := readRequest(stub)
	if err != nil {
		return nil, err
	}
	name, err := req.str("name", MaxNameLength)
	if err != nil {
		return nil, err
	}
	endDate, err := req.id("endDate")
	if err != nil {
		return nil, err
	}
	licenses, err := req.newLicenses("licenses")
	if err != nil {
		return nil, err
	}
	if err := tx.authorizeAsset(blossompolicy.RightWriteAsset); err != nil {
		return nil, err
	}
	if _, err := parseInputDate("endDate", endDate); err != nil {
		return nil, err
	}
	assetID := stub.GetTxID()
	if err := checkID("asset id", assetID); err != nil {
		return nil, err
	}
	existing, err := tx.getAsset(assetID)
	if err != nil {
		return nil, err
	}
	if existing != nil {
		return nil, fmt.Errorf("asset with id %s already exists", assetID)
	}
	idx := &licenseIndex{Markers: map[string]string{}}
	if err := tx.addLicensesTo(assetID, idx, licenses); err != nil {
		return nil, err
	}
	a := &Asset{ID: assetID, Name: name, StartDate: formatInstant(stub.GetTxTimestamp()), EndDate: endDate}
	if err := tx.putAsset(a); err != nil {
		return nil, err
	}
	return response(IDResponse{ID: assetID})
}

// beginAssetWrite opens a License Owner's change to an existing asset's
// record, with the spec's check order: arguments, the write_asset
// privilege, then the request and its assetId.
func beginAssetWrite(stub contract.Stub, args [][]byte) (*txn, *request, string, error) {
	tx, err := begin(stub, args)
	if err != nil {
		return nil, nil, "", err
	}
	if err := tx.authorizeAsset(blossompolicy.RightWriteAsset); err != nil {
		return nil, nil, "", err
	}
	req, err := readRequest(stub)
	if err != nil {
		return nil, nil, "", err
	}
	assetID, err := req.id("assetId")
	if err != nil {
		return nil, nil, "", err
	}
	return tx, req, assetID, nil
}

// addLicenses is asset:AddLicenses {assetId, licenses: [{id, salt}]}.
func addLicenses(stub contract.Stub, args [][]byte) ([]byte, error) {
	tx, req, assetID, err := beginAssetWrite(stub, args)
	if err != nil {
		return nil, err
	}
	licenses, err := req.newLicenses("licenses")
	if err != nil {
		return nil, err
	}
	if len(licenses) == 0 {
		return nil, errors.New("licenses cannot be empty")
	}
	if _, err := tx.existingAsset(assetID); err != nil {
		return nil, err
	}
	idx, err := tx.getLicenseIndex(assetID)
	if err != nil {
		return nil, err
	}
	return nil, tx.addLicensesTo(assetID, idx, licenses)
}

// addLicensesTo checks and writes new licenses of an asset: no ID twice,
// none already in idx, a marker that no other license uses, at most
// MaxLicenses per asset. It writes the records, the public markers and the
// updated index.
func (tx *txn) addLicensesTo(assetID string, idx *licenseIndex, licenses []newLicense) error {
	ids := make([]string, len(licenses))
	for i, l := range licenses {
		ids[i] = l.ID
	}
	if _, dup := firstDuplicate(ids); dup {
		return errDuplicateLicenses
	}
	if n := len(idx.Markers) + len(licenses); n > MaxLicenses {
		return fmt.Errorf("asset %s would have %d licenses (at most %d)", assetID, n, MaxLicenses)
	}
	used := make(map[string]bool, len(idx.Markers)+len(licenses))
	for _, m := range idx.Markers {
		used[m] = true
	}
	markers := make([]string, len(licenses))
	for i, l := range licenses {
		if _, ok := idx.Markers[l.ID]; ok {
			return fmt.Errorf("license %s already exists", l.ID)
		}
		m := LicenseMarker(l.Salt, assetID, l.ID)
		taken := used[m]
		if !taken {
			v, err := tx.stub.GetState(m)
			if err != nil {
				return err
			}
			taken = v != nil
		}
		if taken {
			return fmt.Errorf("license %s cannot be added: its tracking marker is already in use, choose another salt", l.ID)
		}
		used[m] = true
		markers[i] = m
	}
	for i, l := range licenses {
		if err := tx.putLicense(assetID, markers[i], &License{ID: l.ID, Salt: l.Salt}); err != nil {
			return err
		}
		idx.Markers[l.ID] = markers[i]
	}
	return tx.putLicenseIndex(assetID, idx)
}

// removeLicenses is asset:RemoveLicenses {assetId, licenses: [id]}: the
// License Owner removes available licenses.
func removeLicenses(stub contract.Stub, args [][]byte) ([]byte, error) {
	tx, req, assetID, err := beginAssetWrite(stub, args)
	if err != nil {
		return nil, err
	}
	ids, err := req.licenseIDs("licenses")
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, errors.New("licenses cannot be empty")
	}
	if _, err := tx.existingAsset(assetID); err != nil {
		return nil, err
	}
	if _, dup := firstDuplicate(ids); dup {
		return nil, errDuplicateLicenses
	}
	idx, err := tx.getLicenseIndex(assetID)
	if err != nil {
		return nil, err
	}
	markers := make([]string, len(ids))
	for i, id := range ids {
		l, marker, err := tx.findLicense(idx, assetID, id)
		if err != nil {
			return nil, err
		}
		if l == nil {
			return nil, fmt.Errorf("license %s does not exist", id)
		}
		if l.Allocated != nil {
			return nil, fmt.Errorf("license %s is allocated to %s", id, l.Allocated.Account)
		}
		markers[i] = marker
	}
	for i, id := range ids {
		key, err := licenseKey(assetID, markers[i])
		if err != nil {
			return nil, err
		}
		if err := stub.DelPrivateData(tx.spColl, key); err != nil {
			return nil, err
		}
		if err := stub.DelState(markers[i]); err != nil {
			return nil, err
		}
		delete(idx.Markers, id)
	}
	return nil, tx.putLicenseIndex(assetID, idx)
}

// updateEndDate is asset:UpdateEndDate {assetId, newEndDate}.
func updateEndDate(stub contract.Stub, args [][]byte) ([]byte, error) {
	tx, req, assetID, err := beginAssetWrite(stub, args)
	if err != nil {
		return nil, err
	}
	newEndDate, err := req.id("newEndDate")
	if err != nil {
		return nil, err
	}
	a, err := tx.existingAsset(assetID)
	if err != nil {
		return nil, err
	}
	if _, err := parseInputDate("newEndDate", newEndDate); err != nil {
		return nil, err
	}
	a.EndDate = newEndDate
	return nil, tx.putAsset(a)
}

// getAssets is asset:GetAssets: every asset, basic view, by asset ID.
func getAssets(stub contract.Stub, args [][]byte) ([]byte, error) {
	tx, err := begin(stub, args)
	if err != nil {
		return nil, err
	}
	if err := tx.authorizeAsset(blossompolicy.RightReadAssets); err != nil {
		return nil, err
	}
	var assets []Asset
	err = tx.scanPrivate(tx.spColl, keyAsset, nil, func(_ string, v []byte) error {
		var a Asset
		if err := jsonUnmarshal(v, &a, "asset"); err != nil {
			return err
		}
		assets = append(assets, a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]AssetResponse, 0, len(assets))
	for _, a := range assets {
		licenses, err := tx.scanLicenses(a.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, basicView(&a, licenses))
	}
	return response(out)
}

func basicView(a *Asset, licenses []License) AssetResponse {
	n := 0
	for _, l := range licenses {
		if l.Allocated == nil {
			n++
		}
	}
	return AssetResponse{ID: a.ID, Name: a.Name, NumAvailable: n, StartDate: a.StartDate, EndDate: a.EndDate}
}

// getAsset is asset:GetAsset {assetId}: the detail view for holders of
// read_asset_detail, else the basic view for holders of read_assets. The
// caller is authorized before the asset is looked up.
func getAsset(stub contract.Stub, args [][]byte) ([]byte, error) {
	tx, err := begin(stub, args)
	if err != nil {
		return nil, err
	}
	req, err := readRequest(stub)
	if err != nil {
		return nil, err
	}
	assetID, err := req.id("assetId")
	if err != nil {
		return nil, err
	}
	detail, err := tx.allowAsset(blossompolicy.RightReadAssetDetail)
	if err != nil {
		return nil, err
	}
	if !detail {
		if err := tx.authorizeAsset(blossompolicy.RightReadAssets); err != nil {
			return nil, err
		}
	}
	a, err := tx.existingAsset(assetID)
	if err != nil {
		return nil, err
	}
	licenses, err := tx.scanLicenses(assetID)
	if err != nil {
		return nil, err
	}
	basic := basicView(a, licenses)
	if !detail {
		return response(basic)
	}
	out := AssetDetailResponse{
		ID: basic.ID, Name: basic.Name, NumAvailable: basic.NumAvailable, StartDate: basic.StartDate, EndDate: basic.EndDate,
		TotalAmount: len(licenses), AvailableLicenses: []string{}, AllocatedLicenses: map[string]map[string][]LicenseExpiration{},
	}
	for _, l := range licenses { // sorted by license ID
		if l.Allocated == nil {
			out.AvailableLicenses = append(out.AvailableLicenses, l.ID)
			continue
		}
		byOrder := out.AllocatedLicenses[l.Allocated.Account]
		if byOrder == nil {
			byOrder = map[string][]LicenseExpiration{}
			out.AllocatedLicenses[l.Allocated.Account] = byOrder
		}
		byOrder[l.Allocated.OrderID] = append(byOrder[l.Allocated.OrderID], LicenseExpiration{LicenseID: l.ID, Expiration: l.Allocated.Expiration})
	}
	return response(out)
}

// getLicenseTxHistory is asset:GetLicenseTxHistory {assetId, licenseId}:
// the IDs of the transactions that wrote the license's public marker,
// newest first.
func getLicenseTxHistory(stub contract.Stub, args [][]byte) ([]byte, error) {
	tx, err := begin(stub, args)
	if err != nil {
		return nil, err
	}
	req, err := readRequest(stub)
	if err != nil {
		return nil, err
	}
	assetID, err := req.id("assetId")
	if err != nil {
		return nil, err
	}
	licenseID, err := req.id("licenseId")
	if err != nil {
		return nil, err
	}
	if err := tx.authorizeAsset(blossompolicy.RightReadAssetDetail); err != nil {
		return nil, err
	}
	idx, err := tx.getLicenseIndex(assetID)
	if err != nil {
		return nil, err
	}
	l, marker, err := tx.findLicense(idx, assetID, licenseID)
	if err != nil {
		return nil, err
	}
	if l == nil {
		return nil, fmt.Errorf("license %s does not exist for asset %s", licenseID, assetID)
	}
	it, err := stub.GetHistoryForKey(marker)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	txIDs := []string{}
	for it.HasNext() {
		m, err := it.Next()
		if err != nil {
			return nil, err
		}
		txIDs = append(txIDs, m.TxID)
	}
	return response(txIDs)
}
