package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/blossom-ledger/blossom/internal/client"
	"github.com/blossom-ledger/blossom/internal/gateway/auth"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// TxView is the public description of a committed transaction (GET
// .../transactions/{txId}, and entries of a block): never its arguments,
// read/write sets or private data.
type TxView struct {
	TxID           string `json:"txId"`
	Block          uint64 `json:"block"`
	Index          int    `json:"index"`
	ValidationCode string `json:"validationCode"`
	// Type is ENDORSER_TRANSACTION or CONFIG ("" when undecodable).
	Type        string `json:"type,omitempty"`
	CreatorMSP  string `json:"creatorMspId,omitempty"`
	Chaincode   string `json:"chaincode,omitempty"`
	Function    string `json:"function,omitempty"`
	Timestamp   string `json:"timestamp,omitempty"` // RFC 3339, the creator's clock
	EventCount  int    `json:"eventCount,omitempty"`
	Undecodable bool   `json:"undecodable,omitempty"`
}

// BlockView is the public description of a committed block.
type BlockView struct {
	Number       uint64   `json:"number"`
	Hash         string   `json:"hash"`         // hex SHA-256 of the header
	PreviousHash string   `json:"previousHash"` // hex
	DataHash     string   `json:"dataHash"`     // hex
	Timestamp    string   `json:"timestamp"`    // RFC 3339, the cutting orderer's clock
	LastConfig   uint64   `json:"lastConfig"`
	Transactions []TxView `json:"transactions"`
}

// decodedTx is a transaction of a block as the gateway reads it.
type decodedTx struct {
	view   TxView
	events []*pb.ChaincodeEvent // VALID transactions only
}

// maxEnvelopeBytes bounds one envelope decoded from a delivered block.
const maxEnvelopeBytes = protocol.MaxMessageBytes

// decodeBlock describes every transaction of b with the validation codes
// of its metadata. Envelopes that do not decode are marked Undecodable
// (their code says why the peer rejected them).
func decodeBlock(b *pb.Block) []decodedTx {
	envs := b.GetData().GetEnvelopes()
	codes := b.GetMetadata().GetValidationCodes()
	out := make([]decodedTx, len(envs))
	for i, env := range envs {
		code := pb.TxValidationCode(-1)
		if i < len(codes) {
			code = pb.TxValidationCode(codes[i])
		}
		out[i] = decodeTx(env, b.GetHeader().GetNumber(), i, code)
	}
	return out
}

func codeName(c pb.TxValidationCode) string {
	if _, ok := pb.TxValidationCode_name[int32(c)]; !ok {
		return "UNKNOWN"
	}
	return c.String()
}

func decodeTx(env []byte, block uint64, index int, code pb.TxValidationCode) decodedTx {
	d := decodedTx{view: TxView{Block: block, Index: index, ValidationCode: codeName(code)}}
	_, payload, hdr, err := protocol.OpenEnvelope(env, maxEnvelopeBytes)
	if err != nil {
		d.view.Undecodable = true
		return d
	}
	d.view.TxID, d.view.Type = hdr.TxId, hdr.Type.String()
	d.view.Timestamp = time.Unix(0, hdr.TimestampUnixNano).UTC().Format(time.RFC3339Nano)
	if si, err := protocol.ParseSerializedIdentity(hdr.Creator); err == nil {
		d.view.CreatorMSP = si.MspId
	}
	if hdr.Type != pb.HeaderType_ENDORSER_TRANSACTION {
		return d
	}
	et := new(pb.EndorsedTransaction)
	inv := new(pb.ChaincodeInvocation)
	prp := new(pb.ProposalResponsePayload)
	if protocol.Unmarshal(payload.Data, et, maxEnvelopeBytes) != nil ||
		protocol.Unmarshal(et.Invocation, inv, maxEnvelopeBytes) != nil ||
		protocol.Unmarshal(et.ResponsePayload, prp, maxEnvelopeBytes) != nil {
		d.view.Undecodable = true
		return d
	}
	d.view.Chaincode, d.view.Function = inv.Chaincode, inv.Function
	if code == pb.TxValidationCode_VALID && len(prp.Events) > 0 {
		evs := new(pb.ChaincodeEvents)
		if protocol.Unmarshal(prp.Events, evs, maxEnvelopeBytes) == nil {
			d.events = evs.Events
			d.view.EventCount = len(evs.Events)
		}
	}
	return d
}

// txIDPattern is a transaction ID: lowercase hex SHA-256.
var txIDPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// parseBlockNumber parses a decimal block number (no sign, no leading
// zeros but "0", at most 20 digits).
func parseBlockNumber(s string) (uint64, error) {
	if s == "" || len(s) > 20 || (len(s) > 1 && s[0] == '0') {
		return 0, errors.New("not a block number")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, errors.New("not a block number")
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, errors.New("block number out of range")
	}
	return n, nil
}

// lookupChannel validates the channel of a lookup or stream and that the
// caller may read it.
func (g *Gateway) lookupChannel(w http.ResponseWriter, r *http.Request, a *audit) (string, *auth.Principal, bool) {
	channel, _, e := pathNames(r)
	a.channel = channel
	if e != nil {
		g.fail(w, r, a, e)
		return "", nil, false
	}
	p, _ := auth.PrincipalFrom(r.Context())
	if !g.cfg.AllowChannel(p, channel) {
		g.fail(w, r, a, &apiError{http.StatusForbidden, "CHANNEL_NOT_ALLOWED", "you may not read this channel"})
		return "", nil, false
	}
	return channel, p, true
}

