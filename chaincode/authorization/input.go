package authorization

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// Input limits. Records are canonical JSON, which may escape a control
// character into 6 bytes, so the limits keep every record under
// contract.MaxValueSize; ATOs growing with feedback are checked when
// encoded.
const (
	MaxMOUTextSize   = 512 << 10 // mou:UpdateMOU text
	MaxMemoSize      = 128 << 10 // ATO memo
	MaxArtifactsSize = 128 << 10 // ATO artifacts
	MaxCommentsSize  = 16 << 10  // one feedback's comments
	MaxReasonSize    = 16 << 10  // a vote's reason
)

// Transient keys of the ATO functions (spec §1.5: one raw UTF-8 string per
// field).
const (
	transientMemo            = "memo"
	transientArtifacts       = "artifacts"
	transientTargetAccountID = "targetAccountId"
	transientATOVersion      = "atoVersion"
	transientComments        = "comments"
)

// parseAccountID checks an account ID argument: a member ID that could
// name an account (blossompolicy.ValidateMemberID). The message quotes at
// most 64 bytes of the input.
func parseAccountID(field, s string) (string, error) {
	if blossompolicy.ValidateMemberID(s) != nil {
		return "", fmt.Errorf("invalid %s %s: an account id has 1 to 128 ASCII letters, digits, '.', '-' or '_'", field, contract.QuoteKey(s))
	}
	return s, nil
}

// checkText checks a free-text input: valid UTF-8 (so that the stored
// record equals the input) of at most max bytes.
func checkText(field, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%s is %d bytes long (at most %d)", field, len(s), max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", field)
	}
	return nil
}

// parseInt parses a decimal integer argument ("<field> must be an
// integer" otherwise, R-32).
func parseInt(field, s string) (int, error) {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%s must be an integer", field)
	}
	return int(n), nil
}

// parseBallot parses vote:Vote's value: "true" (yes) or "false" (no).
func parseBallot(s string) (bool, error) {
	switch s {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, errors.New("value must be true or false")
}

// parseStatus parses a statusChange at its place in InitiateVote's checks:
// "unknown Status: <s>" (quoting at most 64 bytes of s).
func parseStatus(s string) (Status, error) {
	if len(s) > 64 {
		return "", fmt.Errorf("unknown Status: %s...", strings.ToValidUTF8(s[:64], "\uFFFD"))
	}
	return blossompolicy.ParseStatus(strings.ToValidUTF8(s, "\uFFFD"))
}

// atoInput is the transient input of ato:CreateATO and ato:UpdateATO; a
// missing field is "".
type atoInput struct {
	Memo      string
	Artifacts string
}

// decodeATOInput reads the transient fields "memo" and "artifacts".
func decodeATOInput(transient map[string][]byte) (atoInput, error) {
	in := atoInput{Memo: string(transient[transientMemo]), Artifacts: string(transient[transientArtifacts])}
	if err := checkText(transientMemo, in.Memo, MaxMemoSize); err != nil {
		return atoInput{}, err
	}
	if err := checkText(transientArtifacts, in.Artifacts, MaxArtifactsSize); err != nil {
		return atoInput{}, err
	}
	return in, nil
}

// feedbackInput is the transient input of ato:SubmitFeedback.
type feedbackInput struct {
	TargetAccountID string
	ATOVersion      int
	Comments        string
}

// decodeFeedbackInput reads the transient fields "targetAccountId",
// "atoVersion" and "comments" with the reference's checks in order: each
// must be present and non-empty, then atoVersion must be an integer;
// then the target must be a possible account ID and the comments bounded.
func decodeFeedbackInput(transient map[string][]byte) (feedbackInput, error) {
	for _, field := range []string{transientTargetAccountID, transientATOVersion, transientComments} {
		if len(transient[field]) == 0 {
			return feedbackInput{}, fmt.Errorf("%s cannot be null or empty", field)
		}
	}
	version, err := parseInt(transientATOVersion, string(transient[transientATOVersion]))
	if err != nil {
		return feedbackInput{}, err
	}
	target, err := parseAccountID(transientTargetAccountID, string(transient[transientTargetAccountID]))
	if err != nil {
		return feedbackInput{}, err
	}
	comments := string(transient[transientComments])
	if err := checkText(transientComments, comments, MaxCommentsSize); err != nil {
		return feedbackInput{}, err
	}
	return feedbackInput{TargetAccountID: target, ATOVersion: version, Comments: comments}, nil
}
