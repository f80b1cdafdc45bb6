package kafka

import (
	"context"
	"fmt"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/internal/state"
)

var _ state.Identified = (*changelog)(nil)

// Name implements state.Identified: the changelog's topic.
func (c *changelog) Name() string { return c.topic }

// Identity implements state.Identified: the topic's name, its topic id and
// the cluster's id, which change when the topic is deleted and created
// again, or is another cluster's. A broker too old for topic ids (before
// Kafka 2.8) gives the name and cluster alone.
func (c *changelog) Identity(context.Context) (string, error) {
	b := c.client.LeastLoadedBroker()
	if b == nil {
		return "", fmt.Errorf("no broker to ask for the metadata of %q", c.topic)
	}
	resp, err := b.GetMetadata(sarama.NewMetadataRequest(c.client.Config().Version, []string{c.topic}))
	if err != nil {
		return "", fmt.Errorf("metadata of %q: %w", c.topic, err)
	}
	cluster := ""
	if resp.ClusterID != nil {
		cluster = *resp.ClusterID
	}
	for _, t := range resp.Topics {
		if t.Name == c.topic {
			return fmt.Sprintf("%s topic %s in cluster %s", c.topic, t.Uuid, cluster), nil
		}
	}
	return "", fmt.Errorf("metadata of %q: the topic is missing", c.topic)
}
