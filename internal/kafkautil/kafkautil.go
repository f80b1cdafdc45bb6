// Package kafkautil holds small Kafka chores done with sarama: create a
// topic, produce records, read a topic back, read a group's committed
// offsets. The demo and the tests use it.
package kafkautil

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

// Config is a sarama config for these chores.
func Config() *sarama.Config {
	c := sarama.NewConfig()
	c.Version = sarama.V3_0_0_0
	c.ClientID = "conveyor-tools"
	c.Producer.Return.Successes = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Partitioner = sarama.NewManualPartitioner
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	return c
}

// Msg is a record to produce or one read back.
type Msg struct {
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []sarama.RecordHeader
	Timestamp time.Time // zero: the produce time
}

// CreateTopic creates a topic and waits until every partition has a leader.
// configs are topic configs such as max.message.bytes.
func CreateTopic(brokers []string, name string, partitions int32, rf int16, configs ...string) error {
	admin, err := sarama.NewClusterAdmin(brokers, Config())
	if err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	defer admin.Close()
	detail := &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: rf, ConfigEntries: map[string]*string{}}
	for i := 0; i+1 < len(configs); i += 2 {
		detail.ConfigEntries[configs[i]] = &configs[i+1]
	}
	if err := admin.CreateTopic(name, detail, false); err != nil {
		return fmt.Errorf("create topic %s: %w", name, err)
	}
	return WaitTopic(brokers, name, partitions, 30*time.Second)
}

