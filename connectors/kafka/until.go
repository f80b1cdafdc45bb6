package kafka

import (
	"fmt"
	"time"

	"github.com/IBM/sarama"
	"go.uber.org/zap"
)

// claimEnd is the offset a claim reads up to with until = "end": the
// partition's end offset (high watermark) as the claim starts, asked of
// the broker because the claim's own HighWaterMarkOffset is 0 until its
// first fetch; and start, the offset the claim reads from. caught reports
// that the claim starts there already (its committed offset is the end, or
// the partition is empty). Without until, end is -1.
//
// The end is the high watermark with either isolation level: records of a
// transaction still open when the claim starts lie below it, and a
// read_committed claim waits for that transaction to end (they are read if
// it commits, skipped if it aborts) rather than stopping at the last
// stable offset before them.
func (s *Source) claimEnd(claim sarama.ConsumerGroupClaim) (end, start int64, caught bool) {
	if s.cfg.Until != UntilEnd {
		return -1, -1, false
	}
	topic, partition := claim.Topic(), claim.Partition()
	end, err := s.client.GetOffset(topic, partition, sarama.OffsetNewest)
	if err != nil {
		s.fail(fmt.Errorf("kafka source %q: until = %q: end offset of %s/%d: %w", s.env.Stage.ID, UntilEnd, topic, partition, err))
		return -1, -1, false
	}
	start = claim.InitialOffset() // the committed offset, or where start_offset says
	switch start {
	case sarama.OffsetNewest:
		start = end
	case sarama.OffsetOldest:
		if start, err = s.client.GetOffset(topic, partition, sarama.OffsetOldest); err != nil {
			s.fail(fmt.Errorf("kafka source %q: until = %q: start offset of %s/%d: %w", s.env.Stage.ID, UntilEnd, topic, partition, err))
			return -1, -1, false
		}
	}
	s.log.Debug("until end: reading partition up to its end offset", zap.Int32("partition", partition), zap.Int64("from", start), zap.Int64("end_offset", end))
	return end, start, start >= end
}

// endPoll is how often a partition read with until = "end" that has
// delivered nothing since the last poll, its next offset still below the
// end, asks the log what lies between them (see pastEnd). Only the cost of
// that question depends on it, not the decision.
const endPoll = 250 * time.Millisecond

// pastEnd reports whether a claim whose next offset is next has nothing
// left to deliver below end: the log in [next, end) holds only transaction
// markers (which the consumer reads past without delivering) and, with
// read_committed, records of aborted transactions. While a transaction
// there is still open (read_committed: the log is visible only up to the
// last stable offset) or a record remains, it is not past the end.
func (s *Source) pastEnd(claim sarama.ConsumerGroupClaim, next, end int64) bool {
	if end < 0 || next >= end {
		return end >= 0
	}
	iso := sarama.ReadUncommitted
	if s.cfg.IsolationLevel == "read_committed" {
		iso = sarama.ReadCommitted
	}
	return onlyMarkers(s.client, claim.Topic(), claim.Partition(), next, end, iso) // an error: asked again at the next poll
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
