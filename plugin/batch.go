package plugin

import (
	"context"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"
)

// Record is one JSON value travelling through a pipeline.
type Record struct {
	// Value is the record's JSON, normally an object. Operators must treat it
	// as read-only: the same bytes may be shared by several branches.
	Value []byte
	// Offset is the record's position in its source partition (or line in a
	// file), kept for error reports and dead-letter entries; -1 when unknown.
	Offset int64
}

// Batch is a run of records from one source partition, in order.
type Batch struct {
	Records []Record
	// Origin names where the records came from ("topic" for Kafka, the path
	// for a file) and Partition the partition (0 for a file).
	Origin    string
	Partition int32

	turn     chan struct{}
	prevTurn <-chan struct{}
	endOnce  sync.Once
}

// After orders b behind prev: b's sink writes begin only after prev's have
// been handed to the sinks. Sources chain the batches of one partition this
// way so that output order follows input order even while several batches
// are being processed at once. Call it before the batch is emitted.
func (b *Batch) After(prev *Batch) {
	b.turn = make(chan struct{})
	if prev != nil {
		prev.ensureTurn()
		b.prevTurn = prev.turn
	}
}

func (b *Batch) ensureTurn() {
	if b.turn == nil {
		b.turn = make(chan struct{})
	}
}

// WaitTurn blocks until the batch before b has handed its records to the
// sinks (or ended its turn without doing so), or ctx is done.
func (b *Batch) WaitTurn(ctx context.Context) error {
	if b.prevTurn == nil {
		return nil
	}
	select {
	case <-b.prevTurn:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// EndTurn lets the batch after b go on. It is safe to call more than once.
func (b *Batch) EndTurn() {
	b.endOnce.Do(func() {
		if b.turn != nil {
			close(b.turn)
		}
	})
}

type batchKey struct{}

// NewMessage wraps b in a Watermill message with the given id (a cheap id
// such as "topic-partition-offset" is enough; it is only used in logs).
// The message's context is ctx: a source ends it when it gives the batch
// up (its partition went to another consumer), and handlers stop retrying
// writes of the batch then.
func NewMessage(ctx context.Context, id string, b *Batch) *message.Message {
	msg := message.NewMessage(id, nil)
	msg.SetContext(context.WithValue(ctx, batchKey{}, b))
	return msg
}

// BatchOf returns the batch a message carries, if any.
func BatchOf(msg *message.Message) (*Batch, bool) {
	b, ok := msg.Context().Value(batchKey{}).(*Batch)
	return b, ok
}
