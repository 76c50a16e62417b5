package peer

import (
	"errors"
	"strings"
	"testing"

	"github.com/blossom-ledger/blossom/internal/chaincode"
	"github.com/blossom-ledger/blossom/internal/lifecycle"
	"github.com/blossom-ledger/blossom/internal/policy"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/validator"
)

// TestCommittedDefinitionsView checks the validator's view of lifecycle
// definitions: the committed endorsement policy, implicit and explicit
// collections, unknown names, and static definitions taking precedence.
func TestCommittedDefinitionsView(t *testing.T) {
	const pkgID = "asset_1:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	committed := func(d *lifecycle.Definition) *committedDefinition {
		raw, err := d.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		cd, err := parseCommittedDefinition(raw)
		if err != nil {
			t.Fatal(err)
		}
		return cd
	}
	set := &definitionSet{byName: map[string]*committedDefinition{
		"asset": committed(&lifecycle.Definition{
			Name: "asset", Version: "1", Sequence: 3, PackageID: pkgID, EndorsementPolicy: "'Org2MSP.peer'",
			Collections: []lifecycle.Collection{{Name: "shared", Policy: "OR('Org1MSP.peer', 'Org2MSP.peer')", MaxPeerCount: 2}},
		}),
		"kv": committed(&lifecycle.Definition{Name: "kv", Version: "1", Sequence: 1, PackageID: pkgID, EndorsementPolicy: "'Org2MSP.peer'"}),
	}}
	reg, err := newRegistry([]Definition{{Name: "kv", EndorsementPolicy: "'Org1MSP.peer'", Chaincode: chaincodeStub{}}})
	if err != nil {
		t.Fatal(err)
	}
	view := reg.forMembers([]string{"Org1MSP", "Org2MSP"}, set)
	tests := []struct {
		name, ns, coll string // coll "": the endorsement policy
		want           string // policy.Describe, or the error's sentinel
		wantErr        error
	}{
		{"committed policy", "asset", "", policy.Describe(mustParse(t, "'Org2MSP.peer'")), nil},
		{"static wins", "kv", "", policy.Describe(mustParse(t, "'Org1MSP.peer'")), nil},
		{"system chaincode", lifecycle.Name, "", policy.Describe(mustParse(t, lifecycle.EndorsementPolicy)), nil},
		{"undefined", "nope", "", "", validator.ErrUnknownChaincode},
		{"explicit collection", "asset", "shared", policy.Describe(mustParse(t, "OR('Org1MSP.peer', 'Org2MSP.peer')")), nil},
		{"implicit collection", "asset", ImplicitCollection("Org1MSP"), policy.Describe(mustParse(t, "'Org1MSP.peer'")), nil},
		{"implicit of a non-member", "asset", ImplicitCollection("Org3MSP"), "", chaincode.ErrUnknownCollection},
		{"unknown collection", "asset", "other", "", chaincode.ErrUnknownCollection},
		{"static has no explicit collections", "kv", "shared", "", chaincode.ErrUnknownCollection},
		{"collection of undefined", "nope", "shared", "", validator.ErrUnknownChaincode},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			var err error
			if tc.coll == "" {
				p, e := view.EndorsementPolicy(tc.ns)
				got, err = policy.Describe(p), e
			} else {
				p, e := view.CollectionPolicy(tc.ns, tc.coll)
				got, err = policy.Describe(p), e
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got %q, %v; want %v", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func mustParse(t *testing.T, text string) *pb.Policy {
	t.Helper()
	p, err := policy.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPackageNotInstalledError(t *testing.T) {
	err := &PackageNotInstalledError{Chaincode: "kv", Sequence: 2, PackageID: "kv_2:aa", Held: []string{"kv_2:bb"}}
	for _, want := range []string{"chaincode kv", "sequence 2", "kv_2:aa", "it holds kv_2:bb"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	err.Held = nil
	if !strings.Contains(err.Error(), "it holds none with that label") {
		t.Errorf("%q", err)
	}
}

// FuzzParseCommittedDefinition feeds stored definitions as the peer reads
// them from _lifecycle state: anything that parses has a policy, and its
// explicit collections' members are those its policy names.
func FuzzParseCommittedDefinition(f *testing.F) {
	f.Add([]byte(`{"name":"kv","version":"1","sequence":1,"packageId":"kv:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","endorsementPolicy":"MAJORITY Endorsement","collections":[{"name":"c","policy":"OR('A.peer', AND('B.peer', 'A.member'))","requiredPeerCount":0,"maxPeerCount":1,"blockToLive":0,"memberOnlyRead":false,"memberOnlyWrite":false}],"initRequired":false,"params":{},"fuel":0,"memoryBytes":0}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		cd, err := parseCommittedDefinition(raw)
		if err != nil {
			return
		}
		if cd.policy == nil || len(cd.explicit) != len(cd.def.Collections) {
			t.Fatalf("parsed %s without its policy or collections", raw)
		}
		for name, c := range cd.explicit {
			for _, m := range c.named {
				if !strings.Contains(c.def.Policy, m) {
					t.Fatalf("collection %s: member %s not named in %q", name, m, c.def.Policy)
				}
			}
		}
	})
}
