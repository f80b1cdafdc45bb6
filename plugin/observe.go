package plugin

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

// Registerer is e.Metrics, or a registry of its own when e.Metrics is nil
// (an Env built by hand, in a test): what is registered there is counted
// but served nowhere.
func (e Env) Registerer() prometheus.Registerer {
	if e.Metrics == nil {
		return prometheus.NewRegistry()
	}
	return e.Metrics
}

// HealthChecker is an optional interface of a source or sink that can tell
// whether it is able to do its work: a source holds its partitions, a sink
// is connected to where it writes. The run's /readyz answers 200 only
// while every stage that implements it returns nil.
//
// Ready is called from the HTTP server's goroutines while the stage runs,
// concurrently with everything else: it must be safe for that and return
// quickly, without network round trips. Its error says why, in words a
// user reads in the /readyz body.
type HealthChecker interface {
	Ready() error
}

// PartitionReporter is an optional interface of a source that reads
// partitioned logs. The run polls it to tell a stalled consumer: a
// partition with records to read whose Position has not moved for the
// pipeline's stall_timeout_ms makes /readyz answer 503. Partitions is
// called concurrently with everything else and must return quickly.
type PartitionReporter interface {
	Partitions() []PartitionProgress
}

// PartitionProgress is how far a source has got on one partition.
type PartitionProgress struct {
	// Origin names the log ("topic" for Kafka).
	Origin    string
	Partition int32
	// Position grows as the partition's records are processed (for Kafka,
	// the offset up to which records are acked).
	Position int64
	// Behind counts the records between Position and the partition's end
	// as last seen; 0 when caught up.
	Behind int64
}

// Loader is an optional interface of an operator that must read something
// before it can apply records, such as table.join's table.
//
// The runtime calls Load once, after every stage is built and before the
// sources are started, while /readyz and the progress line already run; an
// error fails the run before any record is read. An operator may also load
// parts later, on demand (a table partition on its stream partition's first
// record): Apply then waits for them itself. Loading is polled from other
// goroutines, concurrently with Load and Apply: it must be safe for that and
// return at once.
type Loader interface {
	Load(ctx context.Context) error
	Loading() Loading
}

// Loading is how far a [Loader] has got.
type Loading struct {
	// Parts counts the parts (partitions) being loaded now: 0 when nothing
	// is loading. Done and Total are the units (offsets, records) loaded
	// and to load over every part started so far.
	Parts, Done, Total int64
	// What names what is loaded, for a user ("table topic \"users\"").
	What string
}
