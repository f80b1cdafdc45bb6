package engine

import (
	"encoding/binary"
	"errors"
	"strconv"

	"github.com/tidwall/gjson"

	"github.com/conveyor-etl/conveyor/internal/record"
	"github.com/conveyor-etl/conveyor/internal/state"
	"github.com/conveyor-etl/conveyor/internal/window"
	"github.com/conveyor-etl/conveyor/plugin"
)

// offsetHeader carries, on a record of a repartition topic, its offset in
// its input partition: the reader skips a record at or below the last one
// it processed of that input, which a writer read again after a crash or
// a rebalance wrote a second time.
const offsetHeader = "conveyor-offset"

// repartitionClock is the state.Clock of one repartition partition: a
// window.Tracker whose inputs are the source topic's partitions, fed by
// the window.Mark each message of the partition carries (see
// repartition.go), and per input the offset of the last record processed.
type repartitionClock struct {
	tr      *window.Tracker
	idle    int64
	inputs  int32 // the source topic's partitions
	started bool
	last    map[int32]int64 // per input, the offset of the last record taken
	cur     window.Mark     // the mark of the record Take took last
	curOK   bool
	src     window.Mark // its source partition's mark, after two repartitions or more
	srcOK   bool
}

func newRepartitionClock(inputs int32, idleTimeout int64) *repartitionClock {
	return &repartitionClock{tr: window.NewTracker(idleTimeout), idle: idleTimeout, inputs: inputs, last: map[int32]int64{}}
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

// Take implements state.Clock: a mark record is a tombstone with a mark;
// a record whose input offset is at or below the last taken of its input
// was taken already.
func (c *repartitionClock) Take(r plugin.Record, wall int64) state.Taken {
	c.start(wall)
	m, off, src, ok := carried(r)
	c.cur, c.curOK = m, ok
	c.src, c.srcOK = src, ok && src.Input >= 0
	if !ok {
		return state.TakeRecord // not written by a repartition writer
	}
	if record.IsTombstone(r.Value) {
		c.tr.ObserveMark(m, wall)
		return state.TakeMark
	}
	if off >= 0 {
		if last, seen := c.last[m.Input]; seen && off <= last {
			return state.TakeReplayed
		}
		c.last[m.Input] = off
	}
	return state.TakeRecord
}

// Observe implements state.Clock: the record's lateness is decided by its
// input partition's largest event time before it, and by the watermark (a
// window closed while its input was idle). That largest time is the one
// the record carries, or the one this partition heard of its input
// before, when greater: a writer that took the input partition over
// (after a rebalance or a restart) knows only the records it read itself,
// while what the writer before it sent (its records and marks, all of
// records before the current one in the input's order) is still here.
func (c *repartitionClock) Observe(_ plugin.Record, t, wall int64) int64 {
	if !c.curOK { // no input to follow
		return c.tr.Watermark()
	}
	if c.srcOK {
		// Through an earlier repartition: the writer's progress is its
		// mark alone (not the record's time), and the record is late by
		// its source partition's order.
		c.tr.ObserveMark(c.cur, wall)
		return max(c.src.Max, c.tr.Watermark())
	}
	heard := c.tr.Max(c.cur.Input)
	prev := c.tr.ObserveCarried(c.cur.Input, t, c.cur.Max, wall)
	return max(prev, heard, c.tr.Watermark())
}

// Advance implements state.Clock.
func (c *repartitionClock) Advance(wall int64) int64 { return c.tr.Advance(wall) }

// Checkpoint implements state.Clock: per input, its number, largest event
// time and last offset taken (-1: none), as varints.
func (c *repartitionClock) Checkpoint(dst []byte) []byte {
	var marks [16]window.Mark
	for _, m := range c.tr.Marks(marks[:0]) {
		last, ok := c.last[m.Input]
		if !ok {
			last = -1
		}
		dst = binary.AppendUvarint(dst, uint64(m.Input))
		dst = binary.AppendVarint(dst, m.Max)
		dst = binary.AppendVarint(dst, last)
	}
	return dst
}

// Restore implements state.Clock.
func (c *repartitionClock) Restore(b []byte, wall int64) error {
	tr, last := window.NewTracker(c.idle), map[int32]int64{}
	for len(b) > 0 {
		in, n := binary.Uvarint(b)
		if n <= 0 || in > 1<<31-1 {
			return errors.New("repartition clock checkpoint: bad input")
		}
		b = b[n:]
		mx, n := binary.Varint(b)
		if n <= 0 {
			return errors.New("repartition clock checkpoint: bad maximum")
		}
		b = b[n:]
		off, n := binary.Varint(b)
		if n <= 0 {
			return errors.New("repartition clock checkpoint: bad offset")
		}
		b = b[n:]
		tr.ObserveMark(window.Mark{Input: int32(in), Max: mx}, wall)
		if off >= 0 {
			last[int32(in)] = off
		}
	}
	c.tr, c.last, c.started = tr, last, false
	return nil
}

// carried returns the mark r carries in its headers, its input offset
// (-1 when it has none) and its source mark (Input -1 when it has none).
func carried(r plugin.Record) (m window.Mark, off int64, src window.Mark, ok bool) {
	src.Input, off = -1, -1
	hs := gjson.GetBytes(r.Value, record.HeadersField)
	if !hs.IsObject() {
		return m, off, src, false
	}
	var raw, rawSrc []byte
	_ = record.EachHeader([]byte(hs.Raw), func(k, v []byte) {
		switch string(k) {
		case window.MarkHeader:
			raw = v
		case srcHeader:
			rawSrc = v
		case offsetHeader:
			if o, err := strconv.ParseInt(string(v), 10, 64); err == nil {
				off = o
			}
		}
	})
	if raw == nil {
		return m, -1, src, false
	}
	m, err := window.ParseMark(raw)
	if err != nil {
		return m, -1, src, false
	}
	if rawSrc != nil {
		if s, err := window.ParseMark(rawSrc); err == nil {
			src = s
		}
	}
	return m, off, src, true
}

var _ state.Clock = (*repartitionClock)(nil)
