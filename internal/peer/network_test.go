package peer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/client"
	"github.com/blossom-ledger/blossom/internal/ledger"
	"github.com/blossom-ledger/blossom/internal/network/nettest"
	"github.com/blossom-ledger/blossom/internal/peer"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
	"github.com/blossom-ledger/blossom/internal/transport"
	"github.com/blossom-ledger/blossom/internal/txn"
)

func put(key, value string) txn.Request {
	return kv("kv:Put", key, value)
}

func kv(function string, args ...string) txn.Request {
	req := txn.Request{Chaincode: nettest.KVChaincode, Function: function}
	for _, a := range args {
		req.Args = append(req.Args, []byte(a))
	}
	return req
}

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// ledgerDigest is what peers must agree on: height, commit hash and the
// hash of the whole state.
type ledgerDigest struct {
	height      uint64
	commit, st  []byte
	description string
}

func digest(t *testing.T, net *nettest.Network, i int) ledgerDigest {
	t.Helper()
	ch := net.PeerChannel(i)
	h, commit, err := ch.CommitHash()
	if err != nil {
		t.Fatal(err)
	}
	st, err := ch.StateHash()
	if err != nil {
		t.Fatal(err)
	}
	return ledgerDigest{height: h, commit: commit, st: st, description: fmt.Sprintf("peer %d: height %d commit %x state %x", i, h, commit[:6], st[:6])}
}

// sameLedgers waits until every running peer reaches the orderers' height
// and checks that all agree on commit hash and state hash; it returns the
// common digest.
func sameLedgers(t *testing.T, net *nettest.Network) ledgerDigest {
	t.Helper()
	net.WaitForHeight(t, net.OrdererHeight(0), 15*time.Second)
	var ref ledgerDigest
	first := true
	for i := range net.Members {
		if net.Peer(i) == nil {
			continue
		}
		d := digest(t, net, i)
		if first {
			ref, first = d, false
			continue
		}
		if d.height != ref.height || !bytes.Equal(d.commit, ref.commit) || !bytes.Equal(d.st, ref.st) {
			t.Fatalf("peers diverge:\n%s\n%s", ref.description, d.description)
		}
	}
	return ref
}

