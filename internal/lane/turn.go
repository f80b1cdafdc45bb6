package lane

import (
	"context"
	"sync/atomic"

	"github.com/ThreeDotsLabs/watermill/message"
)

// Turns is how the runtime gives a lane's batches their turns: the place of
// each batch in its lane's output order (the engine's sequencer). A source
// that has lanes takes it from its Subscribe context (TurnsFrom) and its
// lanes stamp each batch as they admit it, in admission order; the runtime
// then reads the source's channel as it is. A source that does not take it
// has its messages stamped by the runtime as they pass, one channel hop
// later.
type Turns struct {
	// Stamp gives msg the next turn of its lane. Called in emission order
	// per lane.
	Stamp func(msg *message.Message)
	// Drop ends the turn of a stamped msg that was never handed to the
	// runtime, so that the lane's next batch does not wait for it.
	Drop  func(msg *message.Message)
	taken atomic.Bool
}

type turnsKey struct{}

// WithTurns returns ctx carrying t, for a source's Subscribe.
func WithTurns(ctx context.Context, t *Turns) context.Context {
	return context.WithValue(ctx, turnsKey{}, t)
}

// TurnsFrom takes the Turns ctx carries, or returns nil when it carries
// none. A source that takes them must stamp every message it emits.
func TurnsFrom(ctx context.Context) *Turns {
	t, _ := ctx.Value(turnsKey{}).(*Turns)
	if t != nil {
		t.taken.Store(true)
	}
	return t
}

// Taken reports whether a source took t.
func (t *Turns) Taken() bool { return t.taken.Load() }
