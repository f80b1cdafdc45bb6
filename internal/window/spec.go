package window

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/conveyor-etl/conveyor/config"
)

// Kind is the kind of window a record is assigned to.
type Kind uint8

// The kinds of window; the names are the values of the window key.
const (
	None     Kind = iota // one running aggregate per key, never closed by time
	Tumbling             // fixed size_ms windows aligned to the epoch, no overlap
	Hopping              // size_ms windows starting every advance_ms, overlapping
	Session              // a burst of records no more than gap_ms apart
)

var kindNames = [...]string{None: "none", Tumbling: "tumbling", Hopping: "hopping", Session: "session"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// ParseKind returns the Kind named s ("tumbling", "hopping", "session",
// "none").
func ParseKind(s string) (Kind, error) {
	for k, n := range kindNames {
		if n == s {
			return Kind(k), nil
		}
	}
	return 0, fmt.Errorf("unknown window %q (tumbling, hopping, session or none)", s)
}

// Spec is a window definition. Times are milliseconds.
type Spec struct {
	Kind    Kind
	Size    int64 // tumbling and hopping
	Advance int64 // hopping; must divide nothing, only be > 0 and <= Size
	Gap     int64 // session
	Grace   int64 // how long after its end a window still accepts records
}

// Validate reports every error of s, each a config.Invalid of the key it
// is about (size_ms, advance_ms, gap_ms, grace_ms), so a stage's Validate
// can return them as they are.
func (s Spec) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, config.Invalid(key, format, args...))
	}
	switch s.Kind {
	case Tumbling, Hopping:
		if s.Size <= 0 {
			bad("size_ms", "must be > 0 for a %s window, got %d", s.Kind, s.Size)
		}
		if s.Kind == Hopping && (s.Advance <= 0 || s.Advance > s.Size) {
			bad("advance_ms", "must be > 0 and <= size_ms (%d) for a hopping window, got %d", s.Size, s.Advance)
		}
	case Session:
		if s.Gap <= 0 {
			bad("gap_ms", "must be > 0 for a session window, got %d", s.Gap)
		}
	case None:
	default:
		bad("window", "unknown kind %d", s.Kind)
	}
	if s.Grace < 0 {
		bad("grace_ms", "must be >= 0, got %d", s.Grace)
	}
	return errors.Join(errs...)
}

// Window is the half-open interval [Start, End) of event time, in
// milliseconds since the Unix epoch. The window of kind None is
// [math.MinInt64, math.MaxInt64).
type Window struct{ Start, End int64 }

// Forever is the one window of kind None.
var Forever = Window{Start: math.MinInt64, End: math.MaxInt64}

// Contains reports whether t is in w.
func (w Window) Contains(t int64) bool { return w.Start <= t && t < w.End }

// Assign appends to dst the windows that a record at event time t belongs
// to, in increasing Start, and returns the extended slice. A session
// record's window is [t, t+Gap), before merging (see MergeSession).
func (s Spec) Assign(dst []Window, t int64) []Window {
	switch s.Kind {
	case Tumbling:
		start := floorTo(t, s.Size)
		return append(dst, Window{start, start + s.Size})
	case Hopping:
		// Every start k*Advance with start <= t < start+Size.
		last := floorTo(t, s.Advance)
		first := last - (s.Size-1)/s.Advance*s.Advance
		for start := first; start <= last; start += s.Advance {
			if t < start+s.Size {
				dst = append(dst, Window{start, start + s.Size})
			}
		}
		return dst
	case Session:
		return append(dst, Window{t, satAdd(t, s.Gap)})
	}
	return append(dst, Forever)
}

// CloseAt is the event time at which w closes: once every input feeding
// it has reached CloseAt (see Tracker), w takes no more records and its
// result is final. A window of kind None never closes (math.MaxInt64).
func (s Spec) CloseAt(w Window) int64 {
	return satAdd(w.End, s.Grace)
}

// floorTo rounds t down to a multiple of n (n > 0), also for t < 0.
func floorTo(t, n int64) int64 {
	r := t % n
	if r < 0 {
		r += n
	}
	return t - r
}

// AppendTime appends ms, milliseconds since the Unix epoch, as RFC 3339
// in UTC with millisecond precision when it has milliseconds
// ("2026-12-07T18:47:00Z", "2026-12-07T18:47:00.250Z"), the text of
// window_start and window_end.
func AppendTime(dst []byte, ms int64) []byte {
	t := time.UnixMilli(ms).UTC()
	if ms%1000 == 0 {
		return t.AppendFormat(dst, time.RFC3339)
	}
	return t.AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
}
