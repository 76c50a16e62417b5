package orderer

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// One listener serves both gRPC (Broadcast, Deliver) and Raft. Connections
// are told apart by their first bytes, cmux-style: a Raft connection starts
// with the 4-byte plaintext magic "BLRF" before its own TLS handshake, while
// a gRPC connection starts directly with a TLS record (first byte 0x16, a
// handshake record), which can never begin with 'B'. Dispatching before
// TLS lets gRPC keep its own TLS handshake and per-call identity checks
// (internal/transport) unchanged, and lets the Raft side require an
// orderer certificate and read its channel preamble inside its own
// handshake. ALPN would also work, but would mean terminating TLS outside
// gRPC and handing it pre-handshaken connections through custom
// credentials.
var raftMagic = []byte("BLRF")

// dispatchTimeout bounds how long a new connection may take to send its
// first bytes (and, for Raft, its handshake and preamble).
const dispatchTimeout = 10 * time.Second

// mux accepts connections on one listener and hands each to gRPC (through
// grpcListener) or to the Raft stream handler.
type mux struct {
	ln     net.Listener
	grpc   *chanListener
	raft   func(net.Conn) // takes ownership of a Raft connection (magic read)
	log    *slog.Logger
	wg     sync.WaitGroup
	closed chan struct{}
	once   sync.Once
}

func newMux(ln net.Listener, raft func(net.Conn), log *slog.Logger) *mux {
	return &mux{
		ln:     ln,
		grpc:   newChanListener(ln.Addr()),
		raft:   raft,
		log:    log,
		closed: make(chan struct{}),
	}
}

// start accepts connections in the background until close.
func (m *mux) start() {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.serve()
	}()
}

func (m *mux) serve() {
	for {
		conn, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.closed:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			m.log.Error("listener failed", "error", err)
			return
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.dispatch(conn)
		}()
	}
}

func (m *mux) dispatch(conn net.Conn) {
	var first [4]byte
	_ = conn.SetReadDeadline(time.Now().Add(dispatchTimeout))
	if _, err := io.ReadFull(conn, first[:]); err != nil {
		conn.Close()
		return
	}
	if bytes.Equal(first[:], raftMagic) {
		m.raft(conn)
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	if !m.grpc.deliver(&prefixConn{Conn: conn, prefix: first[:]}) {
		conn.Close()
	}
}

// close stops accepting and closes the gRPC side's listener.
func (m *mux) close() {
	m.once.Do(func() {
		close(m.closed)
		m.ln.Close()
		m.grpc.Close()
	})
	m.wg.Wait()
}

// prefixConn replays bytes already read from a connection.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(b []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(b, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// chanListener is a net.Listener fed by the mux.
type chanListener struct {
	addr   net.Addr
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, conns: make(chan net.Conn), closed: make(chan struct{})}
}

// deliver hands conn to Accept; false if the listener is closed.
func (l *chanListener) deliver(conn net.Conn) bool {
	select {
	case l.conns <- conn:
		return true
	case <-l.closed:
		return false
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }
