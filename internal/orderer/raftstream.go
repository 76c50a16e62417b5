package orderer

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/transport"
)

// A Raft stream is: the plaintext magic (see mux), a TLS 1.3 handshake in
// which both sides present orderer certificates, then, inside TLS, the
// dialler's preamble
//
//	version (1) ‖ len(channel ID) ‖ channel ID ‖ len(server ID) ‖ server ID
//
// (lengths one byte each) and the listener's one-byte verdict: 0 accepted,
// or 1 ‖ len(reason) ‖ reason, after which it closes the connection. Then
// hashicorp/raft's own RPC framing follows.
//
// The listener accepts a stream only if the channel is served here, the
// server ID equals the enrollment ID (CN) of the certificate the dialler
// presented, and that ID is a current consenter of the channel whose
// configured certificate is exactly the one presented. The dialler, in
// turn, accepts the listener only if its certificate is the configured
// certificate of the consenter it dialled. Raft addresses are consenter
// IDs; Dial resolves them through the configuration in force, so an
// address change in the config needs no Raft membership change.
const preambleVersion = 1

type preamble struct {
	ChannelID string
	ServerID  string
}

func encodePreamble(p preamble) []byte {
	out := []byte{preambleVersion, byte(len(p.ChannelID))}
	out = append(out, p.ChannelID...)
	out = append(out, byte(len(p.ServerID)))
	return append(out, p.ServerID...)
}

// readPreamble reads and checks a preamble from a stream.
func readPreamble(r io.Reader) (preamble, error) {
	var p preamble
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return p, fmt.Errorf("read preamble: %w", err)
	}
	if hdr[0] != preambleVersion {
		return p, fmt.Errorf("preamble version %d not supported", hdr[0])
	}
	ch := make([]byte, hdr[1])
	if _, err := io.ReadFull(r, ch); err != nil {
		return p, fmt.Errorf("read preamble: %w", err)
	}
	var n [1]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return p, fmt.Errorf("read preamble: %w", err)
	}
	id := make([]byte, n[0])
	if _, err := io.ReadFull(r, id); err != nil {
		return p, fmt.Errorf("read preamble: %w", err)
	}
	p.ChannelID, p.ServerID = string(ch), string(id)
	if err := channelconfig.ValidateChannelID(p.ChannelID); err != nil {
		return preamble{}, fmt.Errorf("preamble: %w", err)
	}
	if err := pki.ValidateEnrollmentID(p.ServerID); err != nil {
		return preamble{}, fmt.Errorf("preamble: server ID: %w", err)
	}
	return p, nil
}

// writeVerdict answers a preamble: "" accepts.
func writeVerdict(w io.Writer, reason string) error {
	if reason == "" {
		_, err := w.Write([]byte{0})
		return err
	}
	if len(reason) > 255 {
		reason = reason[:255]
	}
	_, err := w.Write(append([]byte{1, byte(len(reason))}, reason...))
	return err
}

// errStreamRefused wraps a listener's refusal of a Raft stream.
var errStreamRefused = errors.New("raft stream refused")

// readVerdict reads the listener's answer to a preamble.
func readVerdict(r io.Reader) error {
	var b [2]byte
	if _, err := io.ReadFull(r, b[:1]); err != nil {
		return fmt.Errorf("read verdict: %w", err)
	}
	switch b[0] {
	case 0:
		return nil
	case 1:
		if _, err := io.ReadFull(r, b[1:2]); err != nil {
			return fmt.Errorf("read verdict: %w", err)
		}
		reason := make([]byte, b[1])
		if _, err := io.ReadFull(r, reason); err != nil {
			return fmt.Errorf("read verdict: %w", err)
		}
		return fmt.Errorf("%w: %s", errStreamRefused, printable(reason))
	}
	return fmt.Errorf("unknown verdict %d", b[0])
}

