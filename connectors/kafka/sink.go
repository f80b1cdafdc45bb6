package kafka

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill/message"
	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/internal/kafkautil"
	"github.com/conveyor-etl/conveyor/plugin"
)

// Sink is the batching Kafka sink: one idempotent AsyncProducer. It
// implements plugin.Sink.
type Sink struct {
	cfg      *SinkConfig
	log      *zap.Logger
	stage    string
	producer sarama.AsyncProducer // nil under exactly-once
	client   sarama.Client        // the producer's; closed after it
	txn      *txn                 // the run's transaction, under exactly-once
	enc      *encoder

	acks      sync.WaitGroup // the goroutine reading successes and errors
	closeOnce sync.Once
	unkeyed   atomic.Int64
}

// producerConfig is the sarama config of the sink's producer.
func producerConfig(cfg *SinkConfig, env plugin.Env) (*sarama.Config, error) {
	sc, err := cfg.saramaConfig()
	if err != nil {
		return nil, err
	}
	p := &sc.Producer
	p.Return.Successes = true
	p.Return.Errors = true
	p.RequiredAcks = sarama.WaitForAll
	p.Idempotent = cfg.Idempotent
	// One produce request in flight per broker: the idempotent producer
	// needs it, and without idempotence it is what keeps a retried request
	// from landing behind the one sent after it (Kafka's
	// max.in.flight.requests.per.connection = 1).
	sc.Net.MaxOpenRequests = 1
	p.Retry.Max = cfg.Retries
	p.Retry.BackoffFunc = countRetries(expBackoff(cfg.RetryBackoff, max(cfg.RetryBackoff, cfg.RetryBackoffMax)), env)
	p.Flush.Frequency = cfg.Linger
	p.Flush.MaxMessages = cfg.FlushMessages
	if cfg.Linger > 0 {
		// A request goes when linger_ms has passed or 1 MB is buffered.
		// linger_ms = 0 must mean "send at once", which sarama does only
		// when no flush trigger is set at all: a byte trigger alone held
		// records until 1 MB had piled up, and made Close hang.
		p.Flush.Bytes = 1 << 20
	}
	p.MaxMessageBytes = cfg.MaxMessageBytes
	p.Partitioner = newPartitioner(cfg.Partitioner, cfg.PartitionExpr != "")
	p.Compression = compressionCodec(cfg.Compression)
	sc.ChannelBufferSize = cfg.BufferSize
	return sc, nil
}

// NewSink connects a producer; under guarantee = "exactly-once" the sink
// writes through the run's transaction instead (see txn).
func NewSink(cfg *SinkConfig, env plugin.Env) (*Sink, error) {
	values, err := newValueEncoder(cfg, env)
	if err != nil {
		return nil, err
	}
	keys, err := newKeyEncoder(cfg, env)
	if err != nil {
		return nil, err
	}
	sc, err := producerConfig(cfg, env)
	if err != nil {
		return nil, err
	}
	client, err := sarama.NewClient(cfg.Brokers, sc)
	if err != nil {
		return nil, reachError("sink", env.Stage.ID, &cfg.ClientConfig, err)
	}
	if err := ensureSinkTopic(client, cfg, env.Stage.ID); err != nil {
		client.Close()
		return nil, err
	}
	makePatient(client)
	for _, b := range client.Brokers() {
		_ = b.Open(client.Config()) // connect now (without waiting), so that Ready tells from the start
	}
	s := &Sink{cfg: cfg, stage: env.Stage.ID, client: client, log: env.Logger.With(zap.String("topic", cfg.Topic))}
	if s.enc, err = newEncoder(cfg, client); err != nil {
		client.Close()
		return nil, err
	}
	s.enc.values, s.enc.keys = values, keys
	if env.Delivery.ExactlyOnce() {
		if s.txn, err = joinTxn(env, cfg); err != nil {
			client.Close()
			return nil, err
		}
		return s, nil
	}
	producer, err := sarama.NewAsyncProducerFromClient(client)
	if err != nil {
		client.Close()
		return nil, reachError("sink", env.Stage.ID, &cfg.ClientConfig, err)
	}
	s.producer = producer
	s.acks.Add(2)
	go s.readSuccesses()
	go s.readErrors()
	return s, nil
}

