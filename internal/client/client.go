// Package client is blossom's Go client for peers and orderers, used by
// tests, benchmarks, the CLI and the gateway: it connects over mutual TLS
// to chosen peers and orderers, evaluates proposals, and submits
// transactions along the whole path of DESIGN §3 — build and sign the
// proposal, collect endorsements in parallel, check that they succeeded
// and match byte for byte, assemble the envelope, broadcast it to an
// orderer (failing over to the next one), and wait until it commits on
// the chosen peers.
package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"

	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/transport"
)

// Endpoint names a node to connect to.
type Endpoint struct {
	// Name identifies the node in calls and errors (e.g. "Org1MSP/peer0");
	// "" means Address.
	Name    string
	Address string // host:port
}

func (e Endpoint) name() string {
	if e.Name != "" {
		return e.Name
	}
	return e.Address
}

// Config configures a client.
type Config struct {
	// ChannelID is the channel requests go to when they name none.
	ChannelID string
	// Signer signs proposals and envelopes: the creator of transactions.
	Signer identity.Signer
	// TLSCertificate is presented to nodes (mutual TLS); often the
	// signer's own certificate and key.
	TLSCertificate tls.Certificate
	// Credential, if set, is presented instead of TLSCertificate, the one
	// current at each handshake (a node whose certificate rotates while it
	// runs, such as the gateway).
	Credential *transport.Credential
	// Trust validates the nodes' certificates (peers must be peers,
	// orderers orderers, of a member).
	Trust *transport.TrustSource
	// Peers the client may call. The first is the client's own peer: it
	// evaluates by default and is where Submit waits for the commit unless
	// CommitPeers says otherwise.
	Peers []Endpoint
	// Orderers to broadcast to, tried in order (at least one for Submit).
	Orderers []Endpoint
	// CommitPeers names the peers on which Submit waits for the commit
	// (nil: the first peer).
	CommitPeers []string
}

// maxMessage bounds a gRPC message each way (a delivered block fits).
const maxMessage = 34 << 20

// Client calls peers and orderers. It is safe for concurrent use. Close
// it when done.
type Client struct {
	cfg        Config
	peerTLS    *tls.Config
	ordererTLS *tls.Config
	peers      map[string]Endpoint
	// nextOrderer spreads broadcasts over the orderers.
	nextOrderer atomic.Uint32

	mu    sync.Mutex
	conns map[string]*grpc.ClientConn // by endpoint name ("peer:" or "orderer:" prefix)
	// broadcasts holds, per orderer name, the stream Broadcast sends on.
	broadcasts map[string]*broadcastStream
	closed     bool
	// seen is, per channel, the lowest ledger height that holds every
	// block this client has seen its transactions commit in. Proposals
	// carry it as min_height (read-after-write, DESIGN §11), so endorsers
	// that lag behind wait instead of simulating on state older than what
	// the caller already observed.
	seen map[string]uint64
}

// observeHeight records that channel has reached at least height.
func (c *Client) observeHeight(channel string, height uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = make(map[string]uint64)
	}
	if height > c.seen[channel] {
		c.seen[channel] = height
	}
}

// seenHeight is the height recorded by observeHeight (0 if none).
func (c *Client) seenHeight(channel string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen[channel]
}

// ErrClosed is returned by calls on a closed client.
var ErrClosed = errors.New("client closed")

