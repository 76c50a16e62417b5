package orderer

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
	"github.com/blossom-ledger/blossom/internal/transport"
	"github.com/blossom-ledger/blossom/internal/txn"
)

const testChannel = "blossom"

// logBuffer collects the cluster's log lines (Info and above) so tests can
// wait for a line; with -v it also echoes Warn and above to stderr.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	ch  chan struct{}
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if b.ch != nil {
		close(b.ch)
		b.ch = nil
	}
	return len(p), nil
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits until a log line contains want.
func (b *logBuffer) waitFor(t testing.TB, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		b.mu.Lock()
		if strings.Contains(b.buf.String(), want) {
			b.mu.Unlock()
			return
		}
		if b.ch == nil {
			b.ch = make(chan struct{})
		}
		ch := b.ch
		b.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no log line containing %q within %s", want, timeout)
		}
	}
}

func newTestLogger(tb testing.TB) (*slog.Logger, *logBuffer) {
	buf := &logBuffer{}
	var w io.Writer = buf
	level := slog.LevelInfo
	if testing.Verbose() && os.Getenv("ORDERER_TEST_LOG") != "" {
		w = io.MultiWriter(buf, os.Stderr)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), buf
}

// testNode is one orderer of a test cluster.
type testNode struct {
	cred    *testpki.Credential
	msp     string
	dir     string
	addr    string
	node    *Node
	reg     *prometheus.Registry // its metrics, kept across restarts
	metrics *Metrics
}

// cluster is a consortium of members, one orderer each, on 127.0.0.1 with
// real mutual TLS, real Raft and real files.
type cluster struct {
	t       testing.TB
	pki     *testpki.Consortium
	genesis *pb.Block
	nodes   []*testNode
	admins  map[string]*testpki.Credential
	clients map[string]*testpki.Credential
	log     *slog.Logger
	logs    *logBuffer
	trust   *transport.TrustSource
	// maxPending is the orderers' admission bound (0: the default).
	maxPending int
}

func mspID(i int) string { return fmt.Sprintf("Org%dMSP", i+1) }

