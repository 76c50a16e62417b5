package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/blossom-ledger/blossom/internal/gateway/auth"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// Event stream defaults.
const (
	DefaultMaxStreamsPerUser = 4
	DefaultMaxStreams        = 1000
	DefaultHeartbeat         = 15 * time.Second
	// streamWriteTimeout bounds one write to a stream: a client that
	// stops reading loses its stream instead of holding it forever.
	streamWriteTimeout = 30 * time.Second
)

// BlockEvent is the data of an SSE "block" event: the block's number and
// time and its transactions, those the caller may not see reduced to ID
// and validation code. Its SSE id is the block number.
type BlockEvent struct {
	Number       uint64   `json:"number"`
	Timestamp    string   `json:"timestamp"`
	Transactions []TxView `json:"transactions"`
}

// ChaincodeEvent is the data of an SSE "chaincode" event, sent for the
// events of VALID transactions the caller may see, before their block's
// "block" event. Its SSE id is "<block>:<n>", n counting the block's
// chaincode events from 0.
type ChaincodeEvent struct {
	Block     uint64 `json:"block"`
	TxID      string `json:"txId"`
	Chaincode string `json:"chaincode"`
	Function  string `json:"function"`
	Name      string `json:"name"`
	Payload   []byte `json:"payload"` // base64
}

// eventPosition is where a stream resumes: the first block to send, and
// in it how many chaincode events were already delivered (skip).
type eventPosition struct {
	block uint64
	skip  uint64
}

// maxEventIDLen bounds a Last-Event-ID header.
const maxEventIDLen = 64

// parseEventID decodes a Last-Event-ID: "<block>" (the block was
// delivered whole: resume after it) or "<block>:<n>" (chaincode event n of
// the block was the last delivered: resume inside the block).
func parseEventID(s string) (eventPosition, error) {
	if len(s) > maxEventIDLen {
		return eventPosition{}, errors.New("event ID too long")
	}
	blockPart, eventPart, inBlock := strings.Cut(s, ":")
	n, err := parseBlockNumber(blockPart)
	if err != nil {
		return eventPosition{}, err
	}
	if !inBlock {
		if n == ^uint64(0) {
			return eventPosition{}, errors.New("block number out of range")
		}
		return eventPosition{block: n + 1}, nil
	}
	i, err := parseBlockNumber(eventPart)
	if err != nil || i >= 1<<32 {
		return eventPosition{}, errors.New("not an event index")
	}
	return eventPosition{block: n, skip: i + 1}, nil
}

// streamSlots bounds concurrent event streams per user and in all.
type streamSlots struct {
	mu       sync.Mutex
	perUser  int
	maxTotal int
	total    int
	count    map[string]int
}

func (s *streamSlots) acquire(user string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.count[user] >= s.perUser || s.total >= s.maxTotal {
		return false
	}
	s.count[user]++
	s.total++
	return true
}

func (s *streamSlots) release(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total--
	if s.count[user]--; s.count[user] <= 0 {
		delete(s.count, user)
	}
}

// Shutdown ends the event streams (each gets a final "close" event);
// NewServer registers it with the server's Shutdown, which does not end
// running handlers itself. It is idempotent.
func (g *Gateway) Shutdown() { g.closeOnce.Do(func() { close(g.closing) }) }

