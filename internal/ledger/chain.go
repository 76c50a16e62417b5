package ledger

import (
	"bytes"
	"fmt"

	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// chain is what the next block must follow: the ledger's height, the last
// block's hash and commit hash, and the configuration in force. Commit,
// replay on Open and Verify all check blocks against it, so they agree on
// what a good block is.
type chain struct {
	height     uint64
	lastHash   []byte
	commitHash []byte
	lastConfig uint64
	config     *pb.ChannelConfig
	keys       consenterKeys
}

// checkedBlock is a block that passed chain.check.
type checkedBlock struct {
	block      *pb.Block
	headerHash []byte
	config     *pb.ChannelConfig // set for a config block
}

// check verifies that block can follow the chain: its number is the height,
// its previous hash the last block's hash, its data hash matches its data,
// metadata.last_config names the last config block (itself for a config
// block), and its orderer signature verifies against the consenters of the
// config in force before it. The genesis block (number 0) must be a config
// block; it is checked against its own consenters and may be unsigned. It
// does not look at validation codes or the commit hash.
func (c *chain) check(block *pb.Block) (*checkedBlock, error) {
	hdr := block.GetHeader()
	if hdr == nil {
		return nil, fmt.Errorf("block has no header")
	}
	if hdr.Number != c.height {
		return nil, fmt.Errorf("block number %d, expected %d (the ledger height)", hdr.Number, c.height)
	}
	if !bytes.Equal(hdr.PreviousHash, c.lastHash) {
		return nil, fmt.Errorf("previous hash mismatch")
	}
	if !bytes.Equal(hdr.DataHash, protocol.BlockDataHash(block.GetData())) {
		return nil, fmt.Errorf("data hash mismatch")
	}
	cfg, isConfig, err := ConfigFromBlock(block)
	if err != nil {
		return nil, err
	}
	wantLastConfig := c.lastConfig
	if isConfig {
		wantLastConfig = hdr.Number
		if c.config != nil && cfg.ChannelId != c.config.ChannelId {
			return nil, fmt.Errorf("config block for channel %q on channel %q", cfg.ChannelId, c.config.ChannelId)
		}
	} else if hdr.Number == 0 {
		return nil, fmt.Errorf("genesis block is not a config block")
	}
	if got := block.GetMetadata().GetLastConfig(); got != wantLastConfig {
		return nil, fmt.Errorf("metadata last_config %d, expected %d", got, wantLastConfig)
	}
	keys := c.keys
	if hdr.Number == 0 {
		keys = newConsenterKeys(cfg)
	}
	if hdr.Number > 0 || block.GetMetadata().GetSignature() != nil {
		if err := keys.verify(block); err != nil {
			return nil, err
		}
	}
	cb := &checkedBlock{block: block, headerHash: protocol.BlockHeaderHash(hdr)}
	if isConfig {
		cb.config = cfg
	}
	return cb, nil
}

// advance moves the chain past a committed block.
func (c *chain) advance(cb *checkedBlock, commitHash []byte) {
	c.height = cb.block.Header.Number + 1
	c.lastHash = cb.headerHash
	c.commitHash = commitHash
	if cb.config != nil {
		c.lastConfig = cb.block.Header.Number
		c.config = cb.config
		c.keys = newConsenterKeys(cb.config)
	}
}

// storedEffects checks a stored block's validation codes and commit hash
// (as written by Commit) and returns its codes, public writes and hashed
// private writes.
func (c *chain) storedEffects(cb *checkedBlock) ([]pb.TxValidationCode, [][]Write, [][]PrivateWriteHash, error) {
	md := cb.block.GetMetadata()
	codes := DecodeValidationCodes(md.GetValidationCodes())
	if len(codes) != len(cb.block.GetData().GetEnvelopes()) {
		return nil, nil, nil, fmt.Errorf("%d validation codes for %d transactions", len(codes), len(cb.block.GetData().GetEnvelopes()))
	}
	writes, err := ExtractPublicWrites(cb.block, codes)
	if err != nil {
		return nil, nil, nil, err
	}
	private, err := ExtractPrivateWriteHashes(cb.block, codes)
	if err != nil {
		return nil, nil, nil, err
	}
	want := ComputeCommitHash(c.commitHash, cb.block.Header, md.GetValidationCodes(), writes, private)
	if !bytes.Equal(want, md.GetCommitHash()) {
		return nil, nil, nil, fmt.Errorf("commit hash mismatch")
	}
	return codes, writes, private, nil
}
