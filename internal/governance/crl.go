package governance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// CurrentConfig reads channel's configuration in force from the client's
// own peer (see LatestConfig for the trust this places in it).
func (l *Ledger) CurrentConfig(ctx context.Context, channel string) (*channelconfig.Config, error) {
	cfg, _, err := latestConfig(channel, func(pos *pb.SeekPosition) (*pb.Block, error) {
		n := pos.GetSpecified()
		if pos.GetNewest() {
			info, err := l.Client.ChannelInfo(ctx, "", channel)
			if err != nil {
				return nil, err
			}
			n = info.Height - 1
		}
		return l.Client.Block(ctx, "", channel, n)
	})
	return cfg, err
}

// MergeCRLs returns current with each CRL whose issuer also issued one of
// fresh replaced by that fresh CRL, and the other fresh CRLs added: a
// member with several CAs publishes one CA's new CRL without dropping the
// others'.
func MergeCRLs(current, fresh [][]byte) ([][]byte, error) {
	issuers := make([][]byte, len(fresh))
	for i, der := range fresh {
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			return nil, fmt.Errorf("CRL %d does not parse: %v", i, err)
		}
		issuers[i] = crl.RawIssuer
	}
	var out [][]byte
	for _, der := range current {
		crl, err := x509.ParseRevocationList(der)
		if err == nil && containsBytes(issuers, crl.RawIssuer) {
			continue
		}
		out = append(out, der)
	}
	return append(out, fresh...), nil
}

func containsBytes(list [][]byte, b []byte) bool {
	for _, x := range list {
		if bytes.Equal(x, b) {
			return true
		}
	}
	return false
}

// CRLProposalID names the proposal publishing crlPEM: "crl-" and the
// first 24 hex digits of its SHA-256, so a retry finds the same proposal.
func CRLProposalID(crlPEM []byte) string {
	sum := sha256.Sum256(crlPEM)
	return "crl-" + hex.EncodeToString(sum[:12])
}

// PublishCRL publishes a new CRL (PEM) of one of member mspID's CAs to
// channel through governance: it proposes replacing that CA's CRL in the
// configuration in force (the member's other CAs' CRLs stay) as proposal
// id, approves it with l.Signer, which must be an admin of mspID (one
// admin of a member suffices for its own CRLs), and submits the update.
// It returns the update's transaction ID once ordered; peers refuse the
// revoked certificates from the config block on.
func (l *Ledger) PublishCRL(ctx context.Context, channel, mspID, id string, crlPEM []byte) (string, error) {
	fresh, err := CRLsFromPEM(crlPEM)
	if err != nil {
		return "", err
	}
	cfg, err := l.CurrentConfig(ctx, channel)
	if err != nil {
		return "", fmt.Errorf("publish CRL: %w", err)
	}
	m, ok := cfg.Member(mspID)
	if !ok {
		return "", fmt.Errorf("publish CRL: %s is not a member of %s", mspID, channel)
	}
	crls, err := MergeCRLs(m.GetCrls(), fresh)
	if err != nil {
		return "", fmt.Errorf("publish CRL: %w", err)
	}
	update, err := UpdateCRLs(cfg, mspID, crls)
	if err != nil {
		return "", err
	}
	raw, err := protocol.Marshal(update)
	if err != nil {
		return "", err
	}
	if _, err := l.Propose(ctx, id, fmt.Sprintf("publish a CRL of %s (%s)", mspID, time.Now().UTC().Format(time.RFC3339)), raw); err != nil {
		return "", err
	}
	p, err := l.Get(ctx, id)
	if err != nil {
		return "", err
	}
	if _, _, err := l.Approve(ctx, id, p.UpdateHash); err != nil {
		return "", err
	}
	return l.Submit(ctx, channel, id)
}
