package kafka

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill/message"
	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/internal/lane"
	"github.com/conveyor-etl/conveyor/internal/record"
	"github.com/conveyor-etl/conveyor/plugin"
)

// consumeClaim reads one partition into batches until the session ends or
// the source stops, then waits (bounded) for the batches in flight. After a
// stop it holds the claim until the source closes, so that the session, and
// with it the final commit, stays possible.
//
// The partition's lane owns every batch from here to its commit: its
// budget bytes, its window place, its cancellation (a context that ends when
// the claim gives it up, drain timed out, or the source closes, so that a
// handler retrying a write does not outlive the partition's turn with this
// member), its outcome and its ack.
func (s *Source) consumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) {
	if !s.life.Join() {
		<-sess.Context().Done()
		return
	}
	sess, base := s.claimSession(sess) // exactly-once: a rewind ends them too
	l := s.lane(claim.Partition())
	s.obs.claimed(claim)
	defer s.obs.released(claim.Partition())
	// A batch holds its place in the lane from before it is emitted until
	// its offset is committed (or it failed), so at most window batches of a
	// partition are uncommitted. Once no commit can come (the session ended,
	// or the commit loop gave up), a durable batch leaves the lane at once.
	// Under exactly-once a durable batch leaves at once too: the open
	// transaction, not the window, bounds what is uncommitted (and what a
	// crash reads again, which it never writes twice); holding the places
	// until the commit capped a transaction at window batches a partition,
	// and left the sources idle for the rest of it.
	l.Hold(s.env.DurableOnAck && s.txn == nil)
	claimOver, unheld := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(unheld)
		select {
		case <-sess.Context().Done():
		case <-s.noCommits:
		case <-claimOver:
			return
		}
		l.Hold(false)
	}()
	defer func() { close(claimOver); <-unheld }()
	ctx := l.Open(withClaimPartition(base, claim.Partition()))
	stopped := s.read(ctx, sess, claim, l)
	s.life.Leave()
	drain, cancel := context.WithTimeout(ctx, s.cfg.DrainTimeout)
	if l.Close(drain) {
		s.log.Warn("in-flight batches not acked within drain_timeout; their records will be read again",
			zap.Int32("partition", claim.Partition()), zap.Duration("drain_timeout", s.cfg.DrainTimeout))
	}
	cancel()
	if stopped {
		<-sess.Context().Done()
	}
}

// claimPartitionKey is the context key of the partition whose claim a
// batch's context belongs to (see withClaimPartition).
type claimPartitionKey struct{}

// withClaimPartition is ctx carrying partition: the context of a claim's
// batches, from which the message-mode subscription learns a message's
// partition without keeping a table of messages (which kept the messages
// decoded but never emitted when a partition was revoked).
func withClaimPartition(ctx context.Context, partition int32) context.Context {
	return context.WithValue(ctx, claimPartitionKey{}, partition)
}

// claimPartition is the partition withClaimPartition put in ctx.
func claimPartition(ctx context.Context) int32 {
	p, _ := ctx.Value(claimPartitionKey{}).(int32)
	return p
}

