// Package auth authenticates the gateway's callers and tells handlers who
// they are. It offers three methods, any of which Authenticator.Authenticate
// accepts:
//
//   - Bearer tokens for API clients (Authorization: Bearer): JWTs from the
//     member's configured OpenID provider, verified against its discovery
//     document and JWKS (go-oidc) for issuer, audience, expiry and an
//     algorithm allow-list. The role comes from a configurable claim.
//   - Browser sign-in for the dashboard (WebSignIn): the authorization code
//     flow with PKCE (S256), state and nonce, as a confidential client
//     (client_secret_basic or private_key_jwt), optional acr_values checked
//     against the ID token's acr/amr, and a server-side session whose random
//     256-bit ID travels in a __Host- cookie (HttpOnly, Secure, SameSite),
//     with idle and absolute timeouts, token refresh and logout (with the
//     provider's end-session endpoint when it has one).
//   - Client certificates for machine clients: the TLS layer verifies the
//     chain (transport.RequestClientCertTLSConfig); this package maps the
//     verified identity to a Principal.
//
// Every request, whatever the method, is checked against the binding table
// (package binding): a disabled user is refused on the next request even
// with a live session or an unexpired token. A bearer token or sign-in of
// an identity not bound yet enrolls it if, and only if, the member's
// administrator approved it.
//
// Handlers read the caller with PrincipalFrom. Cookie-authenticated
// requests with unsafe methods must carry the session's CSRF token
// (synchronizer token pattern; see CSRFToken and CheckCSRF), which
// Authenticate enforces.
//
// # Errors
//
// Refusals are JSON, {"error":{"code":"...","message":"..."}}: 401
// UNAUTHENTICATED for a missing, malformed, expired or foreign credential,
// 403 for a credential that is valid but not allowed (NOT_APPROVED,
// ACCOUNT_DISABLED, ROLE_CHANGED, WRONG_MEMBER, CSRF_FAILED). Messages never
// echo a token, cookie, code or secret.
//
// # Logging
//
// Outcomes are logged with the method, issuer, subject, enrollment ID and
// the reason of a refusal; never a token, a session ID, an authorization
// code, a PKCE verifier, a client secret or a key.
package auth
