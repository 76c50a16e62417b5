package identity

import (
	"errors"
)

// Sentinel errors. Every validation error wraps exactly one of them; test
// with errors.Is.
var (
	// ErrUnknownMSP: the MSP ID asked for is not a member of this Manager.
	ErrUnknownMSP = errors.New("unknown MSP")
	// ErrMalformed: the certificate does not parse, or lacks a well-formed
	// MSP ID, role type or enrollment ID, or uses an unsupported key type.
	ErrMalformed = errors.New("malformed identity")
	// ErrMSPMismatch: the certificate's subject names another member than
	// the one it is presented as, or than the one whose CA issued it.
	ErrMSPMismatch = errors.New("MSP mismatch")
	// ErrExpired: the certificate, or a CA certificate of its chain, is
	// outside its validity period at the time checked.
	ErrExpired = errors.New("certificate expired or not yet valid")
	// ErrChain: the certificate does not chain to the member's roots.
	ErrChain = errors.New("certificate chain not trusted")
	// ErrKeyUsage: the certificate's key usages do not allow the use it is
	// presented for (for example a user certificate as a TLS server).
	ErrKeyUsage = errors.New("certificate key usage not allowed")
	// ErrRevoked: a certificate of the chain is listed in a CRL of the member.
	ErrRevoked = errors.New("certificate revoked")
	// ErrRoleMismatch: the certificate's role type is not one the caller
	// accepts (for example an admin certificate acting as a peer).
	ErrRoleMismatch = errors.New("role not allowed")
	// ErrSignature: a signature does not verify under the identity's key.
	ErrSignature = errors.New("signature does not verify")
	// ErrInvalidConfig: an MSP configuration is inconsistent (a CRL not
	// signed by one of the member's CAs, a duplicate member, ...).
	ErrInvalidConfig = errors.New("invalid MSP configuration")
)

// Error is a validation or configuration error: one sentinel (Kind) and a
// message for people. Its message is safe to log and to return to a remote
// caller: it holds MSP IDs, roles, times and serial numbers only.
type Error struct {
	Kind error  // one of the sentinel errors above
	Msg  string // what went wrong, e.g. "certificate revoked by Org1MSP CRL (serial 1f)"
	Err  error  // underlying cause, if any (e.g. from crypto/x509)
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

// Is makes errors.Is(err, Kind) hold.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

func newError(kind error, cause error, msg string) *Error {
	return &Error{Kind: kind, Msg: msg, Err: cause}
}
