// Package lane is the one owner of a source partition's batches from read
// to commit: for each (source stage, partition) a Lane holds every batch it
// admitted, with its in-flight budget bytes, its place in the partition's
// window, its cancellation, its outcome and its ack, and it alone decides
// which offsets a commit may cover (Committable) and hands them to a
// Committer. Why an offset was or was not committed is answered by the
// Lane (Why).
//
// The runtime decides a batch's outcome and says it the Watermill way: the
// router acks the batch's message when every write is durable or dealt with
// under [error_handling], and nacks it otherwise. The Lane reads that ack
// against its own cancellation: a nack of a batch the lane had already
// given up (a rebalance took the partition, the drain timed out, the source
// closed) is a cut-off, never a failure.
package lane

import (
	"context"
	"fmt"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/conveyor-etl/conveyor/internal/checkpoint"
	"github.com/conveyor-etl/conveyor/internal/lifecycle"
	"github.com/conveyor-etl/conveyor/plugin"
)

// Outcome is what became of a batch.
type Outcome uint8

const (
	// InFlight: admitted, not settled yet.
	InFlight Outcome = iota
	// Durable: acked; every write is durable or was dealt with under
	// [error_handling]. Its offsets may be committed once every batch
	// before it is durable too.
	Durable
	// Failed: nacked while the lane held it. Nothing at or after it is
	// committed this run, and the source fails.
	Failed
	// CutOff: given up by the lane (its claim ended, the drain timed out,
	// the source closed) before it settled. Not a failure: it is not
	// committed and is read again.
	CutOff
)

func (o Outcome) String() string {
	switch o {
	case Durable:
		return "durable"
	case Failed:
		return "failed"
	case CutOff:
		return "cut off"
	}
	return "in flight"
}

// Config is a lane's identity and what it reports to its source.
type Config struct {
	Stage     string // the source stage
	Topic     string // the origin the partition belongs to
	Partition int32
	// Window is how many batches may be admitted and not yet settled
	// (while holding, not yet committed); at least 1.
	Window int
	// Budget is the run's in-flight bytes; nil is unlimited.
	Budget *plugin.Budget
	// Life, when not nil, counts the lane's batches in flight (Begin and
	// Settle) for the source's Done.
	Life *lifecycle.State
	// Marked runs when an ack moved the mark: there is more to commit.
	Marked func()
	// Failed runs when a batch the lane held is nacked.
	Failed func(error)
	// Turns, when not nil, gives each admitted batch its turn (see Turns).
	Turns *Turns
}

// Lane is one (source stage, partition). It lives as long as its source,
// across claims (a partition taken away and given back keeps its mark until
// it is committed); one claim at a time holds it (Open to Close).
//
// Contracts:
//   - Ordering: batches are admitted in offset order by one goroutine (the
//     claim's reader); their acks may come in any order, and the lane reads
//     them in admission order.
//   - Commit: Committable never passes a batch that is not Durable; after a
//     Failed batch it stops for the rest of the claim.
//   - Capacity: Admit blocks while Window batches are admitted and not
//     released, or the budget has no room, until its context ends.
//   - Concurrency: every method is safe for concurrent use, except that
//     Admit, Watch and Close belong to the claim's reader.
type Lane struct {
	cfg    Config
	window *checkpoint.Window

	mu    sync.Mutex
	claim *claim
	// failedAt is the first offset of the batch that failed this claim, or
	// -1; cutOff is the last offset range given up, for Why.
	failedAt            int64
	cutFirst, cutLast   int64
	cutBatches, batches int64
}

// claim is one holding of the lane: the batches' context and the goroutine
// reading their acks in admission order.
type claim struct {
	ctx     context.Context
	giveUp  context.CancelFunc
	acks    chan *Batch
	watched chan struct{}
}

// New returns a lane holding nothing, with nothing marked or committed.
func New(cfg Config) *Lane {
	cfg.Window = max(cfg.Window, 1)
	return &Lane{cfg: cfg, window: checkpoint.New(cfg.Window), failedAt: -1, cutFirst: -1, cutLast: -1}
}

// Partition is the lane's partition.
func (l *Lane) Partition() int32 { return l.cfg.Partition }

