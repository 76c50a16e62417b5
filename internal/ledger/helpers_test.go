package ledger

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/blossom-ledger/blossom/internal/ledger/ledgertest"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

const testChannel = "testchannel"

func openLedger(t testing.TB, dir string, opts Options) *Ledger {
	t.Helper()
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

// allValid is a result with every transaction VALID, writes extracted by
// the ledger.
func allValid(b *pb.Block) CommitResult {
	return CommitResult{Codes: make([]pb.TxValidationCode, len(b.Data.Envelopes))}
}

func mustCommit(t testing.TB, l *Ledger, b *pb.Block, res CommitResult) {
	t.Helper()
	if err := l.Commit(b, res); err != nil {
		t.Fatalf("Commit block %d: %v", b.Header.Number, err)
	}
}

// model is the state the test expects, with each key's history.
type model struct {
	state   map[string]map[string]VersionedValue // ns -> key -> value
	history map[string][]HistoryEntry            // ns\x00key -> entries, oldest first
	txs     map[string]TxInfo
}

func newModel() *model {
	return &model{state: map[string]map[string]VersionedValue{}, history: map[string][]HistoryEntry{}, txs: map[string]TxInfo{}}
}

func (m *model) apply(block uint64, tx int, ns string, kv ledgertest.KV) {
	v := Version{Block: block, Tx: uint64(tx)}
	if m.state[ns] == nil {
		m.state[ns] = map[string]VersionedValue{}
	}
	if kv.Delete {
		delete(m.state[ns], kv.Key)
	} else {
		m.state[ns][kv.Key] = VersionedValue{Value: kv.Value, Version: v}
	}
	k := ns + "\x00" + kv.Key
	m.history[k] = append(m.history[k], HistoryEntry{Version: v, IsDelete: kv.Delete})
}

// workload builds blocks of writes over a few namespaces and keys, with
// deletes, rewrites within a block and invalid transactions, and records
// what a correct ledger must hold.
type workload struct {
	chain *ledgertest.Chain
	model *model
	seq   int
}

func newWorkload(t testing.TB) *workload {
	return &workload{chain: ledgertest.NewChain(t, testChannel), model: newModel()}
}

// genesis returns block 0 and its result.
func (w *workload) genesis() (*pb.Block, CommitResult) {
	b := w.chain.Genesis()
	return b, allValid(b)
}

// next returns a block of n transactions; every fifth is invalid.
func (w *workload) next(n int) (*pb.Block, CommitResult) {
	number := w.chain.Height()
	var envs [][]byte
	var codes []pb.TxValidationCode
	type pending struct {
		ns  string
		kvs []ledgertest.KV
		id  string
	}
	var txs []pending
	for i := 0; i < n; i++ {
		w.seq++
		ns := []string{"asset", "authorization", "lscc"}[w.seq%3]
		kvs := []ledgertest.KV{
			ledgertest.Put(fmt.Sprintf("key%03d", w.seq%37), []byte(fmt.Sprintf("value %d", w.seq))),
			ledgertest.Put(fmt.Sprintf("composite\x00%d\x00k", w.seq%5), []byte{byte(w.seq)}),
		}
		if w.seq%7 == 0 {
			kvs = append(kvs, ledgertest.Del(fmt.Sprintf("key%03d", (w.seq+3)%37)))
		}
		env, id := ledgertest.WriteTx(testChannel, ns, kvs...)
		envs = append(envs, env)
		code := pb.TxValidationCode_VALID
		if w.seq%5 == 0 {
			code = pb.TxValidationCode_MVCC_READ_CONFLICT
		}
		codes = append(codes, code)
		txs = append(txs, pending{ns, kvs, id})
	}
	b := w.chain.Next(envs...)
	for i, tx := range txs {
		w.model.txs[tx.id] = TxInfo{Block: number, Index: uint32(i), Code: codes[i]}
		if codes[i] != pb.TxValidationCode_VALID {
			continue
		}
		for _, kv := range tx.kvs {
			w.model.apply(number, i, tx.ns, kv)
		}
	}
	return b, CommitResult{Codes: codes}
}

// checkAgainstModel compares everything the ledger answers with the model.
func checkAgainstModel(t *testing.T, l *Ledger, m *model) {
	t.Helper()
	st := l.State()
	for ns, keys := range m.state {
		// Range over the whole namespace equals the model, in key order.
		it, err := st.Range(ns, "", "")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for it.Next() {
			want, ok := keys[it.Key()]
			if !ok {
				t.Errorf("%s/%q in state, not in model", ns, it.Key())
				continue
			}
			if string(it.Value()) != string(want.Value) || it.Version() != want.Version {
				t.Errorf("%s/%q = %q@%v, want %q@%v", ns, it.Key(), it.Value(), it.Version(), want.Value, want.Version)
			}
			got = append(got, it.Key())
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		it.Close()
		want := make([]string, 0, len(keys))
		for k := range keys {
			want = append(want, k)
		}
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("range %s: keys %q, want %q", ns, got, want)
		}
		for k, want := range keys {
			vv, err := st.Get(ns, k)
			if err != nil || vv == nil || string(vv.Value) != string(want.Value) || vv.Version != want.Version {
				t.Errorf("Get %s/%q = %v, %v; want %q@%v", ns, k, vv, err, want.Value, want.Version)
			}
		}
	}
	for k, want := range m.history {
		ns, key, _ := cutNS(k)
		for _, newestFirst := range []bool{false, true} {
			it, err := st.History(ns, key, newestFirst)
			if err != nil {
				t.Fatal(err)
			}
			var got []HistoryEntry
			for it.Next() {
				got = append(got, it.Entry())
			}
			if err := it.Err(); err != nil {
				t.Fatal(err)
			}
			it.Close()
			exp := slices.Clone(want)
			if newestFirst {
				slices.Reverse(exp)
			}
			if !slices.Equal(got, exp) {
				t.Errorf("history %s/%q (newest first %v) = %v, want %v", ns, key, newestFirst, got, exp)
			}
		}
	}
	for id, want := range m.txs {
		got, err := l.Tx(id)
		if err != nil || got != want {
			t.Errorf("Tx(%s) = %v, %v; want %v", id, got, err, want)
		}
	}
}

func cutNS(k string) (ns, key string, ok bool) {
	for i := 0; i < len(k); i++ {
		if k[i] == 0 {
			return k[:i], k[i+1:], true
		}
	}
	return "", "", false
}

// segmentPaths lists the block segment files of a ledger directory.
func segmentPaths(t testing.TB, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "blocks", "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(paths)
	return paths
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}
