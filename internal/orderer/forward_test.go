package orderer

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
)

// checkCounts reads the cluster-wide envelope check counters.
func (c *cluster) checkCounts() (full, trusted float64) {
	c.t.Helper()
	return c.metric("blossom_broadcast_check_count", "kind", checkFull), c.metric("blossom_broadcast_check_count", "kind", checkTrusted)
}

// TestForwardedEnvelopesAreCheckedOnce: envelopes a client sends to a
// follower are checked there and trusted by the leader (one full check per
// ordered envelope), also after a configuration change, since forwarder
// and leader then agree on the new sequence.
func TestForwardedEnvelopesAreCheckedOnce(t *testing.T) {
	c := newCluster(t, 3, nil)
	leader := c.leader()
	follower := (leader + 1) % 3
	const n = 20

	for round, change := range []func(){
		nil,
		func() { // a config update (batch timeout) moves the sequence to 1
			cfg, _ := c.nodes[leader].node.Config(testChannel)
			env := ordererUpdate(t, cfg, func(o *pb.OrdererConfig) { o.BatchTimeoutMs = 50 }, c.admins["Org1MSP"], c.admins["Org2MSP"])
			if resp := broadcastOne(t, c.dial(leader, c.clients["Org1MSP"]), env); resp.Status != pb.Status_SUCCESS {
				t.Fatalf("config update: %s %s", resp.Status, resp.Info)
			}
			c.waitSameHeight(0, 10*time.Second)
			for i, tn := range c.nodes {
				if cfg, _ := tn.node.Config(testChannel); cfg.Sequence() != 1 {
					t.Fatalf("orderer %d: sequence %d after the update", i, cfg.Sequence())
				}
			}
		},
	} {
		if change != nil {
			change()
		}
		// An election (a starved heartbeat on a loaded machine) makes
		// envelopes be re-routed and checked again: measure a round within
		// one Raft term, trying again if the term moved.
		var full, full0, trusted, trusted0, ordered, leaderFull0 float64
		for attempt := 0; ; attempt++ {
			leader = c.leader()
			follower = (leader + 1) % 3
			term := c.nodes[leader].node.chain(testChannel).raft.Stats()["term"]
			full0, trusted0 = c.checkCounts()
			ordered0 := c.metric("blossom_broadcast_ordered_count")
			leaderFull0 = c.nodeMetric(leader, "blossom_broadcast_check_count", "kind", checkFull)
			c.sendLoad(t, follower, n)
			full, trusted = c.checkCounts()
			ordered = c.metric("blossom_broadcast_ordered_count") - ordered0
			if c.leader() == leader && c.nodes[leader].node.chain(testChannel).raft.Stats()["term"] == term {
				break
			}
			if attempt == 2 {
				t.Fatalf("round %d: leadership moved in each of 3 attempts", round)
			}
		}
		if ordered != n || full-full0 != n || trusted-trusted0 != n {
			t.Errorf("round %d: %v envelopes ordered, %v full checks, %v trusted; want %d each", round, ordered, full-full0, trusted-trusted0, n)
		}
		if lf := c.nodeMetric(leader, "blossom_broadcast_check_count", "kind", checkFull) - leaderFull0; lf != 0 {
			t.Errorf("round %d: the leader verified %v forwarded envelopes again", round, lf)
		}
	}
}

