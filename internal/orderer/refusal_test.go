package orderer

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/policy"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
	"github.com/blossom-ledger/blossom/internal/transport"
	"github.com/blossom-ledger/blossom/internal/txn"
)

// restrictedPolicies: Org1 and Org2 may write, only Org1 may read.
func restrictedPolicies(cc *pb.ChannelConfig) {
	cc.Policies[channelconfig.PolicyWriters] = policy.Signature(policy.Or(policy.SignedBy("Org1MSP", "member"), policy.SignedBy("Org2MSP", "member")))
	cc.Policies[channelconfig.PolicyReaders] = policy.Signature(policy.SignedBy("Org1MSP", "member"))
}

func TestBroadcastRefusals(t *testing.T) {
	c := newCluster(t, 1, restrictedPolicies)
	c.leader()
	conn := c.dial(0, c.clients["Org1MSP"])
	stranger := testpki.NewConsortium(t, "Org1MSP").Member("Org1MSP").Issue(pki.RoleClient, "client0", nil)
	client := c.clients["Org1MSP"]

	valid, validTx := newEnvelope(t, client, testChannel, 100)
	if resp := broadcastOne(t, conn, valid); resp.Status != pb.Status_SUCCESS {
		t.Fatalf("valid envelope: %s %s", resp.Status, resp.Info)
	}
	tests := []struct {
		name       string
		env        func() []byte
		wantStatus pb.Status
		wantInfo   string
	}{
		{
			name:       "creator from another consortium",
			env:        func() []byte { e, _ := newEnvelope(t, stranger, testChannel, 100); return e },
			wantStatus: pb.Status_FORBIDDEN, wantInfo: "not a valid member identity",
		},
		{
			name: "bad signature",
			env: func() []byte {
				e, _ := newEnvelope(t, client, testChannel, 100)
				env := decodeEnvelope(t, e)
				env.Signature[len(env.Signature)-1] ^= 1
				return protocol.MustMarshal(env)
			},
			wantStatus: pb.Status_FORBIDDEN, wantInfo: "signature",
		},
		{
			name: "over the absolute max bytes",
			env: func() []byte {
				e, _ := newEnvelope(t, client, testChannel, channelconfig.DefaultAbsoluteMaxBytes)
				return e
			},
			wantStatus: pb.Status_REQUEST_ENTITY_TOO_LARGE, wantInfo: "exceeds the channel's absolute max bytes 2097152",
		},
		{
			name:       "not a writer",
			env:        func() []byte { e, _ := newEnvelope(t, c.clients["Org3MSP"], testChannel, 100); return e },
			wantStatus: pb.Status_FORBIDDEN, wantInfo: "Writers",
		},
		{
			name:       "unknown channel",
			env:        func() []byte { e, _ := newEnvelope(t, client, "nochannel", 100); return e },
			wantStatus: pb.Status_NOT_FOUND, wantInfo: "not served",
		},
		{
			name: "payload not a message",
			env: func() []byte {
				return protocol.MustMarshal(&pb.Envelope{Payload: []byte{0xff, 0xff, 0xff}, Signature: []byte{1}})
			},
			wantStatus: pb.Status_NOT_FOUND, // the channel cannot even be read
		},
		{
			name: "transaction ID not derived from nonce and creator",
			env: func() []byte {
				hdr := &pb.Header{Type: pb.HeaderType_ENDORSER_TRANSACTION, ChannelId: testChannel, TxId: strings.Repeat("ab", 32),
					Creator: protocol.SerializeIdentity("Org1MSP", client.Cert.Raw), Nonce: make([]byte, protocol.NonceSize), TimestampUnixNano: time.Now().UnixNano()}
				e, _ := txn.SignEnvelope(client.Signer, protocol.MustMarshal(hdr), []byte("x"))
				return e
			},
			wantStatus: pb.Status_BAD_REQUEST, wantInfo: "transaction ID",
		},
		{
			name: "CONFIG envelope from a client",
			env: func() []byte {
				hdr, _, _ := txn.NewHeader(client.Signer, pb.HeaderType_CONFIG, testChannel, time.Now())
				e, _ := txn.SignEnvelope(client.Signer, hdr, []byte("x"))
				return e
			},
			wantStatus: pb.Status_BAD_REQUEST, wantInfo: "CONFIG envelopes are built by the ordering service",
		},
		{
			name:       "resubmission of an ordered transaction",
			env:        func() []byte { return valid },
			wantStatus: pb.Status_CONFLICT, wantInfo: "DUPLICATE_TXID: transaction " + validTx,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := broadcastOne(t, conn, tt.env())
			if resp.Status != tt.wantStatus || !strings.Contains(resp.Info, tt.wantInfo) {
				t.Errorf("got %s %q, want %s containing %q", resp.Status, resp.Info, tt.wantStatus, tt.wantInfo)
			}
		})
	}
	if h := c.height(0); h != 2 {
		t.Errorf("height %d after one valid envelope, want 2", h)
	}
}

