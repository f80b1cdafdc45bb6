package plugin

import (
	"errors"
	"fmt"
)

// Store is one stage's keyed state for one input partition: what the
// runtime keeps for a [Processor], restores when the partition is assigned
// (from the stage's changelog topic), and makes durable before the input
// offsets that changed it are committed.
//
// Keys and values are bytes the store copies: the caller may reuse its
// slices after Put returns, and must not change a value Get returned,
// which is valid until the next Put or Delete of its key (the store may
// write the new value over it). A
// Store is used by one goroutine at a time (the runtime calls a Processor
// for one batch of a partition at a time, in the partition's order).
type Store interface {
	// Get returns the value of key, and whether there is one.
	Get(key []byte) (value []byte, ok bool)
	// Put sets the value of key.
	Put(key, value []byte)
	// Delete removes key (nothing when it is absent).
	Delete(key []byte)
	// Range calls fn for each key in [from, to) in ascending byte order (a
	// nil from or to is unbounded) until fn returns false. fn must not
	// change the store; the slices it gets are valid only during the call.
	// In the memory store a range costs a sort of the partition's keys: keep
	// it off the per-record path.
	Range(from, to []byte, fn func(key, value []byte) bool)
}

// State is what a [Processor] works with while the runtime hands it one
// record or one timer: the store of the record's input partition, the
// partition's event time, its timers, and the output.
type State interface {
	Store
	// Partition is the input partition this state belongs to.
	Partition() int32
	// Watermark is the partition's event time in Unix milliseconds: the
	// largest event time ([Processor.EventTime]) of the records processed
	// before the current one (so a record is late when its window closed
	// at or before it); math.MinInt64 before the first. Behind a
	// repartition topic, where a partition interleaves the records of
	// every input partition, it is the greater of the watermark (the
	// minimum over the input partitions feeding it, idle ones excepted)
	// and, during Process, the largest event time of the record's own
	// input partition before it. Timers fire after
	// the batch's records, when it has taken them in too. At the end of a
	// bounded input without a Kafka source it becomes math.MaxInt64, so
	// every timer fires. It is the partition's own: a record is late only
	// when it is late within its partition, whatever the pace at which
	// partitions are read.
	Watermark() int64
	// SetTimer asks for OnTimer(at, key) once the watermark is at or past
	// at. A timer is state: it survives a restart and moves with the
	// partition. Setting the same (at, key) twice fires it once.
	SetTimer(at int64, key []byte)
	// DeleteTimer cancels a timer set with the same at and key.
	DeleteTimer(at int64, key []byte)
	// Emit adds a record (its JSON, copied) to the stage's output, after
	// what the batch emitted so far. Emitted records go on with the batch
	// being processed, so its input offsets are committed only once they
	// are durable downstream.
	Emit(value []byte)
}

// Processor is a stateful operator: what window.aggregate and dedupe.apply
// are built on, and what a Go plugin writes for counting, joining or
// sessionizing per key. Make it an [Operator] with [Stateful].
//
// The runtime calls a Processor for one input partition at a time, and for
// each partition in the order of its records, with that partition's
// [State]; different partitions may be processed at once, from different
// goroutines, each with its own State. Every change a call makes to the
// State (store and timers) is written to the stage's changelog before the
// offsets of the batch that caused it are committed: the state is
// at-least-once. Under guarantee = "exactly-once" the changes are written
// in the Kafka transaction that holds the batch's output and input offsets;
// when it aborts, the partition's state is dropped and restored from what
// committed, and the records are processed again: a Processor must keep
// everything it remembers in its State, never in its own fields.
type Processor interface {
	// EventTime returns r's event time in Unix milliseconds. An error fails
	// the record under [error_handling], without calling Process.
	EventTime(r Record) (int64, error)
	// Process handles one record. An error failing the record goes to
	// [error_handling]; return one wrapping [ErrLate] for a record too late
	// to count, which the runtime counts as late and drops or dead-letters
	// as the stage's [StateOptions.Late] says.
	Process(st State, r Record) error
	// OnTimer is called once for each timer whose time the watermark has
	// reached, in (at, key) order, after the batch's records.
	OnTimer(st State, at int64, key []byte) error
}

