package engine

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// A stop has one budget, DrainTimeout, counted from the moment it begins:
// the sources stop reading and the batches in flight finish, for at most
// DrainTimeout less the commit reserve; then whatever is still in flight is
// cut off (r.cancel: writes and retries see their context end, and a
// cut-off is never committed, see cutOff); then the sinks flush and the
// sources commit until the deadline. A stage that ignores its context (a
// Watermill Publisher's Publish takes none) cannot hold the stop past
// stopMargin after the deadline, plus withinFloor for each of the router's
// close and the stages' close (at most 1.5 s in all): the run gives up
// waiting for it, names it in its error, and commits only what was acked.

// stopMargin is how long a stop may run past DrainTimeout when a stage
// ignores its context.
const stopMargin = time.Second

// withinFloor is the least within waits, however late the stop is.
const withinFloor = 250 * time.Millisecond

// busy counts a stage's calls under way (an operator's Apply, a sink's
// write and its retries), so that a stop that timed out can name the
// stages it waits on. A nil *busy counts nothing.
type busy struct {
	id string
	n  atomic.Int64
}

// enter notes a call and returns what ends it.
func (b *busy) enter() (leave func()) {
	if b == nil {
		return func() {}
	}
	b.n.Add(1)
	return b.leave
}

func (b *busy) leave() { b.n.Add(-1) }

// busyStage returns the call counter of stage id, made once.
func (r *run) busyStage(id string) *busy {
	r.busyMu.Lock()
	defer r.busyMu.Unlock()
	if r.busy == nil {
		r.busy = map[string]*busy{}
	}
	b := r.busy[id]
	if b == nil {
		b = &busy{id: id}
		r.busy[id] = b
	}
	return b
}

// stuck names the stages with calls under way, sorted.
func (r *run) stuck() []string {
	r.busyMu.Lock()
	defer r.busyMu.Unlock()
	var ids []string
	for id, b := range r.busy {
		if b.n.Load() > 0 {
			ids = append(ids, fmt.Sprintf("%q (%d call(s))", id, b.n.Load()))
		}
	}
	slices.Sort(ids)
	return ids
}

// drainTimedOut is the run's error when a stop's drain timed out.
func (r *run) drainTimedOut() error {
	where := "batches still in flight"
	if ids := r.stuck(); len(ids) > 0 {
		where += " at stage " + strings.Join(ids, ", ")
	}
	return fmt.Errorf("stopping: the drain timeout (%s) passed with %s; they are cut off, not committed, and will be read again", r.opts.DrainTimeout, where)
}

// within runs f and waits for it until the deadline, or withinFloor when
// that is later: f late is logged and left running. It reports whether f
// returned in time.
func (r *run) within(deadline time.Time, what string, f func()) bool {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	t := time.NewTimer(max(time.Until(deadline), withinFloor))
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		r.log.Error("gave up waiting: a stage ignores its context", zap.String("waiting_for", what), zap.Strings("busy", r.stuck()))
		return false
	}
}
