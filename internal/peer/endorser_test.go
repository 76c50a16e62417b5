package peer

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/blossom-ledger/blossom/internal/chaincode"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/txn"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// TestEndorserSimulatesOnCommittedState runs chaincode functions that read
// state, ranges and history through the ledger adapters, and checks the
// signed response.
func TestEndorserSimulatesOnCommittedState(t *testing.T) {
	f := newFixture(t)
	for _, kv := range [][2]string{{"a", "1"}, {"b", "2"}, {"c", "3"}} {
		if err := f.ch.processBlock(f.nextBlock(nil, f.endorsedTx("kv:Put", kv[0], kv[1]))); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.ch.processBlock(f.nextBlock(nil, f.endorsedTx("kv:Del", "b"))); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		function string
		args     []string
		want     string
	}{
		{"kv:Get", []string{"a"}, "1"},
		{"kv:Get", []string{"b"}, ""},
		{"kv:Range", []string{"a", "z"}, `[{"key":"a","value":"1"},{"key":"c","value":"3"}]`},
		{"kv:Range", []string{"c", "a"}, `[]`},
		{"kv:TxInfo", nil, `"channelId":"testchannel"`},
		{"kv:Whoami", nil, `"mspId":"Org1MSP"`},
	}
	for _, tc := range tests {
		t.Run(tc.function+strings.Join(tc.args, ","), func(t *testing.T) {
			prop := f.proposal(tc.function, tc.args...)
			resp, err := f.node.processProposal(context.Background(), prop.Signed)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Response.Status != 200 || !strings.Contains(string(resp.Response.Payload), tc.want) {
				t.Fatalf("response %d %q %q, want payload containing %q", resp.Response.Status, resp.Response.Message, resp.Response.Payload, tc.want)
			}
			prp := new(pb.ProposalResponsePayload)
			if err := protocol.Unmarshal(resp.Payload, prp, 0); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(prp.ProposalHash, prop.ProposalHash) {
				t.Fatal("endorsement bound to another proposal")
			}
			if err := f.peerID.Verify(protocol.EndorsementSignedBytes(resp.Payload, resp.Endorsement.Endorser), resp.Endorsement.Signature); err != nil {
				t.Fatalf("endorsement signature: %v", err)
			}
		})
	}
	t.Run("history newest first", func(t *testing.T) {
		resp, err := f.node.processProposal(context.Background(), f.proposal("kv:History", "b").Signed)
		if err != nil {
			t.Fatal(err)
		}
		var hist []struct {
			Value    string `json:"value"`
			IsDelete bool   `json:"isDelete"`
		}
		if err := json.Unmarshal(resp.Response.Payload, &hist); err != nil {
			t.Fatalf("%v: %s", err, resp.Response.Payload)
		}
		if len(hist) != 2 || !hist[0].IsDelete || hist[1].Value != "2" {
			t.Fatalf("history %+v", hist)
		}
	})
}

// TestEndorserRefusals covers refusals that need no network: private data
// (not stored yet), calls to undefined chaincodes, unknown collections.
func TestEndorserRefusals(t *testing.T) {
	f := newFixture(t)
	own := ImplicitCollection("Org1MSP")
	tests := []struct {
		name string
		prop *txn.Proposal
		code codes.Code // OK: a chaincode refusal (status 500) carrying want
		want string
	}{
		{"private write", f.proposalWithTransient("kv:PutPrivate", map[string][]byte{"value": []byte("secret")}, own, "k"), codes.Unimplemented, "private data"},
		{"private read of own collection", f.proposal("kv:GetPrivate", own, "k"), codes.Unimplemented, "private data"},
		{"unknown collection", f.proposal("kv:GetPrivate", "nope", "k"), codes.OK, "unknown collection"},
		{"call to an undefined chaincode", f.proposal("kv:Call", "ghost", "x:Y"), codes.NotFound, "not defined"},
		{"definition parameter absent", f.proposal("kv:Param", "adminMSP"), codes.OK, "is not set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := f.node.processProposal(context.Background(), tc.prop.Signed)
			if tc.code == codes.OK {
				if err != nil || resp.Response.Status != chaincode.StatusError || !strings.Contains(resp.Response.Message, tc.want) || resp.Endorsement != nil {
					t.Fatalf("got %v, %v; want a chaincode refusal containing %q", resp, err, tc.want)
				}
				return
			}
			if status.Code(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, %v; want %s containing %q", resp, err, tc.code, tc.want)
			}
		})
	}
}

func (f *fixture) proposalWithTransient(function string, transient map[string][]byte, args ...string) *txn.Proposal {
	f.t.Helper()
	req := txn.Request{ChannelID: testChannel, Chaincode: "kv", Function: function, Transient: transient}
	for _, a := range args {
		req.Args = append(req.Args, []byte(a))
	}
	prop, err := txn.NewProposal(f.user.Signer, req)
	if err != nil {
		f.t.Fatal(err)
	}
	return prop
}

// TestDefinitions checks registration and the validator's view.
func TestDefinitions(t *testing.T) {
	cc := chaincodeStub{}
	tests := []struct {
		name string
		defs []Definition
		want string
	}{
		{"bad policy", []Definition{{Name: "a", EndorsementPolicy: "MOST Endorsement", Chaincode: cc}}, "endorsement policy"},
		{"duplicate", []Definition{{Name: "a", EndorsementPolicy: "ANY Endorsement", Chaincode: cc}, {Name: "a", EndorsementPolicy: "ANY Endorsement", Chaincode: cc}}, "defined twice"},
		{"reserved name", []Definition{{Name: "_lifecycle", EndorsementPolicy: "ANY Endorsement", Chaincode: cc}}, "reserved"},
		{"bad name", []Definition{{Name: "a b", EndorsementPolicy: "ANY Endorsement", Chaincode: cc}}, "character"},
		{"no implementation", []Definition{{Name: "a", EndorsementPolicy: "ANY Endorsement"}}, "no implementation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := newRegistry(tc.defs); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	reg, err := newRegistry([]Definition{{Name: "a", EndorsementPolicy: "'Org1MSP.peer'", Chaincode: cc}})
	if err != nil {
		t.Fatal(err)
	}
	view := reg.forMembers([]string{"Org1MSP", "Org2MSP"})
	if _, err := view.EndorsementPolicy("b"); err == nil {
		t.Fatal("undefined namespace has a policy")
	}
	p, err := view.CollectionPolicy("a", ImplicitCollection("Org2MSP"))
	if err != nil || p.GetSignature().GetSignedBy().GetMspId() != "Org2MSP" || p.GetSignature().GetSignedBy().GetRole() != "peer" {
		t.Fatalf("implicit collection policy %v, %v", p, err)
	}
	for _, coll := range []string{ImplicitCollection("Org3MSP"), "other"} {
		if _, err := view.CollectionPolicy("a", coll); err == nil {
			t.Fatalf("collection %s has a policy", coll)
		}
	}
}

type chaincodeStub struct{}

func (chaincodeStub) Invoke(contract.Stub, string, [][]byte) ([]byte, error) { return nil, nil }
