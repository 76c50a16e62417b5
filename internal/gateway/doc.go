// Package gateway is a member's REST/JSON gateway over HTTPS (DESIGN §6,
// §10): it authenticates callers (package auth), checks them against an
// allow-list, plans endorsements, and runs evaluations and submissions on
// the member's peers and the ordering service through package client.
//
// Routes (documented in openapi.json, served at /openapi.json):
//
//	GET  /healthz, /readyz, /metrics, /openapi.json
//	GET  /api/v1/me
//	POST /api/v1/channels/{channel}/chaincodes/{chaincode}/evaluate
//	POST /api/v1/channels/{channel}/chaincodes/{chaincode}/submit
//	POST /api/v1/channels/{channel}/chaincodes/{chaincode}/proposals/evaluate
//	POST /api/v1/channels/{channel}/chaincodes/{chaincode}/proposals/endorse
//	POST /api/v1/channels/{channel}/transactions
//	GET  /api/v1/channels/{channel}/transactions/{txId}
//	GET  /api/v1/channels/{channel}/blocks/{number}
//	GET  /api/v1/channels/{channel}/events
//	POST /api/v1/admin/approvals, /api/v1/admin/users/{enrollmentId}/disable
//	GET  /auth/login, /auth/callback; POST /auth/logout (with Config.SignIn)
//
// With Config.Dashboard set, every other path serves the member dashboard
// (package dashboard), which calls these routes in-process.
//
// evaluate and submit are custodial: the gateway signs with the caller's
// key from the wallet (bearer-token and session callers). The proposals/
// and transactions routes are for callers that sign themselves (client
// certificates, e.g. `blossom tx`): the client builds and signs the
// proposal, the gateway relays it to the planned endorsers and returns
// their responses, the client assembles and signs the envelope, and the
// gateway broadcasts it and answers once the member's own peer committed
// it. The gateway never holds these callers' keys and refuses proposals
// and envelopes whose creator is not the authenticated certificate.
//
// Lookups and the event stream read the member's own peer (Deliver and
// CommitStatus). They never show arguments, read/write sets or private
// data; a transaction's chaincode, function, creator and events only to
// callers whose role may call that function (Config.Allow), and only on
// channels Config.AllowChannel lets them read. The event stream is
// Server-Sent Events: "chaincode" events (id "<block>:<n>") then one
// "block" event (id "<block>") per block, heartbeat comments, a final
// "close" event on Shutdown; it resumes after Last-Event-ID, and each user
// may hold Config.MaxStreamsPerUser streams.
//
// Submissions are planned from the endorsement policy of the chaincode's
// committed definition (read through _lifecycle on the own peer, cached
// for two seconds; Config.Policies overrides it; MAJORITY without one):
// the smallest set of members that satisfies it, the own member first.
// They are re-routed when an endorser answers
// PRIVATE_DATA_NOT_HELD: to the peer of the member whose implicit
// collection it lacks, or without it when that member already endorses.
//
// Errors are {"error":{"code","message"}}, never stack traces; every API
// request writes one audit log line (who, function, transaction ID,
// outcome), never a token or key.
package gateway
