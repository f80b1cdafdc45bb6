package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill/message"
	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/plugin"
)

// Message mode: the kafka connector as a plain Watermill Pub/Sub, one
// Kafka record per Watermill message, for programs that use Watermill
// directly (and for Watermill's universal Pub/Sub test suite). A pipeline's
// kafka stages carry batches instead (see Source and Sink).
//
// On the wire a message is one record: the payload is its value, the UUID is
// the header "_watermill_message_uuid" (the header watermill-kafka's
// marshaler uses, so either side can be stock watermill-kafka) and each
// metadata entry is a header of the same name. A record without the UUID
// header (written by another client) gets "topic-partition-offset".
//
// The Publisher is the sink's producer (idempotent, acks=all, one request in
// flight per broker): Publish returns when the broker has acknowledged every
// message, and the messages of one Publish call (of one key) keep their
// order. The Subscriber is the source's consumer group: one member per
// Subscribe call, a partition's messages delivered one at a time and in
// order (the next only once the previous is acked), offsets committed in
// order and only for acked messages. A nacked message is delivered again at
// once; nothing after it is delivered or committed until it is acked.
// Delivery is at least once: after a rebalance or a crash the messages
// acked since the last commit are delivered again.

// UUIDHeader is the Kafka header that carries a message's UUID.
const UUIDHeader = "_watermill_message_uuid"

// PublisherConfig configures NewPublisher: the kafka sink's keys (its Topic
// is not used: Publish names the topic; KeyField and Tombstones neither),
// and the Key of a message.
type PublisherConfig struct {
	SinkConfig
	// KeyMetadata names the metadata entry whose value becomes the
	// record's key: messages of one key go to one partition, in order.
	// Empty, or a message without it: unkeyed (spread over partitions).
	KeyMetadata string
	// Logger gets the producer's logs; nil: none.
	Logger *zap.Logger
}

// DefaultPublisherConfig returns the sink's defaults for brokers.
func DefaultPublisherConfig(brokers ...string) PublisherConfig {
	c := PublisherConfig{SinkConfig: *DefaultSinkConfig()}
	c.Brokers = brokers
	return c
}

// Publisher is a message.Publisher that writes each message as one Kafka
// record of the topic Publish names. It is safe for concurrent use.
type Publisher struct {
	cfg    PublisherConfig
	sink   *Sink
	mu     sync.RWMutex // held for reading while a Publish queues records
	closed bool
	topics sync.Map // topics known to exist
}

// NewPublisher connects a producer with the sink's settings.
func NewPublisher(cfg PublisherConfig) (*Publisher, error) {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	sc := cfg.SinkConfig
	sc.Topic, sc.KeyField, sc.Tombstones = "", "", false
	if err := errors.Join(sc.ClientConfig.validate(), sc.validateRetries()); err != nil {
		return nil, fmt.Errorf("kafka publisher: %w", err)
	}
	sink, err := NewSink(&sc, plugin.Env{Stage: &config.Stage{ID: "publisher"}, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	return &Publisher{cfg: cfg, sink: sink}, nil
}

// validateRetries is the producer's check of Validate, without the topic's.
func (c *SinkConfig) validateRetries() error {
	if c.Idempotent && c.Retries < 1 {
		return config.Invalid("retries", "must be >= 1 when idempotent = true")
	}
	return nil
}

// uuidHeaderKey is UUIDHeader's bytes, made once (sarama does not change
// header keys).
var uuidHeaderKey = []byte(UUIDHeader)

// ErrClosed is returned by a Publish or Subscribe after Close.
var ErrClosed = errors.New("kafka: closed")

// Publish writes msgs to topic in order and returns when the broker has
// acknowledged every one of them (acks=all), or some failed: the error then
// names the first that failed, and wraps its cause (plugin.IsPermanent tells
// whether sending it again can help).
func (p *Publisher) Publish(topic string, msgs ...*message.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if err := p.checkTopic(topic); err != nil {
		return err
	}
	pend := &pending{msgs: make([]sarama.ProducerMessage, len(msgs)), done: make(chan struct{})}
	pend.left.Store(int64(len(msgs)))
	p.mu.RLock()
	if p.closed {
		p.mu.RUnlock()
		return fmt.Errorf("kafka publisher: %w", ErrClosed)
	}
	for i, msg := range msgs {
		m := &pend.msgs[i]
		m.Topic, m.Value, m.Metadata = topic, sarama.ByteEncoder(msg.Payload), pend
		if err := p.encode(m, msg); err != nil {
			pend.fail(m, plugin.Permanent(err))
			continue
		}
		if err := p.sink.checkSize(m); err != nil {
			pend.fail(m, err)
			continue
		}
		p.sink.producer.Input() <- m
	}
	p.mu.RUnlock()
	err := pend.Wait(context.Background())
	var we *plugin.WriteError
	if errors.As(err, &we) {
		return fmt.Errorf("kafka publisher: %d of %d message(s) to topic %q failed, first %s: %w",
			len(we.Failed), len(msgs), topic, msgs[we.Failed[0]].UUID, we.Errs[0])
	}
	return err
}

// encode puts msg's UUID, metadata and key into m's headers and key.
func (p *Publisher) encode(m *sarama.ProducerMessage, msg *message.Message) error {
	m.Headers = make([]sarama.RecordHeader, 0, len(msg.Metadata)+1)
	m.Headers = append(m.Headers, sarama.RecordHeader{Key: uuidHeaderKey, Value: []byte(msg.UUID)})
	for k, v := range msg.Metadata {
		if k == UUIDHeader {
			return fmt.Errorf("metadata %q is reserved for the message's UUID", UUIDHeader)
		}
		m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(k), Value: []byte(v)})
	}
	if p.cfg.KeyMetadata != "" {
		if k, ok := msg.Metadata[p.cfg.KeyMetadata]; ok {
			m.Key = sarama.StringEncoder(k)
		}
	}
	return nil
}

