package telemetry

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Stage counts one stage's records. Its methods are safe for concurrent
// use and do nothing on a nil *Stage, so that code built without a Run
// (tests of one part of the runtime) need not check.
type Stage struct {
	ID, Function, Role string

	in, out, filtered, failed, deadLettered, invalid, late atomic.Int64
	// unfiltered is what EmittedAtEnd took back out of filtered for the
	// run's totals; the Prometheus counter keeps filtered as counted, so that
	// it never goes down.
	unfiltered atomic.Int64
	// emitted reads a source's own count of records read (in and out).
	emitted atomic.Pointer[func() int64]

	batchRecords, batchLatency prometheus.Observer // sources only
}

// Counts are a stage's totals.
type Counts struct {
	In, Out, Filtered, Failed, DeadLettered, Invalid, Late int64
}

// Late records that n records came after the event time they belong to
// had closed (a stateful operator's window).
func (s *Stage) Late(n int) {
	if s != nil {
		s.late.Add(int64(n))
	}
}

// Operated records that an operator took in records and passed out on,
// dropping filtered.
func (s *Stage) Operated(in, out, filtered int) {
	if s == nil {
		return
	}
	s.in.Add(int64(in))
	s.out.Add(int64(out))
	if filtered > 0 {
		s.filtered.Add(int64(filtered))
	}
}

// EmittedAtEnd records that a stateful operator emitted n records at the
// end of a bounded input, out of what it had absorbed: they were counted
// filtered when their records went in, and are out now: the stage's
// Counts move them from filtered to out, so that in = out + filtered +
// failed + late. conveyor_records_filtered_total keeps counting them as
// filtered, since a Prometheus counter never goes down.
func (s *Stage) EmittedAtEnd(n int) {
	if s != nil {
		s.out.Add(int64(n))
		s.unfiltered.Add(min(int64(n), s.filtered.Load()-s.unfiltered.Load()))
	}
}

// Handed records that n records were handed to a sink.
func (s *Stage) Handed(n int) {
	if s != nil {
		s.in.Add(int64(n))
	}
}

// Written records that a sink made n records durable.
func (s *Stage) Written(n int) {
	if s != nil {
		s.out.Add(int64(n))
	}
}

// Failed records that the stage gave up on n records.
func (s *Stage) Failed(n int) {
	if s != nil {
		s.failed.Add(int64(n))
	}
}

// DeadLettered records that n of the stage's records went to the
// dead-letter queue.
func (s *Stage) DeadLettered(n int) {
	if s != nil {
		s.deadLettered.Add(int64(n))
	}
}

// Invalid records that n records the source read were not valid JSON
// (see plugin.MetaInvalid), whatever was done with them.
func (s *Stage) Invalid(n int) {
	if s != nil {
		s.invalid.Add(int64(n))
	}
}

// Batch records a source batch of n records whose handling began at start
// and ends now. Use it as `defer st.Batch(len(b.Records), time.Now())`.
func (s *Stage) Batch(n int, start time.Time) {
	if s == nil || s.batchRecords == nil {
		return
	}
	s.batchRecords.Observe(float64(n))
	s.batchLatency.Observe(time.Since(start).Seconds())
}

// countSource makes a source stage's in and out read from emitted.
func (s *Stage) countSource(emitted func() int64) {
	if s != nil {
		s.emitted.Store(&emitted)
	}
}

// Counts returns the stage's totals so far.
func (s *Stage) Counts() Counts {
	if s == nil {
		return Counts{}
	}
	c := Counts{In: s.in.Load(), Out: s.out.Load(), Filtered: s.filtered.Load() - s.unfiltered.Load(), Failed: s.failed.Load(), DeadLettered: s.deadLettered.Load(), Invalid: s.invalid.Load(), Late: s.late.Load()}
	if f := s.emitted.Load(); f != nil {
		n := (*f)()
		c.In, c.Out = n, n
	}
	return c
}

// collectors are the stage's record counters and, for a source, its batch
// histograms, read at scrape time.
func (s *Stage) collectors() []prometheus.Collector {
	counter := func(name, help string, get func(Counts) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(get(s.Counts())) })
	}
	cs := []prometheus.Collector{
		counter(RecordsIn, "Records that reached the stage (for a source: records it read).", func(c Counts) int64 { return c.In }),
		counter(RecordsOut, "Records the stage passed on (for a sink: records it made durable).", func(c Counts) int64 { return c.Out }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: RecordsFiltered, Help: "Records an operator dropped (a stateful operator: records it absorbed)."},
			func() float64 { return float64(s.filtered.Load()) }),
		counter(RecordsFailed, "Records the stage gave up on: skipped, dead-lettered, or that stopped the run.", func(c Counts) int64 { return c.Failed }),
		counter(DeadLetters, "Records of the stage written to the dead-letter queue.", func(c Counts) int64 { return c.DeadLettered }),
	}
	if s.Role == "source" {
		cs = append(cs, counter(InvalidRecords, "Records the source read whose value was not valid JSON (wrapped, dead-lettered or that stopped the run, as its invalid key says).",
			func(c Counts) int64 { return c.Invalid }))
	}
	if s.Role == "operator" {
		cs = append(cs, counter(LateRecords, "Records a stateful operator got after the event time they belong to had closed (dropped or dead-lettered, as its late key says).",
			func(c Counts) int64 { return c.Late }))
	}
	if s.Role == "source" {
		recs := prometheus.NewHistogram(prometheus.HistogramOpts{Name: BatchRecords, Help: "Records per batch the source emitted.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8)}) // 1 .. 16384
		lat := prometheus.NewHistogram(prometheus.HistogramOpts{Name: BatchLatency,
			Help:    "Seconds from the handler taking a source batch to its sinks making it durable.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 10)}) // 1 ms .. 3.8 s
		s.batchRecords, s.batchLatency = recs, lat
		cs = append(cs, recs, lat)
	}
	return cs
}
