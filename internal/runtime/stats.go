package runtime

import (
	"fmt"
	"sync/atomic"
	"time"
)

// counters are the run's totals, updated by handlers as they go.
type counters struct {
	out, filtered, failed, deadLettered atomic.Int64
}

// Summary is what a run did.
type Summary struct {
	// In counts records the sources emitted; Out records the sinks made
	// durable (a record written to two sinks counts twice).
	In, Out int64
	// Filtered counts records operators dropped. Failed counts records
	// given up on, once per stage that gave up on them: skipped (continue),
	// sent to the dead-letter queue, or that stopped the run (stop, or retry
	// with no dead-letter queue), including every record of a sink write that
	// failed as a whole. DeadLettered counts those written to the dead-letter
	// queue.
	Filtered, Failed, DeadLettered int64
	// InBytes is the size of the records the sources read, before enrichment.
	InBytes int64
	Elapsed time.Duration
}

// RecordsPerSecond is In over Elapsed.
func (s Summary) RecordsPerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.In) / s.Elapsed.Seconds()
}

func (s Summary) String() string {
	return fmt.Sprintf("records in=%d out=%d filtered=%d failed=%d dead_lettered=%d elapsed=%s throughput=%.0f rec/s",
		s.In, s.Out, s.Filtered, s.Failed, s.DeadLettered, s.Elapsed.Round(time.Millisecond), s.RecordsPerSecond())
}
