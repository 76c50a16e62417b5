package ledger

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/blossom-ledger/blossom/internal/ledger/ledgertest"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

const (
	testNS   = "kv"
	testColl = "_implicit_org_A"
)

func sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

// privateTx builds a transaction writing kvs into testColl (hashes in the
// block) and returns it with the private rwset that goes with it.
func privateTx(kvs ...ledgertest.KV) ([]byte, *pb.TxPvtReadWriteSet) {
	hashed := &pb.CollectionHashedReadWriteSet{Collection: testColl}
	coll := &pb.CollectionPvtReadWriteSet{Collection: testColl}
	for _, kv := range kvs {
		wh := &pb.KVWriteHash{KeyHash: sum([]byte(kv.Key)), IsDelete: kv.Delete}
		w := &pb.KVWrite{Key: kv.Key, IsDelete: kv.Delete}
		if !kv.Delete {
			wh.ValueHash, w.Value = sum(kv.Value), kv.Value
		}
		hashed.HashedWrites = append(hashed.HashedWrites, wh)
		coll.Writes = append(coll.Writes, w)
	}
	env, _ := ledgertest.EndorserTx(testChannel, &pb.TxReadWriteSet{NsRwsets: []*pb.NsReadWriteSet{{
		Namespace: testNS, CollectionHashedRwsets: []*pb.CollectionHashedReadWriteSet{hashed},
	}}})
	pvt := &pb.TxPvtReadWriteSet{NsPvtRwsets: []*pb.NsPvtReadWriteSet{{
		Namespace: testNS, CollectionPvtRwsets: []*pb.CollectionPvtReadWriteSet{coll},
	}}}
	return env, pvt
}

func member(ns, coll string) bool    { return ns == testNS && coll == testColl }
func nonMember(ns, coll string) bool { return false }

// peerLedger is one peer's ledger and what it is given at commit.
type peerLedger struct {
	name     string
	l        *Ledger
	dir      string
	holds    bool // receives the private data
	eligible func(ns, coll string) bool
}

func (p *peerLedger) commit(t *testing.T, b *pb.Block, codes []pb.TxValidationCode, pvt []*pb.TxPvtReadWriteSet) {
	t.Helper()
	res := CommitResult{Codes: codes, Eligible: p.eligible}
	if p.holds {
		res.Private = pvt
	}
	mustCommit(t, p.l, b, res)
}

