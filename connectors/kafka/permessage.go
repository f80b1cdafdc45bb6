package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	wkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/lifecycle"
	"github.com/conveyor-etl/conveyor/internal/record"
	"github.com/conveyor-etl/conveyor/internal/wmlog"
	"github.com/conveyor-etl/conveyor/plugin"
)

// perMessageSource is delivery = "per-message": watermill-kafka's own
// Subscriber, one message per record and one record in flight per
// partition. The stock subscriber marks a message once it is acked, and
// sarama's auto-commit commits the marks every commit_interval_ms
// (perMessageCommitInterval when 0; committing each mark at once costs a
// round trip per record behind the fetch long poll). An acked offset may be
// committed at any time, so this mode needs sinks that are durable on ack:
// newPerMessageSource refuses the others.
type perMessageSource struct {
	cfg    *SourceConfig
	env    plugin.Env
	sub    *wkafka.Subscriber
	client sarama.Client // for confirming the final commit
	out    chan *message.Message
	budget atomic.Int64

	// State is the stop, the error and Done (closed when forward has
	// returned): Stop, Done and Err.
	*lifecycle.State
	closeOnce sync.Once
	started   atomic.Bool // forward is running (Subscribe succeeded)
	closeErr  error
	records   atomic.Int64
	bytes     atomic.Int64

	// member is the group member metadata's user data this source joins
	// with, unique to it: memberAssigned finds its assignment by it.
	member   []byte
	assigned chan struct{} // closed when the group first gives this member partitions

	// acked is the next offset to commit per partition (last acked + 1),
	// written by forward and read by Commit once forward has returned.
	acked map[int32]int64
}

func newPerMessageSource(cfg *SourceConfig, env plugin.Env) (*perMessageSource, error) {
	if !env.DurableOnAck {
		return nil, errPerMessageNeedsDurableSinks(env.Stage)
	}
	sc, err := cfg.saramaConfig()
	if err != nil {
		return nil, err
	}
	sc.Consumer.Return.Errors = true
	sc.Consumer.Offsets.Initial = sarama.OffsetOldest // not watermill's default (newest)
	if cfg.StartOffset == "latest" {
		sc.Consumer.Offsets.Initial = sarama.OffsetNewest
	}
	sc.Consumer.Offsets.AutoCommit.Enable = true
	sc.Consumer.Offsets.AutoCommit.Interval = perMessageCommitInterval
	if cfg.CommitInterval > 0 {
		sc.Consumer.Offsets.AutoCommit.Interval = cfg.CommitInterval
	}
	sc.Consumer.Group.InstanceId = cfg.GroupInstanceID
	member := []byte("conveyor:" + watermill.NewUUID())
	sc.Consumer.Group.Member.UserData = member
	client, err := sarama.NewClient(cfg.Brokers, sc)
	if err != nil {
		return nil, reachError("source", env.Stage.ID, &cfg.ClientConfig, err)
	}
	sub, err := wkafka.NewSubscriber(wkafka.SubscriberConfig{
		Brokers: cfg.Brokers, Unmarshaler: headerUnmarshaler{}, OverwriteSaramaConfig: sc,
		ConsumerGroup: cfg.GroupID, DoNotWaitForTopicCreation: true,
	}, wmlog.New(env.Logger))
	if err != nil {
		client.Close()
		return nil, reachError("source", env.Stage.ID, &cfg.ClientConfig, err)
	}
	s := &perMessageSource{cfg: cfg, env: env, sub: sub, client: client, out: make(chan *message.Message), State: lifecycle.New(), acked: map[int32]int64{},
		member: member, assigned: make(chan struct{})}
	s.budget.Store(cfg.Limit())
	return s, nil
}

// perMessageCommitInterval is the per-message auto-commit interval when
// commit_interval_ms is 0.
const perMessageCommitInterval = 200 * time.Millisecond

// errPerMessageNeedsDurableSinks explains why delivery = "per-message"
// cannot feed a sink that makes records durable only when the run ends.
func errPerMessageNeedsDurableSinks(st *config.Stage) error {
	pos := st.Pos
	if v, ok := st.Config["delivery"]; ok {
		pos = v.Pos
	}
	return &config.Error{Pos: pos, Stage: st.Index, StageID: st.ID, Key: "delivery",
		Msg: `delivery = "per-message" commits each record's offset once the record is acked, but a sink below this source ` +
			`(such as json.write) makes records durable only when the run ends: a crash would lose committed records. ` +
			`Use delivery = "batch" (the default), which commits after that sink's flush`}
}

