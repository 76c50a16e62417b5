package transport

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/pki"
)

// ServerTLSConfig returns the TLS configuration of a listener that requires
// a client certificate (peer, orderer, Raft and admin listeners): TLS 1.3
// only; the client must present a certificate that the Manager in force
// identifies (chain to the member its subject names, valid now, not
// revoked, client authentication allowed) with a role in allowedRoles.
// Refusals are logged on logger (nil: slog.Default()) as
// "tls: refused client: <reason>" with the remote address.
//
// ClientAuth is tls.RequestClientCert and presence is enforced in
// VerifyConnection, so that a missing certificate is refused (and logged)
// like any other. Session tickets are off: every connection presents its
// certificate and is checked against the current trust. NextProtos offers
// h2 and http/1.1.
func ServerTLSConfig(cert tls.Certificate, trust *TrustSource, logger *slog.Logger, allowedRoles ...pki.Role) *tls.Config {
	return serverTLSConfig(staticCertificate(cert), trust, logger, true, allowedRoles)
}

// ServerTLSConfigFor is ServerTLSConfig presenting cred's current
// certificate at each handshake, so that a Credential.Swap applies to the
// next connection without restarting the listener.
func ServerTLSConfigFor(cred *Credential, trust *TrustSource, logger *slog.Logger, allowedRoles ...pki.Role) *tls.Config {
	return serverTLSConfig(cred.getCertificate, trust, logger, true, allowedRoles)
}

// RequestClientCertTLSConfig is ServerTLSConfig for listeners where a client
// certificate is optional (the gateway's HTTPS listener, the CA server): a
// connection without one is accepted, one with a certificate is verified as
// in ServerTLSConfig and refused if invalid.
func RequestClientCertTLSConfig(cert tls.Certificate, trust *TrustSource, logger *slog.Logger, allowedRoles ...pki.Role) *tls.Config {
	return serverTLSConfig(staticCertificate(cert), trust, logger, false, allowedRoles)
}

// RequestClientCertTLSConfigFor is RequestClientCertTLSConfig presenting
// cred's current certificate at each handshake.
func RequestClientCertTLSConfigFor(cred *Credential, trust *TrustSource, logger *slog.Logger, allowedRoles ...pki.Role) *tls.Config {
	return serverTLSConfig(cred.getCertificate, trust, logger, false, allowedRoles)
}

// staticCertificate is a tls.Config.GetCertificate that always presents
// cert.
func staticCertificate(cert tls.Certificate) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }
}

func serverTLSConfig(getCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error), trust *TrustSource, logger *slog.Logger, required bool, allowedRoles []pki.Role) *tls.Config {
	if trust == nil {
		panic("transport: server TLS config without a TrustSource")
	}
	if logger == nil {
		logger = slog.Default()
	}
	v := &clientVerifier{trust: trust, roles: identity.Roles(allowedRoles...), required: required, logger: logger}
	base := &tls.Config{
		MinVersion:             tls.VersionTLS13,
		GetCertificate:         getCertificate,
		ClientAuth:             tls.RequestClientCert,
		SessionTicketsDisabled: true,
		NextProtos:             []string{"h2", "http/1.1"},
		// Used only if GetConfigForClient is bypassed; it cannot name the
		// remote address.
		VerifyConnection: func(cs tls.ConnectionState) error { return v.verify(cs, "unknown") },
	}
	// A per-connection copy whose verifier knows the remote address, for
	// the log. It copies base at handshake time, so changes a caller makes
	// to the returned config before serving apply.
	base.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		cfg := base.Clone()
		cfg.GetConfigForClient = nil
		remote := "unknown"
		if hello.Conn != nil {
			remote = hello.Conn.RemoteAddr().String()
		}
		cfg.VerifyConnection = func(cs tls.ConnectionState) error { return v.verify(cs, remote) }
		return cfg, nil
	}
	return base
}

type clientVerifier struct {
	trust    *TrustSource
	roles    identity.RoleSet
	required bool
	logger   *slog.Logger
}

// errNoClientCertificate is the refusal of a connection without a client
// certificate where one is required.
var errNoClientCertificate = errors.New("no client certificate")