// Open starts a claim of the lane under parent and returns the context its
// batches carry: it ends when the claim gives them up (Close) or parent
// ends. Call Close before the next Open.
func (l *Lane) Open(parent context.Context) context.Context {
	ctx, giveUp := context.WithCancel(parent)
	c := &claim{ctx: ctx, giveUp: giveUp, acks: make(chan *Batch, l.cfg.Window), watched: make(chan struct{})}
	l.mu.Lock()
	l.claim, l.failedAt = c, -1
	l.mu.Unlock()
	go l.watch(c)
	return ctx
}

// Batch is one admitted batch: offsets First to Last of the lane's
// partition, carried by one message.
type Batch struct {
	lane        *Lane
	msg         *message.Message
	slot        *checkpoint.Batch
	held        int64 // budget bytes
	first, last int64
	outcome     Outcome
	settled     func(durable bool)
}

// OnSettled sets f (before Watch) to run once b's outcome is known, with
// whether it is durable, in the lane's ack reader: exactly-once uses it to
// take the batch out of the run's transaction (connectors/kafka/txn.go). A
// batch admitted and then Unsent has its message nacked, so that f can wait
// for the runtime to be done with every other message.
func (b *Batch) OnSettled(f func(durable bool)) { b.settled = f }

// Admit takes a place for msg, the batch of offsets first to last (size
// bytes as the run holds them): the bytes from the budget, then a place in
// the window, waiting for room until wait ends. The message's context
// becomes the claim's (see Open), and the message gets its turn (see
// Turns); a batch admitted and then not sent is given to Unsent. It fails with wait's error when wait
// ends first, or when the range does not follow the last one admitted.
// Hand the batch to Watch before the router can ack it.
func (l *Lane) Admit(wait context.Context, msg *message.Message, first, last, size int64) (*Batch, error) {
	l.mu.Lock()
	c := l.claim
	l.mu.Unlock()
	if c == nil {
		return nil, fmt.Errorf("lane %s/%d: Admit without Open", l.cfg.Topic, l.cfg.Partition)
	}
	held, err := l.cfg.Budget.Acquire(wait, size)
	if err != nil {
		return nil, err
	}
	b := &Batch{lane: l, msg: msg, held: held, first: first, last: last}
	if l.cfg.Life != nil {
		l.cfg.Life.Begin()
	}
	slot, err := l.window.Track(wait, first, last, b.release)
	if err != nil {
		b.release()
		return nil, err
	}
	b.slot = slot
	msg.SetContext(c.ctx)
	if l.cfg.Turns != nil {
		l.cfg.Turns.Stamp(msg)
	}
	return b, nil
}

// Unsent says b was admitted but never handed to the runtime (the claim
// ended first): its turn ends, and Close gives it up with the rest.
func (l *Lane) Unsent(b *Batch) {
	if l.cfg.Turns != nil {
		l.cfg.Turns.Drop(b.msg)
	}
	if b.settled != nil {
		b.msg.Nack() // never handed out: settled here (see OnSettled)
	}
}

// Drop gives up b, admitted and neither Watched nor sent (exactly-once:
// the transaction would not take it): it is cut off and leaves the window
// at once, so that the claim's Close does not wait for it.
func (l *Lane) Drop(b *Batch) {
	if l.cfg.Turns != nil {
		l.cfg.Turns.Drop(b.msg)
	}
	l.settle(b, CutOff)
}

// release gives back what b held; the window runs it once, when b leaves.
func (b *Batch) release() {
	l := b.lane
	l.cfg.Budget.Release(b.held)
	if l.cfg.Life != nil {
		l.cfg.Life.Settle()
	}
}

// Watch queues b for the claim's ack reader. It never blocks: the window
// bounds the batches admitted.
func (l *Lane) Watch(b *Batch) {
	l.mu.Lock()
	c := l.claim
	l.mu.Unlock()
	c.acks <- b
}

// watch reads the acks of c's batches in admission order.
func (l *Lane) watch(c *claim) {
	defer close(c.watched)
	for b := range c.acks {
		l.await(c.ctx, b)
	}
}

