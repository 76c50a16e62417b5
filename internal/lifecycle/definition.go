package lifecycle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/blossom-ledger/blossom/internal/chaincode"
	"github.com/blossom-ledger/blossom/internal/chaincode/ccpackage"
	"github.com/blossom-ledger/blossom/internal/policy"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// Bounds on a definition.
const (
	// MaxDefinitionBytes bounds the JSON of a definition.
	MaxDefinitionBytes = 64 << 10
	// MaxVersionLength bounds a definition's version string.
	MaxVersionLength = 128
	// MaxCollections bounds a definition's collections.
	MaxCollections = 64
	// MaxParams bounds a definition's parameters.
	MaxParams = 32
	// MaxParamNameLength bounds a parameter name ([A-Za-z0-9_.-]).
	MaxParamNameLength = 64
	// MaxParamValueLength bounds a parameter value in bytes.
	MaxParamValueLength = 4096
	// MaxSequence bounds a definition sequence (far beyond any real use,
	// and exactly representable in a JSON number).
	MaxSequence = 1 << 52
)

// Definition is a chaincode definition as members approve it and the
// lifecycle commits it. Its identity for approval purposes is its
// canonical encoding (Canonical): two definitions are the same definition
// exactly when their canonical encodings are byte-equal.
type Definition struct {
	// Name is the chaincode's name and state namespace: 1 to
	// contract.MaxNameLength characters from [A-Za-z0-9_.-], starting with
	// a letter or digit (names starting with '_' are system chaincodes).
	Name string `json:"name"`
	// Version is a free label of 1 to MaxVersionLength characters from
	// [A-Za-z0-9_.+-].
	Version string `json:"version"`
	// Sequence counts the chaincode's committed definitions: 1 for the
	// first, each commit exactly one more than the last.
	Sequence uint64 `json:"sequence"`
	// PackageID is the ccpackage ID (label:sha256) members run.
	PackageID string `json:"packageId"`
	// EndorsementPolicy is the chaincode's endorsement policy in
	// policy.Parse syntax, stored as written.
	EndorsementPolicy string `json:"endorsementPolicy"`
	// Collections are the chaincode's private data collections, sorted
	// by name with unique names (unsorted input is refused rather than
	// reordered, so what members sign is what is stored); never nil after
	// decoding.
	Collections []Collection `json:"collections"`
	// InitRequired is whether each version of the chaincode must be
	// initialised, by one invocation marked is_init, before any other
	// call; peers enforce it when they endorse (chaincode.Simulate).
	InitRequired bool `json:"initRequired"`
	// Params are the definition parameters chaincodes read with
	// contract.Stub.GetDefinitionParam; never nil after decoding.
	Params map[string]string `json:"params"`
	// Fuel and MemoryBytes are the execution limits (ccpackage.Limits;
	// zero means the runtime's default).
	Fuel        uint64 `json:"fuel"`
	MemoryBytes uint64 `json:"memoryBytes"`
}

// Collection is a private data collection of a definition.
type Collection struct {
	// Name is 1 to contract.MaxCollectionNameLength characters from
	// [A-Za-z0-9_.-].
	Name string `json:"name"`
	// Policy (policy.Parse syntax) says which members hold the data and
	// must endorse writes into it.
	Policy            string `json:"policy"`
	RequiredPeerCount uint32 `json:"requiredPeerCount"`
	MaxPeerCount      uint32 `json:"maxPeerCount"`
	// BlockToLive is how many blocks private values live (0: forever).
	BlockToLive     uint64 `json:"blockToLive"`
	MemberOnlyRead  bool   `json:"memberOnlyRead"`
	MemberOnlyWrite bool   `json:"memberOnlyWrite"`
}

// Limits returns the definition's execution limits.
func (d *Definition) Limits() ccpackage.Limits {
	return ccpackage.Limits{Fuel: d.Fuel, MemoryBytes: d.MemoryBytes}
}

