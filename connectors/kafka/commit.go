package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/IBM/sarama"
)

// The batching source commits offsets with its own OffsetCommit requests,
// not sarama's session.Commit: sarama reports a refused commit only on its
// error channel (and silently skips some, such as OFFSETS_LOAD_IN_PROGRESS),
// so a caller cannot know whether its commit took. Reading the coordinator's
// answer per partition is what lets a window slot be freed only on a commit
// the coordinator confirmed.

// errSessionOver reports a commit the coordinator refused because the group
// has moved to a new generation: this member's session is over, and its
// uncommitted records will be read again by the partitions' next owner.
var errSessionOver = errors.New("the consumer group rebalanced: this member's session is over")

// commitError is a commit the coordinator refused for some partitions.
type commitError struct {
	failed map[int32]error // by partition
	// permanent is true when retrying cannot help (not authorized, say).
	permanent bool
}

func (e *commitError) Error() string {
	parts := slices.Sorted(maps.Keys(e.failed))
	msgs := make([]string, len(parts))
	for i, p := range parts {
		msgs[i] = fmt.Sprintf("partition %d: %v", p, e.failed[p])
	}
	return "offset commit refused: " + strings.Join(msgs, "; ")
}

// Unwrap gives the partitions' errors (sarama.KErrors), for errors.Is.
func (e *commitError) Unwrap() []error {
	out := make([]error, 0, len(e.failed))
	for _, p := range slices.Sorted(maps.Keys(e.failed)) {
		out = append(out, e.failed[p])
	}
	return out
}

// partitionList names the partitions of offsets, ascending, for messages.
func partitionList(offsets map[int32]int64) string {
	parts := slices.Sorted(maps.Keys(offsets))
	s := make([]string, len(parts))
	for i, p := range parts {
		s[i] = fmt.Sprintf("%d (up to offset %d)", p, offsets[p])
	}
	return strings.Join(s, ", ")
}

// commitPending commits every acked offset of the session's partitions
// that is not committed yet, and returns what it tried to commit and nil
// only when the coordinator took all of it. It gives up waiting when ctx
// ends (the request may still land; a later commit covers the same marks).
func (s *Source) commitPending(ctx context.Context, sess sarama.ConsumerGroupSession) (map[int32]int64, error) {
	type result struct {
		pending map[int32]int64
		err     error
	}
	done := make(chan result, 1)
	go func() {
		// One request at a time, pending read under the same lock, so that
		// requests land in order and none carries older marks than the last.
		s.sendMu.Lock()
		defer s.sendMu.Unlock()
		pending, _ := s.pending(sess)
		done <- result{pending, s.commitOffsets(sess, pending)}
	}()
	select {
	case r := <-done:
		return r.pending, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// commitOffsets commits offsets (next offset to read, per partition) for
// the session's generation and returns nil only when the coordinator took
// every one of them. On success each partition's committed offset is
// recorded in s. Callers hold sendMu.
func (s *Source) commitOffsets(sess sarama.ConsumerGroupSession, offsets map[int32]int64) error {
	if len(offsets) == 0 {
		return nil
	}
	req := &sarama.OffsetCommitRequest{
		Version:                 8, // Kafka 2.4+: flexible, with group instance id
		ConsumerGroup:           s.cfg.GroupID,
		ConsumerGroupGeneration: sess.GenerationID(),
		ConsumerID:              sess.MemberID(),
		RetentionTime:           -1, // the broker's (only v2-v4 carry it)
	}
	if id := s.cfg.GroupInstanceID; id != "" {
		req.GroupInstanceId = &id
	}
	for p, off := range offsets {
		req.AddBlockWithLeaderEpoch(s.cfg.Topic, p, off, -1, 0, "")
	}
	start := time.Now()
	resp, err := s.commits.commit(req)
	s.obs.m.Committed(start)
	if err != nil {
		_ = s.client.RefreshCoordinator(s.cfg.GroupID)
		return err
	}
	ce := &commitError{failed: map[int32]error{}}
	for p, off := range offsets {
		kerr, ok := resp.Errors[s.cfg.Topic][p]
		switch {
		case !ok:
			ce.failed[p] = errors.New("no answer for this partition")
		case errors.Is(kerr, sarama.ErrNoError):
			s.committedAt(p, off)
			s.obs.committed(p, off)
		case sessionOver(kerr):
			return fmt.Errorf("%w (%v)", errSessionOver, kerr)
		default:
			ce.failed[p] = kerr
			if permanentCommitError(kerr) {
				ce.permanent = true
			}
			if errors.Is(kerr, sarama.ErrNotCoordinatorForConsumer) || errors.Is(kerr, sarama.ErrConsumerCoordinatorNotAvailable) {
				_ = s.client.RefreshCoordinator(s.cfg.GroupID)
			}
		}
	}
	if len(ce.failed) > 0 {
		return ce
	}
	return nil
}

// sessionOver reports a commit refused because this member no longer
// belongs to the group's current generation.
func sessionOver(err error) bool {
	return errors.Is(err, sarama.ErrRebalanceInProgress) || errors.Is(err, sarama.ErrIllegalGeneration) ||
		errors.Is(err, sarama.ErrUnknownMemberId) || errors.Is(err, sarama.ErrFencedInstancedId)
}

// permanentCommitError reports a refusal that retrying will not change.
func permanentCommitError(err error) bool {
	return errors.Is(err, sarama.ErrGroupAuthorizationFailed) || errors.Is(err, sarama.ErrTopicAuthorizationFailed) ||
		errors.Is(err, sarama.ErrOffsetMetadataTooLarge) || errors.Is(err, sarama.ErrInvalidCommitOffsetSize) ||
		errors.Is(err, sarama.ErrUnknownTopicOrPartition) || errors.Is(err, sarama.ErrInvalidGroupId)
}
