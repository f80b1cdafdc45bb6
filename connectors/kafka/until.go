package kafka

import (
	"errors"
	"fmt"
	"time"

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
	end, err := s.endOffset(topic, partition)
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

// endOffset is partition's end offset as the source reads it: the high
// watermark, or with isolation_level = read_committed the last stable
// offset (records of a transaction still open at the LSO are not read until
// it ends, so an end past them would never be reached).
func (s *Source) endOffset(topic string, partition int32) (int64, error) {
	if s.cfg.IsolationLevel != "read_committed" {
		return s.client.GetOffset(topic, partition, sarama.OffsetNewest)
	}
	broker, err := s.client.Leader(topic, partition)
	if err != nil {
		return 0, err
	}
	req := &sarama.OffsetRequest{Version: 2, IsolationLevel: sarama.ReadCommitted}
	req.AddBlock(topic, partition, sarama.OffsetNewest, 1)
	resp, err := broker.GetAvailableOffsets(req)
	if err != nil {
		return 0, err
	}
	b := resp.GetBlock(topic, partition)
	switch {
	case b == nil:
		return 0, fmt.Errorf("no answer for partition %d", partition)
	case !errors.Is(b.Err, sarama.ErrNoError):
		return 0, b.Err
	}
	return b.Offset, nil
}

// endIdle is how long a partition read with until = "end" may deliver
// nothing, with its high watermark at or past its end offset, before it
// counts as caught up although its last record delivered is below the end:
// the offsets left are transaction markers (commit or abort, never
// delivered) or aborted records (read_committed), so no record would ever
// reach the end.
const endIdle = time.Second

// pastEnd reports whether a claim that has delivered nothing for endIdle
// is caught up with end (see endIdle).
func pastEnd(claim sarama.ConsumerGroupClaim, end int64) bool {
	return end >= 0 && claim.HighWaterMarkOffset() >= end
}

// caughtUp records that a partition of the session is read up to its end
// offset; once all are, the source stops, as when max_messages is reached.
func (s *Source) caughtUp(partition int32, end int64) {
	s.log.Debug("until end: partition read up to its end offset", zap.Int32("partition", partition), zap.Int64("end_offset", end))
	if s.behind.Add(-1) == 0 {
		s.log.Info("until = \"end\": every partition is read up to the end offset it had when assigned, stopping")
		s.finish()
	}
}
