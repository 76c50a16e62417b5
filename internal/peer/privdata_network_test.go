package peer_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	stdnet "net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/blossom-ledger/blossom/internal/ledger"
	"github.com/blossom-ledger/blossom/internal/network/nettest"
	"github.com/blossom-ledger/blossom/internal/peer"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/transport"
)

// filesContaining returns the files under dir (those whose path contains
// part, "" for all) that contain marker.
func filesContaining(t *testing.T, dir, part string, marker []byte) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // a Pebble file removed during the walk
			}
			return err
		}
		if d.IsDir() || !strings.Contains(path, part) {
			return nil
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if bytes.Contains(b, marker) {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPrivateDataInImplicitCollection writes into member 0's implicit
// collection through member 0's peer: that peer holds the value, the other
// peers only its hash; commit hashes agree; member 1's user reading it
// through member 1's peer gets PRIVATE_DATA_NOT_HELD; the value is in no
// block file and on no other member's peer.
func TestPrivateDataInImplicitCollection(t *testing.T) {
	net := nettest.Start(t, nettest.Options{})
	ctx := testContext(t, 30*time.Second)
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	marker := []byte("pvt-marker-" + hex.EncodeToString(raw))
	coll := peer.ImplicitCollection(net.Members[0].MSPID)

	req := kv("kv:PutPrivate", coll, "secret")
	req.Transient = map[string][]byte{"value": marker}
	res, err := net.Client(t, 0).Submit(ctx, req, net.PeerNames(0))
	if err != nil {
		t.Fatal(err)
	}
	if res.Code != pb.TxValidationCode_VALID {
		t.Fatalf("private write committed as %s", res.Code)
	}
	height := res.Block + 1
	net.WaitForHeight(t, height, 15*time.Second)

	keyHash := sha256.Sum256([]byte("secret"))
	valueHash := sha256.Sum256(marker)
	var commit []byte
	for i := range net.Members {
		l := net.PeerChannel(i).Ledger()
		h, err := l.State().GetPrivateDataHash(nettest.KVChaincode, coll, keyHash[:])
		if err != nil || h == nil || !bytes.Equal(h.Value, valueHash[:]) || h.Version.Block != res.Block {
			t.Fatalf("peer %d: hashed state %+v, %v", i, h, err)
		}
		v, err := l.State().GetPrivateData(nettest.KVChaincode, coll, "secret")
		if i == 0 {
			if err != nil || v == nil || !bytes.Equal(v.Value, marker) {
				t.Fatalf("owner's peer: private value %+v, %v", v, err)
			}
		} else if !errors.Is(err, ledger.ErrPrivateDataMissing) {
			t.Fatalf("peer %d holds the private value: %+v, %v", i, v, err)
		}
		if missing, err := l.MissingPrivateData(0); err != nil || len(missing) != 0 {
			t.Fatalf("peer %d: missing private data %+v, %v (no peer should miss data it is not entitled to)", i, missing, err)
		}
		ch, err := l.CommitHash(height)
		if err != nil {
			t.Fatal(err)
		}
		if commit == nil {
			commit = ch
		} else if !bytes.Equal(ch, commit) {
			t.Fatalf("peer %d: commit hash differs", i)
		}
	}

	// Reads through the peers.
	if got, err := net.Client(t, 0).Evaluate(ctx, kv("kv:GetPrivate", coll, "secret"), net.PeerNames(0)...); err != nil || !bytes.Equal(got, marker) {
		t.Fatalf("owner reads its private value: %q, %v", got, err)
	}
	if got, err := net.Client(t, 1).Evaluate(ctx, kv("kv:GetPrivate", coll, "secret"), net.PeerNames(1)...); err == nil || !strings.Contains(err.Error(), "PRIVATE_DATA_NOT_HELD") {
		t.Fatalf("member 1 reading member 0's private key through its peer: %q, %v; want PRIVATE_DATA_NOT_HELD", got, err)
	}
	for i := range net.Members {
		got, err := net.Client(t, i).Evaluate(ctx, kv("kv:GetPrivateHash", coll, "secret"), net.PeerNames(i)...)
		if err != nil || string(got) != hex.EncodeToString(valueHash[:]) {
			t.Fatalf("peer %d: GetPrivateDataHash = %q, %v", i, got, err)
		}
	}

	// A non-member peer refuses a push of member 0's collection, even from
	// member 0's peer (checked at the receiving side, over mutual TLS).
	tlsCfg := transport.ClientTLSConfig(net.Members[0].PeerCred.TLS, net.Trust, pki.RolePeer)
	conn, err := transport.Dial(ctx, net.Members[1].PeerAddr, tlsCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = pb.NewPrivateDataClient(conn).Push(ctx, &pb.PrivateDataPushRequest{
		ChannelId: net.Channel, TxId: "pushed-tx",
		PvtRwset: &pb.TxPvtReadWriteSet{NsPvtRwsets: []*pb.NsPvtReadWriteSet{{
			Namespace: nettest.KVChaincode,
			CollectionPvtRwsets: []*pb.CollectionPvtReadWriteSet{{
				Collection: coll, Writes: []*pb.KVWrite{{Key: "secret", Value: append([]byte("pushed-"), marker...)}},
			}},
		}}},
	})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("push to a non-member peer: %v, want PermissionDenied", err)
	}
	// The owner's peer accepts a push of its collection from another
	// member's peer (kept in its transient store until the tx commits).
	tlsCfg1 := transport.ClientTLSConfig(net.Members[1].PeerCred.TLS, net.Trust, pki.RolePeer)
	conn0, err := transport.Dial(ctx, net.Members[0].PeerAddr, tlsCfg1)
	if err != nil {
		t.Fatal(err)
	}
	defer conn0.Close()
	okResp, err := pb.NewPrivateDataClient(conn0).Push(ctx, &pb.PrivateDataPushRequest{
		ChannelId: net.Channel, TxId: "pushed-tx",
		PvtRwset: &pb.TxPvtReadWriteSet{NsPvtRwsets: []*pb.NsPvtReadWriteSet{{
			Namespace:           nettest.KVChaincode,
			CollectionPvtRwsets: []*pb.CollectionPvtReadWriteSet{{Collection: coll, Writes: []*pb.KVWrite{{Key: "other", Value: []byte("v")}}}},
		}}},
	})
	if err != nil || okResp.Accepted != 1 {
		t.Fatalf("push to the collection owner's peer: %v, %v", okResp, err)
	}

	// On disk: never in a block file; on the owner's peer (positive
	// control: the search finds it), on no other peer.
	for i, m := range net.Members {
		if files := filesContaining(t, m.PeerDir, string(filepath.Separator)+"blocks"+string(filepath.Separator), marker); len(files) != 0 {
			t.Fatalf("peer %d: private value in block files %v", i, files)
		}
		files := filesContaining(t, m.PeerDir, "", marker)
		if i == 0 && len(files) == 0 {
			t.Fatal("the owner's peer directory does not hold the private value: the search is blind")
		}
		if i != 0 && len(files) != 0 {
			t.Fatalf("peer %d (not a member of the collection) holds the private value in %v", i, files)
		}
	}
}

// TestPrivateDataReconciliation starts a second peer of member 0 that is
// not in the channel configuration, so no endorser pushes to it: it
// commits member 0's private write as missing, then pulls it from member
// 0's configured peer and serves it.
func TestPrivateDataReconciliation(t *testing.T) {
	net := nettest.Start(t, nettest.Options{})
	ctx := testContext(t, 30*time.Second)
	m0 := net.Members[0]
	cred := net.PKI.Member(m0.MSPID).Issue(pki.RolePeer, "peer0b", nil)
	second, err := peer.New(peer.Config{
		DataDir:           t.TempDir(),
		ListenAddress:     "127.0.0.1:0",
		Certificate:       cred.TLS,
		GenesisBlocks:     []*pb.Block{net.Genesis},
		Chaincodes:        nettest.DefaultChaincodes(),
		Logger:            slog.New(slog.DiscardHandler),
		ReconcileInterval: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { second.Stop() })

	coll := peer.ImplicitCollection(m0.MSPID)
	req := kv("kv:PutPrivate", coll, "secret")
	req.Transient = map[string][]byte{"value": []byte("reconciled value")}
	res, err := net.Client(t, 0).Submit(ctx, req, net.PeerNames(0))
	if err != nil || res.Code != pb.TxValidationCode_VALID {
		t.Fatalf("submit: %+v, %v", res, err)
	}
	ch, ok := second.Channel(net.Channel)
	if !ok {
		t.Fatal("second peer has no channel")
	}
	nettest.Eventually(t, 20*time.Second, func() error {
		if ch.Height() <= res.Block {
			return fmt.Errorf("second peer at height %d", ch.Height())
		}
		v, err := ch.Ledger().State().GetPrivateData(nettest.KVChaincode, coll, "secret")
		if err != nil {
			return err
		}
		if v == nil || string(v.Value) != "reconciled value" {
			return fmt.Errorf("private value %+v", v)
		}
		return nil
	})
	if missing, err := ch.Ledger().MissingPrivateData(0); err != nil || len(missing) != 0 {
		t.Fatalf("still missing: %+v, %v", missing, err)
	}
	want, _ := net.PeerChannel(0).Ledger().CommitHash(res.Block + 1)
	if got, _ := ch.Ledger().CommitHash(res.Block + 1); !bytes.Equal(got, want) {
		t.Fatal("the reconciling peer's commit hash differs")
	}
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPrivateDataPushedToMemberPeers lists a second peer of member 0 in
// the channel configuration: the endorsing peer pushes the private write
// to it, so it commits the value without reconciling.
func TestPrivateDataPushedToMemberPeers(t *testing.T) {
	ln, err := stdnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	net := nettest.Start(t, nettest.Options{Mutate: func(cc *pb.ChannelConfig) {
		m := cc.Members[nettest.MSPID(0)]
		m.PeerEndpoints = append(m.PeerEndpoints, addr)
	}})
	ctx := testContext(t, 30*time.Second)
	m0 := net.Members[0]
	cred := net.PKI.Member(m0.MSPID).Issue(pki.RolePeer, "peer0b", nil)
	logs := &syncBuffer{}
	second, err := peer.New(peer.Config{
		DataDir:           t.TempDir(),
		Listener:          ln,
		Certificate:       cred.TLS,
		GenesisBlocks:     []*pb.Block{net.Genesis},
		Chaincodes:        nettest.DefaultChaincodes(),
		Logger:            slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		ReconcileInterval: time.Hour,
	})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { second.Stop() })

	coll := peer.ImplicitCollection(m0.MSPID)
	req := kv("kv:PutPrivate", coll, "secret")
	req.Transient = map[string][]byte{"value": []byte("pushed value")}
	res, err := net.Client(t, 0).Submit(ctx, req, net.PeerNames(0))
	if err != nil || res.Code != pb.TxValidationCode_VALID {
		t.Fatalf("submit: %+v, %v", res, err)
	}
	ch, _ := second.Channel(net.Channel)
	nettest.Eventually(t, 20*time.Second, func() error {
		if ch.Height() <= res.Block {
			return fmt.Errorf("second peer at height %d", ch.Height())
		}
		return nil
	})
	v, err := ch.Ledger().State().GetPrivateData(nettest.KVChaincode, coll, "secret")
	if err != nil || v == nil || string(v.Value) != "pushed value" {
		t.Fatalf("second peer: private value %+v, %v", v, err)
	}
	if strings.Contains(logs.String(), "reconciled private data") {
		t.Fatal("the second peer reconciled: the push did not reach it before the commit")
	}
}
