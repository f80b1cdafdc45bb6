package kafka

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	wkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/conveyor-etl/conveyor/internal/record"
	"github.com/conveyor-etl/conveyor/plugin"
)

// perMessageSource is delivery = "per-message": watermill-kafka's own
// Subscriber, one message per record and one record in flight per
// partition. Offsets are marked per acked message and auto-committed by
// sarama (every commit_interval and on Close), as the stock subscriber does.
type perMessageSource struct {
	cfg    *SourceConfig
	env    plugin.Env
	sub    *wkafka.Subscriber
	out    chan *message.Message
	budget atomic.Int64

	stopOnce sync.Once
	stopCh   chan struct{}
	done     chan struct{}
	records  atomic.Int64
	bytes    atomic.Int64

	// acked is the last acked offset per partition, written by forward
	// and read by Commit once forward has returned.
	acked map[int32]int64
}

func newPerMessageSource(cfg *SourceConfig, env plugin.Env) (*perMessageSource, error) {
	sc, err := cfg.saramaConfig()
	if err != nil {
		return nil, err
	}
	sc.Consumer.Return.Errors = true
	sc.Consumer.Offsets.Initial = sarama.OffsetOldest // not watermill's default (newest)
	if cfg.StartOffset == "latest" {
		sc.Consumer.Offsets.Initial = sarama.OffsetNewest
	}
	if cfg.CommitInterval > 0 {
		sc.Consumer.Offsets.AutoCommit.Interval = cfg.CommitInterval
	}
	sub, err := wkafka.NewSubscriber(wkafka.SubscriberConfig{
		Brokers: cfg.Brokers, Unmarshaler: wkafka.DefaultMarshaler{}, OverwriteSaramaConfig: sc,
		ConsumerGroup: cfg.GroupID, DoNotWaitForTopicCreation: true,
	}, watermill.NopLogger{})
	if err != nil {
		return nil, reachError("source", env.Stage.ID, &cfg.ClientConfig, err)
	}
	s := &perMessageSource{cfg: cfg, env: env, sub: sub, out: make(chan *message.Message), stopCh: make(chan struct{}), done: make(chan struct{}), acked: map[int32]int64{}}
	s.budget.Store(cfg.MaxMessages)
	return s, nil
}

func (s *perMessageSource) Subscribe(ctx context.Context, _ string) (<-chan *message.Message, error) {
	in, err := s.sub.Subscribe(ctx, s.cfg.Topic)
	if err != nil {
		return nil, err
	}
	if d := s.cfg.Deadline(); d > 0 {
		time.AfterFunc(d, s.Stop)
	}
	go s.forward(in)
	return s.out, nil
}

// forward turns each stock message into a one-record batch and acks the
// stock message when the batch is acked.
func (s *perMessageSource) forward(in <-chan *message.Message) {
	defer close(s.done)
	defer close(s.out)
	var buf []byte
	for {
		var msg *message.Message
		var ok bool
		select {
		case msg, ok = <-in:
			if !ok {
				return
			}
		case <-s.stopCh:
			return
		}
		if s.cfg.MaxMessages > 0 && s.budget.Add(-1) < 0 {
			s.Stop()
			return
		}
		ctx := msg.Context()
		meta := record.Meta{}
		meta.Partition, _ = wkafka.MessagePartitionFromCtx(ctx)
		meta.Offset, _ = wkafka.MessagePartitionOffsetFromCtx(ctx)
		meta.Key, _ = wkafka.MessageKeyFromCtx(ctx)
		meta.KeyNull = meta.Key == nil
		// watermill-kafka's DefaultMarshaler passes sarama's value through
		// as the payload, so a tombstone's payload is nil and an empty
		// value's is empty but not nil.
		meta.ValueNull = msg.Payload == nil
		if ts, ok := wkafka.MessageTimestampFromCtx(ctx); ok && !ts.IsZero() {
			meta.Timestamp = ts.UnixMilli()
		}
		buf = record.Enrich(buf[:0:0], msg.Payload, meta)
		b := &plugin.Batch{Records: []plugin.Record{{Value: buf, Offset: meta.Offset}}, Origin: s.cfg.Topic, Partition: meta.Partition}
		out := plugin.NewMessage(msg.UUID, b)
		s.out <- out
		s.records.Add(1)
		s.bytes.Add(int64(len(msg.Payload)))
		select {
		case <-out.Acked():
			msg.Ack()
			s.acked[meta.Partition] = meta.Offset
		case <-out.Nacked():
			msg.Nack()
			s.Stop()
			return
		}
		if s.cfg.MaxMessages > 0 && s.budget.Load() <= 0 {
			s.Stop()
			return
		}
	}
}

func (s *perMessageSource) Stop()                 { s.stopOnce.Do(func() { close(s.stopCh) }) }
func (s *perMessageSource) Done() <-chan struct{} { return s.done }
func (s *perMessageSource) Err() error            { return nil }

