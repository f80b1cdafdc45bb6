package lane

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/conveyor-etl/conveyor/internal/lifecycle"
	"github.com/conveyor-etl/conveyor/plugin"
)

type probe struct {
	marked atomic.Int64
	failed atomic.Value
}

func newLane(t *testing.T, window int, budget *plugin.Budget, life *lifecycle.State) (*Lane, *probe) {
	t.Helper()
	p := &probe{}
	l := New(Config{Stage: "in", Topic: "t", Partition: 3, Window: window, Budget: budget, Life: life,
		Marked: func() { p.marked.Add(1) }, Failed: func(err error) { p.failed.CompareAndSwap(nil, err) }})
	return l, p
}

func admit(t *testing.T, l *Lane, first, last int64) (*Batch, *message.Message) {
	t.Helper()
	msg := message.NewMessage("m", nil)
	b, err := l.Admit(context.Background(), msg, first, last, 100)
	if err != nil {
		t.Fatal(err)
	}
	l.Watch(b)
	return b, msg
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 5s: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// A batch the lane gave up (a rebalance drain timed out) is nacked by the
// runtime, which cut its write off: that nack is a cut-off, not a failure.
// Both the nack and the end of the claim's context are ready when the lane
// looks, and a select picks either: looped, a failure would show about one
// time in two.
func TestGivenUpNackIsCutOffNotFailure(t *testing.T) {
	for i := range 200 {
		l, p := newLane(t, 4, nil, nil)
		parent, giveUp := context.WithCancel(context.Background())
		l.Open(parent)
		msg := message.NewMessage("m", nil)
		b, err := l.Admit(context.Background(), msg, 0, 9, 10)
		if err != nil {
			t.Fatal(err)
		}
		giveUp()
		msg.Nack()
		l.Watch(b)
		l.Close(context.Background())
		if err, _ := p.failed.Load().(error); err != nil {
			t.Fatalf("round %d: a given-up batch's nack failed the source: %v", i, err)
		}
		if next, ok := l.Committable(); ok {
			t.Fatalf("round %d: the cut-off batch was made committable (%d)", i, next)
		}
		if b.outcome != CutOff {
			t.Fatalf("round %d: outcome %v, want cut off", i, b.outcome)
		}
	}
}

// A nack while the lane holds the batch is a failure: nothing at or after
// it is committable, even a later batch that was acked, and Why says so.
func TestNackFailsAndStopsTheMark(t *testing.T) {
	l, p := newLane(t, 4, nil, nil)
	l.Open(context.Background())
	_, m1 := admit(t, l, 0, 9)
	_, m2 := admit(t, l, 10, 19)
	_, m3 := admit(t, l, 20, 29)
	m1.Ack()
	m2.Nack()
	m3.Ack()
	eventually(t, "the failure reported", func() bool { return p.failed.Load() != nil })
	if next, ok := l.Committable(); !ok || next != 10 {
		t.Fatalf("committable %d %v, want 10 (the batch before the failed one)", next, ok)
	}
	if err := p.failed.Load().(error); !strings.Contains(err.Error(), `source "in": batch ending at t/3@19 failed`) {
		t.Fatalf("failure %q does not name the batch", err)
	}
	if why := l.Why(25); !strings.Contains(why, "the batch at 10 failed") {
		t.Fatalf("Why(25) = %q", why)
	}
	l.Close(context.Background())
}

// Committable covers the prefix of durable batches only, whatever order the
// acks come in; a confirmed commit frees the places and budget bytes of the
// batches it covers while the lane holds them for a commit.
func TestCommittableIsTheDurablePrefix(t *testing.T) {
	budget := plugin.NewBudget(1 << 20)
	l, p := newLane(t, 8, budget, nil)
	l.Hold(true)
	l.Open(context.Background())
	_, m1 := admit(t, l, 0, 9)
	_, m2 := admit(t, l, 10, 19)
	_, m3 := admit(t, l, 20, 29)
	m1.Ack()
	m3.Ack()
	eventually(t, "first mark", func() bool { n, ok := l.Committable(); return ok && n == 10 })
	if why := l.Why(25); !strings.Contains(why, "in flight") {
		t.Fatalf("Why(25) = %q while batch 10-19 is in flight", why)
	}
	m2.Ack()
	eventually(t, "mark past the third batch", func() bool { n, _ := l.Committable(); return n == 30 })
	if p.marked.Load() < 2 {
		t.Fatalf("Marked ran %d times, want one per move (2)", p.marked.Load())
	}
	if got := budget.Used(); got != 300 {
		t.Fatalf("budget used %d before the commit, want 300 (held until a commit covers them)", got)
	}
	if why := l.Why(25); !strings.Contains(why, "durable, not committed yet") {
		t.Fatalf("Why(25) = %q", why)
	}
	l.Committed(20)
	if got := budget.Used(); got != 100 {
		t.Fatalf("budget used %d after a commit of 20, want 100 (the third batch)", got)
	}
	l.Committed(30)
	if _, ok := l.Committable(); ok {
		t.Fatal("still committable after a commit covering everything")
	}
	if why := l.Why(25); !strings.Contains(why, "committed") || strings.Contains(why, "not") {
		t.Fatalf("Why(25) = %q", why)
	}
	l.Close(context.Background())
}

// Close gives a claim's batches the drain to settle, then cuts off what is
// left: it is not failed, not committable, its bytes are back, the source's
// in-flight count is settled, and the next claim may read the range again.
func TestCloseCutsOffWhatIsLeft(t *testing.T) {
	budget := plugin.NewBudget(1 << 20)
	life := lifecycle.New()
	l, p := newLane(t, 4, budget, life)
	l.Open(context.Background())
	_, m1 := admit(t, l, 0, 9)
	admit(t, l, 10, 19)
	m1.Ack()
	drain, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if !l.Close(drain) {
		t.Fatal("Close did not report the drain timing out with a batch in flight")
	}
	if err, _ := p.failed.Load().(error); err != nil {
		t.Fatalf("a cut-off batch failed the source: %v", err)
	}
	if settled, cut := l.Counts(); settled != 2 || cut != 1 {
		t.Fatalf("settled %d, cut off %d; want 2 and 1", settled, cut)
	}
	if next, _ := l.Committable(); next != 10 {
		t.Fatalf("committable %d, want 10", next)
	}
	if why := l.Why(15); !strings.Contains(why, "cut off") {
		t.Fatalf("Why(15) = %q", why)
	}
	if got := budget.Used(); got != 0 {
		t.Fatalf("budget used %d after Close, want 0", got)
	}
	life.Stop()
	life.Finish()
	select {
	case <-life.Done():
	default:
		t.Fatal("the source's Done stayed open after the lane settled everything")
	}
	l.Open(context.Background())
	if _, err := l.Admit(context.Background(), message.NewMessage("again", nil), 10, 19, 100); err != nil {
		t.Fatalf("the next claim could not read the cut-off range again: %v", err)
	}
	cancel()
	l.Close(drain) // ended: the unwatched batch is cut off at once
}

// Admit waits for room and gives up when its context ends.
func TestAdmitWaitsForRoom(t *testing.T) {
	l, _ := newLane(t, 1, nil, nil)
	l.Hold(true)
	l.Open(context.Background())
	_, m1 := admit(t, l, 0, 9)
	m1.Ack()
	wait, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.Admit(wait, message.NewMessage("m", nil), 10, 19, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Admit with the window full of an uncommitted batch: %v, want deadline exceeded", err)
	}
	l.Committed(10)
	if _, err := l.Admit(context.Background(), message.NewMessage("m", nil), 10, 19, 1); err != nil {
		t.Fatalf("Admit after the commit freed the place: %v", err)
	}
	l.Close(wait) // ended: the unacked batch is cut off at once
}

// A lane with turns stamps each batch as it admits it, in admission order,
// and a batch admitted but never sent gives its turn back (Unsent), so that
// the lane's next batch does not wait for it.
func TestAdmitStampsTurnsInOrder(t *testing.T) {
	var stamped, dropped []string
	turns := &Turns{Stamp: func(m *message.Message) { stamped = append(stamped, m.UUID) },
		Drop: func(m *message.Message) { dropped = append(dropped, m.UUID) }}
	ctx := WithTurns(context.Background(), turns)
	got := TurnsFrom(ctx)
	if got != turns || !turns.Taken() {
		t.Fatal("TurnsFrom did not take the turns the context carries")
	}
	if TurnsFrom(context.Background()) != nil {
		t.Fatal("turns from a context that carries none")
	}
	l := New(Config{Stage: "in", Topic: "t", Window: 4, Turns: got})
	l.Open(context.Background())
	var batches []*Batch
	for i, id := range []string{"a", "b", "c"} {
		b, err := l.Admit(context.Background(), message.NewMessage(id, nil), int64(10*i), int64(10*i+9), 1)
		if err != nil {
			t.Fatal(err)
		}
		batches = append(batches, b)
	}
	l.Unsent(batches[2])
	if strings.Join(stamped, ",") != "a,b,c" || strings.Join(dropped, ",") != "c" {
		t.Fatalf("stamped %v, dropped %v; want a,b,c and c", stamped, dropped)
	}
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	l.Close(gone)
}
