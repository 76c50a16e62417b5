package gateway_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/chaincode/kvtest"
	"github.com/blossom-ledger/blossom/internal/gateway"
	"github.com/blossom-ledger/blossom/internal/gateway/auth"
	"github.com/blossom-ledger/blossom/internal/gateway/gatewaytest"
	"github.com/blossom-ledger/blossom/internal/network/nettest"
	"github.com/blossom-ledger/blossom/internal/peer"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// sseEvent is one Server-Sent Event, or a comment line.
type sseEvent struct {
	id, typ, data string
	comment       string
}

// stream reads an event stream in the background.
type stream struct {
	resp   *http.Response
	events chan sseEvent
	done   chan error
}

// openStream opens the channel's event stream with hc (token if set) and
// the given Last-Event-ID and query.
func openStream(t *testing.T, f *fixture, hc *http.Client, token, lastID, query string) (*stream, answer) {
	t.Helper()
	req, err := http.NewRequest("GET", f.URL+"/api/v1/channels/blossom/events"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return nil, answer{resp.StatusCode, b}
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	s := &stream{resp: resp, events: make(chan sseEvent, 1024), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev != (sseEvent{}) {
					s.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
				s.events <- sseEvent{comment: strings.TrimSpace(line[1:])}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.typ = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
		s.done <- sc.Err()
		close(s.events)
	}()
	t.Cleanup(func() { resp.Body.Close() })
	return s, answer{status: 200}
}

// openStreamFree opens a stream once a slot is free: a closed stream's
// slot frees when the gateway notices the closed connection.
func openStreamFree(t *testing.T, f *fixture, hc *http.Client, token, lastID, query string) *stream {
	t.Helper()
	var s *stream
	nettest.Eventually(t, 20*time.Second, func() error {
		var a answer
		if s, a = openStream(t, f, hc, token, lastID, query); s == nil {
			if a.status != http.StatusTooManyRequests {
				t.Fatalf("open: %d %s", a.status, a.body)
			}
			return errors.New("no free stream slot")
		}
		return nil
	})
	return s
}

// next returns the next event that is not a comment (or a comment when
// comments is set), failing after the deadline.
func (s *stream) next(t *testing.T, comments bool) sseEvent {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				t.Fatalf("stream ended: %v", <-s.done)
			}
			if (ev.comment != "") == comments {
				return ev
			}
		case <-deadline:
			t.Fatal("no event within 20 s")
		}
	}
}

// untilBlock collects the events up to and including block n's.
func (s *stream) untilBlock(t *testing.T, n uint64) []sseEvent {
	t.Helper()
	var out []sseEvent
	for {
		ev := s.next(t, false)
		out = append(out, ev)
		if ev.typ == "block" && ev.id == strconv.FormatUint(n, 10) {
			return out
		}
	}
}

func submitOK(t *testing.T, f *fixture, path string, body []byte) gateway.SubmitResponse {
	t.Helper()
	a := f.do(t, "POST", path, f.token, body)
	var res gateway.SubmitResponse
	if err := json.Unmarshal(a.body, &res); err != nil || a.status != 200 || res.Status != "VALID" {
		t.Fatalf("submit: %d %s", a.status, a.body)
	}
	return res
}

// viewerAllow lets role "Viewer" call kv:Get only; others as DefaultAllow.
func viewerAllow(p *auth.Principal, channel, chaincode, function string) bool {
	if p.Role == "Viewer" {
		return chaincode == "kv" && function == "kv:Get"
	}
	return gateway.DefaultAllow(p, channel, chaincode, function)
}

// pdcChaincode reads a private value and writes it back changed: a
// transaction only the collection's holder can endorse.
func pdcChaincode() contract.Chaincode {
	return contract.New(contract.Contract{Name: "pdc", Functions: map[string]contract.Function{
		"Put": func(stub contract.Stub, args [][]byte) ([]byte, error) {
			return nil, stub.PutPrivateData(string(args[0]), string(args[1]), stub.GetTransient()["value"])
		},
		"Get": func(stub contract.Stub, args [][]byte) ([]byte, error) {
			return stub.GetPrivateData(string(args[0]), string(args[1]))
		},
		"Bump": func(stub contract.Stub, args [][]byte) ([]byte, error) {
			v, err := stub.GetPrivateData(string(args[0]), string(args[1]))
			if err != nil {
				return nil, err
			}
			v = append(v, '!')
			return v, stub.PutPrivateData(string(args[0]), string(args[1]), v)
		},
	}})
}

