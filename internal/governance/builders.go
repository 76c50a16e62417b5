package governance

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// The builders below return config updates of cfg's channel whose read
// versions are the current versions of exactly the elements they change,
// so unrelated updates applied meanwhile do not make them stale. They do
// not sign: collect approvals (Sign) and assemble (NewEnvelope).

// MemberFromPEM builds a member's MSP definition from PEM data (roots and
// intermediates as CERTIFICATE blocks, CRLs as "X509 CRL" blocks; the
// latter two may be empty) and its peer endpoints, checked as
// identity.ParseMSPConfigPEM checks them.
func MemberFromPEM(mspID string, rootsPEM, intermediatesPEM, crlsPEM []byte, peerEndpoints []string) (*pb.MemberConfig, error) {
	cfg, err := identity.ParseMSPConfigPEM(mspID, rootsPEM, intermediatesPEM, crlsPEM)
	if err != nil {
		return nil, err
	}
	m := &pb.MemberConfig{MspId: mspID, PeerEndpoints: append([]string(nil), peerEndpoints...)}
	for _, c := range cfg.RootCerts {
		m.RootCerts = append(m.RootCerts, c.Raw)
	}
	for _, c := range cfg.IntermediateCerts {
		m.IntermediateCerts = append(m.IntermediateCerts, c.Raw)
	}
	for _, c := range cfg.CRLs {
		m.Crls = append(m.Crls, c.Raw)
	}
	return m, nil
}

// AddMember returns an update adding member m (governed by the channel
// Admins policy). It fails if m's MSP ID is already a member.
func AddMember(cfg *channelconfig.Config, m *pb.MemberConfig) (*pb.ConfigUpdate, error) {
	if m == nil || m.MspId == "" {
		return nil, errors.New("add member: no MSP definition")
	}
	if _, ok := cfg.Member(m.MspId); ok {
		return nil, fmt.Errorf("add member: %s is already a member of %s", m.MspId, cfg.ChannelID())
	}
	u := cfg.NewUpdate(channelconfig.MemberElement(m.MspId))
	u.SetMembers = map[string]*pb.MemberConfig{m.MspId: m}
	return u, nil
}

// RemoveMember returns an update removing member mspID (governed by the
// channel Admins policy).
func RemoveMember(cfg *channelconfig.Config, mspID string) (*pb.ConfigUpdate, error) {
	if _, ok := cfg.Member(mspID); !ok {
		return nil, fmt.Errorf("remove member: %s is not a member of %s", mspID, cfg.ChannelID())
	}
	u := cfg.NewUpdate(channelconfig.MemberElement(mspID))
	u.RemoveMembers = []string{mspID}
	return u, nil
}

// UpdateCRLs returns an update replacing member mspID's CRLs with crls
// (DER): governed by mspID's own Admins, so one admin of the member
// suffices. Each CRL must be signed by one of the member's CAs.
func UpdateCRLs(cfg *channelconfig.Config, mspID string, crls [][]byte) (*pb.ConfigUpdate, error) {
	cur, ok := cfg.Member(mspID)
	if !ok {
		return nil, fmt.Errorf("update CRL: %s is not a member of %s", mspID, cfg.ChannelID())
	}
	if len(crls) == 0 {
		return nil, errors.New("update CRL: no CRL")
	}
	if _, err := identity.ParseMSPConfigDER(mspID, cur.RootCerts, cur.IntermediateCerts, crls); err != nil {
		return nil, fmt.Errorf("update CRL: %w", err)
	}
	cur.Crls = crls
	u := cfg.NewUpdate(channelconfig.MemberElement(mspID))
	u.SetMembers = map[string]*pb.MemberConfig{mspID: cur}
	return u, nil
}

