// Package window is the pure logic of event-time windows: which windows a
// record belongs to, the aggregates computed over them, the watermark that
// closes them, and which records are late. It does no I/O; the runtime of
// stateful stages (state stores, changelog, repartition) and the
// window.aggregate and dedupe.apply operators are built on it.
//
// # Windows
//
// A window is the half-open interval [start, end) of event time in
// milliseconds since the Unix epoch (Spec, Window):
//
//   - tumbling (size_ms): [k*size, (k+1)*size), aligned to the epoch;
//   - hopping (size_ms, advance_ms): every [k*advance, k*advance+size); a
//     record is in size/advance of them (rounded up or down);
//   - session (gap_ms): a record opens [t, t+gap); windows that overlap or
//     meet merge (MergeSession), so a session is [first, last+gap), as in
//     Flink; window_end is last+gap, not the last record's time;
//   - none: one window per key, [MinInt64, MaxInt64): a running aggregate
//     that never closes by time, only at the end of a bounded input.
//
// window_start and window_end are written in RFC 3339, UTC (AppendTime).
//
// # Event time
//
// A record's event time is its time_field (TimeField): a JSON number of
// epoch milliseconds, a string of them, or an RFC 3339 string; by default
// _kafka_timestamp, the Kafka message timestamp. A missing or unreadable
// time is a *TimeError for that record alone.
//
// # The watermark
//
// Each input (a partition the stage instance reads) has its maximum event
// time so far. The watermark (Tracker) is the minimum of those maxima over
// the inputs that are not idle, and never decreases. A window closes (its
// result is final and emitted, its state dropped) when the watermark
// reaches its end + grace_ms (Spec.CloseAt): every input feeding it has
// passed that point. This is Flink's rule (the minimum over input
// channels, idle channels excluded) with Kafka Streams' window close
// (end + grace <= stream time) in place of Flink's allowed lateness; it
// is not Kafka Streams' stream time, the maximum over all partitions of a
// task, which in a backlog runs ahead with the fastest partition and drops
// the slower partitions' records as late.
//
// An input is idle when it has had no record for idle_timeout_ms of wall
// time (0: never) and the runtime has not said records of it are waiting
// (Tracker.SetLagging, from the consumer lag): an idle input stops holding
// windows back, and a lagging one is never idle, so a slow read of a
// backlog cannot close windows early. When every input is idle the
// watermark is the greatest maximum: it never passes the data seen. A
// newly assigned input holds the watermark at NoTime until its first
// record or idle_timeout_ms.
//
// # Late records
//
// A record is late only when it is late within its own partition: when
// the maximum event time of its partition before it is at or past the
// window's end + grace (Late, LateInPartition). Whether a record is late
// therefore depends on its partition's order alone, not on how fetches
// interleave partitions, and a backlog gives the same windows as a live
// run. A hopping record goes into those of its windows still open, and is
// late when none is (as Flink's side output). A session record is late
// when its partition has passed t + grace (not t + gap + grace): then no
// record on time can touch a session already closed, and sessions too
// come out the same whatever the read order. The one exception to the
// per-partition rule is LateClosed: a window the watermark closed while
// the record's partition was idle (or not yet assigned, or after Finish);
// it cannot happen while every partition has records flowing or is
// lagging.
//
// # Carrying the watermark through a repartition topic
//
// Behind a repartition topic, the inputs are the source topic's
// partitions, not the repartition topic's: every record carries a
// MarkHeader with its source partition and that partition's maximum before
// it, lateness is decided by that carried maximum (ObserveCarried), and
// mark records (header only) broadcast each source partition's progress
// and idleness to every repartition partition. The encoding is
// Mark.AppendBinary; the same Marks are what a checkpoint keeps of a
// Tracker.
//
// # Aggregates
//
// A Set compiles the aggregates table ("count()", "count(f)", "sum(f)",
// "min(f)", "max(f)", "avg(f)", "first(f)", "last(f)",
// "count_distinct(f)", f a field path). Each window's State adds records,
// merges with another (sessions), encodes compactly for a changelog
// (Set.AppendBinary; independent of the order records came in) and writes
// its results as JSON (Set.AppendJSON). Sums are exact: integers stay
// integers, decimals of up to 18 significant digits are added as scaled
// integers and keep the largest number of decimal places seen (12.34 +
// 0.66 = 13.00); a value with an exponent or more digits, or a sum beyond
// int64, turns that sum into a float64 (whose additions depend on order in
// the last bits). avg is a float64. min and max compare numbers by value
// (numeric strings too) and other strings by their bytes; first and last take the value at the
// earliest and latest event time (ties: the smaller and the greater JSON
// text), so every result is the same whatever the read order.
// count_distinct keeps the distinct values themselves: exact, and as big
// as they are.
package window