// input is where Send queues records: the sink's producer, or the run's
// transactional one.
func (s *Sink) input() chan<- *sarama.ProducerMessage {
	if s.txn != nil {
		return s.txn.input()
	}
	return s.producer.Input()
}

func compressionCodec(name string) sarama.CompressionCodec {
	switch name {
	case "gzip":
		return sarama.CompressionGZIP
	case "snappy":
		return sarama.CompressionSnappy
	case "lz4":
		return sarama.CompressionLZ4
	case "zstd":
		return sarama.CompressionZSTD
	}
	return sarama.CompressionNone
}

// pending tracks one Write until the broker has acked or failed each record.
type pending struct {
	msgs     []sarama.ProducerMessage
	explicit bool // each message goes to its own Partition (see newPartitioner)
	left     atomic.Int64
	done     chan struct{}
	mu       sync.Mutex
	failed   []failedRecord
}

func (p *pending) settle() {
	if p.left.Add(-1) == 0 {
		close(p.done)
	}
}

func (p *pending) fail(m *sarama.ProducerMessage, err error) {
	i := indexOf(p.msgs, m)
	p.mu.Lock()
	p.failed = append(p.failed, failedRecord{i, err})
	p.mu.Unlock()
	p.settle()
}

func indexOf(msgs []sarama.ProducerMessage, m *sarama.ProducerMessage) int {
	for i := range msgs {
		if &msgs[i] == m {
			return i
		}
	}
	return -1
}

// Wait blocks until every record is acked or failed.
func (p *pending) Wait(ctx context.Context) error {
	select {
	case <-p.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.failed) == 0 {
		return nil
	}
	slices.SortFunc(p.failed, func(a, b failedRecord) int { return cmp.Compare(a.index, b.index) })
	we := &plugin.WriteError{Failed: make([]int, len(p.failed)), Errs: make([]error, len(p.failed))}
	for i, f := range p.failed {
		we.Failed[i], we.Errs[i] = f.index, f.err
	}
	return we
}

// failedRecord is a record of a write that failed: its index in the write.
type failedRecord struct {
	index int
	err   error
}

// Publish writes the records of msgs (see plugin.Sink) and returns when
// the broker has acknowledged every one of them (acks=all), or they failed.
func (s *Sink) Publish(_ string, msgs ...*message.Message) error {
	return plugin.PublishBySend(s, msgs)
}

// Send queues records for the producer in order and returns at once (it
// blocks only while the producer's buffer is full); Wait returns when the
// broker has acknowledged them.
func (s *Sink) Send(ctx context.Context, records []plugin.Record) plugin.Pending {
	if len(records) == 0 {
		return plugin.Done{}
	}
	p := &pending{msgs: make([]sarama.ProducerMessage, len(records)), done: make(chan struct{})}
	p.left.Store(int64(len(records)))
	in := s.input()
	var arena []byte // values made from records, see encoder.encode
	slots := make([]encSlots, len(records))
	for i := range records {
		m := &p.msgs[i]
		m.Metadata = p
		if i > 0 {
			slots[i].check = slots[i-1].check
		}
		unkeyed, err := s.enc.encode(m, records[i].Value, &arena, &slots[i])
		if unkeyed {
			s.unkeyed.Add(1)
		}
		if err != nil {
			p.fail(m, err)
			continue
		}
		if err := s.checkSize(m); err != nil {
			p.fail(m, err)
			continue
		}
		select {
		case in <- m: // the usual case, without a two-way select
			continue
		default:
		}
		select {
		case in <- m:
		case <-ctx.Done():
			for j := i; j < len(records); j++ {
				p.fail(&p.msgs[j], ctx.Err())
			}
			return p
		}
	}
	return p
}

