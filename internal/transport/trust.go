package transport

import (
	"crypto/tls"
	"sync/atomic"
	"time"

	"github.com/blossom-ledger/blossom/internal/identity"
)

// TrustSource holds the identity.Manager in force. It is safe for
// concurrent use; Update swaps the Manager atomically.
type TrustSource struct {
	mgr atomic.Pointer[identity.Manager]
}

// NewTrustSource returns a TrustSource starting with mgr, which must not be nil.
func NewTrustSource(mgr *identity.Manager) *TrustSource {
	t := &TrustSource{}
	t.Update(mgr)
	return t
}

// Manager returns the Manager in force.
func (t *TrustSource) Manager() *identity.Manager { return t.mgr.Load() }

// Update makes mgr the Manager in force: handshakes and calls that start
// after Update returns use its members, CAs and CRLs.
func (t *TrustSource) Update(mgr *identity.Manager) {
	if mgr == nil {
		panic("transport: TrustSource.Update with a nil identity.Manager")
	}
	t.mgr.Store(mgr)
}

// IdentifyTLSClient validates the client certificate of a server-side TLS
// connection (for example an HTTPS request's r.TLS) now, against the
// Manager in force: any role, TLS client use. It returns nil and no error
// if the client presented no certificate.
func (t *TrustSource) IdentifyTLSClient(cs *tls.ConnectionState) (*identity.Identity, error) {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return nil, nil
	}
	return t.Manager().Check(identity.Request{
		Cert:  cs.PeerCertificates[0].Raw,
		Roles: identity.AnyRole,
		Usage: identity.UsageTLSClient,
		At:    time.Now(),
	})
}
