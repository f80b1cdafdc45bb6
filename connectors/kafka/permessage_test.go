package kafka

import (
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
	"github.com/conveyor-etl/conveyor/plugin"
)

// A per-message source that was built but never subscribed (another stage
// failed to build, say) closes at once instead of waiting for a forward
// loop that never started, and closing it twice at once (the router and
// the runner both do) does not panic in sarama's client.Close.
func TestPerMessageSourceClosesUnsubscribed(t *testing.T) {
	env := kafkatest.Start(t)
	cfg := DefaultSourceConfig()
	cfg.Brokers, cfg.Topic, cfg.GroupID, cfg.Delivery = env.Brokers, kafkatest.Name("t"), kafkatest.Name("g"), "per-message"
	src, err := newPerMessageSource(cfg, plugin.Env{Stage: &config.Stage{ID: "consume"}, Logger: zap.NewNop(), DurableOnAck: true})
	if err != nil {
		t.Fatal(err)
	}
	// The router and the runner both close it, concurrently.
	done := make(chan error, 2)
	go func() { done <- src.Close() }()
	go func() { done <- src.Close() }()
	for range 2 {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Close of a never-subscribed per-message source hung")
		}
	}
}
