// Package transport is blossom's node-to-node and client-to-node transport:
// mutual TLS 1.3 against the consortium's members, and gRPC servers and
// clients over it.
//
// Trust comes from a TrustSource, which holds the current identity.Manager
// (the members' CAs and CRLs from the latest configuration). Every
// handshake asks the TrustSource for the Manager in force, so Update takes
// effect on the next handshake without restarting any listener; the gRPC
// interceptors also re-check the caller of every call, so a certificate
// revoked by an update is refused on connections opened before it.
//
// Certificates are not verified by crypto/tls's built-in verifier (which
// knows neither members, roles nor CRLs) but in VerifyConnection through
// the Manager: the peer's certificate must chain to the member its subject
// names, be valid now, not be revoked, allow the TLS use, and carry an
// allowed role. Refusals are logged with their reason, never with key
// material.
package transport