// streamLayer is one channel's raft.StreamLayer over the node's shared
// listener.
type streamLayer struct {
	channelID string
	selfID    string
	config    func() *channelconfig.Config // the configuration in force
	clientTLS *tls.Config                  // transport.ClientTLSConfig for orderers
	conns     chan net.Conn
	closed    chan struct{}
	once      sync.Once
}

func newStreamLayer(channelID, selfID string, config func() *channelconfig.Config, clientTLS *tls.Config) *streamLayer {
	return &streamLayer{
		channelID: channelID, selfID: selfID, config: config, clientTLS: clientTLS,
		conns: make(chan net.Conn), closed: make(chan struct{}),
	}
}

// authorize decides whether a dialler presenting cert DER leaf as serverID
// may open a Raft stream on this channel. The error says why not.
func (l *streamLayer) authorize(serverID string, leafCN string, leaf []byte) error {
	if leafCN != serverID {
		return fmt.Errorf("server ID %q is not the enrollment ID %q of the certificate presented", serverID, leafCN)
	}
	cs, ok := l.config().Consenter(serverID)
	if !ok {
		return fmt.Errorf("%s is not a consenter of channel %s", serverID, l.channelID)
	}
	if !bytes.Equal(cs.CertDer, leaf) {
		return fmt.Errorf("%s presented a certificate other than the one channel %s configures for it", serverID, l.channelID)
	}
	return nil
}

// enqueue hands an accepted stream to Accept; false if the layer is closed.
func (l *streamLayer) enqueue(conn net.Conn) bool {
	select {
	case l.conns <- conn:
		return true
	case <-l.closed:
		return false
	}
}

// Accept implements net.Listener.
func (l *streamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener; the shared listener stays open.
func (l *streamLayer) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// Addr implements net.Listener: a Raft address is a consenter ID.
func (l *streamLayer) Addr() net.Addr { return consenterAddr(l.selfID) }

type consenterAddr string

func (a consenterAddr) Network() string { return "blossom-raft" }
func (a consenterAddr) String() string  { return string(a) }

// Dial implements raft.StreamLayer: address is the consenter ID to reach.
func (l *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	id := string(address)
	cs, ok := l.config().Consenter(id)
	if !ok {
		return nil, fmt.Errorf("raft dial %s: not a consenter of channel %s", id, l.channelID)
	}
	if timeout <= 0 || timeout > dispatchTimeout {
		timeout = dispatchTimeout
	}
	deadline := time.Now().Add(timeout)
	raw, err := net.DialTimeout("tcp", cs.Address, timeout)
	if err != nil {
		return nil, fmt.Errorf("raft dial %s at %s: %w", id, cs.Address, err)
	}
	conn, err := l.handshake(raw, cs.Address, id, cs.CertDer, deadline)
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("raft dial %s at %s: %w", id, cs.Address, err)
	}
	return conn, nil
}

func (l *streamLayer) handshake(raw net.Conn, addr, id string, wantCert []byte, deadline time.Time) (net.Conn, error) {
	_ = raw.SetDeadline(deadline)
	if _, err := raw.Write(raftMagic); err != nil {
		return nil, err
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	conn := tls.Client(raw, transport.WithServerName(l.clientTLS, host))
	if err := conn.Handshake(); err != nil {
		return nil, err
	}
	peer := conn.ConnectionState().PeerCertificates
	if len(peer) == 0 || !bytes.Equal(peer[0].Raw, wantCert) {
		return nil, fmt.Errorf("the server's certificate is not the one channel %s configures for %s", l.channelID, id)
	}
	if _, err := conn.Write(encodePreamble(preamble{ChannelID: l.channelID, ServerID: l.selfID})); err != nil {
		return nil, err
	}
	if err := readVerdict(conn); err != nil {
		return nil, err
	}
	_ = raw.SetDeadline(time.Time{})
	return conn, nil
}

// printable replaces bytes outside printable ASCII, so a remote reason
// cannot forge log lines.
func printable(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		out[i] = c
	}
	return string(out)
}
