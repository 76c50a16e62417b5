package peer

import (
	"context"
	"crypto/tls"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"

	"github.com/blossom-ledger/blossom/internal/transport"
)

// peerConns keeps one mutual-TLS connection per other peer for private
// data pushes and pulls, so that dissemination does not pay a TLS
// handshake per transaction. The receiving peer still checks the caller's
// identity against the channel configuration on every call.
type peerConns struct {
	mu     sync.Mutex
	conns  map[string]*grpc.ClientConn
	closed bool
}

// get returns the connection to endpoint, dialling it if there is none
// or the cached one shut down.
func (p *peerConns) get(ctx context.Context, endpoint string, tlsCfg *tls.Config) (*grpc.ClientConn, error) {
	p.mu.Lock()
	if c, ok := p.conns[endpoint]; ok && c.GetState() != connectivity.Shutdown {
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()
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
	if prev, ok := p.conns[endpoint]; ok && prev.GetState() != connectivity.Shutdown {
		c.Close() // another caller dialled first
		return prev, nil
	}
	if p.conns == nil {
		p.conns = map[string]*grpc.ClientConn{}
	}
	p.conns[endpoint] = c
	return c, nil
}

// failed drops c after a call on it failed as unavailable, so that the
// next call dials afresh.
func (p *peerConns) failed(endpoint string, c *grpc.ClientConn, err error) {
	if status.Code(err) != codes.Unavailable {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns[endpoint] == c {
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
		c.Close()
	}
	p.conns = nil
}
