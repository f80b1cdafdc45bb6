package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/internal/state"
)

// ChangelogPartition is one partition of a stage's changelog, as
// `conveyor state` shows it.
type ChangelogPartition struct {
	Partition  int32
	Start, End int64 // log start and end offsets
	// Bytes is the partition's size on its leader's disk, -1 when the
	// broker does not say (DescribeLogDirs refused or unsupported).
	Bytes int64
}

// ReadChangelog reads the changelog of stage below source cfg: every
// partition from its log start to its end offset, handing fn each change
// in the order a restore applies them (a write cut short at the end of a
// partition left out). It creates and commits nothing; a changelog that
// does not exist (the stage never ran) is an error marked
// ErrTopicNotFound. With fn nil only the offsets and sizes are read.
func ReadChangelog(ctx context.Context, cfg *SourceConfig, stage string, fn func(p int32, c state.Change)) (string, []ChangelogPartition, error) {
	topic := ChangelogTopic(cfg.GroupID, stage)
	sc, err := cfg.saramaConfig()
	if err != nil {
		return topic, nil, err
	}
	sc.Consumer.Fetch.Default = 16 << 20
	client, err := sarama.NewClient(cfg.Brokers, sc)
	if err != nil {
		return topic, nil, reachError("changelog of", stage, &cfg.ClientConfig, err)
	}
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		client.Close()
		return topic, nil, reachError("changelog of", stage, &cfg.ClientConfig, err)
	}
	defer admin.Close() // closes client too
	parts, err := client.Partitions(topic)
	if errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		return topic, nil, mark(fmt.Errorf("changelog %q does not exist on %v: stage %q has not run below this group", topic, cfg.Brokers, stage), ErrTopicNotFound, err)
	}
	if err != nil {
		return topic, nil, fmt.Errorf("changelog %q: %w", topic, err)
	}
	slices.Sort(parts)
	starts, err := listOffsets(admin, topic, parts, sarama.OffsetOldest, sarama.ReadUncommitted)
	if err != nil {
		return topic, nil, fmt.Errorf("changelog %q: log start offsets: %w", topic, err)
	}
	ends, err := listOffsets(admin, topic, parts, sarama.OffsetNewest, sarama.ReadUncommitted)
	if err != nil {
		return topic, nil, fmt.Errorf("changelog %q: end offsets: %w", topic, err)
	}
	sizes := logSizes(admin, client, topic)
	out := make([]ChangelogPartition, len(parts))
	for i, p := range parts {
		out[i] = ChangelogPartition{Partition: p, Start: starts[p], End: ends[p], Bytes: -1}
		if b, ok := sizes[p]; ok {
			out[i].Bytes = b
		}
	}
	if fn == nil {
		return topic, out, nil
	}
	cons, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return topic, nil, fmt.Errorf("changelog %q: consumer: %w", topic, err)
	}
	defer cons.Close()
	cl := &changelog{topic: topic, client: client, cons: cons}
	for _, p := range parts {
		if _, err := cl.Read(ctx, p, 0, func(int64) {}, func(c state.Change) { fn(p, c) }); err != nil {
			return topic, nil, fmt.Errorf("changelog %q, partition %d: %w", topic, p, err)
		}
	}
	return topic, out, nil
}

// logSizes asks every broker for the size of topic's partitions on its
// disks (the leader's replica counts: the largest); empty when no broker
// says.
func logSizes(admin sarama.ClusterAdmin, client sarama.Client, topic string) map[int32]int64 {
	var ids []int32
	for _, b := range client.Brokers() {
		ids = append(ids, b.ID())
	}
	dirs, err := admin.DescribeLogDirs(ids)
	out := map[int32]int64{}
	if err != nil {
		return out
	}
	for _, perBroker := range dirs {
		for _, d := range perBroker {
			for _, t := range d.Topics {
				if t.Topic != topic {
					continue
				}
				for _, p := range t.Partitions {
					out[p.PartitionID] = max(out[p.PartitionID], p.Size)
				}
			}
		}
	}
	return out
}
