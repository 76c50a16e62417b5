package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/blossom-ledger/blossom/internal/identity"
)

// gRPC defaults.
const (
	// DefaultMaxMessageSize bounds one gRPC message each way (a block of
	// transactions, or a batch of them, fits).
	DefaultMaxMessageSize = 16 << 20
	// DefaultKeepaliveInterval is how often an idle client pings.
	DefaultKeepaliveInterval = time.Minute
	// DefaultKeepaliveTimeout is how long a ping may go unanswered before the
	// connection is closed.
	DefaultKeepaliveTimeout = 20 * time.Second
	// handshakeTimeout bounds a server-side connection's TLS handshake.
	handshakeTimeout = 10 * time.Second
	// serverPingInterval is how often the server pings an idle client.
	serverPingInterval = 2 * time.Minute
	// minClientPing is the shortest client ping interval the server allows.
	minClientPing = 30 * time.Second
)

// Option adjusts NewGRPCServer and Dial.
type Option func(*options)

type options struct {
	maxMessageSize    int
	keepaliveInterval time.Duration
	keepaliveTimeout  time.Duration
	logger            *slog.Logger
	serverOptions     []grpc.ServerOption
	dialOptions       []grpc.DialOption
}

func buildOptions(opts []Option) options {
	o := options{
		maxMessageSize:    DefaultMaxMessageSize,
		keepaliveInterval: DefaultKeepaliveInterval,
		keepaliveTimeout:  DefaultKeepaliveTimeout,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	return o
}

// WithMaxMessageSize sets the largest message sent or received (bytes).
func WithMaxMessageSize(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxMessageSize = n
		}
	}
}

// WithKeepalive sets how often a client pings an idle connection (at least
// 30 s, which servers enforce) and how long it waits for the answer.
func WithKeepalive(interval, timeout time.Duration) Option {
	return func(o *options) {
		if interval >= minClientPing {
			o.keepaliveInterval = interval
		}
		if timeout > 0 {
			o.keepaliveTimeout = timeout
		}
	}
}

// WithLogger sets the logger for refused calls (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithServerOptions adds raw gRPC server options (services' own
// interceptors, stats handlers, ...).
func WithServerOptions(opts ...grpc.ServerOption) Option {
	return func(o *options) { o.serverOptions = append(o.serverOptions, opts...) }
}

// WithDialOptions adds raw gRPC dial options.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOptions = append(o.dialOptions, opts...) }
}

// NewGRPCServer returns a gRPC server that serves over tlsConfig (from
// ServerTLSConfig or RequestClientCertTLSConfig) and whose interceptors
// validate the caller's certificate on every call against trust, now, and
// put the caller's identity in the call's context (IdentityFromContext).
// A call from a caller whose certificate stopped being valid since the
// handshake (revoked by a trust update, expired) fails with Unauthenticated.
// A caller without a certificate (optional client certificates) gets no
// identity; the service decides.
func NewGRPCServer(tlsConfig *tls.Config, trust *TrustSource, opts ...Option) *grpc.Server {
	if tlsConfig == nil || trust == nil {
		panic("transport: NewGRPCServer needs a TLS config and a TrustSource")
	}
	o := buildOptions(opts)
	a := &authenticator{trust: trust, logger: o.logger}
	serverOpts := []grpc.ServerOption{
		grpc.Creds(credentials.NewTLS(tlsConfig)),
		grpc.ChainUnaryInterceptor(a.unary),
		grpc.ChainStreamInterceptor(a.stream),
		grpc.MaxRecvMsgSize(o.maxMessageSize),
		grpc.MaxSendMsgSize(o.maxMessageSize),
		grpc.ConnectionTimeout(handshakeTimeout),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: serverPingInterval, Timeout: o.keepaliveTimeout}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: minClientPing, PermitWithoutStream: true}),
		// Calls run on a pool of long-lived goroutines whose stacks have
		// already grown to what a handler needs (ECDSA, protobuf), instead
		// of a new goroutine per call that grows its stack from 8 KiB by
		// copying; when every worker is busy gRPC starts a goroutine as
		// before, so a long stream (Deliver) never blocks others.
		grpc.NumStreamWorkers(streamWorkers()),
	}
	return grpc.NewServer(append(serverOpts, o.serverOptions...)...)
}

type identityKey struct{}

// IdentityFromContext returns the validated identity of the caller of a
// gRPC call served by NewGRPCServer, or false if the caller presented no
// certificate.
func IdentityFromContext(ctx context.Context) (*identity.Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(*identity.Identity)
	return id, ok && id != nil
}

// ContextWithIdentity returns ctx carrying id, as the interceptors do; for
// tests of services and for in-process calls.
func ContextWithIdentity(ctx context.Context, id *identity.Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

type authenticator struct {
	trust  *TrustSource
	logger *slog.Logger
}

func (a *authenticator) authenticate(ctx context.Context, method string) (context.Context, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "no peer information")
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "connection is not TLS")
	}
	id, err := a.trust.IdentifyTLSClient(&info.State)
	if err != nil {
		a.logger.Warn("grpc: refused call: "+err.Error(), "remote", p.Addr.String(), "method", method)
		return nil, status.Error(codes.Unauthenticated, "caller certificate refused: "+err.Error())
	}
	if id == nil {
		return ctx, nil
	}
	return ContextWithIdentity(ctx, id), nil
}

