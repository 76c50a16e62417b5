package contract

import (
	"bytes"
	"encoding/json"
)

// CanonicalJSON encodes v as the canonical JSON that chaincodes store and
// hash (DESIGN §11: records compared through GetPrivateDataHash must be
// written and re-encoded byte for byte alike). The rules are those of
// encoding/json.Marshal with HTML escaping turned off:
//
//   - struct fields appear in declaration order, under their json tag
//     names, honouring "omitempty", "-" and ",string"; embedded structs are
//     flattened as encoding/json does;
//   - map keys are sorted (byte-wise for string keys, numerically rendered
//     integers sorted as strings);
//   - no whitespace anywhere and no trailing newline;
//   - strings are escaped minimally: '"', '\\', control characters (as
//     \n, \r, \t or \u00XX) and U+2028, U+2029 (as \u2028, \u2029); '<',
//     '>' and '&' are NOT escaped; invalid UTF-8 is replaced by U+FFFD, so
//     store only valid UTF-8 in records that are hashed;
//   - []byte is base64 (standard, padded); nil slices and maps are null;
//   - floats use the shortest representation that round-trips, in
//     exponent form below 1e-6 and from 1e21 up; NaN and ±Inf are errors;
//   - values implementing json.Marshaler have their output compacted.
//
// Two encodings of equal values of the same Go type are byte-identical.
func CanonicalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	out := buf.Bytes()
	return out[:len(out)-1], nil // Encode terminates with '\n'
}