// events serves GET /api/v1/channels/{channel}/events as Server-Sent
// Events from the own peer's committed blocks: from the block after
// Last-Event-ID, else from ?fromBlock, else from the next block.
func (g *Gateway) events(w http.ResponseWriter, r *http.Request) {
	a := &audit{route: "events"}
	channel, p, ok := g.lookupChannel(w, r, a)
	if !ok {
		return
	}
	var pos eventPosition
	var err error
	switch last, from := r.Header.Get("Last-Event-ID"), r.URL.Query().Get("fromBlock"); {
	case last != "":
		if pos, err = parseEventID(last); err != nil {
			g.fail(w, r, a, badRequest("invalid Last-Event-ID: %v", err))
			return
		}
	case from != "":
		if pos.block, err = parseBlockNumber(from); err != nil {
			g.fail(w, r, a, badRequest("invalid fromBlock: %v", err))
			return
		}
	default:
		ctx, cancel := context.WithTimeout(r.Context(), g.cfg.Timeout)
		info, err := g.cfg.Client.ChannelInfo(ctx, "", channel)
		cancel()
		if err != nil {
			g.fail(w, r, a, lookupError(err, "the channel"))
			return
		}
		pos.block = info.Height
	}
	user := p.Issuer + "\x00" + p.Subject
	if !g.streams.acquire(user) {
		w.Header().Set("Retry-After", "5")
		g.fail(w, r, a, &apiError{http.StatusTooManyRequests, "TOO_MANY_STREAMS",
			fmt.Sprintf("at most %d event streams per user (and %d in all)", g.cfg.MaxStreamsPerUser, g.cfg.MaxStreams)})
		return
	}
	defer g.streams.release(user)
	g.logAudit(r, a, http.StatusOK, "STREAM_OPENED")

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	// The server's read deadline must not end a long-lived stream.
	_ = rc.SetReadDeadline(time.Time{})

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	blocks := make(chan *pb.Block, 16)
	delivered := make(chan error, 1)
	go func() {
		delivered <- g.cfg.Client.Deliver(ctx, "", channel, pos.block, nil, false, func(b *pb.Block) error {
			select {
			case blocks <- b:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	heartbeat := time.NewTicker(g.cfg.Heartbeat)
	defer heartbeat.Stop()
	var mu sync.Mutex // one writer at a time
	write := func(s string) error {
		mu.Lock()
		defer mu.Unlock()
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		if _, err := w.Write([]byte(s)); err != nil {
			return err
		}
		return rc.Flush()
	}
	if write(": stream open\n\n") != nil {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-g.closing:
			_ = write("event: close\ndata: {\"reason\":\"gateway shutting down\"}\n\n")
			return
		case err := <-delivered:
			if ctx.Err() == nil {
				g.log.Warn("gateway: event stream ended by the peer", "channel", channel, "err", err)
				_ = write("event: close\ndata: {\"reason\":\"the member's peer ended the stream\"}\n\n")
			}
			return
		case <-heartbeat.C:
			if !g.stillActive(p, write) || write(": heartbeat\n\n") != nil {
				return
			}
		case b := <-blocks:
			if !g.stillActive(p, write) {
				return
			}
			skip := uint64(0)
			if b.GetHeader().GetNumber() == pos.block {
				skip = pos.skip
			}
			if write(g.formatBlock(p, channel, b, skip)) != nil {
				return
			}
		}
	}
}

// stillActive asks Config.Active about p; a caller no longer active gets
// a final "close" event.
func (g *Gateway) stillActive(p *auth.Principal, write func(string) error) bool {
	if g.cfg.Active == nil || g.cfg.Active(p) {
		return true
	}
	g.log.Info("gateway: ending the event stream of a disabled user", "enrollmentId", p.EnrollmentID)
	_ = write("event: close\ndata: {\"reason\":\"account disabled\"}\n\n")
	return false
}

// formatBlock renders one block's SSE events for p: its visible chaincode
// events (skipping the first skip), then the block event.
func (g *Gateway) formatBlock(p *auth.Principal, channel string, b *pb.Block, skip uint64) string {
	var sb strings.Builder
	n := b.GetHeader().GetNumber()
	be := BlockEvent{Number: n, Timestamp: time.Unix(0, b.GetHeader().GetTimestampUnixNano()).UTC().Format(time.RFC3339Nano),
		Transactions: []TxView{}}
	var index uint64
	for _, d := range decodeBlock(b) {
		be.Transactions = append(be.Transactions, g.redact(p, channel, d.view))
		for _, ev := range d.events {
			i := index
			index++
			if i < skip || !g.eventVisible(p, channel, &d.view, ev) {
				continue
			}
			writeEvent(&sb, "chaincode", strconv.FormatUint(n, 10)+":"+strconv.FormatUint(i, 10), ChaincodeEvent{
				Block: n, TxID: d.view.TxID, Chaincode: ev.GetChaincode(), Function: d.view.Function,
				Name: ev.GetName(), Payload: ev.GetPayload(),
			})
		}
	}
	writeEvent(&sb, "block", strconv.FormatUint(n, 10), be)
	return sb.String()
}

// eventVisible: a chaincode event is shown to callers who may call the
// transaction's function, and (for an event a called chaincode emitted)
// that chaincode.
func (g *Gateway) eventVisible(p *auth.Principal, channel string, tx *TxView, ev *pb.ChaincodeEvent) bool {
	if !g.cfg.Allow(p, channel, tx.Chaincode, tx.Function) {
		return false
	}
	return ev.GetChaincode() == tx.Chaincode || g.cfg.Allow(p, channel, ev.GetChaincode(), "")
}

func writeEvent(sb *strings.Builder, typ, id string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		return
	}
	// JSON has no raw newlines, so data fits one "data:" line.
	fmt.Fprintf(sb, "id: %s\nevent: %s\ndata: %s\n\n", id, typ, data)
}