// read fills and emits batches; it reports whether it ended because the
// source stopped (rather than because the session ended).
func (s *Source) read(ctx context.Context, sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim, l *lane.Lane) bool {
	b := newBuilder(claim.Topic(), claim.Partition(), s.cfg.BatchSize)
	b.invalidAction = s.cfg.Invalid
	b.values, b.keys = bindDecoder(s.values, ctx), bindDecoder(s.keys, ctx)
	b.asMessage = s.asMessage
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	defer linger.Stop()
	emit := func() bool {
		if b.empty() {
			return true
		}
		return s.emit(ctx, sess, b.take(), l)
	}
	// With until = "end", a partition read up to its end stops reading
	// (msgs is nil) but holds its claim: a claim that returns ends the
	// group session, and with it the other partitions' claims.
	msgs := claim.Messages()
	end, next, caught := s.claimEnd(claim)
	if caught {
		msgs = nil
		s.caughtUp(claim.Partition(), end)
	}
	var idle <-chan time.Time // with until = "end": see endPoll
	if end >= 0 && msgs != nil {
		t := time.NewTicker(endPoll)
		defer t.Stop()
		idle = t.C
	}
	delivered := false
	for {
		select {
		case <-idle:
			if !delivered && s.pastEnd(claim, next, end) {
				if !emit() {
					return s.halted.Err() != nil
				}
				msgs, idle = nil, nil
				s.caughtUp(claim.Partition(), end)
			}
			delivered = false
		case m, ok := <-msgs:
			// The records sarama has already queued are taken with plain
			// receives, not a select each, until the batch is emitted; the
			// select (linger, stop, session end) is back between batches.
			for {
				if !ok {
					return false // partition revoked: what was not emitted is read again by its next owner
				}
				delivered = true
				if end >= 0 && m.Offset >= end { // written after the claim started (its last offsets before were markers)
					if !emit() {
						return s.halted.Err() != nil
					}
					msgs, idle = nil, nil
					s.caughtUp(claim.Partition(), end)
					break
				}
				next = m.Offset + 1
				take, last := s.take()
				if !take {
					emit()
					s.finish()
					return true
				}
				if b.add(m) == 1 && b.asMessage == nil { // a message of its own is emitted at once
					linger.Reset(s.cfg.BatchLinger)
				}
				if b.full() || last {
					if !emit() {
						return s.halted.Err() != nil
					}
				}
				if last {
					s.log.Info("max_messages reached, stopping", zap.Int64("max_messages", s.cfg.Limit()))
					s.finish()
					return true
				}
				if end >= 0 && m.Offset+1 >= end {
					if !emit() {
						return s.halted.Err() != nil
					}
					msgs, idle = nil, nil
					s.caughtUp(claim.Partition(), end)
				}
				if b.empty() || len(msgs) == 0 {
					break
				}
				m, ok = <-msgs
			}
		case <-linger.C:
			if !emit() {
				return s.halted.Err() != nil
			}
		case <-s.life.Stopping():
			emit() // after Stop it is not emitted; at a bounded run's end it is
			return true
		case <-sess.Context().Done():
			return false
		}
	}
}

// emit hands a batch to the router, once its lane admitted it. It blocks
// while the lane has no room (every place held by a batch not yet
// committed, or the run's budget spent): that is the backpressure. It gives
// up when the session ends (a rebalance: the batch is read again by the
// partition's next owner), the claim does, or Stop is called (the next run
// reads it).
func (s *Source) emit(ctx context.Context, sess sarama.ConsumerGroupSession, fb filledBatch, l *lane.Lane) bool {
	if s.halted.Err() != nil {
		return false // stopped: read again by the next run
	}
	wait, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(sess.Context(), cancel)()
	defer context.AfterFunc(s.halted, cancel)()
	b, err := l.Admit(wait, fb.msg, fb.first, fb.last, int64(fb.size))
	if err != nil {
		if wait.Err() == nil {
			s.fail(fmt.Errorf("kafka source %q: partition %d: %w", s.env.Stage.ID, fb.partition, err))
		}
		return false
	}
	if s.txn != nil {
		tk, err := s.txn.enter(wait, fb.n)
		if err != nil {
			l.Drop(b) // the claim rewinds, or the run stops
			if wait.Err() == nil {
				s.fail(fmt.Errorf("kafka source %q: %w", s.env.Stage.ID, err))
			}
			return false
		}
		msg := fb.msg
		b.OnSettled(func(durable bool) {
			if !durable {
				s.settledMsg(msg) // a write of it still under way queues its records in this transaction, not the next
			}
			tk.leave(durable)
		})
	}
	// Stamped for lag_seconds before the batch can be acked and committed
	// (a stamp added after its commit trimmed the stamps would stay).
	s.obs.emitted(fb.partition, fb.first, fb.ts)
	l.Watch(b)
	select {
	case s.out <- fb.msg:
		s.records.Add(int64(fb.n))
		s.bytes.Add(int64(fb.bytes))
		return true
	case <-ctx.Done():
		l.Unsent(b)
		return false // the lane gives it up on Close
	}
}

// settledMsg waits until msg is acked or nacked (the runtime settles every
// message it took, cut off or not), or the source closes.
func (s *Source) settledMsg(msg *message.Message) {
	select {
	case <-msg.Acked():
	case <-msg.Nacked():
	case <-s.ctx.Done():
	}
}

