// Package faults holds blossom's fault-injection suite (tests only). Each
// test builds the blossom binary, lays out a three-member network with
// internal/network/localnet, runs every orderer and peer as a separate
// process (`blossom orderer --config`, `blossom peer --config`), applies
// steady load and injures the nodes: kill -9 of a random orderer (the
// Raft leader included) or peer followed by a restart, SIGSTOP past the
// election timeout, an expired TLS certificate that is then renewed, a
// full disk, a network partition. Afterwards every acknowledged
// transaction must be committed exactly once and valid on every peer,
// every peer's ledger must pass `blossom ledger verify`, and the peers'
// heights, block hashes and commit hashes must agree.
//
//	go test ./internal/faults/                 # CI: at least 20 kills and a SIGSTOP, under 2 minutes
//	go test -tags faults ./internal/faults/    # the full suite (longer; disk, TLS, partition: root)
package faults