func TestPrivateDataMembersAndNonMembers(t *testing.T) {
	chain := ledgertest.NewChain(t, testChannel)
	peers := []*peerLedger{
		{name: "member holding", holds: true, eligible: member},
		{name: "member missing", holds: false, eligible: member},
		{name: "non-member", holds: false, eligible: nonMember},
	}
	genesis := chain.Genesis()
	for _, p := range peers {
		p.dir = t.TempDir()
		p.l = openLedger(t, p.dir, Options{})
		defer func() { p.l.Close() }()
		p.commit(t, genesis, []pb.TxValidationCode{0}, nil)
	}

	// Block 1: tx0 writes secret=v1; tx1 (invalid) writes other=x.
	env0, pvt0 := privateTx(ledgertest.Put("secret", []byte("v1")))
	env1, pvt1 := privateTx(ledgertest.Put("other", []byte("x")))
	b1 := chain.Next(env0, env1)
	codes1 := []pb.TxValidationCode{pb.TxValidationCode_VALID, pb.TxValidationCode_MVCC_READ_CONFLICT}
	for _, p := range peers {
		p.commit(t, b1, codes1, []*pb.TxPvtReadWriteSet{pvt0, pvt1})
	}
	ch, _ := peers[0].l.CommitHash(2)
	for _, p := range peers[1:] {
		if got, _ := p.l.CommitHash(2); !bytes.Equal(got, ch) {
			t.Fatalf("%s: commit hash differs from the holding peer's", p.name)
		}
	}
	plain := openLedger(t, t.TempDir(), Options{})
	defer plain.Close()
	mustCommit(t, plain, genesis, allValid(genesis))
	mustCommit(t, plain, b1, CommitResult{Codes: codes1})
	if got, _ := plain.CommitHash(2); !bytes.Equal(got, ch) {
		t.Fatal("commit hash depends on the private data given")
	}

	for _, p := range peers {
		h, err := p.l.State().GetPrivateDataHash(testNS, testColl, sum([]byte("secret")))
		if err != nil || h == nil || !bytes.Equal(h.Value, sum([]byte("v1"))) || h.Version != (Version{1, 0}) {
			t.Fatalf("%s: GetPrivateDataHash = %+v, %v", p.name, h, err)
		}
		if h, err := p.l.State().GetPrivateDataHash(testNS, testColl, sum([]byte("other"))); err != nil || h != nil {
			t.Fatalf("%s: invalid transaction's hash stored: %+v, %v", p.name, h, err)
		}
		v, err := p.l.State().GetPrivateData(testNS, testColl, "secret")
		switch {
		case p.holds:
			if err != nil || v == nil || string(v.Value) != "v1" || v.Version != (Version{1, 0}) {
				t.Fatalf("%s: GetPrivateData = %+v, %v", p.name, v, err)
			}
		default:
			if !errors.Is(err, ErrPrivateDataMissing) {
				t.Fatalf("%s: GetPrivateData = %+v, %v; want ErrPrivateDataMissing", p.name, v, err)
			}
		}
		if v, err := p.l.State().GetPrivateData(testNS, testColl, "other"); err != nil || v != nil {
			t.Fatalf("%s: invalid transaction's value: %+v, %v", p.name, v, err)
		}
		missing, err := p.l.MissingPrivateData(0)
		if err != nil {
			t.Fatal(err)
		}
		wantMissing := 0
		if p.name == "member missing" {
			wantMissing = 1
		}
		if len(missing) != wantMissing {
			t.Fatalf("%s: missing = %+v, want %d entries", p.name, missing, wantMissing)
		}
		if wantMissing == 1 && missing[0] != (MissingPrivateData{Block: 1, Tx: 0, Namespace: testNS, Collection: testColl}) {
			t.Fatalf("%s: missing = %+v", p.name, missing[0])
		}
	}

	// Block 2: secret=v2, but the holding peer gets a forged value: it must
	// record the data as missing and never serve v1 again.
	env2, pvt2 := privateTx(ledgertest.Put("secret", []byte("v2")))
	_, forged := privateTx(ledgertest.Put("secret", []byte("forged")))
	b2 := chain.Next(env2)
	peers[0].commit(t, b2, []pb.TxValidationCode{0}, []*pb.TxPvtReadWriteSet{forged})
	if v, err := peers[0].l.State().GetPrivateData(testNS, testColl, "secret"); !errors.Is(err, ErrPrivateDataMissing) {
		t.Fatalf("after a mismatched value: GetPrivateData = %+v, %v; want ErrPrivateDataMissing", v, err)
	}
	if m, _ := peers[0].l.MissingPrivateData(0); len(m) != 1 || m[0].Block != 2 {
		t.Fatalf("missing after mismatch = %+v", m)
	}

	// Block 3: delete secret.
	env3, pvt3 := privateTx(ledgertest.Del("secret"))
	b3 := chain.Next(env3)
	peers[0].commit(t, b3, []pb.TxValidationCode{0}, []*pb.TxPvtReadWriteSet{pvt3})
	if v, err := peers[0].l.State().GetPrivateData(testNS, testColl, "secret"); err != nil || v != nil {
		t.Fatalf("after delete: %+v, %v", v, err)
	}
	if h, err := peers[0].l.State().GetPrivateDataHash(testNS, testColl, sum([]byte("secret"))); err != nil || h != nil {
		t.Fatalf("hash after delete: %+v, %v", h, err)
	}

	// Reconciliation: the member that missed block 1's data gets it from
	// the holding peer's archive; forged data is refused.
	m := MissingPrivateData{Block: 1, Tx: 0, Namespace: testNS, Collection: testColl}
	served, err := peers[0].l.PrivateDataOf(1, 0, testNS, testColl)
	if err != nil || served == nil {
		t.Fatalf("PrivateDataOf = %v, %v", served, err)
	}
	if none, err := peers[2].l.PrivateDataOf(1, 0, testNS, testColl); err != nil || none != nil {
		t.Fatalf("non-member archive = %v, %v", none, err)
	}
	if err := peers[1].l.ReconcilePrivateData(m, forged.NsPvtRwsets[0].CollectionPvtRwsets[0]); err == nil {
		t.Fatal("reconciled forged data")
	}
	if err := peers[1].l.ReconcilePrivateData(m, served); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	if v, err := peers[1].l.State().GetPrivateData(testNS, testColl, "secret"); err != nil || v == nil || string(v.Value) != "v1" {
		t.Fatalf("after reconcile: %+v, %v", v, err)
	}
	if missing, _ := peers[1].l.MissingPrivateData(0); len(missing) != 0 {
		t.Fatalf("still missing after reconcile: %+v", missing)
	}
	if err := peers[1].l.ReconcilePrivateData(m, served); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second reconcile = %v, want ErrNotFound", err)
	}
	// Block 2's value on the holding peer, reconciled after block 3
	// deleted the key: accepted, but the deleted key stays deleted.
	m2 := MissingPrivateData{Block: 2, Tx: 0, Namespace: testNS, Collection: testColl}
	if err := peers[0].l.ReconcilePrivateData(m2, pvt2.NsPvtRwsets[0].CollectionPvtRwsets[0]); err != nil {
		t.Fatalf("reconcile block 2: %v", err)
	}
	if v, err := peers[0].l.State().GetPrivateData(testNS, testColl, "secret"); err != nil || v != nil {
		t.Fatalf("deleted key after reconciling an older version: %+v, %v", v, err)
	}

	peers[0].l.Close()
	if _, err := Verify(peers[0].dir); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestPrivateDataDurableAcrossCrash(t *testing.T) {
	dir := t.TempDir()
	chain := ledgertest.NewChain(t, testChannel)
	l := openLedger(t, dir, Options{})
	g := chain.Genesis()
	mustCommit(t, l, g, allValid(g))
	env, pvt := privateTx(ledgertest.Put("secret", []byte("durable")), ledgertest.Put("second", []byte("2")))
	b := chain.Next(env)
	crash := errors.New("simulated crash")
	l.afterAppend = func() error { return crash }
	if err := l.Commit(b, CommitResult{Codes: []pb.TxValidationCode{0}, Private: []*pb.TxPvtReadWriteSet{pvt}}); !errors.Is(err, crash) {
		t.Fatalf("Commit = %v, want the simulated crash", err)
	}
	l.Close()
	ref := openLedger(t, t.TempDir(), Options{})
	defer ref.Close()
	mustCommit(t, ref, g, allValid(g))
	mustCommit(t, ref, b, allValid(b))
	want, _ := ref.CommitHash(2)

	l = openLedger(t, dir, Options{})
	defer l.Close()
	if l.Height() != 2 {
		t.Fatalf("height %d after replay", l.Height())
	}
	for key, val := range map[string]string{"secret": "durable", "second": "2"} {
		v, err := l.State().GetPrivateData(testNS, testColl, key)
		if err != nil || v == nil || string(v.Value) != val {
			t.Fatalf("%s after replay: %+v, %v", key, v, err)
		}
	}
	if got, _ := l.CommitHash(2); !bytes.Equal(got, want) {
		t.Fatal("replayed commit hash differs")
	}
	l.Close()
	if _, err := Verify(dir); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestMatchPrivateData(t *testing.T) {
	env, pvt := privateTx(ledgertest.Put("a", []byte("1")), ledgertest.Del("b"))
	hashes, err := TxPrivateWriteHashes(env)
	if err != nil || len(hashes) != 2 {
		t.Fatalf("TxPrivateWriteHashes = %v, %v", hashes, err)
	}
	_, extra := privateTx(ledgertest.Put("a", []byte("1")), ledgertest.Del("b"), ledgertest.Put("c", []byte("3")))
	_, wrongDelete := privateTx(ledgertest.Put("a", []byte("1")), ledgertest.Put("b", []byte("x")))
	_, wrongKey := privateTx(ledgertest.Put("A", []byte("1")), ledgertest.Del("b"))
	for _, tc := range []struct {
		name        string
		pvt         *pb.TxPvtReadWriteSet
		eligible    func(ns, coll string) bool
		wantWrites  int
		wantMissing int
	}{
		{"match", pvt, nil, 2, 0},
		{"none held, eligible", nil, member, 0, 1},
		{"none held, not eligible", nil, nonMember, 0, 0},
		{"extra write", extra, nil, 0, 1},
		{"delete flag differs", wrongDelete, nil, 0, 1},
		{"key differs", wrongKey, nil, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws, missing := matchPrivateData(hashes, tc.pvt, tc.eligible)
			if len(ws) != tc.wantWrites || len(missing) != tc.wantMissing {
				t.Fatalf("writes %d, missing %d; want %d, %d", len(ws), len(missing), tc.wantWrites, tc.wantMissing)
			}
		})
	}
}

