package protocol

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// Wire field numbers EnvelopeTxID walks (common.proto).
const (
	envelopePayloadField protowire.Number = 1
	payloadHeaderField   protowire.Number = 1
	headerTxIDField      protowire.Number = 3
)

// EnvelopeTxID returns the transaction ID in the header of a marshalled
// Envelope by walking the wire format, without decoding or copying the
// rest: when OpenEnvelope accepts envBytes, EnvelopeTxID returns the
// header's TxId (FuzzEnvelopeTxID checks it). It is more lenient than
// OpenEnvelope (no size limits, no header checks), so it serves only
// where the envelope is, or was, fully checked elsewhere, or where the ID
// is informative: matching broadcast answers, indexing ordered blocks,
// measuring commits.
func EnvelopeTxID(envBytes []byte) (string, error) {
	payload, err := lastBytesField(envBytes, envelopePayloadField)
	if err != nil {
		return "", fmt.Errorf("malformed Envelope: %w", err)
	}
	return PayloadTxID(payload)
}

// PayloadTxID is EnvelopeTxID for an envelope's marshalled Payload.
func PayloadTxID(payload []byte) (string, error) {
	header, err := lastBytesField(payload, payloadHeaderField)
	if err != nil {
		return "", fmt.Errorf("malformed Payload: %w", err)
	}
	txID, err := lastBytesField(header, headerTxIDField)
	if err != nil {
		return "", fmt.Errorf("malformed Header: %w", err)
	}
	if !utf8.Valid(txID) {
		return "", errors.New("malformed Header: tx_id is not UTF-8")
	}
	return string(txID), nil
}

// lastBytesField returns the value of length-delimited field num of the
// wire-format message b, nil if absent. As protobuf decoding does, the
// last occurrence wins and an occurrence of another wire type is skipped
// (it decodes as an unknown field); the whole message must be well framed.
func lastBytesField(b []byte, num protowire.Number) ([]byte, error) {
	var value []byte
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return nil, protowire.ParseError(l)
		}
		b = b[l:]
		if n == num && typ == protowire.BytesType {
			v, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return nil, protowire.ParseError(l)
			}
			value, b = v, b[l:]
			continue
		}
		if l = protowire.ConsumeFieldValue(n, typ, b); l < 0 {
			return nil, protowire.ParseError(l)
		}
		b = b[l:]
	}
	return value, nil
}