// await settles b from its message's ack or nack, or leaves it to Close's
// Abandon when the claim gives it up first.
func (l *Lane) await(ctx context.Context, b *Batch) {
	select {
	case <-b.msg.Acked():
		l.settle(b, Durable)
	case <-b.msg.Nacked():
		if ctx.Err() != nil {
			// the runtime nacks what it cut off: a batch the claim gave up
			// is read again by the partition's next owner, not a failure
			l.settle(b, CutOff)
			return
		}
		l.settle(b, Failed)
	case <-ctx.Done():
		l.settle(b, CutOff)
	}
}

// settle records b's outcome in the window and says what follows: a mark
// that moved, or a failure.
func (l *Lane) settle(b *Batch, o Outcome) {
	l.mu.Lock()
	b.outcome = o
	l.batches++
	if o == CutOff {
		l.cutBatches++
		l.cutFirst, l.cutLast = b.first, b.last
	}
	if o == Failed && l.failedAt < 0 {
		l.failedAt = b.first
	}
	l.mu.Unlock()
	switch o {
	case Durable:
		if _, moved := b.slot.Ack(); moved && l.cfg.Marked != nil {
			l.cfg.Marked()
		}
	case Failed:
		b.slot.Nack()
		if l.cfg.Failed != nil {
			l.cfg.Failed(fmt.Errorf("source %q: batch ending at %s/%d@%d failed; its offset and everything after it stay uncommitted",
				l.cfg.Stage, l.cfg.Topic, l.cfg.Partition, b.last))
		}
	case CutOff:
		b.slot.Nack()
	}
	if b.settled != nil {
		b.settled(o == Durable)
	}
}

// Close ends the claim: the reader admits nothing more; the batches in
// flight get drain to settle; then what is left is given up (cut off) and
// the window forgets it, so the next claim reads again from the last
// commit. It reports whether the drain ran out of time with batches still
// in flight.
func (l *Lane) Close(drain context.Context) (timedOut bool) {
	l.mu.Lock()
	c := l.claim
	l.mu.Unlock()
	close(c.acks)
	err := l.window.Wait(drain)
	c.giveUp()
	<-c.watched
	l.window.Abandon()
	l.mu.Lock()
	l.claim = nil
	l.mu.Unlock()
	return err != nil && drain.Err() != nil
}

// Hold sets whether a durable batch keeps its place until a confirmed
// commit covers it (true: the window bounds what a crash replays) or
// leaves once it is marked (false: no commit can come any more).
func (l *Lane) Hold(hold bool) { l.window.Hold(hold) }

// Committable returns the next offset to read below which every batch is
// durable, and whether it is ahead of the last confirmed commit: what the
// next commit of this lane covers.
func (l *Lane) Committable() (next int64, ok bool) { return l.window.Pending() }

// Committed records that the committer confirmed a commit of next: the
// durable batches it covers leave the window, freeing their places and
// budget bytes.
func (l *Lane) Committed(next int64) { l.window.Committed(next) }

// Progress returns the mark and the confirmed commit (-1 for none).
func (l *Lane) Progress() (mark, committed int64) { return l.window.Progress() }

// Why says what the lane knows of offset: whether a confirmed commit
// covers it, and if not what holds it back.
func (l *Lane) Why(offset int64) string {
	mark, committed := l.window.Progress()
	l.mu.Lock()
	failedAt, cutFirst, cutLast := l.failedAt, l.cutFirst, l.cutLast
	l.mu.Unlock()
	switch {
	case offset < committed:
		return fmt.Sprintf("committed: the confirmed commit is at %d", committed)
	case offset < mark:
		return fmt.Sprintf("durable, not committed yet: the next commit covers up to %d (confirmed: %d)", mark, committed)
	case failedAt >= 0 && offset >= failedAt:
		return fmt.Sprintf("not committed: the batch at %d failed, and nothing at or after it is committed this claim", failedAt)
	case cutFirst >= 0 && offset >= cutFirst && offset <= cutLast:
		return fmt.Sprintf("not committed: its batch (%d to %d) was cut off and is read again", cutFirst, cutLast)
	}
	return fmt.Sprintf("not committed: in flight or not read yet (durable up to %d, confirmed %d)", mark, committed)
}

// Counts returns how many batches settled and how many of them were cut
// off, since the lane began.
func (l *Lane) Counts() (settled, cutOff int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.batches, l.cutBatches
}
