package peer

import (
	"context"
	"crypto/tls"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"

	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/transport"
)

// peerConns keeps one mutual-TLS connection per other peer for private
// data pushes and pulls, so that dissemination does not pay a TLS
// handshake per transaction. A connection is used only under the trust
// (members, CAs, CRLs) it was dialled with: once a configuration change
// replaces the node's identity.Manager, the next call dials afresh and
// the old connection closes when calls in flight had time to end. The
// receiving peer checks the caller on every call anyway.
type peerConns struct {
	mu     sync.Mutex
	conns  map[string]peerConn
	closed bool
}

type peerConn struct {
	conn  *grpc.ClientConn
	trust *identity.Manager
}

// get returns a connection to endpoint dialled under trust, dialling one
// if there is none, the cached one shut down, or it predates trust.
func (p *peerConns) get(ctx context.Context, endpoint string, tlsCfg *tls.Config, trust *identity.Manager) (*grpc.ClientConn, error) {
	if c, ok := p.cached(endpoint, trust); ok {
		return c, nil
	}
	c, err := transport.Dial(ctx, endpoint, tlsCfg, transport.WithMaxMessageSize(maxBlockMessage))
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return nil, context.Canceled
	}
	if prev, ok := p.conns[endpoint]; ok {
		if prev.trust == trust && prev.conn.GetState() != connectivity.Shutdown {
			c.Close() // another caller dialled first
			return prev.conn, nil
		}
		// Calls in flight on the stale connection get pushTimeout to end.
		time.AfterFunc(pushTimeout, func() { prev.conn.Close() })
	}
	if p.conns == nil {
		p.conns = map[string]peerConn{}
	}
	p.conns[endpoint] = peerConn{conn: c, trust: trust}
	return c, nil
}

func (p *peerConns) cached(endpoint string, trust *identity.Manager) (*grpc.ClientConn, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.conns[endpoint]
	if !ok || c.trust != trust || c.conn.GetState() == connectivity.Shutdown {
		return nil, false
	}
	return c.conn, true
}

// failed drops c after a call on it failed as unavailable, so that the
// next call dials afresh.
func (p *peerConns) failed(endpoint string, c *grpc.ClientConn, err error) {
	if status.Code(err) != codes.Unavailable {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if cur, ok := p.conns[endpoint]; ok && cur.conn == c {
		delete(p.conns, endpoint)
		c.Close()
	}
}

// close closes every connection; later gets fail.
func (p *peerConns) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, c := range p.conns {
		c.conn.Close()
	}
	p.conns = nil
}
