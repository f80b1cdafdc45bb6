package engine

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/conveyor-etl/conveyor/internal/lane"
	"github.com/conveyor-etl/conveyor/internal/telemetry"
	"github.com/conveyor-etl/conveyor/plugin"
)

// metaTurn is the metadata key of a batch message's turn (see sequencer).
const metaTurn = "conveyor_turn"

// sequencer keeps each partition's output in its input order while several
// of its batches are in flight at once. The runtime owns it, so sources need
// not: every message a source emits gets a turn, in emission order, per
// source stage, origin and partition (read from the batch metadata; two
// sources can read the same origin, as two kafka stages of different
// groups on one topic, or sql.outbox table "orders" beside a Kafka topic
// "orders", and must not wait for each other), and a batch hands its
// records to the sinks only after the batch before it in its partition has
// (or has given up). A turn travels in the message's metadata, which every
// middleware keeps.
type sequencer struct {
	mu    sync.Mutex
	n     atomic.Uint64
	last  map[string]chan struct{} // per partition, the newest turn's channel
	turns map[string]*turn
}

// turn is one batch's place in its partition's order.
type turn struct {
	s    *sequencer
	id   string
	prev <-chan struct{} // closed when the batch before has handed over
	own  chan struct{}
	// ctx is the message's context as its source emitted it: it ends when
	// the source gives the batch up. The writes use it, not the context the
	// handler's middleware left (Watermill's Timeout ends that one when the
	// handler returns, before the router publishes).
	ctx  context.Context
	once sync.Once
	// The source batch's size and when its handler began, for the
	// batch histograms; set by the handler.
	obs   *telemetry.Stage
	n     int
	start time.Time
	seen  sync.Once
}

// observe records the batch in the source stage's histograms, once.
func (t *turn) observe() {
	if t.obs != nil {
		t.seen.Do(func() { t.obs.Batch(t.n, t.start) })
	}
}

func newSequencer() *sequencer {
	return &sequencer{last: map[string]chan struct{}{}, turns: map[string]*turn{}}
}

// stamp gives msg, emitted by source stage, the next turn of its
// partition. Call it in the order the source emitted the messages.
func (s *sequencer) stamp(stage string, msg *message.Message) {
	key := stage + "\x00" + msg.Metadata.Get(plugin.MetaOrigin) + "\x00" + msg.Metadata.Get(plugin.MetaPartition)
	id := strconv.FormatUint(s.n.Add(1), 10)
	t := &turn{s: s, id: id, own: make(chan struct{}), ctx: msg.Context()}
	s.mu.Lock()
	t.prev = s.last[key]
	s.last[key] = t.own
	s.turns[id] = t
	s.mu.Unlock()
	msg.Metadata.Set(metaTurn, id)
}

// of returns msg's turn; a message the sequencer never stamped (or whose
// turn ended) gets one that waits for nothing.
func (s *sequencer) of(msg *message.Message) *turn {
	s.mu.Lock()
	t := s.turns[msg.Metadata.Get(metaTurn)]
	s.mu.Unlock()
	if t == nil {
		return &turn{own: make(chan struct{}), ctx: msg.Context()}
	}
	return t
}

// wait blocks until the batch before t has handed its records over, or ctx
// is done.
func (t *turn) wait(ctx context.Context) error {
	if t.prev == nil {
		return nil
	}
	select {
	case <-t.prev:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// end lets the next batch of the partition go on. Safe to call more than
// once.
func (t *turn) end() {
	t.once.Do(func() {
		if t.s != nil {
			t.s.mu.Lock()
			delete(t.s.turns, t.id)
			t.s.mu.Unlock()
		}
		close(t.own)
	})
}

// pass ends t once the batch before it has handed over, without waiting
// for that here: for a batch with nothing to hand over.
func (t *turn) pass() {
	if t.prev == nil {
		t.end()
		return
	}
	select {
	case <-t.prev:
		t.end()
	default:
		go func() { <-t.prev; t.end() }()
	}
}

// sequenced is a source whose messages the sequencer stamps as the router
// receives them.
type sequenced struct {
	plugin.Source
	closer *closing
	stage  string
	seq    *sequencer
	done   <-chan struct{} // closed when the run ends
}

// Subscribe offers the source the turns (lane.Turns): a source whose lanes
// stamp their batches as they admit them is read as it is; the messages of
// any other are stamped here, in order, and handed on.
func (s sequenced) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	turns := &lane.Turns{Stamp: func(msg *message.Message) { s.seq.stamp(s.stage, msg) }, Drop: func(msg *message.Message) { s.seq.of(msg).end() }}
	in, err := s.Source.Subscribe(lane.WithTurns(ctx, turns), topic)
	if err != nil || turns.Taken() {
		return in, err
	}
	out := make(chan *message.Message)
	go func() {
		defer close(out)
		for msg := range in {
			s.seq.stamp(s.stage, msg)
			select {
			case out <- msg:
			case <-s.done:
				s.seq.of(msg).end()
				msg.Nack()
				return
			}
		}
	}()
	return out, nil
}

// Close closes the source unless the runtime already did (see closing).
func (s sequenced) Close() error { return s.closer.close() }
