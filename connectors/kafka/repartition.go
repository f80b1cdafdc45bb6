package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/internal/kafkautil"
	"github.com/conveyor-etl/conveyor/internal/state"
	"github.com/conveyor-etl/conveyor/plugin"
)

// RepartitionTopic is the repartition topic of a stateful stage below a
// source of group.
func RepartitionTopic(group, stage string) string { return group + "-" + stage + "-repartition" }

// RepartitionTopic names stage's repartition topic below this source.
func (c *SourceConfig) RepartitionTopic(stage string) string {
	return RepartitionTopic(c.GroupID, stage)
}

// Repartition implements state.Repartitioner: the topic is on the
// source's cluster, with the source topic's partition count (created with
// the broker's default replication factor when missing; another count is
// an error naming both), written with acks=all by an idempotent producer
// that sends one request at a time per broker, so a partition's messages
// land in the order written.
func (s *Source) Repartition(_ context.Context, stage string) (state.Repartition, error) {
	topic := RepartitionTopic(s.cfg.GroupID, stage)
	client, n, err := s.stateClient(fmt.Sprintf("repartition topic %q", topic), func(sc *sarama.Config) {
		sc.Producer.Flush.Frequency = time.Millisecond
	})
	if err != nil {
		return nil, err
	}
	if err := ensureRepartition(client, topic, s.cfg.Topic, n); err != nil {
		client.Close()
		return nil, err
	}
	var prod sarama.SyncProducer
	if s.txn == nil { // under exactly-once the run's transactional producer writes (Write)
		if prod, err = sarama.NewSyncProducerFromClient(client); err != nil {
			client.Close()
			return nil, fmt.Errorf("repartition topic %q: producer: %w", topic, err)
		}
	}
	return &repartition{src: s, stage: stage, topic: topic, n: n, client: client, prod: prod, hash: sarama.NewMurmur2Partitioner(topic)}, nil
}

// ensureRepartition creates topic with n partitions, or checks the one
// there has n.
func ensureRepartition(client sarama.Client, topic, source string, n int32) error {
	existed, err := createStateTopic(client, fmt.Sprintf("repartition topic %q", topic), topic, n, nil)
	if err != nil || !existed {
		return err
	}
	if err := client.RefreshMetadata(topic); err != nil {
		return fmt.Errorf("repartition topic %q: %w", topic, err)
	}
	parts, err := client.Partitions(topic)
	if err != nil {
		return fmt.Errorf("repartition topic %q: %w", topic, err)
	}
	if int32(len(parts)) != n {
		return fmt.Errorf("repartition topic %q has %d partitions, the source topic %q %d: it must have as many (delete it when the pipeline is stopped and nothing is left unread in it, or give the stage another id)", topic, len(parts), source, n)
	}
	return nil
}

// repartition is a state.Repartition on a Kafka topic.
type repartition struct {
	src    *Source
	stage  string
	topic  string
	n      int32
	client sarama.Client
	prod   sarama.SyncProducer // nil under exactly-once
	hash   sarama.Partitioner  // Java's murmur2
}

func (r *repartition) Topic() string     { return r.topic }
func (r *repartition) Partitions() int32 { return r.n }

// Partition is the partition of key: Java's murmur2, as a Java producer
// and Kafka Streams put it.
func (r *repartition) partition(key []byte) (int32, error) {
	return r.hash.Partition(&sarama.ProducerMessage{Key: sarama.ByteEncoder(key)}, r.n)
}