// Connect checks cfg and connects to the client's own peer (the first of
// cfg.Peers). Other nodes are dialled when first used, so that a node that
// is down does not prevent using the others; a connection, once made,
// reconnects by itself.
func Connect(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Signer == nil {
		return nil, errors.New("client: no signer")
	}
	if cfg.Trust == nil {
		return nil, errors.New("client: no trust source")
	}
	if len(cfg.Peers) == 0 {
		return nil, errors.New("client: no peer")
	}
	c := &Client{
		cfg:        cfg,
		peerTLS:    transport.ClientTLSConfig(cfg.TLSCertificate, cfg.Trust, pki.RolePeer),
		ordererTLS: transport.ClientTLSConfig(cfg.TLSCertificate, cfg.Trust, pki.RoleOrderer),
		peers:      make(map[string]Endpoint, len(cfg.Peers)),
		conns:      map[string]*grpc.ClientConn{},
	}
	if cfg.Credential != nil {
		c.peerTLS = transport.ClientTLSConfigFor(cfg.Credential, cfg.Trust, pki.RolePeer)
		c.ordererTLS = transport.ClientTLSConfigFor(cfg.Credential, cfg.Trust, pki.RoleOrderer)
	}
	for _, p := range cfg.Peers {
		if p.Address == "" {
			return nil, fmt.Errorf("client: peer %q has no address", p.name())
		}
		if _, dup := c.peers[p.name()]; dup {
			return nil, fmt.Errorf("client: peer %q listed twice", p.name())
		}
		c.peers[p.name()] = p
	}
	for _, name := range cfg.CommitPeers {
		if _, ok := c.peers[name]; !ok {
			return nil, fmt.Errorf("client: commit peer %q is not one of the peers", name)
		}
	}
	if _, err := c.peerConn(ctx, cfg.Peers[0].name()); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Close closes every connection.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var errs []error
	for _, conn := range c.conns {
		errs = append(errs, conn.Close())
	}
	c.conns = map[string]*grpc.ClientConn{}
	return errors.Join(errs...)
}

// LocalPeer is the name of the client's own peer.
func (c *Client) LocalPeer() string { return c.cfg.Peers[0].name() }

// Peers lists the peers' names in configuration order.
func (c *Client) Peers() []string {
	out := make([]string, len(c.cfg.Peers))
	for i, p := range c.cfg.Peers {
		out[i] = p.name()
	}
	return out
}

func (c *Client) dial(ctx context.Context, key, addr string, tlsCfg *tls.Config) (*grpc.ClientConn, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if conn := c.conns[key]; conn != nil {
		c.mu.Unlock()
		return conn, nil
	}
	c.mu.Unlock()
	conn, err := transport.Dial(ctx, addr, tlsCfg, transport.WithMaxMessageSize(maxMessage))
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		conn.Close()
		return nil, ErrClosed
	}
	if have := c.conns[key]; have != nil {
		conn.Close() // another call dialled first
		return have, nil
	}
	c.conns[key] = conn
	return conn, nil
}

// broadcastStream returns the stream of broadcasts to orderer name.
func (c *Client) broadcastStream(name string) *broadcastStream {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.broadcasts[name]
	if b == nil {
		if c.broadcasts == nil {
			c.broadcasts = make(map[string]*broadcastStream)
		}
		b = newBroadcastStream()
		c.broadcasts[name] = b
	}
	return b
}

// peerConn returns the connection to peer name.
func (c *Client) peerConn(ctx context.Context, name string) (*grpc.ClientConn, error) {
	p, ok := c.peers[name]
	if !ok {
		return nil, fmt.Errorf("client: unknown peer %q", name)
	}
	conn, err := c.dial(ctx, "peer:"+name, p.Address, c.peerTLS)
	if err != nil {
		return nil, fmt.Errorf("peer %s: %w", name, err)
	}
	return conn, nil
}

func (c *Client) ordererConn(ctx context.Context, o Endpoint) (*grpc.ClientConn, error) {
	conn, err := c.dial(ctx, "orderer:"+o.name(), o.Address, c.ordererTLS)
	if err != nil {
		return nil, fmt.Errorf("orderer %s: %w", o.name(), err)
	}
	return conn, nil
}

// ChannelInfo asks peer (by name; "" = the own peer) about channel
// ("" = the configured channel).
func (c *Client) ChannelInfo(ctx context.Context, peer, channel string) (*pb.ChannelInfoResponse, error) {
	if peer == "" {
		peer = c.LocalPeer()
	}
	conn, err := c.peerConn(ctx, peer)
	if err != nil {
		return nil, err
	}
	return pb.NewPeerClient(conn).ChannelInfo(ctx, &pb.ChannelInfoRequest{ChannelId: c.channel(channel)})
}

func (c *Client) channel(id string) string {
	if id == "" {
		return c.cfg.ChannelID
	}
	return id
}