func (v *clientVerifier) verify(cs tls.ConnectionState, remote string) error {
	if len(cs.PeerCertificates) == 0 {
		if !v.required {
			return nil
		}
		return v.refuse(errNoClientCertificate, remote, "")
	}
	leaf := cs.PeerCertificates[0]
	id, err := v.trust.Manager().Check(identity.Request{
		Cert:  leaf.Raw,
		Roles: v.roles,
		Usage: identity.UsageTLSClient,
		At:    time.Now(),
	})
	if err != nil {
		return v.refuse(err, remote, leaf.SerialNumber.Text(16))
	}
	v.logger.Debug("tls: accepted client", "remote", remote, "identity", id.String())
	return nil
}

func (v *clientVerifier) refuse(err error, remote, serial string) error {
	attrs := []any{"remote", remote}
	if serial != "" {
		attrs = append(attrs, "serial", serial)
	}
	v.logger.Warn("tls: refused client: "+err.Error(), attrs...)
	return fmt.Errorf("tls: refused client: %w", err)
}

// ClientTLSConfig returns the TLS configuration for dialling a blossom
// node: TLS 1.3 only, presenting cert (pass a zero tls.Certificate to
// present none), and accepting the server only if the Manager in force
// identifies its certificate (chain, validity now, revocation, server
// authentication) with a role in expectedServerRoles, and the certificate's
// SANs cover the server name dialled.
//
// crypto/tls's own verifier is off (InsecureSkipVerify) because it knows
// nothing of members, roles and CRLs; VerifyConnection does all of it,
// including the host name check. The host name comes from SNI; for an IP
// address, which SNI does not carry, dial through Dial or wrap the config
// with WithServerName.
func ClientTLSConfig(cert tls.Certificate, trust *TrustSource, expectedServerRoles ...pki.Role) *tls.Config {
	cfg := clientTLSConfig(trust, expectedServerRoles)
	if len(cert.Certificate) > 0 {
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg
}

// ClientTLSConfigFor is ClientTLSConfig presenting cred's current
// certificate at each handshake, so that a Credential.Swap applies to the
// next connection (a gRPC reconnection included).
func ClientTLSConfigFor(cred *Credential, trust *TrustSource, expectedServerRoles ...pki.Role) *tls.Config {
	cfg := clientTLSConfig(trust, expectedServerRoles)
	cfg.GetClientCertificate = cred.getClientCertificate
	return cfg
}

func clientTLSConfig(trust *TrustSource, expectedServerRoles []pki.Role) *tls.Config {
	if trust == nil {
		panic("transport: client TLS config without a TrustSource")
	}
	roles := identity.Roles(expectedServerRoles...)
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // verified in VerifyConnection, see above
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyServer(cs, trust, roles)
		},
	}
}

func verifyServer(cs tls.ConnectionState, trust *TrustSource, roles identity.RoleSet) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("tls: refused server: no certificate")
	}
	if cs.ServerName == "" {
		return errors.New("tls: refused server: no server name to check its certificate against (dial by host name, or use transport.WithServerName)")
	}
	leaf := cs.PeerCertificates[0]
	id, err := trust.Manager().Check(identity.Request{
		Cert:  leaf.Raw,
		Roles: roles,
		Usage: identity.UsageTLSServer,
		At:    time.Now(),
	})
	if err != nil {
		return fmt.Errorf("tls: refused server %s: %w", cs.ServerName, err)
	}
	if err := leaf.VerifyHostname(cs.ServerName); err != nil {
		return fmt.Errorf("tls: refused server %s (%s): %w", cs.ServerName, id, err)
	}
	return nil
}

// WithServerName returns a copy of a ClientTLSConfig configuration that
// dials serverName and checks the server's certificate against it even when
// it is an IP address (which TLS does not send in SNI).
func WithServerName(cfg *tls.Config, serverName string) *tls.Config {
	out := cfg.Clone()
	out.ServerName = serverName
	if inner := cfg.VerifyConnection; inner != nil {
		out.VerifyConnection = func(cs tls.ConnectionState) error {
			if cs.ServerName == "" {
				cs.ServerName = serverName
			}
			return inner(cs)
		}
	}
	return out
}
