package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/blossom-ledger/blossom/internal/ledger"
	"github.com/blossom-ledger/blossom/internal/ledger/ledgertest"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// makeLedger commits a genesis block and n blocks of writes into a fresh
// ledger directory.
func makeLedger(t *testing.T, n int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ledger")
	l, err := ledger.Open(dir, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c := ledgertest.NewChain(t, "blossom")
	blocks := []*pb.Block{c.Genesis()}
	for i := 0; i < n; i++ {
		env, _ := ledgertest.WriteTx("blossom", "asset", ledgertest.Put("key", []byte{byte(i)}))
		blocks = append(blocks, c.Next(env))
	}
	for _, b := range blocks {
		if err := l.Commit(b, ledger.CommitResult{Codes: make([]pb.TxValidationCode, len(b.Data.Envelopes))}); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runLedger(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Main(append([]string{"ledger"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestLedgerVerifyCommand(t *testing.T) {
	dir := makeLedger(t, 5)
	code, out, errOut := runLedger("verify", dir)
	if code != 0 || !strings.Contains(out, "ledger OK: 6 blocks") || errOut != "" {
		t.Fatalf("verify of a good ledger: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = runLedger("verify", "--json", dir)
	var rep ledger.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || !rep.OK || rep.Blocks != 6 || rep.StateHash == "" {
		t.Fatalf("verify --json: exit %d, report %+v, %v", code, rep, err)
	}

	// Flip one byte in the middle of the block file: the block holding it
	// is named and the exit status is 2.
	segs, _ := filepath.Glob(filepath.Join(dir, "blocks", "*.seg"))
	sort.Strings(segs)
	data, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-40] ^= 0x01 // inside the last block (5)
	if err := os.WriteFile(segs[0], data, 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runLedger("verify", dir)
	if code != 2 || !strings.Contains(errOut, "block 5: ") {
		t.Fatalf("verify of a corrupt ledger: exit %d, stderr %q", code, errOut)
	}
	code, out, _ = runLedger("verify", "--json", dir)
	rep = ledger.Report{}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 2 || rep.OK || rep.BadBlock == nil || *rep.BadBlock != 5 {
		t.Fatalf("verify --json of a corrupt ledger: exit %d, report %+v, %v", code, rep, err)
	}

	if code, _, errOut := runLedger("verify", filepath.Join(t.TempDir(), "none")); code != 1 || !strings.Contains(errOut, "no ledger") {
		t.Fatalf("verify of a missing directory: exit %d, stderr %q", code, errOut)
	}
	if code, _, _ := runLedger("verify"); code == 0 {
		t.Fatal("verify without DIR succeeded")
	}
}