func (a *authenticator) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, err := a.authenticate(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func (a *authenticator) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, err := a.authenticate(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	return handler(srv, &identityStream{ServerStream: ss, ctx: ctx})
}

type identityStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *identityStream) Context() context.Context { return s.ctx }

// Dial connects to a blossom node at addr (host:port) over tlsConfig (from
// ClientTLSConfig) and waits until the connection is ready, ctx ends, or the
// first attempt fails; a failure carries its reason (refused connection,
// refused server certificate, or the server's refusal of ours). The server's
// certificate is checked against the host of addr, IP addresses included.
// Close the returned connection when done.
func Dial(ctx context.Context, addr string, tlsConfig *tls.Config, opts ...Option) (*grpc.ClientConn, error) {
	if tlsConfig == nil {
		return nil, errors.New("transport: Dial needs a TLS config")
	}
	o := buildOptions(opts)
	rec := &errorRecorder{}
	dialer := &net.Dialer{}
	dialOpts := []grpc.DialOption{
		grpc.WithTransportCredentials(&clientCredentials{config: tlsConfig, rec: rec}),
		grpc.WithContextDialer(func(ctx context.Context, target string) (net.Conn, error) {
			conn, err := dialer.DialContext(ctx, "tcp", target)
			if err != nil {
				rec.record(err)
			}
			return conn, err
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(o.maxMessageSize), grpc.MaxCallSendMsgSize(o.maxMessageSize)),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: o.keepaliveInterval, Timeout: o.keepaliveTimeout, PermitWithoutStream: true}),
	}
	conn, err := grpc.NewClient("passthrough:///"+addr, append(dialOpts, o.dialOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	conn.Connect()
	for {
		state := conn.GetState()
		switch state {
		case connectivity.Ready:
			return conn, nil
		case connectivity.TransientFailure, connectivity.Shutdown:
			conn.Close()
			if err := rec.get(); err != nil {
				return nil, fmt.Errorf("dial %s: %w", addr, err)
			}
			return nil, fmt.Errorf("dial %s: connection failed", addr)
		}
		if !conn.WaitForStateChange(ctx, state) {
			conn.Close()
			if err := rec.get(); err != nil {
				return nil, fmt.Errorf("dial %s: %w (last error: %v)", addr, ctx.Err(), err)
			}
			return nil, fmt.Errorf("dial %s: %w", addr, ctx.Err())
		}
	}
}

// errorRecorder keeps the most telling error of a connection attempt: the
// first one, unless a TLS alert from the server (its refusal of our
// certificate) comes after a mere broken connection.
type errorRecorder struct{ err atomic.Pointer[error] }

func (r *errorRecorder) record(err error) {
	if err == nil {
		return
	}
	if r.err.CompareAndSwap(nil, &err) || !isTLSAlert(err) {
		return
	}
	for {
		old := r.err.Load()
		if isTLSAlert(*old) || r.err.CompareAndSwap(old, &err) {
			return
		}
	}
}

func isTLSAlert(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}

func (r *errorRecorder) get() error {
	if p := r.err.Load(); p != nil {
		return *p
	}
	return nil
}

// clientCredentials wraps gRPC's TLS credentials to check the server's
// certificate against the dialled host (IP addresses included, see
// WithServerName) and to record why a connection failed: a handshake error,
// or (TLS 1.3) the server's alert refusing our certificate, which arrives
// on the first read after the handshake.
type clientCredentials struct {
	config *tls.Config
	rec    *errorRecorder
}

func (c *clientCredentials) ClientHandshake(ctx context.Context, authority string, rawConn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	host, _, err := net.SplitHostPort(authority)
	if err != nil {
		host = authority
	}
	conn, info, err := credentials.NewTLS(WithServerName(c.config, host)).ClientHandshake(ctx, authority, rawConn)
	if err != nil {
		c.rec.record(err)
		return nil, nil, err
	}
	return &recordingConn{Conn: conn, rec: c.rec}, info, nil
}

func (c *clientCredentials) ServerHandshake(net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errors.New("transport: client credentials used on a server")
}

func (c *clientCredentials) Info() credentials.ProtocolInfo {
	return credentials.NewTLS(c.config).Info()
}

func (c *clientCredentials) Clone() credentials.TransportCredentials {
	return &clientCredentials{config: c.config.Clone(), rec: c.rec}
}

// OverrideServerName is deprecated in gRPC and unused.
func (c *clientCredentials) OverrideServerName(string) error { return nil }

type recordingConn struct {
	net.Conn
	rec *errorRecorder
}

func (c *recordingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil {
		c.rec.record(afterHandshake(err))
	}
	return n, err
}

func (c *recordingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if err != nil {
		c.rec.record(afterHandshake(err))
	}
	return n, err
}

// afterHandshake explains a broken connection right after a TLS 1.3
// handshake, where the server's refusal of our certificate may close the
// connection before its alert is read.
func afterHandshake(err error) error {
	if isTLSAlert(err) {
		return err
	}
	return fmt.Errorf("connection closed after the TLS handshake (the server may have refused our certificate: see its log): %w", err)
}

// streamWorkers is the size of a server's pool of call goroutines: enough
// for every CPU to run a call while as many more wait on I/O or a lock.
func streamWorkers() uint32 { return uint32(2 * runtime.GOMAXPROCS(0)) }