// Commit closes the stock subscriber, which commits what it marked, then
// commits every acked offset itself: the stock handler marks a message only
// after it sees the ack, and a Close racing that loses the last marks.
func (s *perMessageSource) Commit(context.Context) error {
	<-s.done
	if err := s.sub.Close(); err != nil {
		return err
	}
	if len(s.acked) == 0 {
		return nil
	}
	sc, err := s.cfg.saramaConfig()
	if err != nil {
		return err
	}
	return commitOffsets(s.cfg.Brokers, sc, s.cfg.GroupID, s.cfg.Topic, s.acked)
}
func (s *perMessageSource) Close() error { s.Stop(); return s.sub.Close() }
func (s *perMessageSource) Stats() plugin.SourceStats {
	return plugin.SourceStats{Records: s.records.Load(), Bytes: s.bytes.Load()}
}

// perMessageSink is delivery = "per-message": watermill-kafka's Publisher,
// one synchronous send per record, keyed through its partitioning marshaler.
type perMessageSink struct {
	topicName string
	pub       *wkafka.Publisher
	key       record.KeyPath
}

func newPerMessageSink(cfg *SinkConfig, env plugin.Env) (*perMessageSink, error) {
	sc, err := cfg.saramaConfig()
	if err != nil {
		return nil, err
	}
	sc.Producer.Return.Successes = true
	sc.Producer.RequiredAcks = sarama.WaitForAll
	sc.Producer.Retry.Max = cfg.Retries
	sc.Producer.MaxMessageBytes = cfg.MaxMessageBytes
	sc.Producer.Partitioner = sarama.NewMurmur2Partitioner
	s := &perMessageSink{topicName: cfg.Topic}
	if cfg.KeyField != "" {
		s.key = record.CompileKeyPath(cfg.KeyField)
	}
	marshal := wkafka.NewWithPartitioningMarshaler(func(_ string, msg *message.Message) (string, error) {
		if cfg.KeyField == "" {
			return "", nil
		}
		k, _ := s.key.Key(msg.Payload)
		return string(k), nil
	})
	s.pub, err = wkafka.NewPublisher(wkafka.PublisherConfig{Brokers: cfg.Brokers, Marshaler: tombstoneMarshaler{marshal, cfg}, OverwriteSaramaConfig: sc}, watermill.NopLogger{})
	if err != nil {
		return nil, reachError("sink", env.Stage.ID, &cfg.ClientConfig, err)
	}
	return s, nil
}

// tombstoneMarshaler sends a record that SinkConfig.tombstone picks with a
// null value; the key still comes from the record.
type tombstoneMarshaler struct {
	wkafka.Marshaler
	cfg *SinkConfig
}

func (t tombstoneMarshaler) Marshal(topic string, msg *message.Message) (*sarama.ProducerMessage, error) {
	pm, err := t.Marshaler.Marshal(topic, msg)
	if err == nil && t.cfg.tombstone(msg.Payload) {
		pm.Value = nil
	}
	return pm, err
}

// Write sends each record synchronously, in order.
func (s *perMessageSink) Write(_ context.Context, records []plugin.Record) plugin.Pending {
	var werr plugin.WriteError
	for i, r := range records {
		if err := s.pub.Publish(s.topic(), message.NewMessage(watermill.NewShortUUID(), r.Value)); err != nil {
			werr.Failed = append(werr.Failed, i)
			werr.Errs = append(werr.Errs, err)
		}
	}
	if len(werr.Failed) > 0 {
		return plugin.Done{Err: &werr}
	}
	return plugin.Done{}
}

func (s *perMessageSink) topic() string               { return s.topicName }
func (s *perMessageSink) Durable() bool               { return true }
func (s *perMessageSink) Flush(context.Context) error { return nil }
func (s *perMessageSink) Close() error                { return s.pub.Close() }

// commitOffsets commits last+1 for each partition of topic as a standalone
// member of group (allowed once the group has no active members). It never
// moves a committed offset backwards.
func commitOffsets(brokers []string, sc *sarama.Config, group, topic string, last map[int32]int64) error {
	client, err := sarama.NewClient(brokers, sc)
	if err != nil {
		return err
	}
	defer client.Close()
	om, err := sarama.NewOffsetManagerFromClient(group, client)
	if err != nil {
		return err
	}
	var errs []error
	var poms []sarama.PartitionOffsetManager
	for p, off := range last {
		pom, err := om.ManagePartition(topic, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		pom.MarkOffset(off+1, "")
		poms = append(poms, pom)
	}
	om.Commit()
	for _, pom := range poms {
		errs = append(errs, pom.Close())
	}
	errs = append(errs, om.Close())
	return errors.Join(errs...)
}
