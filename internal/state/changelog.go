package state

import "context"

// Change is one key's value after a batch; a nil Value deletes the key.
type Change struct {
	Key, Value []byte
}

// Changelog is a stateful stage's changelog: one partition per input
// partition, compacted, holding each key's latest value.
//
// Write and Read may be called concurrently for different partitions, and
// are called one at a time for each partition.
type Changelog interface {
	// Write makes changes durable in partition p, in order, and returns
	// the offset after them.
	Write(ctx context.Context, p int32, changes []Change) (next int64, err error)
	// Read calls fn with each change of partition p from offset from (0:
	// the oldest) up to the partition's end offset when Read was called,
	// and returns that end offset. total, when set, is told the number of
	// changes to read first (an upper bound: compaction may leave fewer).
	Read(ctx context.Context, p int32, from int64, total func(n int64), fn func(Change)) (end int64, err error)
	Close() error
}

// Provider opens a stage's changelog: a source that keeps the state of
// the stages below it in its own cluster (the kafka source) implements it.
type Provider interface {
	// Changelog opens the changelog topic of stage (named
	// "<group_id>-<stage>-changelog"), creating it when it is missing, and
	// failing clearly when it exists with other settings.
	Changelog(ctx context.Context, stage string) (Changelog, error)
}

// Transactional is implemented by a Changelog whose writes join a
// transaction (guarantee = "exactly-once"): a Write that returned may still
// be aborted, with the batch's output and input offsets, and Read reads
// only what committed. The Stage then drops a partition's state whenever
// the partition's claim ended (an abort rewinds every claim; a rebalance
// may have come with one) and restores it from the changelog, since what it
// held may have moved ahead of what committed.
type Transactional interface {
	Transactional() bool
}

// IsTransactional reports whether cl's writes join a transaction.
func IsTransactional(cl Changelog) bool {
	t, ok := cl.(Transactional)
	return ok && t.Transactional()
}
