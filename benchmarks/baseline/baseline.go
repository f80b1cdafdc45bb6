// Package baseline holds the hand-written sarama programs the benchmarks
// compare Conveyor with: an ETL loop doing Example 3's work (consume,
// enrich, filter, produce keyed, mark offsets after the produce succeeded)
// and a raw AsyncProducer for Example 2.
//
// They do the same work per record as Conveyor (record.Enrich adds the
// _kafka_* members, record.Path reads the filter column and the key) with
// the same delivery guarantees (idempotent producer, acks=all, an offset is
// marked only once every record before it in its partition is acked or
// filtered out, committed offsets never pass a record that was not acked),
// and the same client settings as Conveyor's defaults, so that a difference
// in throughput comes from the framework, not from tuning.
package baseline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/internal/record"
	"github.com/conveyor-etl/conveyor/operators"
)

// ProducerConfig is the producer side shared by both baselines; the values
// are Conveyor's kafka sink defaults.
func ProducerConfig() *sarama.Config {
	sc := sarama.NewConfig()
	sc.Version = sarama.V3_0_0_0
	sc.ClientID = "conveyor-bench-baseline"
	p := &sc.Producer
	p.Return.Successes = true
	p.Return.Errors = true
	p.RequiredAcks = sarama.WaitForAll
	p.Idempotent = true
	sc.Net.MaxOpenRequests = 1
	p.Retry.Max = 10
	p.Flush.Frequency = 5 * time.Millisecond
	p.Flush.Bytes = 1 << 20
	p.MaxMessageBytes = 1000000
	p.Partitioner = sarama.NewMurmur2Partitioner
	sc.ChannelBufferSize = 4096
	return sc
}

// ETLConfig configures the ETL loop.
type ETLConfig struct {
	Brokers     []string
	InputTopic  string
	OutputTopic string
	Group       string
	// Filter keeps records whose Column is >= Min, compared by
	// operators.Filter, the function behind filter.apply.
	Column string
	Min    float64
	// KeyField becomes the output key (record.KeyText).
	KeyField string
	// End holds the input's end offsets: the loop returns once every
	// partition's marked offset reached them and that commit is done.
	End map[int32]int64
}

// ETLStats is what the loop did.
type ETLStats struct {
	In, Out, Filtered int64
	InBytes           int64
}

// RunETL consumes cfg.InputTopic as consumer group cfg.Group until the
// offsets in cfg.End are committed, writing the records that pass the
// filter to cfg.OutputTopic.
func RunETL(ctx context.Context, cfg ETLConfig) (ETLStats, error) {
	sc := ProducerConfig()
	// Consumer settings: Conveyor's kafka source defaults.
	sc.Consumer.Return.Errors = true
	sc.Consumer.Offsets.Initial = sarama.OffsetOldest
	sc.Consumer.Offsets.AutoCommit.Enable = true // commits marked offsets every second, and on Cleanup below
	sc.Consumer.Offsets.AutoCommit.Interval = time.Second
	sc.Consumer.MaxProcessingTime = time.Second
	sc.Consumer.MaxWaitTime = 100 * time.Millisecond
	sc.Consumer.Fetch.Max = 50 << 20
	sc.Consumer.Fetch.Default = 1 << 20
	sc.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
	sc.ChannelBufferSize = 1024

	producer, err := sarama.NewAsyncProducer(cfg.Brokers, sc)
	if err != nil {
		return ETLStats{}, fmt.Errorf("producer: %w", err)
	}
	group, err := sarama.NewConsumerGroup(cfg.Brokers, cfg.Group, sc)
	if err != nil {
		producer.Close()
		return ETLStats{}, fmt.Errorf("consumer group: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	filter, err := operators.NewFilter(&operators.FilterConfig{Column: cfg.Column, Operator: ">=", Value: cfg.Min})
	if err != nil {
		return ETLStats{}, err
	}
	h := &etl{cfg: cfg, producer: producer, filter: filter, key: record.CompilePath(cfg.KeyField),
		done: make(chan struct{}), failed: make(chan error, 1)}
	for _, end := range cfg.End {
		if end > 0 {
			h.remaining.Add(1)
		}
	}
	if h.remaining.Load() == 0 {
		close(h.done)
	}
	var acks sync.WaitGroup
	acks.Add(2)
	go func() {
		defer acks.Done()
		for m := range producer.Successes() {
			it := m.Metadata.(*item)
			it.done.Store(true)
			it.t.advance()
		}
	}()
	go func() {
		defer acks.Done()
		for e := range producer.Errors() {
			// Nothing past a failed record may be committed: stop here.
			select {
			case h.failed <- fmt.Errorf("produce: %w", e.Err):
			default:
			}
		}
	}()
	go func() {
		for err := range group.Errors() {
			_ = err // rebalances and retries are sarama's business
		}
	}()
	consumed := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			if err := group.Consume(ctx, []string{cfg.InputTopic}, h); err != nil {
				if errors.Is(err, sarama.ErrClosedConsumerGroup) {
					break
				}
				consumed <- err
				return
			}
		}
		consumed <- nil
	}()
	var runErr error
	select {
	case <-h.done: // every partition marked to its end; Cleanup commits
	case runErr = <-h.failed:
	case runErr = <-consumed:
	case <-ctx.Done():
		runErr = ctx.Err()
	}
	cancel()
	if err := <-consumed; err != nil && runErr == nil && !errors.Is(err, context.Canceled) {
		runErr = err
	}
	if err := group.Close(); err != nil && runErr == nil {
		runErr = err
	}
	if err := producer.Close(); err != nil && runErr == nil {
		runErr = err
	}
	acks.Wait()
	return ETLStats{In: h.in.Load(), Out: h.out.Load(), Filtered: h.filtered.Load(), InBytes: h.inBytes.Load()}, runErr
}

