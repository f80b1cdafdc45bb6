package plugin

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
)

// Env is what a factory gets besides its typed config.
type Env struct {
	// Stage is the stage being built (its id, function, inputs and
	// position in the pipeline file, for errors).
	Stage  *config.Stage
	Logger *zap.Logger
	// Dir is the directory of the pipeline file: relative paths in a
	// stage's config are relative to it. Empty for a pipeline not read
	// from a file (then they are relative to the working directory).
	Dir string
	// DurableOnAck tells a source whether every sink below it makes records
	// durable when its Publish returns, so that the source may record
	// progress (commit offsets) as messages are acked. It is false when a
	// sink below is a [Flusher]: then progress is recorded only by
	// [Committer.Commit], after the flush.
	DurableOnAck bool
	// Delivery is the pipeline's guarantee and transaction settings
	// ([pipeline] guarantee, transactional_id, transaction_records,
	// transaction_ms), for the functions that take part in exactly-once
	// (see Spec.Transactional); Name is the pipeline's name.
	Delivery config.Delivery
	Name     string
	// Budget bounds the bytes in flight across the run's sources: a source
	// that holds batches takes their bytes before emitting them and gives
	// them back once they are settled. Nil when unlimited.
	Budget *Budget
	// SourceFunctions are the functions of the sources the stage reads
	// from, through any chain of stages (for a source, its own).
	SourceFunctions []string
	// RunID names this run of the pipeline (see config.NewRunID): the same
	// for every stage of the run, different for every run.
	RunID string
	// Metrics registers the stage's own metrics (see the README's metric
	// contract); what it registers gets the labels pipeline and stage, and
	// is served at the run's /metrics. Use Registerer, which is never nil.
	Metrics prometheus.Registerer
}

// ResolvePath returns p relative to the pipeline file's directory.
func (e Env) ResolvePath(p string) string {
	if e.Dir == "" || p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(e.Dir, p)
}

// Source reads records and emits them as batch messages (see [Batch]): a
// Watermill Subscriber that the runtime wires to a router handler.
//
// Contract: Subscribe is called once; the returned channel carries one
// message per batch, each partition's batches in order, and is closed when
// the source has stopped emitting. The router acks a message only after
// every sink below has made its records durable (see [Sink]), and nacks it
// when that failed; acks of one partition may come out of order (the source
// records progress only up to a point before which every message has been
// acked). A nacked message is emitted again or stops the source, never
// skipped. Done is closed when the source will emit no more (a bounded run
// reached its limit, its input ended, or Stop was called) and every message
// it emitted has been acked or nacked. Stop may be called more than once and
// concurrently with anything. Close (from message.Subscriber) is called
// once, last.
//
// Optional: [Committer], [Failer], [Counter], and DrainTimeout() time.Duration
// (how long a stop may wait for the source's messages in flight).
type Source interface {
	message.Subscriber
	// Stop asks the source to stop reading; messages in flight are still
	// acked and counted.
	Stop()
	Done() <-chan struct{}
}

// Committer is a source that records progress durably only when asked
// (Kafka offsets when a sink below is a [Flusher]). The runtime calls Commit
// after Done and after the sinks have flushed, with a deadline.
type Committer interface {
	Commit(ctx context.Context) error
}

// Failer is a source that can fail on its own (commits refused for good, a
// nacked message). Err reports why, after Done; a non-nil error stops the
// whole run.
type Failer interface {
	Err() error
}

// Counter is a source that counts what it emitted.
type Counter interface {
	Stats() SourceStats
}

// SourceStats are a source's counters.
type SourceStats struct {
	Records int64
	Bytes   int64
}

// Operator transforms records. Apply appends to out the records that in
// turns into, in order, and returns out. A record it cannot process is
// reported through fail with its index in in and left out; the others go on.
// Apply is called from several goroutines at once, each with its own slices,
// and must keep neither slice after it returns.
//
// In a pipeline an operator runs as a Watermill handler middleware (see
// [OperatorMiddleware]), called as a plain function on each batch message;
// an operator that holds resources may implement io.Closer, called once at
// the end of the run.
type Operator interface {
	Apply(in []Record, out []Record, fail func(i int, err error)) []Record
}

// Reporter is an optional interface of a stage's source, operator or sink
// that keeps counts worth telling the user about, such as a filter that
// never matches.
//
// The runner calls Report every report interval (a minute by default) while
// the pipeline runs, with final false, and once more after the sources are
// done, with final true. Calls never overlap one another, but a call may
// come while Apply (or Publish) runs on other goroutines, so what Report
// reads must be safe for that (atomic counters, or a lock taken once per
// batch). log names the stage (fields "stage" and "function"). Report must
// return quickly.
type Reporter interface {
	Report(log *zap.Logger, final bool)
}

// OperatorFunc adapts a function to Operator.
type OperatorFunc func(in []Record, out []Record, fail func(i int, err error)) []Record

// Apply calls f.
func (f OperatorFunc) Apply(in, out []Record, fail func(int, error)) []Record {
	return f(in, out, fail)
}

// Sink writes records: a Watermill Publisher.
//
// Contract: Publish(topic, msgs...) writes the records of msgs (batch
// messages, see [Batch], or plain messages of one record each; topic is the
// sink stage's id and may be ignored) in order, and returns only when every
// one of them is durable (a Kafka ack, a committed SQL transaction), or
// failed: a *[WriteError] names the failed records by their index over all
// records of msgs, any other error fails them all. A sink that is a
// [Flusher] makes records durable only at Flush, and Publish returns once
// they are handed over. Publish may be called from several goroutines at
// once; what one goroutine publishes in one order is written in that order.
// Close is called once, last.
//
// Optional: [Sender] (lets the runtime keep several batches of a partition
// in flight), [Flusher], [Reporter].
type Sink interface {
	message.Publisher
}

// Sender is a sink that can hand records over without waiting for them to
// be durable: Send returns once the records are queued in order (a second
// Send from the same goroutine is written after them), and the Pending's Wait
// blocks until they are durable or failed, as Publish would have returned.
// The runtime hands over a partition's next batch while the previous one is
// still being made durable; without Sender, it waits for Publish.
type Sender interface {
	Send(ctx context.Context, records []Record) Pending
}

// Flusher is a sink whose records are durable only once Flush returns nil
// (a file written at the end of the run). The runtime calls Flush once, when
// the sources are done and before any source commits.
type Flusher interface {
	Flush(ctx context.Context) error
}

// Pending is a write in progress.
type Pending interface {
	// Wait returns nil when every record of the write is durable, or a
	// *WriteError naming the records that failed.
	Wait(ctx context.Context) error
}

// WriteError reports the records of a write that failed.
type WriteError struct {
	// Failed holds indexes into the written slice, ascending.
	Failed []int
	// Errs holds the error of each failed record, parallel to Failed.
	Errs []error
}

func (e *WriteError) Error() string {
	if len(e.Failed) == 0 {
		return "write failed"
	}
	return fmt.Sprintf("%d record(s) failed, first: %v", len(e.Failed), e.Errs[0])
}

// Done is a Pending that has already finished with err.
type Done struct{ Err error }

// Wait returns d.Err.
func (d Done) Wait(context.Context) error { return d.Err }
