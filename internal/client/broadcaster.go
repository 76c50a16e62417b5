package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"

	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// broadcastStream carries the envelopes of concurrent Broadcast calls to
// one orderer on one long-lived Broadcast stream, instead of a stream per
// envelope: opening a stream costs both ends header coding, a handler
// goroutine and a caller-certificate check for every transaction. The
// orderer answers a stream's envelopes in the order it received them, so
// answers go to the waiting callers first in, first out; an answer naming
// another transaction than the one expected breaks the stream.
//
// When the stream breaks (orderer restarted, connection lost, client
// closed), every envelope still waiting gets the error, as possibly
// delivered (sent), and the next call opens a new stream.
type broadcastStream struct {
	// sendLock (capacity 1) is held while opening the stream or sending on
	// it; a channel so that a caller's context can end the wait.
	sendLock chan struct{}

	mu      sync.Mutex // guards stream, cancel and pending
	stream  grpc.BidiStreamingClient[pb.Envelope, pb.BroadcastResponse]
	cancel  context.CancelFunc // ends stream
	pending []pendingBroadcast // sent on stream, not yet answered, in send order
}

// pendingBroadcast is one envelope awaiting the orderer's answer.
type pendingBroadcast struct {
	txID   string
	answer chan broadcastAnswer // capacity 1: the receiver never blocks
}

type broadcastAnswer struct {
	resp *pb.BroadcastResponse
	err  error
}

func newBroadcastStream() *broadcastStream {
	return &broadcastStream{sendLock: make(chan struct{}, 1)}
}

// send sends env (whose transaction ID is txID, "" if unknown) on the
// stream, opening one on conn if none is open, and waits for its answer or
// the end of ctx. sent reports whether the envelope may have reached the
// orderer.
func (b *broadcastStream) send(ctx context.Context, conn *grpc.ClientConn, env *pb.Envelope, txID string) (resp *pb.BroadcastResponse, sent bool, err error) {
	select {
	case b.sendLock <- struct{}{}:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	p := pendingBroadcast{txID: txID, answer: make(chan broadcastAnswer, 1)}
	stream, err := b.enqueue(conn, p)
	if err != nil {
		<-b.sendLock
		return nil, false, err
	}
	// Send blocks while the orderer reads nothing (flow control). The
	// stream's context is not the caller's, so a caller giving up then
	// breaks the stream: its envelopes all fail and are resubmitted, and
	// nobody waits behind a wedged orderer. A failed Send needs no other
	// handling: the receiver's Recv fails too and answers p with the error.
	var sending atomic.Bool
	sending.Store(true)
	stop := context.AfterFunc(ctx, func() {
		if sending.Load() {
			b.breakStream(stream)
		}
	})
	_ = stream.Send(env)
	sending.Store(false)
	stop()
	<-b.sendLock
	select {
	case a := <-p.answer:
		if a.err != nil && ctx.Err() != nil {
			return nil, true, ctx.Err() // the stream broke because this caller gave up
		}
		return a.resp, true, a.err
	case <-ctx.Done():
		return nil, true, ctx.Err()
	}
}

// enqueue returns the open stream, opening it on conn if needed, with p
// queued as its next envelope. Queueing under the same lock as the stream
// is read means a receiver that breaks the stream either sees p (and
// answers it) or p goes to a new stream.
func (b *broadcastStream) enqueue(conn *grpc.ClientConn, p pendingBroadcast) (grpc.BidiStreamingClient[pb.Envelope, pb.BroadcastResponse], error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stream == nil {
		// The stream outlives the call that opens it: it gets its own
		// context, cancelled when the stream breaks (closing the client
		// closes the connection, which breaks it).
		sctx, cancel := context.WithCancel(context.Background())
		stream, err := pb.NewAtomicBroadcastClient(conn).Broadcast(sctx)
		if err != nil {
			cancel()
			return nil, err
		}
		b.stream, b.cancel = stream, cancel
		go b.receive(stream)
	}
	b.pending = append(b.pending, p)
	return b.stream, nil
}

// breakStream ends stream if it is still the open one: the envelopes
// waiting on it fail, and the next call opens a new stream.
func (b *broadcastStream) breakStream(stream grpc.BidiStreamingClient[pb.Envelope, pb.BroadcastResponse]) {
	b.detach(stream, errors.New("broadcast stream abandoned: a send was blocked until its caller gave up"))
}

// receive hands each answer of stream to the oldest pending envelope until
// the stream breaks, then detaches it (unless breakStream already did).
func (b *broadcastStream) receive(stream grpc.BidiStreamingClient[pb.Envelope, pb.BroadcastResponse]) {
	var err error
	for err == nil {
		var resp *pb.BroadcastResponse
		if resp, err = stream.Recv(); err == nil {
			err = b.answer(resp)
		}
	}
	if errors.Is(err, io.EOF) {
		err = errors.New("the orderer ended the broadcast stream")
	}
	b.detach(stream, err)
}

// detach, if stream is still the open one, cancels it and fails every
// envelope waiting on it with err. Only the first call for a stream does
// anything; every stream is detached once, by breakStream or by its
// receiver, so its context is always cancelled.
func (b *broadcastStream) detach(stream grpc.BidiStreamingClient[pb.Envelope, pb.BroadcastResponse], err error) {
	b.mu.Lock()
	if b.stream != stream {
		b.mu.Unlock()
		return
	}
	failed, cancel := b.pending, b.cancel
	b.pending, b.stream, b.cancel = nil, nil, nil
	b.mu.Unlock()
	cancel()
	for _, p := range failed {
		p.answer <- broadcastAnswer{err: err}
	}
}

// answer gives resp to the oldest pending envelope; an error means the
// stream must be broken (an answer to nothing, or to another transaction).
func (b *broadcastStream) answer(resp *pb.BroadcastResponse) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.pending) == 0 {
		return errors.New("the orderer answered an envelope never sent")
	}
	p := b.pending[0]
	if resp.TxId != "" && p.txID != "" && resp.TxId != p.txID {
		return fmt.Errorf("the orderer answered transaction %.64q, expected %.64q", resp.TxId, p.txID)
	}
	b.pending[0] = pendingBroadcast{}
	b.pending = b.pending[1:]
	p.answer <- broadcastAnswer{resp: resp}
	return nil
}
