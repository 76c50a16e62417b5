package client_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/chaincode/kvtest"
	"github.com/blossom-ledger/blossom/internal/client"
	"github.com/blossom-ledger/blossom/internal/network/nettest"
	"github.com/blossom-ledger/blossom/internal/peer"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/txn"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

func kv(function string, args ...string) txn.Request {
	req := txn.Request{Chaincode: nettest.KVChaincode, Function: function}
	for _, a := range args {
		req.Args = append(req.Args, []byte(a))
	}
	return req
}

func testContext(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// deadAddress returns a loopback address nothing listens on.
func deadAddress(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// divergent is the kv chaincode on every peer but the third started,
// whose kv:Put writes something else: endorsements of a put by it and
// another peer cannot match.
func divergent() func() []peer.Definition {
	var started atomic.Int32
	return func() []peer.Definition {
		cc := kvtest.New()
		if started.Add(1) == 3 {
			cc = contract.New(contract.Contract{Name: "kv", Functions: map[string]contract.Function{
				"Put": func(stub contract.Stub, args [][]byte) ([]byte, error) {
					return nil, stub.PutState(string(args[0]), []byte("something else"))
				},
			}})
		}
		return []peer.Definition{{Name: nettest.KVChaincode, EndorsementPolicy: "MAJORITY Endorsement", Chaincode: cc}}
	}
}

func TestSubmitEvaluateAndFailures(t *testing.T) {
	net := nettest.Start(t, nettest.Options{Chaincodes: divergent()})
	ctx := testContext(t, 60*time.Second)
	cfg := net.ClientConfig(0, nil)
	cfg.CommitPeers = net.PeerNames(0, 1, 2)
	cl := net.ConnectClient(t, cfg)

	t.Run("submit returns code, block and result once every commit peer has it", func(t *testing.T) {
		res, err := cl.Submit(ctx, kv("kv:Incr", "n"), net.PeerNames(0, 1))
		if err != nil {
			t.Fatal(err)
		}
		if res.Code != pb.TxValidationCode_VALID || string(res.Result) != "1" || len(res.TxID) != 64 {
			t.Fatalf("result %+v", res)
		}
		for i := range net.Members {
			if h := net.PeerChannel(i).Height(); h <= res.Block {
				t.Fatalf("peer %d at height %d after Submit returned block %d", i, h, res.Block)
			}
		}
		got, err := cl.Evaluate(ctx, kv("kv:Get", "n"))
		if err != nil || string(got) != "1" {
			t.Fatalf("evaluate: %q %v", got, err)
		}
	})
	t.Run("chaincode message verbatim", func(t *testing.T) {
		_, err := cl.Submit(ctx, kv("kv:Fail", "account ACC-1 is suspended"), net.PeerNames(0, 1))
		var ce *client.ChaincodeError
		if !errors.As(err, &ce) || ce.Message != "account ACC-1 is suspended" || ce.Status != 500 {
			t.Fatalf("got %v", err)
		}
		_, err = cl.Evaluate(ctx, kv("kv:Fail", "no such licence"))
		if !errors.As(err, &ce) || ce.Message != "no such licence" {
			t.Fatalf("evaluate: got %v", err)
		}
	})
	t.Run("endorsements that differ", func(t *testing.T) {
		_, err := cl.Submit(ctx, kv("kv:Put", "k", "v"), net.PeerNames(0, 2))
		if !errors.Is(err, client.ErrMismatch) || !strings.Contains(err.Error(), "Org3MSP/peer0") {
			t.Fatalf("got %v, want a mismatch naming the peers", err)
		}
	})
	t.Run("too few endorsements commit invalid", func(t *testing.T) {
		res, err := cl.Submit(ctx, kv("kv:Put", "k", "v"), net.PeerNames(1))
		var invalid *client.InvalidTxError
		if !errors.As(err, &invalid) || res == nil || res.Code != pb.TxValidationCode_ENDORSEMENT_POLICY_FAILURE || invalid.Block != res.Block {
			t.Fatalf("got %+v, %v", res, err)
		}
	})
	t.Run("unknown peer", func(t *testing.T) {
		_, err := cl.Submit(ctx, kv("kv:Put", "k", "v"), []string{"Org9MSP/peer0"})
		if err == nil || !strings.Contains(err.Error(), "unknown peer") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("proposals carry the height of the caller's last commit", func(t *testing.T) {
		res, err := cl.Submit(ctx, kv("kv:Put", "raw", "1"), net.PeerNames(0, 1))
		if err != nil {
			t.Fatal(err)
		}
		prop, err := cl.NewProposal(kv("kv:Get", "raw"))
		if err != nil {
			t.Fatal(err)
		}
		_, hdr, _, err := txn.ParseSignedProposal(prop.Signed)
		if err != nil {
			t.Fatal(err)
		}
		if hdr.MinHeight != res.Block+1 {
			t.Fatalf("min_height %d after a commit in block %d, want %d", hdr.MinHeight, res.Block, res.Block+1)
		}
	})
	t.Run("orderer failover", func(t *testing.T) {
		cfg := net.ClientConfig(1, nil)
		cfg.Orderers = append([]client.Endpoint{{Name: "dead", Address: deadAddress(t)}}, cfg.Orderers[0])
		c := net.ConnectClient(t, cfg)
		for i := 0; i < 2; i++ { // one of the two starts with the dead orderer
			res, err := c.Submit(ctx, kv("kv:Incr", "failover"), net.PeerNames(1, 0))
			if err != nil || res.Code != pb.TxValidationCode_VALID {
				t.Fatalf("submit %d: %+v %v", i, res, err)
			}
		}
	})
	t.Run("evaluate moves past an unreachable peer", func(t *testing.T) {
		cfg := net.ClientConfig(0, nil)
		cfg.Peers = append(cfg.Peers, client.Endpoint{Name: "dead", Address: deadAddress(t)})
		c := net.ConnectClient(t, cfg)
		got, err := c.Evaluate(ctx, kv("kv:Get", "n"), "dead", c.LocalPeer())
		if err != nil || string(got) != "1" {
			t.Fatalf("got %q %v", got, err)
		}
		_, err = c.Evaluate(ctx, kv("kv:Get", "n"), "dead")
		var pe *client.PeerError
		if !errors.As(err, &pe) || pe.Peer != "dead" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("broadcast refusal", func(t *testing.T) {
		err := cl.Broadcast(ctx, []byte("\x0a\x03not\x12\x01x"))
		var be *client.BroadcastError
		if !errors.As(err, &be) || be.Status == pb.Status_SUCCESS || be.Info == "" {
			t.Fatalf("got %v", err)
		}
	})
}

func TestConnectChecksItsConfig(t *testing.T) {
	net := nettest.Start(t, nettest.Options{Members: 1})
	good := net.ClientConfig(0, nil)
	tests := []struct {
		name   string
		mutate func(*client.Config)
		want   string
	}{
		{"no signer", func(c *client.Config) { c.Signer = nil }, "no signer"},
		{"no trust", func(c *client.Config) { c.Trust = nil }, "no trust"},
		{"no peer", func(c *client.Config) { c.Peers = nil }, "no peer"},
		{"duplicate peer", func(c *client.Config) { c.Peers = append(c.Peers, c.Peers[0]) }, "listed twice"},
		{"unknown commit peer", func(c *client.Config) { c.CommitPeers = []string{"nope"} }, "not one of the peers"},
		{"own peer unreachable", func(c *client.Config) { c.Peers = []client.Endpoint{{Address: deadAddress(t)}} }, "connection refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			cfg.Peers = append([]client.Endpoint(nil), good.Peers...)
			tc.mutate(&cfg)
			c, err := client.Connect(testContext(t, 10*time.Second), cfg)
			if err == nil {
				c.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	c := net.ConnectClient(t, good)
	c.Close()
	if _, err := c.Evaluate(testContext(t, 5*time.Second), kv("kv:Get", "x")); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("evaluate on a closed client: %v", err)
	}
}
