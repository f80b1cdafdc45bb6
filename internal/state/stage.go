package state

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/plugin"
)

// Stage is the state of one stateful stage across its input partitions.
// Apply is called for one batch of a partition at a time, in the
// partition's order (the engine's turns); batches of different partitions
// may be applied at once.
type Stage struct {
	id   string
	proc plugin.Processor
	// open opens the changelog, once, when the first partition is
	// restored; nil keeps state in memory only.
	open   func(ctx context.Context) (Changelog, error)
	clOnce sync.Once
	cl     Changelog
	clErr  error

	mu      sync.Mutex
	locks   map[int32]*sync.Mutex // per partition, held while a batch is applied
	parts   map[int32]*partition
	origins map[int32]string // per partition, the origin of its last batch

	disk diskOptions // the disk store's, when state_dir is set
	// clock, when set, makes each partition's clock (behind a
	// repartition topic); nil: a partition's watermark is its own maximum.
	clock func(partition int32) Clock

	late              atomic.Int64
	restoring         atomic.Int64 // partitions being restored now
	restored, toRead  atomic.Int64 // changes restored, and to restore, so far
	restoredPartition atomic.Int64
	restarts          atomic.Int64 // exactly-once: states dropped at a claim's end
}

// New makes the state of stage id, run by proc. open opens its changelog
// (nil: the state lives in memory only, for a pipeline without a Kafka
// source).
func New(id string, proc plugin.Processor, open func(context.Context) (Changelog, error)) *Stage {
	return &Stage{id: id, proc: proc, open: open, locks: map[int32]*sync.Mutex{}, parts: map[int32]*partition{}, origins: map[int32]string{}, disk: diskOptions{log: zap.NewNop()}}
}

// Clock is the event-time clock of one partition's state whose records
// interleave several inputs (behind a repartition topic): it decides the
// watermark that fires timers, what a record's Process sees as
// Watermark, and which records were processed already. Its state is
// saved with the partition's after each batch (Checkpoint) and restored
// with it (Restore). A partition's batches are applied one at a time, so
// a Clock is used by one goroutine at a time. wall is the wall time in ms.
type Clock interface {
	// Take is called with each record before anything else, and says
	// what it is: a record to process, a watermark record the clock took
	// in, or a record processed already (written again by an input that
	// was read again after a crash), which Process never sees.
	Take(r plugin.Record, wall int64) Taken
	// Observe takes in record r at event time t and returns what Process
	// sees as the Watermark while it handles r.
	Observe(r plugin.Record, t, wall int64) int64
	// Advance returns the watermark after a batch: timers at or before it
	// fire. It never decreases.
	Advance(wall int64) int64
	// Checkpoint appends the clock's state to dst; Restore sets the clock
	// to a state Checkpoint gave (the latest restored wins).
	Checkpoint(dst []byte) []byte
	Restore(b []byte, wall int64) error
}

// Taken is what Clock.Take makes of a record.
type Taken uint8

const (
	// TakeRecord: a record to process.
	TakeRecord Taken = iota
	// TakeMark: a watermark record, not a record of the input.
	TakeMark
	// TakeReplayed: a record the partition's state has processed already.
	TakeReplayed
)

// WithClock makes every partition's state keep its event time with the
// Clock newClock makes for it, instead of its own maximum.
func (s *Stage) WithClock(newClock func(partition int32) Clock) { s.clock = newClock }

// OnePass is a Processor that reads a record once for both its event time
// and Process (window.aggregate): Apply calls ProcessTimed instead of
// EventTime then Process.
type OnePass interface {
	// ProcessTimed is EventTime then, when it succeeds (timed), observe
	// (when not nil) with the time, then Process, with Process's error;
	// when EventTime fails, its error and timed false. observe sets the
	// Watermark that Process sees (a Clock's, behind a repartition topic).
	ProcessTimed(st plugin.State, r plugin.Record, observe func(t int64)) (t int64, timed bool, err error)
}

