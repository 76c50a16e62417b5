// Package peer is a blossom peer: it keeps a copy of each channel's ledger
// up to date from the ordering service, endorses proposals by simulating
// chaincodes against ledger snapshots, and serves committed blocks and
// transaction outcomes (DESIGN §3).
//
// # Channels
//
// A Channel opens its ledger and joins from a genesis block (block 0: a
// single CONFIG envelope whose data hash and configuration are checked).
// It keeps the configuration in force — members and their MSPs, the
// Readers and Writers policies, the orderer consenters — and rebuilds it
// after every config block, refreshing the node's TLS trust at once so new
// members and CRLs apply to the next handshake and call.
//
// # Block intake
//
// A puller per channel streams blocks with Deliver from one of the
// channel's orderers (the consenters of the configuration in force,
// server certificates pinned to those listed), failing over to the next
// orderer when a stream breaks or a block is refused, with backoff once
// all have failed. Each block is checked before anything else (number =
// height, previous hash, data hash, non-decreasing timestamp, batch
// bounds, last_config, and an orderer signature by a consenter of the
// configuration in force; a config block must follow from the previous
// configuration), then validated (internal/validator), then committed
// (internal/ledger) with the validation codes and the writes of the valid
// transactions, and finally published to subscribers (Channel.Subscribe).
//
// # Chaincode definitions
//
// Chaincodes are defined through the _lifecycle system chaincode, built
// into every peer with _governance (lifecycle.go): a channel validates
// each block against the definitions committed before it, and the
// endorser resolves each invoked chaincode to the definition stored in
// the snapshot it simulates against, running the definition's package
// from the packages installed through the admin-only ChaincodeAdmin
// service (packages.go, wasm) or from Config.NativePackages. Static
// native registrations (Config.Chaincodes) remain for tests and
// development; every peer of a channel must then register the same ones,
// since endorsement policies are inputs of validation. Each chaincode has
// one implicit private collection per member, _implicit_org_<MSP>,
// endorsed by "<MSP>.peer", and a committed definition's explicit
// collections (collections.go). The endorser serves private reads of its own member's
// collections from the ledger (PRIVATE_DATA_NOT_HELD for other members'),
// and stores the simulation's private writes in the channel's transient
// store (fsynced) before answering; at commit the channel hands the
// ledger, for each valid transaction, the private writes it holds for its
// member's collections, and the ledger keeps them if they match the
// block's hashes (else records them missing, to be pulled from other
// member peers by the reconciler). A read of a value this peer misses is
// refused with PRIVATE_DATA_MISSING, never answered with an older value.
// Endorsed private writes are pushed to the other peers of the
// collections' members (PrivateData service).
//
// # Services
//
// One mutual-TLS gRPC listener serves, to any member identity:
//
//   - Endorser.ProcessProposal: the proposal is decoded (bounded), its
//     creator validated now (any role, not revoked) against the channel's
//     Writers policy, its signature verified, its timestamp checked
//     against the peer's clock (at most 5 min apart), its min_height
//     awaited (at most 2 s, else PEER_BEHIND), and the chaincode simulated
//     on a snapshot. A chaincode refusal is a response with status 500 and
//     the chaincode's message, without endorsement; otherwise the response
//     is endorsed with the peer's key. Evaluation is the same call.
//   - Peer.Deliver (committed blocks with their validation codes),
//     Peer.CommitStatus (blocks until a transaction commits on this peer)
//     and Peer.ChannelInfo (height, block hash, commit hash), to callers
//     that satisfy the channel's Readers policy.
package peer
