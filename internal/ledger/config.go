package ledger

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// ConfigFromBlock returns the channel configuration a config block carries.
// A config block holds exactly one envelope, of header type CONFIG, whose
// data is a pb.ConfigEnvelope; for any other block ok is false. A block that
// looks like a config block but whose configuration does not decode is an
// error.
func ConfigFromBlock(block *pb.Block) (cfg *pb.ChannelConfig, ok bool, err error) {
	envs := block.GetData().GetEnvelopes()
	if len(envs) != 1 {
		return nil, false, nil
	}
	_, payload, hdr, err := protocol.OpenEnvelope(envs[0], MaxRecordBytes)
	if err != nil || hdr.Type != pb.HeaderType_CONFIG {
		return nil, false, nil
	}
	env := new(pb.ConfigEnvelope)
	if err := protocol.Unmarshal(payload.Data, env, MaxRecordBytes); err != nil {
		return nil, true, fmt.Errorf("config block: %w", err)
	}
	if env.Config == nil {
		return nil, true, errors.New("config block: config envelope without a config")
	}
	if len(env.Config.GetOrderer().GetConsenters()) == 0 {
		return nil, true, errors.New("config block: config lists no consenters")
	}
	return env.Config, true, nil
}

// consenterKeys holds the public keys of a config's consenters, by
// certificate DER, for checking orderer signatures.
type consenterKeys map[string]consenterKey

type consenterKey struct {
	mspID string
	pub   crypto.PublicKey
	err   error // the certificate did not parse or has an unsupported key
}

func newConsenterKeys(cfg *pb.ChannelConfig) consenterKeys {
	keys := make(consenterKeys)
	for _, c := range cfg.GetOrderer().GetConsenters() {
		k := consenterKey{mspID: c.MspId}
		cert, err := x509.ParseCertificate(c.CertDer)
		if err != nil {
			k.err = fmt.Errorf("consenter %q certificate: %w", c.Id, err)
		} else {
			k.pub = cert.PublicKey
			switch pub := cert.PublicKey.(type) {
			case *ecdsa.PublicKey:
				if pub.Curve != elliptic.P256() {
					k.err = fmt.Errorf("consenter %q key is not ECDSA P-256", c.Id)
				}
			case ed25519.PublicKey:
			default:
				k.err = fmt.Errorf("consenter %q key type %T is not supported", c.Id, cert.PublicKey)
			}
		}
		keys[string(c.CertDer)] = k
	}
	return keys
}

// verify checks block's orderer signature: the signer's certificate must be
// one of the consenters' (and its MSP ID theirs), and the signature must
// verify over protocol.OrdererSignedBytes(header hash, last_config) with
// that certificate's key (ECDSA P-256 ASN.1 over the SHA-256 of the bytes,
// or Ed25519 over the bytes).
func (keys consenterKeys) verify(block *pb.Block) error {
	sig := block.GetMetadata().GetSignature()
	if sig == nil || len(sig.Signature) == 0 {
		return errors.New("orderer signature missing")
	}
	signer, err := protocol.ParseSerializedIdentity(sig.Signer)
	if err != nil {
		return fmt.Errorf("orderer signature: signer: %w", err)
	}
	k, ok := keys[string(signer.CertDer)]
	if !ok {
		return errors.New("orderer signature: signer is not a consenter of the config in force")
	}
	if k.err != nil {
		return fmt.Errorf("orderer signature: %w", k.err)
	}
	if k.mspID != "" && k.mspID != signer.MspId {
		return fmt.Errorf("orderer signature: signer claims MSP %q, consenter is of %q", signer.MspId, k.mspID)
	}
	msg := protocol.OrdererSignedBytes(protocol.BlockHeaderHash(block.GetHeader()), block.GetMetadata().GetLastConfig())
	switch pub := k.pub.(type) {
	case *ecdsa.PublicKey:
		digest := sha256.Sum256(msg)
		ok = ecdsa.VerifyASN1(pub, digest[:], sig.Signature)
	case ed25519.PublicKey:
		ok = ed25519.Verify(pub, msg, sig.Signature)
	}
	if !ok {
		return errors.New("orderer signature does not verify")
	}
	return nil
}

// VerifyOrdererSignature checks block's orderer signature against the
// consenters of cfg, the configuration in force before the block (for the
// genesis block, its own). A deliver client checks every block it receives
// with it before handing it to the validator.
func VerifyOrdererSignature(block *pb.Block, cfg *pb.ChannelConfig) error {
	return newConsenterKeys(cfg).verify(block)
}
