// Package caserver is a member's intermediate certificate authority run as a
// service: an HTTPS JSON API to register identities, enroll them with a
// one-time secret and a CSR, re-enroll, revoke and publish CRLs, and the Go
// client for that API. It is modelled on Hyperledger Fabric CA, smaller and
// stricter: private keys never leave their holder (every issuance goes
// through a CSR), enrollment secrets are stored only as salted hashes, and
// every right to register or revoke is delegated through certificate
// attributes.
//
// # CA directory
//
// A member CA lives in one directory (created mode 0700):
//
//	ca-key.pem        the intermediate CA's private key (0600); written by Init
//	ca.csr            the intermediate's CSR (PEM) for the root holder; written by Init
//	ca-cert.pem       the intermediate CA certificate signed by the root; written by Install
//	ca-chain.pem      intermediate + root certificates (PEM), what clients trust
//	tls-cert.pem      the CA server's TLS certificate (issued by this CA, OU "ca",
//	                  server authentication only) followed by ca-cert.pem
//	tls-key.pem       its private key (0600)
//	bootstrap-secret  the one-time enrollment secret of the bootstrap registrar
//	                  "admin" (0600); written by Install and never printed or logged
//	ca.addr           the address the server listens on, written by the CLI's serve
//	db/               Pebble database: registrations, issued certificates,
//	                  revocations, the CRL number and the current CRL
//
// A consortium root CA directory (InitRoot, SignIntermediateCSR) holds
// root-cert.pem and root-key.pem (0600); it is kept offline after signing.
//
// # Bootstrap
//
// Init creates ca-key.pem and ca.csr; the root's holder signs the CSR with
// SignIntermediateCSR; Install checks the signed certificate against the key
// and the root, issues the server's TLS certificate, registers the bootstrap
// registrar "admin" with every right and writes its secret to
// bootstrap-secret. Open then serves the directory.
//
// # Authentication and authorisation
//
// The TLS listener (TLS 1.3 only) requests but does not require a client
// certificate and verifies any certificate given against this CA alone.
// enroll (secret), cainfo, crl and healthz need no certificate; every other
// call needs a certificate issued by this CA that is known to its database,
// unexpired by the server's clock, not revoked, and whose registration is
// not disabled. Rights come from the caller certificate's attributes:
//
//	blossom.registrar.roles       comma list of role types the caller may register
//	                              (and list, and revoke)
//	blossom.registrar.attributes  comma list of attribute names the caller may set
//	blossom.revoker               "true": the caller may revoke and generate CRLs
//
// A registrar may delegate only rights it holds itself. Attribute names a
// registration may carry are limited to the server's allowed set
// (DefaultAllowedAttributes unless configured).
//
// # Logging
//
// Each request is logged with log/slog: method, path, the caller's
// enrollment ID, status, error code and duration. Secrets, CSRs, keys and
// certificates are never logged, nor returned in errors.
package caserver
