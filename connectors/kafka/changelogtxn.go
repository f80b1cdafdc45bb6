package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/internal/kafkautil"
	"github.com/conveyor-etl/conveyor/internal/state"
)

// Under exactly-once a stateful stage's changelog joins the run's
// transaction (txn.go): a batch's changes are written through the run's
// transactional producer before the batch is acked, so they commit or
// abort with its output and its input offsets. A restore reads the
// changelog as a read_committed consumer would, up to its last stable
// offset (kafkautil.Scan: no timeout decides where the committed log
// ends, however many transaction markers or aborted writes close it).
// The state package drops a partition's state whenever its claim ended
// (an abort rewinds every claim) and restores it: what it held may have
// moved ahead of what committed (see state.Transactional).

// Transactional implements state.Transactional.
func (c *changelog) Transactional() bool { return c.txn != nil }

// writeTxn writes changes into the open transaction, which the batch that
// made them is inside (its ack is what lets the transaction close), and
// returns once the broker has acked each of them.
func (c *changelog) writeTxn(ctx context.Context, p int32, changes []state.Change) (int64, error) {
	pd := &pending{msgs: make([]sarama.ProducerMessage, len(changes)), done: make(chan struct{}), explicit: true}
	hdrs := writeHeaders(len(changes))
	for i, ch := range changes {
		m := &pd.msgs[i]
		m.Topic, m.Partition, m.Key, m.Headers = c.topic, p, sarama.ByteEncoder(ch.Key), hdrs
		if ch.Value != nil {
			m.Value = sarama.ByteEncoder(ch.Value)
		}
	}
	if err := c.txn.send(ctx, pd); err != nil {
		return 0, err
	}
	next := int64(0)
	for i := range pd.msgs {
		next = max(next, pd.msgs[i].Offset+1)
	}
	return next, nil
}

// send writes pd's messages (each to its own Partition: pd.explicit) into
// the open transaction and returns once the broker has acked each of them.
// The caller's batch is inside the transaction (its ack is what lets the
// transaction close), so what send wrote commits or aborts with the
// batch's input offsets. A failed write spoils the transaction (readErrors)
// and is returned as a cut-off: the batch is read again, not failed.
func (t *txn) send(ctx context.Context, pd *pending) error {
	in, err := t.openInput()
	if err != nil {
		return err
	}
	pd.left.Store(int64(len(pd.msgs)))
	for i := range pd.msgs {
		m := &pd.msgs[i]
		m.Metadata = pd
		select {
		case in <- m:
		case <-ctx.Done(): // the batch is given up: the transaction aborts
			return ctx.Err()
		}
	}
	return pd.Wait(ctx)
}

// openInput is the open transaction's input, or an error once the run's
// transaction is over (a write then has nothing to join).
func (t *txn) openInput() (chan<- *sarama.ProducerMessage, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.prod == nil {
		return nil, errors.New("exactly-once: the run's transaction is over")
	}
	return t.prod.Input(), nil
}

// readCommitted reads partition p from offset from up to its last stable
// offset as a read_committed consumer would, and returns that offset.
func (c *changelog) readCommitted(ctx context.Context, p int32, from int64, total func(int64), fn func(state.Change)) (int64, error) {
	end, err := c.stableOffset(ctx, p)
	if err != nil {
		return 0, err
	}
	if from, err = c.readFrom(ctx, p, from, end, total); err != nil {
		return 0, err
	}
	if from >= end {
		return end, nil
	}
	var g group
	for attempt := 1; ; attempt++ {
		at := from
		complete, err := kafkautil.Scan(c.client, c.topic, p, from, end, sarama.ReadCommitted, 16<<20, func(off int64, r *sarama.Record) bool {
			g.addRecord(r.Key, r.Value, r.Headers, fn)
			at = off + 1
			return ctx.Err() == nil
		})
		switch {
		case ctx.Err() != nil:
			return 0, ctx.Err()
		case err == nil && complete:
			g.flush(fn)
			return end, nil
		case err == nil:
			err = fmt.Errorf("the log is visible only up to offset %d, not its last stable offset %d", at, end)
		case attempt < 20 && retriable(err):
			_ = c.client.RefreshMetadata(c.topic)
			from = at // what was handed is not handed again
			continue
		}
		return 0, fmt.Errorf("changelog %q partition %d: read_committed restore: %w", c.topic, p, err)
	}
}

// stableOffset is partition p's last stable offset: the end of what a
// read_committed consumer may read (no transaction open below it).
func (c *changelog) stableOffset(ctx context.Context, p int32) (int64, error) {
	for attempt := 1; ; attempt++ {
		o, err := kafkautil.LastStable(c.client, c.topic, p)
		if err == nil || attempt == 20 || !retriable(err) {
			return o, err
		}
		_ = c.client.RefreshMetadata(c.topic)
		if err := sleepCtx(ctx, backoffFor(attempt)); err != nil {
			return 0, err
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
