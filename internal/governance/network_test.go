package governance_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/client"
	"github.com/blossom-ledger/blossom/internal/governance"
	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/network/nettest"
	"github.com/blossom-ledger/blossom/internal/peer"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/txn"
)

// networkChaincode is the system chaincode every peer has built in.
const networkChaincode = governance.Name

// TestNetworkGovernance runs governance on a three-member network: a
// member revokes its user with its own admin's signature alone, and a
// fourth member is added with 2 of 3 signatures, after which the channel
// Admins policy needs 3 of 4.
func TestNetworkGovernance(t *testing.T) {
	net := nettest.Start(t, nettest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	all := net.PeerNames(0, 1, 2)
	admin := func(i int) *governance.Ledger {
		m := net.Members[i]
		return &governance.Ledger{
			Client: net.ConnectClient(t, net.ClientConfig(i, m.Admin)), Signer: m.Admin.Signer,
			Chaincode: networkChaincode, EndorsingPeers: all,
		}
	}
	l0, l1, l2 := admin(0), admin(1), admin(2)
	waitForSequence := func(seq uint64) {
		t.Helper()
		nettest.Eventually(t, 20*time.Second, func() error {
			for i := range net.Members {
				if got := net.PeerChannel(i).Config().Sequence(); got < seq {
					return fmt.Errorf("peer %d has config sequence %d, want %d", i, got, seq)
				}
			}
			return nil
		})
	}
	propose := func(l *governance.Ledger, id string, upd *pb.ConfigUpdate) string {
		t.Helper()
		block, err := l.Propose(ctx, id, "network test "+id, protocol.MustMarshal(upd))
		if err != nil {
			t.Fatalf("propose %s: %v", id, err)
		}
		net.WaitForHeight(t, block+1, 10*time.Second)
		p, err := l.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return p.UpdateHash
	}
	approve := func(l *governance.Ledger, id, hash string) {
		t.Helper()
		_, block, err := l.Approve(ctx, id, hash)
		if err != nil {
			t.Fatalf("approve %s: %v", id, err)
		}
		net.WaitForHeight(t, block+1, 10*time.Second)
	}
	forbidden := func(err error, want string) {
		t.Helper()
		var be *client.BroadcastError
		if !errors.As(err, &be) || be.Status != pb.Status_FORBIDDEN || !strings.Contains(be.Info, want) {
			t.Fatalf("got %v, want FORBIDDEN mentioning %q", err, want)
		}
	}
	put := func(k string) txn.Request {
		return txn.Request{Chaincode: nettest.KVChaincode, Function: "kv:Put", Args: [][]byte{[]byte(k), []byte("v")}}
	}

	// 1. Org1 revokes its user and publishes the CRL alone.
	user := net.Members[0].User
	userClient := net.Client(t, 0)
	if _, err := userClient.Submit(ctx, put("before"), net.PeerNames(0, 1)); err != nil {
		t.Fatalf("the user's transaction before the revocation: %v", err)
	}
	// A transaction endorsed before the revocation and broadcast after it.
	prop, err := userClient.NewProposal(put("endorsed-before"))
	if err != nil {
		t.Fatal(err)
	}
	responses, err := userClient.Endorse(ctx, prop, net.PeerNames(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	preEndorsed, err := txn.Assemble(user.Signer, prop, responses)
	if err != nil {
		t.Fatal(err)
	}

	org1 := net.PKI.Member(net.Members[0].MSPID)
	org1.Revoke(user.Cert)
	crls, err := governance.CRLsFromPEM(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: org1.CRL().Raw}))
	if err != nil {
		t.Fatal(err)
	}
	crlUpdate, err := governance.UpdateCRLs(net.PeerChannel(0).Config(), net.Members[0].MSPID, crls)
	if err != nil {
		t.Fatal(err)
	}
	hash := propose(l0, "revoke-user0", crlUpdate)
	approve(l0, "revoke-user0", hash)
	if _, err := l0.Submit(ctx, net.Channel, "revoke-user0"); err != nil {
		t.Fatalf("submit the CRL with Org1's admin alone: %v", err)
	}
	waitForSequence(1)

	// The revoked user's proposals are refused (its TLS session uses the
	// admin's certificate, so that the refusal is the endorser's).
	cfg := net.ClientConfig(0, user)
	cfg.TLSCertificate = net.Members[0].Admin.TLS
	revoked := net.ConnectClient(t, cfg)
	_, err = revoked.Endorse(ctx, mustProposal(t, revoked, put("after")), net.PeerNames(0))
	var pe *client.PeerError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("the revoked user's proposal: %v", err)
	}
	// Its transaction endorsed before the revocation is refused by the
	// ordering service, which checks the creator under the new config.
	forbidden(l1.Client.Broadcast(ctx, preEndorsed), "revoked")

	// 2. Add Org4 with 2 of 3 signatures.
	org4 := net.PKI.AddMember("Org4MSP")
	org4Admin := org4.Issue(pki.RoleAdmin, "admin3", nil)
	m, err := governance.MemberFromPEM("Org4MSP", pki.EncodeCertificatePEM(net.PKI.Root.Cert.Raw), pki.EncodeCertificatePEM(org4.CA.Cert.Raw), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	addUpdate, err := governance.AddMember(net.PeerChannel(0).Config(), m)
	if err != nil {
		t.Fatal(err)
	}
	hash = propose(l1, "add-org4", addUpdate)
	approve(l0, "add-org4", hash)
	_, err = l2.Submit(ctx, net.Channel, "add-org4")
	forbidden(err, "needs 2 of 3 members, got 1")
	approve(l1, "add-org4", hash)
	if _, err := l2.Submit(ctx, net.Channel, "add-org4"); err != nil {
		t.Fatalf("submit add-org4 with 2 of 3: %v", err)
	}
	waitForSequence(2)
	if ids := net.PeerChannel(2).Config().MemberIDs(); len(ids) != 4 {
		t.Fatalf("members after add-org4: %v", ids)
	}
	if _, err := net.PeerChannel(0).Config().Manager().Validate("Org4MSP", org4Admin.Cert.Raw, identity.AnyRole, time.Now()); err != nil {
		t.Errorf("Org4's admin after the addition: %v", err)
	}

	// 3. MAJORITY is now 3 of 4, computed from the members.
	batchUpdate, err := governance.SetBatch(net.PeerChannel(0).Config(), governance.BatchChange{MaxMessageCount: 77})
	if err != nil {
		t.Fatal(err)
	}
	hash = propose(l2, "batch-77", batchUpdate)
	approve(l0, "batch-77", hash)
	approve(l2, "batch-77", hash)
	_, err = l0.Submit(ctx, net.Channel, "batch-77")
	forbidden(err, "needs 3 of 4 members, got 2")
	approve(l1, "batch-77", hash)
	if _, err := l0.Submit(ctx, net.Channel, "batch-77"); err != nil {
		t.Fatalf("submit batch-77 with 3 of 4: %v", err)
	}
	waitForSequence(3)
	if got := net.PeerChannel(1).Config().BatchSize().MaxMessageCount; got != 77 {
		t.Errorf("max message count %d", got)
	}
	list, err := l1.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 {
		t.Errorf("%d proposals listed", len(list))
	}

	// 4. Org4's own peer joins from the genesis block and catches up,
	// through the config blocks that admitted its member.
	org4Peer, err := peer.New(peer.Config{
		DataDir:       t.TempDir(),
		ListenAddress: "127.0.0.1:0",
		Certificate:   org4.Issue(pki.RolePeer, "peer0", nil).TLS,
		GenesisBlocks: []*pb.Block{net.Genesis},
		Chaincodes:    nettest.DefaultChaincodes(),
		Logger:        slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := org4Peer.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { org4Peer.Stop() })
	ch, ok := org4Peer.Channel(net.Channel)
	if !ok {
		t.Fatal("Org4's peer has no channel")
	}
	height := net.PeerChannel(0).Height()
	if h, err := ch.Ledger().WaitForHeight(ctx, height); err != nil {
		t.Fatalf("Org4's peer at height %d, want %d: %v", h, height, err)
	}
	_, want, err := net.PeerChannel(0).CommitHash()
	if err != nil {
		t.Fatal(err)
	}
	if _, got, err := ch.CommitHash(); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("Org4's peer commit hash differs (%v)", err)
	}
	if ids := ch.Config().MemberIDs(); len(ids) != 4 {
		t.Fatalf("Org4's peer sees members %v", ids)
	}
}

func mustProposal(t *testing.T, c *client.Client, req txn.Request) *txn.Proposal {
	t.Helper()
	p, err := c.NewProposal(req)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