func TestCommitHashCoversPrivateWriteHashes(t *testing.T) {
	hdr := &pb.BlockHeader{Number: 1}
	h := PrivateWriteHash{Namespace: "ns", Collection: "c", KeyHash: sum([]byte("k")), ValueHash: sum([]byte("v"))}
	base := ComputeCommitHash(nil, hdr, []byte{0}, nil, [][]PrivateWriteHash{{h}})
	variants := map[string]PrivateWriteHash{
		"namespace":  {Namespace: "nt", Collection: "c", KeyHash: h.KeyHash, ValueHash: h.ValueHash},
		"collection": {Namespace: "ns", Collection: "d", KeyHash: h.KeyHash, ValueHash: h.ValueHash},
		"key hash":   {Namespace: "ns", Collection: "c", KeyHash: sum([]byte("j")), ValueHash: h.ValueHash},
		"value hash": {Namespace: "ns", Collection: "c", KeyHash: h.KeyHash, ValueHash: sum([]byte("w"))},
		"delete":     {Namespace: "ns", Collection: "c", KeyHash: h.KeyHash, IsDelete: true},
	}
	for name, v := range variants {
		if bytes.Equal(ComputeCommitHash(nil, hdr, []byte{0}, nil, [][]PrivateWriteHash{{v}}), base) {
			t.Errorf("commit hash ignores the %s", name)
		}
	}
	if bytes.Equal(ComputeCommitHash(nil, hdr, []byte{0}, nil, nil), base) {
		t.Error("commit hash ignores private write hashes")
	}
}

