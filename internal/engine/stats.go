package engine

import (
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// counters are the run's totals, updated by handlers as they go.
type counters struct {
	out, filtered, failed, deadLettered atomic.Int64
}

// Summary is what a run did.
type Summary struct {
	// In counts the records the sources read, each once. Out counts the
	// records the sinks made durable, each write once: a record that a
	// fan-out sends to two sinks is written, and counted, twice (only
	// fan-out, or an operator that makes several records of one, makes Out
	// exceed In).
	In, Out int64
	// Filtered counts the records read that reached no sink because
	// operators dropped them, each once however many branches of a fan-out
	// dropped it (so Filtered <= In; the stages' own counts say what each
	// dropped). Failed counts records given up on, once per stage that gave
	// up on them: skipped (continue), sent to the dead-letter queue, or that
	// stopped the run (stop, or retry with no dead-letter queue), including
	// every record of a sink write that failed as a whole. DeadLettered
	// counts those written to the dead-letter queue. Without fan-out, and
	// with operators that pass each record on at most once, a finished run
	// has In = Out + Filtered + Failed.
	Filtered, Failed, DeadLettered int64
	// InBytes is the size of the records the sources read, before enrichment.
	InBytes int64
	Elapsed time.Duration
	// Stages breaks the counts down per stage, in file order.
	Stages []StageSummary
}

// StageSummary is what one stage did. A source's In and Out are the
// records it read. An operator's In are the records that reached it, Out
// those it passed on, Filtered those it dropped. A sink's In are the
// records handed to it, Out those it made durable. Failed and DeadLettered
// count the stage's records given up on and sent to the dead-letter queue
// (see Summary).
type StageSummary struct {
	ID, Function string
	Role         string // source, operator or sink
	In, Out      int64
	Filtered     int64
	Failed       int64
	DeadLettered int64
	// Invalid counts, for a source, the records it read whose value was not
	// valid JSON, whatever its invalid key did with them.
	Invalid int64
	// Late counts, for a stateful operator, the records that came after
	// their window closed (dropped or dead-lettered, as its late key says).
	Late int64
	// Restoring counts, for a stateful operator, the partitions whose state
	// is being restored from its changelog now; Restored and ToRestore the
	// changelog records restored and to restore so far.
	Restoring, Restored, ToRestore int64
	// Loading counts, for an operator that loads what it needs before it
	// applies records (table.join's table, a plugin.Loader), the parts
	// (partitions) being loaded now; Loaded and ToLoad the units (offsets)
	// loaded and to load so far; LoadingWhat names what (a table topic).
	Loading, Loaded, ToLoad int64
	LoadingWhat             string
}

// String is "id in=N out=N", with filtered, failed, dead_lettered and
// invalid when not zero.
func (s StageSummary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s in=%d out=%d", s.ID, s.In, s.Out)
	for _, c := range []struct {
		name string
		n    int64
	}{{"filtered", s.Filtered}, {"failed", s.Failed}, {"dead_lettered", s.DeadLettered}, {"invalid", s.Invalid}, {"late", s.Late}} {
		if c.n != 0 {
			fmt.Fprintf(&b, " %s=%d", c.name, c.n)
		}
	}
	return b.String()
}

// stagesText is the per-stage counts, "; "-separated.
func (s Summary) stagesText() string {
	parts := make([]string, len(s.Stages))
	for i, st := range s.Stages {
		parts[i] = st.String()
	}
	return strings.Join(parts, "; ")
}

// RecordsPerSecond is In over Elapsed.
func (s Summary) RecordsPerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.In) / s.Elapsed.Seconds()
}

// String is the summary line: the totals, then " | stages: " and each
// stage's counts (see StageSummary.String).
func (s Summary) String() string {
	line := fmt.Sprintf("records in=%d out=%d filtered=%d failed=%d dead_lettered=%d elapsed=%s throughput=%.0f rec/s",
		s.In, s.Out, s.Filtered, s.Failed, s.DeadLettered, s.Elapsed.Round(time.Millisecond), s.RecordsPerSecond())
	if len(s.Stages) == 0 {
		return line
	}
	return line + " | stages: " + s.stagesText()
}
