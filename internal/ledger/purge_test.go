package ledger

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/blossom-ledger/blossom/internal/ledger/ledgertest"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

func TestExpiringBlock(t *testing.T) {
	for _, tc := range []struct{ committed, btl, want uint64 }{
		{1, 0, math.MaxUint64}, // 0 keeps forever
		{1, 2, 4},              // written in 1, readable while 2 and 3 commit, purged by 4
		{10, 1, 12},
		{math.MaxUint64 - 1, 5, math.MaxUint64}, // saturates
	} {
		if got := ExpiringBlock(tc.committed, tc.btl); got != tc.want {
			t.Errorf("ExpiringBlock(%d, %d) = %d, want %d", tc.committed, tc.btl, got, tc.want)
		}
	}
}

// purgeBTL gives testColl a blockToLive of 2 and every other collection 0.
func purgeBTL(ns, coll string) uint64 {
	if ns == testNS && coll == testColl {
		return 2
	}
	return 0
}

// purgeBlocks is the chain of TestBlockToLivePurge: block 1 writes
// secret, other and renewed (expiring at 4); block 2 rewrites other
// (expiring at 5); block 3 is public; block 4 rewrites renewed and so
// keeps it; block 5 is public.
type purgeBlocks struct {
	blocks []*pb.Block
	pvt    [][]*pb.TxPvtReadWriteSet
}

func newPurgeBlocks(t *testing.T) purgeBlocks {
	chain := ledgertest.NewChain(t, testChannel)
	var pb_ purgeBlocks
	add := func(b *pb.Block, pvt *pb.TxPvtReadWriteSet) {
		pb_.blocks = append(pb_.blocks, b)
		pb_.pvt = append(pb_.pvt, []*pb.TxPvtReadWriteSet{pvt})
	}
	add(chain.Genesis(), nil)
	env, pvt := privateTx(ledgertest.Put("secret", []byte("v1")), ledgertest.Put("other", []byte("o1")), ledgertest.Put("renewed", []byte("r1")))
	add(chain.Next(env), pvt)
	env, pvt = privateTx(ledgertest.Put("other", []byte("o2")))
	add(chain.Next(env), pvt)
	env, _ = ledgertest.WriteTx(testChannel, "pub", ledgertest.Put("p", []byte("3")))
	add(chain.Next(env), nil)
	env, pvt = privateTx(ledgertest.Put("renewed", []byte("r4")))
	add(chain.Next(env), pvt)
	env, _ = ledgertest.WriteTx(testChannel, "pub", ledgertest.Put("p", []byte("5")))
	add(chain.Next(env), nil)
	return pb_
}

// rawPrivate reads a private value record directly from Pebble.
func rawPrivate(t *testing.T, l *Ledger, key string) []byte {
	t.Helper()
	b, closer, err := l.db.Get(privateKey(testNS, testColl, key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	_, v, err := decodeStateValue(b)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), v...)
}

