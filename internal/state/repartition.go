package state

import (
	"context"

	"github.com/conveyor-etl/conveyor/plugin"
)

// Message is one message of a repartition topic. A nil Key with
// Partition >= 0 is a watermark message to that partition; a message with
// a Key goes to Java's murmur2 partition of it.
type Message struct {
	Key, Value []byte
	Partition  int32
	Timestamp  int64 // Unix ms; 0: the produce time
	Headers    []Header
}

// Header is one Kafka header of a Message.
type Header struct{ Key, Value []byte }

// Repartition is a stateful stage's repartition topic,
// "<group_id>-<stage id>-repartition": the stage's input is written to it
// keyed by the stage's key, and read back by the same group, so that one
// key is processed by one lane.
type Repartition interface {
	// Topic is the topic's name; Partitions its partition count (the
	// source topic's).
	Topic() string
	Partitions() int32
	// Write makes msgs durable, each partition's in the order given. It
	// may be called concurrently (for different input partitions).
	Write(ctx context.Context, msgs []Message) error
	// Reader is the source that reads the topic back, in the source's
	// group, from the committed offsets (the earliest without one). It
	// never ends by itself: see Ends.
	Reader(env plugin.Env) (plugin.Source, error)
	// Ends returns the topic's end offsets, per partition, leaving out a
	// partition the reader's group has already committed up to its end.
	Ends() (map[int32]int64, error)
	// Drained reports whether a reader that has read partition p up to
	// from (the offset after the last record it was handed) has nothing
	// more to be handed before end: from >= end, or (a read_committed
	// reader, under exactly-once) only transaction markers and aborted
	// records lie between.
	Drained(p int32, from, end int64) (bool, error)
	Close() error
}

// Repartitioner is a source whose stateful stages below repartition
// through its cluster (the kafka source).
type Repartitioner interface {
	// Repartition opens stage's repartition topic, creating it with the
	// source topic's partition count when it is missing, and failing
	// clearly when it has another.
	Repartition(ctx context.Context, stage string) (Repartition, error)
}
