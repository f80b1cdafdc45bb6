package kafka

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/internal/state"
)

// ChangelogTopic is the changelog topic of a stateful stage below a
// source of group.
func ChangelogTopic(group, stage string) string { return group + "-" + stage + "-changelog" }

// Changelog implements state.Provider: a stateful stage below this source
// keeps its changelog on the source's cluster, with one partition per
// partition of the source's topic, compacted. A missing topic is created
// (the broker's default replication factor); one with fewer partitions or
// without cleanup.policy=compact is an error naming it.
func (s *Source) Changelog(ctx context.Context, stage string) (state.Changelog, error) {
	topic := ChangelogTopic(s.cfg.GroupID, stage)
	what := fmt.Sprintf("changelog %q", topic)
	client, n, err := s.stateClient(what, func(sc *sarama.Config) {
		// A restore reads a partition from its start as fast as it can: big
		// fetches, and room for them in the consumer's channel.
		sc.Consumer.Fetch.Default = 16 << 20
		sc.Consumer.MaxWaitTime = 20 * time.Millisecond
		sc.ChannelBufferSize = 1 << 14
	})
	if err != nil {
		return nil, err
	}
	if err := ensureChangelog(client, topic, n); err != nil {
		client.Close()
		return nil, err
	}
	if s.txn != nil { // exactly-once: written in the run's transaction (changelogtxn.go)
		return &changelog{topic: topic, client: client, txn: s.txn}, nil
	}
	prod, err := sarama.NewSyncProducerFromClient(client)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("changelog %q: producer: %w", topic, err)
	}
	cons, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		prod.Close()
		client.Close()
		return nil, fmt.Errorf("changelog %q: consumer: %w", topic, err)
	}
	return &changelog{topic: topic, client: client, prod: prod, cons: cons}, nil
}

// ensureChangelog creates topic with n partitions, compacted, or checks
// the one there.
func ensureChangelog(client sarama.Client, topic string, n int32) error {
	compact := "compact"
	existed, err := createStateTopic(client, fmt.Sprintf("changelog %q", topic), topic, n, map[string]*string{"cleanup.policy": &compact})
	if err != nil || !existed {
		return err
	}
	return checkChangelog(client, topic, n)
}

// checkChangelog refuses an existing changelog that cannot hold the
// stage's state: fewer partitions than the input, or not compacted.
func checkChangelog(client sarama.Client, topic string, n int32) error {
	if err := client.RefreshMetadata(topic); err != nil {
		return fmt.Errorf("changelog %q: %w", topic, err)
	}
	parts, err := client.Partitions(topic)
	if err != nil {
		return fmt.Errorf("changelog %q: %w", topic, err)
	}
	if int32(len(parts)) != n {
		return fmt.Errorf("changelog %q has %d partitions, the input topic %d: a stateful stage needs one per input partition (delete the changelog to start the state afresh, or give the stage another id)", topic, len(parts), n)
	}
	controller, err := client.Controller()
	if err != nil {
		return fmt.Errorf("changelog %q: %w", topic, err)
	}
	resp, err := controller.DescribeConfigs(&sarama.DescribeConfigsRequest{Version: 1,
		Resources: []*sarama.ConfigResource{{Type: sarama.TopicResource, Name: topic, ConfigNames: []string{"cleanup.policy"}}}})
	if err != nil {
		return fmt.Errorf("changelog %q: reading its cleanup.policy: %w", topic, err)
	}
	for _, r := range resp.Resources {
		for _, c := range r.Configs {
			if c.Name == "cleanup.policy" && !strings.Contains(c.Value, "compact") {
				return fmt.Errorf("changelog %q has cleanup.policy=%s: a changelog must be compacted (set cleanup.policy=compact), or old state is deleted", topic, c.Value)
			}
		}
	}
	return nil
}

// changelog is a state.Changelog on a Kafka topic.
type changelog struct {
	topic  string
	client sarama.Client
	prod   sarama.SyncProducer // nil under exactly-once
	cons   sarama.Consumer     // nil under exactly-once
	txn    *txn                // the run's transaction, under exactly-once
}

// A batch's changes may reach the log in several produce requests, so a
// crash can leave the first of them written and not the rest. Each change
// carries its write's id and size in these headers; a restore drops a
// write found incomplete at the end of the partition (see group). One
// incomplete in the middle was followed by the next owner, who read the
// same records again and so wrote every key it touched anew, or by
// compaction, which dropped only values written again later.
const (
	headerWrite = "conveyor_write" // the write's id: 8 random bytes
	headerSize  = "conveyor_size"  // the number of changes of the write
)

// Write implements state.Changelog.
func (c *changelog) Write(ctx context.Context, p int32, changes []state.Change) (int64, error) {
	if c.txn != nil {
		return c.writeTxn(ctx, p, changes)
	}
	msgs := make([]*sarama.ProducerMessage, len(changes))
	hdrs := writeHeaders(len(changes))
	for i, ch := range changes {
		m := &sarama.ProducerMessage{Topic: c.topic, Partition: p, Key: sarama.ByteEncoder(ch.Key), Headers: hdrs}
		if ch.Value != nil {
			m.Value = sarama.ByteEncoder(ch.Value)
		}
		msgs[i] = m
	}
	if err := c.prod.SendMessages(msgs); err != nil {
		return 0, err
	}
	next := int64(0)
	for _, m := range msgs {
		next = max(next, m.Offset+1)
	}
	return next, nil
}

