package orderer

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
)

// An orderer's certificate is part of the channel configuration (its
// consenter entry): the other orderers accept its Raft streams and its
// blocks only with that certificate. So a renewed certificate cannot be
// used the moment it is loaded, and the old one cannot be kept once the
// configuration names the new one. The node therefore stages the new
// certificate (StageCertificate) and switches to it when it applies a
// config block whose consenter entry for it names the staged certificate
// (switchToStaged, on the FSM goroutine, before the next block is cut):
// from then on it presents the new certificate on new TLS handshakes and
// signs blocks with the new key. Connections already open keep working.

// StageCertificate hands the node its next certificate and key (a
// certificate renewed with blossom ca reenroll). It is refused, changing
// nothing, if the key does not match the certificate, the certificate is
// not valid now, names another member, role or enrollment ID (the Raft
// server ID), or does not validate against the channels' members.
//
// If a channel configuration of this orderer already names the certificate
// as its consenter certificate, the node switches to it at once (switched
// is true); if it is the certificate in use, nothing changes. Otherwise it
// is kept until a config block naming it is applied (a consenter update,
// blossom governance propose update-consenter), replacing any certificate
// staged before. An orderer serving several channels switches on the first
// channel whose configuration names the new certificate: until every
// channel names it, the channels that do not yet refuse its Raft streams.
func (n *Node) StageCertificate(next tls.Certificate) (switched bool, err error) {
	if err := n.cred.Check(next, n.trust); err != nil {
		return false, err
	}
	leaf, err := x509.ParseCertificate(next.Certificate[0])
	if err != nil {
		return false, fmt.Errorf("new certificate refused: %w", err)
	}
	if leaf.Subject.CommonName != n.id {
		return false, fmt.Errorf("new certificate refused: its enrollment ID %q is not this orderer's %q (the Raft server ID cannot change)", leaf.Subject.CommonName, n.id)
	}
	n.stageMu.Lock()
	defer n.stageMu.Unlock()
	if bytes.Equal(leaf.Raw, n.cred.Certificate().Raw) {
		n.staged = nil
		return false, nil
	}
	next.Leaf = leaf
	n.staged = &next
	for _, id := range n.Channels() {
		if c := n.chain(id); c != nil && n.switchLocked(c.fsm.Config()) {
			return true, nil
		}
	}
	return false, nil
}

// switchToStaged switches to the staged certificate if cfg, a configuration
// just applied, names it as this orderer's consenter certificate.
func (n *Node) switchToStaged(cfg *channelconfig.Config) {
	n.stageMu.Lock()
	defer n.stageMu.Unlock()
	if n.staged != nil && n.switchLocked(cfg) {
		return
	}
	if cs, ok := cfg.Consenter(n.id); ok && !bytes.Equal(cs.CertDer, n.cred.Certificate().Raw) {
		n.log.Error("the channel configuration names a certificate for this orderer other than the one it uses and the one staged: the other orderers refuse its Raft streams until it is given that certificate (install it, then SIGHUP)", "channel", cfg.ChannelID())
	}
}

// switchLocked swaps the staged certificate in if cfg names it; n.stageMu
// is held.
func (n *Node) switchLocked(cfg *channelconfig.Config) bool {
	cs, ok := cfg.Consenter(n.id)
	if !ok || n.staged == nil || !bytes.Equal(cs.CertDer, n.staged.Leaf.Raw) {
		return false
	}
	next := n.staged
	if err := n.cred.Swap(*next, n.trust); err != nil {
		n.log.Error("cannot switch to the staged certificate that channel "+cfg.ChannelID()+" names; keeping the current one", "error", err)
		return false
	}
	n.staged = nil
	n.log.Info("switched to the staged certificate the channel configuration names", "channel", cfg.ChannelID(),
		"serial", next.Leaf.SerialNumber.Text(16), "notAfter", next.Leaf.NotAfter.UTC().Format(time.RFC3339))
	return true
}

// Certificate returns the certificate the node presents and signs with.
func (n *Node) Certificate() *x509.Certificate { return n.cred.Certificate() }

// StagedCertificate returns the staged certificate, nil if none.
func (n *Node) StagedCertificate() *x509.Certificate {
	n.stageMu.Lock()
	defer n.stageMu.Unlock()
	if n.staged == nil {
		return nil
	}
	return n.staged.Leaf
}
