// Package pki is blossom's certificate authority logic: key generation, the
// consortium root CA, member intermediate CAs created through a CSR the root
// signs, node and user certificates with blossom attributes, and CRLs.
//
// Certificate layout (every member sees it, so it carries no personal data):
//
//   - Subject CN: the enrollment ID (opaque), O: the member's MSP ID,
//     OU: the role type (admin, client, peer, orderer, gateway).
//   - Node certificates (peer, orderer, gateway) carry server and client
//     authentication EKUs and the node's DNS and IP SANs; user certificates
//     (admin, client) carry client authentication only.
//   - Attributes (for example blossom.role) live in a non-critical extension
//     under AttributesOID, DER-encoded (see attributes.go).
//
// Package pki holds no state and does no I/O beyond the PEM helpers; the CA
// server (internal/caserver) keeps registrations, serials and revocations.
package pki
