package pipetest

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/record"
)

// check compares what a run of c produced with what c expects, and
// returns one message per difference, each naming where the expectation
// is written, the record that differs and the input it came from.
func (f *File) check(c *Case, o *outcome) []string {
	var fails []string
	failf := func(format string, args ...any) { fails = append(fails, fmt.Sprintf(format, args...)) }
	switch {
	case c.Error == "" && o.err != nil:
		failf("%s: the run failed: %v", c.Pos, o.err)
	case c.Error != "" && o.err == nil:
		failf("%s: error: want the run to fail with %q, it succeeded", c.Pos, c.Error)
	case c.Error != "" && !strings.Contains(o.err.Error(), c.Error):
		failf("%s: error: want the run to fail with %q, got: %v", c.Pos, c.Error, o.err)
	}
	sinks := map[string][]*Expect{}
	var order []string
	for i := range c.Output {
		e := &c.Output[i]
		if _, seen := sinks[e.Stage]; !seen {
			order = append(order, e.Stage)
		}
		sinks[e.Stage] = append(sinks[e.Stage], e)
	}
	for _, s := range c.NoOutput {
		if _, seen := sinks[s]; !seen {
			order = append(order, s)
			sinks[s] = nil
		}
	}
	for _, s := range order {
		fails = append(fails, f.checkSink(c, s, sinks[s], o)...)
	}
	fails = append(fails, f.checkDeadLetters(c, o)...)
	fails = append(fails, checkCounts(c, o)...)
	return fails
}

// checkSink compares the records sink stage wrote with want, in order.
func (f *File) checkSink(c *Case, stage string, want []*Expect, o *outcome) []string {
	got := o.written[stage]
	var fails []string
	for i := 0; i < max(len(want), len(got)); i++ {
		switch {
		case i >= len(got):
			e := want[i]
			fails = append(fails, fmt.Sprintf("%s: sink %q wrote %d record(s); expected record %d is missing:\n%s",
				e.Pos, stage, len(got), i+1, indent(e.describe())))
		case i >= len(want):
			fails = append(fails, fmt.Sprintf("%s: sink %q wrote %d record(s), %d expected; record %d %s is not:\n%s",
				c.Pos, stage, len(got), len(want), i+1, o.source(got[i].from), indent(got[i].describe())))
		default:
			if diffs := want[i].match(got[i]); len(diffs) > 0 {
				fails = append(fails, fmt.Sprintf("%s: sink %q record %d %s differs:\n%s",
					want[i].Pos, stage, i+1, o.source(got[i].from), indent(strings.Join(diffs, "\n"))))
			}
		}
	}
	return fails
}

// checkDeadLetters compares the dead-letter queue with c's dead_letter
// entries, when it has any or counts dead_lettered.
func (f *File) checkDeadLetters(c *Case, o *outcome) []string {
	if len(c.DeadLetter) == 0 {
		return nil
	}
	var fails []string
	got := o.dead
	for i := 0; i < max(len(c.DeadLetter), len(got)); i++ {
		switch {
		case i >= len(got):
			e := &c.DeadLetter[i]
			fails = append(fails, fmt.Sprintf("%s: %d record(s) dead-lettered; expected dead letter %d is missing:\n%s",
				e.Pos, len(got), i+1, indent(e.describe())))
		case i >= len(c.DeadLetter):
			fails = append(fails, fmt.Sprintf("%s: %d record(s) dead-lettered, %d expected; dead letter %d %s is not:\n%s",
				c.Pos, len(got), len(c.DeadLetter), i+1, o.source(got[i].from), indent(got[i].describe())))
		default:
			if diffs := c.DeadLetter[i].matchDead(got[i]); len(diffs) > 0 {
				fails = append(fails, fmt.Sprintf("%s: dead letter %d %s differs:\n%s",
					c.DeadLetter[i].Pos, i+1, o.source(got[i].from), indent(strings.Join(diffs, "\n"))))
			}
		}
	}
	return fails
}

