package ledger

import (
	"fmt"
	"testing"

	"github.com/blossom-ledger/blossom/internal/ledger/ledgertest"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// BenchmarkCommit measures committing one block of 500 valid transactions,
// each one 100 B write to its own key: the block-file append and fsync,
// and the synchronous Pebble batch with state, history and tx index. One
// op is one block. "extract" lets the ledger parse the writes from the
// block; "given" hands them in as a validator would.
func BenchmarkCommit(b *testing.B) {
	const txPerBlock = 500
	for _, mode := range []string{"extract", "given"} {
		b.Run(fmt.Sprintf("%dtx/%s", txPerBlock, mode), func(b *testing.B) {
			l := openLedger(b, b.TempDir(), Options{})
			defer l.Close()
			c := ledgertest.NewChain(b, testChannel)
			g := c.Genesis()
			mustCommit(b, l, g, allValid(g))
			value := make([]byte, 100)
			seq := 0
			next := func() (*pb.Block, CommitResult) {
				envs := make([][]byte, txPerBlock)
				writes := make([][]Write, txPerBlock)
				for i := range envs {
					seq++
					key := fmt.Sprintf("key%09d", seq)
					envs[i], _ = ledgertest.WriteTx(testChannel, "bench", ledgertest.Put(key, value))
					writes[i] = []Write{{Namespace: "bench", Key: key, Value: value}}
				}
				blk := c.Next(envs...)
				res := CommitResult{Codes: make([]pb.TxValidationCode, txPerBlock)}
				if mode == "given" {
					res.Writes = writes
				}
				return blk, res
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				blk, res := next()
				b.StartTimer()
				if err := l.Commit(blk, res); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*txPerBlock)/b.Elapsed().Seconds(), "tx/s")
		})
	}
}
