package plugin

import (
	"context"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
)

// Env is what a factory gets besides its typed config.
type Env struct {
	Pipeline *config.Pipeline
	Stage    *config.Stage
	Logger   *zap.Logger
	// AutoCommit tells a source whether it may record progress on its own
	// (periodically, and when giving up a partition) as messages are acked.
	// It is false when a downstream sink makes records durable only at
	// Flush; then progress is recorded only by Commit, after the flush.
	AutoCommit bool
	// Budget bounds the bytes in flight across the run's sources: a source
	// that holds batches takes their bytes before emitting them and gives
	// them back once they are settled. Nil when unlimited.
	Budget *Budget
	// RunID names this run of the pipeline (see config.NewRunID): the same
	// for every stage of the run, different for every run.
	RunID string
	// Metrics registers the stage's own metrics (see the README's metric
	// contract); what it registers gets the labels pipeline and stage, and
	// is served at the run's /metrics. Use Registerer, which is never nil.
	Metrics prometheus.Registerer
}

// Source reads records and emits them as batch messages (see [NewMessage]).
//
// Contract: Subscribe is called once; the returned channel carries one
// message per batch and is closed when the source has stopped emitting.
// The source records progress only up to a point before which every message
// has been acked, in order per partition; a nacked message is emitted again
// or stops the source, never skipped. Done is closed when the source will
// emit no more (a bounded run reached its limit, its input ended, or Stop
// was called) and every message it emitted has been acked or nacked. Err
// reports why a source failed, after Done.
type Source interface {
	message.Subscriber
	// Stop asks the source to stop reading; messages in flight are still
	// acked and counted.
	Stop()
	Done() <-chan struct{}
	Err() error
	// Commit durably records the progress of every acked message, for
	// sources that have such a notion (Kafka offsets). The runner calls it
	// after Done and after the sinks have flushed.
	Commit(ctx context.Context) error
	// Stats reports how many records the source has emitted.
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
// come while Apply (or Write) runs on other goroutines, so what Report reads
// must be safe for that (atomic counters, or a lock taken once per batch).
// log names the stage (fields "stage" and "function"). Report must return
// quickly.
type Reporter interface {
	Report(log *zap.Logger, final bool)
}

// OperatorFunc adapts a function to Operator.
type OperatorFunc func(in []Record, out []Record, fail func(i int, err error)) []Record

// Apply calls f.
func (f OperatorFunc) Apply(in, out []Record, fail func(int, error)) []Record {
	return f(in, out, fail)
}

// Sink writes records.
//
// Contract: Write hands records to the sink and returns without waiting for
// them to be durable; the returned Pending's Wait blocks until they are (or
// fail). Records written by one goroutine in one order are written in that
// order. When Durable reports true, a nil Wait means the records survive a
// crash (a Kafka ack); otherwise they are durable only once Flush returns
// nil. Flush is called once, when the pipeline ends; Close after that.
// Write, Wait and Flush may be called concurrently.
type Sink interface {
	Write(ctx context.Context, records []Record) Pending
	Durable() bool
	Flush(ctx context.Context) error
	Close() error
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