// WaitTopic waits until topic has n partitions, each with a leader.
func WaitTopic(brokers []string, topic string, n int32, timeout time.Duration) error {
	client, err := sarama.NewClient(brokers, Config())
	if err != nil {
		return err
	}
	defer client.Close()
	deadline := time.Now().Add(timeout)
	for {
		_ = client.RefreshMetadata(topic)
		parts, err := client.Partitions(topic)
		if err == nil && int32(len(parts)) == n {
			ready := true
			for _, p := range parts {
				if l, err := client.Leader(topic, p); err != nil || l == nil {
					ready = false
				}
			}
			if ready {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("topic %s not ready after %s: %v", topic, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ProduceTransaction writes msgs, each to its Partition, in one
// transaction with the given transactional id, and commits it.
func ProduceTransaction(brokers []string, topic, txnID string, msgs []Msg) error {
	sc := Config()
	sc.Producer.Idempotent = true
	sc.Producer.Transaction.ID = txnID
	sc.Net.MaxOpenRequests = 1
	p, err := sarama.NewSyncProducer(brokers, sc)
	if err != nil {
		return fmt.Errorf("transactional producer: %w", err)
	}
	defer p.Close()
	if err := p.BeginTxn(); err != nil {
		return err
	}
	for _, m := range msgs {
		pm := &sarama.ProducerMessage{Topic: topic, Partition: m.Partition, Value: sarama.ByteEncoder(m.Value), Headers: m.Headers}
		if m.Key != nil {
			pm.Key = sarama.ByteEncoder(m.Key)
		}
		if _, _, err := p.SendMessage(pm); err != nil {
			return fmt.Errorf("produce to %s in a transaction: %w", topic, err)
		}
	}
	return p.CommitTxn()
}

// Produce writes msgs to their partitions (Partition < 0: by key, as
// Java's default partitioner would) in order and waits for every ack.
func Produce(brokers []string, topic string, msgs []Msg) error {
	cfg := Config()
	cfg.Producer.MaxMessageBytes = 16 << 20 // the broker and topic enforce their own limit
	// Idempotent, so that a retried request (a slow broker under load)
	// cannot write a record twice: tests count exact records. A real
	// Kafka run once failed TestIntegrationExample1Consumer on such a
	// duplicate (1,001 records in the topic for 1,000 produced).
	cfg.Producer.Idempotent = true
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Partitioner = func(topic string) sarama.Partitioner { return manualOrHash{sarama.NewMurmur2Partitioner(topic)} }
	p, err := sarama.NewAsyncProducer(brokers, cfg)
	if err != nil {
		return fmt.Errorf("producer: %w", err)
	}
	go func() {
		for _, m := range msgs {
			pm := &sarama.ProducerMessage{Topic: topic, Partition: m.Partition, Value: sarama.ByteEncoder(m.Value), Headers: m.Headers, Timestamp: m.Timestamp}
			if m.Key != nil {
				pm.Key = sarama.ByteEncoder(m.Key)
			}
			p.Input() <- pm
		}
	}()
	var firstErr error
	for range msgs {
		select {
		case <-p.Successes():
		case e := <-p.Errors():
			if firstErr == nil {
				firstErr = e
			}
		case <-time.After(60 * time.Second):
			return fmt.Errorf("produce to %s: timed out", topic)
		}
	}
	if err := p.Close(); err != nil && firstErr == nil {
		firstErr = err
	}
	return firstErr
}

type manualOrHash struct{ hash sarama.Partitioner }

func (m manualOrHash) Partition(msg *sarama.ProducerMessage, n int32) (int32, error) {
	if msg.Partition >= 0 {
		return msg.Partition, nil
	}
	return m.hash.Partition(msg, n)
}

func (m manualOrHash) RequiresConsistency() bool { return true }

// ReadAll reads every partition of topic from its start to its end offset
// at the time of the call, ordered by partition then offset. It reads
// uncommitted (aborted transactions' records included); a partition
// ending with transaction markers is read once nothing but them is left.
func ReadAll(brokers []string, topic string) ([]Msg, error) {
	client, consumer, parts, err := openTopic(brokers, Config(), topic)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	defer consumer.Close()
	var out []Msg
	for _, p := range parts {
		msgs, err := readPartition(client, consumer, topic, p)
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Partition != out[j].Partition {
			return out[i].Partition < out[j].Partition
		}
		return out[i].Offset < out[j].Offset
	})
	return out, nil
}

func readPartition(client sarama.Client, consumer sarama.Consumer, topic string, p int32) ([]Msg, error) {
	end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
	if err != nil {
		return nil, err
	}
	start, err := client.GetOffset(topic, p, sarama.OffsetOldest)
	if err != nil {
		return nil, err
	}
	if end <= start {
		return nil, nil
	}
	pc, err := consumer.ConsumePartition(topic, p, start)
	if err != nil {
		return nil, fmt.Errorf("consume %s/%d: %w", topic, p, err)
	}
	defer pc.Close()
	var out []Msg
	next, asked := start, int64(-1) // the offset after the last record handed; where the log was last asked
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case m, ok := <-pc.Messages():
			if !ok { // the partition consumer gave up: its error says why
				err := errors.New("the consumer stopped")
				for e := range pc.Errors() {
					err = e
				}
				return nil, fmt.Errorf("reading %s/%d at offset %d of %d: %w", topic, p, next, end, err)
			}
			msg := Msg{Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value, Timestamp: m.Timestamp}
			for _, h := range m.Headers {
				msg.Headers = append(msg.Headers, *h)
			}
			out = append(out, msg)
			next = m.Offset + 1
			if next >= end {
				return out, nil
			}
		case <-tick.C:
			// A partition whose last offsets are transaction markers
			// (a transactional producer wrote it) is never handed
			// them: it is read once the log up to end holds nothing
			// else. Asked once per offset the reading stopped at.
			if next == asked {
				continue
			}
			asked = next
			if s, err := Deliverable(client, topic, p, next, end, sarama.ReadUncommitted, true); err == nil && s.Complete && s.Records == 0 {
				return out, nil
			}
		case <-deadline:
			return nil, fmt.Errorf("reading %s/%d: timed out at offset %d of %d", topic, p, next, end)
		}
	}
}

// patience is how long Committed and EndOffsets retry errors, which are
// often passing ones (a coordinator loading offsets, a leader moving) in
// tests that restart brokers.
const patience = 30 * time.Second

// retry calls f until it succeeds or patience has passed.
func retry[T any](f func() (T, error)) (T, error) {
	deadline := time.Now().Add(patience)
	for {
		v, err := f()
		if err == nil || time.Now().After(deadline) {
			return v, err
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// Committed returns the group's committed offset per partition of topic
// (-1 where nothing is committed).
func Committed(brokers []string, group, topic string) (map[int32]int64, error) {
	return retry(func() (map[int32]int64, error) { return committed(brokers, group, topic) })
}

func committed(brokers []string, group, topic string) (map[int32]int64, error) {
	admin, err := sarama.NewClusterAdmin(brokers, Config())
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	resp, err := admin.ListConsumerGroupOffsets(group, nil)
	if errors.Is(err, sarama.ErrGroupIDNotFound) {
		return map[int32]int64{}, nil // nothing committed yet
	}
	if err != nil {
		return nil, fmt.Errorf("offsets of group %s: %w", group, err)
	}
	out := map[int32]int64{}
	for p, b := range resp.Blocks[topic] {
		out[p] = b.Offset
	}
	return out, nil
}

// EndOffsets returns the end offset of each partition of topic.
func EndOffsets(brokers []string, topic string) (map[int32]int64, error) {
	return retry(func() (map[int32]int64, error) { return endOffsets(brokers, topic) })
}

func endOffsets(brokers []string, topic string) (map[int32]int64, error) {
	client, err := sarama.NewClient(brokers, Config())
	if err != nil {
		return nil, err
	}
	defer client.Close()
	parts, err := client.Partitions(topic)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for _, p := range parts {
		if out[p], err = client.GetOffset(topic, p, sarama.OffsetNewest); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ReadUntilIdle reads a topic back, every partition at once, each until
// it has been quiet for idle; ordered by partition then offset. With
// committed, it reads as a read_committed consumer (records of aborted
// transactions left out), else it sees those too. Unlike ReadAll it does
// not stop at the end offset, which a transaction marker can hold. Call
// it once the writers have stopped.
func ReadUntilIdle(brokers []string, topic string, idle time.Duration, committed bool) ([]Msg, error) {
	conf := Config()
	if committed {
		conf.Consumer.IsolationLevel = sarama.ReadCommitted
	}
	client, consumer, parts, err := openTopic(brokers, conf, topic)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	defer consumer.Close()
	res := make([][]Msg, len(parts))
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
			if err != nil {
				errs[i] = fmt.Errorf("consume %s/%d: %w", topic, p, err)
				return
			}
			defer pc.Close()
			for {
				select {
				case m, ok := <-pc.Messages():
					if !ok {
						errs[i] = fmt.Errorf("reading %s/%d: the consumer stopped", topic, p)
						return
					}
					msg := Msg{Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value, Timestamp: m.Timestamp}
					res[i] = append(res[i], msg)
				case <-time.After(idle):
					return
				}
			}
		}()
	}
	wg.Wait()
	var out []Msg
	for i := range parts {
		if errs[i] != nil {
			return nil, errs[i]
		}
		out = append(out, res[i]...)
	}
	return out, nil
}

// openTopic connects a client and a consumer with conf and lists topic's
// partitions; the caller closes the consumer and the client.
func openTopic(brokers []string, conf *sarama.Config, topic string) (sarama.Client, sarama.Consumer, []int32, error) {
	client, err := sarama.NewClient(brokers, conf)
	if err != nil {
		return nil, nil, nil, err
	}
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		client.Close()
		return nil, nil, nil, err
	}
	parts, err := client.Partitions(topic)
	if err != nil {
		consumer.Close()
		client.Close()
		return nil, nil, nil, fmt.Errorf("partitions of %s: %w", topic, err)
	}
	return client, consumer, parts, nil
}