// lookupError maps a failed lookup on the own peer.
func lookupError(err error, what string) *apiError {
	if errors.Is(err, client.ErrNotFound) {
		return &apiError{http.StatusNotFound, "NOT_FOUND", what + " is not committed on the member's peer"}
	}
	var de *client.DeliverError
	if errors.As(err, &de) && de.Status == pb.Status_FORBIDDEN {
		return &apiError{http.StatusForbidden, "CHANNEL_NOT_ALLOWED", "the member's peer refuses this channel"}
	}
	if (errors.As(err, &de) && de.Status == pb.Status_NOT_FOUND) || status.Code(err) == codes.NotFound {
		return &apiError{http.StatusNotFound, "NOT_FOUND", "the member's peer has not joined this channel"}
	}
	if status.Code(err) == codes.PermissionDenied {
		return &apiError{http.StatusForbidden, "CHANNEL_NOT_ALLOWED", "the member's peer refuses this channel"}
	}
	return mapError(err)
}

// getTransaction answers GET /api/v1/channels/{channel}/transactions/{txId}:
// the transaction as the own peer committed it. A transaction of a
// chaincode function the caller may not call is answered as not found.
func (g *Gateway) getTransaction(w http.ResponseWriter, r *http.Request) {
	a := &audit{route: "transaction"}
	channel, p, ok := g.lookupChannel(w, r, a)
	if !ok {
		return
	}
	txID := r.PathValue("txId")
	if !txIDPattern.MatchString(txID) {
		g.fail(w, r, a, badRequest("a transaction ID is 64 lowercase hex digits"))
		return
	}
	a.txID = txID
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.Timeout)
	defer cancel()
	st, err := g.cfg.Client.TxStatus(ctx, "", channel, txID)
	if err != nil {
		g.fail(w, r, a, lookupError(err, "the transaction"))
		return
	}
	b, err := g.cfg.Client.Block(ctx, "", channel, st.Block)
	if err != nil {
		g.fail(w, r, a, lookupError(err, "the transaction's block"))
		return
	}
	for _, d := range decodeBlock(b) {
		if d.view.TxID != txID || d.view.ValidationCode != codeName(st.Code) {
			continue
		}
		if !g.txVisible(p, channel, &d.view) {
			break
		}
		a.chaincode, a.function = d.view.Chaincode, d.view.Function
		g.logAudit(r, a, http.StatusOK, "OK")
		writeJSON(w, http.StatusOK, d.view)
		return
	}
	g.fail(w, r, a, &apiError{http.StatusNotFound, "NOT_FOUND", "the transaction is not committed on the member's peer"})
}

// txVisible: administrators see every transaction; others the
// transactions of chaincode functions they may call.
func (g *Gateway) txVisible(p *auth.Principal, channel string, v *TxView) bool {
	if v.Type == pb.HeaderType_ENDORSER_TRANSACTION.String() {
		return g.cfg.Allow(p, channel, v.Chaincode, v.Function)
	}
	return g.cfg.Allow(p, channel, "_config", "")
}

// getBlock answers GET /api/v1/channels/{channel}/blocks/{number}: header
// fields and every transaction's ID and validation code; chaincode and
// function only of transactions the caller may see.
func (g *Gateway) getBlock(w http.ResponseWriter, r *http.Request) {
	a := &audit{route: "block"}
	channel, p, ok := g.lookupChannel(w, r, a)
	if !ok {
		return
	}
	n, err := parseBlockNumber(r.PathValue("number"))
	if err != nil {
		g.fail(w, r, a, badRequest("invalid block number: %v", err))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.Timeout)
	defer cancel()
	b, err := g.cfg.Client.Block(ctx, "", channel, n)
	if err != nil {
		g.fail(w, r, a, lookupError(err, fmt.Sprintf("block %d", n)))
		return
	}
	g.logAudit(r, a, http.StatusOK, "OK")
	writeJSON(w, http.StatusOK, g.blockView(p, channel, b))
}

func (g *Gateway) blockView(p *auth.Principal, channel string, b *pb.Block) BlockView {
	h := b.GetHeader()
	v := BlockView{
		Number: h.GetNumber(), Hash: fmt.Sprintf("%x", protocol.BlockHeaderHash(h)),
		PreviousHash: fmt.Sprintf("%x", h.GetPreviousHash()), DataHash: fmt.Sprintf("%x", h.GetDataHash()),
		Timestamp:  time.Unix(0, h.GetTimestampUnixNano()).UTC().Format(time.RFC3339Nano),
		LastConfig: b.GetMetadata().GetLastConfig(), Transactions: []TxView{},
	}
	for _, d := range decodeBlock(b) {
		v.Transactions = append(v.Transactions, g.redact(p, channel, d.view))
	}
	return v
}

// redact keeps a transaction's ID, position and validation code, and the
// rest only when the caller may see it.
func (g *Gateway) redact(p *auth.Principal, channel string, t TxView) TxView {
	if g.txVisible(p, channel, &t) {
		return t
	}
	return TxView{TxID: t.TxID, Block: t.Block, Index: t.Index, ValidationCode: t.ValidationCode}
}