// CRLsFromPEM decodes "X509 CRL" PEM blocks to DER (at most
// identity.MaxCRLs).
func CRLsFromPEM(data []byte) ([][]byte, error) {
	var out [][]byte
	for rest := data; ; {
		var der []byte
		var err error
		der, rest, err = nextPEM(rest, "X509 CRL")
		if err != nil {
			return nil, err
		}
		if der == nil {
			break
		}
		if _, err := x509.ParseRevocationList(der); err != nil {
			return nil, fmt.Errorf("CRL %d does not parse: %v", len(out), err)
		}
		if out = append(out, der); len(out) > identity.MaxCRLs {
			return nil, fmt.Errorf("more than %d CRLs", identity.MaxCRLs)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no X509 CRL PEM block")
	}
	return out, nil
}

// BatchChange lists new batch parameters; zero fields keep the current
// value.
type BatchChange struct {
	MaxMessageCount   uint32
	AbsoluteMaxBytes  uint32
	PreferredMaxBytes uint32
	Timeout           time.Duration // whole milliseconds
}

// SetBatch returns an update of the orderer section changing the batch
// size and timeout (governed by the channel Admins policy). The result is
// checked as the ordering service will check it.
func SetBatch(cfg *channelconfig.Config, c BatchChange) (*pb.ConfigUpdate, error) {
	if c == (BatchChange{}) {
		return nil, errors.New("set batch: nothing to change")
	}
	if c.Timeout < 0 || c.Timeout%time.Millisecond != 0 || c.Timeout > time.Hour {
		return nil, fmt.Errorf("set batch: timeout %v must be whole milliseconds up to 1h", c.Timeout)
	}
	o := cfg.Proto().Orderer
	bs := o.BatchSize
	if bs == nil {
		bs = &pb.BatchSize{}
	}
	if c.MaxMessageCount != 0 {
		bs.MaxMessageCount = c.MaxMessageCount
	}
	if c.AbsoluteMaxBytes != 0 {
		bs.AbsoluteMaxBytes = c.AbsoluteMaxBytes
	}
	if c.PreferredMaxBytes != 0 {
		bs.PreferredMaxBytes = c.PreferredMaxBytes
	}
	o.BatchSize = bs
	if c.Timeout != 0 {
		o.BatchTimeoutMs = uint32(c.Timeout / time.Millisecond)
	}
	return ordererUpdate(cfg, o, "set batch")
}

// ConsenterFromPEM builds the consenter entry of an orderer from its
// certificate (PEM; the first CERTIFICATE block): its Raft ID is the
// certificate's CN (enrollment ID), as the ordering service requires.
func ConsenterFromPEM(mspID, address string, certPEM []byte) (*pb.Consenter, error) {
	der, _, err := nextPEM(certPEM, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	if der == nil {
		return nil, errors.New("no CERTIFICATE PEM block")
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("orderer certificate does not parse: %v", err)
	}
	return &pb.Consenter{Id: cert.Subject.CommonName, MspId: mspID, Address: address, CertDer: der}, nil
}

// AddConsenter returns an update of the orderer section adding cs to the
// Raft consenters (governed by the channel Admins policy). cs's member
// must already be a channel member; the result is checked as the ordering
// service will check it (certificate of an orderer of that member, CN =
// ID, unique ID and address).
func AddConsenter(cfg *channelconfig.Config, cs *pb.Consenter) (*pb.ConfigUpdate, error) {
	if cs == nil || cs.Id == "" {
		return nil, errors.New("add consenter: no consenter")
	}
	if _, ok := cfg.Consenter(cs.Id); ok {
		return nil, fmt.Errorf("add consenter: %s is already a consenter of %s", cs.Id, cfg.ChannelID())
	}
	return setConsenters(cfg, append(cfg.Consenters(), cs), "add consenter")
}

// RemoveConsenter returns an update of the orderer section removing
// consenter id (governed by the channel Admins policy); the last consenter
// cannot be removed.
func RemoveConsenter(cfg *channelconfig.Config, id string) (*pb.ConfigUpdate, error) {
	if _, ok := cfg.Consenter(id); !ok {
		return nil, fmt.Errorf("remove consenter: %s is not a consenter of %s", id, cfg.ChannelID())
	}
	var rest []*pb.Consenter
	for _, cs := range cfg.Consenters() {
		if cs.Id != id {
			rest = append(rest, cs)
		}
	}
	return setConsenters(cfg, rest, "remove consenter")
}

// UpdateConsenterCertificate returns an update of the orderer section
// replacing consenter id's certificate with the first CERTIFICATE block of
// certPEM (a certificate renewed with blossom ca reenroll), keeping its
// ID, member and address (governed by the channel Admins policy). The
// certificate's CN must be id; it must differ from the current one and be
// an orderer certificate of the consenter's member. The orderer switches
// to it when it applies the config block, if it was given the new
// certificate and key before (SIGHUP, Node.StageCertificate); otherwise the
// other orderers refuse its Raft streams until it is.
func UpdateConsenterCertificate(cfg *channelconfig.Config, id string, certPEM []byte) (*pb.ConfigUpdate, error) {
	cur, ok := cfg.Consenter(id)
	if !ok {
		return nil, fmt.Errorf("update consenter: %s is not a consenter of %s", id, cfg.ChannelID())
	}
	next, err := ConsenterFromPEM(cur.MspId, cur.Address, certPEM)
	if err != nil {
		return nil, fmt.Errorf("update consenter: %w", err)
	}
	if next.Id != id {
		return nil, fmt.Errorf("update consenter: the certificate's CN %q is not the consenter ID %q", next.Id, id)
	}
	if bytes.Equal(next.CertDer, cur.CertDer) {
		return nil, fmt.Errorf("update consenter: %s already has this certificate", id)
	}
	consenters := cfg.Consenters()
	for i, cs := range consenters {
		if cs.Id == id {
			consenters[i] = next
		}
	}
	return setConsenters(cfg, consenters, "update consenter")
}

func setConsenters(cfg *channelconfig.Config, consenters []*pb.Consenter, what string) (*pb.ConfigUpdate, error) {
	o := cfg.Proto().Orderer
	o.Consenters = consenters
	return ordererUpdate(cfg, o, what)
}

// ordererUpdate returns an update replacing cfg's orderer section with o,
// checked as the ordering service will check it.
func ordererUpdate(cfg *channelconfig.Config, o *pb.OrdererConfig, what string) (*pb.ConfigUpdate, error) {
	next := cfg.Proto()
	next.Orderer = o
	if _, err := channelconfig.New(next); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	u := cfg.NewUpdate(channelconfig.ElementOrderer)
	u.Orderer = o
	return u, nil
}

// Sign returns signer's approval of a marshalled update: a marshalled
// pb.ConfigSignature, the argument of governance:Approve.
func Sign(update []byte, signer identity.Signer) ([]byte, error) {
	cs, err := channelconfig.SignUpdate(update, signer)
	if err != nil {
		return nil, err
	}
	return protocol.Marshal(cs)
}

// ParseProposal decodes the result of governance:Get.
func ParseProposal(raw []byte) (*Proposal, error) {
	if len(raw) > MaxUpdateBytes*2+MaxApprovals*(MaxSignatureBytes*2) {
		return nil, fmt.Errorf("proposal record of %d bytes is too large", len(raw))
	}
	p := new(Proposal)
	if err := json.Unmarshal(raw, p); err != nil {
		return nil, fmt.Errorf("proposal record does not decode: %v", err)
	}
	if err := ValidateID(p.ID); err != nil {
		return nil, err
	}
	return p, nil
}

// NewEnvelope assembles the CONFIG_UPDATE envelope of proposal p for
// channelID: its update with every recorded signature that still verifies
// (each is re-checked; one that does not is an error, since the ledger's
// record was tampered with or corrupted), created and signed by creator at
// now. It does not evaluate policies: the ordering service does, against
// the configuration current when it receives the envelope.
func NewEnvelope(creator identity.Signer, channelID string, p *Proposal, now time.Time) ([]byte, string, error) {
	if len(p.Signatures) == 0 {
		return nil, "", fmt.Errorf("proposal %s has no signatures", p.ID)
	}
	if len(p.Signatures) > channelconfig.MaxConfigSignatures {
		return nil, "", fmt.Errorf("proposal %s has %d signatures (at most %d in one update)", p.ID, len(p.Signatures), channelconfig.MaxConfigSignatures)
	}
	sigs := make([]*pb.ConfigSignature, 0, len(p.Signatures))
	for i, a := range p.Signatures {
		cs := new(pb.ConfigSignature)
		if err := protocol.Unmarshal(a.ConfigSignature, cs, MaxSignatureBytes); err != nil {
			return nil, "", fmt.Errorf("proposal %s: signature %d: %v", p.ID, i, err)
		}
		si, err := protocol.ParseSerializedIdentity(cs.Signer)
		if err != nil {
			return nil, "", fmt.Errorf("proposal %s: signature %d: %v", p.ID, i, err)
		}
		if err := VerifyApproval(p.Update, a.ConfigSignature, si.MspId, si.CertDer); err != nil {
			return nil, "", fmt.Errorf("proposal %s: signature %d: %v", p.ID, i, err)
		}
		sigs = append(sigs, cs)
	}
	return channelconfig.NewUpdateEnvelope(creator, channelID, p.Update, sigs, now)
}