// DecodeDefinition parses and validates a definition: a single JSON
// object of at most MaxDefinitionBytes with no unknown fields and no
// trailing data, satisfying Validate. Absent collections and params
// become empty (not nil), so that Canonical of the result is stable.
func DecodeDefinition(b []byte) (*Definition, error) {
	if len(b) > MaxDefinitionBytes {
		return nil, fmt.Errorf("definition of %d bytes (at most %d)", len(b), MaxDefinitionBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	d := new(Definition)
	if err := dec.Decode(d); err != nil {
		return nil, fmt.Errorf("malformed definition: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("malformed definition: trailing data after the JSON object")
	}
	if d.Collections == nil {
		d.Collections = []Collection{}
	}
	if d.Params == nil {
		d.Params = map[string]string{}
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}

// Canonical returns the canonical JSON of d (contract.CanonicalJSON, with
// nil collections and params encoded as empty): the bytes stored for an
// approval and a committed definition, and compared for equality.
func (d *Definition) Canonical() ([]byte, error) {
	c := *d
	if c.Collections == nil {
		c.Collections = []Collection{}
	}
	if c.Params == nil {
		c.Params = map[string]string{}
	}
	return contract.CanonicalJSON(&c)
}

// ValidateName checks a chaincode name: 1 to contract.MaxNameLength
// characters from [A-Za-z0-9_.-], starting with a letter or digit.
func ValidateName(name string) error {
	if name == "" || len(name) > contract.MaxNameLength {
		return fmt.Errorf("chaincode name must be 1 to %d characters", contract.MaxNameLength)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != '-') {
			return fmt.Errorf("chaincode name %s: want [A-Za-z0-9][A-Za-z0-9_.-]*", contract.QuoteKey(name))
		}
	}
	return nil
}

// Validate checks every field of d.
func (d *Definition) Validate() error {
	if err := ValidateName(d.Name); err != nil {
		return err
	}
	if err := validateToken("version", d.Version, MaxVersionLength, "_.+-"); err != nil {
		return err
	}
	if d.Sequence == 0 || d.Sequence > MaxSequence {
		return fmt.Errorf("definition %s: sequence must be 1 to %d", d.Name, uint64(MaxSequence))
	}
	if _, _, err := ccpackage.ParseID(d.PackageID); err != nil {
		return fmt.Errorf("definition %s: %v", d.Name, err)
	}
	if _, err := policy.Parse(d.EndorsementPolicy); err != nil {
		return fmt.Errorf("definition %s: endorsement policy: %v", d.Name, err)
	}
	if len(d.Collections) > MaxCollections {
		return fmt.Errorf("definition %s: %d collections (at most %d)", d.Name, len(d.Collections), MaxCollections)
	}
	for i, c := range d.Collections {
		if err := contract.ValidateCollection(c.Name); err != nil {
			return fmt.Errorf("definition %s: %v", d.Name, err)
		}
		if i > 0 && d.Collections[i-1].Name >= c.Name {
			return fmt.Errorf("definition %s: collections must be sorted by name, names unique (at %q)", d.Name, c.Name)
		}
		if _, err := policy.Parse(c.Policy); err != nil {
			return fmt.Errorf("definition %s: collection %s: %v", d.Name, c.Name, err)
		}
		if c.MaxPeerCount < c.RequiredPeerCount {
			return fmt.Errorf("definition %s: collection %s: maxPeerCount %d below requiredPeerCount %d", d.Name, c.Name, c.MaxPeerCount, c.RequiredPeerCount)
		}
	}
	if len(d.Params) > MaxParams {
		return fmt.Errorf("definition %s: %d params (at most %d)", d.Name, len(d.Params), MaxParams)
	}
	for k, v := range d.Params {
		if err := validateToken("param name", k, MaxParamNameLength, "_.-"); err != nil {
			return fmt.Errorf("definition %s: %v", d.Name, err)
		}
		if len(v) > MaxParamValueLength || !utf8.ValidString(v) {
			return fmt.Errorf("definition %s: param %s: value must be valid UTF-8 of at most %d bytes", d.Name, k, MaxParamValueLength)
		}
	}
	if err := d.Limits().Validate(); err != nil {
		return fmt.Errorf("definition %s: %v", d.Name, err)
	}
	return nil
}

func validateToken(what, s string, max int, punct string) error {
	if s == "" || len(s) > max {
		return fmt.Errorf("%s must be 1 to %d characters", what, max)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(punct, c) >= 0) {
			return fmt.Errorf("%s %s: only letters, digits and %q", what, contract.QuoteKey(s), punct)
		}
	}
	return nil
}

// Keys of the lifecycle's state, all in namespace Name. Chaincode names
// and MSP IDs contain no '/', so the keys of different chaincodes,
// sequences and members never collide and ranges select exactly them.

// SequenceKey is the key of chaincode name's committed sequence (decimal
// text), the key the simulator reads for every invoked chaincode
// (chaincode.SequenceKey).
func SequenceKey(name string) string { return chaincode.SequenceKey(name) }

// DefinitionKey is the key of chaincode name's committed definition (its
// canonical JSON).
func DefinitionKey(name string) string { return "namespaces/" + name + "/definition" }

// ApprovalKey is the key of member's approval of chaincode name's
// definition with the given sequence (the approved definition's
// canonical JSON).
func ApprovalKey(name string, sequence uint64, member string) string {
	return approvalPrefix(name, sequence) + member
}

func approvalPrefix(name string, sequence uint64) string {
	return "approvals/" + name + "/" + strconv.FormatUint(sequence, 10) + "/"
}

// ParseSequence parses the value stored under SequenceKey; nil (absent)
// is sequence 0.
func ParseSequence(value []byte) (uint64, error) {
	if value == nil {
		return 0, nil
	}
	seq, err := strconv.ParseUint(string(value), 10, 64)
	if err != nil || seq == 0 || seq > MaxSequence || strconv.FormatUint(seq, 10) != string(value) {
		return 0, fmt.Errorf("stored sequence %s is not a decimal from 1 to %d", contract.QuoteKey(string(value)), uint64(MaxSequence))
	}
	return seq, nil
}