// checkTopic fails clearly, once per topic, when topic does not exist
// (sarama would retry for minutes), creating it first when the config's
// create_topic says so.
func (p *Publisher) checkTopic(topic string) error {
	if topic == "" {
		return errors.New("kafka publisher: empty topic")
	}
	if _, ok := p.topics.Load(topic); ok {
		return nil
	}
	cfg := p.cfg.SinkConfig
	cfg.Topic = topic
	if err := ensureSinkTopic(p.sink.client, &cfg, ""); err != nil {
		return err
	}
	p.topics.Store(topic, struct{}{})
	return nil
}

// Close waits for the acks of the messages being published and closes the
// producer. Publish fails after it.
func (p *Publisher) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	return p.sink.Close()
}

// SubscriberConfig configures NewSubscriber: the kafka source's keys (its
// Topic is not used: Subscribe names the topic; nor MaxMessages, Until,
// Timeout and BatchSize: a subscription streams until its context ends or
// the Subscriber closes, one message at a time), and the partitions of a
// topic SubscribeInitialize creates.
type SubscriberConfig struct {
	SourceConfig
	// Partitions is how many partitions SubscribeInitialize gives a topic
	// it creates (replication: the broker's default).
	Partitions int32
	// Logger gets the consumer's logs; nil: none.
	Logger *zap.Logger
}

// DefaultSubscriberConfig returns the source's defaults for brokers and
// group.
func DefaultSubscriberConfig(group string, brokers ...string) SubscriberConfig {
	c := SubscriberConfig{SourceConfig: *DefaultSourceConfig(), Partitions: 1}
	c.Brokers, c.GroupID = brokers, group
	// A batch is one message here: the source's window of 4 batches let a
	// partition deliver only 4 messages per offset commit (about 25 a
	// second on a caught-up consumer, whose commits wait behind the fetch
	// long poll). 64 messages, the most, still bound what a crash replays
	// far below the batch mode's 4 × 1000 records.
	c.Window = 64
	return c
}

// Subscriber is a message.Subscriber over the kafka source's consumer group
// (see the comment at the top of pubsub.go for its contract). It is safe
// for concurrent use; each Subscribe joins the group as a member of its own.
type Subscriber struct {
	cfg SubscriberConfig

	mu     sync.Mutex
	closed bool
	subs   sync.WaitGroup
	// cancel ends each running subscription; a subscription removes its
	// own when it ends.
	cancel map[*subscription]context.CancelFunc
}

// NewSubscriber checks cfg; it connects on Subscribe.
func NewSubscriber(cfg SubscriberConfig) (*Subscriber, error) {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	cfg.Topic = "-" // named by Subscribe
	cfg.MaxMessages, cfg.Until, cfg.Timeout, cfg.BatchSize = 0, "", 0, 1
	cfg.Delivery = "batch"
	if err := cfg.SourceConfig.Validate(); err != nil {
		return nil, fmt.Errorf("kafka subscriber: %w", err)
	}
	return &Subscriber{cfg: cfg, cancel: map[*subscription]context.CancelFunc{}}, nil
}

// SubscribeInitialize creates topic with cfg.Partitions partitions unless
// it exists.
func (s *Subscriber) SubscribeInitialize(topic string) error {
	sc, err := s.cfg.saramaConfig()
	if err != nil {
		return err
	}
	admin, err := sarama.NewClusterAdmin(s.cfg.Brokers, sc)
	if err != nil {
		return reachError("subscriber", "", &s.cfg.ClientConfig, err)
	}
	defer admin.Close()
	err = admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: max(s.cfg.Partitions, 1), ReplicationFactor: -1}, false)
	if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
		return mark(fmt.Errorf("kafka subscriber: create topic %q: %w", topic, err), accessKind(err)...)
	}
	return nil
}