func TestDeliverRefusals(t *testing.T) {
	c := newCluster(t, 1, restrictedPolicies)
	c.leader()
	deliver := func(cred *testpki.Credential, channel string, filtered bool) (pb.Status, string, int) {
		conn := c.dial(0, cred)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stream, err := pb.NewAtomicBroadcastClient(conn).Deliver(ctx, &pb.DeliverRequest{
			ChannelId: channel, Filtered: filtered,
			Start: &pb.SeekPosition{Kind: &pb.SeekPosition_Oldest{Oldest: true}},
			Stop:  &pb.SeekPosition{Kind: &pb.SeekPosition_Newest{Newest: true}},
		})
		if err != nil {
			t.Fatal(err)
		}
		blocks := 0
		for {
			resp, err := stream.Recv()
			if err != nil {
				t.Fatalf("deliver: %v", err)
			}
			if _, ok := resp.Kind.(*pb.DeliverResponse_Block); ok {
				blocks++
				continue
			}
			return resp.GetStatus(), resp.Info, blocks
		}
	}
	tests := []struct {
		name       string
		cred       *testpki.Credential
		channel    string
		filtered   bool
		wantStatus pb.Status
		wantBlocks int
		wantInfo   string
	}{
		{"reader", c.clients["Org1MSP"], testChannel, false, pb.Status_SUCCESS, 1, ""},
		{"member that is not a reader", c.clients["Org2MSP"], testChannel, false, pb.Status_FORBIDDEN, 0, "policy not satisfied"},
		{"admin of a member that is not a reader", c.admins["Org3MSP"], testChannel, false, pb.Status_FORBIDDEN, 0, "policy not satisfied"},
		{"unknown channel", c.clients["Org1MSP"], "other", false, pb.Status_NOT_FOUND, 0, "not served"},
		{"filtered blocks (a peer's)", c.clients["Org1MSP"], testChannel, true, pb.Status_BAD_REQUEST, 0, "ask a peer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, info, n := deliver(tt.cred, tt.channel, tt.filtered)
			if st != tt.wantStatus || n != tt.wantBlocks || !strings.Contains(info, tt.wantInfo) {
				t.Errorf("got %s %q with %d blocks, want %s %q with %d", st, info, n, tt.wantStatus, tt.wantInfo, tt.wantBlocks)
			}
		})
	}
	c.logs.waitFor(t, "deliver: refused", time.Second)
}

// TestRaftStreamRefusals dials an orderer's Raft listener as nodes that
// are not (or pretend to be) consenters.
func TestRaftStreamRefusals(t *testing.T) {
	c := newCluster(t, 1, nil)
	c.leader()
	cfg, err := c.nodes[0].node.Config(testChannel)
	if err != nil {
		t.Fatal(err)
	}
	intruder := c.pki.Member("Org2MSP").Issue(pki.RoleOrderer, "intruder", nil)
	impostor := c.pki.Member("Org1MSP").Issue(pki.RoleOrderer, "orderer0", nil) // same CN, other certificate
	clientCert := c.clients["Org2MSP"]
	tests := []struct {
		name    string
		cred    *testpki.Credential
		claimID string
		want    string
		wantLog string
	}{
		{"orderer certificate of a non-consenter", intruder, "intruder", "intruder is not a consenter of channel blossom", "raft: refused stream: intruder is not a consenter"},
		{"server ID other than the certificate's CN", intruder, "orderer0", `server ID "orderer0" is not the enrollment ID "intruder"`, `is not the enrollment ID`},
		{"consenter ID with another certificate", impostor, "orderer0", "other than the one channel blossom configures", "presented a certificate other than the one"},
		{"client certificate", clientCert, "client1", "", "tls: refused client: role client not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			layer := newStreamLayer(testChannel, tt.claimID, func() *channelconfig.Config { return cfg },
				transport.ClientTLSConfig(tt.cred.TLS, c.trust, pki.RoleOrderer))
			conn, err := layer.Dial("orderer0", 5*time.Second)
			if err == nil {
				conn.Close()
				t.Fatal("the Raft stream was accepted")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("dial error %q does not mention %q", err, tt.want)
			}
			c.logs.waitFor(t, tt.wantLog, 5*time.Second)
		})
	}
	// The orderer still works.
	env, _ := newEnvelope(t, c.clients["Org1MSP"], testChannel, 10)
	if resp := broadcastOne(t, c.dial(0, c.clients["Org1MSP"]), env); resp.Status != pb.Status_SUCCESS {
		t.Fatalf("after refusals: %s %s", resp.Status, resp.Info)
	}
}
