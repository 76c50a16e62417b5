package contract

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits on what a chaincode may read and write. Every Stub implementation
// enforces them with the Validate functions below.
const (
	// MaxKeyLength bounds a state or private key, composite or not, in bytes.
	MaxKeyLength = 1024
	// MaxValueSize bounds a state or private value in bytes.
	MaxValueSize = 4 << 20
	// MaxCollectionNameLength bounds a private data collection name.
	MaxCollectionNameLength = 128
	// MaxEventNameLength bounds an event name in bytes.
	MaxEventNameLength = 256
	// MaxEventPayloadSize bounds an event payload in bytes.
	MaxEventPayloadSize = 1 << 20
)

// Composite keys use Fabric's encoding: U+0000, the object type, then each
// attribute, every component followed by U+0000. Components are valid
// UTF-8 without U+0000 (the separator) or U+10FFFF (the upper bound of
// partial-key range queries).
const (
	compositeKeyNamespace = "\x00"
	compositeSeparator    = '\x00'
	// maxRune ends a partial composite-key range: it sorts after any
	// attribute, since attributes may not contain it.
	maxRune = utf8.MaxRune
	// emptyKeySubstitute replaces an empty range start so that simple-key
	// ranges never include composite keys (which start with U+0000).
	emptyKeySubstitute = "\x01"
)

// CreateCompositeKey joins objectType and attributes into one key that
// sorts with the other keys of objectType, in attribute order. objectType
// must not be empty; no component may contain U+0000 or U+10FFFF or be
// invalid UTF-8.
func CreateCompositeKey(objectType string, attributes []string) (string, error) {
	if objectType == "" {
		return "", errors.New("composite key: empty object type")
	}
	if err := validateCompositeComponent(objectType); err != nil {
		return "", fmt.Errorf("composite key object type: %w", err)
	}
	n := len(compositeKeyNamespace) + len(objectType) + 1
	for i, a := range attributes {
		if err := validateCompositeComponent(a); err != nil {
			return "", fmt.Errorf("composite key attribute %d: %w", i, err)
		}
		n += len(a) + 1
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(compositeKeyNamespace)
	b.WriteString(objectType)
	b.WriteByte(compositeSeparator)
	for _, a := range attributes {
		b.WriteString(a)
		b.WriteByte(compositeSeparator)
	}
	return b.String(), nil
}

// SplitCompositeKey is the inverse of CreateCompositeKey: it accepts
// exactly the keys CreateCompositeKey can produce.
func SplitCompositeKey(key string) (objectType string, attributes []string, err error) {
	if len(key) < 3 || key[0] != compositeSeparator || key[len(key)-1] != compositeSeparator {
		return "", nil, errors.New("not a composite key")
	}
	var parts []string
	start := 1
	for i := 1; i < len(key); i++ {
		if key[i] == compositeSeparator {
			parts = append(parts, key[start:i])
			start = i + 1
		}
	}
	if parts[0] == "" {
		return "", nil, errors.New("composite key: empty object type")
	}
	for i, p := range parts {
		if err := validateCompositeComponent(p); err != nil {
			return "", nil, fmt.Errorf("composite key component %d: %w", i, err)
		}
	}
	return parts[0], parts[1:], nil
}

func validateCompositeComponent(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	for i, r := range s {
		if r == 0 || r == maxRune {
			return fmt.Errorf("contains %U at byte %d", r, i)
		}
	}
	return nil
}

// ValidateKey checks a state or private key: non-empty, valid UTF-8, at
// most MaxKeyLength bytes, and if it starts with U+0000 a well-formed
// composite key.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return errors.New("empty key")
	case len(key) > MaxKeyLength:
		return fmt.Errorf("key %s is %d bytes long (at most %d)", QuoteKey(key), len(key), MaxKeyLength)
	case !utf8.ValidString(key):
		return fmt.Errorf("key %s is not valid UTF-8", QuoteKey(key))
	case key[0] == compositeSeparator:
		if _, _, err := SplitCompositeKey(key); err != nil {
			return fmt.Errorf("key %s starts with U+0000 but is not a valid composite key: %w", QuoteKey(key), err)
		}
	}
	return nil
}

// ValidateValue checks a value's size.
func ValidateValue(value []byte) error {
	if len(value) > MaxValueSize {
		return fmt.Errorf("value is %d bytes long (at most %d)", len(value), MaxValueSize)
	}
	return nil
}

// ValidateCollection checks a collection name: 1 to
// MaxCollectionNameLength characters from [A-Za-z0-9_.-].
func ValidateCollection(name string) error {
	if name == "" || len(name) > MaxCollectionNameLength {
		return fmt.Errorf("collection name must be 1 to %d characters", MaxCollectionNameLength)
	}
	if !isName(name) {
		return fmt.Errorf("collection name %s has a character outside [A-Za-z0-9_.-]", QuoteKey(name))
	}
	return nil
}

// ValidateEvent checks an event's name (non-empty valid UTF-8 of at most
// MaxEventNameLength bytes) and payload size.
func ValidateEvent(name string, payload []byte) error {
	switch {
	case name == "":
		return errors.New("empty event name")
	case len(name) > MaxEventNameLength:
		return fmt.Errorf("event name is %d bytes long (at most %d)", len(name), MaxEventNameLength)
	case !utf8.ValidString(name):
		return errors.New("event name is not valid UTF-8")
	case len(payload) > MaxEventPayloadSize:
		return fmt.Errorf("event payload is %d bytes long (at most %d)", len(payload), MaxEventPayloadSize)
	}
	return nil
}

// SimpleKeyRange turns the bounds of GetStateByRange or
// GetPrivateDataByRange into the range to scan: an empty start becomes
// U+0001 so that composite keys are excluded; an empty end means no upper
// bound. Bounds must be valid UTF-8 of at most MaxKeyLength bytes and must
// not start with U+0000.
func SimpleKeyRange(startKey, endKey string) (start, end string, err error) {
	for _, k := range [2]string{startKey, endKey} {
		switch {
		case len(k) > MaxKeyLength:
			return "", "", fmt.Errorf("range key %s is %d bytes long (at most %d)", QuoteKey(k), len(k), MaxKeyLength)
		case !utf8.ValidString(k):
			return "", "", fmt.Errorf("range key %s is not valid UTF-8", QuoteKey(k))
		case k != "" && k[0] == compositeSeparator:
			return "", "", fmt.Errorf("range key %s starts with U+0000: use a partial composite key query", QuoteKey(k))
		}
	}
	if startKey == "" {
		startKey = emptyKeySubstitute
	}
	return startKey, endKey, nil
}

// PartialCompositeKeyRange returns the range [start, end) holding exactly
// the composite keys of objectType whose leading attributes are attributes.
func PartialCompositeKeyRange(objectType string, attributes []string) (start, end string, err error) {
	prefix, err := CreateCompositeKey(objectType, attributes)
	if err != nil {
		return "", "", err
	}
	if len(prefix) > MaxKeyLength {
		return "", "", fmt.Errorf("partial composite key is %d bytes long (at most %d)", len(prefix), MaxKeyLength)
	}
	return prefix, prefix + string(maxRune), nil
}

// QuoteKey quotes a key for an error message, shortened to its first 64
// bytes so that messages stay small.
func QuoteKey(key string) string {
	const max = 64
	if len(key) <= max {
		return fmt.Sprintf("%q", key)
	}
	return fmt.Sprintf("%q...", key[:max])
}

// isName reports whether s consists of [A-Za-z0-9_.-] only.
func isName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}