// TestForwardedSequenceIsTrustedOnlyFromConsenters sends envelopes straight
// to the leader claiming to be forwarded, over mutual TLS with various
// certificates: the claim skips the signature check only from a consenter
// of the channel and only at the leader's configuration sequence; anyone
// else's envelope is checked in full (a bad signature is refused) and a
// duplicate is refused either way.
func TestForwardedSequenceIsTrustedOnlyFromConsenters(t *testing.T) {
	c := newCluster(t, 3, nil)
	leader := c.leader()
	follower := (leader + 1) % 3
	consenter := c.nodes[follower].cred
	org := c.nodes[follower].msp
	// An orderer certificate of a member that is not a consenter, and one
	// reusing a consenter's enrollment ID with another key.
	stranger := c.pki.Member("Org1MSP").Issue(pki.RoleOrderer, "orderer9", nil)
	impostor := c.pki.Member(org).Issue(pki.RoleOrderer, consenter.Cert.Subject.CommonName, nil)
	client := c.clients["Org1MSP"]

	valid, validTx := newEnvelope(t, client, testChannel, 100)
	tampered := func() []byte {
		e, _ := newEnvelope(t, client, testChannel, 100)
		env := decodeEnvelope(t, e)
		env.Signature[len(env.Signature)-1] ^= 1
		return protocol.MustMarshal(env)
	}
	fresh := func() []byte { e, _ := newEnvelope(t, client, testChannel, 100); return e }
	const seq = 0 // the genesis configuration's sequence
	tests := []struct {
		name        string
		cred        *testpki.Credential
		env         []byte
		claim       uint64
		wantStatus  pb.Status
		wantInfo    string
		wantTrusted bool
	}{
		{name: "consenter at the leader's sequence", cred: consenter, env: valid, claim: seq, wantStatus: pb.Status_SUCCESS, wantTrusted: true},
		{name: "consenter at the leader's sequence, duplicate", cred: consenter, env: valid, claim: seq, wantStatus: pb.Status_CONFLICT, wantInfo: "DUPLICATE_TXID: transaction " + validTx, wantTrusted: true},
		{name: "consenter at another sequence, bad signature", cred: consenter, env: tampered(), claim: seq + 1, wantStatus: pb.Status_FORBIDDEN, wantInfo: "signature"},
		{name: "consenter at another sequence, valid", cred: consenter, env: fresh(), claim: seq + 1, wantStatus: pb.Status_SUCCESS},
		{name: "client claiming the sequence", cred: client, env: tampered(), claim: seq, wantStatus: pb.Status_FORBIDDEN, wantInfo: "signature"},
		{name: "orderer that is not a consenter", cred: stranger, env: tampered(), claim: seq, wantStatus: pb.Status_FORBIDDEN, wantInfo: "signature"},
		{name: "consenter's ID with another certificate", cred: impostor, env: tampered(), claim: seq, wantStatus: pb.Status_FORBIDDEN, wantInfo: "signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := decodeEnvelope(t, tt.env)
			env.ForwardedConfigSequence = &tt.claim
			// Sent to the leader; if leadership moved (a starved heartbeat on
			// a loaded machine), to the new one.
			var resp *pb.BroadcastResponse
			var full0, trusted0 float64
			uncertain := false
			for attempt := 0; ; attempt++ {
				full0, trusted0 = c.checkCounts()
				resp = sendOne(t, c.dial(c.leader(), tt.cred), env)
				if resp.Status != pb.Status_SERVICE_UNAVAILABLE || attempt == 3 {
					break
				}
				uncertain = uncertain || strings.HasPrefix(resp.Info, reasonOutcomeUnknown)
			}
			if uncertain && tt.wantStatus == pb.Status_SUCCESS && resp.Status == pb.Status_CONFLICT && strings.HasPrefix(resp.Info, duplicateTxID) {
				resp.Status = pb.Status_SUCCESS // ordered by the attempt whose outcome was unknown
			}
			if resp.Status != tt.wantStatus || !strings.Contains(resp.Info, tt.wantInfo) {
				t.Fatalf("got %s %q, want %s containing %q", resp.Status, resp.Info, tt.wantStatus, tt.wantInfo)
			}
			full, trusted := c.checkCounts()
			if tt.wantTrusted && (trusted-trusted0 != 1 || full != full0) {
				t.Errorf("want a trusted admission: %v trusted, %v full checks", trusted-trusted0, full-full0)
			}
			if !tt.wantTrusted && (full-full0 != 1 || trusted != trusted0) {
				t.Errorf("want a full check: %v full checks, %v trusted", full-full0, trusted-trusted0)
			}
		})
	}
	// Nothing refused reached a block: genesis, then the two valid envelopes.
	h := c.waitSameHeight(0, 10*time.Second)
	ids := chainTxIDs(t, c.storedBlocks(follower, h))
	if len(ids) != 2 || ids[0] != validTx {
		t.Errorf("ordered transactions %v, want %s and one other", ids, validTx)
	}
}

// TestAdmissionBound: an orderer holding its bound of envelopes not yet
// answered refuses more at once with SERVICE_UNAVAILABLE OVERLOADED, both
// from its own clients and forwarded by a follower (which relays the
// answer); the envelopes it held are all ordered, and the refused ones are
// ordered when resubmitted, each exactly once. A round in which leadership
// moved (a starved heartbeat on a loaded machine) only checks that what
// was acknowledged is ordered once, and the round is run again.
func TestAdmissionBound(t *testing.T) {
	const bound = 4
	c := newCluster(t, 3, nil, func(c *cluster) { c.maxPending = bound })
	for attempt := 0; !admissionRound(t, c, bound); attempt++ {
		if attempt == 2 {
			t.Fatal("leadership moved in each of 3 rounds")
		}
	}
}

// raftTerm is orderer i's current Raft term.
func (c *cluster) raftTerm(i int) string {
	return c.nodes[i].node.chain(testChannel).raft.Stats()["term"]
}

