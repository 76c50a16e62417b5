package authorization

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// Status is an account status: blossompolicy.Authorized, Pending or
// Unauthorized (spec §1.1).
type Status = blossompolicy.Status

// Account is one member's account (spec §1.2), stored under
// "account:<MSP>".
type Account struct {
	ID         string `json:"id"`         // the member's MSP ID
	Status     Status `json:"status"`     // current status
	MOUVersion int    `json:"mouVersion"` // latest MOU version signed; 0 for the admin after Bootstrap
	Joined     bool   `json:"joined"`     // the member declared its intent to join (informational)
}

// AccountHistorySnapshot is one entry of account:GetAccountHistory: the
// account as written by transaction TxID at Timestamp (Java
// Instant.toString format).
type AccountHistorySnapshot struct {
	TxID      string  `json:"txID"`
	Timestamp string  `json:"timestamp"`
	Account   Account `json:"account"`
}

// MOU is the consortium's Memorandum of Understanding, stored under "mou".
type MOU struct {
	Text      string `json:"text"`
	Version   int    `json:"version"`   // 1 on first publication, +1 per update
	Timestamp string `json:"timestamp"` // timestamp of the last update
}

// ATO is a member's Authority To Operate package, stored in its implicit
// collection under "ato:<MSP>".
type ATO struct {
	ID                   string     `json:"id"` // tx ID of the CreateATO
	CreationTimestamp    string     `json:"creationTimestamp"`
	LastUpdatedTimestamp string     `json:"lastUpdatedTimestamp"`
	Version              int        `json:"version"` // 1 after CreateATO, +1 per UpdateATO
	Memo                 string     `json:"memo"`
	Artifacts            string     `json:"artifacts"`
	Feedback             []Feedback `json:"feedback"` // in submission order; never null
}

// Feedback is one member's comment on a version of an ATO.
type Feedback struct {
	ATOVersion int    `json:"atoVersion"`
	AccountID  string `json:"accountId"` // the commenter's MSP ID
	Comments   string `json:"comments"`
}

// Threshold is the share of yes votes a vote must exceed to pass.
type Threshold string

const (
	// Majority: more than half of the voters (votes on ordinary members).
	Majority Threshold = "MAJORITY"
	// SuperMajority: more than 66% of the voters (votes on the admin member).
	SuperMajority Threshold = "SUPER_MAJORITY"
)

// exceeds reports whether yes/voters is strictly greater than the
// threshold (0.5 or 0.66), in integer arithmetic.
func (t Threshold) exceeds(yes, voters int) bool {
	if t == SuperMajority {
		return 100*yes > 66*voters
	}
	return 2*yes > voters
}

// Result is the state of a vote.
type Result string

const (
	Ongoing Result = "ONGOING"
	Passed  Result = "PASSED"
	Failed  Result = "FAILED"
	Aborted Result = "ABORTED" // ended by vote:AbortOngoingVote
)

// Vote is a ballot on one member's status, stored under "vote:<target>".
type Vote struct {
	ID                  string          `json:"id"` // tx ID of the InitiateVote
	InitiatingAccountID string          `json:"initiatingAccountId"`
	TargetAccountID     string          `json:"targetAccountId"`
	StatusChange        Status          `json:"statusChange"` // the target's status if the vote passes
	Reason              string          `json:"reason"`
	Threshold           Threshold       `json:"threshold"`
	Voters              []string        `json:"voters"`         // the target, then the members AUTHORIZED at initiation
	SubmittedVotes      map[string]bool `json:"submittedVotes"` // latest ballot per voter; never null
	Result              Result          `json:"result"`
}

// outcome is the state of a vote's count.
type outcome int

const (
	undecided outcome = iota
	passed
	failed
)

