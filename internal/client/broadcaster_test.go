package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// scriptedOrderer is an AtomicBroadcast server whose answer to each
// envelope (its payload is the transaction ID) is decided by respond:
// an answer to send, or end the stream without one. It counts streams.
type scriptedOrderer struct {
	pb.UnimplementedAtomicBroadcastServer
	streams atomic.Int32
	respond func(txID string) (answer *pb.BroadcastResponse, end bool)
	// stall, if set, holds the first stream unread until it is closed.
	stall chan struct{}
}

func (s *scriptedOrderer) Broadcast(stream grpc.BidiStreamingServer[pb.Envelope, pb.BroadcastResponse]) error {
	if s.streams.Add(1) == 1 && s.stall != nil {
		select {
		case <-s.stall:
		case <-stream.Context().Done():
			return nil
		}
	}
	for {
		env, err := stream.Recv()
		if err != nil {
			return nil
		}
		answer, end := s.respond(string(env.Payload))
		if end {
			return nil
		}
		if err := stream.Send(answer); err != nil {
			return err
		}
	}
}

// startScriptedOrderer serves o on a loopback port (plain gRPC: the stream
// logic under test is above TLS) and returns a connection to it.
func startScriptedOrderer(t *testing.T, o *scriptedOrderer) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// A fixed 64 KiB window (no BDP growth): an orderer that stops reading
	// blocks a large Send, as a wedged one would.
	srv := grpc.NewServer(grpc.InitialWindowSize(64<<10), grpc.InitialConnWindowSize(64<<10))
	pb.RegisterAtomicBroadcastServer(srv, o)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///"+lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func echo(txID string) (*pb.BroadcastResponse, bool) {
	return &pb.BroadcastResponse{Status: pb.Status_SUCCESS, TxId: txID, Info: "answer to " + txID}, false
}

func envelopeOf(txID string) *pb.Envelope { return &pb.Envelope{Payload: []byte(txID)} }

func TestBroadcastStreamSharesOneStream(t *testing.T) {
	o := &scriptedOrderer{respond: echo}
	conn := startScriptedOrderer(t, o)
	b := newBroadcastStream()
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			txID := fmt.Sprintf("tx%03d", i)
			resp, sent, err := b.send(context.Background(), conn, envelopeOf(txID), txID)
			switch {
			case err != nil:
				errs <- err
			case !sent || resp.Info != "answer to "+txID:
				errs <- fmt.Errorf("%s got %q (sent %v)", txID, resp.Info, sent)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := o.streams.Load(); n != 1 {
		t.Fatalf("200 broadcasts opened %d streams, want 1", n)
	}
}

func TestBroadcastStreamBreaksAndReopens(t *testing.T) {
	tests := []struct {
		name    string
		respond func(txID string) (*pb.BroadcastResponse, bool)
		wantErr string
	}{
		{"answer to another transaction", func(string) (*pb.BroadcastResponse, bool) {
			return &pb.BroadcastResponse{Status: pb.Status_SUCCESS, TxId: "someone-else"}, false
		}, `answered transaction "someone-else", expected "bad"`},
		{"stream ended without an answer", func(string) (*pb.BroadcastResponse, bool) { return nil, true }, "ended the broadcast stream"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := &scriptedOrderer{}
			o.respond = func(txID string) (*pb.BroadcastResponse, bool) {
				if txID == "bad" {
					return tc.respond(txID)
				}
				return echo(txID)
			}
			conn := startScriptedOrderer(t, o)
			b := newBroadcastStream()
			if _, _, err := b.send(context.Background(), conn, envelopeOf("good"), "good"); err != nil {
				t.Fatal(err)
			}
			_, sent, err := b.send(context.Background(), conn, envelopeOf("bad"), "bad")
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !sent {
				t.Fatalf("send = sent %v, %v; want sent and an error containing %q", sent, err, tc.wantErr)
			}
			// The next send opens a new stream and gets its own answer.
			resp, _, err := b.send(context.Background(), conn, envelopeOf("again"), "again")
			if err != nil || resp.Info != "answer to again" {
				t.Fatalf("send after the break = %v, %v", resp, err)
			}
			if n := o.streams.Load(); n != 2 {
				t.Fatalf("%d streams, want 2", n)
			}
		})
	}
}

// TestBroadcastStreamCallerGivesUp checks that a caller whose context
// ends stops waiting (the envelope counted as possibly delivered) while
// its answer, arriving later, still goes to it and not to the next caller.
func TestBroadcastStreamCallerGivesUp(t *testing.T) {
	received, release := make(chan struct{}), make(chan struct{})
	o := &scriptedOrderer{respond: func(txID string) (*pb.BroadcastResponse, bool) {
		if txID == "slow" {
			close(received)
			<-release
		}
		return echo(txID)
	}}
	conn := startScriptedOrderer(t, o)
	b := newBroadcastStream()
	ctx, cancel := context.WithCancel(context.Background())
	sendDone := make(chan error, 1)
	go func() {
		_, sent, err := b.send(ctx, conn, envelopeOf("slow"), "slow")
		if !sent {
			err = errors.Join(err, errors.New("not counted as sent"))
		}
		sendDone <- err
	}()
	<-received // "slow" is on the stream, awaiting its answer
	cancel()
	if err := <-sendDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("abandoned send = %v, want context.Canceled", err)
	}
	close(release)
	resp, _, err := b.send(context.Background(), conn, envelopeOf("next"), "next")
	if err != nil || resp.Info != "answer to next" {
		t.Fatalf("next send = %v, %v; want its own answer", resp, err)
	}
}

// TestBroadcastStreamCallerGivesUpOnBlockedSend checks that a caller whose
// Send is blocked (the orderer reads nothing, so flow control holds the
// stream) returns when its context ends and breaks the shared stream, so
// that later calls open a new one instead of queueing behind it.
func TestBroadcastStreamCallerGivesUpOnBlockedSend(t *testing.T) {
	stall := make(chan struct{})
	defer close(stall)
	o := &scriptedOrderer{respond: echo, stall: stall}
	conn := startScriptedOrderer(t, o)
	b := newBroadcastStream()
	within := func(d time.Duration) context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		t.Cleanup(cancel)
		return ctx
	}
	// The first envelope, far past the 64 KiB window, is queued whole by
	// gRPC; its caller waits for an answer that cannot come and gives up.
	big := &pb.Envelope{Payload: make([]byte, 1<<20)}
	if _, sent, err := b.send(within(300*time.Millisecond), conn, big, "big"); !errors.Is(err, context.DeadlineExceeded) || !sent {
		t.Fatalf("unanswered send = sent %v, %v; want sent and context.DeadlineExceeded", sent, err)
	}
	// The next one blocks in Send until its caller gives up.
	if _, sent, err := b.send(within(300*time.Millisecond), conn, envelopeOf("blocked"), "blocked"); !errors.Is(err, context.DeadlineExceeded) || !sent {
		t.Fatalf("blocked send = sent %v, %v; want sent and context.DeadlineExceeded", sent, err)
	}
	resp, _, err := b.send(within(10*time.Second), conn, envelopeOf("next"), "next")
	if err != nil || resp.Info != "answer to next" {
		t.Fatalf("send after the blocked one = %v, %v", resp, err)
	}
	if n := o.streams.Load(); n != 2 {
		t.Fatalf("%d streams, want 2 (the blocked one broken)", n)
	}
}
