package orderer

import (
	"errors"
	"fmt"
	"time"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/policy"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// refusal is a broadcast answer other than SUCCESS: a status and a reason
// that is safe to return to the client (no key material).
type refusal struct {
	Status pb.Status
	Info   string
}

func (r *refusal) Error() string { return r.Status.String() + ": " + r.Info }

func refuse(status pb.Status, format string, args ...any) *refusal {
	return &refusal{Status: status, Info: fmt.Sprintf(format, args...)}
}

// checkedEnvelope is a broadcast envelope that passed checkEnvelope.
type checkedEnvelope struct {
	Raw       []byte // the envelope as it goes into a block
	TxID      string
	Type      pb.HeaderType
	ConfigSeq uint64 // the configuration sequence it was checked under
}

// checkEnvelope applies the ordering service's admission checks to a
// broadcast envelope (raw, a marshalled pb.Envelope) for channel cfg at
// time now:
//
//   - size at most the channel's absolute max bytes (REQUEST_ENTITY_TOO_LARGE);
//   - the envelope, payload and header decode; the header names this
//     channel, an ENDORSER_TRANSACTION or CONFIG_UPDATE type, and a
//     transaction ID equal to hex SHA-256(nonce ‖ creator) (BAD_REQUEST);
//   - the creator is a valid identity of a member now, its signature over
//     the payload verifies, and it satisfies the channel's Writers policy
//     (FORBIDDEN);
//   - a CONFIG_UPDATE is signed as the mod policy of every element it
//     changes requires (channelconfig.ModPolicy: the member's own Admins
//     for its CRLs, intermediates and endpoints, the channel Admins policy
//     for the rest) and applies to the current configuration (FORBIDDEN or
//     BAD_REQUEST).
//
// It does not check for duplicates; the caller does.
func checkEnvelope(cfg *channelconfig.Config, raw []byte, now time.Time) (*checkedEnvelope, *refusal) {
	limit := cfg.BatchSize().AbsoluteMaxBytes
	if len(raw) > limit {
		return nil, refuse(pb.Status_REQUEST_ENTITY_TOO_LARGE, "envelope of %d bytes exceeds the channel's absolute max bytes %d", len(raw), limit)
	}
	env, _, hdr, err := protocol.OpenEnvelope(raw, limit)
	if err != nil {
		return nil, refuse(pb.Status_BAD_REQUEST, "%v", err)
	}
	if hdr.ChannelId != cfg.ChannelID() {
		return nil, refuse(pb.Status_BAD_REQUEST, "envelope is for channel %q, not %s", hdr.ChannelId, cfg.ChannelID())
	}
	switch hdr.Type {
	case pb.HeaderType_ENDORSER_TRANSACTION, pb.HeaderType_CONFIG_UPDATE:
	case pb.HeaderType_CONFIG:
		return nil, refuse(pb.Status_BAD_REQUEST, "CONFIG envelopes are built by the ordering service; submit a CONFIG_UPDATE")
	default:
		return nil, refuse(pb.Status_BAD_REQUEST, "unknown envelope type %d", hdr.Type)
	}
	if len(hdr.Nonce) != protocol.NonceSize || protocol.ComputeTxID(hdr.Nonce, hdr.Creator) != hdr.TxId {
		return nil, refuse(pb.Status_BAD_REQUEST, "transaction ID does not match the header's nonce and creator")
	}
	creator, err := protocol.ParseSerializedIdentity(hdr.Creator)
	if err != nil {
		return nil, refuse(pb.Status_BAD_REQUEST, "creator: %v", err)
	}
	id, err := cfg.Manager().Validate(creator.MspId, creator.CertDer, identity.AnyRole, now)
	if err != nil {
		return nil, refuse(pb.Status_FORBIDDEN, "creator is not a valid member identity: %v", err)
	}
	if err := id.Verify(env.Payload, env.Signature); err != nil {
		return nil, refuse(pb.Status_FORBIDDEN, "creator %s: envelope signature: %v", id, err)
	}
	signer := policy.Signer{ID: id.ID(), MSPID: id.MSPID(), Role: string(id.Role())}
	if err := cfg.EvaluatePolicy(channelconfig.PolicyWriters, []policy.Signer{signer}); err != nil {
		return nil, refuse(pb.Status_FORBIDDEN, "creator %s: %v", id, err)
	}
	if hdr.Type == pb.HeaderType_CONFIG_UPDATE {
		if _, err := cfg.ApplyUpdateEnvelope(raw, now); err != nil {
			if errors.Is(err, policy.ErrNotSatisfied) {
				return nil, refuse(pb.Status_FORBIDDEN, "%v", err)
			}
			return nil, refuse(pb.Status_BAD_REQUEST, "%v", err)
		}
	}
	return &checkedEnvelope{Raw: raw, TxID: hdr.TxId, Type: hdr.Type, ConfigSeq: cfg.Sequence()}, nil
}

// trustForwarded admits an endorser transaction that a consenter of the
// channel forwarded after checking it under configuration sequence seq,
// without verifying its signature, creator or policies again, when seq is
// the sequence of cfg (the same configuration, so the same verdict, as
// Hyperledger Fabric's etcdraft leader does). It still bounds the size and
// decodes the header for the transaction ID, channel and type. ok is false
// when the envelope must be checked in full instead: another sequence, a
// config update (rare; its update is re-applied anyway), or anything that
// does not decode.
func trustForwarded(cfg *channelconfig.Config, raw []byte, seq uint64) (ce *checkedEnvelope, ok bool) {
	limit := cfg.BatchSize().AbsoluteMaxBytes
	if seq != cfg.Sequence() || len(raw) > limit {
		return nil, false
	}
	_, _, hdr, err := protocol.OpenEnvelope(raw, limit)
	if err != nil || hdr.ChannelId != cfg.ChannelID() || hdr.Type != pb.HeaderType_ENDORSER_TRANSACTION {
		return nil, false
	}
	return &checkedEnvelope{Raw: raw, TxID: hdr.TxId, Type: hdr.Type, ConfigSeq: seq}, true
}