// count applies spec §1.2's vote arithmetic: with N voters, Y yes ballots
// and V ballots, the vote passed when Y/N exceeds the threshold and failed
// when even N-V more yes ballots could not make it pass. Only ballots of
// voters count.
func (v *Vote) count() outcome {
	n, yes, cast := len(v.Voters), 0, 0
	for _, m := range v.Voters {
		if b, ok := v.SubmittedVotes[m]; ok {
			cast++
			if b {
				yes++
			}
		}
	}
	switch {
	case n == 0:
		return undecided
	case v.Threshold.exceeds(yes, n):
		return passed
	case !v.Threshold.exceeds(n-cast+yes, n):
		return failed
	}
	return undecided
}

// Event payloads (spec §1.2; JSON ).
type (
	signMOUEvent struct {
		Account string `json:"account"`
		Version int    `json:"version"`
	}
	atoEvent struct {
		Account string `json:"account"`
	}
	submitFeedbackEvent struct {
		TargetAccountID    string `json:"targetAccountId"`
		CommenterAccountID string `json:"commenterAccountId"`
	}
)

// Event names (spec §2.2).
const (
	EventJoin           = "Join"
	EventUpdateMOU      = "UpdateMOU"
	EventSignMOU        = "SignMOU"
	EventCreateATO      = "CreateATO"
	EventUpdateATO      = "UpdateATO"
	EventSubmitFeedback = "SubmitFeedback"
	EventInitiateVote   = "InitiateVote"
	EventVote           = "Vote"
	EventVoteCompleted  = "VoteCompleted"
	EventVoteAborted    = "VoteAborted" // R-13 extension
)

// formatInstant renders t like Java's Instant.toString, as the reference
// stores dates (DESIGN §11): UTC, "Z" suffix, milliseconds only when not
// zero ("2024-05-01T12:00:00Z", "2024-05-01T12:00:00.250Z").
func formatInstant(t time.Time) string {
	t = t.UTC().Truncate(time.Millisecond)
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02T15:04:05Z")
	}
	return t.Format("2006-01-02T15:04:05.000Z")
}

// encode returns the canonical JSON of a record, refusing one too large to
// store.
func encode(what string, v any) ([]byte, error) {
	b, err := contract.CanonicalJSON(v)
	if err != nil {
		return nil, fmt.Errorf("encoding the %s: %w", what, err)
	}
	if len(b) > contract.MaxValueSize {
		return nil, fmt.Errorf("the %s would be %d bytes long, more than the %d bytes a record may hold", what, len(b), contract.MaxValueSize)
	}
	return b, nil
}

// decodeRecord decodes a stored record strictly: one JSON value of v's
// type, no unknown fields.
func decodeRecord(key string, data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("stored record %s is corrupt: %v", contract.QuoteKey(key), err)
	}
	if dec.More() {
		return fmt.Errorf("stored record %s is corrupt: trailing data", contract.QuoteKey(key))
	}
	return nil
}

// decodeAccount decodes and checks a stored Account.
func decodeAccount(key string, data []byte) (*Account, error) {
	var a Account
	if err := decodeRecord(key, data, &a); err != nil {
		return nil, err
	}
	if _, err := blossompolicy.ParseStatus(string(a.Status)); err != nil || blossompolicy.ValidateMemberID(a.ID) != nil {
		return nil, fmt.Errorf("stored record %s is corrupt: bad id or status", contract.QuoteKey(key))
	}
	return &a, nil
}

// decodeVote decodes and checks a stored Vote.
func decodeVote(key string, data []byte) (*Vote, error) {
	var v Vote
	if err := decodeRecord(key, data, &v); err != nil {
		return nil, err
	}
	if len(v.Voters) == 0 || (v.Threshold != Majority && v.Threshold != SuperMajority) {
		return nil, fmt.Errorf("stored record %s is corrupt: no voters or unknown threshold", contract.QuoteKey(key))
	}
	if v.SubmittedVotes == nil {
		v.SubmittedVotes = map[string]bool{}
	}
	return &v, nil
}

// decodeATO decodes a stored ATO.
func decodeATO(key string, data []byte) (*ATO, error) {
	var a ATO
	if err := decodeRecord(key, data, &a); err != nil {
		return nil, err
	}
	if a.Feedback == nil {
		a.Feedback = []Feedback{}
	}
	return &a, nil
}
