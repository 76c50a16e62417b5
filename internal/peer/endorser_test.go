package peer

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
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

// TestEndorserRefusals covers refusals that need no network: calls to
// undefined chaincodes, unknown collections.
func TestEndorserRefusals(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name string
		prop *txn.Proposal
		code codes.Code // OK: a chaincode refusal (status 500) carrying want
		want string
	}{
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

// TestEndorserPrivateData endorses a private write, checks it is in the
// transient store before the answer and never in the block, commits it and
// reads it back through the endorser; the transient copy is then gone.
func TestEndorserPrivateData(t *testing.T) {
	f := newFixture(t)
	own := ImplicitCollection("Org1MSP")
	marker := "marker-" + hex.EncodeToString(randomBytes(t, 16))
	prop := f.proposalWithTransient("kv:PutPrivate", map[string][]byte{"value": []byte(marker)}, own, "k")
	resp, err := f.node.processProposal(f.callerContext(), prop.Signed)
	if err != nil || resp.Response.Status != 200 {
		t.Fatalf("endorse private write: %v, %v", resp, err)
	}
	sets, err := f.ch.transient.Get(prop.TxID)
	if err != nil || len(sets) != 1 {
		t.Fatalf("transient store holds %d sets (%v), want 1", len(sets), err)
	}
	env, err := txn.Assemble(f.user.Signer, prop, []*pb.ProposalResponse{resp})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(env, []byte(marker)) {
		t.Fatal("the envelope carries the private value")
	}
	b := f.nextBlock(nil, env)
	if err := f.ch.processBlock(b); err != nil {
		t.Fatal(err)
	}
	if info, err := f.ch.ledger.Tx(prop.TxID); err != nil || info.Code != pb.TxValidationCode_VALID {
		t.Fatalf("tx %+v, %v", info, err)
	}
	if sets, _ := f.ch.transient.Get(prop.TxID); len(sets) != 0 {
		t.Fatalf("transient store still holds %d sets after commit", len(sets))
	}
	for _, tc := range []struct{ function, want string }{
		{"kv:GetPrivate", marker},
		{"kv:PrivateRange", `"key":"k"`},
		{"kv:GetPrivateHash", hex.EncodeToString(sha256Sum([]byte(marker)))},
	} {
		args := []string{own, "k"}
		if tc.function == "kv:PrivateRange" {
			args = []string{own, "", ""}
		}
		resp, err := f.node.processProposal(f.callerContext(), f.proposal(tc.function, args...).Signed)
		if err != nil || resp.Response.Status != 200 || !strings.Contains(string(resp.Response.Payload), tc.want) {
			t.Fatalf("%s: %v, %v; want %q", tc.function, resp, err, tc.want)
		}
	}
	stored, err := f.ch.ledger.Block(b.Header.Number)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(protocol.MustMarshal(stored), []byte(marker)) {
		t.Fatal("the committed block carries the private value")
	}

	// Reconciliation source: Pull serves the committed collection to a
	// peer of its member, nothing for another member's collection.
	svc := &privateDataService{node: f.node}
	digest := func(coll string) *pb.PrivateDataDigest {
		return &pb.PrivateDataDigest{Block: b.Header.Number, Tx: 0, Namespace: "kv", Collection: coll}
	}
	pulled, err := svc.Pull(f.callerContext(), &pb.PrivateDataPullRequest{ChannelId: testChannel, Digests: []*pb.PrivateDataDigest{digest(own), digest(ImplicitCollection("Org2MSP"))}})
	if err != nil || len(pulled.Elements) != 1 || string(pulled.Elements[0].Data.Writes[0].Value) != marker {
		t.Fatalf("Pull = %v, %v", pulled, err)
	}
	tooMany := make([]*pb.PrivateDataDigest, MaxPullDigests+1)
	for i := range tooMany {
		tooMany[i] = digest(own)
	}
	if _, err := svc.Pull(f.callerContext(), &pb.PrivateDataPullRequest{ChannelId: testChannel, Digests: tooMany}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("Pull of %d digests = %v, want InvalidArgument", len(tooMany), err)
	}
	if _, err := svc.Pull(context.Background(), &pb.PrivateDataPullRequest{ChannelId: testChannel, Digests: []*pb.PrivateDataDigest{digest(own)}}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("Pull without identity = %v", err)
	}

	// A new value this peer loses before the commit: reads refuse with
	// PRIVATE_DATA_MISSING rather than serve the older value.
	prop2 := f.proposalWithTransient("kv:PutPrivate", map[string][]byte{"value": []byte("newer")}, own, "k")
	resp2, err := f.node.processProposal(f.callerContext(), prop2.Signed)
	if err != nil {
		t.Fatal(err)
	}
	env2, err := txn.Assemble(f.user.Signer, prop2, []*pb.ProposalResponse{resp2})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.ch.transient.Remove(prop2.TxID); err != nil {
		t.Fatal(err)
	}
	if err := f.ch.processBlock(f.nextBlock(nil, env2)); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"kv:GetPrivate", own, "k"}, {"kv:PrivateRange", own, "", ""}} {
		_, err := f.node.processProposal(f.callerContext(), f.proposal(args[0], args[1:]...).Signed)
		if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), CodePrivateDataMissing) {
			t.Fatalf("%s of a missing value = %v, want Unavailable %s", args[0], err, CodePrivateDataMissing)
		}
	}
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func sha256Sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

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
	view := reg.forMembers([]string{"Org1MSP", "Org2MSP"}, nil)
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