type etl struct {
	cfg      ETLConfig
	producer sarama.AsyncProducer
	filter   *operators.Filter
	key      record.Path

	remaining atomic.Int64 // partitions not yet marked to their end
	done      chan struct{}
	doneOnce  sync.Once
	failed    chan error

	in, out, filtered, inBytes atomic.Int64
}

func (h *etl) Setup(sarama.ConsumerGroupSession) error { return nil }

// Cleanup commits what was marked, synchronously, before the partitions go.
func (h *etl) Cleanup(sess sarama.ConsumerGroupSession) error {
	sess.Commit()
	return nil
}

// item is one produced record: its message and whether the broker acked it.
type item struct {
	msg  sarama.ProducerMessage
	done atomic.Bool
	t    *tracker
}

// entry is one consumed offset awaiting its turn to be marked; it == nil
// means it needs no ack (filtered out).
type entry struct {
	off int64
	it  *item
}

// tracker marks a partition's offsets in order: an offset is marked only
// when every record before it was acked or filtered out.
type tracker struct {
	h     *etl
	sess  sarama.ConsumerGroupSession
	topic string
	part  int32
	end   int64

	mu      sync.Mutex
	q       []entry
	head    int
	reached bool
}

func (t *tracker) push(e entry) {
	t.mu.Lock()
	if t.head > 4096 && t.head*2 > len(t.q) {
		t.q = append(t.q[:0], t.q[t.head:]...)
		t.head = 0
	}
	t.q = append(t.q, e)
	t.mu.Unlock()
	if e.it == nil {
		t.advance()
	}
}

// advance marks the longest prefix of settled offsets.
func (t *tracker) advance() {
	t.mu.Lock()
	last := int64(-1)
	for t.head < len(t.q) {
		e := t.q[t.head]
		if e.it != nil && !e.it.done.Load() {
			break
		}
		last = e.off
		t.q[t.head] = entry{}
		t.head++
	}
	if last < 0 {
		t.mu.Unlock()
		return
	}
	t.sess.MarkOffset(t.topic, t.part, last+1, "")
	reached := !t.reached && last+1 >= t.end
	if reached {
		t.reached = true
	}
	t.mu.Unlock()
	if reached && t.h.remaining.Add(-1) == 0 {
		t.h.doneOnce.Do(func() { close(t.h.done) })
	}
}

func (h *etl) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	t := &tracker{h: h, sess: sess, topic: claim.Topic(), part: claim.Partition(), end: h.cfg.End[claim.Partition()]}
	const arena = 256 << 10
	buf := make([]byte, 0, arena)
	for {
		var m *sarama.ConsumerMessage
		var ok bool
		select {
		case m, ok = <-claim.Messages():
			if !ok {
				return nil
			}
		case <-sess.Context().Done():
			return nil
		}
		h.in.Add(1)
		h.inBytes.Add(int64(len(m.Value)))
		// Enrich into a shared arena; a value stays referenced by its
		// message until the producer is done with it.
		if cap(buf)-len(buf) < 2*len(m.Value)+256 {
			buf = make([]byte, 0, arena)
		}
		meta := record.Meta{Key: m.Key, KeyNull: m.Key == nil, ValueNull: m.Value == nil, Partition: m.Partition, Offset: m.Offset}
		if !m.Timestamp.IsZero() {
			meta.Timestamp = m.Timestamp.UnixMilli()
		}
		start := len(buf)
		buf = record.Enrich(buf, m.Value, meta)
		v := buf[start:len(buf):len(buf)]
		if !h.filter.Match(v) {
			h.filtered.Add(1)
			t.push(entry{off: m.Offset})
			continue
		}
		it := &item{t: t}
		it.msg.Topic = h.cfg.OutputTopic
		it.msg.Value = sarama.ByteEncoder(v)
		it.msg.Metadata = it
		if k, ok := record.KeyText(h.key.Get(v)); ok {
			it.msg.Key = sarama.ByteEncoder(k)
		}
		t.push(entry{off: m.Offset, it: it})
		select {
		case h.producer.Input() <- &it.msg:
			h.out.Add(1)
		case <-sess.Context().Done():
			return nil
		}
	}
}