// KeyTimer is a Processor that reads a record once for its key
// (plugin.Keyer) and its event time, for the repartition topic's writer.
type KeyTimer interface {
	// KeyTime appends r's key to dst and returns it with r's event time:
	// Key's error when Key fails, else EventTime's.
	KeyTime(r plugin.Record, dst []byte) (withKey []byte, t int64, err error)
}

// Result is what a batch gave.
type Result struct {
	// Out are the records the batch emitted, in order.
	Out []plugin.Record
	// Late are the indexes of the records Process reported late.
	Late []int
	// Skipped counts records below the offset the restored state had
	// already processed.
	Skipped int
	// Marks counts the watermark records the Clock took in, and Replayed
	// the records it found processed already (both are not processed).
	Marks, Replayed int
	// Watermark is the partition's watermark after the batch (what fired
	// its timers).
	Watermark int64
	// Pending holds the batch's changes: Write them once the batch's
	// output is durable, or Abandon them when the batch failed.
	Pending *Pending
}

// Apply processes batch b of one partition. ctx is the batch's context as
// its source emitted it: when the previous batch's context has ended, the
// partition's claim ended and the state catches up with the changelog
// before going on. Records the processor fails go to fail; an error fails
// the whole batch (a timer's error, a restore that failed).
func (s *Stage) Apply(ctx context.Context, b plugin.Batch, fail func(int, error)) (Result, error) {
	// Two origins (topics) of one source may share a partition number and
	// so a state: their turns are not ordered with each other.
	s.mu.Lock()
	l := s.locks[b.Partition]
	if l == nil {
		l = new(sync.Mutex)
		s.locks[b.Partition] = l
	}
	s.mu.Unlock()
	l.Lock()
	defer l.Unlock()
	p, err := s.partition(ctx, b.Partition, b.Origin)
	if err != nil {
		return Result{}, err
	}
	var res Result
	next := p.next[b.Origin]
	last := int64(-1)
	wall := time.Now().UnixMilli()
	one, _ := s.proc.(OnePass)
	var cur plugin.Record // the record ProcessTimed works on
	var observe func(int64)
	if p.clock != nil {
		observe = func(t int64) { p.view = max(p.wm, p.clock.Observe(cur, t, wall)) }
	}
	for i, r := range b.Records {
		if r.Offset >= 0 && r.Offset < next {
			res.Skipped++
			continue
		}
		last = max(last, r.Offset)
		if p.clock != nil {
			switch p.clock.Take(r, wall) {
			case TakeMark:
				res.Marks++
				continue
			case TakeReplayed:
				res.Replayed++
				continue
			}
		}
		var t int64
		if one != nil {
			p.offset, cur = r.Offset, r
			var timed bool
			if t, timed, err = one.ProcessTimed(p, r, observe); !timed {
				fail(i, err)
				continue
			}
		} else {
			if t, err = s.proc.EventTime(r); err != nil {
				fail(i, err)
				continue
			}
			p.offset = r.Offset
			if p.clock != nil {
				p.view = max(p.wm, p.clock.Observe(r, t, wall))
			}
			err = s.proc.Process(p, r)
		}
		if p.clock == nil {
			p.wm = max(p.wm, t)
			p.view = p.wm
		}
		if err != nil {
			if errors.Is(err, plugin.ErrLate) {
				res.Late = append(res.Late, i)
				s.late.Add(1)
			} else {
				fail(i, err)
			}
		}
	}
	if p.clock != nil {
		p.wm = max(p.wm, p.clock.Advance(wall))
		p.view = p.wm
	}
	if err := p.fire(s.proc); err != nil {
		s.abandon(p)
		return Result{}, fmt.Errorf("stage %q: timer: %w", s.id, err)
	}
	if err := p.store.err(); err != nil {
		s.abandon(p)
		return Result{}, fmt.Errorf("stage %q, partition %d: %w", s.id, p.id, err)
	}
	if last >= 0 {
		p.mark(b.Origin, last+1)
	} else {
		p.mark(b.Origin, -1)
	}
	res.Out, p.out = p.out, nil
	res.Watermark = p.wm
	res.Pending = &Pending{s: s, p: p, changes: p.store.capture(), prev: p.tail, own: make(chan struct{})}
	p.tail = res.Pending.own
	return res, nil
}