func TestMajorityPutCommitsEverywhere(t *testing.T) {
	net := nettest.Start(t, nettest.Options{})
	cl := net.Client(t, 0)
	ctx := testContext(t, 30*time.Second)

	events, cancel := net.PeerChannel(2).Subscribe(0)
	defer cancel()
	before := sameLedgers(t, net)
	res, err := cl.Submit(ctx, put("k1", "v1"), net.PeerNames(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if res.Code != pb.TxValidationCode_VALID || res.Block != before.height {
		t.Fatalf("submit: code %s block %d, want VALID in block %d", res.Code, res.Block, before.height)
	}
	after := sameLedgers(t, net)
	if bytes.Equal(after.st, before.st) || after.height != before.height+1 {
		t.Fatalf("state did not change: %s -> %s", before.description, after.description)
	}
	// Every peer serves the value and agrees through its Peer service.
	for i := range net.Members {
		got, err := cl.Evaluate(ctx, kv("kv:Get", "k1"), net.PeerNames(i)...)
		if err != nil || string(got) != "v1" {
			t.Fatalf("peer %d: kv:Get = %q, %v", i, got, err)
		}
		info, err := cl.ChannelInfo(ctx, net.Members[i].PeerName(), "")
		if err != nil {
			t.Fatal(err)
		}
		if info.Height != after.height || !bytes.Equal(info.CommitHash, after.commit) || len(info.CurrentBlockHash) != 32 {
			t.Fatalf("peer %d ChannelInfo: height %d commit %x", i, info.Height, info.CommitHash)
		}
	}
	// Peer 2, which did not endorse, published the commit.
	select {
	case ev := <-events:
		if ev.Number != res.Block || len(ev.Transactions) != 1 || ev.Transactions[0].TxID != res.TxID || ev.Transactions[0].Code != pb.TxValidationCode_VALID {
			t.Fatalf("event %+v", ev)
		}
	case <-ctx.Done():
		t.Fatal("no block event")
	}
	// A chaincode event reaches subscribers of every peer.
	res, err = cl.Submit(ctx, kv("kv:Event", "licence-returned", "payload"), net.PeerNames(1, 2))
	if err != nil {
		t.Fatal(err)
	}
	for ev := range events {
		if ev.Number < res.Block {
			continue
		}
		te := ev.Transactions[0]
		if te.TxID != res.TxID || len(te.Events) != 1 || te.Events[0].Name != "licence-returned" || string(te.Events[0].Payload) != "payload" {
			t.Fatalf("event %+v", te)
		}
		break
	}
}

// broadcastTogether sends envelopes on one Broadcast stream back to back,
// so that the orderer puts them into one block, and returns the answers.
func broadcastTogether(t *testing.T, net *nettest.Network, envs ...[]byte) []*pb.BroadcastResponse {
	t.Helper()
	ctx := testContext(t, 20*time.Second)
	m := net.Members[0]
	conn, err := transport.Dial(ctx, m.OrdererAddr, transport.ClientTLSConfig(m.User.TLS, net.Trust, pki.RoleOrderer))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stream, err := pb.NewAtomicBroadcastClient(conn).Broadcast(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range envs {
		env := new(pb.Envelope)
		if err := protocol.Unmarshal(raw, env, 0); err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(env); err != nil {
			t.Fatal(err)
		}
	}
	var out []*pb.BroadcastResponse
	for range envs {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, resp)
	}
	stream.CloseSend()
	return out
}

// endorsed builds a proposal for req and collects endorsements from peers.
func endorsed(t *testing.T, ctx context.Context, cl *client.Client, req txn.Request, peers []string) (*txn.Proposal, []*pb.ProposalResponse) {
	t.Helper()
	prop, err := cl.NewProposal(req)
	if err != nil {
		t.Fatal(err)
	}
	resps, err := cl.Endorse(ctx, prop, peers)
	if err != nil {
		t.Fatal(err)
	}
	return prop, resps
}

// codeOnEveryPeer waits for txID on every peer and checks its code.
func codeOnEveryPeer(t *testing.T, ctx context.Context, net *nettest.Network, cl *client.Client, txID string, want pb.TxValidationCode) uint64 {
	t.Helper()
	res, err := cl.WaitForCommit(ctx, "", txID, net.PeerNames(0, 1, 2)...)
	var invalid *client.InvalidTxError
	if want != pb.TxValidationCode_VALID && !errors.As(err, &invalid) {
		t.Fatalf("transaction %s: want an InvalidTxError, got %v", txID, err)
	}
	if res == nil || res.Code != want {
		t.Fatalf("transaction %s: %v, want %s", txID, err, want)
	}
	return res.Block
}

// TestInvalidTransactionsChangeNothing: transactions with too few
// endorsements, a forged endorsement signature, a read conflict or a
// replayed transaction ID are recorded with the same code on every peer and
// leave the state as it was.
func TestInvalidTransactionsChangeNothing(t *testing.T) {
	// The orderers remember only 3 transaction IDs, so that a replay can
	// get past them to the peers (see the replay step).
	net := nettest.Start(t, nettest.Options{RecentTxIDs: 3})
	cl := net.Client(t, 0)
	ctx := testContext(t, 45*time.Second)

	first, err := cl.Submit(ctx, put("a", "1"), net.PeerNames(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	firstBlock, err := net.PeerChannel(0).Ledger().Block(first.Block)
	if err != nil {
		t.Fatal(err)
	}
	firstEnvelope := firstBlock.Data.Envelopes[0]
	base := sameLedgers(t, net)

	t.Run("one endorsement where MAJORITY is required", func(t *testing.T) {
		res, err := cl.Submit(ctx, put("a", "2"), net.PeerNames(1))
		var invalid *client.InvalidTxError
		if !errors.As(err, &invalid) || res == nil || res.Code != pb.TxValidationCode_ENDORSEMENT_POLICY_FAILURE {
			t.Fatalf("got %+v, %v", res, err)
		}
		codeOnEveryPeer(t, ctx, net, cl, res.TxID, pb.TxValidationCode_ENDORSEMENT_POLICY_FAILURE)
	})

	t.Run("forged endorsement signature", func(t *testing.T) {
		prop, resps := endorsed(t, ctx, cl, put("a", "3"), net.PeerNames(0, 2))
		sig := resps[1].Endorsement.Signature
		sig[len(sig)-1] ^= 0x01
		env, err := txn.Assemble(net.Members[0].User.Signer, prop, resps)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.Broadcast(ctx, env); err != nil {
			t.Fatal(err)
		}
		codeOnEveryPeer(t, ctx, net, cl, prop.TxID, pb.TxValidationCode_BAD_SIGNATURE)
	})

	t.Run("replay refused by the orderers", func(t *testing.T) {
		err := cl.Broadcast(ctx, firstEnvelope)
		var be *client.BroadcastError
		if !errors.As(err, &be) || be.Status != pb.Status_CONFLICT || !strings.Contains(be.Info, "DUPLICATE_TXID") {
			t.Fatalf("replay: %v, want CONFLICT DUPLICATE_TXID", err)
		}
	})
	if got := sameLedgers(t, net); !bytes.Equal(got.st, base.st) {
		t.Fatalf("invalid transactions changed the state: %s -> %s", base.description, got.description)
	}

	t.Run("read conflict in one block", func(t *testing.T) {
		propA, respsA := endorsed(t, ctx, cl, kv("kv:Incr", "counter"), net.PeerNames(0, 1))
		propB, respsB := endorsed(t, ctx, cl, kv("kv:Incr", "counter"), net.PeerNames(1, 2))
		envA, err := txn.Assemble(net.Members[0].User.Signer, propA, respsA)
		if err != nil {
			t.Fatal(err)
		}
		envB, err := txn.Assemble(net.Members[0].User.Signer, propB, respsB)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range broadcastTogether(t, net, envA, envB) {
			if r.Status != pb.Status_SUCCESS {
				t.Fatalf("broadcast: %s %s", r.Status, r.Info)
			}
		}
		blockA := codeOnEveryPeer(t, ctx, net, cl, propA.TxID, pb.TxValidationCode_VALID)
		blockB := codeOnEveryPeer(t, ctx, net, cl, propB.TxID, pb.TxValidationCode_MVCC_READ_CONFLICT)
		if blockA != blockB {
			t.Fatalf("the two transactions landed in blocks %d and %d, want one block", blockA, blockB)
		}
		for i := range net.Members {
			got, err := cl.Evaluate(ctx, kv("kv:Get", "counter"), net.PeerNames(i)...)
			if err != nil || string(got) != "1" {
				t.Fatalf("peer %d: counter = %q, %v; want 1 (one increment applied)", i, got, err)
			}
		}
	})
	base = sameLedgers(t, net)

	t.Run("replay reaching the peers", func(t *testing.T) {
		// Four transactions were ordered since the first one: the
		// orderers, which remember three, no longer know its ID.
		net.WaitForOrderers(t, base.height, 10*time.Second)
		events, cancel := net.PeerChannel(1).Subscribe(0)
		defer cancel()
		if err := cl.Broadcast(ctx, firstEnvelope); err != nil {
			t.Fatalf("replay past the orderers' memory: %v", err)
		}
		ev := <-events
		if len(ev.Transactions) != 1 || ev.Transactions[0].TxID != first.TxID || ev.Transactions[0].Code != pb.TxValidationCode_DUPLICATE_TXID {
			t.Fatalf("block %d: %+v, want the replay as DUPLICATE_TXID", ev.Number, ev.Transactions)
		}
		net.WaitForHeight(t, ev.Number+1, 10*time.Second)
		for i := range net.Members {
			b, err := net.PeerChannel(i).Ledger().Block(ev.Number)
			if err != nil {
				t.Fatal(err)
			}
			if codes := ledger.DecodeValidationCodes(b.Metadata.ValidationCodes); len(codes) != 1 || codes[0] != pb.TxValidationCode_DUPLICATE_TXID {
				t.Fatalf("peer %d block %d codes %v", i, ev.Number, codes)
			}
		}
	})
	if got := sameLedgers(t, net); !bytes.Equal(got.st, base.st) {
		t.Fatalf("the replay changed the state: %s -> %s", base.description, got.description)
	}
}

// TestBadInputIsRefused: malformed or hostile proposals get a clear error,
// change nothing and never stop a node: the next good transaction commits.
func TestBadInputIsRefused(t *testing.T) {
	net := nettest.Start(t, nettest.Options{})
	cl := net.Client(t, 0)
	ctx := testContext(t, 45*time.Second)
	base := sameLedgers(t, net)
	m := net.Members[0]
	conn, err := transport.Dial(ctx, m.PeerAddr, transport.ClientTLSConfig(m.User.TLS, net.Trust, pki.RolePeer))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	endorser := pb.NewEndorserClient(conn)

	chaincodeRefusals := []struct {
		name string
		req  txn.Request
		want string
	}{
		{"unknown function", kv("kv:Nope"), "unknown function kv:Nope"},
		{"malformed function name", kv("Put", "k", "v"), "malformed function name"},
		{"missing argument", kv("kv:Put", "k"), "wrong number of arguments: want 2, got 1"},
		{"chaincode message verbatim", kv("kv:Fail", "no licences left: pool empty"), "no licences left: pool empty"},
		{"panicking chaincode", kv("kv:Panic"), "chaincode kv panicked"},
	}
	for _, tc := range chaincodeRefusals {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cl.Submit(ctx, tc.req, net.PeerNames(0, 1))
			var ce *client.ChaincodeError
			if !errors.As(err, &ce) || ce.Status != 500 || !strings.Contains(ce.Message, tc.want) {
				t.Fatalf("got %v, want a chaincode error containing %q", err, tc.want)
			}
			if tc.name == "chaincode message verbatim" && ce.Message != tc.want {
				t.Fatalf("message %q, want %q verbatim", ce.Message, tc.want)
			}
			// The raw response carries no endorsement.
			prop, err := cl.NewProposal(tc.req)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := endorser.ProcessProposal(ctx, prop.Signed)
			if err != nil || resp.Response.Status != 500 || resp.Endorsement != nil || len(resp.Payload) != 0 {
				t.Fatalf("raw response %v, %v", resp, err)
			}
		})
	}

	other := testpki.NewConsortium(t, "Org1MSP")
	stranger := other.Member("Org1MSP").Issue(pki.RoleClient, "stranger", nil)
	signed := func(t *testing.T, signer *testpki.Credential, req txn.Request) *pb.SignedProposal {
		t.Helper()
		req.ChannelID = net.Channel
		prop, err := txn.NewProposal(signer.Signer, req)
		if err != nil {
			t.Fatal(err)
		}
		return prop.Signed
	}
	badSignature := signed(t, m.User, put("k", "v"))
	badSignature.Signature = signed(t, m.User, put("k", "other")).Signature
	otherChannel := put("k", "v")
	otherChannel.ChannelID = "elsewhere"
	otherChannelProp, err := txn.NewProposal(m.User.Signer, otherChannel)
	if err != nil {
		t.Fatal(err)
	}
	oldReq := put("k", "v")
	oldReq.Time = time.Now().Add(-10 * time.Minute)
	futureHeight := put("k", "v")
	futureHeight.MinHeight = base.height + 1000
	huge := put("k", strings.Repeat("x", peer.DefaultMaxProposalBytes+1))

	refusals := []struct {
		name string
		sp   *pb.SignedProposal
		code codes.Code
		want string
	}{
		{"garbage bytes", &pb.SignedProposal{Proposal: []byte("\xff\x00garbage\x01\x02"), Signature: []byte("x")}, codes.InvalidArgument, "malformed proposal"},
		{"empty proposal", &pb.SignedProposal{}, codes.InvalidArgument, "malformed proposal"},
		{"unknown chaincode", signed(t, m.User, txn.Request{Chaincode: "nope", Function: "x:Y"}), codes.NotFound, `chaincode "nope" is not defined`},
		{"unknown channel", otherChannelProp.Signed, codes.NotFound, `channel "elsewhere"`},
		{"signature over other bytes", badSignature, codes.PermissionDenied, "signature"},
		{"creator of another consortium", signed(t, stranger, put("k", "v")), codes.PermissionDenied, "creator"},
		{"timestamp 10 minutes old", signed(t, m.User, oldReq), codes.InvalidArgument, "timestamp"},
		{"ledger behind min height", signed(t, m.User, futureHeight), codes.Unavailable, peer.CodePeerBehind},
		{"oversized proposal", signed(t, m.User, huge), codes.ResourceExhausted, ""},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := endorser.ProcessProposal(ctx, tc.sp)
			if status.Code(err) != tc.code || !strings.Contains(status.Convert(err).Message(), tc.want) {
				t.Fatalf("got %v, %v; want %s containing %q", resp, err, tc.code, tc.want)
			}
		})
	}
	t.Run("replayed proposal of a committed transaction", func(t *testing.T) {
		prop, resps := endorsed(t, ctx, cl, put("r", "1"), net.PeerNames(0, 1))
		env, err := txn.Assemble(m.User.Signer, prop, resps)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.Broadcast(ctx, env); err != nil {
			t.Fatal(err)
		}
		if _, err := cl.WaitForCommit(ctx, "", prop.TxID); err != nil {
			t.Fatal(err)
		}
		_, err = endorser.ProcessProposal(ctx, prop.Signed)
		if status.Code(err) != codes.AlreadyExists || !strings.Contains(err.Error(), peer.CodeDuplicateTxID) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("commit status of a malformed transaction ID", func(t *testing.T) {
		_, err := pb.NewPeerClient(conn).CommitStatus(ctx, &pb.CommitStatusRequest{ChannelId: net.Channel, TxId: strings.Repeat("a", 1000)})
		if status.Code(err) != codes.InvalidArgument {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("commit status waits no longer than the deadline", func(t *testing.T) {
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		_, err := pb.NewPeerClient(conn).CommitStatus(short, &pb.CommitStatusRequest{ChannelId: net.Channel, TxId: "0123"})
		if status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("got %v", err)
		}
	})

	// Nothing above changed the state but the one committed put; every
	// node still works.
	res, err := cl.Submit(ctx, put("after", "ok"), net.PeerNames(1, 2))
	if err != nil || res.Code != pb.TxValidationCode_VALID {
		t.Fatalf("good transaction after bad input: %+v %v", res, err)
	}
	sameLedgers(t, net)
	for i := range net.Members {
		if err := net.Peer(i).Healthy(); err != nil {
			t.Fatalf("peer %d: %v", i, err)
		}
	}
}

// TestPeerRestartCatchesUp: a stopped peer misses blocks; restarted, it
// pulls them from the orderers (failing over from a stopped orderer) and
// ends with the same commit hash and state as the others.
func TestPeerRestartCatchesUp(t *testing.T) {
	net := nettest.Start(t, nettest.Options{})
	cl := net.Client(t, 0)
	ctx := testContext(t, 45*time.Second)
	if _, err := cl.Submit(ctx, put("before", "1"), net.PeerNames(0, 2)); err != nil {
		t.Fatal(err)
	}
	sameLedgers(t, net)
	stoppedAt := net.PeerChannel(2).Height()
	net.StopPeer(2)
	for i := 0; i < 4; i++ {
		if _, err := cl.Submit(ctx, put(fmt.Sprintf("while-down-%d", i), "x"), net.PeerNames(0, 1)); err != nil {
			t.Fatal(err)
		}
	}
	// The first orderer in configuration order, where a restarted peer
	// starts pulling, goes away too.
	if err := net.Members[0].Orderer.Close(); err != nil {
		t.Fatal(err)
	}
	net.RestartPeer(2)
	want := digest(t, net, 0)
	if want.height != stoppedAt+4 {
		t.Fatalf("peer 0 at height %d, want %d", want.height, stoppedAt+4)
	}
	if _, err := net.PeerChannel(2).Ledger().WaitForHeight(ctx, want.height); err != nil {
		t.Fatalf("restarted peer did not catch up: %v", err)
	}
	got := digest(t, net, 2)
	if !bytes.Equal(got.commit, want.commit) || !bytes.Equal(got.st, want.st) {
		t.Fatalf("restarted peer diverges:\n%s\n%s", want.description, got.description)
	}
	// And it endorses again, with the remaining orderers.
	res, err := cl.Submit(ctx, put("after", "1"), net.PeerNames(2, 1))
	if err != nil || res.Code != pb.TxValidationCode_VALID {
		t.Fatalf("%+v %v", res, err)
	}
}

// TestConfigUpdateRefreshesTrust: a config block adding a member is
// committed by every peer, which from then on accepts that member's users
// over TLS and in its services.
func TestConfigUpdateRefreshesTrust(t *testing.T) {
	net := nettest.Start(t, nettest.Options{})
	ctx := testContext(t, 45*time.Second)
	newcomer := net.PKI.AddMember("Org4MSP")
	user := newcomer.Issue(pki.RoleClient, "user4", nil)
	cfg := net.ClientConfig(0, user)
	tryInfo := func() error {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		c, err := client.Connect(cctx, cfg)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.ChannelInfo(cctx, "", "")
		return err
	}
	if err := tryInfo(); err == nil {
		t.Fatal("a non-member reached the peer")
	}

	current := net.PeerChannel(0).Config()
	upd := current.NewUpdate(channelconfig.MemberElement("Org4MSP"))
	upd.SetMembers = map[string]*pb.MemberConfig{"Org4MSP": {
		MspId: "Org4MSP", RootCerts: [][]byte{net.PKI.Root.Cert.Raw}, IntermediateCerts: [][]byte{newcomer.CA.Cert.Raw},
	}}
	raw := protocol.MustMarshal(upd)
	var sigs []*pb.ConfigSignature
	for _, i := range []int{0, 1} {
		sig, err := channelconfig.SignUpdate(raw, net.Members[i].Admin.Signer)
		if err != nil {
			t.Fatal(err)
		}
		sigs = append(sigs, sig)
	}
	env, _, err := channelconfig.NewUpdateEnvelope(net.Members[0].Admin.Signer, net.Channel, raw, sigs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	events, cancel := net.PeerChannel(1).Subscribe(0)
	defer cancel()
	if err := net.Client(t, 0).Broadcast(ctx, env); err != nil {
		t.Fatal(err)
	}
	ev := <-events
	if ev.Config == nil || ev.Config.Members["Org4MSP"] == nil {
		t.Fatalf("block %d is not the config block adding Org4MSP", ev.Number)
	}
	sameLedgers(t, net)
	for i := range net.Members {
		if ids := net.PeerChannel(i).Config().MemberIDs(); len(ids) != 4 {
			t.Fatalf("peer %d members %v", i, ids)
		}
	}
	// The peer switches its channel configuration, then rebuilds its TLS
	// trust from it: the new member is admitted right after, not in the
	// same instant the new configuration becomes visible.
	nettest.Eventually(t, 5*time.Second, func() error {
		if err := tryInfo(); err != nil {
			return fmt.Errorf("new member refused after the config block: %w", err)
		}
		return nil
	})
	// Transactions still commit under the new configuration (MAJORITY of
	// four is three).
	res, err := net.Client(t, 1).Submit(ctx, put("k", "v"), net.PeerNames(0, 1, 2))
	if err != nil || res.Code != pb.TxValidationCode_VALID {
		t.Fatalf("%+v %v", res, err)
	}
}

// TestPeerDeliver: the Peer service streams committed blocks with their
// validation codes and commit hashes, and ends with SUCCESS at the stop.
func TestPeerDeliver(t *testing.T) {
	net := nettest.Start(t, nettest.Options{})
	cl := net.Client(t, 0)
	ctx := testContext(t, 30*time.Second)
	good, err := cl.Submit(ctx, put("k", "v"), net.PeerNames(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	bad, _ := cl.Submit(ctx, put("k", "w"), net.PeerNames(0))
	if bad == nil || bad.Code != pb.TxValidationCode_ENDORSEMENT_POLICY_FAILURE {
		t.Fatalf("%+v", bad)
	}
	m := net.Members[2]
	conn, err := transport.Dial(ctx, m.PeerAddr, transport.ClientTLSConfig(net.Members[1].User.TLS, net.Trust, pki.RolePeer))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := net.PeerChannel(2).Ledger().WaitForHeight(ctx, bad.Block+1); err != nil {
		t.Fatal(err)
	}
	blocks := deliver(t, ctx, conn, net.Channel, 0, bad.Block)
	if uint64(len(blocks)) != bad.Block+1 {
		t.Fatalf("%d blocks, want %d", len(blocks), bad.Block+1)
	}
	codesOf := func(n uint64) []pb.TxValidationCode {
		return ledger.DecodeValidationCodes(blocks[n].Metadata.ValidationCodes)
	}
	if c := codesOf(good.Block); len(c) != 1 || c[0] != pb.TxValidationCode_VALID {
		t.Fatalf("block %d codes %v", good.Block, c)
	}
	if c := codesOf(bad.Block); len(c) != 1 || c[0] != pb.TxValidationCode_ENDORSEMENT_POLICY_FAILURE {
		t.Fatalf("block %d codes %v", bad.Block, c)
	}
	_, commit, _ := net.PeerChannel(2).CommitHash()
	if !bytes.Equal(blocks[bad.Block].Metadata.CommitHash, commit) {
		t.Fatal("delivered block lacks the commit hash")
	}
	// Filtered blocks carry each transaction's ID and code, as the blocks do.
	filtered, err := pb.NewPeerClient(conn).Deliver(ctx, &pb.DeliverRequest{
		ChannelId: net.Channel, Filtered: true,
		Start: &pb.SeekPosition{Kind: &pb.SeekPosition_Specified{Specified: 0}},
		Stop:  &pb.SeekPosition{Kind: &pb.SeekPosition_Specified{Specified: bad.Block}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for n := uint64(0); n <= bad.Block; n++ {
		resp, err := filtered.Recv()
		fb := resp.GetFilteredBlock()
		if err != nil || fb == nil || fb.Number != n || len(fb.Transactions) != len(blocks[n].Data.Envelopes) {
			t.Fatalf("filtered block %d: %v %v", n, resp, err)
		}
		for i, tx := range fb.Transactions {
			_, _, hdr, err := protocol.OpenEnvelope(blocks[n].Data.Envelopes[i], 0)
			if err != nil || tx.TxId != hdr.TxId || tx.Code != codesOf(n)[i] {
				t.Fatalf("filtered block %d tx %d: %v, block has %v %v", n, i, tx, hdr.GetTxId(), codesOf(n)[i])
			}
		}
	}
	if resp, err := filtered.Recv(); err != nil || resp.GetStatus() != pb.Status_SUCCESS {
		t.Fatalf("filtered stream end: %v %v", resp, err)
	}
	// A stream without a stop follows new commits.
	stream, err := pb.NewPeerClient(conn).Deliver(ctx, &pb.DeliverRequest{ChannelId: net.Channel, Start: &pb.SeekPosition{Kind: &pb.SeekPosition_Specified{Specified: bad.Block + 1}}})
	if err != nil {
		t.Fatal(err)
	}
	next, err := cl.Submit(ctx, put("k", "x"), net.PeerNames(1, 2))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil || resp.GetBlock().GetHeader().GetNumber() != next.Block {
		t.Fatalf("followed block: %v %v", resp, err)
	}
	// Unknown channel and bad ranges end with a status.
	for _, req := range []*pb.DeliverRequest{
		{ChannelId: "nope"},
		{ChannelId: net.Channel, Start: &pb.SeekPosition{Kind: &pb.SeekPosition_Specified{Specified: 5}}, Stop: &pb.SeekPosition{Kind: &pb.SeekPosition_Specified{Specified: 2}}},
		{ChannelId: net.Channel, Start: &pb.SeekPosition{Kind: &pb.SeekPosition_Specified{Specified: 1000}}, Behavior: pb.DeliverRequest_FAIL_IF_NOT_READY},
	} {
		s, err := pb.NewPeerClient(conn).Deliver(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := s.Recv()
		if err != nil || resp.GetStatus() == pb.Status_SUCCESS || resp.GetStatus() == pb.Status_STATUS_UNSPECIFIED {
			t.Fatalf("request %v: %v %v", req, resp, err)
		}
	}
}

func deliver(t *testing.T, ctx context.Context, conn *grpc.ClientConn, channel string, start, stop uint64) []*pb.Block {
	t.Helper()
	stream, err := pb.NewPeerClient(conn).Deliver(ctx, &pb.DeliverRequest{
		ChannelId: channel,
		Start:     &pb.SeekPosition{Kind: &pb.SeekPosition_Specified{Specified: start}},
		Stop:      &pb.SeekPosition{Kind: &pb.SeekPosition_Specified{Specified: stop}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var blocks []*pb.Block
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			t.Fatal("stream ended without a status")
		}
		if err != nil {
			t.Fatal(err)
		}
		if b := resp.GetBlock(); b != nil {
			blocks = append(blocks, b)
			continue
		}
		if resp.GetStatus() != pb.Status_SUCCESS {
			t.Fatalf("deliver: %s %s", resp.GetStatus(), resp.GetInfo())
		}
		return blocks
	}
}
