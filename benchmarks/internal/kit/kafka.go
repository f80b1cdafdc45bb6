// Package kit holds the Kafka chores of the benchmark harness: creating and
// seeding topics before a scenario is timed, and watching a scenario's
// progress (end offsets of its output, committed offsets of its group)
// without taking part in it.
package kit

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/benchmarks/internal/gen"
	"github.com/conveyor-etl/conveyor/internal/kafkautil"
)

// Config is the sarama config of the harness's own clients.
func Config() *sarama.Config {
	c := sarama.NewConfig()
	c.Version = sarama.V3_0_0_0
	c.ClientID = "conveyor-bench"
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	return c
}

// Admin is a client plus cluster admin over one connection set.
type Admin struct {
	Client sarama.Client
	Admin  sarama.ClusterAdmin
}

// NewAdmin connects.
func NewAdmin(brokers []string) (*Admin, error) {
	client, err := sarama.NewClient(brokers, Config())
	if err != nil {
		return nil, err
	}
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		client.Close()
		return nil, err
	}
	return &Admin{Client: client, Admin: admin}, nil
}

// Close closes the admin and its client.
func (a *Admin) Close() { a.Admin.Close() }

// CreateTopic creates a topic (replication factor 1) with optional topic
// configs and waits until every partition has a leader.
func (a *Admin) CreateTopic(name string, partitions int32, configs map[string]string) error {
	d := &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1}
	if len(configs) > 0 {
		d.ConfigEntries = map[string]*string{}
		for k, v := range configs {
			d.ConfigEntries[k] = &v
		}
	}
	if err := a.Admin.CreateTopic(name, d, false); err != nil {
		return fmt.Errorf("create topic %s: %w", name, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_ = a.Client.RefreshMetadata(name)
		parts, err := a.Client.Partitions(name)
		if err == nil && int32(len(parts)) == partitions {
			ready := true
			for _, p := range parts {
				if l, err := a.Client.Leader(name, p); err != nil || l == nil {
					ready = false
				}
			}
			if ready {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("topic %s not ready: %v", name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// DeleteTopics deletes topics, ignoring ones that do not exist.
func (a *Admin) DeleteTopics(names ...string) error {
	var errs []error
	for _, n := range names {
		if err := a.Admin.DeleteTopic(n); err != nil && !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// EndOffsets returns the end offset of each partition of topic.
func (a *Admin) EndOffsets(topic string) (map[int32]int64, error) {
	parts, err := a.Client.Partitions(topic)
	if err != nil {
		return nil, err
	}
	out := make(map[int32]int64, len(parts))
	for _, p := range parts {
		if out[p], err = a.Client.GetOffset(topic, p, sarama.OffsetNewest); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Committed returns group's committed offsets on topic (absent: none).
func (a *Admin) Committed(group, topic string) (map[int32]int64, error) {
	resp, err := a.Admin.ListConsumerGroupOffsets(group, nil)
	if err != nil {
		if errors.Is(err, sarama.ErrGroupIDNotFound) {
			return map[int32]int64{}, nil
		}
		return nil, err
	}
	out := map[int32]int64{}
	for p, b := range resp.Blocks[topic] {
		if b.Err == sarama.ErrNoError && b.Offset >= 0 {
			out[p] = b.Offset
		}
	}
	return out, nil
}

// GroupStable reports whether group has members and a settled assignment.
func (a *Admin) GroupStable(group string) bool {
	ds, err := a.Admin.DescribeConsumerGroups([]string{group})
	return err == nil && len(ds) == 1 && ds[0].State == "Stable" && len(ds[0].Members) > 0
}

// Sum adds up offsets.
func Sum(m map[int32]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// Reached reports whether every partition in end has committed >= end.
func Reached(committed, end map[int32]int64) bool {
	for p, e := range end {
		if e > 0 && committed[p] < e {
			return false
		}
	}
	return true
}

// Seed writes records [0, n) of gen to topic, record i to partition
// i % partitions, keyed by its event_id, and waits for every ack. It
// returns the bytes of the values written.
func Seed(brokers []string, topic string, partitions int32, n int64) (int64, error) {
	return SeedValues(brokers, topic, partitions, n, func(dst []byte, i int64) ([]byte, error) { return gen.Append(dst, i), nil })
}

// SeedValues is Seed with record i's value appended by value (e.g. gen's
// record in Avro).
func SeedValues(brokers []string, topic string, partitions int32, n int64, value func(dst []byte, i int64) ([]byte, error)) (int64, error) {
	return SeedWith(brokers, topic, n, func(dst []byte, i int64) ([]byte, int, int32, error) {
		s := len(dst)
		dst = gen.AppendEventID(dst, i)
		k := len(dst) - s
		dst, err := value(dst, i)
		return dst, k, int32(i % int64(partitions)), err
	})
}

// SeedWith writes records [0, n) to topic, record i made by rec: rec
// appends the record's key and then its value to dst and returns dst, the
// key's length and the record's partition. Records of a partition are
// written in the order of i. It waits for every ack and returns the bytes
// of the values written.
func SeedWith(brokers []string, topic string, n int64, rec func(dst []byte, i int64) (out []byte, keyLen int, partition int32, err error)) (int64, error) {
	c := Config()
	c.Producer.RequiredAcks = sarama.WaitForLocal
	c.Producer.Partitioner = sarama.NewManualPartitioner
	c.Producer.Return.Successes = false
	c.Producer.Return.Errors = true
	c.Producer.Flush.Frequency = 10 * time.Millisecond
	c.Producer.Flush.Bytes = 1 << 20
	c.Producer.Compression = sarama.CompressionNone
	c.ChannelBufferSize = 8192
	p, err := sarama.NewAsyncProducer(brokers, c)
	if err != nil {
		return 0, fmt.Errorf("seed producer: %w", err)
	}
	var failed atomic.Int64
	var firstErr atomic.Value
	errsDone := make(chan struct{})
	go func() {
		for e := range p.Errors() {
			if failed.Add(1) == 1 {
				firstErr.Store(e.Err)
			}
		}
		close(errsDone)
	}()
	var bytes int64
	arena := make([]byte, 0, 1<<20)
	const chunk = 4096
	msgs := make([]sarama.ProducerMessage, chunk)
	for i := int64(0); i < n; i++ {
		if cap(arena)-len(arena) < 256 {
			arena = make([]byte, 0, 1<<20)
		}
		if i%chunk == 0 {
			msgs = make([]sarama.ProducerMessage, chunk)
		}
		s := len(arena)
		var keyLen int
		var part int32
		if arena, keyLen, part, err = rec(arena, i); err != nil {
			p.AsyncClose()
			<-errsDone
			return bytes, fmt.Errorf("seeding %s: record %d: %w", topic, i, err)
		}
		key := arena[s : s+keyLen : s+keyLen]
		val := arena[s+keyLen : len(arena) : len(arena)]
		bytes += int64(len(val))
		m := &msgs[i%chunk]
		m.Topic, m.Partition, m.Key, m.Value = topic, part, sarama.ByteEncoder(key), sarama.ByteEncoder(val)
		p.Input() <- m
	}
	p.AsyncClose()
	<-errsDone
	if f := failed.Load(); f > 0 {
		return bytes, fmt.Errorf("seeding %s: %d records failed, first: %v", topic, f, firstErr.Load())
	}
	return bytes, nil
}

// ReadAll calls fn with every record of topic, from each partition's start
// to its end offset at the time of the call.
func ReadAll(brokers []string, topic string, fn func(*sarama.ConsumerMessage)) error {
	client, err := sarama.NewClient(brokers, Config())
	if err != nil {
		return err
	}
	defer client.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return err
	}
	defer consumer.Close()
	spans, err := logSpans(client, topic)
	if err != nil {
		return err
	}
	for _, sp := range spans {
		p, start, end := sp.partition, sp.start, sp.end
		if end <= start {
			continue
		}
		pc, err := consumer.ConsumePartition(topic, p, start)
		if err != nil {
			return err
		}
		for done := false; !done; {
			select {
			case m := <-pc.Messages():
				fn(m)
				done = m.Offset+1 >= end
			case <-time.After(30 * time.Second):
				pc.Close()
				return fmt.Errorf("reading %s/%d: timed out", topic, p)
			}
		}
		pc.Close()
	}
	return nil
}

// ReadCommitted calls fn with every record of topic a read_committed
// consumer is handed, from each partition's start to its end offset at the
// time of the call (a transactional output's markers and aborted records
// left out). A transaction still open makes it fail.
func ReadCommitted(client sarama.Client, topic string, fn func(partition int32, value []byte)) error {
	spans, err := logSpans(client, topic)
	if err != nil {
		return err
	}
	for _, sp := range spans {
		p, start, end := sp.partition, sp.start, sp.end
		complete, err := kafkautil.Scan(client, topic, p, start, end, sarama.ReadCommitted, 8<<20, func(_ int64, r *sarama.Record) bool {
			fn(p, r.Value)
			return true
		})
		if err != nil {
			return err
		}
		if !complete {
			return fmt.Errorf("%s/%d: a transaction is still open below the end offset %d", topic, p, end)
		}
	}
	return nil
}

// CountCommitted counts the records of topic a read_committed consumer is
// handed (see ReadCommitted).
func CountCommitted(client sarama.Client, topic string) (int64, error) {
	var n int64
	err := ReadCommitted(client, topic, func(int32, []byte) { n++ })
	return n, err
}

// logSpan is where a partition's log starts and ends.
type logSpan struct {
	partition  int32
	start, end int64
}

// logSpans returns the log start and end offsets of every partition of
// topic, now.
func logSpans(client sarama.Client, topic string) ([]logSpan, error) {
	parts, err := client.Partitions(topic)
	if err != nil {
		return nil, err
	}
	out := make([]logSpan, len(parts))
	for i, p := range parts {
		out[i].partition = p
		if out[i].end, err = client.GetOffset(topic, p, sarama.OffsetNewest); err != nil {
			return nil, err
		}
		if out[i].start, err = client.GetOffset(topic, p, sarama.OffsetOldest); err != nil {
			return nil, err
		}
	}
	return out, nil
}