// FuzzTxPrivateWriteHashes feeds arbitrary envelopes and private rwsets to
// the code that reads them at commit: it must never panic, and whatever it
// stores must hash to what the block says.
func FuzzTxPrivateWriteHashes(f *testing.F) {
	env, _ := privateTx(ledgertest.Put("a", []byte("1")), ledgertest.Del("b"))
	pvtBytes, _ := encodePendingWrites([]privateWrite{{namespace: testNS, collection: testColl, key: "a", value: []byte("1")}})
	f.Add(env, pvtBytes)
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, env, pvtBytes []byte) {
		hashes, err := TxPrivateWriteHashes(env)
		if err != nil {
			return
		}
		for _, h := range hashes {
			if !h.wellFormed() {
				t.Fatalf("malformed hash returned: %+v", h)
			}
		}
		ws, err := decodePendingWrites(pvtBytes)
		if err != nil {
			return
		}
		set := &pb.TxPvtReadWriteSet{}
		for _, w := range ws {
			set.NsPvtRwsets = append(set.NsPvtRwsets, &pb.NsPvtReadWriteSet{Namespace: w.namespace, CollectionPvtRwsets: []*pb.CollectionPvtReadWriteSet{{
				Collection: w.collection, Writes: []*pb.KVWrite{{Key: w.key, IsDelete: w.isDelete, Value: w.value}},
			}}})
		}
		stored, _ := matchPrivateData(hashes, set, member)
		for _, w := range stored {
			found := false
			for _, h := range hashes {
				if h.Namespace == w.namespace && h.Collection == w.collection && bytes.Equal(h.KeyHash, sum([]byte(w.key))) &&
					h.IsDelete == w.isDelete && (w.isDelete || bytes.Equal(h.ValueHash, sum(w.value))) {
					found = true
				}
			}
			if !found {
				t.Fatalf("stored a write the block does not hash: %+v", w)
			}
		}
	})
}

