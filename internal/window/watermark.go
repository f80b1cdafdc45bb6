package window

import (
	"math"
	"slices"
)

// NoTime is the event time of nothing yet: the maximum of an input that
// has seen no record, and the watermark before any.
const NoTime int64 = math.MinInt64

// Tracker keeps the watermark of one stateful stage instance: per input
// (a partition the instance reads, or, behind a repartition topic, a
// partition of the source topic; see Mark) the maximum event time seen,
// and the watermark, the minimum of those maxima over the inputs that are
// not idle. See the package documentation for the rules.
//
// A Tracker is not safe for concurrent use: the one goroutine that
// processes the stage's records (its lane) owns it. Wall times are
// milliseconds of the caller's clock, so tests pass their own.
type Tracker struct {
	idleTimeout int64
	inputs      []input // sorted by id; few (the partitions of one instance)
	wm          int64
}

type input struct {
	id       int32
	max      int64 // NoTime until its first record or mark
	lastWall int64 // wall time of its last record, mark or assignment
	lagging  bool  // the runtime knows records are waiting to be read
	idleMark bool  // an upstream Mark said idle
}

// NewTracker returns a Tracker without inputs. idleTimeout (ms of wall
// time, idle_timeout_ms) is how long an input may go without a record
// before it stops holding the watermark back; 0 means never.
func NewTracker(idleTimeout int64) *Tracker {
	return &Tracker{idleTimeout: max(idleTimeout, 0), wm: NoTime}
}

// Watermark is the event time that every input not idle has reached, as
// of the last Advance; it never decreases. A window closes when the
// watermark reaches its CloseAt.
func (t *Tracker) Watermark() int64 { return t.wm }

func (t *Tracker) find(id int32) (int, bool) {
	return slices.BinarySearchFunc(t.inputs, id, func(in input, id int32) int {
		return int(in.id) - int(id)
	})
}

// Assign adds an input (a partition assigned to this instance) at wall
// time wall. Until its first record it holds the watermark at NoTime, or
// at most idleTimeout of wall time. Assigning an input twice keeps it as
// it is.
func (t *Tracker) Assign(id int32, wall int64) {
	i, ok := t.find(id)
	if !ok {
		t.inputs = slices.Insert(t.inputs, i, input{id: id, max: NoTime, lastWall: wall})
	}
}

// Revoke removes an input: it no longer holds the watermark back.
func (t *Tracker) Revoke(id int32) {
	if i, ok := t.find(id); ok {
		t.inputs = slices.Delete(t.inputs, i, i+1)
	}
}

func (t *Tracker) at(id int32, wall int64) *input {
	i, ok := t.find(id)
	if !ok {
		t.Assign(id, wall)
	}
	return &t.inputs[i]
}

// Observe records a record of input id at event time ts, read at wall
// time wall, and returns the input's maximum before it (NoTime for its
// first record): the prev that Place decides lateness by. An input not
// assigned yet is assigned.
func (t *Tracker) Observe(id int32, ts, wall int64) (prev int64) {
	in := t.at(id, wall)
	prev = in.max
	in.max = max(in.max, ts)
	in.lastWall, in.idleMark = wall, false
	return prev
}

// ObserveCarried is Observe for a record read from a repartition topic:
// carried is the maximum of its source partition before it, as its Mark
// header says, and is returned as prev, since lateness is decided in the
// source partition's own order, which the repartition topic interleaves
// with the other sources'.
func (t *Tracker) ObserveCarried(id int32, ts, carried, wall int64) (prev int64) {
	in := t.at(id, wall)
	in.max = max(in.max, ts, carried)
	in.lastWall, in.idleMark = wall, false
	return carried
}

// ObserveMark applies a Mark without a record (a watermark record of a
// repartition topic, or a restored checkpoint): the input's maximum rises
// to m.Max, and m.Idle marks it idle until its next record.
func (t *Tracker) ObserveMark(m Mark, wall int64) {
	in := t.at(m.Input, wall)
	in.max = max(in.max, m.Max)
	in.lastWall, in.idleMark = wall, m.Idle
}

// SetLagging tells the Tracker whether records of input id are known to
// be waiting (its consumer lag is above zero, or a fetch is paused by
// backpressure). A lagging input is never idle, so reading a backlog at
// an uneven pace cannot close a window early. Default false.
func (t *Tracker) SetLagging(id int32, lagging bool) {
	if i, ok := t.find(id); ok {
		t.inputs[i].lagging = lagging
	}
}

func (t *Tracker) idle(in *input, wall int64) bool {
	return in.idleMark || t.idleTimeout > 0 && !in.lagging && wall-in.lastWall >= t.idleTimeout
}

// Advance recomputes the watermark at wall time wall and returns it: the
// minimum maximum over the inputs that are not idle, or, when every input
// is idle, the greatest maximum (nothing holds back, but the watermark
// never passes the data seen). It never decreases. Call it after a batch
// of records and on a wall-clock tick, so idle inputs are noticed.
func (t *Tracker) Advance(wall int64) int64 {
	lo, hi, active := int64(math.MaxInt64), NoTime, false
	for i := range t.inputs {
		in := &t.inputs[i]
		hi = max(hi, in.max)
		if !t.idle(in, wall) {
			lo, active = min(lo, in.max), true
		}
	}
	if !active {
		lo = hi
	}
	t.wm = max(t.wm, lo)
	return t.wm
}

// Max is input id's largest event time so far (NoTime when it has none,
// or is not assigned).
func (t *Tracker) Max(id int32) int64 {
	if i, ok := t.find(id); ok {
		return t.inputs[i].max
	}
	return NoTime
}

// Idle reports whether input id is idle at wall time wall.
func (t *Tracker) Idle(id int32, wall int64) bool {
	i, ok := t.find(id)
	return ok && t.idle(&t.inputs[i], wall)
}

// Finish is the end of a bounded input: the watermark becomes
// math.MaxInt64, which closes every window, those of kind None too.
func (t *Tracker) Finish() { t.wm = math.MaxInt64 }

// Marks appends to dst the Mark of every input (its maximum; Idle as an
// upstream said), in input order: what a checkpoint keeps so a restart
// decides lateness as the run before it would have.
func (t *Tracker) Marks(dst []Mark) []Mark {
	for _, in := range t.inputs {
		dst = append(dst, Mark{Input: in.id, Max: in.max, Idle: in.idleMark})
	}
	return dst
}
