package governance

import (
	"encoding/pem"
	"fmt"
)

// nextPEM returns the DER of the next PEM block in data, which must be of
// type typ, and the rest; der is nil when no block is left.
func nextPEM(data []byte, typ string) (der, rest []byte, err error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, nil, nil
	}
	if block.Type != typ {
		return nil, nil, fmt.Errorf("PEM block of type %q, want %q", block.Type, typ)
	}
	return block.Bytes, rest, nil
}
