package peer

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"

	"github.com/blossom-ledger/blossom/chaincode/kvtest"
	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// TestPeerConnsReuseAndRedial dials a serving peer over mutual TLS through
// the connection cache: calls reuse one connection; a new trust (a
// configuration change), an unavailable failure or closing the cache
// stop its reuse.
func TestPeerConnsReuseAndRedial(t *testing.T) {
	f := newFixture(t)
	server, err := New(Config{
		DataDir:       t.TempDir(),
		ListenAddress: "127.0.0.1:0",
		Certificate:   f.pki.Member("Org1MSP").Issue(pki.RolePeer, "peer1", nil).TLS,
		GenesisBlocks: []*pb.Block{f.genesis},
		Chaincodes:    []Definition{{Name: "kv", EndorsementPolicy: "MAJORITY Endorsement", Chaincode: kvtest.New()}},
		Logger:        slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Stop() })
	addr := server.ln.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var pool peerConns
	get := func(trust *identity.Manager) *grpc.ClientConn {
		t.Helper()
		c, err := pool.get(ctx, addr, f.node.peerTLS, trust)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pb.NewPrivateDataClient(c).Pull(ctx, &pb.PrivateDataPullRequest{ChannelId: testChannel}); err != nil {
			t.Fatalf("pull over the cached connection: %v", err)
		}
		return c
	}
	old := f.node.trust.Manager()
	first := get(old)
	if get(old) != first {
		t.Fatal("a second call under the same trust dialled again")
	}
	fresh, err := f.node.trustManager()
	if err != nil {
		t.Fatal(err)
	}
	renewed := get(fresh)
	if renewed == first {
		t.Fatal("a new trust reused the connection dialled under the old one")
	}
	pool.failed(addr, renewed, status.Error(codes.PermissionDenied, "refused"))
	if get(fresh) != renewed {
		t.Fatal("a refusal dropped a working connection")
	}
	pool.failed(addr, renewed, status.Error(codes.Unavailable, "gone"))
	if renewed.GetState() != connectivity.Shutdown {
		t.Fatal("an unavailable connection was not closed")
	}
	if get(fresh) == renewed {
		t.Fatal("an unavailable connection was reused")
	}
	pool.close()
	if _, err := pool.get(ctx, addr, f.node.peerTLS, fresh); err == nil {
		t.Fatal("a closed cache dialled")
	}
}
