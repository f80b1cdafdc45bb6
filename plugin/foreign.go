package plugin

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/tidwall/gjson"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/jsonscan"
	"github.com/conveyor-etl/conveyor/internal/lifecycle"
	"github.com/conveyor-etl/conveyor/internal/record"
)

// Any Watermill Pub/Sub becomes a Conveyor function through
// [PublisherSink] and [SubscriberSource]:
//
//	plugin.MustRegister(&plugin.Spec{
//		Name: "mq", Plugin: "mq", Summary: "my Watermill Pub/Sub",
//		Sink: plugin.PublisherSink(DefaultConfig, func(ctx context.Context, c *Config, env plugin.Env) (plugin.ForeignPublisher, error) {
//			pub, err := mq.NewPublisher(c.URL)
//			return plugin.ForeignPublisher{Publisher: pub, Topic: c.Topic}, err
//		}),
//		Source: plugin.SubscriberSource(DefaultConfig, func(ctx context.Context, c *Config, env plugin.Env) (plugin.ForeignSubscriber, error) {
//			sub, err := mq.NewSubscriber(c.URL, c.Group)
//			return plugin.ForeignSubscriber{Subscriber: sub, Topic: c.Topic}, err
//		}),
//	})
//
// Records cross one Watermill message per record. The message's payload is
// the record's JSON; the record's top-level Kafka metadata (_kafka_key,
// _kafka_key_base64, _kafka_partition, _kafka_offset, _kafka_timestamp, as
// the kafka source adds them) is also copied, as text, into the message's
// metadata under the same names. Coming back, a message whose payload is a
// JSON object becomes that record (compacted); any other payload is wrapped
// as {"_kafka_payload":"<payload>"}, as the kafka source wraps a value that
// is not a JSON object.

// ForeignPublisher is what a [PublisherSink] builder returns: a Watermill
// Publisher and the topic to publish to.
//
// The Publisher must have made the messages durable (as its system
// understands it) when Publish returns nil, because the sink reports the
// records durable then, and the source above it commits their progress.
// Publish is called with one message per record, all the records of a
// batch in one call, in order; calls may be concurrent. The sink closes
// the Publisher when the run ends, unless KeepOpen is set (a Publisher
// made outside the builder, that outlives the run).
type ForeignPublisher struct {
	Publisher message.Publisher
	Topic     string
	KeepOpen  bool
}

// ForeignSubscriber is what a [SubscriberSource] builder returns: a
// Watermill Subscriber, the topic to subscribe to, and how to batch.
//
// The source acks a message of the Subscriber only after the Conveyor batch
// holding it has been acked, that is after every sink below has made the
// batch durable; it nacks the messages of a batch that failed (and then
// stops, failing the run, like every source when a batch fails). The
// Subscriber must therefore record progress (commit, delete, mark) only for
// acked messages. Messages are emitted in the order the Subscriber's
// channel delivers them; a Subscriber that closes its channel ends the
// source, like the end of a file. The Subscriber is closed once the run has
// finished (Commit) or is torn down (Close), so that it can record the
// progress of the last acked messages as it closes.
type ForeignSubscriber struct {
	Subscriber message.Subscriber
	Topic      string
	// BatchSize bounds the messages in one batch (default 1000). A batch
	// takes the messages the Subscriber has ready, never waiting for more:
	// a Subscriber that sends the next message only after the last one was
	// acked gives batches of one.
	BatchSize int
	// Window bounds the batches in flight (default 16).
	Window int
	// Limit stops the source after this many records; 0 streams until the
	// run is stopped.
	Limit int64
}

// PublisherSink makes a sink factory from a typed config and a builder of
// a Watermill Publisher (see [ForeignPublisher]). The sink is durable on
// ack: a write is done when Publish has returned.
func PublisherSink[C any](defaults func() *C, build func(context.Context, *C, Env) (ForeignPublisher, error)) *Factory[Sink] {
	return NewFactory(defaults, func(ctx context.Context, c *C, env Env) (Sink, error) {
		fp, err := build(ctx, c, env)
		if err != nil {
			return nil, err
		}
		if fp.Publisher == nil {
			return nil, errors.New("the builder returned no Publisher")
		}
		return &foreignSink{pub: fp.Publisher, topic: fp.Topic, keepOpen: fp.KeepOpen}, nil
	})
}

