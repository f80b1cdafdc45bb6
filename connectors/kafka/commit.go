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

	"github.com/conveyor-etl/conveyor/internal/lane"
)

// The batching source commits offsets with its own OffsetCommit requests,
// not sarama's session.Commit: sarama reports a refused commit only on its
// error channel (and silently skips some, such as OFFSETS_LOAD_IN_PROGRESS),
// so a caller cannot know whether its commit took. Reading the coordinator's
// answer per partition is what lets a window slot be freed only on a commit
// the coordinator confirmed.

// errSessionOver reports a commit the coordinator refused because the group
// has moved to a new generation: this member's session is over, and its
// uncommitted records will be read again by the partitions' next owner. It
// is a lane.ErrFenced.
var errSessionOver error = sessionOverError{}

type sessionOverError struct{}

func (sessionOverError) Error() string {
	return "the consumer group rebalanced: this member's session is over"
}

func (sessionOverError) Is(target error) bool { return target == lane.ErrFenced }

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
		done <- result{pending, s.commitOffsets(ctx, sess, pending)}
	}()
	select {
	case r := <-done:
		return r.pending, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// commitOffsets hands offsets (next offset to read, per partition) to the
// committer, under the session's generation, and returns nil only when it
// took every one of them. Each partition it took is recorded in its lane.
// Callers hold sendMu.
func (s *Source) commitOffsets(ctx context.Context, sess sarama.ConsumerGroupSession, offsets map[int32]int64) error {
	if len(offsets) == 0 {
		return nil
	}
	c := lane.Cover{Stage: s.env.Stage.ID, Topic: s.cfg.Topic, Offsets: offsets,
		Group: lane.Group{ID: s.cfg.GroupID, Generation: sess.GenerationID(), Member: sess.MemberID(), InstanceID: s.cfg.GroupInstanceID}}
	err := s.committer.Commit(ctx, c)
	var refused *lane.Refused
	if err != nil && !errors.As(err, &refused) {
		return err
	}
	for p, off := range offsets {
		if refused == nil || refused.Failed[p] == nil {
			s.committedAt(p, off)
		}
	}
	return err
}

// groupCommitter is the at-least-once lane.Committer: the consumer group's
// OffsetCommit, on the source's own coordinator connection, read per
// partition so that a lane's place is freed only on a commit the
// coordinator confirmed.
type groupCommitter struct{ s *Source }

func (g groupCommitter) Commit(_ context.Context, c lane.Cover) error {
	s := g.s
	req := &sarama.OffsetCommitRequest{
		Version:                 8, // Kafka 2.4+: flexible, with group instance id
		ConsumerGroup:           c.Group.ID,
		ConsumerGroupGeneration: c.Group.Generation,
		ConsumerID:              c.Group.Member,
		RetentionTime:           -1, // the broker's (only v2-v4 carry it)
	}
	if id := c.Group.InstanceID; id != "" {
		req.GroupInstanceId = &id
	}
	for p, off := range c.Offsets {
		req.AddBlockWithLeaderEpoch(c.Topic, p, off, -1, 0, "")
	}
	start := time.Now()
	resp, err := s.commits.commit(req)
	s.obs.m.Committed(start)
	if err != nil {
		_ = s.client.RefreshCoordinator(c.Group.ID)
		return err
	}
	refused := &lane.Refused{Failed: map[int32]error{}}
	for p := range c.Offsets {
		kerr, ok := resp.Errors[c.Topic][p]
		switch {
		case !ok:
			refused.Failed[p] = errors.New("no answer for this partition")
		case errors.Is(kerr, sarama.ErrNoError):
		case sessionOver(kerr):
			return fmt.Errorf("%w (%v)", errSessionOver, kerr)
		default:
			refused.Failed[p] = kerr
			if permanentCommitError(kerr) {
				refused.Permanent = true
			}
			if errors.Is(kerr, sarama.ErrNotCoordinatorForConsumer) || errors.Is(kerr, sarama.ErrConsumerCoordinatorNotAvailable) {
				_ = s.client.RefreshCoordinator(c.Group.ID)
			}
		}
	}
	if len(refused.Failed) > 0 {
		return refused
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
