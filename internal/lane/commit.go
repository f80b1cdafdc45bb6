package lane

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Cover is what one commit covers: for each partition of one source's
// topic, the next offset to read, every record before which is in a
// Durable batch (Lane.Committable). A commit covers whole batches only.
type Cover struct {
	Stage   string
	Topic   string
	Group   Group
	Offsets map[int32]int64 // by partition
}

// Group is the consumer-group membership a commit is made under: the
// committer's fence (a commit from an old generation must be refused).
type Group struct {
	ID         string
	Generation int32
	Member     string
	InstanceID string // "" without static membership
}

// Committer is the one place a source hands over the offsets its lanes
// made committable. At-least-once, it is the consumer group's offset
// commit; exactly-once, it puts the offsets into the producer transaction
// that carries the batches' output (and, with stateful operators, their
// state changes), so that all of it commits or none does.
//
// Contracts:
//   - Commit returns nil only when every offset of c is durable in the
//     committer's store; the source then calls Lane.Committed for each, and
//     the batches it covers leave their windows.
//   - An error that is (errors.As) a *Refused names the partitions not
//     taken; every other partition of c was taken. Any other error means
//     none is known to be taken: the source commits again later (a later
//     Cover covers the same offsets or more).
//   - An error wrapping ErrFenced means this member may commit no more in
//     this group generation (the group rebalanced, the producer was
//     fenced): the partitions' next owner reads their uncommitted records
//     again.
//   - Concurrency: a source makes one Commit call at a time, in the order
//     of its marks, so no call carries older offsets than the one before.
type Committer interface {
	Commit(ctx context.Context, c Cover) error
}

// CommitterFunc is a function as a Committer.
type CommitterFunc func(ctx context.Context, c Cover) error

// Commit calls f.
func (f CommitterFunc) Commit(ctx context.Context, c Cover) error { return f(ctx, c) }

// ErrFenced is wrapped by a Committer's error when this member can commit
// no more in its group generation.
var ErrFenced = errors.New("fenced: this member's group generation is over")

// Refused is a commit the store refused for some partitions.
type Refused struct {
	Failed map[int32]error // by partition
	// Permanent is true when committing again cannot help (not
	// authorized, say).
	Permanent bool
}

func (e *Refused) Error() string {
	parts := slices.Sorted(maps.Keys(e.Failed))
	msgs := make([]string, len(parts))
	for i, p := range parts {
		msgs[i] = fmt.Sprintf("partition %d: %v", p, e.Failed[p])
	}
	return "offset commit refused: " + strings.Join(msgs, "; ")
}

// Unwrap gives the partitions' errors, for errors.Is.
func (e *Refused) Unwrap() []error {
	out := make([]error, 0, len(e.Failed))
	for _, p := range slices.Sorted(maps.Keys(e.Failed)) {
		out = append(out, e.Failed[p])
	}
	return out
}
