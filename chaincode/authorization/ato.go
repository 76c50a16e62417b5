package authorization

import (
	"errors"
	"fmt"

	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// getATO returns member m's ATO from its implicit collection, or nil if it
// has none. Only peers of m hold the collection.
func getATO(stub contract.Stub, m string) (*ATO, error) {
	data, err := stub.GetPrivateData(ImplicitCollection(m), atoKey(m))
	if err != nil || data == nil {
		return nil, err
	}
	return decodeATO(atoKey(m), data)
}

func putATO(stub contract.Stub, m string, ato *ATO) error {
	b, err := encode("ATO of "+m, ato)
	if err != nil {
		return err
	}
	return stub.PutPrivateData(ImplicitCollection(m), atoKey(m), b)
}

func noATO(m string) error { return fmt.Errorf("%s has not created an ATO yet", m) }

// authorizeWriteATO is the check of CreateATO and UpdateATO: the caller's
// Authorizing Official writes its own member's ATO, whatever its status.
func authorizeWriteATO(stub contract.Stub) (*blossompolicy.AuthorizationPolicy, creator, error) {
	pol, err := loadPolicy(stub)
	if err != nil {
		return nil, creator{}, err
	}
	c, err := getCreator(stub)
	if err != nil {
		return nil, creator{}, err
	}
	m := c.MSPID
	if err := authorize(pol, c, blossompolicy.RightWriteATO, blossompolicy.AccountTarget(m), "cid is not authorized to write the ATO for account "+m); err != nil {
		return nil, creator{}, err
	}
	return pol, c, nil
}

// authorizeReadATO is the check of GetATO(target) (and the first part of
// SubmitFeedback's): the target itself, or any AUTHORIZED member. A target
// that never signed the MOU has no ATO.
func authorizeReadATO(pol *blossompolicy.AuthorizationPolicy, c creator, target string) error {
	err := authorize(pol, c, blossompolicy.RightReadATO, blossompolicy.AccountTarget(target), "cid is not authorized to read the ATO of account "+target)
	if errors.Is(err, blossompolicy.ErrUnknownObject) {
		return noATO(target)
	}
	return err
}

// createATO is ato:CreateATO (spec §3.3): the caller member's ATO starts
// again at version 1, with a new id and no feedback. Transient "memo" and
// "artifacts" are optional.
func createATO(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 0); err != nil {
		return nil, err
	}
	in, err := decodeATOInput(stub.GetTransient())
	if err != nil {
		return nil, err
	}
	_, c, err := authorizeWriteATO(stub)
	if err != nil {
		return nil, err
	}
	ts := formatInstant(stub.GetTxTimestamp())
	ato := &ATO{
		ID:                   stub.GetTxID(),
		CreationTimestamp:    ts,
		LastUpdatedTimestamp: ts,
		Version:              1,
		Memo:                 in.Memo,
		Artifacts:            in.Artifacts,
		Feedback:             []Feedback{},
	}
	if err := putATO(stub, c.MSPID, ato); err != nil {
		return nil, err
	}
	return nil, setEventJSON(stub, EventCreateATO, atoEvent{Account: c.MSPID})
}

// updateATO is ato:UpdateATO: the next version of the caller member's
// ATO; memo and artifacts are replaced only by non-empty values, feedback
// is kept.
func updateATO(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 0); err != nil {
		return nil, err
	}
	in, err := decodeATOInput(stub.GetTransient())
	if err != nil {
		return nil, err
	}
	pol, c, err := authorizeWriteATO(stub)
	if err != nil {
		return nil, err
	}
	m := c.MSPID
	if err := authorizeReadATO(pol, c, m); err != nil {
		return nil, err
	}
	ato, err := getATO(stub, m)
	if err != nil {
		return nil, err
	}
	if ato == nil {
		return nil, noATO(m)
	}
	ato.Version++
	ato.LastUpdatedTimestamp = formatInstant(stub.GetTxTimestamp())
	if in.Memo != "" {
		ato.Memo = in.Memo
	}
	if in.Artifacts != "" {
		ato.Artifacts = in.Artifacts
	}
	if err := putATO(stub, m, ato); err != nil {
		return nil, err
	}
	return nil, setEventJSON(stub, EventUpdateATO, atoEvent{Account: m})
}

// getATOFn is ato:GetATO(accountId); it must run on a peer of the
// account's member.
func getATOFn(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 1); err != nil {
		return nil, err
	}
	target, err := parseAccountID("accountId", string(args[0]))
	if err != nil {
		return nil, err
	}
	pol, err := loadPolicy(stub)
	if err != nil {
		return nil, err
	}
	c, err := getCreator(stub)
	if err != nil {
		return nil, err
	}
	if err := authorizeReadATO(pol, c, target); err != nil {
		return nil, err
	}
	ato, err := getATO(stub, target)
	if err != nil {
		return nil, err
	}
	if ato == nil {
		return nil, noATO(target)
	}
	return marshalResponse(ato)
}

// submitFeedback is ato:SubmitFeedback: a comment on the current version
// of the target's ATO, appended in the target's implicit collection (so a
// peer of the target must endorse).
func submitFeedback(stub contract.Stub, args [][]byte) ([]byte, error) {
	if err := contract.ExpectArgs(args, 0); err != nil {
		return nil, err
	}
	in, err := decodeFeedbackInput(stub.GetTransient())
	if err != nil {
		return nil, err
	}
	target := in.TargetAccountID
	pol, err := loadPolicy(stub)
	if err != nil {
		return nil, err
	}
	c, err := getCreator(stub)
	if err != nil {
		return nil, err
	}
	if err := authorizeReadATO(pol, c, target); err != nil {
		return nil, err
	}
	ato, err := getATO(stub, target)
	if err != nil {
		return nil, err
	}
	if ato == nil {
		return nil, noATO(target)
	}
	if in.ATOVersion != ato.Version {
		return nil, fmt.Errorf("submitting feedback on incorrect ATO version: current version %d, got %d", ato.Version, in.ATOVersion)
	}
	if err := authorize(pol, c, blossompolicy.RightSubmitFeedback, blossompolicy.AccountTarget(target), "cid is not authorized to submit feedback on "+target); err != nil {
		return nil, err
	}
	ato.Feedback = append(ato.Feedback, Feedback{ATOVersion: in.ATOVersion, AccountID: c.MSPID, Comments: in.Comments})
	if err := putATO(stub, target, ato); err != nil {
		return nil, err
	}
	return nil, setEventJSON(stub, EventSubmitFeedback, submitFeedbackEvent{TargetAccountID: target, CommenterAccountID: c.MSPID})
}