// newCluster starts n orderers, one for each of the first n of
// max(n, 3) members; mutate may adjust the genesis configuration.
func newCluster(t testing.TB, n int, mutate func(*pb.ChannelConfig), opts ...func(*cluster)) *cluster {
	t.Helper()
	var ids []string
	for i := 0; i < max(n, 3); i++ {
		ids = append(ids, mspID(i))
	}
	c := &cluster{t: t, pki: testpki.NewConsortium(t, ids...), admins: map[string]*testpki.Credential{}, clients: map[string]*testpki.Credential{}}
	c.log, c.logs = newTestLogger(t)
	cc := &pb.ChannelConfig{
		ChannelId:  testChannel,
		Capability: channelconfig.CapabilityV1,
		Members:    map[string]*pb.MemberConfig{},
		Orderer:    &pb.OrdererConfig{},
		Policies:   channelconfig.DefaultPolicies(),
	}
	listeners := make([]net.Listener, n)
	for i, id := range ids {
		m := c.pki.Member(id)
		cc.Members[id] = &pb.MemberConfig{MspId: id, RootCerts: [][]byte{c.pki.Root.Cert.Raw}, IntermediateCerts: [][]byte{m.CA.Cert.Raw}}
		c.admins[id] = m.Issue(pki.RoleAdmin, "admin"+fmt.Sprint(i), nil)
		c.clients[id] = m.Issue(pki.RoleClient, "client"+fmt.Sprint(i), nil)
		if i >= n {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		listeners[i] = ln
		tn := &testNode{cred: m.Issue(pki.RoleOrderer, fmt.Sprintf("orderer%d", i), nil), msp: id, dir: filepath.Join(t.TempDir(), fmt.Sprintf("orderer%d", i)), addr: ln.Addr().String()}
		c.nodes = append(c.nodes, tn)
		cc.Orderer.Consenters = append(cc.Orderer.Consenters, &pb.Consenter{Id: tn.cred.Cert.Subject.CommonName, MspId: id, Address: tn.addr, CertDer: tn.cred.Cert.Raw})
	}
	if mutate != nil {
		mutate(cc)
	}
	var err error
	if c.genesis, err = channelconfig.GenesisBlock(cc, time.Now()); err != nil {
		t.Fatal(err)
	}
	c.trust = transport.NewTrustSource(c.pki.Manager())
	for _, o := range opts {
		o(c)
	}
	for i := range c.nodes {
		c.startWith(i, listeners[i])
	}
	t.Cleanup(func() {
		for _, tn := range c.nodes {
			if tn.node != nil {
				tn.node.stop(false)
			}
		}
		if t.Failed() {
			logs := c.logs.String()
			if len(logs) > 20000 {
				logs = "...\n" + logs[len(logs)-20000:]
			}
			t.Logf("orderer logs:\n%s", logs)
		}
	})
	return c
}

func (c *cluster) startWith(i int, ln net.Listener) {
	c.t.Helper()
	tn := c.nodes[i]
	if tn.metrics == nil {
		tn.reg = prometheus.NewRegistry()
		tn.metrics = NewMetrics(tn.reg)
	}
	node, err := NewNode(Config{
		DataDir:             tn.dir,
		Listener:            ln,
		Certificate:         tn.cred.TLS,
		GenesisBlocks:       []*pb.Block{c.genesis},
		Logger:              c.log,
		Metrics:             tn.metrics,
		MaxPendingEnvelopes: c.maxPending,
	})
	if err != nil {
		c.t.Fatalf("start orderer %d: %v", i, err)
	}
	tn.node = node
}

// restart starts a stopped orderer again on the same directory and address.
func (c *cluster) restart(i int) {
	c.t.Helper()
	var ln net.Listener
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for {
		if ln, err = net.Listen("tcp", c.nodes[i].addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // the port may linger briefly after close
	}
	if err != nil {
		c.t.Fatalf("re-listen on %s: %v", c.nodes[i].addr, err)
	}
	c.startWith(i, ln)
}

// kill stops orderer i abruptly (no leadership transfer).
func (c *cluster) kill(i int) {
	c.t.Helper()
	if err := c.nodes[i].node.stop(false); err != nil {
		c.t.Logf("stop orderer %d: %v", i, err)
	}
	c.nodes[i].node = nil
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// leader waits for a leader that every running orderer agrees on.
func (c *cluster) leader() int {
	c.t.Helper()
	idx := -1
	eventually(c.t, 15*time.Second, "a leader", func() bool {
		id := ""
		for _, tn := range c.nodes {
			if tn.node == nil || tn.node.chain(testChannel).retired.Load() {
				continue
			}
			l := tn.node.Leader(testChannel)
			if l == "" || (id != "" && l != id) {
				return false
			}
			id = l
		}
		for i, tn := range c.nodes {
			if tn.cred.Cert.Subject.CommonName == id && tn.node != nil && tn.node.chain(testChannel).isLeader() {
				idx = i
				return true
			}
		}
		return false
	})
	return idx
}

func (c *cluster) height(i int) uint64 {
	h, err := c.nodes[i].node.Height(testChannel)
	if err != nil {
		c.t.Fatal(err)
	}
	return h
}

// waitSameHeight waits until every running orderer has the same height,
// at least min, and returns it.
func (c *cluster) waitSameHeight(min uint64, timeout time.Duration) uint64 {
	c.t.Helper()
	var h uint64
	eventually(c.t, timeout, "equal heights", func() bool {
		h = 0
		for i, tn := range c.nodes {
			if tn.node == nil {
				continue
			}
			hi := c.height(i)
			if hi < min || (h != 0 && hi != h) {
				return false
			}
			h = hi
		}
		return true
	})
	return h
}

// dial opens a gRPC connection to orderer i with cred's certificate.
func (c *cluster) dial(i int, cred *testpki.Credential) *grpc.ClientConn {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := transport.Dial(ctx, c.nodes[i].addr, transport.ClientTLSConfig(cred.TLS, c.trust, pki.RoleOrderer), transport.WithMaxMessageSize(maxGRPCMessage))
	if err != nil {
		c.t.Fatalf("dial orderer %d: %v", i, err)
	}
	c.t.Cleanup(func() { conn.Close() })
	return conn
}

// newEnvelope builds an endorser-transaction envelope of about size bytes
// of data, signed by cred.
func newEnvelope(t testing.TB, cred *testpki.Credential, channel string, size int) ([]byte, string) {
	t.Helper()
	hdr, txID, err := txn.NewHeader(cred.Signer, pb.HeaderType_ENDORSER_TRANSACTION, channel, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, size)
	rand.Read(data)
	env, err := txn.SignEnvelope(cred.Signer, hdr, data)
	if err != nil {
		t.Fatal(err)
	}
	return env, txID
}

func decodeEnvelope(t testing.TB, raw []byte) *pb.Envelope {
	t.Helper()
	env := new(pb.Envelope)
	if err := protocol.Unmarshal(raw, env, 0); err != nil {
		t.Fatal(err)
	}
	return env
}

// broadcastOne sends one envelope on a fresh stream and returns the answer.
func broadcastOne(t testing.TB, conn *grpc.ClientConn, raw []byte) *pb.BroadcastResponse {
	t.Helper()
	return sendOne(t, conn, decodeEnvelope(t, raw))
}

// sendOne sends one envelope as given (fields set by the test kept) on a
// fresh Broadcast stream and returns the answer.
func sendOne(t testing.TB, conn *grpc.ClientConn, env *pb.Envelope) *pb.BroadcastResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := pb.NewAtomicBroadcastClient(conn).Broadcast(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(env); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	stream.CloseSend()
	return resp
}

// broadcastAccepted broadcasts raw until the ordering service takes it,
// as a client does: an answer of SERVICE_UNAVAILABLE (no leader, or
// leadership moved while the envelope was in flight: on a loaded machine
// starved heartbeats can cost the first leader its term) is retried once
// the cluster agrees on a leader again, and CONFLICT DUPLICATE_TXID on a retry
// means the earlier attempt was ordered after all. Any other answer
// fails the test.
func (c *cluster) broadcastAccepted(conn *grpc.ClientConn, raw []byte, txID string) {
	c.t.Helper()
	for attempt := 0; attempt < 10; attempt++ {
		resp := broadcastOne(c.t, conn, raw)
		switch {
		case resp.Status == pb.Status_SUCCESS && resp.TxId == txID:
			return
		case resp.Status == pb.Status_CONFLICT && strings.HasPrefix(resp.Info, duplicateTxID) && attempt > 0:
			return
		case resp.Status != pb.Status_SERVICE_UNAVAILABLE:
			c.t.Fatalf("broadcast %s: %s %s (tx %s)", txID, resp.Status, resp.Info, resp.TxId)
		}
		c.leader()
	}
	c.t.Fatalf("broadcast %s: still unavailable after 10 attempts", txID)
}

// deliverAll reads blocks [0, stop] from an orderer's Deliver.
func deliverAll(t testing.TB, conn *grpc.ClientConn, stop uint64) []*pb.Block {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := pb.NewAtomicBroadcastClient(conn).Deliver(ctx, &pb.DeliverRequest{
		ChannelId: testChannel,
		Start:     &pb.SeekPosition{Kind: &pb.SeekPosition_Oldest{Oldest: true}},
		Stop:      &pb.SeekPosition{Kind: &pb.SeekPosition_Specified{Specified: stop}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var blocks []*pb.Block
	for {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("deliver: %v", err)
		}
		switch k := resp.Kind.(type) {
		case *pb.DeliverResponse_Block:
			blocks = append(blocks, k.Block)
		case *pb.DeliverResponse_Status:
			if k.Status != pb.Status_SUCCESS {
				t.Fatalf("deliver ended with %s: %s", k.Status, resp.Info)
			}
			return blocks
		}
	}
}

// chainTxIDs lists the transaction IDs of blocks, in order.
func chainTxIDs(t testing.TB, blocks []*pb.Block) []string {
	t.Helper()
	var ids []string
	for _, b := range blocks {
		for _, env := range b.Data.Envelopes {
			_, _, hdr, err := protocol.OpenEnvelope(env, 0)
			if err != nil {
				t.Fatalf("block %d: %v", b.Header.Number, err)
			}
			if hdr.Type == pb.HeaderType_ENDORSER_TRANSACTION {
				ids = append(ids, hdr.TxId)
			}
		}
	}
	return ids
}

// metric sums, over the cluster's orderers, the samples of metric name
// whose labels include every name=value pair of labels (see nodeMetric).
func (c *cluster) metric(name string, labels ...string) float64 {
	c.t.Helper()
	var sum float64
	for i := range c.nodes {
		sum += c.nodeMetric(i, name, labels...)
	}
	return sum
}

// nodeMetric sums orderer i's samples of metric name (a counter's value, a
// histogram's sample count) whose labels include every name=value pair of
// labels.
func (c *cluster) nodeMetric(i int, name string, labels ...string) float64 {
	c.t.Helper()
	if c.nodes[i].reg == nil {
		return 0
	}
	families, err := c.nodes[i].reg.Gather()
	if err != nil {
		c.t.Fatal(err)
	}
	var sum float64
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
	samples:
		for _, m := range mf.GetMetric() {
			for k := 0; k+1 < len(labels); k += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || (lp.GetName() == labels[k] && lp.GetValue() == labels[k+1])
				}
				if !found {
					continue samples
				}
			}
			sum += m.GetCounter().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

// storedBlocks reads blocks [0, height) straight from orderer i's store,
// checking the hash chain.
func (c *cluster) storedBlocks(i int, height uint64) []*pb.Block {
	c.t.Helper()
	var blocks []*pb.Block
	var prev []byte
	for n := uint64(0); n < height; n++ {
		b, err := c.nodes[i].node.Block(testChannel, n)
		if err != nil {
			c.t.Fatalf("orderer %d block %d: %v", i, n, err)
		}
		if !bytes.Equal(b.Header.PreviousHash, prev) {
			c.t.Fatalf("orderer %d block %d does not link to its predecessor", i, n)
		}
		prev = protocol.BlockHeaderHash(b.Header)
		blocks = append(blocks, b)
	}
	return blocks
}