func checkCounts(c *Case, o *outcome) []string {
	var fails []string
	for _, n := range []struct {
		name      string
		want, got int64
	}{
		{"in", c.Counts.In, o.sum.In},
		{"out", c.Counts.Out, o.sum.Out},
		{"filtered", c.Counts.Filtered, o.sum.Filtered},
		{"failed", c.Counts.Failed, o.sum.Failed},
		{"dead_lettered", c.Counts.DeadLettered, o.sum.DeadLettered},
		{"late", c.Counts.Late, late(o.sum)},
	} {
		if n.want >= 0 && n.want != n.got {
			fails = append(fails, fmt.Sprintf("%s: counts.%s: want %d, got %d (in=%d out=%d filtered=%d failed=%d dead_lettered=%d late=%d)",
				c.Pos, n.name, n.want, n.got, o.sum.In, o.sum.Out, o.sum.Filtered, o.sum.Failed, o.sum.DeadLettered, late(o.sum)))
		}
	}
	return fails
}

// late sums the stages' late records.
func late(s flow.Summary) int64 {
	n := int64(0)
	for _, st := range s.Stages {
		n += st.Late
	}
	return n
}

// source names the input a record came from.
func (o *outcome) source(from int) string {
	if from < 0 || from >= len(o.inputs) {
		return "(from no input of the case)"
	}
	in := o.inputs[from]
	return fmt.Sprintf("(from input %d at line %d, source %q)", from+1, in.Pos.Line, in.Stage)
}

// match compares a written record with e and describes each difference.
func (e *Expect) match(w written) []string {
	var diffs []string
	if e.Tombstone && w.value != nil {
		diffs = append(diffs, "want a tombstone (a null value), got a value")
	}
	if w.value == nil && (e.value != nil || len(e.fields) > 0 || e.Condition != "") {
		diffs = append(diffs, "a tombstone (a null value) was sent")
	} else {
		diffs = append(diffs, e.matchValue(w.value)...)
	}
	switch {
	case e.key != nil && !w.keyed:
		diffs = append(diffs, fmt.Sprintf("key: want %q, sent without a key", e.key))
	case e.key != nil && !bytes.Equal(e.key, w.key):
		diffs = append(diffs, fmt.Sprintf("key: want %q, got %q", e.key, w.key))
	case e.NoKey && w.keyed:
		diffs = append(diffs, fmt.Sprintf("key: want none, got %q", w.key))
	}
	switch {
	case e.Partition >= 0 && w.partition < 0:
		diffs = append(diffs, fmt.Sprintf("partition: want %d, but a record without a key goes to a partition the producer picks", e.Partition))
	case e.Partition >= 0 && int32(e.Partition) != w.partition:
		diffs = append(diffs, fmt.Sprintf("partition: want %d, got %d", e.Partition, w.partition))
	}
	if e.Topic != "" && e.Topic != w.topic {
		diffs = append(diffs, fmt.Sprintf("topic: want %q, got %q", e.Topic, w.topic))
	}
	if e.Timestamp != nil && e.timestamp != w.timestamp {
		diffs = append(diffs, fmt.Sprintf("timestamp: want %d, got %d", e.timestamp, w.timestamp))
	}
	if e.Headers != nil && !slices.Equal(e.headers, byName(w.headers)) {
		diffs = append(diffs, fmt.Sprintf("headers: want %s, got %s", headerText(e.headers), headerText(byName(w.headers))))
	}
	return diffs
}

// matchDead compares a dead-letter entry with e.
func (e *Expect) matchDead(d deadLetter) []string {
	var diffs []string
	if e.Stage != "" && e.Stage != d.Stage {
		diffs = append(diffs, fmt.Sprintf("stage: want %q, given up by %q", e.Stage, d.Stage))
	}
	if e.Error != "" && !strings.Contains(d.Error, e.Error) {
		diffs = append(diffs, fmt.Sprintf("error: want it to contain %q, got %q", e.Error, d.Error))
	}
	rec := []byte(d.Record)
	if rec == nil {
		rec = []byte(d.Text)
	}
	return append(diffs, e.matchValue(rec)...)
}

