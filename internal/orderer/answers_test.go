package orderer

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestAnswerQueueKeepsOrderAndBound(t *testing.T) {
	const max = 3
	q := newAnswerQueue(max)
	ctx := context.Background()
	for i := range max {
		if err := q.push(ctx, broadcastAnswer{txID: fmt.Sprint(i)}); err != nil {
			t.Fatalf("push %d: %v", i, err)
		}
	}
	// Full: a push waits for a slot, so with a cancelled context it fails
	// and queues nothing.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := q.push(cancelled, broadcastAnswer{txID: "over"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("push on a full queue = %v, want context.Canceled", err)
	}
	// A pop frees one slot for the next push.
	if a, ok := q.pop(); !ok || a.txID != "0" {
		t.Fatalf("pop = %q, %v; want \"0\", true", a.txID, ok)
	}
	if err := q.push(ctx, broadcastAnswer{txID: "3"}); err != nil {
		t.Fatalf("push after a pop: %v", err)
	}
	q.close()
	for _, want := range []string{"1", "2", "3"} {
		if a, ok := q.pop(); !ok || a.txID != want {
			t.Fatalf("pop = %q, %v; want %q, true", a.txID, ok, want)
		}
	}
	if _, ok := q.pop(); ok {
		t.Fatal("pop after close and drain returned an answer")
	}
}

// TestAnswerQueueWakesWaitingPop checks that a pop waiting on an empty
// queue returns the answer pushed after it started, and that close wakes
// a pop waiting on an empty queue.
func TestAnswerQueueWakesWaitingPop(t *testing.T) {
	q := newAnswerQueue(8)
	got := make(chan string)
	go func() {
		for a, ok := q.pop(); ok; a, ok = q.pop() {
			got <- a.txID
		}
		close(got)
	}()
	for i := range 100 {
		want := fmt.Sprint(i)
		if err := q.push(context.Background(), broadcastAnswer{txID: want}); err != nil {
			t.Fatal(err)
		}
		if a := <-got; a != want {
			t.Fatalf("popped %q, want %q", a, want)
		}
	}
	q.close()
	if _, open := <-got; open {
		t.Fatal("pop returned an answer after close")
	}
}
