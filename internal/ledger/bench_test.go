package ledger

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

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

// BenchmarkSnapshotJoin compares joining from a snapshot with replaying
// the chain, on a ledger of 100 blocks of 100 transactions (10 000 keys
// of 100 B): per op, ExportSnapshot plus CreateFromSnapshot (with every
// check: file hashes, records, state hash) against Verify of the source
// (a replay from block 0 with every orderer signature and commit hash;
// a peer catching up also pulls and validates, so the real replay is
// slower). The paired ratio join/replay is reported as a metric.
func BenchmarkSnapshotJoin(b *testing.B) {
	const blocks, txPerBlock = 100, 100
	dir := filepath.Join(b.TempDir(), "src")
	l := openLedger(b, dir, Options{})
	c := ledgertest.NewChain(b, testChannel)
	g := c.Genesis()
	mustCommit(b, l, g, allValid(g))
	value := make([]byte, 100)
	for n := 0; n < blocks; n++ {
		envs := make([][]byte, txPerBlock)
		for i := range envs {
			envs[i], _ = ledgertest.WriteTx(testChannel, "bench", ledgertest.Put(fmt.Sprintf("key%06d", n*txPerBlock+i), value))
		}
		blk := c.Next(envs...)
		mustCommit(b, l, blk, allValid(blk))
	}
	var join, replay time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		snap := filepath.Join(b.TempDir(), "snap")
		if _, err := l.ExportSnapshot(context.Background(), snap, ExportOptions{}); err != nil {
			b.Fatal(err)
		}
		if _, err := CreateFromSnapshot(snap, filepath.Join(b.TempDir(), "dst"), ImportOptions{}); err != nil {
			b.Fatal(err)
		}
		join += time.Since(start)
		b.StopTimer()
		l.Close()
		b.StartTimer()
		start = time.Now()
		if _, err := Verify(dir); err != nil {
			b.Fatal(err)
		}
		replay += time.Since(start)
		b.StopTimer()
		l = openLedger(b, dir, Options{})
		b.StartTimer()
	}
	b.StopTimer()
	l.Close()
	b.ReportMetric(float64(join)/float64(b.N)/1e6, "join-ms/op")
	b.ReportMetric(float64(replay)/float64(b.N)/1e6, "replay-ms/op")
	b.ReportMetric(float64(join)/float64(replay), "join/replay")
}
