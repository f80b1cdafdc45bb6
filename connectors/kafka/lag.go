package kafka

import (
	"errors"
	"fmt"
	"slices"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/internal/kafkautil"
)

// PartitionLag is how far a consumer group is behind on one partition.
type PartitionLag struct {
	Topic     string
	Partition int32
	// Committed is the group's committed offset, or -1 when it has none.
	Committed int64
	// Start is the log start offset, End the end offset: the high watermark,
	// or the last stable offset with isolation_level = read_committed.
	Start int64
	End   int64
	// Lag is End - Committed; with nothing committed, End minus the offset
	// the source would start from (Start for start_offset = earliest, End
	// for latest). It is 0 when what lies between holds no record a
	// consumer would be handed: only transaction markers (a group that read
	// a transactional topic to its end commits the offset after its last
	// record, before the commit marker) and, read_committed, records of
	// aborted transactions.
	Lag int64
}

// Lag reports, per partition of cfg.Topic in partition order, how far
// consumer group cfg.GroupID is behind the end of the log, connecting with
// cfg's brokers and security settings. It creates no topic and commits
// nothing. stage names the pipeline stage in errors ("" for none).
func Lag(cfg *SourceConfig, stage string) ([]PartitionLag, error) {
	sc, err := cfg.saramaConfig()
	if err != nil {
		return nil, err
	}
	client, err := sarama.NewClient(cfg.Brokers, sc)
	if err != nil {
		return nil, reachError("source", stage, &cfg.ClientConfig, err)
	}
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		client.Close()
		return nil, reachError("source", stage, &cfg.ClientConfig, err)
	}
	defer admin.Close() // closes client too
	where := who("source", stage) + ": "
	parts, err := client.Partitions(cfg.Topic)
	if errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		return nil, mark(fmt.Errorf("%stopic %q does not exist on %v", where, cfg.Topic, cfg.Brokers), ErrTopicNotFound, err)
	}
	if err != nil {
		return nil, mark(fmt.Errorf("%stopic %q: %w", where, cfg.Topic, err), accessKind(err)...)
	}
	slices.Sort(parts)
	iso := sarama.ReadUncommitted
	if cfg.IsolationLevel == "read_committed" {
		iso = sarama.ReadCommitted
	}
	starts, err := listOffsets(admin, cfg.Topic, parts, sarama.OffsetOldest, iso)
	if err != nil {
		return nil, fmt.Errorf("%slog start offsets of %q: %w", where, cfg.Topic, err)
	}
	ends, err := listOffsets(admin, cfg.Topic, parts, sarama.OffsetNewest, iso)
	if err != nil {
		return nil, fmt.Errorf("%send offsets of %q: %w", where, cfg.Topic, err)
	}
	committed, err := admin.ListConsumerGroupOffsets(cfg.GroupID, map[string][]int32{cfg.Topic: parts})
	if err != nil && !errors.Is(err, sarama.ErrGroupIDNotFound) {
		return nil, fmt.Errorf("%scommitted offsets of group %q: %w", where, cfg.GroupID, err)
	}
	out := make([]PartitionLag, len(parts))
	for i, p := range parts {
		l := PartitionLag{Topic: cfg.Topic, Partition: p, Committed: -1, Start: starts[p], End: ends[p]}
		if committed != nil {
			if b := committed.GetBlock(cfg.Topic, p); b != nil && b.Offset >= 0 {
				l.Committed = b.Offset
			}
		}
		from := l.Committed
		if from < 0 {
			from = l.Start
			if cfg.StartOffset == "latest" {
				from = l.End
			}
		}
		l.Lag = l.End - from
		if l.Lag > 0 && onlyMarkers(client, cfg.Topic, p, from, l.End, iso) {
			l.Lag = 0
		}
		out[i] = l
	}
	return out, nil
}

// onlyMarkers reports whether partition's log in [from, end) holds nothing
// a consumer at iso is handed (kafkautil.Deliverable); false when it cannot
// tell.
func onlyMarkers(client sarama.Client, topic string, partition int32, from, end int64, iso sarama.IsolationLevel) bool {
	span, err := kafkautil.Deliverable(client, topic, partition, from, end, iso, true)
	return err == nil && span.Complete && span.Records == 0
}

// listOffsets asks the partitions' leaders for the offset at "when"
// (sarama.OffsetOldest or OffsetNewest) of each partition.
func listOffsets(admin sarama.ClusterAdmin, topic string, parts []int32, when int64, iso sarama.IsolationLevel) (map[int32]int64, error) {
	q := make(map[int32]int64, len(parts))
	for _, p := range parts {
		q[p] = when
	}
	res, err := admin.ListOffsets(map[string]map[int32]int64{topic: q}, &sarama.ListOffsetsOptions{IsolationLevel: iso})
	if err != nil {
		return nil, err
	}
	out := make(map[int32]int64, len(parts))
	for _, p := range parts {
		r := res[topic][p]
		switch {
		case r == nil:
			return nil, fmt.Errorf("partition %d: no answer from its leader", p)
		case r.Err != nil && !errors.Is(r.Err, sarama.ErrNoError):
			return nil, fmt.Errorf("partition %d: %w", p, r.Err)
		}
		out[p] = r.Offset
	}
	return out, nil
}
