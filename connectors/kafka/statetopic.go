package kafka

import (
	"context"
	"fmt"
	"time"

	"github.com/IBM/sarama"
	"go.uber.org/zap"
)

// stateClient connects to the source's cluster for a topic that holds a
// stage's state (what names it in errors: its changelog, its repartition
// topic), with a producer that writes with acks=all, idempotent, to the
// partition each message names, one request at a time per broker (so a
// partition's writes land in the order sent); tune adjusts the config. It
// returns the client and the source topic's partition count.
func (s *Source) stateClient(what string, tune func(*sarama.Config)) (sarama.Client, int32, error) {
	parts, err := s.client.Partitions(s.cfg.Topic)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: partitions of %q: %w", what, s.cfg.Topic, err)
	}
	sc, err := s.cfg.saramaConfig()
	if err != nil {
		return nil, 0, err
	}
	sc.Producer.RequiredAcks = sarama.WaitForAll
	sc.Producer.Idempotent = true
	sc.Producer.Return.Successes = true
	sc.Producer.Retry.Max = 10
	sc.Producer.Partitioner = sarama.NewManualPartitioner
	sc.Net.MaxOpenRequests = 1
	tune(sc)
	client, err := sarama.NewClient(s.cfg.Brokers, sc)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", what, err)
	}
	return client, int32(len(parts)), nil
}

// createStateTopic creates topic with n partitions and configs (the
// broker's default replication factor), and waits for it; existed reports
// that it was there already, unchecked.
func createStateTopic(client sarama.Client, what, topic string, n int32, configs map[string]*string) (existed bool, err error) {
	existed, err = createTopicWith(client, topic, &sarama.TopicDetail{NumPartitions: n, ReplicationFactor: -1, ConfigEntries: configs})
	if err != nil {
		return false, fmt.Errorf("%s: creating it: %w", what, err)
	}
	if existed {
		return true, nil
	}
	return false, awaitTopic(context.Background(), client, topic, 10*time.Second, zap.NewNop())
}
