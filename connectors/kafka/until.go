package kafka

import (
	"fmt"

	"github.com/IBM/sarama"
	"go.uber.org/zap"
)

// claimEnd is the offset a claim reads up to with until = "end": the
// partition's end offset (high watermark) as the claim starts, asked of
// the broker because the claim's own HighWaterMarkOffset is 0 until its
// first fetch. caught reports that the claim starts there already (its
// committed offset is the end, or the partition is empty). Without until,
// end is -1.
func (s *Source) claimEnd(claim sarama.ConsumerGroupClaim) (end int64, caught bool) {
	if s.cfg.Until != UntilEnd {
		return -1, false
	}
	topic, partition := claim.Topic(), claim.Partition()
	end, err := s.client.GetOffset(topic, partition, sarama.OffsetNewest)
	if err != nil {
		s.fail(fmt.Errorf("kafka source %q: until = %q: end offset of %s/%d: %w", s.env.Stage.ID, UntilEnd, topic, partition, err))
		return -1, false
	}
	start := claim.InitialOffset() // the committed offset, or where start_offset says
	switch start {
	case sarama.OffsetNewest:
		start = end
	case sarama.OffsetOldest:
		if start, err = s.client.GetOffset(topic, partition, sarama.OffsetOldest); err != nil {
			s.fail(fmt.Errorf("kafka source %q: until = %q: start offset of %s/%d: %w", s.env.Stage.ID, UntilEnd, topic, partition, err))
			return -1, false
		}
	}
	s.log.Debug("until end: reading partition up to its end offset", zap.Int32("partition", partition), zap.Int64("from", start), zap.Int64("end_offset", end))
	return end, start >= end
}

// caughtUp records that a partition of the session is read up to its end
// offset; once all are, the source stops, as when max_messages is reached.
func (s *Source) caughtUp(partition int32, end int64) {
	s.log.Debug("until end: partition read up to its end offset", zap.Int32("partition", partition), zap.Int64("end_offset", end))
	if s.behind.Add(-1) == 0 {
		s.log.Info("until = \"end\": every partition is read up to the end offset it had when assigned, stopping")
		s.Stop()
	}
}