func (s *perMessageSource) Subscribe(ctx context.Context, _ string) (<-chan *message.Message, error) {
	if err := awaitTopic(ctx, s.client, s.cfg.Topic, s.cfg.WaitForTopic, s.env.Logger); err != nil {
		return nil, topicError("source", s.env.Stage.ID, s.cfg.Topic, s.cfg.Brokers, sourceTopicHint(s.cfg), err)
	}
	in, err := s.sub.Subscribe(ctx, s.cfg.Topic)
	if err != nil {
		return nil, err
	}
	if d := s.cfg.Deadline(); d > 0 {
		go s.watchAssignment()
		go runDeadline(bounded{cfg: s.cfg, stageID: s.env.Stage.ID, log: s.env.Logger.With(zap.String("topic", s.cfg.Topic)),
			assigned: s.assigned, stopped: s.Stopping(), stop: s.Stop, fail: s.Fail}, d)
	}
	s.started.Store(true)
	go s.forward(in)
	return s.out, nil
}

// watchAssignment closes assigned once the group coordinator shows this
// member holding partitions of the topic, asking every assignPoll until
// then (or until the source stops), so that timeout_ms counts from the
// assignment as it does for the batching source.
func (s *perMessageSource) watchAssignment() {
	tick := time.NewTicker(assignPoll)
	defer tick.Stop()
	for {
		ok, err := memberAssigned(s.client, s.cfg.GroupID, s.cfg.Topic, s.member)
		if ok {
			close(s.assigned)
			return
		}
		if err != nil {
			s.env.Logger.Debug("asking the group coordinator for this member's partitions", zap.Error(err))
		}
		select {
		case <-tick.C:
		case <-s.Stopping():
			return
		}
	}
}

// assignPoll is how often the per-message source asks whether it has
// partitions yet; a bounded run's timeout may start up to this late.
const assignPoll = 100 * time.Millisecond

// forward turns each stock message into a one-record batch and acks the
// stock message when the batch is acked. It leaves out open when it stops:
// Watermill's router closes a subscriber whose channels have all closed,
// and closing the stock subscriber before Commit could lose its last marks.
func (s *perMessageSource) forward(in <-chan *message.Message) {
	defer s.Finish()
	for {
		var msg *message.Message
		var ok bool
		select {
		case msg, ok = <-in:
			if !ok {
				return
			}
		case <-s.Stopping():
			return
		}
		// select picks at random when both are ready: a message read after
		// Stop is left unacked (the stock subscriber never marks it).
		select {
		case <-s.Stopping():
			return
		default:
		}
		if s.cfg.Limit() > 0 && s.budget.Add(-1) < 0 {
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
		if h := msg.Metadata.Get(headersMetadata); h != "" {
			meta.Headers = []byte(h)
		}
		var bb plugin.BatchBuilder
		var malformed bool
		bb.AppendCompactFunc(meta.Offset, func(buf []byte) (out []byte) { // compact: one line
			out, malformed = record.EnrichChecked(buf, msg.Payload, meta)
			return out
		})
		out := bb.Message(msg.UUID, s.cfg.Topic, meta.Partition)
		if malformed {
			markInvalid(out, []int{0}, s.cfg.Invalid)
		}
		s.out <- out
		s.records.Add(1)
		s.bytes.Add(int64(len(msg.Payload)))
		select {
		case <-out.Acked():
			msg.Ack()
			s.acked[meta.Partition] = meta.Offset + 1
		case <-out.Nacked():
			s.Fail(fmt.Errorf("kafka source %q: record %s/%d@%d failed; its offset and everything after it stay uncommitted",
				s.env.Stage.ID, s.cfg.Topic, meta.Partition, meta.Offset))
			return // never ack it: the stock subscriber marks nothing more of this partition
		}
		if s.cfg.Limit() > 0 && s.budget.Load() <= 0 {
			s.Stop()
			return
		}
	}
}

// DrainTimeout is drain_timeout_ms.
func (s *perMessageSource) DrainTimeout() time.Duration { return s.cfg.DrainTimeout }

// Commit waits, while the stock subscriber still holds its session, until
// the group coordinator shows every acked offset committed (the stock
// handler marks and commits a message only after it sees the ack, so
// closing the subscriber first could lose the last marks), then closes the
// subscriber. It never commits itself: a commit from outside the group's
// current generation is refused while other members remain.
func (s *perMessageSource) Commit(ctx context.Context) error {
	<-s.Done()
	defer s.sub.Close()
	if len(s.acked) == 0 {
		return nil
	}
	for {
		behind, err := committedBehind(s.client, s.cfg.GroupID, s.cfg.Topic, s.acked)
		if err == nil && len(behind) > 0 {
			behind = s.dropMoved(behind)
		}
		if err == nil && len(behind) == 0 {
			return nil
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("partition(s) %s not committed", partitionList(behind))
			}
			err = fmt.Errorf("kafka source %q: the final commit was not confirmed: %w; records acked since the last commit will be read again", s.env.Stage.ID, err)
			s.Fail(err)
			return err
		}
	}
}

// dropMoved returns behind without the partitions this member no longer
// holds: an ack that came after a rebalance had ended the stock handler's
// session was never marked, and the partition's next owner reads its
// records again from the last commit. Nothing is lost, so the final commit
// does not wait for them (nor fail). While the group is not stable, behind
// is kept as it is.
func (s *perMessageSource) dropMoved(behind map[int32]int64) map[int32]int64 {
	held, stable, err := memberPartitions(s.client, s.cfg.GroupID, s.cfg.Topic, s.member)
	if err != nil || !stable {
		return behind
	}
	for p := range behind {
		if !slices.Contains(held, p) {
			s.env.Logger.Info("a partition went to another member before its last acked records were committed; that member reads them again from the last commit",
				zap.String("topic", s.cfg.Topic), zap.Int32("partition", p), zap.Int64("acked_up_to", behind[p]))
			delete(behind, p)
		}
	}
	return behind
}

