package kafka

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
	"github.com/conveyor-etl/conveyor/plugin"
)

// With every broker gone, the source's readiness says so, not that its
// group is rebalancing.
func TestSourceReadySaysBrokersUnreachable(t *testing.T) {
	env, cluster := kafkatest.StartEmbedded(t)
	topic := kafkatest.Name("ready")
	env.CreateTopic(t, topic, 1)
	cfg := DefaultSourceConfig()
	cfg.Brokers, cfg.Topic, cfg.GroupID, cfg.MaxMessages = env.Brokers, topic, kafkatest.Name("g"), 0
	cfg.SessionTimeout = 6 * time.Second
	src, err := NewSource(cfg, plugin.Env{Stage: &config.Stage{ID: "consume"}, Logger: zap.NewNop(), DurableOnAck: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := src.Subscribe(context.Background(), topic); err != nil {
		t.Fatal(err)
	}
	waitReady := func(want func(error) bool, what string) error {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			err := src.Ready()
			if want(err) {
				return err
			}
			if time.Now().After(deadline) {
				t.Fatalf("Ready() = %v after 30 s; want %s", err, what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitReady(func(err error) bool { return err == nil }, "ready")
	cluster.Close()
	err = waitReady(func(err error) bool { return err != nil && !strings.Contains(err.Error(), "rebalancing") }, "a reason other than a rebalance")
	for _, want := range []string{"no broker of", env.Brokers[0], "is reachable", "connection refused"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Ready() = %v; want it to say %q", err, want)
		}
	}
}