// Subscribe joins the consumer group for topic and returns its messages.
// The channel closes when ctx ends or the Subscriber closes, once this
// member has left the group (its acked offsets committed), or when the
// consumer fails for good (logged).
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	cfg := s.cfg.SourceConfig
	cfg.Topic = topic
	if s.isClosed() {
		return nil, fmt.Errorf("kafka subscriber: %w", ErrClosed)
	}
	src, err := NewSource(&cfg, plugin.Env{Stage: &config.Stage{ID: "subscriber"}, Logger: s.cfg.Logger, DurableOnAck: true})
	if err != nil {
		return nil, err
	}
	sub := &subscription{src: src, out: make(chan *message.Message), queues: map[int32]chan *message.Message{},
		log: s.cfg.Logger.With(zap.String("topic", topic), zap.String("group", cfg.GroupID))}
	src.asMessage = decodeMessage
	if sub.in, err = src.Subscribe(ctx, topic); err != nil {
		src.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	sub.ctx = ctx
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		cancel()
		src.Close()
		return nil, fmt.Errorf("kafka subscriber: %w", ErrClosed)
	}
	s.cancel[sub] = cancel
	s.subs.Add(1)
	go func() {
		defer s.subs.Done()
		defer s.ended(sub)
		sub.run(cfg.Window)
	}()
	return sub.out, nil
}

// ended forgets a subscription that has ended, cancelling its context.
func (s *Subscriber) ended(sub *subscription) {
	s.mu.Lock()
	cancel := s.cancel[sub]
	delete(s.cancel, sub)
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

func (s *Subscriber) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close ends every subscription and returns once each member has left its
// group.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	s.closed = true
	for _, c := range s.cancel {
		c()
	}
	s.mu.Unlock()
	s.subs.Wait()
	return nil
}

// decodeMessage is m as the message it was published as.
func decodeMessage(m *sarama.ConsumerMessage) *message.Message {
	msg := message.NewMessage("", m.Value)
	for _, h := range m.Headers {
		if string(h.Key) == UUIDHeader {
			msg.UUID = string(h.Value)
			continue
		}
		msg.Metadata[string(h.Key)] = string(h.Value)
	}
	if msg.UUID == "" {
		msg.UUID = m.Topic + "-" + strconv.Itoa(int(m.Partition)) + "-" + strconv.FormatInt(m.Offset, 10)
	}
	return msg
}

// subscription hands one member's messages to the subscriber, each
// partition's one at a time: the source emits a partition's messages in
// order (up to window of them ahead); the message handed out is a copy,
// made again for each delivery, and the source's own is acked when the copy
// is.
type subscription struct {
	ctx    context.Context
	src    *Source
	in     <-chan *message.Message
	out    chan *message.Message
	log    *zap.Logger
	queues map[int32]chan *message.Message
	wg     sync.WaitGroup
}

func (s *subscription) run(window int) {
	defer close(s.out)
	defer func() {
		for _, q := range s.queues {
			close(q)
		}
		s.wg.Wait()
		// Unacked messages stay uncommitted: the source gives them up.
		if err := s.src.Close(); err != nil {
			s.log.Warn("closing the consumer", zap.Error(err))
		}
		if err := s.src.Err(); err != nil {
			s.log.Error("subscription ended", zap.Error(err))
		}
	}()
	for {
		select {
		case msg, ok := <-s.in:
			if !ok {
				return
			}
			p := claimPartition(msg.Context())
			q := s.queues[p]
			if q == nil {
				// The source has at most window messages of a partition
				// unacked, of each of its turns with it.
				q = make(chan *message.Message, 2*window)
				s.queues[p] = q
				s.wg.Add(1)
				go s.deliver(q)
			}
			select {
			case q <- msg:
			case <-s.ctx.Done():
				return
			}
		case <-s.src.Done():
			return // failed; see Err
		case <-s.ctx.Done():
			return
		}
	}
}

// deliver hands the messages of one partition out in order, each until it
// is acked.
func (s *subscription) deliver(q <-chan *message.Message) {
	defer s.wg.Done()
	for in := range q {
		for {
			if in.Context().Err() != nil {
				break // the source gave it up (its partition moved): the next owner reads it again
			}
			msg := message.NewMessage(in.UUID, in.Payload)
			for k, v := range in.Metadata {
				msg.Metadata[k] = v
			}
			ctx, cancel := context.WithCancel(s.ctx)
			stop := context.AfterFunc(in.Context(), cancel)
			msg.SetContext(ctx)
			acked := false
			select {
			case s.out <- msg:
				select {
				case <-msg.Acked():
					acked = true
				case <-msg.Nacked():
				case <-ctx.Done():
				}
			case <-ctx.Done():
			}
			stop()
			cancel()
			if acked {
				in.Ack()
				break
			}
			if s.ctx.Err() != nil {
				return
			}
		}
	}
}
