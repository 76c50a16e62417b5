// Package ngac is a Next Generation Access Control (NGAC, ANSI INCITS
// 499/565, NIST SP 800-178) policy graph and policy decision point, small
// enough to run inside chaincode compiled to WebAssembly (standard library
// only, no global state, deterministic).
//
// # Policy elements
//
// A Graph holds five kinds of nodes, each with a name unique across the
// whole graph: policy classes (PC), user attributes (UA), object attributes
// (OA), users (U) and objects (O). Assignments are directed edges from a
// node to a node that contains it:
//
//	U  -> UA
//	UA -> UA or PC
//	O  -> OA
//	OA -> OA or PC
//
// Assignments form a directed acyclic graph: an assignment that would close a
// cycle is refused. Every node except a policy class is created with at least
// one assignment and keeps at least one, so every node is contained in at
// least one policy class. Containment is reflexive and transitive: n is
// contained in c when n = c or a path of assignments leads from n to c.
//
// A Graph also holds a declared set of resource access rights (for instance
// "read", "write"), the only rights relations may name; the wildcard
// AllRights ("*") stands for every declared right.
//
// Associations grant rights: an association (ua, target, rights) lets every
// user contained in the user attribute ua exercise rights on every node
// contained in target (a UA or an OA), within the policy classes that target
// is contained in. There is at most one association per (ua, target) pair.
//
// Prohibitions deny rights: a prohibition names a subject (a user or a user
// attribute), a set of rights and one or more container conditions, each a
// container and a complement flag. A condition is met by a target contained
// in the container (complement false) or not contained in it (complement
// true). An intersection prohibition applies to a target meeting every
// condition, a union prohibition to a target meeting at least one. A
// prohibition whose subject is a user attribute applies to every user
// contained in it.
//
// # Decisions
//
// Decide implements the standard NGAC decision function: a subject holds
// right r on target t if and only if
//
//  1. t is contained in at least one policy class, and for every policy class
//     P containing t there is an association (ua, a, rights) with r in rights
//     (or rights = AllRights), the subject contained in ua, t contained in a
//     and a contained in P; and
//  2. no prohibition applicable to the subject and to t denies r.
//
// A Subject is either a user node of the graph or a set of user attributes
// standing for a user that is not stored in the graph (the BloSS@M
// chaincodes derive a caller's attributes from the certificate and never
// persist user nodes).
//
// A decision visits each node and edge reachable upwards from the subject and
// from the target at most once (the policy classes reached from each target
// ancestor are memoised as a bit set), plus the associations ending on the
// target's ancestors and the prohibitions whose subject contains the
// requester: its cost is linear in the reachable part of the graph and the
// graph itself is bounded (MaxNodes, MaxAssignments, ...), so a hostile
// policy cannot make decisions explode.
//
// # Errors and atomicity
//
// Every mutation validates all of its input before changing anything: on
// error the graph is unchanged. Errors wrap one of ErrNotFound, ErrExists,
// ErrCycle, ErrInvalid, ErrInUse or ErrLimit (test with errors.Is). Use
// Update to apply several mutations all-or-nothing.
//
// # Encoding
//
// Encode renders a graph as canonical JSON (fixed field order, sorted
// collections, no whitespace); Decode accepts exactly the canonical encoding
// of a valid graph, re-checking every invariant, so decode(encode(g))
// re-encodes byte for byte and two peers never disagree on a stored policy.
//
// A Graph is not safe for concurrent mutation; concurrent decisions and
// reads without a concurrent writer are safe.
package ngac