func TestLedgerLookupsAndEvents(t *testing.T) {
	f := newFixture(t, gatewaytest.Options{
		Gateway: func(c *gateway.Config) {
			c.Allow = viewerAllow
			c.MaxStreamsPerUser = 2
			c.Heartbeat = 100 * time.Millisecond
		},
		Network: nettest.Options{Chaincodes: func() []peer.Definition {
			return []peer.Definition{
				{Name: nettest.KVChaincode, EndorsementPolicy: "MAJORITY Endorsement", Chaincode: kvtest.New()},
				{Name: "pdc", EndorsementPolicy: "MAJORITY Endorsement", Chaincode: pdcChaincode()},
			}
		}},
	})
	viewer := f.AppCredential(t, "viewer1", "Viewer")
	viewerHTTP := f.HTTPClient(&viewer.TLS)

	// Streams opened before the transaction see it live.
	live, _ := openStream(t, f, f.http, f.token, "", "")
	viewerLive, _ := openStream(t, f, viewerHTTP, "", "", "")
	res := submitOK(t, f, kvPath+"submit", invoke("kv:Event", "made", "payload-1"))
	txPath := "/api/v1/channels/blossom/transactions/" + res.TxID
	blockPath := fmt.Sprintf("/api/v1/channels/blossom/blocks/%d", res.Block)

	t.Run("live chaincode and block events", func(t *testing.T) {
		evs := live.untilBlock(t, res.Block)
		var cc []gateway.ChaincodeEvent
		for _, ev := range evs {
			if ev.typ == "chaincode" {
				var c gateway.ChaincodeEvent
				if err := json.Unmarshal([]byte(ev.data), &c); err != nil {
					t.Fatal(err)
				}
				if c.Block == res.Block && ev.id != fmt.Sprintf("%d:0", res.Block) {
					t.Errorf("chaincode event id %q", ev.id)
				}
				cc = append(cc, c)
			}
		}
		if len(cc) != 1 || cc[0].TxID != res.TxID || cc[0].Name != "made" || string(cc[0].Payload) != "payload-1" ||
			cc[0].Chaincode != "kv" || cc[0].Function != "kv:Event" {
			t.Fatalf("chaincode events %+v", cc)
		}
		var be gateway.BlockEvent
		if err := json.Unmarshal([]byte(evs[len(evs)-1].data), &be); err != nil {
			t.Fatal(err)
		}
		if be.Number != res.Block || len(be.Transactions) != 1 || be.Transactions[0].TxID != res.TxID ||
			be.Transactions[0].ValidationCode != "VALID" || be.Transactions[0].Function != "kv:Event" {
			t.Fatalf("block event %+v", be)
		}
	})

	t.Run("filtered for a role that may not call the function", func(t *testing.T) {
		evs := viewerLive.untilBlock(t, res.Block)
		for _, ev := range evs {
			if ev.typ == "chaincode" {
				t.Fatalf("the viewer got a chaincode event: %s", ev.data)
			}
		}
		var be gateway.BlockEvent
		json.Unmarshal([]byte(evs[len(evs)-1].data), &be)
		tx := be.Transactions[0]
		if tx.TxID != res.TxID || tx.ValidationCode != "VALID" || tx.Chaincode != "" || tx.Function != "" || tx.CreatorMSP != "" {
			t.Fatalf("the viewer's block event shows %+v", tx)
		}
		vf := &fixture{Gateway: f.Gateway, http: viewerHTTP, secrets: f.secrets}
		wantCode(t, vf.do(t, "GET", txPath, "", nil), 404, "NOT_FOUND")
		a := vf.do(t, "GET", blockPath, "", nil)
		var bv gateway.BlockView
		if err := json.Unmarshal(a.body, &bv); err != nil || a.status != 200 {
			t.Fatalf("viewer's block: %d %s", a.status, a.body)
		}
		if len(bv.Transactions) != 1 || bv.Transactions[0].Function != "" || bv.Transactions[0].ValidationCode != "VALID" {
			t.Fatalf("viewer's block %+v", bv)
		}
		noRole := f.AppCredential(t, "norole", "")
		nf := &fixture{Gateway: f.Gateway, http: f.HTTPClient(&noRole.TLS), secrets: f.secrets}
		wantCode(t, nf.do(t, "GET", blockPath, "", nil), 403, "CHANNEL_NOT_ALLOWED")
		if _, a := openStream(t, f, nf.http, "", "", ""); a.status != 403 {
			t.Fatalf("a caller without a role opened a stream: %d", a.status)
		}
	})

	t.Run("transaction lookup", func(t *testing.T) {
		a := f.do(t, "GET", txPath, f.token, nil)
		var tv gateway.TxView
		if err := json.Unmarshal(a.body, &tv); err != nil || a.status != 200 {
			t.Fatalf("lookup: %d %s", a.status, a.body)
		}
		ts, err := time.Parse(time.RFC3339Nano, tv.Timestamp)
		if tv.TxID != res.TxID || tv.Block != res.Block || tv.ValidationCode != "VALID" || tv.CreatorMSP != gatewaytest.MSPID ||
			tv.Chaincode != "kv" || tv.Function != "kv:Event" || tv.EventCount != 1 || tv.Type != "ENDORSER_TRANSACTION" ||
			err != nil || time.Since(ts) > time.Hour {
			t.Fatalf("lookup %+v", tv)
		}
		if strings.Contains(string(a.body), "payload-1") {
			t.Fatal("the lookup shows the event payload")
		}
	})

	t.Run("block lookup", func(t *testing.T) {
		a := f.do(t, "GET", blockPath, f.token, nil)
		var bv gateway.BlockView
		if err := json.Unmarshal(a.body, &bv); err != nil || a.status != 200 {
			t.Fatalf("block: %d %s", a.status, a.body)
		}
		b, err := f.Net.PeerChannel(0).Ledger().Block(res.Block)
		if err != nil {
			t.Fatal(err)
		}
		if bv.Number != res.Block || len(bv.Hash) != 64 || bv.PreviousHash != fmt.Sprintf("%x", b.Header.PreviousHash) ||
			len(bv.Transactions) != len(b.Data.Envelopes) || bv.Transactions[0].TxID != res.TxID {
			t.Fatalf("block %+v", bv)
		}
		// The genesis block is a config block: administrators only see
		// its details.
		a = f.do(t, "GET", "/api/v1/channels/blossom/blocks/0", f.token, nil)
		var genesis gateway.BlockView
		if err := json.Unmarshal(a.body, &genesis); err != nil || a.status != 200 || genesis.Number != 0 || len(genesis.Transactions) != 1 ||
			genesis.Transactions[0].Type != "" || genesis.Transactions[0].ValidationCode != "VALID" {
			t.Fatalf("genesis block: %d %s", a.status, a.body)
		}
	})

	t.Run("lookup refusals", func(t *testing.T) {
		tests := []struct {
			name, path string
			status     int
			code       string
		}{
			{"unknown transaction", "/api/v1/channels/blossom/transactions/" + strings.Repeat("0", 64), 404, "NOT_FOUND"},
			{"uppercase ID", "/api/v1/channels/blossom/transactions/" + strings.ToUpper(res.TxID), 400, "BAD_REQUEST"},
			{"short ID", "/api/v1/channels/blossom/transactions/abc", 400, "BAD_REQUEST"},
			{"future block", "/api/v1/channels/blossom/blocks/999999", 404, "NOT_FOUND"},
			{"leading zero", "/api/v1/channels/blossom/blocks/01", 400, "BAD_REQUEST"},
			{"negative", "/api/v1/channels/blossom/blocks/-1", 400, "BAD_REQUEST"},
			{"overflow", "/api/v1/channels/blossom/blocks/18446744073709551616", 400, "BAD_REQUEST"},
			{"unknown channel", "/api/v1/channels/nochannel/blocks/0", 404, "NOT_FOUND"},
			{"bad channel", "/api/v1/channels/b%20d/blocks/0", 400, "BAD_REQUEST"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				wantCode(t, f.do(t, "GET", tc.path, f.token, nil), tc.status, tc.code)
			})
		}
		wantCode(t, f.do(t, "GET", blockPath, "", nil), 401, auth.CodeUnauthenticated)
		req, _ := http.NewRequest("GET", f.URL+"/api/v1/channels/nochannel/events", nil)
		req.Header.Set("Authorization", "Bearer "+f.token)
		resp, err := f.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Fatalf("events of an unknown channel: %d", resp.StatusCode)
		}
	})

	t.Run("resume", func(t *testing.T) {
		tests := []struct {
			name, lastID, query string
			firstType, firstID  string
		}{
			{"after the previous block", strconv.FormatUint(res.Block-1, 10), "", "chaincode", fmt.Sprintf("%d:0", res.Block)},
			{"inside the block", fmt.Sprintf("%d:0", res.Block), "", "block", strconv.FormatUint(res.Block, 10)},
			{"from a block", "", fmt.Sprintf("?fromBlock=%d", res.Block), "chaincode", fmt.Sprintf("%d:0", res.Block)},
			{"Last-Event-ID wins over fromBlock", fmt.Sprintf("%d:0", res.Block), "?fromBlock=0", "block", strconv.FormatUint(res.Block, 10)},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				s := openStreamFree(t, f, f.http, f.token, tc.lastID, tc.query)
				ev := s.next(t, false)
				if ev.typ != tc.firstType || ev.id != tc.firstID {
					t.Fatalf("first event %s %s, want %s %s", ev.typ, ev.id, tc.firstType, tc.firstID)
				}
				s.resp.Body.Close()
			})
		}
		for _, bad := range []string{"x", "1:", ":1", "01", "1:2:3", strings.Repeat("9", 65)} {
			if _, a := openStream(t, f, f.http, f.token, bad, ""); a.status != 400 {
				t.Errorf("Last-Event-ID %q: %d", bad, a.status)
			}
		}
	})

	t.Run("heartbeat", func(t *testing.T) {
		if ev := live.next(t, true); ev.comment != "heartbeat" {
			t.Fatalf("comment %q", ev.comment)
		}
	})

	t.Run("streams per user", func(t *testing.T) {
		// viewerLive is the viewer's first stream.
		second, _ := openStream(t, f, viewerHTTP, "", "", "")
		if second == nil {
			t.Fatal("the second stream was refused")
		}
		_, a := openStream(t, f, viewerHTTP, "", "", "")
		wantCode(t, a, 429, "TOO_MANY_STREAMS")
		second.resp.Body.Close()
		// The slot frees once the gateway sees the stream closed.
		openStreamFree(t, f, viewerHTTP, "", "", "").resp.Body.Close()
	})

	t.Run("submit re-routed to the collection's holder", func(t *testing.T) {
		coll := peer.ImplicitCollection("Org2MSP")
		const pdcPath = "/api/v1/channels/blossom/chaincodes/pdc/"
		put, _ := json.Marshal(gateway.InvokeRequest{Function: "pdc:Put", Args: []string{coll, "pk"},
			Transient: map[string]string{"value": "v"}, EndorsingMembers: []string{"Org2MSP"}})
		stored := submitOK(t, f, pdcPath+"submit", put)
		// Planned on Org1 and Org2 (MAJORITY); Org1's peer answers
		// PRIVATE_DATA_NOT_HELD and Org2's peer alone endorses.
		bump, _ := json.Marshal(gateway.InvokeRequest{Function: "pdc:Bump", Args: []string{coll, "pk"}, MinBlock: stored.Block + 1})
		r := submitOK(t, f, pdcPath+"submit", bump)
		if r.Result == nil || *r.Result != "v!" {
			t.Fatalf("bump result %q", *r.Result)
		}
		if !strings.Contains(f.Logs.String(), "gateway: re-routing an endorsement") {
			t.Fatal("no re-routing logged")
		}
		// An evaluation is re-routed the same way.
		get, _ := json.Marshal(gateway.InvokeRequest{Function: "pdc:Get", Args: []string{coll, "pk"}, MinBlock: r.Block + 1})
		a := f.do(t, "POST", pdcPath+"evaluate", f.token, get)
		var ev gateway.EvaluateResponse
		if json.Unmarshal(a.body, &ev); a.status != 200 || ev.Result != "v!" {
			t.Fatalf("read back: %d %s", a.status, a.body)
		}
		// A collection nobody holds cannot be re-routed: the answer says
		// which peer refused.
		bad, _ := json.Marshal(gateway.InvokeRequest{Function: "pdc:Bump", Args: []string{"no-such-collection", "pk"}})
		if a := f.do(t, "POST", pdcPath+"submit", f.token, bad); a.status < 400 {
			t.Fatalf("unknown collection: %d %s", a.status, a.body)
		}
	})

	t.Run("shutdown closes the streams", func(t *testing.T) {
		f.Gateway.Gateway.Shutdown()
		for {
			ev := live.next(t, false)
			if ev.typ == "close" {
				break
			}
		}
		select {
		case err := <-live.done:
			if err != nil && !errors.Is(err, io.EOF) {
				t.Fatalf("stream end: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the stream stayed open after shutdown")
		}
	})

	t.Run("no secrets in logs", func(t *testing.T) {
		logs := f.Logs.String()
		for _, s := range f.secrets {
			if strings.Contains(logs, s) {
				t.Fatal("a secret reached the logs")
			}
		}
	})
}