// partition returns the state of partition id, restored from the
// changelog when it is new here, after a failed batch, or after its claim
// ended (then only what others wrote since is read).
func (s *Stage) partition(ctx context.Context, id int32, origin string) (*partition, error) {
	s.mu.Lock()
	p := s.parts[id]
	s.origins[id] = origin
	fresh := p == nil || p.broken
	s.mu.Unlock()
	if !fresh && (s.open == nil || p.claim == nil || p.claim.Err() == nil) {
		s.claimed(p, ctx)
		return p, nil
	}
	if p != nil && !p.broken { // the last batch's changes must be in the changelog first
		select {
		case <-p.tail:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if p != nil && !fresh && IsTransactional(s.cl) {
		// Exactly-once: the claim ended, and the transaction holding the
		// partition's last changes may have aborted with it. The state
		// starts again from what committed.
		fresh = true
		s.restarts.Add(1)
	}
	if p != nil && (fresh || s.disk.on()) {
		// A disk store is closed when its claim ends, and opened again
		// from its checkpoint; a broken one, from it too.
		if err := p.store.close(); err != nil {
			s.disk.log.Warn("closing a disk store", zap.String("stage", s.id), zap.Int32("partition", id), zap.Error(err))
		}
		fresh = true
	}
	if fresh {
		p = newPartition(id)
		if s.clock != nil {
			p.clock = s.clock(id)
		}
	}
	s.claimed(p, ctx)
	if s.open != nil {
		if err := s.restore(ctx, p); err != nil {
			return nil, fmt.Errorf("stage %q: restoring partition %d from the changelog: %w", s.id, id, err)
		}
	}
	s.mu.Lock()
	s.parts[id] = p
	s.mu.Unlock()
	return p, nil
}

// restore reads partition p's changelog from where p's store is.
func (s *Stage) restore(ctx context.Context, p *partition) error {
	s.clOnce.Do(func() { s.cl, s.clErr = s.open(ctx) })
	if s.clErr != nil {
		return s.clErr
	}
	s.restoring.Add(1)
	defer s.restoring.Add(-1)
	if _, mem := p.store.(*memStore); mem && s.diskFor() {
		if err := s.openDisk(p); err != nil {
			return err
		}
	}
	read := func() (int64, error) {
		return s.cl.Read(ctx, p.id, p.clEnd, func(n int64) { s.toRead.Add(n) }, func(c Change) {
			p.load(c)
			s.restored.Add(1)
		})
	}
	end, err := read()
	if err == nil && end < p.clEnd {
		// The changelog ends before the checkpoint: it is not the one the
		// disk store was written from (deleted and created again).
		s.disk.log.Warn("the disk store's checkpoint is past the end of the changelog: wiping it and restoring from the changelog",
			zap.String("stage", s.id), zap.Int32("partition", p.id), zap.Int64("checkpoint", p.clEnd), zap.Int64("changelog_end", end))
		if err := s.wipe(p); err != nil {
			return err
		}
		end, err = read()
	}
	if err != nil {
		return err
	}
	if err := p.store.loaded(end); err != nil {
		return err
	}
	p.clEnd = end
	s.restoredPartition.Add(1)
	return nil
}

// abandon drops p's state after a batch of it failed: its next batch
// restores it from the changelog. Without a changelog the state is kept
// (the run stops anyway).
func (s *Stage) abandon(p *partition) {
	if s.open == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p.broken = true // its next batch closes its store and makes another
}

// End fires every timer of every partition, as if the event time had
// reached its end, and returns what they emitted, per partition: for the
// end of a bounded input kept in memory only.
func (s *Stage) End() ([]plugin.Batch, error) {
	s.mu.Lock()
	ids := make([]int32, 0, len(s.parts))
	for id := range s.parts {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	slices.Sort(ids)
	var out []plugin.Batch
	for _, id := range ids {
		s.mu.Lock()
		p := s.parts[id]
		s.mu.Unlock()
		p.wm, p.view = math.MaxInt64, math.MaxInt64
		if err := p.fire(s.proc); err != nil {
			return nil, fmt.Errorf("stage %q: timer: %w", s.id, err)
		}
		if len(p.out) > 0 {
			out = append(out, plugin.Batch{Records: p.out, Origin: s.origins[id], Partition: id})
			p.out = nil
		}
	}
	return out, nil
}

// Late counts the records reported late so far.
func (s *Stage) Late() int64 { return s.late.Load() }

// Progress says how far restores are: partitions being restored now,
// changes restored and to restore so far.
type Progress struct {
	Restoring        int64
	Restored, ToRead int64
	Partitions       int64 // restores finished
	// Dropped counts, under exactly-once, the partition states dropped at
	// the end of a claim and restored from what committed.
	Dropped int64
}

// Progress returns the stage's restore progress.
func (s *Stage) Progress() Progress {
	return Progress{Restoring: s.restoring.Load(), Restored: s.restored.Load(), ToRead: s.toRead.Load(), Partitions: s.restoredPartition.Load(), Dropped: s.restarts.Load()}
}

// Keys counts the keys held in memory (processor keys, timers and marks).
func (s *Stage) Keys() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, p := range s.parts {
		n += p.store.len()
	}
	return n
}

// HasChangelog reports whether the state is kept in a changelog (else in
// memory only).
func (s *Stage) HasChangelog() bool { return s.open != nil }

// Close closes the stores and the changelog.
func (s *Stage) Close() error {
	s.mu.Lock()
	var errs []error
	for _, p := range s.parts {
		errs = append(errs, p.store.close())
	}
	s.mu.Unlock()
	if s.cl != nil {
		errs = append(errs, s.cl.Close())
	}
	return errors.Join(errs...)
}

// Pending is one batch's changes, to be written once its output is
// durable. Write or Abandon it, once.
type Pending struct {
	s       *Stage
	p       *partition
	changes []Change
	prev    <-chan struct{}
	own     chan struct{}
	once    sync.Once
}

// errEarlierFailed is Write's error after a batch before it failed.
var errEarlierFailed = errors.New("an earlier batch of the partition failed, so its state is restored from the changelog")

// Write writes the changes after those of the partition's batch before,
// and returns once they are durable (at once without a changelog). An
// error abandons them.
func (pd *Pending) Write(ctx context.Context) error {
	select {
	case <-pd.prev:
	case <-ctx.Done():
		pd.Abandon()
		return ctx.Err()
	}
	pd.s.mu.Lock()
	broken := pd.p.broken
	pd.s.mu.Unlock()
	if broken {
		pd.Abandon()
		return fmt.Errorf("stage %q, partition %d: %w", pd.s.id, pd.p.id, errEarlierFailed)
	}
	if pd.s.cl != nil && len(pd.changes) > 0 {
		end, err := pd.s.cl.Write(ctx, pd.p.id, pd.changes)
		if err != nil {
			pd.Abandon()
			return fmt.Errorf("stage %q: changelog write, partition %d: %w", pd.s.id, pd.p.id, err)
		}
		pd.p.clEnd = max(pd.p.clEnd, end)
		if err := pd.p.store.written(pd.changes, end); err != nil {
			pd.Abandon()
			return fmt.Errorf("stage %q, partition %d: %w", pd.s.id, pd.p.id, err)
		}
	}
	pd.once.Do(func() { close(pd.own) })
	return nil
}

// Abandon drops the changes of a batch that failed; the partition's state
// is restored from the changelog when its next batch comes.
func (pd *Pending) Abandon() {
	pd.once.Do(func() {
		pd.s.abandon(pd.p)
		close(pd.own)
	})
}