// ErrLate marks a record that came after the event time it belongs to was
// closed (see [Processor.Process]).
var ErrLate = errors.New("late record")

// Keyer is a [Processor] whose state is per key: the runtime makes sure
// that every record of one key is processed by one lane (one partition's
// state), by repartitioning the input through the topic
// "<group_id>-<stage id>-repartition" keyed by Key (see
// [StateOptions.Repartition]). Key must be a pure function of the record;
// it is called by the instance that reads the input, before Process.
type Keyer interface {
	// Key returns r's key. An error fails the record under
	// [error_handling].
	Key(r Record) ([]byte, error)
}

// The values of [StateOptions.Repartition].
const (
	// RepartitionAuto repartitions a [Keyer] below a Kafka source.
	RepartitionAuto = "auto"
	// RepartitionNever declares that the input is already partitioned by
	// the stage's key (Kafka Streams' groupByKey): no repartition.
	RepartitionNever = "never"
)

// StateOptions say how the runtime treats a stateful stage.
type StateOptions struct {
	// Late is what becomes of records Process reports as late: "drop" (the
	// default) or "dead_letter" (to the pipeline's dead-letter queue). Both
	// count them in conveyor_late_records_total and the stage's summary.
	Late string
	// Repartition: "auto" repartitions the input by [Keyer.Key] when the
	// stage is below a Kafka source (whose partitions hold the state); the
	// Processor must then be a Keyer. "never" or "" (the default for a Go
	// operator) trusts that the input's partitions already hold each key
	// in one partition. window.aggregate and dedupe.apply default to auto.
	// Without a Kafka source nothing is repartitioned: the state is in
	// memory.
	Repartition string
	// IdleTimeout, behind a repartition, is how long (wall time, ms) an
	// input partition may send nothing before it stops holding windows
	// back; 0: never (a window then waits for every input partition).
	IdleTimeout int64
	// TimeField names the field EventTime reads, as the stage's time_field
	// key gives it (with its default filled in). Compile refuses two
	// stateful stages, one downstream of the other through any stateless
	// stages, whose TimeFields differ: the upstream stage's watermark is
	// carried downstream as progress, so in another time it makes records
	// late or closes windows early. "" (the default for a Go operator):
	// not declared, not checked.
	TimeField string
}

// Validate checks o.
func (o StateOptions) Validate() error {
	var errs []error
	switch o.Late {
	case "", "drop", "dead_letter":
	default:
		errs = append(errs, fmt.Errorf("late = %q: must be \"drop\" or \"dead_letter\"", o.Late))
	}
	switch o.Repartition {
	case "", RepartitionAuto, RepartitionNever:
	default:
		errs = append(errs, fmt.Errorf("repartition = %q: must be %q or %q", o.Repartition, RepartitionAuto, RepartitionNever))
	}
	if o.IdleTimeout < 0 {
		errs = append(errs, fmt.Errorf("idle_timeout_ms = %d: must be 0 or more", o.IdleTimeout))
	}
	return errors.Join(errs...)
}

// Stateful makes p an Operator that a pipeline runs with per-partition
// state (see [Processor]): return it from an operator factory. Outside the
// runtime (a bare Apply) every record fails, since there is no partition
// to keep state for.
func Stateful(p Processor, o StateOptions) Operator {
	return &StatefulOperator{Processor: p, Options: o}
}

// StatefulOperator is what [Stateful] returns; the runtime recognises it.
type StatefulOperator struct {
	Processor Processor
	Options   StateOptions
}

// errNoRuntime is what a bare Apply fails records with.
var errNoRuntime = errors.New("a stateful operator runs only inside a pipeline, which keeps its state per input partition")

// Apply fails every record: see [Stateful].
func (s *StatefulOperator) Apply(in, out []Record, fail func(int, error)) []Record {
	for i := range in {
		fail(i, errNoRuntime)
	}
	return out
}