// admissionRound runs TestAdmissionBound's scenario once. It reports false
// if leadership moved meanwhile.
func admissionRound(t *testing.T, c *cluster, bound int) bool {
	leader := c.leader()
	follower := (leader + 1) % 3
	term := c.raftTerm(leader)
	ln := c.nodes[leader].node
	client := c.clients["Org1MSP"]
	overloads0 := c.nodeMetric(leader, "blossom_broadcast_overload_count")

	// Hold the leader's signature-check slots so that the envelopes it
	// admits wait, counted, before their check.
	gate := ln.checks
	for range gate.Size() {
		if err := gate.Enter(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	released := false
	release := func() {
		if !released {
			released = true
			for range gate.Size() {
				gate.Leave()
			}
		}
	}
	defer release()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stream, err := pb.NewAtomicBroadcastClient(c.dial(leader, client)).Broadcast(ctx)
	if err != nil {
		t.Fatal(err)
	}
	held := make([][]byte, bound)
	heldTx := make([]string, bound)
	for k := range held {
		held[k], heldTx[k] = newEnvelope(t, client, testChannel, 100)
		if err := stream.Send(decodeEnvelope(t, held[k])); err != nil {
			t.Fatal(err)
		}
	}
	lc := ln.chain(testChannel)
	eventually(t, 10*time.Second, "the leader to hold its bound", func() bool { return lc.pendingEnvelopes.Load() == int64(bound) })

	overflow := make([][]byte, 2)
	overflowTx := make([]string, 2)
	var refusals []*pb.BroadcastResponse
	for k, node := range []int{leader, follower} { // to the leader; forwarded by a follower
		overflow[k], overflowTx[k] = newEnvelope(t, client, testChannel, 100)
		refusals = append(refusals, broadcastOne(t, c.dial(node, client), overflow[k]))
	}
	overloads := c.nodeMetric(leader, "blossom_broadcast_overload_count") - overloads0

	release()
	// Every envelope is answered; those not acknowledged are resubmitted
	// (as a client does) until they are.
	acked := map[string]bool{}
	for k := range held {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if resp.TxId != heldTx[k] {
			t.Fatalf("answer %d is for tx %s, want %s", k, resp.TxId, heldTx[k])
		}
		acked[heldTx[k]] = resp.Status == pb.Status_SUCCESS
	}
	resubmit := func(env []byte, tx string) {
		for try := 0; ; try++ {
			resp := broadcastOne(t, c.dial(follower, client), env)
			if resp.Status == pb.Status_SUCCESS || (resp.Status == pb.Status_CONFLICT && strings.HasPrefix(resp.Info, duplicateTxID)) {
				return
			}
			if resp.Status != pb.Status_SERVICE_UNAVAILABLE || try == 20 {
				t.Fatalf("resubmitted tx %s: %s %q", tx, resp.Status, resp.Info)
			}
		}
	}
	for k := range held {
		if !acked[heldTx[k]] {
			resubmit(held[k], heldTx[k])
		}
	}
	for k := range overflow {
		resubmit(overflow[k], overflowTx[k])
	}
	h := c.waitSameHeight(0, 10*time.Second)
	seen := map[string]int{}
	for _, id := range chainTxIDs(t, c.storedBlocks(follower, h)) {
		seen[id]++
	}
	for _, id := range append(heldTx, overflowTx...) {
		if seen[id] != 1 {
			t.Errorf("transaction %s ordered %d times, want once", id, seen[id])
		}
	}
	for _, tn := range c.nodes {
		ch := tn.node.chain(testChannel)
		eventually(t, 10*time.Second, "no envelope left counted", func() bool { return ch.pendingEnvelopes.Load() == 0 })
	}
	if c.leader() != leader || c.raftTerm(leader) != term {
		t.Logf("leadership moved during the round (term %s to %s); running it again", term, c.raftTerm(c.leader()))
		return false
	}
	for k, resp := range refusals {
		if resp.Status != pb.Status_SERVICE_UNAVAILABLE || !strings.HasPrefix(resp.Info, ReasonOverloaded+":") {
			t.Errorf("overflow %d (0: to the leader, 1: forwarded) past the bound: %s %q, want SERVICE_UNAVAILABLE %s", k, resp.Status, resp.Info, ReasonOverloaded)
		}
	}
	if overloads != 2 {
		t.Errorf("leader overload count %v, want 2", overloads)
	}
	for tx, ok := range acked {
		if !ok {
			t.Errorf("held tx %s was not acknowledged although leadership did not move", tx)
		}
	}
	return true
}
