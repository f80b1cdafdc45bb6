package checkpoint

import (
	"context"
	"fmt"
	"sync"
)

// Window tracks one partition's batches in flight, in offset order, and
// the partition's progress: the mark (every record before it is acked, so
// it is the offset to commit) and the offset the broker confirmed as
// committed; -1 for none.
//
// Contracts:
//   - Ordering: batches are tracked in offset order (Track refuses a range
//     that does not start after the last one tracked) and may be acked or
//     nacked in any order. The mark moves only over a prefix of acked
//     batches: it never passes a batch that is unacked or nacked.
//   - Failure: once the mark reaches a nacked batch it stops for the rest
//     of the run (until Abandon): nothing at or after a failed batch is
//     ever marked, even when later batches are acked.
//   - Capacity: at most capacity batches are tracked at once. A batch
//     leaves the window (is released) in offset order, once it is settled:
//     nacked, acked past a failure, or acked and marked; while the window
//     holds (Hold(true)), a marked batch leaves only once a confirmed
//     commit covers it, so a crash replays at most capacity batches.
//     Abandon releases every batch at once.
//   - Durability: the Window keeps no state beyond the process; the mark
//     and the committed offset live as long as the Window does, across
//     runs.
//   - Concurrency: every method is safe for concurrent use. A batch's
//     release function runs exactly once, without the Window's lock held,
//     in the goroutine whose call released it: releases made by different
//     calls may run concurrently and out of offset order.
type Window struct {
	capacity int

	mu        sync.Mutex
	hold      bool
	batches   []*Batch // tracked, not released, in offset order
	marked    int      // batches[:marked] are acked and covered by mark
	failed    bool     // the mark reached a nacked batch: nothing more is marked this run
	last      int64    // last offset tracked this run; -1 for none
	mark      int64
	committed int64
	changed   chan struct{} // made by a waiter (see wait), closed when a batch is released
}

// Batch is one tracked offset range; Ack or Nack it once.
type Batch struct {
	w           *Window
	first, last int64
	state       state
	release     func()
}

type state uint8

const (
	inFlight state = iota
	acked
	nacked
	gone // released or abandoned: later acks and nacks do nothing
)

// New returns a Window of capacity batches (at least 1), not holding, with
// no mark and nothing committed.
func New(capacity int) *Window {
	return &Window{capacity: max(capacity, 1), last: -1, mark: -1, committed: -1}
}

// Track adds the batch of offsets first to last (inclusive), blocking
// while capacity batches are tracked, until ctx ends. release, if not nil,
// runs once when the batch leaves the window. It fails when ctx ends first
// or when the range is empty or does not start after the last one tracked.
func (w *Window) Track(ctx context.Context, first, last int64, release func()) (*Batch, error) {
	if first < 0 || last < first {
		return nil, fmt.Errorf("checkpoint: invalid offset range %d to %d", first, last)
	}
	w.mu.Lock()
	for len(w.batches) >= w.capacity {
		changed := w.waitLocked()
		w.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		w.mu.Lock()
	}
	defer w.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if first <= w.last {
		return nil, fmt.Errorf("checkpoint: offsets %d to %d tracked after offset %d: batches must be tracked in offset order", first, last, w.last)
	}
	b := &Batch{w: w, first: first, last: last, release: release}
	w.batches = append(w.batches, b)
	w.last = last
	return b, nil
}

// Ack settles b as done. It returns the mark (the offset to commit: every
// record before it is acked) and whether this ack moved it.
func (b *Batch) Ack() (mark int64, moved bool) { return b.w.settle(b, acked) }

// Nack settles b as failed: the mark stops before it for the rest of the
// run.
func (b *Batch) Nack() { b.w.settle(b, nacked) }

// First is the first offset of b.
func (b *Batch) First() int64 { return b.first }

// Last is the last offset of b.
func (b *Batch) Last() int64 { return b.last }

