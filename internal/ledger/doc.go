// Package ledger is a peer's tamper-evident copy of one channel: the block
// store, the state database with versions, the history index, the
// per-block commit hash that lets peers compare what they committed, and
// Verify, which re-checks all of it offline.
//
// # Layout on disk
//
// A ledger directory holds
//
//	blocks/000001.seg, 000002.seg, ...   append-only block segments
//	index/                               one Pebble database
//	snapshot/                            only for a ledger created from a snapshot: a copy of it
//
// A segment is a sequence of records `uint32 length ‖ uint32 CRC32C ‖
// marshalled pb.Block` (big-endian, CRC32C Castagnoli over the block bytes).
// A new segment starts when the current one would pass SegmentSize
// (64 MiB by default). The Pebble database holds the block index (number ->
// segment, offset, length, commit hash), the transaction index (txID ->
// block, transaction number, validation code), the state (namespace, key ->
// version, value), the history index (namespace, key, version -> is_delete),
// the hashed private state every peer keeps (namespace, collection, key
// hash -> value hash, version), the private state of the collections this
// peer's member belongs to (namespace, collection, key -> value, version),
// the records of private data it misses, the block-to-live purge schedule,
// and the ledger's meta record (height, last block hash, commit hash, last
// config block). See CommitResult.Private, CommitResult.BlockToLive and
// ReconcilePrivateData.
//
// # Commit point
//
// Commit appends the block record to the current segment and fsyncs it: that
// is the commit point (DESIGN §11). Index, state, history and meta are then
// written in one synchronous Pebble batch. If the process dies between the
// two, Open finds blocks in the segments beyond the indexed height and
// replays them (the validation codes and the commit hash are in each stored
// block's metadata, the writes are re-extracted from its transactions). A
// record torn by a crash mid-write at the end of the last segment is
// truncated on Open.
//
// # Commit hash
//
// The committing peer stores, in each block's metadata, the validation code
// of every transaction and a commit hash chaining everything the block
// changed (see ComputeCommitHash). Two peers agree on the committed state at
// a height exactly when their commit hashes at that height agree.
//
// # Snapshots
//
// ExportSnapshot writes the ledger at its height H as a file set (see
// snapshot.go) and CreateFromSnapshot creates a new ledger from one, which
// starts at H: blocks, commit hashes and history before H answer
// ErrBeforeSnapshot, the transaction IDs before H are kept for duplicate
// detection, and Verify replays from the snapshot.
package ledger