// recordVersion is the message format sarama's producer uses at
// protocolVersion (record batches, from Kafka 0.11 on); it decides what a
// record counts against max_message_bytes.
var recordVersion = func() int {
	if protocolVersion.IsAtLeast(sarama.V0_11_0_0) {
		return 2
	}
	return 1
}()

// checkSize fails a record the producer would refuse as larger than
// max_message_bytes, counting as it does: key, value and the most a record
// adds inside a batch. Sarama's own error for it reads "invalid
// configuration" with a size the user never wrote.
func (s *Sink) checkSize(m *sarama.ProducerMessage) error {
	size := m.ByteSize(recordVersion)
	if size <= s.cfg.MaxMessageBytes {
		return nil
	}
	raw := m.Value.Length() // key and value, as the user sees them
	if m.Key != nil {
		raw += m.Key.Length()
	}
	return plugin.Permanent(fmt.Errorf("record of %d bytes (%d with Kafka's record overhead) is larger than max_message_bytes = %d (raise it together with the topic's max.message.bytes)",
		raw, size, s.cfg.MaxMessageBytes))
}

// classify marks the producer errors that sending the record again cannot
// fix as permanent (see plugin.ErrPermanent): the record or the topic is
// refused as it is. The others (a broker down, a leader moving, a timeout)
// stay transient. A refusal by ACL is also marked ErrAuthorization. The
// error's text is kept; a record refused as too large gets the settings to
// raise appended.
func classify(err error) error {
	var ce sarama.ConfigurationError
	if errors.As(err, &ce) {
		return plugin.Permanent(err)
	}
	for _, k := range permanentKErrors {
		if errors.Is(err, k) {
			err = kafkautil.ExplainTooLarge(err, "the sink's max_message_bytes")
			return mark(plugin.Permanent(err), accessKind(err)...)
		}
	}
	return err
}

// permanentKErrors are the broker's answers to a produce request that
// refuse the record itself, or this client's right to write the topic.
var permanentKErrors = []sarama.KError{
	sarama.ErrMessageSizeTooLarge,         // larger than the topic's max.message.bytes
	sarama.ErrMessageSetSizeTooLarge,      // RECORD_LIST_TOO_LARGE
	sarama.ErrInvalidMessage,              // CORRUPT_MESSAGE, after the producer's own retries
	sarama.ErrInvalidRecord,               // refused by the broker's record validation
	sarama.ErrInvalidTimestamp,            // outside the topic's accepted range
	sarama.ErrInvalidTopic,                // a name the broker never accepts
	sarama.ErrUnsupportedForMessageFormat, // the topic's format cannot hold the record
	sarama.ErrUnsupportedCompressionType,  // the topic refuses the codec
	sarama.ErrPolicyViolation,
	sarama.ErrInvalidRequiredAcks,
	sarama.ErrTopicAuthorizationFailed,
	sarama.ErrClusterAuthorizationFailed,
	sarama.ErrTransactionalIDAuthorizationFailed,
}

func (s *Sink) readSuccesses() {
	defer s.acks.Done()
	for m := range s.producer.Successes() {
		m.Metadata.(*pending).settle()
	}
}

func (s *Sink) readErrors() {
	defer s.acks.Done()
	for e := range s.producer.Errors() {
		if p, ok := e.Msg.Metadata.(*pending); ok {
			p.fail(e.Msg, classify(e.Err))
		}
	}
}

// Close flushes the producer and waits for its last acks.
func (s *Sink) Close() error {
	var err error
	s.closeOnce.Do(func() {
		if s.txn != nil {
			s.txn.release() // the transaction closes its producer when its last stage has
		} else {
			s.producer.AsyncClose()
			s.acks.Wait()
		}
		if e := s.client.Close(); e != nil && !errors.Is(e, sarama.ErrClosedClient) {
			err = e
		}
		if n := s.unkeyed.Load(); n > 0 {
			s.log.Info("records sent without a key (key_field missing)", zap.Int64("unkeyed", n), zap.String("key_field", s.cfg.KeyField))
		}
	})
	return err
}
