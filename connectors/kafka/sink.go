package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill/message"
	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/internal/record"
	"github.com/conveyor-etl/conveyor/plugin"
)

// Sink is the batching Kafka sink: one idempotent AsyncProducer. It
// implements plugin.Sink and message.Publisher.
type Sink struct {
	cfg      *SinkConfig
	log      *zap.Logger
	stage    string
	producer sarama.AsyncProducer
	client   sarama.Client // the producer's; closed after it
	key      record.KeyPath
	keyed    bool

	acks      sync.WaitGroup // the goroutine reading successes and errors
	closeOnce sync.Once
	unkeyed   atomic.Int64
	written   atomic.Int64
}

// NewSink connects a producer.
func NewSink(cfg *SinkConfig, env plugin.Env) (*Sink, error) {
	sc, err := cfg.saramaConfig()
	if err != nil {
		return nil, err
	}
	p := &sc.Producer
	p.Return.Successes = true
	p.Return.Errors = true
	p.RequiredAcks = sarama.WaitForAll
	p.Idempotent = cfg.Idempotent
	if cfg.Idempotent {
		sc.Net.MaxOpenRequests = 1
	}
	p.Retry.Max = cfg.Retries
	p.Retry.BackoffFunc = expBackoff(cfg.RetryBackoff, max(cfg.RetryBackoff, cfg.RetryBackoffMax))
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
	p.Partitioner = sarama.NewMurmur2Partitioner // Java's default: same key, same partition
	p.Compression = compressionCodec(cfg.Compression)
	sc.ChannelBufferSize = cfg.BufferSize
	client, err := sarama.NewClient(cfg.Brokers, sc)
	if err != nil {
		return nil, reachError("sink", env.Stage.ID, &cfg.ClientConfig, err)
	}
	if err := client.RefreshMetadata(cfg.Topic); errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		client.Close()
		return nil, fmt.Errorf("kafka sink %q: topic %q does not exist on %v and the broker does not create topics automatically: create it first", env.Stage.ID, cfg.Topic, cfg.Brokers)
	}
	makePatient(client)
	producer, err := sarama.NewAsyncProducerFromClient(client)
	if err != nil {
		client.Close()
		return nil, reachError("sink", env.Stage.ID, &cfg.ClientConfig, err)
	}
	s := &Sink{cfg: cfg, stage: env.Stage.ID, producer: producer, client: client, log: env.Logger.With(zap.String("topic", cfg.Topic))}
	if cfg.KeyField != "" {
		s.key, s.keyed = record.CompileKeyPath(cfg.KeyField), true
	}
	s.acks.Add(2)
	go s.readSuccesses()
	go s.readErrors()
	return s, nil
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
	msgs   []sarama.ProducerMessage
	left   atomic.Int64
	done   chan struct{}
	mu     sync.Mutex
	failed []int
	errs   []error
}

func (p *pending) settle() {
	if p.left.Add(-1) == 0 {
		close(p.done)
	}
}

func (p *pending) fail(m *sarama.ProducerMessage, err error) {
	i := indexOf(p.msgs, m)
	p.mu.Lock()
	p.failed = append(p.failed, i)
	p.errs = append(p.errs, err)
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
	sortFailed(p.failed, p.errs)
	return &plugin.WriteError{Failed: p.failed, Errs: p.errs}
}

func sortFailed(idx []int, errs []error) {
	for i := 1; i < len(idx); i++ {
		for j := i; j > 0 && idx[j] < idx[j-1]; j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
			errs[j], errs[j-1] = errs[j-1], errs[j]
		}
	}
}

// Write queues records for the producer in order and returns at once (it
// blocks only while the producer's buffer is full).
func (s *Sink) Write(ctx context.Context, records []plugin.Record) plugin.Pending {
	if len(records) == 0 {
		return plugin.Done{}
	}
	p := &pending{msgs: make([]sarama.ProducerMessage, len(records)), done: make(chan struct{})}
	p.left.Store(int64(len(records)))
	for i := range records {
		m := &p.msgs[i]
		m.Topic = s.cfg.Topic
		m.Value = sarama.ByteEncoder(records[i].Value)
		if s.cfg.tombstone(records[i].Value) {
			m.Value = nil
		}
		m.Metadata = p
		if s.keyed {
			if k, ok := s.key.Key(records[i].Value); ok {
				m.Key = sarama.ByteEncoder(k)
			} else {
				s.unkeyed.Add(1)
			}
		}
		if size := len(records[i].Value) + keyLen(m.Key); size > s.cfg.MaxMessageBytes {
			// sarama would fail it too, as "invalid configuration"
			p.fail(m, fmt.Errorf("record of %d bytes is larger than max_message_bytes = %d (raise it together with the topic's max.message.bytes)", size, s.cfg.MaxMessageBytes))
			continue
		}
		select {
		case s.producer.Input() <- m:
		case <-ctx.Done():
			for j := i; j < len(records); j++ {
				p.fail(&p.msgs[j], ctx.Err())
			}
			return p
		}
	}
	s.written.Add(int64(len(records)))
	return p
}

func keyLen(k sarama.Encoder) int {
	if k == nil {
		return 0
	}
	return k.Length()
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
			p.fail(e.Msg, e.Err)
		}
	}
}

// Durable is true: a nil Wait means the broker acknowledged (acks=all).
func (s *Sink) Durable() bool { return true }

// Flush has nothing to do: every Write's Wait already covered its records.
func (s *Sink) Flush(context.Context) error { return nil }

// Unkeyed counts records sent without a key because key_field was missing.
func (s *Sink) Unkeyed() int64 { return s.unkeyed.Load() }

// Close flushes the producer and waits for its last acks.
func (s *Sink) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.producer.AsyncClose()
		s.acks.Wait()
		if e := s.client.Close(); e != nil && !errors.Is(e, sarama.ErrClosedClient) {
			err = e
		}
		if n := s.unkeyed.Load(); n > 0 {
			s.log.Info("records sent without a key (key_field missing)", zap.Int64("unkeyed", n), zap.String("key_field", s.cfg.KeyField))
		}
	})
	return err
}

// Publish writes the batches (or single payloads) of msgs and returns once
// all are acknowledged: the message.Publisher view of the sink.
func (s *Sink) Publish(_ string, msgs ...*message.Message) error {
	var errs []error
	for _, msg := range msgs {
		var recs []plugin.Record
		if b, ok := plugin.BatchOf(msg); ok {
			recs = b.Records
		} else {
			recs = []plugin.Record{{Value: msg.Payload, Offset: -1}}
		}
		if err := s.Write(context.Background(), recs).Wait(context.Background()); err != nil {
			errs = append(errs, fmt.Errorf("message %s: %w", msg.UUID, err))
		}
	}
	return errors.Join(errs...)
}