// builder collects one partition's records into a batch message's
// payload, enriched as they are read.
type builder struct {
	topic     string
	partition int32
	size      int
	bb        plugin.BatchBuilder
	first     int64
	firstTS   time.Time
	last      int64
	bytes     int
	// lastLen and lastBufLen are the previous batch's records and buffer
	// bytes. A batch is sized like the previous one when that one was cut
	// short by batch_linger: at 10k records/s over 6 partitions batches hold
	// about 8 records, and making room for batch_size records each time was
	// 250 KB of garbage per batch (a third of the CPU, with the GC).
	lastLen, lastBufLen int
	// asMessage, when set, turns each record into a message of its own
	// (one), which is the whole batch (see Source.asMessage).
	asMessage func(*sarama.ConsumerMessage) *message.Message
	one       *message.Message
	headers   headerJSON
	// invalid are the indexes in the batch of the records whose value is
	// not valid JSON, marked on the batch message (plugin.MetaInvalid) with
	// invalidAction, the source's invalid key.
	invalid       []int
	invalidAction string
	values        *valueDecoder // nil: values are JSON
	keys          *valueDecoder // nil: keys are text
}

// maxPrealloc caps the buffer a batch starts with: batch_size records of
// the first record's size can be far more than the batch will hold, and
// append grows the buffer when it does.
const maxPrealloc = 4 << 20

type filledBatch struct {
	msg       *message.Message
	n         int // records
	partition int32
	first     int64
	ts        time.Time // the first record's timestamp
	last      int64
	bytes     int // input value bytes
	size      int // bytes of the batch's records, as enriched
}

func newBuilder(topic string, partition int32, size int) *builder {
	return &builder{topic: topic, partition: partition, size: size}
}

func (b *builder) empty() bool { return b.bb.Len() == 0 && b.one == nil }
func (b *builder) full() bool  { return b.bb.Len() >= b.size || b.one != nil }

// add enriches m into the batch and returns the batch's new length.
func (b *builder) add(m *sarama.ConsumerMessage) int {
	if b.asMessage != nil {
		b.one, b.first, b.firstTS, b.last, b.bytes = b.asMessage(m), m.Offset, m.Timestamp, m.Offset, len(m.Value)
		return 1
	}
	if b.bb.Len() == 0 {
		n, bufCap := b.size, b.size*(b.recordSize(m.Value))
		if b.lastLen > 0 && b.lastLen < b.size {
			n = min(b.size, 2*b.lastLen+8)
			bufCap = 2*b.lastBufLen + 8*(b.recordSize(m.Value))
		}
		b.bb.Grow(n, min(bufCap, maxPrealloc))
		b.first, b.firstTS = m.Offset, m.Timestamp
	}
	// sarama decodes a null key or value as nil, an empty one as non-nil.
	meta := record.Meta{Key: m.Key, KeyNull: m.Key == nil, ValueNull: m.Value == nil, Partition: m.Partition, Offset: m.Offset}
	if !m.Timestamp.IsZero() {
		meta.Timestamp = m.Timestamp.UnixMilli()
	}
	meta.Headers = b.headers.render(m.Headers)
	// Enrich's output is compact JSON: one line.
	var malformed bool
	b.bb.AppendCompactFunc(m.Offset, func(buf []byte) (out []byte) {
		out, malformed = b.enrich(buf, m.Value, meta)
		return out
	})
	if malformed {
		b.invalid = append(b.invalid, b.bb.Len()-1)
	}
	b.last = m.Offset
	b.bytes += len(m.Value)
	return b.bb.Len()
}

// take returns the filled batch as a message and starts a new one.
func (b *builder) take() filledBatch {
	if b.one != nil {
		fb := filledBatch{msg: b.one, n: 1, partition: b.partition, first: b.first, ts: b.firstTS, last: b.last, bytes: b.bytes, size: b.bytes}
		b.one, b.bytes = nil, 0
		return fb
	}
	n, size := b.bb.Len(), b.bb.Size()
	id := b.topic + "-" + strconv.Itoa(int(b.partition)) + "-" + strconv.FormatInt(b.first, 10)
	fb := filledBatch{msg: b.bb.Message(id, b.topic, b.partition), n: n, partition: b.partition, first: b.first, ts: b.firstTS,
		last: b.last, bytes: b.bytes, size: size}
	b.lastLen, b.lastBufLen = n, size
	b.bytes = 0
	if len(b.invalid) > 0 {
		markInvalid(fb.msg, b.invalid, b.invalidAction)
		b.invalid = b.invalid[:0]
	}
	return fb
}

// markInvalid marks on msg, a batch message, the indexes of its records
// whose value is not valid JSON and what the runtime is to do with them
// (see plugin.MetaInvalid).
func markInvalid(msg *message.Message, idx []int, action string) {
	var sb strings.Builder
	for i, n := range idx {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.Itoa(n))
	}
	msg.Metadata.Set(plugin.MetaInvalid, sb.String())
	msg.Metadata.Set(plugin.MetaInvalidAction, action)
}
