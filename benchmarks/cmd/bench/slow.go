package main

import (
	"context"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/conveyor-etl/conveyor/connectors/kafka"
	"github.com/conveyor-etl/conveyor/plugin"
)

// slowKafkaSpec is "slow.kafka": the kafka sink behind a rate limit of
// rate records per second over all writes (0 = unlimited). A write waits
// for its share of time before it reaches the producer, as a slow broker or
// a throttled quota would make it wait, so the pipeline must hold back its
// source rather than buffer the backlog.
func slowKafkaSpec(rate int) *plugin.Spec {
	return &plugin.Spec{
		Name:    "slow.kafka",
		Plugin:  "kafka",
		Summary: "benchmarks: the kafka sink, limited to a fixed number of records per second",
		Sink: plugin.NewFactory(kafka.DefaultSinkConfig, func(_ context.Context, c *kafka.SinkConfig, env plugin.Env) (plugin.Sink, error) {
			s, err := kafka.NewSink(c, env)
			if err != nil {
				return nil, err
			}
			return &slowSink{Sink: s, rate: rate}, nil
		}),
	}
}

type slowSink struct {
	*kafka.Sink
	rate int

	mu   sync.Mutex
	next time.Time // when the limiter is free again
}

// Publish writes through Send, at the limited rate.
func (s *slowSink) Publish(_ string, msgs ...*message.Message) error {
	return plugin.PublishBySend(s, msgs)
}

// Send waits for the limiter, then queues recs.
func (s *slowSink) Send(ctx context.Context, recs []plugin.Record) plugin.Pending {
	if s.rate > 0 && len(recs) > 0 {
		s.mu.Lock()
		now := time.Now()
		if s.next.Before(now) {
			s.next = now
		}
		s.next = s.next.Add(time.Duration(len(recs)) * time.Second / time.Duration(s.rate))
		until := s.next
		s.mu.Unlock()
		select {
		case <-time.After(time.Until(until)):
		case <-ctx.Done():
		}
	}
	return s.Sink.Send(ctx, recs)
}
