package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"
	"go.uber.org/zap"
)

// A kafka stage never creates a topic by asking for it: every client's
// metadata requests say "do not create" (saramaConfig), whatever the
// broker's auto.create.topics.enable. A source fails with ErrTopicNotFound
// when its topic is missing (or waits wait_for_topic_ms for it); a sink
// does too unless create_topic = true, which creates it explicitly.

// awaitTopic refreshes topic's metadata until it exists, for up to wait
// (0: one look), or until ctx ends. It returns nil, or the last error: a
// sarama.ErrUnknownTopicOrPartition when the topic never showed up.
func awaitTopic(ctx context.Context, client sarama.Client, topic string, wait time.Duration, log *zap.Logger) error {
	deadline := time.Now().Add(wait)
	for logged := false; ; logged = true {
		err := client.RefreshMetadata(topic)
		if err == nil || !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
			return err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return err
		}
		if !logged {
			log.Info("topic does not exist yet, waiting for it (wait_for_topic_ms)", zap.String("topic", topic), zap.Duration("wait", wait))
		}
		select {
		case <-time.After(min(left, time.Second)):
		case <-ctx.Done():
			return err
		}
	}
}

// topicError explains a failed look at topic for the stage ("" for none) of
// role, marking a missing topic ErrTopicNotFound with hint appended.
func topicError(role, stage, topic string, brokers []string, hint string, err error) error {
	if errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		return mark(fmt.Errorf("%s: topic %q does not exist on %v: %s", who(role, stage), topic, brokers, hint), ErrTopicNotFound, err)
	}
	return mark(fmt.Errorf("%s: topic %q: %w", who(role, stage), topic, err), accessKind(err)...)
}

// checkTopic fails early and clearly when the source's topic does not
// exist (after waiting wait_for_topic_ms for it, when set).
func (s *Source) checkTopic(ctx context.Context) error {
	err := awaitTopic(ctx, s.client, s.cfg.Topic, s.cfg.WaitForTopic, s.log)
	if err == nil {
		return nil
	}
	return topicError("source", s.env.Stage.ID, s.cfg.Topic, s.cfg.Brokers, sourceTopicHint(s.cfg), err)
}

// sourceTopicHint says what to do about a source topic that is missing.
func sourceTopicHint(c *SourceConfig) string {
	if c.WaitForTopic > 0 {
		return fmt.Sprintf("waited wait_for_topic_ms = %d for it; a source never creates its topic: check the name, or create it first", c.WaitForTopic.Milliseconds())
	}
	return "a source never creates its topic: check the name, or create it first (or set wait_for_topic_ms to wait for it)"
}

// ensureSinkTopic checks that the sink's topic exists, creating it first
// with create_topic = true. An empty topic is the Publisher's, which checks
// each topic Publish names.
func ensureSinkTopic(client sarama.Client, cfg *SinkConfig, stage string) error {
	if cfg.Topic == "" {
		return nil
	}
	if cfg.CreateTopic {
		if err := createTopic(client, cfg, cfg.Topic); err != nil {
			return mark(fmt.Errorf("%s: create_topic: creating topic %q: %w", who("sink", stage), cfg.Topic, err), accessKind(err)...)
		}
	}
	if err := client.RefreshMetadata(cfg.Topic); err != nil {
		return topicError("sink", stage, cfg.Topic, cfg.Brokers,
			"create it first, or set create_topic = true to have the sink create it (with partitions and replication_factor, or the broker's defaults)", err)
	}
	return nil
}

// createTopic creates topic unless it exists, with cfg's partitions and
// replication_factor (0: the broker's num.partitions and
// default.replication.factor), through the client's controller.
func createTopic(client sarama.Client, cfg *SinkConfig, topic string) error {
	detail := &sarama.TopicDetail{NumPartitions: -1, ReplicationFactor: -1}
	if cfg.Partitions > 0 {
		detail.NumPartitions = int32(cfg.Partitions)
	}
	if cfg.ReplicationFactor > 0 {
		detail.ReplicationFactor = int16(cfg.ReplicationFactor)
	}
	_, err := createTopicWith(client, topic, detail)
	return err
}

// createTopicWith creates topic as detail says, through the client's
// controller; existed reports that it was there already.
func createTopicWith(client sarama.Client, topic string, detail *sarama.TopicDetail) (existed bool, err error) {
	controller, err := client.Controller()
	if err != nil {
		return false, err
	}
	req := sarama.NewCreateTopicsRequest(client.Config().Version, map[string]*sarama.TopicDetail{topic: detail}, 30*time.Second, false)
	resp, err := controller.CreateTopics(req)
	if err != nil {
		return false, err
	}
	if e := resp.TopicErrors[topic]; e != nil && !errors.Is(e.Err, sarama.ErrNoError) {
		if errors.Is(e.Err, sarama.ErrTopicAlreadyExists) {
			return true, nil
		}
		return false, e
	}
	return false, nil
}

// sayIfNothingRead warns, as a run ends, that the source read no record
// although nothing failed: the topic is empty, or the group has already
// read it all (a run that did nothing says why).
func (s *Source) sayIfNothingRead() {
	if !s.subscribed.Load() || s.asMessage != nil || s.records.Load() > 0 || s.Err() != nil {
		return
	}
	s.log.Warn(fmt.Sprintf("kafka source %q read no records: topic %q holds none after consumer group %q's committed offsets (it is empty, or the group has already read it all)",
		s.env.Stage.ID, s.cfg.Topic, s.cfg.GroupID))
}
