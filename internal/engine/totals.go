package engine

import (
	"context"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/conveyor-etl/conveyor/plugin"
)

// The run's filtered total counts each record read once (see Summary).
// Below a source without a fork (no stage feeding more than one), a record
// meets its operators one after another and is dropped at most once, so
// the stages' drops add up to it. Below a fork a record can be dropped on
// every branch: there the source's outermost counts, per batch, the records
// that reached no sink and that no operator gave up on, telling records
// apart by their offsets (which operators keep, see plugin.Record).

// forks reports whether a stage at or below n feeds more than one stage.
func forks(n *node) bool {
	if len(n.children) > 1 {
		return true
	}
	for _, c := range n.children {
		if forks(c) {
			return true
		}
	}
	return false
}

type tallyKey struct{}

// batchTally is what the operators gave up on while one batch of a forked
// source was handled. The branches run one after another on the handler's
// goroutine, so it needs no lock.
type batchTally struct{ givenUp []int64 }

// withTally gives msg's context a tally for its batch.
func withTally(msg *message.Message) *batchTally {
	t := &batchTally{}
	msg.SetContext(context.WithValue(msg.Context(), tallyKey{}, t))
	return t
}

// tallyGivenUp notes the records an operator gave up on, when ctx is a
// forked source's batch's.
func tallyGivenUp(ctx context.Context, lost []failure) {
	if t, ok := ctx.Value(tallyKey{}).(*batchTally); ok {
		for _, f := range lost {
			t.givenUp = append(t.givenUp, f.rec.Offset)
		}
	}
}

// unreached counts the records of the source batch src that are in none of
// the messages out (one per sink) and that no operator gave up on. Records
// without offsets cannot be told apart: then it counts those that the sink
// given the most records did not get, a lower bound.
func unreached(src *message.Message, out []*message.Message, t *batchTally) int64 {
	in, err := plugin.DecodeBatch(src)
	if err != nil || len(in.Records) == 0 {
		return 0
	}
	reached := make(map[int64]struct{}, len(in.Records))
	most := 0
	for _, m := range out {
		b, err := plugin.DecodeBatch(m)
		if err != nil {
			continue
		}
		most = max(most, len(b.Records))
		for _, r := range b.Records {
			reached[r.Offset] = struct{}{}
		}
	}
	for _, o := range t.givenUp {
		reached[o] = struct{}{}
	}
	n := int64(0)
	for _, r := range in.Records {
		if r.Offset < 0 && len(in.Records) > 1 {
			return int64(max(0, len(in.Records)-most-len(t.givenUp)))
		}
		if _, ok := reached[r.Offset]; !ok {
			n++
		}
	}
	return n
}
