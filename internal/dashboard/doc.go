// Package dashboard is the member dashboard a member's gateway serves to
// its users' browsers (spec blossom-system §4, §7.1 "Dashboard"): server-
// rendered pages (html/template, assets embedded with go:embed, no build
// step, one small script) for the BloSS@M journeys of §4.5 — onboarding
// (MOU, ATO and feedback, votes with tallies, certification, join), the
// catalog, quotes and orders, allocation and delivery, SWID reporting,
// returns and renewals, audit histories — and consortium views (members
// and their status, the peers' block heights).
//
// The gateway mounts it (gateway.Config.Dashboard = d.Handler): every
// page runs behind the gateway's authentication middleware, users sign in
// through the gateway's browser OpenID Connect flow (auth.WebSignIn, served
// under /auth/), and every ledger call goes in-process through the
// gateway's own REST API with the user's session and CSRF token, so the
// allow-list, custodial signing, rate limit and audit log apply unchanged.
// Every form carries the session's CSRF token; the browser never sees a
// token, client secret or key (the session cookie is HttpOnly and opaque).
//
// Navigation and actions follow the user's blossom.role and member (the
// service provider is Config.AdminMSP): a user sees only the menus and
// buttons of their role, and an action posted by hand by another role is
// refused with 403 before anything reaches the ledger.
//
// Every action shows its outcome on the next page: "committed in block N"
// with the transaction ID, or the refusal in plain words. Pages refresh
// their live region by polling (static/live.js calls refresh()); an event
// stream can call the same refresh() when the gateway offers one.
package dashboard