// SubscriberSource makes a source factory from a typed config and a
// builder of a Watermill Subscriber (see [ForeignSubscriber]). The
// Subscriber records progress on its own as messages are acked, so the
// source refuses to feed a sink that makes records durable only when the
// run ends (env.DurableOnAck false).
func SubscriberSource[C any](defaults func() *C, build func(context.Context, *C, Env) (ForeignSubscriber, error)) *Factory[Source] {
	return NewFactory(defaults, func(ctx context.Context, c *C, env Env) (Source, error) {
		if !env.DurableOnAck {
			return nil, errForeignNeedsDurableSinks(env.Stage)
		}
		fs, err := build(ctx, c, env)
		if err != nil {
			return nil, err
		}
		if fs.Subscriber == nil {
			return nil, errors.New("the builder returned no Subscriber")
		}
		return newForeignSource(fs), nil
	})
}

func errForeignNeedsDurableSinks(st *config.Stage) error {
	msg := "this source's Watermill Subscriber records progress as soon as a record is acked, but a sink below it " +
		"(such as json.write) makes records durable only when the run ends: a crash would lose acknowledged records. " +
		"Write to a sink that is durable on ack (kafka, sql.write)"
	if st == nil {
		return errors.New(msg)
	}
	return &config.Error{Pos: st.Pos, Stage: st.Index, StageID: st.ID, Msg: msg}
}

// metaFields are the record members copied into message metadata.
var metaFields = []struct {
	name string
	path record.Path
}{
	{record.KeyField, record.CompilePath(record.KeyField)},
	{record.KeyBase64Field, record.CompilePath(record.KeyBase64Field)},
	{record.PartitionField, record.CompilePath(record.PartitionField)},
	{record.OffsetField, record.CompilePath(record.OffsetField)},
	{record.TimestampField, record.CompilePath(record.TimestampField)},
}

// recordMessage is the Watermill message of one record: payload the
// record's JSON, metadata its top-level Kafka metadata as text (a null key
// is left out).
func recordMessage(rec Record) *message.Message {
	msg := message.NewMessage(watermill.NewUUID(), rec.Value)
	for _, f := range metaFields {
		switch r := f.path.Get(rec.Value); r.Type {
		case gjson.String:
			msg.Metadata.Set(f.name, r.Str)
		case gjson.Number:
			msg.Metadata.Set(f.name, r.Raw)
		}
	}
	return msg
}

// messageRecord appends to dst the record of a foreign message's payload
// and returns it: a JSON object as it is (compacted), anything else
// wrapped (see [record.Wrap]).
func messageRecord(dst, payload []byte) []byte {
	start := len(dst)
	if i := jsonscan.SkipSpace(payload, 0); i < len(payload) && payload[i] == '{' {
		out, ok := record.AppendCompact(dst, payload)
		if ok {
			return out
		}
		dst = out[:start] // its storage may have grown
	}
	return record.Wrap(dst, payload)
}

// foreignSink is a Sink over a Watermill Publisher.
type foreignSink struct {
	pub      message.Publisher
	topic    string
	keepOpen bool
}

// Publish publishes the records of msgs to the foreign Publisher, one
// message each, in one call.
func (s *foreignSink) Publish(_ string, msgs ...*message.Message) error {
	return PublishBySend(s, msgs)
}

// Send publishes the records, one message each, in one Publish call, and
// returns when that call did; nothing for no records (watermill-sql's
// Publisher, for one, fails on an empty INSERT).
func (s *foreignSink) Send(ctx context.Context, recs []Record) Pending {
	if len(recs) == 0 {
		return Done{}
	}
	msgs := make([]*message.Message, len(recs))
	for i, r := range recs {
		msgs[i] = recordMessage(r)
		msgs[i].SetContext(ctx)
	}
	if err := s.pub.Publish(s.topic, msgs...); err != nil {
		werr := &WriteError{Failed: make([]int, len(recs)), Errs: make([]error, len(recs))}
		for i := range recs {
			werr.Failed[i], werr.Errs[i] = i, err
		}
		return Done{Err: werr}
	}
	return Done{}
}

// Close closes the Publisher, unless it is to be kept open.
func (s *foreignSink) Close() error {
	if s.keepOpen {
		return nil
	}
	return s.pub.Close()
}

// foreignSource is a Source over a Watermill Subscriber.
type foreignSource struct {
	fs     ForeignSubscriber
	out    chan *message.Message
	window chan inflight

	*lifecycle.State   // Stop, Done, Err
	closeOnce, subOnce sync.Once
	started            atomic.Bool
	closeErr, subErr   error
	records, bytes     atomic.Int64
}

// inflight is an emitted batch and the foreign messages it holds.
type inflight struct {
	msg     *message.Message
	foreign []*message.Message
	unsent  bool // the source stopped before the batch was handed on
}