// Close stops the source and closes the stock subscriber and the client,
// once: the router closes its subscribers, and the runner closes its
// sources (sarama's client.Close panics the second time).
func (s *perMessageSource) Close() error {
	s.closeOnce.Do(func() {
		s.Stop()
		if s.started.Load() {
			<-s.Done() // forward sends on out no more
		}
		close(s.out)
		s.closeErr = s.sub.Close()
		if e := s.client.Close(); e != nil && !errors.Is(e, sarama.ErrClosedClient) && s.closeErr == nil {
			s.closeErr = e
		}
	})
	return s.closeErr
}

func (s *perMessageSource) Stats() plugin.SourceStats {
	return plugin.SourceStats{Records: s.records.Load(), Bytes: s.bytes.Load()}
}

// committedBehind asks group's coordinator for its committed offsets of
// topic and returns the partitions of want that are committed below their
// offset there.
func committedBehind(client sarama.Client, group, topic string, want map[int32]int64) (map[int32]int64, error) {
	coord, err := client.Coordinator(group)
	if err != nil {
		return nil, err
	}
	parts := slices.Sorted(maps.Keys(want))
	resp, err := coord.FetchOffset(sarama.NewOffsetFetchRequest(client.Config().Version, group, map[string][]int32{topic: parts}))
	if err != nil {
		_ = client.RefreshCoordinator(group)
		return nil, err
	}
	behind := map[int32]int64{}
	for _, p := range parts {
		b := resp.GetBlock(topic, p)
		switch {
		case b == nil:
			return nil, fmt.Errorf("no committed offset returned for partition %d", p)
		case !errors.Is(b.Err, sarama.ErrNoError):
			return nil, fmt.Errorf("partition %d: %w", p, b.Err)
		case b.Offset < want[p]:
			behind[p] = want[p]
		}
	}
	return behind, nil
}

// perMessageSink is delivery = "per-message": watermill-kafka's Publisher,
// one synchronous send per record, each made by the batching sink's encoder
// (value, key, headers, timestamp).
type perMessageSink struct {
	topicName string
	pub       *wkafka.Publisher
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
	sc.Producer.Partitioner = newPartitioner(cfg.Partitioner, cfg.PartitionExpr != "")
	client, err := sarama.NewClient(cfg.Brokers, sc)
	if err != nil {
		return nil, reachError("sink", env.Stage.ID, &cfg.ClientConfig, err)
	}
	err = ensureSinkTopic(client, cfg, env.Stage.ID)
	client.Close()
	if err != nil {
		return nil, err
	}
	enc, err := newEncoder(cfg, nil)
	if err != nil {
		return nil, err
	}
	s := &perMessageSink{topicName: cfg.Topic}
	s.pub, err = wkafka.NewPublisher(wkafka.PublisherConfig{Brokers: cfg.Brokers, Marshaler: encodingMarshaler{enc}, OverwriteSaramaConfig: sc}, watermill.NopLogger{})
	if err != nil {
		return nil, reachError("sink", env.Stage.ID, &cfg.ClientConfig, err)
	}
	return s, nil
}

// encodingMarshaler makes the message for a record with the sink's
// encoder. Unlike watermill-kafka's own, it adds no UUID header: the
// headers are the record's.
type encodingMarshaler struct{ enc *encoder }

func (e encodingMarshaler) Marshal(_ string, msg *message.Message) (*sarama.ProducerMessage, error) {
	pm := &sarama.ProducerMessage{}
	var arena []byte
	_, err := e.enc.encode(pm, msg.Payload, &arena, nil)
	return pm, err
}

// Publish sends each record of msgs synchronously, in order.
func (s *perMessageSink) Publish(_ string, msgs ...*message.Message) error {
	return plugin.PublishBySend(s, msgs)
}

// Send sends each record synchronously, in order. A record's error is
// classified as the batching sink's are (see classify).
func (s *perMessageSink) Send(_ context.Context, records []plugin.Record) plugin.Pending {
	var werr plugin.WriteError
	for i, r := range records {
		if err := s.pub.Publish(s.topic(), message.NewMessage(watermill.NewShortUUID(), r.Value)); err != nil {
			werr.Failed = append(werr.Failed, i)
			werr.Errs = append(werr.Errs, classify(err)) // permanent when sending again cannot help, as in the batching sink
		}
	}
	if len(werr.Failed) > 0 {
		return plugin.Done{Err: &werr}
	}
	return plugin.Done{}
}

func (s *perMessageSink) topic() string { return s.topicName }
func (s *perMessageSink) Close() error  { return s.pub.Close() }