// TestBlockToLivePurge commits the same chain on a member peer that holds
// the private data, one that misses it and a non-member, with and without
// crashes after the commit point (replay must purge exactly as a commit
// would, without being told the blockToLive again).
func TestBlockToLivePurge(t *testing.T) {
	blocks := newPurgeBlocks(t)
	ref := openLedger(t, t.TempDir(), Options{})
	defer ref.Close()
	for _, b := range blocks.blocks {
		mustCommit(t, ref, b, allValid(b))
	}
	for _, tc := range []struct {
		name     string
		holds    bool
		eligible func(ns, coll string) bool
		crashAt  map[uint64]bool // blocks whose commit crashes after the commit point
	}{
		{name: "member holding", holds: true, eligible: member},
		{name: "member holding, crashes", holds: true, eligible: member, crashAt: map[uint64]bool{1: true, 4: true}},
		{name: "member missing", eligible: member},
		{name: "member missing, crashes", eligible: member, crashAt: map[uint64]bool{1: true, 4: true}},
		{name: "non-member", eligible: nonMember},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLedger(t, dir, Options{})
			defer func() { l.Close() }()
			commit := func(n uint64) {
				t.Helper()
				b := blocks.blocks[n]
				res := CommitResult{Codes: make([]pb.TxValidationCode, len(b.Data.Envelopes)), Eligible: tc.eligible, BlockToLive: purgeBTL}
				if tc.holds {
					res.Private = blocks.pvt[n]
				}
				if !tc.crashAt[n] {
					mustCommit(t, l, b, res)
					return
				}
				crash := errors.New("simulated crash")
				l.afterAppend = func() error { return crash }
				if err := l.Commit(b, res); !errors.Is(err, crash) {
					t.Fatalf("block %d: Commit = %v, want the simulated crash", n, err)
				}
				l.Close()
				l = openLedger(t, dir, Options{}) // replays block n
				if l.Height() != n+1 {
					t.Fatalf("height %d after replaying block %d", l.Height(), n)
				}
			}
			value := func(key string) (*VersionedValue, error) {
				return l.State().GetPrivateData(testNS, testColl, key)
			}
			missing := func() []uint64 {
				t.Helper()
				m, err := l.MissingPrivateData(0)
				if err != nil {
					t.Fatal(err)
				}
				var out []uint64
				for _, e := range m {
					out = append(out, e.Block)
				}
				return out
			}
			for n := uint64(0); n <= 3; n++ {
				commit(n)
			}
			// Height 4: block 1's data is still alive (1 + 2 = 3).
			if tc.holds {
				if v, err := value("secret"); err != nil || v == nil || string(v.Value) != "v1" {
					t.Fatalf("secret before its expiry: %+v, %v", v, err)
				}
			}
			missesData := !tc.holds && tc.eligible(testNS, testColl)
			if m := missing(); missesData && (len(m) != 2 || m[0] != 1 || m[1] != 2) || !missesData && len(m) != 0 {
				t.Fatalf("missing before the purge: blocks %v", m)
			}

			commit(4) // purges block 1's data
			if tc.holds {
				v, err := value("secret")
				if err != nil || v == nil || v.Value != nil || v.Version != (Version{1, 0}) {
					t.Fatalf("purged secret: %+v, %v; want no value at version 1/0", v, err)
				}
				if raw := rawPrivate(t, l, "secret"); raw != nil {
					t.Fatalf("purged value still in the private store: %q", raw)
				}
				if v, err := value("other"); err != nil || v == nil || string(v.Value) != "o2" {
					t.Fatalf("other, rewritten in block 2: %+v, %v", v, err)
				}
				if v, err := value("renewed"); err != nil || v == nil || string(v.Value) != "r4" || v.Version != (Version{4, 0}) {
					t.Fatalf("renewed, rewritten in the expiring block: %+v, %v", v, err)
				}
				it, err := l.State().PrivateRange(testNS, testColl, "", "")
				if err != nil {
					t.Fatal(err)
				}
				var keys []string
				for it.Next() {
					keys = append(keys, it.Key())
				}
				it.Close()
				if len(keys) != 2 || keys[0] != "other" || keys[1] != "renewed" {
					t.Fatalf("range after the purge: %v", keys)
				}
			}
			if served, err := l.PrivateDataOf(1, 0, testNS, testColl); err != nil || served != nil {
				t.Fatalf("purged data still served: %v, %v", served, err)
			}
			if m := missing(); len(m) > 0 && m[0] == 1 {
				t.Fatalf("purged data still missing: %v", m)
			}
			m1 := MissingPrivateData{Block: 1, Tx: 0, Namespace: testNS, Collection: testColl}
			if err := l.ReconcilePrivateData(m1, blocks.pvt[1][0].NsPvtRwsets[0].CollectionPvtRwsets[0]); !errors.Is(err, ErrNotFound) {
				t.Fatalf("reconciling purged data = %v, want ErrNotFound", err)
			}
			h, err := l.State().GetPrivateDataHash(testNS, testColl, sum([]byte("secret")))
			if err != nil || h == nil || !bytes.Equal(h.Value, sum([]byte("v1"))) {
				t.Fatalf("hash of the purged value: %+v, %v", h, err)
			}

			commit(5) // purges block 2's data
			if tc.holds {
				if v, err := value("other"); err != nil || v == nil || v.Value != nil {
					t.Fatalf("other after its expiry: %+v, %v", v, err)
				}
				if v, err := value("renewed"); err != nil || v == nil || string(v.Value) != "r4" {
					t.Fatalf("renewed after block 5: %+v, %v", v, err)
				}
				if served, err := l.PrivateDataOf(4, 0, testNS, testColl); err != nil || served == nil {
					t.Fatalf("live data of block 4 not served: %v, %v", served, err)
				}
			}
			// Only block 4's data (expiring at 7) may still be missing.
			if m := missing(); missesData && (len(m) != 1 || m[0] != 4) || !missesData && len(m) != 0 {
				t.Fatalf("missing after block 5: blocks %v", m)
			}
			for n := uint64(1); n <= 6; n++ {
				want, _ := ref.CommitHash(n)
				if got, _ := l.CommitHash(n); !bytes.Equal(got, want) {
					t.Fatalf("commit hash at height %d differs from a ledger without private data", n)
				}
			}
			l.Close()
			if _, err := Verify(dir); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

// TestPurgeScheduleSurvivesReopen schedules a purge, reopens the ledger
// and commits the expiring block without a BlockToLive function: the
// schedule on disk decides.
func TestPurgeScheduleSurvivesReopen(t *testing.T) {
	blocks := newPurgeBlocks(t)
	dir := t.TempDir()
	l := openLedger(t, dir, Options{})
	for n := 0; n <= 1; n++ {
		mustCommit(t, l, blocks.blocks[n], CommitResult{Codes: make([]pb.TxValidationCode, len(blocks.blocks[n].Data.Envelopes)), Private: blocks.pvt[n], BlockToLive: purgeBTL})
	}
	l.Close()
	l = openLedger(t, dir, Options{})
	defer l.Close()
	for n := 2; n <= 4; n++ {
		mustCommit(t, l, blocks.blocks[n], allValid(blocks.blocks[n]))
	}
	if raw := rawPrivate(t, l, "secret"); raw != nil {
		t.Fatalf("secret not purged after reopening: %q", raw)
	}
	if v, err := l.State().GetPrivateData(testNS, testColl, "secret"); err != nil || v == nil || v.Value != nil {
		t.Fatalf("secret after reopening and purging: %+v, %v", v, err)
	}
}

// TestStagedRetentionOfAbortedCommit: an expiry staged by a commit that
// never reached its commit point must not schedule a purge of the block
// committed in its place without one, neither after a reopen nor on a
// retry within the process.
func TestStagedRetentionOfAbortedCommit(t *testing.T) {
	for _, reopen := range []bool{true, false} {
		t.Run(map[bool]string{true: "reopen", false: "retry"}[reopen], func(t *testing.T) {
			blocks := newPurgeBlocks(t)
			dir := t.TempDir()
			l := openLedger(t, dir, Options{})
			mustCommit(t, l, blocks.blocks[0], allValid(blocks.blocks[0]))
			hashes, err := TxPrivateWriteHashes(blocks.blocks[1].Data.Envelopes[0])
			if err != nil {
				t.Fatal(err)
			}
			ws, miss := matchPrivateData(hashes, blocks.pvt[1][0], nil)
			l.commitMu.Lock()
			err = l.stagePrivate(1, [][]privateWrite{ws}, [][]collRef{miss}, purgeBTL)
			l.commitMu.Unlock()
			if err != nil || len(ws) != 3 {
				t.Fatalf("stage: %v (%d writes)", err, len(ws))
			}
			if reopen {
				l.Close()
				l = openLedger(t, dir, Options{})
			}
			defer l.Close()
			for n := 1; n <= 4; n++ {
				mustCommit(t, l, blocks.blocks[n], CommitResult{Codes: make([]pb.TxValidationCode, len(blocks.blocks[n].Data.Envelopes)), Private: blocks.pvt[n]})
			}
			if v, err := l.State().GetPrivateData(testNS, testColl, "secret"); err != nil || v == nil || string(v.Value) != "v1" {
				t.Fatalf("secret committed without a blockToLive was purged: %+v, %v", v, err)
			}
		})
	}
}

func FuzzDecodePurgeRecords(f *testing.F) {
	f.Add(scheduleKey(4, 1, 0, testNS, testColl), append(sum([]byte("a")), sum([]byte("b"))...))
	f.Add(scheduleKey(4, 1, 0, testNS, testColl), []byte("short"))
	f.Add(retentionKey(1, 0, testNS, testColl), []byte{0, 0, 0, 0, 0, 0, 0, 4})
	f.Add([]byte{prefixSchedule}, []byte{})
	f.Add([]byte{prefixRetention, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 'k', 'v'}, []byte{1})
	f.Fuzz(func(t *testing.T, k, v []byte) {
		if e, err := decodeScheduleEntry(k, v); err == nil {
			var hashes []byte
			for _, h := range e.keyHashes {
				hashes = append(hashes, h...)
			}
			if !bytes.Equal(scheduleKey(e.expiry, e.version.Block, e.version.Tx, e.ns, e.coll), k) || !bytes.Equal(hashes, v) {
				t.Fatal("schedule entry does not re-encode to its bytes")
			}
		}
		if number, tx, ref, expiry, err := decodeRetention(k, v); err == nil {
			if !bytes.Equal(retentionKey(number, tx, ref.namespace, ref.collection), k) || len(v) != 8 || expiry == 0 && !bytes.Equal(v, make([]byte, 8)) {
				t.Fatal("retention record does not re-encode to its bytes")
			}
		}
	})
}
