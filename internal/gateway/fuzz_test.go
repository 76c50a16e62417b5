package gateway

import (
	"strconv"
	"strings"
	"testing"

	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

func TestParseEventID(t *testing.T) {
	tests := []struct {
		in    string
		block uint64
		skip  uint64
		ok    bool
	}{
		{"0", 1, 0, true},
		{"41", 42, 0, true},
		{"41:0", 41, 1, true},
		{"41:7", 41, 8, true},
		{"18446744073709551615", 0, 0, false},
		{"18446744073709551614", 18446744073709551615, 0, true},
		{"", 0, 0, false},
		{"01", 0, 0, false},
		{"1:", 0, 0, false},
		{":1", 0, 0, false},
		{"1:2:3", 0, 0, false},
		{"-1", 0, 0, false},
		{"+1", 0, 0, false},
		{"1:4294967296", 0, 0, false},
		{" 1", 0, 0, false},
		{strings.Repeat("1", 65), 0, 0, false},
	}
	for _, tc := range tests {
		pos, err := parseEventID(tc.in)
		if (err == nil) != tc.ok || (tc.ok && (pos.block != tc.block || pos.skip != tc.skip)) {
			t.Errorf("parseEventID(%q) = %+v, %v", tc.in, pos, err)
		}
	}
}

// FuzzParseEventID: a Last-Event-ID either fails or round-trips to the
// ID the gateway would have sent for that position.
func FuzzParseEventID(f *testing.F) {
	for _, s := range []string{"0", "7", "7:0", "7:12", "", ":", "01", "1:2:3", "18446744073709551615"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pos, err := parseEventID(s)
		if err != nil {
			return
		}
		var again string
		if pos.skip == 0 {
			again = strconv.FormatUint(pos.block-1, 10)
		} else {
			again = strconv.FormatUint(pos.block, 10) + ":" + strconv.FormatUint(pos.skip-1, 10)
		}
		if again != s {
			t.Fatalf("%q parsed to %+v, which is ID %q", s, pos, again)
		}
	})
}

// FuzzParseBlockNumber: a path block number is canonical decimal.
func FuzzParseBlockNumber(f *testing.F) {
	for _, s := range []string{"0", "1", "10", "01", "-1", "x", "18446744073709551616"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseBlockNumber(s)
		if err == nil && strconv.FormatUint(n, 10) != s {
			t.Fatalf("%q parsed to %d", s, n)
		}
	})
}

// FuzzDecodeTx: any envelope bytes decode to a description without
// panicking, and undecodable ones carry no chaincode details.
func FuzzDecodeTx(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x02, 0x0a, 0x00})
	f.Fuzz(func(t *testing.T, env []byte) {
		d := decodeTx(env, 3, 1, pb.TxValidationCode_VALID)
		if d.view.Block != 3 || d.view.Index != 1 || d.view.ValidationCode != "VALID" {
			t.Fatalf("position lost: %+v", d.view)
		}
		if d.view.Undecodable && (d.view.Chaincode != "" || len(d.events) != 0) {
			t.Fatalf("undecodable envelope with details: %+v", d.view)
		}
	})
}
