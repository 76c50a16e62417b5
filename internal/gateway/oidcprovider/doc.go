// Package oidcprovider is the small OpenID Connect provider a member can run
// beside its gateway for development and small deployments, where no
// agency identity provider is at hand. It is built on zitadel/oidc's
// certified `op` package, which implements the protocol (discovery, JWKS,
// authorization code with PKCE, token, refresh, userinfo, introspection,
// revocation, end session); this package supplies the storage, the users,
// the sign-in pages and the policy.
//
// # What it enforces
//
//   - Authorization code flow only, with PKCE S256 required of every client;
//     redirect URIs are matched exactly.
//   - Confidential clients authenticate with client_secret_basic or
//     private_key_jwt; secrets are kept only as SHA-256 digests.
//   - ID tokens and access tokens are JWTs signed ES256 (ECDSA P-256) and
//     carry the user's role in a configurable claim (blossom.role by
//     default), so a gateway verifies bearer tokens offline against the
//     JWKS.
//   - Passwords are hashed with bcrypt; an unknown user name costs the same
//     bcrypt comparison as a known one.
//   - Lockout: after MaxFailures failed attempts (password or one-time code)
//     within Window, a user name is refused for LockFor, whatever it
//     presents.
//   - Optional TOTP second factor (RFC 6238: HMAC-SHA-1 by default, which
//     authenticator apps assume, or HMAC-SHA-256, the only choice in FIPS
//     140-only mode; 6 digits, 30 s steps, one step of drift either way, a
//     code accepted once); a user
//     with a TOTP secret must give a code after the password. The amr claim
//     says ["pwd"] or ["pwd","otp","mfa"], the acr claim ACRPassword or
//     ACRMultiFactor.
//   - Disabled users cannot sign in, refresh or use userinfo.
//
// Users, clients, pending sign-ins and tokens are held in memory: a restart
// signs everyone out (refresh tokens die) and, unless Config.SigningKey is
// given, rotates the signing key. Users are added at start (AddUser), e.g.
// from devnet.json.
//
// # Logging
//
// Sign-in outcomes are logged with the user name, client ID and outcome;
// passwords, codes, tokens, secrets and PKCE values never are. zitadel's op
// logs through slog.Default(): its messages carry OAuth error codes, client
// IDs and redirect URIs, never token or secret values.
package oidcprovider
