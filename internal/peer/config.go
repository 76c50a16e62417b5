package peer

import (
	"fmt"
	"time"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/ledger"
	"github.com/blossom-ledger/blossom/internal/policy"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/validator"
)

// channelState is the configuration in force on a channel as of its last
// config block, with what the validator, the endorser and the services
// derive from it. It is immutable: a config block produces a new one.
type channelState struct {
	config     *channelconfig.Config
	cc         *pb.ChannelConfig // the configuration message; never modified
	lastConfig uint64            // number of the config block that carries it
	validator  *validator.Config
}

// newChannelState builds the state of configuration cc, carried by config
// block lastConfig. A configuration this node cannot serve (an unsupported
// capability level, an invalid configuration) is an error: the channel
// stops.
func newChannelState(cc *pb.ChannelConfig, lastConfig uint64) (*channelState, error) {
	cfg, err := channelconfig.New(cc)
	if err != nil {
		return nil, fmt.Errorf("configuration of block %d: %w", lastConfig, err)
	}
	writers, ok := cfg.Policy(channelconfig.PolicyWriters)
	if !ok {
		return nil, fmt.Errorf("configuration of block %d has no %s policy", lastConfig, channelconfig.PolicyWriters)
	}
	members := cfg.MemberIDs()
	return &channelState{
		config:     cfg,
		cc:         cc,
		lastConfig: lastConfig,
		validator: &validator.Config{
			ChannelID:  cfg.ChannelID(),
			Identities: cfg.Manager(),
			Members:    members,
			Writers:    writers,
			// Writes the ledger cannot store are refused while validating.
			CheckWriteKey: ledger.CheckWriteKey,
		},
	}, nil
}

// authorize checks that id is, at time at, a valid identity of a member of
// the channel (any role, not revoked) and satisfies the channel policy
// policyName (Readers or Writers). It returns the identity as the
// channel's configuration validates it.
func (s *channelState) authorize(mspID string, certDER []byte, policyName string, at time.Time) (*identity.Identity, error) {
	id, err := s.config.Manager().Validate(mspID, certDER, identity.AnyRole, at)
	if err != nil {
		return nil, fmt.Errorf("not a valid identity of a member of channel %s: %w", s.config.ChannelID(), err)
	}
	if err := s.config.EvaluatePolicy(policyName, []policy.Signer{signerOf(id)}); err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	return id, nil
}

// proto returns the configuration message (shared: do not modify).
func (s *channelState) proto() *pb.ChannelConfig { return s.cc }

func signerOf(id *identity.Identity) policy.Signer {
	return policy.Signer{ID: id.ID(), MSPID: id.MSPID(), Role: string(id.Role())}
}
