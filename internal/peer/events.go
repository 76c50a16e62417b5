package peer

import (
	"sync"

	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// BlockEvent reports a block committed on a channel.
type BlockEvent struct {
	ChannelID string
	Number    uint64
	// Transactions has one entry per transaction of the block, in order.
	Transactions []TxEvent
	// Config is set when the block is a config block: the configuration
	// now in force. Shared between subscribers: do not modify.
	Config *pb.ChannelConfig
}

// TxEvent is one transaction's commit outcome.
type TxEvent struct {
	TxID string // "" when the envelope's header could not be read
	Code pb.TxValidationCode
	// Events are the chaincode events of a VALID transaction (nil
	// otherwise). Shared between subscribers: do not modify.
	Events []*pb.ChaincodeEvent
}

// DefaultEventBuffer is the buffer of a subscription when Subscribe is
// given none.
const DefaultEventBuffer = 64

// subscription is one subscriber's queue.
type subscription struct {
	ch   chan BlockEvent
	once sync.Once
}

func (s *subscription) end() { s.once.Do(func() { close(s.ch) }) }

// Subscribe returns a channel that receives an event for every block
// committed from now on, in order, and a function that ends the
// subscription. buffer (<= 0: DefaultEventBuffer) is how many events may
// wait unread: a subscriber that falls further behind is dropped, its
// channel closed, so a slow reader never holds up commits. A subscriber
// whose channel closes unexpectedly resubscribes and reads what it missed
// from the ledger (Peer.Deliver or Channel.Ledger). The channel also
// closes when the peer stops.
func (c *Channel) Subscribe(buffer int) (<-chan BlockEvent, func()) {
	if buffer <= 0 {
		buffer = DefaultEventBuffer
	}
	s := &subscription{ch: make(chan BlockEvent, buffer)}
	c.subMu.Lock()
	c.subs[s] = struct{}{}
	c.subMu.Unlock()
	cancel := func() {
		c.subMu.Lock()
		delete(c.subs, s)
		c.subMu.Unlock()
		s.end()
	}
	return s.ch, cancel
}

// publish sends a committed block's event to every subscriber.
func (c *Channel) publish(p *preparedBlock) {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	if len(c.subs) == 0 {
		return
	}
	ev := BlockEvent{ChannelID: c.id, Number: p.block.Header.Number, Transactions: make([]TxEvent, len(p.results))}
	for i, r := range p.results {
		te := TxEvent{TxID: r.TxID, Code: r.Code}
		if r.Code == pb.TxValidationCode_VALID && r.Events != nil {
			te.Events = r.Events.Events
		}
		ev.Transactions[i] = te
	}
	if p.next != nil {
		ev.Config = p.next.proto()
	}
	for s := range c.subs {
		select {
		case s.ch <- ev:
		default:
			c.log.Warn("dropping a subscriber that fell behind the commits", "block", ev.Number)
			delete(c.subs, s)
			s.end()
		}
	}
}
