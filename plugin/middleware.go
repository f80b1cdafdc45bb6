package plugin

import (
	"context"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"
)

// Failure is a record an operator could not process, and why.
type Failure struct {
	Record Record
	Index  int // of Record in the batch's records
	Err    error
}

// OnFailure decides what becomes of the records an operator failed in batch
// b, given out, what the operator made of the others (in order): it returns
// the records to pass on, out itself or out with other records in the
// failed ones' places (a retry's output, say: keeping the order of b is up
// to it), or an error that fails the whole batch.
type OnFailure func(ctx context.Context, b Batch, out []Record, failed []Failure) ([]Record, error)

// OperatorMiddleware makes op a Watermill handler middleware. For each
// message it decodes the batch (see [DecodeBatch]), applies op, and calls
// the next handler with a batch message of the records op returned, in
// order: the same metadata (so origin, partition and any correlation id
// survive), the same context, and the same UUID. Records op failed go to
// onFail, which says what goes on instead; with onFail nil the batch fails
// with the first record's error.
// An error (from decoding, onFail or the next handler) is returned, and the
// router nacks the message. The middleware holds no state of its own: the
// handler it makes is called concurrently, as Apply is.
func OperatorMiddleware(op Operator, onFail OnFailure) message.HandlerMiddleware {
	return func(next message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			// The two slices live only during this call (Apply keeps
			// neither, and what goes on is the message's payload).
			in, out := getRecords(), getRecords()
			defer putRecords(in)
			defer putRecords(out)
			b, err := DecodeBatchInto(msg, *in)
			if err != nil {
				return nil, err
			}
			*in = b.Records
			var failed []Failure
			*out = op.Apply(b.Records, (*out)[:0], func(i int, err error) {
				failed = append(failed, Failure{Record: b.Records[i], Index: i, Err: err})
			})
			if len(failed) > 0 {
				if onFail == nil {
					return nil, failed[0].Err
				}
				if *out, err = onFail(msg.Context(), b, *out, failed); err != nil {
					return nil, err
				}
			}
			return next(Rebatch(msg, b, *out))
		}
	}
}

var recordsPool = sync.Pool{New: func() any { return new([]Record) }}

func getRecords() *[]Record { return recordsPool.Get().(*[]Record) }

// putRecords returns r to the pool, without the record bytes it points to
// (which belong to messages) and unless it grew very large.
func putRecords(r *[]Record) {
	if cap(*r) > 1<<16 {
		return
	}
	clear(*r)
	*r = (*r)[:0]
	recordsPool.Put(r)
}

// Rebatch returns a message carrying out in place of the records of msg
// (decoded as b): msg itself when out is exactly b's records, else a new
// batch message with msg's UUID, metadata and context.
func Rebatch(msg *message.Message, b Batch, out []Record) *message.Message {
	if sameRecords(b.Records, out) {
		return msg
	}
	b.Records = out
	m, recs := b.encode(msg.UUID, true)
	for k, v := range msg.Metadata {
		if _, own := m.Metadata[k]; !own && k != MetaOffsets && k != MetaRecords {
			m.Metadata[k] = v
		}
	}
	// The stages after this one find the records decoded (see decoded).
	return withDecoded(m, msg.Context(), recs, b.Partition)
}

func sameRecords(a, b []Record) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i].Value) != len(b[i].Value) || (len(a[i].Value) > 0 && &a[i].Value[0] != &b[i].Value[0]) {
			return false
		}
	}
	return true
}