// TestVerifyChecksPrivateState tampers with the hashed and the private
// state and expects Verify to name it.
func TestVerifyChecksPrivateState(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(db *pebble.DB) error
		want   string
	}{
		{"untouched", func(*pebble.DB) error { return nil }, ""},
		{"private value changed", func(db *pebble.DB) error {
			return db.Set(privateKey(testNS, testColl, "secret"), encodeStateValue(Version{1, 0}, []byte("tampered")), pebble.Sync)
		}, "does not match the block's hash"},
		{"hashed entry dropped", func(db *pebble.DB) error {
			return db.Delete(hashedKey(testNS, testColl, sum([]byte("secret"))), pebble.Sync)
		}, "lacks"},
		{"hashed entry forged", func(db *pebble.DB) error {
			return db.Set(hashedKey(testNS, testColl, sum([]byte("forged"))), encodeStateValue(Version{1, 0}, sum([]byte("x"))), pebble.Sync)
		}, "disagrees"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			chain := ledgertest.NewChain(t, testChannel)
			l := openLedger(t, dir, Options{})
			g := chain.Genesis()
			mustCommit(t, l, g, allValid(g))
			env, pvt := privateTx(ledgertest.Put("secret", []byte("v")))
			b := chain.Next(env)
			mustCommit(t, l, b, CommitResult{Codes: []pb.TxValidationCode{0}, Private: []*pb.TxPvtReadWriteSet{pvt}})
			l.Close()
			db, err := pebble.Open(filepath.Join(dir, "index"), &pebble.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.tamper(db); err != nil {
				t.Fatal(err)
			}
			db.Close()
			_, err = Verify(dir)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Verify = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestPrivateRange(t *testing.T) {
	chain := ledgertest.NewChain(t, testChannel)
	l := openLedger(t, t.TempDir(), Options{})
	defer l.Close()
	g := chain.Genesis()
	mustCommit(t, l, g, allValid(g))
	commit := func(pvtHeld bool, kvs ...ledgertest.KV) {
		t.Helper()
		env, pvt := privateTx(kvs...)
		res := CommitResult{Codes: []pb.TxValidationCode{0}, Eligible: member}
		if pvtHeld {
			res.Private = []*pb.TxPvtReadWriteSet{pvt}
		}
		mustCommit(t, l, chain.Next(env), res)
	}
	keys := func(start, end string) ([]string, error) {
		it, err := l.State().PrivateRange(testNS, testColl, start, end)
		if err != nil {
			return nil, err
		}
		defer it.Close()
		var out []string
		for it.Next() {
			out = append(out, it.Key()+"="+string(it.Value()))
		}
		return out, it.Err()
	}
	commit(true, ledgertest.Put("a", []byte("1")), ledgertest.Put("b", []byte("2")), ledgertest.Put("c", []byte("3")))
	commit(true, ledgertest.Del("b"))
	for _, tc := range []struct {
		start, end string
		want       string
	}{
		{"", "", "a=1 c=3"},
		{"a", "c", "a=1"},
		{"b", "", "c=3"},
		{"d", "", ""},
	} {
		got, err := keys(tc.start, tc.end)
		if err != nil || strings.Join(got, " ") != tc.want {
			t.Fatalf("range [%q, %q) = %v, %v; want %q", tc.start, tc.end, got, err, tc.want)
		}
	}
	if _, err := keys("c", "a"); err == nil {
		t.Fatal("inverted range accepted")
	}
	// c's new value is missing: the stale c=3 must not be served.
	commit(false, ledgertest.Put("c", []byte("4")))
	if got, err := keys("", ""); !errors.Is(err, ErrPrivateDataMissing) {
		t.Fatalf("range with missing data = %v, %v; want ErrPrivateDataMissing", got, err)
	}
}

// TestStagedPrivateDataOfAbortedCommit stages private data for a block
// whose commit never reaches the commit point: neither after a reopen nor
// on a retry within the process may it be applied to a block committed
// without it.
func TestStagedPrivateDataOfAbortedCommit(t *testing.T) {
	for _, reopen := range []bool{true, false} {
		t.Run(map[bool]string{true: "reopen", false: "retry"}[reopen], func(t *testing.T) {
			dir := t.TempDir()
			chain := ledgertest.NewChain(t, testChannel)
			l := openLedger(t, dir, Options{})
			g := chain.Genesis()
			mustCommit(t, l, g, allValid(g))
			env, pvt := privateTx(ledgertest.Put("secret", []byte("staged only")))
			b := chain.Next(env)
			hashes, _ := TxPrivateWriteHashes(env)
			ws, missing := matchPrivateData(hashes, pvt, nil)
			l.commitMu.Lock()
			err := l.stagePrivate(1, [][]privateWrite{ws}, [][]collRef{missing}, nil)
			l.commitMu.Unlock()
			if err != nil || len(ws) != 1 {
				t.Fatalf("stage: %v (%d writes)", err, len(ws))
			}
			if reopen {
				l.Close()
				l = openLedger(t, dir, Options{})
			}
			defer l.Close()
			mustCommit(t, l, b, CommitResult{Codes: []pb.TxValidationCode{0}, Eligible: member})
			if v, err := l.State().GetPrivateData(testNS, testColl, "secret"); !errors.Is(err, ErrPrivateDataMissing) {
				t.Fatalf("value staged by an aborted commit was applied: %+v, %v", v, err)
			}
			if m, _ := l.MissingPrivateData(0); len(m) != 1 {
				t.Fatalf("missing = %+v, want the block's collection", m)
			}
		})
	}
}