func newForeignSource(fs ForeignSubscriber) *foreignSource {
	if fs.BatchSize < 1 {
		fs.BatchSize = 1000
	}
	if fs.Window < 1 {
		fs.Window = 16
	}
	return &foreignSource{fs: fs, out: make(chan *message.Message), window: make(chan inflight, fs.Window), State: lifecycle.New()}
}

func (s *foreignSource) Subscribe(ctx context.Context, _ string) (<-chan *message.Message, error) {
	in, err := s.fs.Subscriber.Subscribe(ctx, s.fs.Topic)
	if err != nil {
		return nil, err
	}
	s.started.Store(true)
	watched := make(chan struct{})
	go s.watch(watched)
	go s.forward(in, watched)
	return s.out, nil
}

// forward gathers the messages the Subscriber has ready into batches and
// emits them, at most Window in flight. It leaves out open: Close closes it
// (the router closes a subscriber whose channel closed, and the foreign
// Subscriber must outlive the last acks).
func (s *foreignSource) forward(in <-chan *message.Message, watched <-chan struct{}) {
	defer func() {
		close(s.window)
		<-watched
		s.Finish()
	}()
	for seq := 0; ; seq++ {
		select { // a stop wins over a Subscriber that always has more
		case <-s.Stopping():
			return
		default:
		}
		var first *message.Message
		select {
		case m, ok := <-in:
			if !ok {
				return
			}
			first = m
		case <-s.Stopping():
			return
		}
		batch := []*message.Message{first}
		most := s.fs.BatchSize
		if s.fs.Limit > 0 {
			most = int(min(int64(most), s.fs.Limit-s.records.Load()))
		}
	gather:
		for len(batch) < most {
			select {
			case m, ok := <-in:
				if !ok {
					break gather
				}
				batch = append(batch, m)
			default:
				break gather
			}
		}
		var bb BatchBuilder
		var n int64
		for _, m := range batch {
			// messageRecord writes compact JSON: one line.
			bb.AppendCompactFunc(-1, func(buf []byte) []byte { return messageRecord(buf, m.Payload) })
			n += int64(len(m.Payload))
		}
		msg := bb.Message(s.fs.Topic+"-"+strconv.Itoa(seq), s.fs.Topic, 0)
		// Handed on first, then queued for its ack (the window's capacity
		// still bounds what is in flight); a stop while the router takes
		// nothing more gives the messages back instead of blocking.
		select {
		case s.out <- msg:
		case <-s.Stopping():
			s.window <- inflight{msg: msg, foreign: batch, unsent: true}
			return
		}
		s.window <- inflight{msg: msg, foreign: batch}
		s.bytes.Add(n)
		if s.records.Add(int64(len(batch))) >= s.fs.Limit && s.fs.Limit > 0 {
			return
		}
	}
}

// watch settles the foreign messages of each batch, in emission order: acks
// them when the batch is acked, nacks them and stops the source when it is
// nacked. After a nack every later batch's messages are nacked too, even
// when their batch was acked: a Subscriber whose acks are cumulative (an
// offset, a cursor) would otherwise record progress past the failure.
func (s *foreignSource) watch(done chan<- struct{}) {
	defer close(done)
	failed := false
	for f := range s.window {
		if f.unsent {
			for _, m := range f.foreign {
				m.Nack() // never emitted: the Subscriber delivers them again
			}
			continue
		}
		select {
		case <-f.msg.Acked():
			for _, m := range f.foreign {
				if failed {
					m.Nack()
				} else {
					m.Ack()
				}
			}
		case <-f.msg.Nacked():
			failed = true
			for _, m := range f.foreign {
				m.Nack()
			}
			s.Fail(fmt.Errorf("%s: batch %s failed; its %d message(s) were nacked", s.fs.Topic, f.msg.UUID, len(f.foreign)))
		}
	}
}

// Commit closes the foreign Subscriber once every batch is settled, so
// that it records the progress of the last acked messages.
func (s *foreignSource) Commit(context.Context) error {
	if s.started.Load() {
		<-s.Done()
	}
	return s.closeSubscriber()
}

func (s *foreignSource) closeSubscriber() error {
	s.subOnce.Do(func() { s.subErr = s.fs.Subscriber.Close() })
	return s.subErr
}

// Close stops the source and closes the foreign Subscriber, once (the
// router and the runner both close it).
func (s *foreignSource) Close() error {
	s.closeOnce.Do(func() {
		s.Stop()
		if s.started.Load() {
			<-s.Done()
		}
		close(s.out)
		s.closeErr = s.closeSubscriber()
	})
	return s.closeErr
}

func (s *foreignSource) Stats() SourceStats {
	return SourceStats{Records: s.records.Load(), Bytes: s.bytes.Load()}
}
