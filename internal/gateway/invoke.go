package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/blossom-ledger/blossom/internal/client"
	"github.com/blossom-ledger/blossom/internal/gateway/auth"
	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/peer"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/txn"
)

// Bounds on a request's contents (beyond the body limit).
const (
	maxArgs             = 256
	maxTransientEntries = 64
	maxNameLen          = 256
)

// InvokeRequest is the body of the custodial evaluate and submit routes.
type InvokeRequest struct {
	Function  string            `json:"function"`
	Args      []string          `json:"args"`
	Transient map[string]string `json:"transient"`
	// EndorsingMembers overrides the planned endorsers (MSP IDs).
	EndorsingMembers []string `json:"endorsingMembers,omitempty"`
	// MinBlock makes the peers wait until they hold this many blocks
	// (read-after-write).
	MinBlock uint64 `json:"minBlock,omitempty"`
	// IsInit marks the call that initialises a chaincode whose
	// definition requires it.
	IsInit bool `json:"isInit,omitempty"`
}

// SubmitResponse is the body of a submit that committed VALID, and of a
// client-signed commit whatever its validation code.
type SubmitResponse struct {
	TxID   string `json:"txId"`
	Status string `json:"status"`
	Block  uint64 `json:"block"`
	// Result is the chaincode's payload (a string; base64 for the
	// client-signed routes, which relay bytes).
	Result *string `json:"result,omitempty"`
}

