package transient

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

func set(coll, key, value string) *pb.TxPvtReadWriteSet {
	return &pb.TxPvtReadWriteSet{NsPvtRwsets: []*pb.NsPvtReadWriteSet{{
		Namespace: "kv",
		CollectionPvtRwsets: []*pb.CollectionPvtReadWriteSet{{
			Collection: coll, Writes: []*pb.KVWrite{{Key: key, Value: []byte(value)}},
		}},
	}}}
}

func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func count(t *testing.T, s *Store, txID string) int {
	t.Helper()
	got, err := s.Get(txID)
	if err != nil {
		t.Fatal(err)
	}
	return len(got)
}

func TestPutGetRemovePurge(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	a := set("_implicit_org_A", "k", "v")
	b := set("_implicit_org_B", "k", "w")
	for _, step := range []struct {
		tx     string
		height uint64
		set    *pb.TxPvtReadWriteSet
	}{{"tx1", 5, a}, {"tx1", 5, a}, {"tx1", 6, b}, {"tx2", 9, a}, {"tx10", 3, b}} {
		if err := s.Put(step.tx, step.height, step.set); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, s, "tx1"); n != 2 {
		t.Fatalf("tx1 holds %d sets, want 2 (one duplicate dropped)", n)
	}
	if n := count(t, s, "tx10"); n != 1 {
		t.Fatalf("tx10 holds %d sets, want 1 (not mixed with tx1)", n)
	}
	got, _ := s.Get("tx2")
	if len(got) != 1 || !proto.Equal(got[0], a) {
		t.Fatalf("tx2 = %v", got)
	}
	// Durable across reopen.
	s.Close()
	s = open(t, dir)
	defer s.Close()
	if n := count(t, s, "tx1"); n != 2 {
		t.Fatalf("after reopen tx1 holds %d sets", n)
	}
	if err := s.Remove("tx2"); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "tx2"); n != 0 {
		t.Fatalf("tx2 after Remove holds %d sets", n)
	}
	// Sets received below height 6 go: tx10 (3) and tx1's first set (5).
	if err := s.PurgeBelow(6); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "tx10"); n != 0 {
		t.Fatalf("tx10 after purge holds %d sets", n)
	}
	got, _ = s.Get("tx1")
	if len(got) != 1 || !proto.Equal(got[0], b) {
		t.Fatalf("tx1 after purge = %v, want only the set received at height 6", got)
	}
	if err := s.PurgeBelow(100); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "tx1"); n != 0 {
		t.Fatalf("tx1 after full purge holds %d sets", n)
	}
}

func TestRefusesBadInput(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	big := set("c", "k", strings.Repeat("x", MaxSetBytes))
	for _, tc := range []struct {
		name string
		tx   string
		set  *pb.TxPvtReadWriteSet
	}{
		{"empty txID", "", set("c", "k", "v")},
		{"txID with NUL", "a\x00b", set("c", "k", "v")},
		{"long txID", strings.Repeat("a", MaxTxIDBytes+1), set("c", "k", "v")},
		{"oversized set", "tx", big},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Put(tc.tx, 1, tc.set); err == nil {
				t.Fatal("Put accepted bad input")
			}
			if tc.tx != "" && !strings.Contains(tc.tx, "\x00") && len(tc.tx) <= MaxTxIDBytes {
				if n := count(t, s, tc.tx); n != 0 {
					t.Fatalf("refused Put stored %d sets", n)
				}
			}
		})
	}
}