func (w *Window) settle(b *Batch, s state) (int64, bool) {
	w.mu.Lock()
	if b.state != inFlight {
		mark := w.mark
		w.mu.Unlock()
		return mark, false
	}
	b.state = s
	before := w.mark
	for !w.failed && w.marked < len(w.batches) {
		next := w.batches[w.marked]
		if next.state == nacked {
			w.failed = true
			break
		}
		if next.state != acked {
			break
		}
		w.mark = max(w.mark, next.last+1)
		w.marked++
	}
	mark, released := w.mark, w.releaseLocked()
	w.mu.Unlock()
	run(released)
	return mark, mark > before
}

// releaseLocked takes the settled batches off the window's head and
// returns their release functions. Callers hold mu.
func (w *Window) releaseLocked() []func() {
	var out []func()
	n := 0
	for ; n < len(w.batches); n++ {
		b := w.batches[n]
		if b.state == inFlight || (n < w.marked && w.hold && w.committed <= b.last) {
			break // unsettled, or marked and waiting for a commit that covers it
		}
		b.state = gone
		if b.release != nil {
			out = append(out, b.release)
		}
	}
	if n == 0 {
		return nil
	}
	w.marked = max(w.marked-n, 0)
	w.batches = append(w.batches[:0], w.batches[n:]...)
	clear(w.batches[len(w.batches):cap(w.batches)]) // no references kept past the live ones
	w.wakeLocked()
	return out
}

// waitLocked returns the channel the next release closes, making it when
// no one waits yet: a window nobody waits on makes no channel per batch.
// Callers hold mu.
func (w *Window) waitLocked() chan struct{} {
	if w.changed == nil {
		w.changed = make(chan struct{})
	}
	return w.changed
}

// wakeLocked wakes whoever waits for a release. Callers hold mu.
func (w *Window) wakeLocked() {
	if w.changed != nil {
		close(w.changed)
		w.changed = nil
	}
}

func run(fns []func()) {
	for _, f := range fns {
		f()
	}
}

// Hold sets whether a marked batch keeps its place in the window until a
// confirmed commit covers it (true: the window bounds what a crash
// replays) or leaves as soon as it is marked (false: the caller commits
// later, or can commit no more).
func (w *Window) Hold(hold bool) {
	w.mu.Lock()
	w.hold = hold
	released := w.releaseLocked()
	w.mu.Unlock()
	run(released)
}

// Committed records that the broker confirmed a commit of next (the next
// offset to read): the marked batches it covers leave a holding window.
func (w *Window) Committed(next int64) {
	w.mu.Lock()
	w.committed = max(w.committed, next)
	released := w.releaseLocked()
	w.mu.Unlock()
	run(released)
}

// Pending returns the mark and whether it is ahead of the confirmed
// commit: acked records whose offsets are not committed yet.
func (w *Window) Pending() (mark int64, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mark, w.mark > w.committed
}

// Progress returns the mark and the confirmed committed offset (-1 for
// none), for metrics.
func (w *Window) Progress() (mark, committed int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mark, w.committed
}

// Len is the number of batches in the window.
func (w *Window) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.batches)
}

// Wait blocks until the window is empty (every batch released) or ctx
// ends, and returns ctx's error then.
func (w *Window) Wait(ctx context.Context) error {
	for {
		w.mu.Lock()
		empty, changed := len(w.batches) == 0, w.waitLocked()
		w.mu.Unlock()
		if empty {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Abandon ends the run: every batch still tracked is released at once,
// settled or not, and its later Ack or Nack does nothing; the failure is
// forgotten and the next Track may start at any offset (the source reads
// again from the last commit). The mark and the committed offset stay.
func (w *Window) Abandon() {
	w.mu.Lock()
	var released []func()
	for _, b := range w.batches {
		b.state = gone
		if b.release != nil {
			released = append(released, b.release)
		}
	}
	if len(w.batches) > 0 {
		w.batches = nil
		w.wakeLocked()
	}
	w.marked, w.failed, w.last = 0, false, -1
	w.mu.Unlock()
	run(released)
}
