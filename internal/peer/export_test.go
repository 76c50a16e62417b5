package peer

import "github.com/blossom-ledger/blossom/internal/protocol/pb"

// TransientSets returns what this peer's transient store holds for txID:
// the receiving side of dissemination, for the network tests.
func (c *Channel) TransientSets(txID string) ([]*pb.TxPvtReadWriteSet, error) {
	return c.transient.Get(txID)
}

// LearnOrdererHeight makes the channel believe an orderer showed height h
// (the readiness tests: a height the peer cannot reach).
func (c *Channel) LearnOrdererHeight(h uint64) { c.learnOrdererHeight(h) }
