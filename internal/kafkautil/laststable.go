package kafkautil

import (
	"errors"

	"github.com/IBM/sarama"
)

// LastStable asks topic's partition p's leader for its last stable offset
// (ListOffsets, read_committed), once.
func LastStable(client sarama.Client, topic string, p int32) (int64, error) {
	broker, err := client.Leader(topic, p)
	if err != nil {
		return 0, err
	}
	req := sarama.NewOffsetRequest(client.Config().Version)
	req.IsolationLevel = sarama.ReadCommitted
	req.AddBlock(topic, p, sarama.OffsetNewest, 1)
	resp, err := broker.GetAvailableOffsets(req)
	if err != nil {
		return 0, err
	}
	b := resp.GetBlock(topic, p)
	switch {
	case b == nil:
		return 0, sarama.ErrIncompleteResponse
	case !errors.Is(b.Err, sarama.ErrNoError):
		return 0, b.Err
	case len(b.Offsets) == 1:
		return b.Offsets[0], nil
	}
	return 0, sarama.ErrOffsetOutOfRange
}