// Write implements state.Repartition. Under exactly-once the messages go
// through the run's transactional producer (txn.send): they are in the
// topic, for a read_committed reader, only once the transaction that
// commits the input offsets of their records does.
func (r *repartition) Write(ctx context.Context, msgs []state.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	pd := &pending{msgs: make([]sarama.ProducerMessage, len(msgs)), done: make(chan struct{}), explicit: true}
	for i, m := range msgs {
		pm := &pd.msgs[i]
		pm.Topic, pm.Partition = r.topic, m.Partition
		if m.Key != nil {
			pm.Key = sarama.ByteEncoder(m.Key)
			p, err := r.partition(m.Key)
			if err != nil {
				return err
			}
			pm.Partition = p
		}
		if m.Value != nil {
			pm.Value = sarama.ByteEncoder(m.Value)
		}
		if m.Timestamp != 0 {
			pm.Timestamp = time.UnixMilli(m.Timestamp)
		}
		pm.Headers = make([]sarama.RecordHeader, len(m.Headers))
		for j, h := range m.Headers {
			pm.Headers[j] = sarama.RecordHeader{Key: h.Key, Value: h.Value}
		}
	}
	if r.src.txn != nil {
		if err := r.src.txn.send(ctx, pd); err != nil {
			return fmt.Errorf("repartition topic %q: %w", r.topic, err)
		}
		return nil
	}
	pms := make([]*sarama.ProducerMessage, len(pd.msgs))
	for i := range pd.msgs {
		pms[i] = &pd.msgs[i]
	}
	done := make(chan error, 1)
	go func() { done <- r.prod.SendMessages(pms) }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("repartition topic %q: %w", r.topic, err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Reader implements state.Repartition: a kafka source of the topic on the
// source's cluster, streaming from the committed offsets, in a group of
// its own named as the topic (<group_id>-<stage id>-repartition), derived
// from the source's: two members of one group in one process rebalance
// each other, every join of either taking the other's partitions away
// (in a bounded run on the embedded broker the reader then waited 13 s
// for its partitions).
func (r *repartition) Reader(env plugin.Env) (plugin.Source, error) {
	c := *r.src.cfg
	c.Topic, c.GroupID = r.topic, r.topic
	c.StartOffset = "earliest"
	c.MaxMessages, c.Until, c.Timeout = 0, "", 0
	c.Invalid = InvalidWrap
	c.ValueFormat, c.KeyFormat = "", ""
	c.GroupInstanceID = ""
	if r.src.cfg.GroupInstanceID != "" {
		c.GroupInstanceID = r.src.cfg.GroupInstanceID + "-" + r.stage + "-repartition"
	}
	return NewSource(&c, env)
}

// Ends implements state.Repartition: the end offset of each partition
// the reader's group has not committed up to it. A partition whose
// committed offset is at its end (a run that read it all before, or was
// killed after committing) has nothing left to read, and waiting for the
// reader to read up to it there would wait for ever. Under exactly-once
// the end is the last stable offset, and a partition counts as committed
// up to it when only transaction markers or aborted records lie between
// (see Drained).
func (r *repartition) Ends() (map[int32]int64, error) {
	committed := r.committed()
	ends := make(map[int32]int64, r.n)
	for p := range r.n {
		end, err := r.end(p)
		if err != nil {
			return nil, fmt.Errorf("repartition topic %q: end offset of partition %d: %w", r.topic, p, err)
		}
		c, ok := committed[p]
		if ok && c < end && r.src.txn != nil {
			if drained, err := r.Drained(p, c, end); err == nil && drained {
				c = end
			}
		}
		if !ok || c < end {
			ends[p] = end
		}
	}
	return ends, nil
}

// end is partition p's end offset, its high watermark, also under
// exactly-once: the writes of the run's own transaction that is still open
// when the input ends lie past the last stable offset, and a reader that
// stopped there would never see them. A read_committed reader gets to
// the records below the high watermark once their transaction commits;
// what is left then, commit markers and aborted records, it is never
// handed, and Drained says so.
func (r *repartition) end(p int32) (int64, error) {
	return r.client.GetOffset(r.topic, p, sarama.OffsetNewest)
}

// Drained implements state.Repartition: at least once, a reader at from
// has read up to end when from >= end; under exactly-once (a
// read_committed reader) also when what lies between holds only
// transaction markers or aborted records, which it is never handed
// (kafkautil.Deliverable: the last offsets of a committed topic are its
// commit markers).
func (r *repartition) Drained(p int32, from, end int64) (bool, error) {
	if from >= end {
		return true, nil
	}
	if r.src.txn == nil {
		return false, nil
	}
	span, err := kafkautil.Deliverable(r.client, r.topic, p, from, end, sarama.ReadCommitted, true)
	if err != nil {
		return false, fmt.Errorf("repartition topic %q partition %d: %w", r.topic, p, err)
	}
	return span.Records == 0 && span.Complete, nil
}

// committed returns the reader group's committed offsets of the topic,
// or nil when they cannot be had (then every partition is read to its end).
func (r *repartition) committed() map[int32]int64 {
	coord, err := r.client.Coordinator(r.topic) // the reader's group is named as the topic
	if err != nil {
		return nil
	}
	req := &sarama.OffsetFetchRequest{Version: 5, ConsumerGroup: r.topic}
	for p := range r.n {
		req.AddPartition(r.topic, p)
	}
	resp, err := coord.FetchOffset(req)
	if err != nil {
		return nil
	}
	out := map[int32]int64{}
	for p := range r.n {
		if b := resp.GetBlock(r.topic, p); b != nil && errors.Is(b.Err, sarama.ErrNoError) && b.Offset >= 0 {
			out[p] = b.Offset
		}
	}
	return out
}

// Close implements state.Repartition.
func (r *repartition) Close() error {
	var err error
	if r.prod != nil {
		err = r.prod.Close()
	}
	return errors.Join(err, r.client.Close())
}