// matchValue checks value, fields, absent and condition on a record.
func (e *Expect) matchValue(v []byte) []string {
	var diffs []string
	if e.value != nil {
		got, err := decodeJSON(v)
		switch {
		case err != nil:
			diffs = append(diffs, fmt.Sprintf("value: want\n%s\ngot text that is not JSON: %q", indent(pretty(e.value)), v))
		case !equal(e.value, got):
			diffs = append(diffs, "value (- want, + got):\n"+strings.TrimSuffix(diff(pretty(e.value), pretty(got)), "\n"))
		}
	}
	for _, fw := range e.fields {
		r := record.CompilePath(fw.path).Get(v)
		if !r.Exists() {
			diffs = append(diffs, fmt.Sprintf("field %s: missing, want %s", fw.path, compact(fw.want)))
			continue
		}
		if got, err := decodeJSON([]byte(r.Raw)); err != nil || !equal(fw.want, got) {
			diffs = append(diffs, fmt.Sprintf("field %s: want %s, got %s", fw.path, compact(fw.want), r.Raw))
		}
	}
	for _, a := range e.Absent {
		if present := presentFields(v, a); len(present) > 0 {
			diffs = append(diffs, fmt.Sprintf("field %s: want absent, got %s", a, strings.Join(present, ", ")))
		}
	}
	if e.Condition != "" {
		ok, err := evalCondition(e.Condition, v)
		switch {
		case err != nil:
			diffs = append(diffs, fmt.Sprintf("condition %s: %v, on %s", e.Condition, err, clip(v)))
		case !ok:
			diffs = append(diffs, fmt.Sprintf("condition %s: false, on %s", e.Condition, clip(v)))
		}
	}
	return diffs
}

// presentFields lists the fields of v that pattern names: a path, or a
// top-level prefix ending in *.
func presentFields(v []byte, pattern string) []string {
	prefix, ok := strings.CutSuffix(pattern, "*")
	if !ok {
		if r := record.CompilePath(pattern).Get(v); r.Exists() {
			return []string{pattern + " = " + r.Raw}
		}
		return nil
	}
	var out []string
	gjson.ParseBytes(v).ForEach(func(k, val gjson.Result) bool {
		if strings.HasPrefix(k.Str, prefix) {
			out = append(out, k.Str+" = "+val.Raw)
		}
		return true
	})
	return out
}

// describe renders what e expects, for a record that is missing.
func (e *Expect) describe() string {
	var parts []string
	if e.value != nil {
		parts = append(parts, "value "+compact(e.value))
	}
	for _, fw := range e.fields {
		parts = append(parts, fmt.Sprintf("field %s = %s", fw.path, compact(fw.want)))
	}
	if e.Condition != "" {
		parts = append(parts, "condition "+e.Condition)
	}
	if e.key != nil {
		parts = append(parts, fmt.Sprintf("key %q", e.key))
	}
	if e.Error != "" {
		parts = append(parts, fmt.Sprintf("error containing %q", e.Error))
	}
	if len(parts) == 0 {
		return "any record"
	}
	return strings.Join(parts, "\n")
}

// describe renders a written record, for one that was not expected.
func (w written) describe() string {
	var b strings.Builder
	if w.value == nil {
		b.WriteString("tombstone")
	} else {
		b.Write(w.value)
	}
	if w.keyed {
		fmt.Fprintf(&b, "\nkey %q", w.key)
	}
	if w.partition >= 0 {
		fmt.Fprintf(&b, " partition %d", w.partition)
	}
	return b.String()
}

func (d deadLetter) describe() string {
	rec := string(d.Record)
	if rec == "" {
		rec = fmt.Sprintf("%q", d.Text)
	}
	return fmt.Sprintf("%s\ngiven up by stage %q: %s", rec, d.Stage, d.Error)
}

func headerText(hs []header) string {
	if len(hs) == 0 {
		return "none"
	}
	parts := make([]string, len(hs))
	for i, h := range hs {
		parts[i] = fmt.Sprintf("%s=%q", h.Name, h.Value)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// indent puts four spaces before every line of s.
func indent(s string) string {
	s = strings.TrimSuffix(s, "\n")
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// byName sorts headers by name, keeping the order of a name's values: how
// a headers table in a test file lists them.
func byName(hs []header) []header {
	out := slices.Clone(hs)
	slices.SortStableFunc(out, func(a, b header) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// clip shortens a record for a message.
func clip(v []byte) string {
	if len(v) > 200 {
		return string(v[:200]) + "…"
	}
	return string(v)
}