// writeHeaders are the headers of each change of a write of n changes.
func writeHeaders(n int) []sarama.RecordHeader {
	id := binary.BigEndian.AppendUint64(nil, rand.Uint64())
	size := binary.AppendUvarint(nil, uint64(n))
	return []sarama.RecordHeader{{Key: []byte(headerWrite), Value: id}, {Key: []byte(headerSize), Value: size}}
}

// restoreIdle is how long a restore waits for the next change before it
// takes the partition as read (its last offsets may be transaction markers,
// which a consumer never sees).
const restoreIdle = 5 * time.Second

// offset asks for partition p's offset at (sarama.OffsetNewest or
// OffsetOldest), refreshing the metadata and trying again while the
// partition has no leader yet (a changelog just created) or it moved.
func (c *changelog) offset(ctx context.Context, p int32, at int64) (int64, error) {
	for attempt := 1; ; attempt++ {
		o, err := c.client.GetOffset(c.topic, p, at)
		if err == nil || attempt == 20 || !retriable(err) {
			return o, err
		}
		_ = c.client.RefreshMetadata(c.topic)
		select {
		case <-time.After(backoffFor(attempt)):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

func backoffFor(attempt int) time.Duration {
	return min(time.Duration(attempt)*100*time.Millisecond, time.Second)
}

// retriable reports whether a look-up may succeed once leaders are known.
func retriable(err error) bool {
	var kerr sarama.KError
	if errors.As(err, &kerr) {
		return kerr == sarama.ErrNotLeaderForPartition || kerr == sarama.ErrLeaderNotAvailable || kerr == sarama.ErrUnknownTopicOrPartition ||
			kerr == sarama.ErrNotCoordinatorForConsumer || kerr == sarama.ErrRequestTimedOut || kerr == sarama.ErrOffsetNotAvailable
	}
	return errors.Is(err, sarama.ErrLeaderNotAvailable) || errors.Is(err, sarama.ErrNotLeaderForPartition)
}

// readFrom returns where a read of partition p up to end starts: from, or
// the log's start when retention removed what was before it; it reports
// the records to read to total unless there are none (the result >= end).
func (c *changelog) readFrom(ctx context.Context, p int32, from, end int64, total func(int64)) (int64, error) {
	oldest, err := c.offset(ctx, p, sarama.OffsetOldest)
	if err != nil {
		return 0, err
	}
	from = max(from, oldest)
	if from < end {
		total(end - from)
	}
	return from, nil
}

// Read implements state.Changelog.
func (c *changelog) Read(ctx context.Context, p int32, from int64, total func(int64), fn func(state.Change)) (int64, error) {
	if c.txn != nil {
		return c.readCommitted(ctx, p, from, total, fn)
	}
	end, err := c.offset(ctx, p, sarama.OffsetNewest)
	if err != nil {
		return 0, err
	}
	if from, err = c.readFrom(ctx, p, from, end, total); err != nil {
		return 0, err
	}
	if from >= end {
		return end, nil
	}
	pc, err := c.cons.ConsumePartition(c.topic, p, from)
	if err != nil {
		return 0, err
	}
	defer pc.Close()
	idle := time.NewTimer(restoreIdle)
	defer idle.Stop()
	var g group
	for {
		select {
		case m := <-pc.Messages():
			g.add(m, fn)
			if m.Offset+1 >= end {
				g.flush(fn)
				return end, nil
			}
			idle.Reset(restoreIdle)
		case err := <-pc.Errors():
			return 0, err
		case <-idle.C:
			return end, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// group holds the changes of one write until it is known whole: when all
// its changes came, or another write's change follows.
type group struct {
	id      string
	size    uint64
	changes []state.Change
}

func (g *group) add(m *sarama.ConsumerMessage, fn func(state.Change)) {
	g.addRecord(m.Key, m.Value, m.Headers, fn)
}

func (g *group) addRecord(key, value []byte, headers []*sarama.RecordHeader, fn func(state.Change)) {
	var id string
	var size uint64
	for _, h := range headers {
		switch string(h.Key) {
		case headerWrite:
			id = string(h.Value)
		case headerSize:
			size, _ = binary.Uvarint(h.Value)
		}
	}
	if id != g.id {
		g.apply(fn)
		g.id, g.size = id, size
	}
	g.changes = append(g.changes, state.Change{Key: key, Value: value})
	if id == "" || uint64(len(g.changes)) >= g.size {
		g.apply(fn)
	}
}

// apply hands the changes held on.
func (g *group) apply(fn func(state.Change)) {
	for _, c := range g.changes {
		fn(c)
	}
	g.changes, g.id = g.changes[:0], ""
}

// flush ends a read at the end of the partition: a write still incomplete
// there was cut short by a crash, and is dropped.
func (g *group) flush(func(state.Change)) {
	g.changes = g.changes[:0]
}

// Close implements state.Changelog.
func (c *changelog) Close() error {
	if c.txn != nil {
		return c.client.Close()
	}
	return errors.Join(c.prod.Close(), c.cons.Close(), c.client.Close())
}
