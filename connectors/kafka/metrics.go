package kafka

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/internal/telemetry"
	"github.com/conveyor-etl/conveyor/plugin"
)

// sourceObs is what the batching source keeps for its metrics and the
// run's readiness, per partition it holds. Its methods are hooks the
// source calls at a few points (claimed, emitted, committed); the reading
// side (partitions) runs at scrape and readiness time.
type sourceObs struct {
	m     *telemetry.KafkaSource
	mu    sync.Mutex
	parts map[int32]*partObs
}

// partObs is one claimed partition.
type partObs struct {
	claim sarama.ConsumerGroupClaim // its high watermark and initial offset
	// stamps are the first offset and timestamp of emitted batches not yet
	// committed, oldest first; the head gives the lag in seconds. Capped at
	// maxStamps (a run that commits only at its end, for a sink durable
	// only at flush, needs only the head).
	stamps     []stamp
	lastCommit time.Time
	// start is the first offset the claim read; with no offset committed
	// (a new group) it stands for the committed position. -1 until read.
	start int64
}

type stamp struct {
	first int64
	ts    time.Time
}

const maxStamps = 4096

func newSourceObs() *sourceObs { return &sourceObs{parts: map[int32]*partObs{}} }

// claimed starts following a partition the session gave the source.
func (o *sourceObs) claimed(claim sarama.ConsumerGroupClaim) {
	o.mu.Lock()
	o.parts[claim.Partition()] = &partObs{claim: claim, start: -1}
	o.mu.Unlock()
}

// released stops following a partition whose claim ended.
func (o *sourceObs) released(partition int32) {
	o.mu.Lock()
	delete(o.parts, partition)
	o.mu.Unlock()
}

// emitted records a batch handed to the router.
func (o *sourceObs) emitted(partition int32, first int64, ts time.Time) {
	o.mu.Lock()
	if p := o.parts[partition]; p != nil {
		if p.start < 0 {
			p.start = first
		}
		if len(p.stamps) < maxStamps {
			p.stamps = append(p.stamps, stamp{first, ts})
		}
	}
	o.mu.Unlock()
}

// committed records a commit the coordinator confirmed: offsets before
// next are committed.
func (o *sourceObs) committed(partition int32, next int64) {
	now := time.Now()
	o.mu.Lock()
	if p := o.parts[partition]; p != nil {
		p.lastCommit = now
		i := 0
		for i < len(p.stamps) && p.stamps[i].first < next {
			i++
		}
		p.stamps = p.stamps[i:]
	}
	o.mu.Unlock()
}

// partView is one partition as the metrics and readiness see it.
type partView struct {
	telemetry.KafkaPartition
	position, behind int64
}

// partitions describes the partitions the source holds now.
func (s *Source) partitions() []partView {
	now := time.Now()
	s.obs.mu.Lock()
	views := make([]partView, 0, len(s.obs.parts))
	initial := make([]int64, 0, len(s.obs.parts))
	for id, p := range s.obs.parts {
		v := partView{KafkaPartition: telemetry.KafkaPartition{Topic: s.cfg.Topic, Partition: id, LastCommit: p.lastCommit}}
		if len(p.stamps) > 0 && !p.stamps[0].ts.IsZero() {
			v.LagSeconds = max(now.Sub(p.stamps[0].ts).Seconds(), 0)
		}
		v.behind = p.claim.HighWaterMarkOffset() // the end, for now
		views = append(views, v)
		from := p.claim.InitialOffset() // negative when the group had no offset
		if from < 0 {
			from = p.start
		}
		initial = append(initial, from)
	}
	s.obs.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range views {
		v := &views[i]
		end := v.behind
		committed := initial[i]
		mark := initial[i]
		if st := s.lanes[v.Partition]; st != nil {
			m, c := st.Progress()
			committed = max(committed, c)
			mark = max(mark, m, c)
		}
		if committed < 0 { // nothing committed, nothing read yet: no lag known
			committed, mark = end, end
		}
		v.Lag = max(end-committed, 0)
		v.position, v.behind = mark, max(end-mark, 0)
	}
	return views
}

// kafkaPartitions feeds the lag gauges.
func (s *Source) kafkaPartitions() []telemetry.KafkaPartition {
	views := s.partitions()
	out := make([]telemetry.KafkaPartition, len(views))
	for i, v := range views {
		out[i] = v.KafkaPartition
	}
	return out
}

// Partitions implements plugin.PartitionReporter: the position is the
// offset up to which records are acked.
func (s *Source) Partitions() []plugin.PartitionProgress {
	views := s.partitions()
	out := make([]plugin.PartitionProgress, len(views))
	for i, v := range views {
		out[i] = plugin.PartitionProgress{Origin: v.Topic, Partition: v.Partition, Position: v.position, Behind: v.behind}
	}
	return out
}

// Ready implements plugin.HealthChecker: the source is ready while its
// group session holds at least one partition of the topic.
func (s *Source) Ready() error {
	stopped := s.isStopped()
	s.mu.Lock()
	sess := s.sess
	s.mu.Unlock()
	switch {
	case stopped:
		return errors.New("stopped reading")
	case sess == nil || sess.Context().Err() != nil:
		if err := reachable(s.cfg.Brokers, s.cfg.DialTimeout); err != nil {
			return fmt.Errorf("no broker of %v is reachable (%w): consumer group %q cannot give this member partitions of %q until one is",
				s.cfg.Brokers, err, s.cfg.GroupID, s.cfg.Topic)
		}
		if sess == nil {
			return fmt.Errorf("waiting for partitions of %q from consumer group %q", s.cfg.Topic, s.cfg.GroupID)
		}
		return fmt.Errorf("consumer group %q is rebalancing: waiting for partitions of %q", s.cfg.GroupID, s.cfg.Topic)
	case len(sess.Claims()[s.cfg.Topic]) == 0:
		return fmt.Errorf("holds no partition of %q: the other members of consumer group %q hold them all", s.cfg.Topic, s.cfg.GroupID)
	}
	return nil
}

// Ready implements plugin.HealthChecker: the sink is ready while its
// producer is connected to a broker. It asks disconnected brokers to
// reconnect (without waiting).
func (s *Sink) Ready() error {
	if s.client.Closed() {
		return errors.New("closed")
	}
	brokers := s.client.Brokers()
	for _, b := range brokers {
		if ok, _ := b.Connected(); ok {
			return nil
		}
	}
	for _, b := range brokers {
		_ = b.Open(s.client.Config())
	}
	return fmt.Errorf("not connected to any broker of %v (topic %q)", s.cfg.Brokers, s.cfg.Topic)
}

// reachable returns nil when a TCP connection to one of brokers opens
// within a second (or dial, when shorter), else the last dial error: tells
// a broker outage from a rebalance, for readiness.
func reachable(brokers []string, dial time.Duration) error {
	timeout := time.Second
	if dial > 0 {
		timeout = min(timeout, dial)
	}
	var err error
	for _, b := range brokers {
		var c net.Conn
		if c, err = net.DialTimeout("tcp", b, timeout); err == nil {
			c.Close()
			return nil
		}
	}
	return err
}

// countRetries counts each backoff of the producer's retries.
func countRetries(f func(retries, maxRetries int) time.Duration, env plugin.Env) func(int, int) time.Duration {
	c := telemetry.NewKafkaProducerRetries(env.Registerer())
	return func(retries, maxRetries int) time.Duration {
		c.Inc()
		return f(retries, maxRetries)
	}
}
