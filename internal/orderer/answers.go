package orderer

import (
	"context"
	"sync"
)

// broadcastAnswer is one envelope of a Broadcast stream awaiting its
// answer: its transaction ID and where its outcome arrives.
type broadcastAnswer struct {
	txID string
	done <-chan outcome
}

// answerQueue is a Broadcast stream's FIFO of envelopes awaiting their
// answer, bounded to max entries. Unlike a buffered channel of that
// capacity it costs memory only for what it holds: most clients open a
// stream per envelope, and a 4096-slot channel per stream was a 96 KiB
// allocation per transaction.
type answerQueue struct {
	slots chan struct{} // one token per queued answer: bounds the queue (zero-size buffer)
	ready chan struct{} // capacity 1: signalled when an answer is queued or the queue closes

	mu     sync.Mutex
	items  []broadcastAnswer
	closed bool
}

func newAnswerQueue(max int) *answerQueue {
	return &answerQueue{slots: make(chan struct{}, max), ready: make(chan struct{}, 1)}
}

// push queues a, waiting while the queue is full; it fails only when ctx
// ends first.
func (q *answerQueue) push(ctx context.Context, a broadcastAnswer) error {
	select {
	case q.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	q.mu.Lock()
	q.items = append(q.items, a)
	q.mu.Unlock()
	q.signal()
	return nil
}

// close ends the queue: pop returns false once it is drained. Call it once,
// after the last push.
func (q *answerQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}

// pop returns the oldest queued answer, waiting for one, or false once
// the queue is closed and empty.
func (q *answerQueue) pop() (broadcastAnswer, bool) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			a := q.items[0]
			q.items[0] = broadcastAnswer{}
			q.items = q.items[1:]
			q.mu.Unlock()
			<-q.slots
			return a, true
		}
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return broadcastAnswer{}, false
		}
		<-q.ready
	}
}

func (q *answerQueue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}
