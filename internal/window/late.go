package window

import "math"

// Lateness says whether a window still takes a record, and if not, why.
type Lateness uint8

const (
	// OnTime: the window takes the record.
	OnTime Lateness = iota
	// LateInPartition: the record's own input had already passed the
	// window's CloseAt before it: it is more than grace_ms out of order
	// within its partition. The same in a live run and a backlog.
	LateInPartition
	// LateClosed: its own input had not, but the window had already
	// closed, which happens only when the watermark passed it while the
	// input was idle, not yet assigned, or after Finish.
	LateClosed
)

func (l Lateness) String() string {
	switch l {
	case OnTime:
		return "on time"
	case LateInPartition:
		return "late in its partition"
	}
	return "late: its window had closed while its partition was idle"
}

// Late decides whether a window closing at closeAt takes a record whose
// input's maximum before it was prev, when the watermark is wm.
func Late(prev, wm, closeAt int64) Lateness {
	switch {
	case prev >= closeAt:
		return LateInPartition
	case wm >= closeAt:
		return LateClosed
	}
	return OnTime
}

// Place appends to dst the windows that take a record at event time t,
// whose input's maximum before it was prev (Tracker.Observe), when the
// watermark is wm, and returns them; when none does, it returns dst
// unchanged and why the record is late (LateInPartition if any of its
// windows says so). A record of a hopping window goes to those of its
// windows still open and is late only when none is.
//
// A session record's window is [t, t+gap) (to merge with MergeSession),
// and it is late when its partition has passed t+grace: then no on-time
// record can touch a session that has already closed (at its End+grace,
// End >= t), so sessions come out the same whatever the read order.
func (s Spec) Place(dst []Window, t, prev, wm int64) ([]Window, Lateness) {
	if s.Kind == Session {
		if l := Late(prev, wm, satAdd(t, s.Grace)); l != OnTime {
			return dst, l
		}
		return append(dst, Window{t, satAdd(t, s.Gap)}), OnTime
	}
	n := len(dst)
	dst = s.Assign(dst, t)
	kept, why := n, OnTime
	for _, w := range dst[n:] {
		switch l := Late(prev, wm, s.CloseAt(w)); {
		case l == OnTime:
			dst[kept] = w
			kept++
		case why != LateInPartition:
			why = l
		}
	}
	if kept > n {
		return dst[:kept], OnTime
	}
	return dst[:n], why
}

// satAdd is a+b (b >= 0), saturating at math.MaxInt64.
func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