// EvaluateResponse is the body of an evaluate.
type EvaluateResponse struct {
	Result string `json:"result"`
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$`)

// apiError is an error answer: status, code and a message safe to show.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func badRequest(format string, a ...any) *apiError {
	return &apiError{http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf(format, a...)}
}

// decodeJSON reads one JSON object from the (size-limited) body into v,
// refusing unknown fields and trailing data.
func decodeJSON(r *http.Request, v any) *apiError {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &apiError{http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE", fmt.Sprintf("the body exceeds %d bytes", tooBig.Limit)}
		}
		return badRequest("malformed JSON body: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &apiError{http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE", fmt.Sprintf("the body exceeds %d bytes", tooBig.Limit)}
		}
		return badRequest("malformed JSON body: data after the object")
	}
	return nil
}

// jsonProblem describes a decoding error without echoing the body.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q has the wrong type", typ.Field)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of body"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return "not a JSON object of the expected shape"
}

// checkInvoke validates a decoded request against the bounds.
func checkInvoke(req *InvokeRequest) *apiError {
	if req.Function == "" || len(req.Function) > maxNameLen {
		return badRequest("function is required (at most %d bytes)", maxNameLen)
	}
	if len(req.Args) > maxArgs {
		return badRequest("at most %d args", maxArgs)
	}
	if len(req.Transient) > maxTransientEntries {
		return badRequest("at most %d transient entries", maxTransientEntries)
	}
	for _, m := range req.EndorsingMembers {
		if m == "" || len(m) > maxNameLen {
			return badRequest("endorsingMembers holds an empty or overlong MSP ID")
		}
	}
	return nil
}

// pathNames returns the channel and chaincode of the path, validated.
func pathNames(r *http.Request) (channel, chaincode string, e *apiError) {
	channel, chaincode = r.PathValue("channel"), r.PathValue("chaincode")
	if !namePattern.MatchString(channel) {
		return "", "", badRequest("invalid channel name")
	}
	if chaincode != "" || strings.Contains(r.Pattern, "{chaincode}") {
		if !namePattern.MatchString(chaincode) {
			return "", "", badRequest("invalid chaincode name")
		}
	}
	return channel, chaincode, nil
}

// audit is the per-request audit record, logged once.
type audit struct {
	route, channel, chaincode, function, txID string
}

func (g *Gateway) logAudit(r *http.Request, a *audit, status int, code string) {
	p, _ := auth.PrincipalFrom(r.Context())
	attrs := []any{"route", a.route, "channel", a.channel, "chaincode", a.chaincode, "function", a.function,
		"txId", a.txID, "status", status, "outcome", code}
	if p != nil {
		attrs = append(attrs, "enrollmentId", p.EnrollmentID, "msp", p.MSPID, "method", string(p.Method))
	}
	g.log.Info("gateway: audit", attrs...)
}

// fail writes e and audits it.
func (g *Gateway) fail(w http.ResponseWriter, r *http.Request, a *audit, e *apiError) {
	g.logAudit(r, a, e.status, e.code)
	auth.WriteError(w, e.status, e.code, e.message)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// evalPeers is where evaluations go: the first planned peer, then the
// other members' peers in turn (re-routing on PRIVATE_DATA_NOT_HELD or an
// unreachable peer).
func (g *Gateway) evalPeers(planned []string) []string {
	out := append([]string(nil), planned...)
	seen := map[string]bool{}
	for _, p := range out {
		seen[p] = true
	}
	for _, p := range g.cfg.Client.Peers() {
		if !seen[p] {
			out = append(out, p)
		}
	}
	return out
}

// mapError turns a client error into the answer.
func mapError(err error) *apiError {
	var ce *client.ChaincodeError
	var inv *client.InvalidTxError
	var be *client.BroadcastError
	var pe *client.PeerError
	switch {
	case errors.As(err, &ce):
		return &apiError{http.StatusUnprocessableEntity, "CHAINCODE_ERROR", ce.Message}
	case errors.Is(err, client.ErrMismatch):
		return &apiError{http.StatusConflict, "ENDORSEMENT_MISMATCH", "the endorsing peers returned different results; retry"}
	case errors.As(err, &inv):
		return &apiError{http.StatusConflict, inv.Code.String(),
			fmt.Sprintf("transaction %s committed in block %d as %s", inv.TxID, inv.Block, inv.Code)}
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{http.StatusGatewayTimeout, "TIMEOUT", "the network did not answer in time"}
	case errors.As(err, &be):
		switch be.Status {
		case pb.Status_CONFLICT:
			return &apiError{http.StatusConflict, "ORDERER_CONFLICT", be.Info}
		case pb.Status_SERVICE_UNAVAILABLE:
			// No leader for the client's whole retry budget, or every
			// attempt answered OVERLOADED: the caller may retry later.
			return &apiError{http.StatusServiceUnavailable, "ORDERER_UNAVAILABLE", fmt.Sprintf("the ordering service is unavailable or overloaded; retry later (%s)", be.Info)}
		}
		return &apiError{http.StatusBadGateway, "ORDERER_REFUSED", fmt.Sprintf("the ordering service refused the transaction: %s", be.Status)}
	case errors.As(err, &pe):
		if status.Code(pe.Err) == codes.DeadlineExceeded {
			return &apiError{http.StatusGatewayTimeout, "TIMEOUT", "peer " + pe.Peer + " did not answer in time"}
		}
		if st, ok := status.FromError(pe.Err); ok && !pe.Unreachable && st.Code() != codes.Unavailable {
			return &apiError{http.StatusBadGateway, "PEER_REFUSED", "peer " + pe.Peer + " refused: " + st.Message()}
		}
		return &apiError{http.StatusBadGateway, "PEER_UNAVAILABLE", "peer " + pe.Peer + " is unavailable"}
	}
	return &apiError{http.StatusBadGateway, "NETWORK_ERROR", "the network could not complete the request"}
}

// retryElsewhere: a peer that is unreachable, behind or lacks a private
// data collection; the next peer may answer.
func retryElsewhere(err error) bool {
	var pe *client.PeerError
	if !errors.As(err, &pe) {
		return false
	}
	if pe.Unreachable {
		return true
	}
	switch status.Code(pe.Err) {
	case codes.Unavailable, codes.FailedPrecondition:
		return true
	}
	return false
}

// evaluateSigned runs prop on the first of peers that answers.
func (g *Gateway) evaluateSigned(ctx context.Context, prop *txn.Proposal, peers []string) ([]byte, error) {
	var last error
	for _, p := range peers {
		resp, err := g.cfg.Client.Endorse(ctx, prop, []string{p})
		if err != nil {
			last = err
			if retryElsewhere(err) && ctx.Err() == nil {
				continue
			}
			return nil, err
		}
		return resp[0].GetResponse().GetPayload(), nil
	}
	return nil, last
}

// endorseRouted endorses prop on peers, re-routing around peers that
// cannot endorse it: a peer answering PRIVATE_DATA_NOT_HELD for a
// member's implicit collection is replaced by that member's peer (or
// dropped when that member already endorses: a collection's writes are
// checked against the collection's policy alone, DESIGN §11); a peer that
// is unreachable or lacks another collection is replaced by a peer not yet
// used, once per peer.
func (g *Gateway) endorseRouted(ctx context.Context, channel string, prop *txn.Proposal, peers []string) ([]*pb.ProposalResponse, error) {
	used := map[string]bool{}
	for _, p := range peers {
		used[p] = true
	}
	caughtUp := false
	for {
		resp, err := g.cfg.Client.Endorse(ctx, prop, peers)
		if err != nil && !caughtUp && g.staleEndorsement(err) {
			// Read-after-write (DESIGN §11): another member's peer may not
			// yet hold the blocks the own peer committed for this user's
			// last transaction; once every endorser has them, endorse
			// again (simulation changes nothing, so a retry is safe).
			caughtUp = true
			if g.catchUp(ctx, channel, peers) {
				continue
			}
		}
		if err == nil || !retryElsewhere(err) || ctx.Err() != nil {
			return resp, err
		}
		var pe *client.PeerError
		errors.As(err, &pe)
		next, ok := g.reroute(peers, pe, used)
		if !ok {
			return nil, err
		}
		g.log.Info("gateway: re-routing an endorsement", "txId", prop.TxID, "from", pe.Peer, "to", strings.Join(next, ","),
			"reason", status.Convert(pe.Err).Message())
		peers = next
	}
}

// staleEndorsement reports whether an endorsement failure may come from
// an endorser behind the own peer: a chaincode refusal, endorsers that
// disagree, or PEER_BEHIND.
func (g *Gateway) staleEndorsement(err error) bool {
	var ce *client.ChaincodeError
	var pe *client.PeerError
	return errors.As(err, &ce) || errors.Is(err, client.ErrMismatch) ||
		(errors.As(err, &pe) && strings.Contains(status.Convert(pe.Err).Message(), peer.CodePeerBehind))
}

// catchUpWait bounds how long an endorsement waits for other members'
// peers to reach the height the gateway has seen committed.
const catchUpWait = 5 * time.Second

// catchUp waits until every peer holds the blocks the gateway has seen
// committed on channel, and reports whether any was behind.
func (g *Gateway) catchUp(ctx context.Context, channel string, peers []string) bool {
	height := g.cfg.Client.SeenHeight(channel)
	ctx, cancel := context.WithTimeout(ctx, catchUpWait)
	defer cancel()
	anyBehind := false
	for _, p := range peers {
		behind, err := g.cfg.Client.WaitForPeerHeight(ctx, p, channel, height)
		if err != nil {
			return false
		}
		anyBehind = anyBehind || behind
	}
	return anyBehind
}

// reroute returns peers without the failed peer pe.Peer: replaced by the
// holder of the collection it lacks, or by an unused peer.
func (g *Gateway) reroute(peers []string, pe *client.PeerError, used map[string]bool) ([]string, bool) {
	replacement := ""
	if holder, ok := g.collectionHolder(pe); ok {
		for _, p := range g.cfg.Members[holder] {
			if !used[p] {
				replacement = p
				break
			}
		}
		if replacement == "" && !slices.ContainsFunc(peers, func(p string) bool { return slices.Contains(g.cfg.Members[holder], p) }) {
			return nil, false
		}
	} else {
		for _, alt := range g.cfg.Client.Peers() {
			if !used[alt] {
				replacement = alt
				break
			}
		}
		if replacement == "" {
			return nil, false
		}
	}
	next := make([]string, 0, len(peers))
	for _, p := range peers {
		if p == pe.Peer {
			if replacement == "" {
				continue // the holder already endorses
			}
			p = replacement
		}
		next = append(next, p)
	}
	if replacement != "" {
		used[replacement] = true
	}
	return next, len(next) > 0
}

// collectionHolder returns the member whose implicit collection a
// PRIVATE_DATA_NOT_HELD answer names.
func (g *Gateway) collectionHolder(pe *client.PeerError) (string, bool) {
	st, ok := status.FromError(pe.Err)
	if !ok || st.Code() != codes.FailedPrecondition {
		return "", false
	}
	coll, ok := strings.CutPrefix(st.Message(), notHeldPrefix)
	if !ok {
		return "", false
	}
	coll, ok = strings.CutSuffix(coll, ")")
	if !ok {
		return "", false
	}
	msp, ok := strings.CutPrefix(coll, peer.ImplicitCollectionPrefix)
	if !ok || len(g.cfg.Members[msp]) == 0 {
		return "", false
	}
	return msp, true
}

// notHeldPrefix starts a peer's PRIVATE_DATA_NOT_HELD(collection) answer
// (chaincode.PrivateDataNotHeldError).
const notHeldPrefix = "PRIVATE_DATA_NOT_HELD("

// custodial prepares a custodial call: the principal's signer, the
// allow-list check, and the request.
func (g *Gateway) custodial(w http.ResponseWriter, r *http.Request, a *audit) (identity.Signer, *txn.Request, *InvokeRequest, bool) {
	channel, chaincode, e := pathNames(r)
	a.channel, a.chaincode = channel, chaincode
	if e != nil {
		g.fail(w, r, a, e)
		return nil, nil, nil, false
	}
	var body InvokeRequest
	if e := decodeJSON(r, &body); e != nil {
		g.fail(w, r, a, e)
		return nil, nil, nil, false
	}
	a.function = body.Function
	if e := checkInvoke(&body); e != nil {
		g.fail(w, r, a, e)
		return nil, nil, nil, false
	}
	p, _ := auth.PrincipalFrom(r.Context())
	if !g.cfg.Allow(p, channel, chaincode, body.Function) {
		g.fail(w, r, a, &apiError{http.StatusForbidden, "FUNCTION_NOT_ALLOWED", "you may not call this function"})
		return nil, nil, nil, false
	}
	if p.Method == auth.MethodCertificate || g.cfg.Signers == nil {
		g.fail(w, r, a, &apiError{http.StatusBadRequest, "CLIENT_MUST_SIGN",
			"certificate clients sign their own transactions: use the proposals/ and transactions routes"})
		return nil, nil, nil, false
	}
	signer, err := g.cfg.Signers(p.EnrollmentID)
	if err != nil {
		g.log.Warn("gateway: no custodial key", "enrollmentId", p.EnrollmentID, "err", err.Error())
		g.fail(w, r, a, &apiError{http.StatusForbidden, "NO_KEY", "the gateway holds no key for this user"})
		return nil, nil, nil, false
	}
	req := &txn.Request{ChannelID: channel, Chaincode: chaincode, Function: body.Function, MinHeight: body.MinBlock, Init: body.IsInit}
	for _, s := range body.Args {
		req.Args = append(req.Args, []byte(s))
	}
	if len(body.Transient) > 0 {
		req.Transient = make(map[string][]byte, len(body.Transient))
		for k, v := range body.Transient {
			req.Transient[k] = []byte(v)
		}
	}
	return signer, req, &body, true
}

// custodialProposal decodes a custodial request, plans its peers and signs
// its proposal with the caller's wallet key.
func (g *Gateway) custodialProposal(w http.ResponseWriter, r *http.Request, a *audit) (identity.Signer, *txn.Request, *InvokeRequest, *txn.Proposal, []string, bool) {
	signer, req, body, ok := g.custodial(w, r, a)
	if !ok {
		return nil, nil, nil, nil, nil, false
	}
	peers, e := g.plan(r.Context(), req.ChannelID, req.Chaincode, body.EndorsingMembers)
	if e != nil {
		g.fail(w, r, a, e)
		return nil, nil, nil, nil, nil, false
	}
	prop, err := txn.NewProposal(signer, *req)
	if err != nil {
		g.fail(w, r, a, &apiError{http.StatusInternalServerError, "INTERNAL", "could not sign the proposal"})
		return nil, nil, nil, nil, nil, false
	}
	a.txID = prop.TxID
	return signer, req, body, prop, peers, true
}

func (g *Gateway) evaluate(w http.ResponseWriter, r *http.Request) {
	a := &audit{route: "evaluate"}
	_, _, body, prop, peers, ok := g.custodialProposal(w, r, a)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.Timeout)
	defer cancel()
	if len(body.EndorsingMembers) == 0 {
		peers = g.evalPeers(peers)
	}
	payload, err := g.evaluateSigned(ctx, prop, peers)
	if err != nil {
		g.fail(w, r, a, mapError(err))
		return
	}
	g.logAudit(r, a, http.StatusOK, "OK")
	writeJSON(w, http.StatusOK, EvaluateResponse{Result: string(payload)})
}

func (g *Gateway) submit(w http.ResponseWriter, r *http.Request) {
	a := &audit{route: "submit"}
	signer, req, _, prop, peers, ok := g.custodialProposal(w, r, a)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.Timeout)
	defer cancel()
	responses, err := g.endorseRouted(ctx, req.ChannelID, prop, peers)
	if err != nil {
		g.fail(w, r, a, mapError(err))
		return
	}
	env, err := txn.Assemble(signer, prop, responses)
	if err != nil {
		g.fail(w, r, a, mapError(err))
		return
	}
	res, err := g.commit(ctx, req.ChannelID, prop.TxID, env)
	if err != nil {
		g.fail(w, r, a, mapError(err))
		return
	}
	result := string(responses[0].GetResponse().GetPayload())
	g.logAudit(r, a, http.StatusOK, res.Code.String())
	writeJSON(w, http.StatusOK, SubmitResponse{TxID: res.TxID, Status: res.Code.String(), Block: res.Block, Result: &result})
}

// commit broadcasts env and waits until the own peer committed txID.
// (or on peers, when given).
func (g *Gateway) commit(ctx context.Context, channel, txID string, env []byte, peers ...string) (*client.SubmitResult, error) {
	if err := g.cfg.Client.Broadcast(ctx, env); err != nil {
		return nil, err
	}
	if len(peers) == 0 {
		peers = []string{g.cfg.Client.LocalPeer()}
	}
	return g.cfg.Client.WaitForCommit(ctx, channel, txID, peers...)
}
