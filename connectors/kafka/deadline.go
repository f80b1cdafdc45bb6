package kafka

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"
	"go.uber.org/zap"
)

// bounded is what runDeadline needs of a source.
type bounded struct {
	cfg      *SourceConfig
	stageID  string
	log      *zap.Logger
	assigned <-chan struct{} // closed when the group first gives this member partitions
	stopped  <-chan struct{} // closed when the source stops
	stop     func()
	fail     func(error)
}

// runDeadline stops a bounded run d (timeout_ms) after the group first
// assigned it partitions: time spent waiting for a crashed member's session
// to expire does not count. A run that gets no partitions within
// cfg.assignWait fails, saying why, rather than ending with nothing read.
func runDeadline(b bounded, d time.Duration) {
	wait := b.cfg.assignWait()
	select {
	case <-b.assigned:
	case <-b.stopped:
		return
	case <-time.After(wait):
		b.fail(fmt.Errorf("kafka source %q: timed out after %s waiting for partitions of %q (group %q): other members hold them all. "+
			"The group may have more members than the topic has partitions, or a crashed run's member keeps them until its session expires "+
			"(session_timeout_ms = %d); set group_instance_id so that a restarted run takes its partitions back at once",
			b.stageID, wait, b.cfg.Topic, b.cfg.GroupID, b.cfg.SessionTimeout.Milliseconds()))
		return
	}
	select {
	case <-time.After(d):
		b.log.Info("timeout reached, stopping", zap.Duration("timeout", d))
		b.stop()
	case <-b.stopped:
	}
}

// assignWait is how long a bounded run waits for partitions: long enough
// for a crashed member's session to expire and the group to rebalance.
func (c *SourceConfig) assignWait() time.Duration {
	return c.SessionTimeout + c.DrainTimeout + 15*time.Second
}

// memberAssigned asks group's coordinator whether its member that joined
// with userData (sarama's Consumer.Group.Member.UserData, which the range
// strategy leaves as it is) holds partitions of topic in a stable
// generation. The per-message source learns its assignment this way: the
// stock subscriber does not tell.
func memberAssigned(client sarama.Client, group, topic string, userData []byte) (bool, error) {
	parts, stable, err := memberPartitions(client, group, topic, userData)
	return stable && len(parts) > 0, err
}

// memberPartitions returns the partitions of topic that group's member
// that joined with userData holds, and whether the group is stable (when
// it is not, the partitions say nothing).
func memberPartitions(client sarama.Client, group, topic string, userData []byte) (parts []int32, stable bool, err error) {
	coord, err := client.Coordinator(group)
	if err != nil {
		return nil, false, err
	}
	resp, err := coord.DescribeGroups(&sarama.DescribeGroupsRequest{Groups: []string{group}})
	if err != nil {
		_ = client.RefreshCoordinator(group)
		return nil, false, err
	}
	for _, g := range resp.Groups {
		if g.GroupId != group {
			continue
		}
		if !errors.Is(g.Err, sarama.ErrNoError) {
			return nil, false, g.Err
		}
		if g.State != "Stable" {
			return nil, false, nil
		}
		for _, m := range g.Members {
			meta, err := m.GetMemberMetadata()
			if err != nil || meta == nil || !bytes.Equal(meta.UserData, userData) {
				continue
			}
			a, err := m.GetMemberAssignment()
			if err != nil {
				return nil, false, err
			}
			if a != nil {
				parts = a.Topics[topic]
			}
			return parts, true, nil
		}
		return nil, true, nil // not a member (any more)
	}
	return nil, false, nil
}
