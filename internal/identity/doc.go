// Package identity is blossom's membership service provider (MSP): it
// decides whether a certificate is a valid identity of a consortium member,
// in which role, and verifies that identity's signatures. It also provides
// the signers (key files, PKCS#11 tokens) with which a node or user signs.
//
// A Manager is an immutable snapshot of the members of a channel (or of the
// consortium) as one configuration describes them: their root and
// intermediate CA certificates and their CRLs. A new configuration means a
// new Manager, so a revocation takes effect with the configuration that
// carries it. Validation is a pure function of the Manager, the certificate
// and the time it is checked at: blocks validate against their own
// timestamp, never the wall clock, so the time is always a parameter.
//
// Validation (Manager.Check, Validate, Identify) checks, in order: the
// certificate parses and names exactly one MSP ID (subject O), role type
// (subject OU) and enrollment ID (subject CN); the claimed member exists
// and the subject O names it; the certificate is within its validity period
// at the given time; it chains to that member's roots through that member's
// intermediates with the extended key usage the use needs; no certificate of
// the chain is revoked by the member's CRLs (entries are keyed by issuer and
// serial); its role is one the caller accepts. Every refusal wraps one of
// the sentinel errors (ErrUnknownMSP, ErrMalformed, ErrMSPMismatch,
// ErrExpired, ErrChain, ErrKeyUsage, ErrRevoked, ErrRoleMismatch), so
// callers test it with errors.Is; messages name MSP IDs, roles, times and
// serial numbers, never key material.
//
// Successful chain and revocation results are cached per Manager, keyed by
// the SHA-256 of the certificate DER, the MSP ID asked for and the use; the
// validity period and the role are re-checked on every call, so a cached
// identity still expires on time.
package identity
