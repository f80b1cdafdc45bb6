package kafka

import (
	"context"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/checkpoint"
	"github.com/conveyor-etl/conveyor/plugin"
)

// A batch the claim gave up (a rebalance drain timed out) is nacked by the
// runtime, which cut its write off: that nack must not fail the source.
// Both the nack and the end of the claim's context are ready when watch
// looks, and a select picks either: looped, a failure shows about one time
// in two.
func TestWatchGivenUpNackIsNoFailure(t *testing.T) {
	for i := range 200 {
		s := &Source{cfg: &SourceConfig{Topic: "t"}, env: plugin.Env{Stage: &config.Stage{ID: "in"}}, stopCh: make(chan struct{}), done: make(chan struct{})}
		s.halted, s.halt = context.WithCancel(context.Background())
		w := checkpoint.New(4)
		b, err := w.Track(context.Background(), 0, 9, func() {})
		if err != nil {
			t.Fatal(err)
		}
		ctx, giveUp := context.WithCancel(context.Background())
		giveUp()
		msg := message.NewMessage("m", nil)
		msg.Nack()
		s.watch(ctx, msg, b, 0)
		if err := s.Err(); err != nil {
			t.Fatalf("round %d: a given-up batch's nack failed the source: %v", i, err)
		}
		if mark, ok := w.Pending(); ok {
			t.Fatalf("round %d: the nacked batch was marked (%d)", i, mark)
		}
	}
}

// A nack while the claim holds the batch is a failure: nothing after it
// may be committed, and the source stops.
func TestWatchNackFails(t *testing.T) {
	s := &Source{cfg: &SourceConfig{Topic: "t"}, env: plugin.Env{Stage: &config.Stage{ID: "in"}}, stopCh: make(chan struct{}), done: make(chan struct{})}
	s.halted, s.halt = context.WithCancel(context.Background())
	w := checkpoint.New(4)
	b, err := w.Track(context.Background(), 0, 9, func() {})
	if err != nil {
		t.Fatal(err)
	}
	msg := message.NewMessage("m", nil)
	msg.Nack()
	s.watch(context.Background(), msg, b, 0)
	if s.Err() == nil {
		t.Fatal("a nacked batch did not fail the source")
	}
}
