package pipetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/conveyor-etl/conveyor/connectors/kafka"
	"github.com/conveyor-etl/conveyor/internal/record"
	"github.com/conveyor-etl/conveyor/plugin"
)

// world is what one case's fixtures share: the records to feed each source
// stage and what each sink stage was handed.
type world struct {
	partitions int32
	inputs     map[string][]*Input    // by source stage id, in file order
	tables     map[string][]*TableRow // by table.join stage id, in file order
	index      map[*Input]int         // an input's place in the case

	mu      sync.Mutex
	written map[string][]written // by sink stage id
	seq     int
	from    map[provenance]int // input index of each record fed
}

// provenance is where a record came from: its batch's origin and
// partition, and its offset.
type provenance struct {
	origin    string
	partition int32
	offset    int64
}

// written is one record a sink was handed, as the sink would send it.
type written struct {
	value     []byte // nil for a tombstone
	key       []byte
	keyed     bool
	topic     string
	partition int32 // -1: chosen by the producer (no key)
	headers   []header
	timestamp int64 // ms; 0: the produce time
	from      int   // the input it came from, -1 when unknown
	seq       int   // order of arrival
}

// registry returns reg with every source and sink replaced by a fixture
// that takes the same config (so its keys are checked as in production)
// and reads from or writes to w. Operators stay as they are. A kafka
// source enriches its records with the _kafka_* fields as the real one
// does; a kafka sink keys and partitions them as the real one does.
// The functions in keep stay as they are.
func (w *world) registry(reg *plugin.Registry, keep ...string) (*plugin.Registry, error) {
	out := plugin.NewRegistry()
	for _, name := range reg.Names() {
		orig, _ := reg.Lookup(name)
		if slices.Contains(keep, name) {
			if err := out.Register(orig); err != nil {
				return nil, err
			}
			continue
		}
		s := *orig
		if name == tableJoin {
			s.Operator = &plugin.Factory[plugin.Operator]{Config: orig.Operator.Config, Build: w.buildTableJoin}
		}
		if orig.Source != nil {
			s.Source = &plugin.Factory[plugin.Source]{Config: orig.Source.Config, Build: w.buildSource(name)}
		}
		if orig.Sink != nil {
			s.Sink = &plugin.Factory[plugin.Sink]{Config: orig.Sink.Config, Build: w.buildSink(name)}
		}
		if err := out.Register(&s); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (w *world) buildSource(function string) func(context.Context, any, plugin.Env) (plugin.Source, error) {
	return func(_ context.Context, cfg any, env plugin.Env) (plugin.Source, error) {
		src := &source{w: w, stage: env.Stage.ID, origin: env.Stage.ID, batch: 1000, done: make(chan struct{})}
		if c, ok := cfg.(*kafka.SourceConfig); ok && function == "kafka" {
			src.origin, src.batch, src.limit, src.enrich = c.Topic, c.BatchSize, c.Limit(), true
		}
		return src, nil
	}
}

func (w *world) buildSink(function string) func(context.Context, any, plugin.Env) (plugin.Sink, error) {
	return func(_ context.Context, cfg any, env plugin.Env) (plugin.Sink, error) {
		s := &sink{w: w, stage: env.Stage.ID}
		if c, ok := cfg.(*kafka.SinkConfig); ok && function == "kafka" {
			enc, err := kafka.NewEncoder(c, w.partitions)
			if err != nil {
				return nil, err
			}
			s.kafka = enc
		}
		return s, nil
	}
}

// source emits a stage's inputs: one batch message per partition run of at
// most batch records, then waits for every ack.
type source struct {
	w      *world
	stage  string
	origin string
	batch  int
	limit  int64 // most records to emit; 0: no limit
	enrich bool  // as the kafka source: _kafka_* fields added

	records atomic.Int64
	bytes   atomic.Int64
	done    chan struct{}
	mu      sync.Mutex
	err     error
}

// Subscribe emits the batches.
func (s *source) Subscribe(context.Context, string) (<-chan *message.Message, error) {
	msgs := s.batches()
	ch := make(chan *message.Message, len(msgs))
	for _, m := range msgs {
		ch <- m
	}
	close(ch)
	go s.watch(msgs)
	return ch, nil
}

// batches lays the stage's inputs out as Kafka would: each partition's
// records in order, numbered from offset 0.
func (s *source) batches() []*message.Message {
	var parts []int32
	byPart := map[int32][]plugin.Record{}
	offsets := map[int32]int64{}
	for n, in := range s.w.inputs[s.stage] {
		if s.limit > 0 && int64(n) >= s.limit {
			break
		}
		p := in.partitionOf(s.w.partitions)
		if _, seen := byPart[p]; !seen {
			parts = append(parts, p)
		}
		off := offsets[p]
		offsets[p]++
		value := in.value
		if s.enrich {
			m := record.Meta{Key: in.key, KeyNull: !in.keyed, KeyJSON: in.keyJSON, ValueNull: in.Tombstone, Partition: p, Offset: off, Timestamp: in.timestamp}
			if len(in.headers) > 0 {
				hs := make([]record.Header, len(in.headers))
				for i, h := range in.headers {
					hs[i] = record.Header{Key: []byte(h.Name), Value: []byte(h.Value)}
				}
				m.Headers = record.AppendHeaders(nil, hs)
			}
			value = record.Enrich(nil, in.value, m)
		}
		byPart[p] = append(byPart[p], plugin.Record{Value: value, Offset: off})
		s.w.fed(provenance{s.origin, p, off}, in)
		s.records.Add(1)
		s.bytes.Add(int64(len(in.value)))
	}
	var msgs []*message.Message
	for _, p := range parts {
		recs := byPart[p]
		for i := 0; i < len(recs); i += s.batch {
			b := plugin.Batch{Records: recs[i:min(i+s.batch, len(recs))], Origin: s.origin, Partition: p}
			msgs = append(msgs, b.Message(fmt.Sprintf("%s-%d-%d", s.origin, p, i)))
		}
	}
	return msgs
}

// watch waits until every batch is settled; a nack fails the source.
func (s *source) watch(msgs []*message.Message) {
	defer close(s.done)
	for _, m := range msgs {
		select {
		case <-m.Acked():
		case <-m.Nacked():
			s.mu.Lock()
			if s.err == nil {
				s.err = fmt.Errorf("%s: batch %s failed", s.origin, m.UUID)
			}
			s.mu.Unlock()
		}
	}
}

// Stop has nothing to stop: every batch was emitted by Subscribe.
func (s *source) Stop()                 {}
func (s *source) Done() <-chan struct{} { return s.done }
func (s *source) Close() error          { return nil }

// Err is a nack's error: the record that stopped the run.
func (s *source) Err() error { s.mu.Lock(); defer s.mu.Unlock(); return s.err }

// Stats counts what was emitted.
func (s *source) Stats() plugin.SourceStats {
	return plugin.SourceStats{Records: s.records.Load(), Bytes: s.bytes.Load()}
}

// partitionOf is the input's partition: its own, else murmur2 of its key
// as the Java client (and the kafka sink) computes it, else 0.
func (in *Input) partitionOf(n int32) int32 {
	switch {
	case in.Partition >= 0:
		return int32(in.Partition)
	case in.keyed:
		return murmur2(in.key, n)
	}
	return 0
}

// murmur2 is the partition of key among n by the partitioner the kafka
// sink uses (Java's default).
func murmur2(key []byte, n int32) int32 {
	p, err := sarama.NewMurmur2Partitioner("").Partition(&sarama.ProducerMessage{Key: sarama.ByteEncoder(key)}, n)
	if err != nil {
		return -1
	}
	return p
}

// fed notes the input a record fed to the pipeline came from.
func (w *world) fed(p provenance, in *Input) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.from[p] = w.index[in]
}

// sink keeps what it is handed. As a kafka sink it makes of each record
// the message the real sink sends (kafka.Encoder), and fails the records
// the real sink fails.
type sink struct {
	w     *world
	stage string
	kafka *kafka.Encoder // nil for any other function
}

// Publish keeps the records of msgs; a record the sink cannot send is
// failed in a *plugin.WriteError, as the real sink does.
func (s *sink) Publish(_ string, msgs ...*message.Message) error {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	var failed plugin.WriteError
	n := 0
	for _, m := range msgs {
		b, err := plugin.DecodeBatch(m)
		if err != nil {
			return err
		}
		for _, r := range b.Records {
			out, err := s.send(r.Value)
			if err != nil {
				failed.Failed, failed.Errs = append(failed.Failed, n), append(failed.Errs, err)
				n++
				continue
			}
			n++
			out.from = -1
			if i, ok := s.w.from[provenance{b.Origin, b.Partition, r.Offset}]; ok {
				out.from = i
			}
			out.seq = s.w.seq
			s.w.seq++
			s.w.written[s.stage] = append(s.w.written[s.stage], out)
		}
	}
	if len(failed.Failed) > 0 {
		return &failed
	}
	return nil
}

// send is what the sink makes of a record.
func (s *sink) send(v []byte) (written, error) {
	if s.kafka == nil {
		return written{value: append([]byte(nil), v...), partition: -1}, nil
	}
	m, err := s.kafka.Encode(v)
	if err != nil {
		return written{}, err
	}
	out := written{topic: m.Topic, partition: m.Partition, headers: []header{}}
	if m.Value != nil {
		out.value, _ = m.Value.Encode()
	}
	if m.Key != nil {
		out.key, _ = m.Key.Encode()
		out.keyed = true
	}
	for _, h := range m.Headers {
		out.headers = append(out.headers, header{string(h.Key), string(h.Value)})
	}
	if !m.Timestamp.IsZero() {
		out.timestamp = m.Timestamp.UnixMilli()
	}
	return out, nil
}

func (s *sink) Close() error { return nil }
