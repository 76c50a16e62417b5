package policy

import (
	"errors"
	"testing"

	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

var members3 = []string{"Org1MSP", "Org2MSP", "Org3MSP"}

func peer(msp string) Signer  { return Signer{ID: msp + "/peer", MSPID: msp, Role: "peer"} }
func admin(msp string) Signer { return Signer{ID: msp + "/admin", MSPID: msp, Role: "admin"} }

func TestEvaluate(t *testing.T) {
	tests := []struct {
		name    string
		policy  string
		members []string
		signers []Signer
		ok      bool
	}{
		{"majority of 3 with 2", "MAJORITY Endorsement", members3, []Signer{peer("Org1MSP"), peer("Org2MSP")}, true},
		{"majority of 3 with 1", "MAJORITY Endorsement", members3, []Signer{peer("Org1MSP")}, false},
		{"majority of 4 with 2", "MAJORITY Endorsement", append(members3, "Org4MSP"), []Signer{peer("Org1MSP"), peer("Org2MSP")}, false},
		{"majority of 4 with 3", "MAJORITY Endorsement", append(members3, "Org4MSP"), []Signer{peer("Org1MSP"), peer("Org2MSP"), peer("Org4MSP")}, true},
		{"majority counts a member once", "MAJORITY Endorsement", members3, []Signer{peer("Org1MSP"), {ID: "x", MSPID: "Org1MSP", Role: "peer"}}, false},
		{"majority ignores non-members", "MAJORITY Endorsement", members3, []Signer{peer("Org1MSP"), peer("EvilMSP")}, false},
		{"endorsement needs peers", "MAJORITY Endorsement", members3, []Signer{admin("Org1MSP"), admin("Org2MSP")}, false},
		{"admins need admins", "MAJORITY Admins", members3, []Signer{admin("Org1MSP"), admin("Org3MSP")}, true},
		{"any writers accepts any role", "ANY Writers", members3, []Signer{{ID: "c", MSPID: "Org2MSP", Role: "client"}}, true},
		{"all with one missing", "ALL Admins", members3, []Signer{admin("Org1MSP"), admin("Org2MSP")}, false},
		{"no members", "ANY Writers", nil, []Signer{admin("Org1MSP")}, false},
		{"signed by", "'Org1MSP.peer'", members3, []Signer{peer("Org1MSP")}, true},
		{"signed by wrong role", "'Org1MSP.peer'", members3, []Signer{admin("Org1MSP")}, false},
		{"member role", "'Org1MSP.member'", members3, []Signer{admin("Org1MSP")}, true},
		{"and", "AND('Org1MSP.peer', 'Org2MSP.peer')", members3, []Signer{peer("Org2MSP"), peer("Org1MSP")}, true},
		{"and missing", "AND('Org1MSP.peer', 'Org2MSP.peer')", members3, []Signer{peer("Org1MSP")}, false},
		{"or", "OR('Org1MSP.peer', 'Org2MSP.peer')", members3, []Signer{peer("Org2MSP")}, true},
		{"outof", "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')", members3, []Signer{peer("Org3MSP"), peer("Org1MSP")}, true},
		{"one signer cannot fill two slots", "AND('Org1MSP.member', 'Org1MSP.member')", members3, []Signer{peer("Org1MSP")}, false},
		{"two signers fill two slots", "AND('Org1MSP.member', 'Org1MSP.member')", members3, []Signer{peer("Org1MSP"), admin("Org1MSP")}, true},
		{"duplicate signer counts once", "AND('Org1MSP.member', 'Org1MSP.member')", members3, []Signer{peer("Org1MSP"), peer("Org1MSP")}, false},
		{"nested", "OR(AND('Org1MSP.peer', 'Org2MSP.peer'), 'Org3MSP.admin')", members3, []Signer{admin("Org3MSP")}, true},
		{"outof zero", "OutOf(0, 'Org1MSP.peer')", members3, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.policy)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			err = Evaluate(p, tt.members, tt.signers)
			if (err == nil) != tt.ok {
				t.Fatalf("Evaluate = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrNotSatisfied) {
				t.Fatalf("error %v does not wrap ErrNotSatisfied", err)
			}
		})
	}
}

func TestThreshold(t *testing.T) {
	for n, want := range map[int]int{1: 1, 2: 2, 3: 2, 4: 3, 5: 3, 6: 4, 7: 4} {
		got, err := Threshold(pb.ImplicitMetaPolicy_MAJORITY, n)
		if err != nil || got != want {
			t.Errorf("MAJORITY of %d = %d, %v; want %d", n, got, err, want)
		}
	}
}

func TestParseRoundTrip(t *testing.T) {
	for _, text := range []string{
		"MAJORITY Endorsement",
		"ANY Readers",
		"'Org1MSP.peer'",
		"AND('Org1MSP.peer', 'Org2MSP.admin')",
		"OR('Org1MSP.peer', AND('Org2MSP.peer', 'Org3MSP.client'))",
		"OutOf(2, 'A.peer', 'B.peer', 'C.peer')",
	} {
		p, err := Parse(text)
		if err != nil {
			t.Fatalf("Parse(%q): %v", text, err)
		}
		if got := Describe(p); got != text {
			t.Errorf("Describe(Parse(%q)) = %q", text, got)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, text := range []string{
		"", "MAJORITY Owners", "AND(", "AND('A.peer'", "'A'", "'A.boss'", "OutOf(3, 'A.peer')",
		"OutOf(x, 'A.peer')", "AND('A.peer') junk", "OR(,)", "'.peer'", "'A.'",
	} {
		if p, err := Parse(text); err == nil {
			t.Errorf("Parse(%q) = %v, want error", text, Describe(p))
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"MAJORITY Endorsement", "AND('A.peer', OR('B.admin', 'C.member'))", "OutOf(1, 'A.peer')", "((((("} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		p, err := Parse(text)
		if err != nil {
			return
		}
		again, err := Parse(Describe(p))
		if err != nil {
			t.Fatalf("re-parse of %q: %v", Describe(p), err)
		}
		if Describe(again) != Describe(p) {
			t.Fatalf("round trip changed %q to %q", Describe(p), Describe(again))
		}
		_ = Evaluate(p, members3, []Signer{peer("Org1MSP"), admin("Org2MSP")})
	})
}
