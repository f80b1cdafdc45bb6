package engine

import (
	"github.com/tidwall/gjson"

	"github.com/conveyor-etl/conveyor/internal/record"
	"github.com/conveyor-etl/conveyor/internal/state"
	"github.com/conveyor-etl/conveyor/internal/window"
	"github.com/conveyor-etl/conveyor/plugin"
)

// repartitionClock is the state.Clock of one repartition partition: a
// window.Tracker whose inputs are the source topic's partitions, fed by
// the window.Mark each message of the partition carries (see
// repartition.go). A record without a mark (written by something else)
// counts as its own input's progress, under input -1.
type repartitionClock struct {
	tr      *window.Tracker
	inputs  int32 // the source topic's partitions
	started bool
}

func newRepartitionClock(inputs int32, idleTimeout int64) *repartitionClock {
	return &repartitionClock{tr: window.NewTracker(idleTimeout), inputs: inputs}
}

// start assigns every input partition at the first batch: each holds the
// watermark back until it is heard from (or idle_timeout_ms).
func (c *repartitionClock) start(wall int64) {
	if !c.started {
		c.started = true
		for p := range c.inputs {
			c.tr.Assign(p, wall)
		}
	}
}

// Mark implements state.Clock: a mark record is a tombstone with a mark.
func (c *repartitionClock) Mark(r plugin.Record, wall int64) bool {
	c.start(wall)
	if !record.IsTombstone(r.Value) {
		return false
	}
	m, ok := markOf(r)
	if ok {
		c.tr.ObserveMark(m, wall)
	}
	return ok
}

// Observe implements state.Clock: the record's lateness is decided by its
// input partition's largest event time before it (the mark it carries),
// and by the watermark (a window closed while its input was idle).
func (c *repartitionClock) Observe(r plugin.Record, t, wall int64) int64 {
	m, ok := markOf(r)
	if !ok { // not written by a repartition writer: no input to follow
		return c.tr.Watermark()
	}
	prev := c.tr.ObserveCarried(m.Input, t, m.Max, wall)
	return max(prev, c.tr.Watermark())
}

// Advance implements state.Clock.
func (c *repartitionClock) Advance(wall int64) int64 { return c.tr.Advance(wall) }

var _ state.Clock = (*repartitionClock)(nil)

// markOf returns the mark r carries in its headers.
func markOf(r plugin.Record) (window.Mark, bool) {
	hs := gjson.GetBytes(r.Value, record.HeadersField)
	if !hs.IsObject() {
		return window.Mark{}, false
	}
	var raw []byte
	_ = record.EachHeader([]byte(hs.Raw), func(k, v []byte) {
		if string(k) == window.MarkHeader {
			raw = v
		}
	})
	if raw == nil {
		return window.Mark{}, false
	}
	m, err := window.ParseMark(raw)
	return m, err == nil
}
