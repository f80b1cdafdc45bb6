package kafka

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
	"github.com/conveyor-etl/conveyor/plugin"
)

// A stop after every broker went away (the group session has ended), with
// every record read committed before: the final commit has nothing to do and succeeds at once, and
// Close returns within closeWait instead of retrying the group's coordinator
// for minutes.
func TestSourceStopWithBrokerGoneIsBounded(t *testing.T) {
	env, cluster := kafkatest.StartEmbedded(t)
	topic := kafkatest.Name("gone")
	env.CreateTopic(t, topic, 1)
	env.Produce(t, topic, []kafkatest.Msg{{Partition: 0, Value: []byte(`{"n":1}`)}, {Partition: 0, Value: []byte(`{"n":2}`)}})
	cfg := DefaultSourceConfig()
	cfg.Brokers, cfg.Topic, cfg.GroupID, cfg.MaxMessages = env.Brokers, topic, kafkatest.Name("g"), 0
	cfg.SessionTimeout = 6 * time.Second
	src, err := NewSource(cfg, plugin.Env{Stage: &config.Stage{ID: "consume"}, Logger: zap.NewNop(), DurableOnAck: true})
	if err != nil {
		t.Fatal(err)
	}
	out, err := src.Subscribe(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for m := range out {
			m.Ack()
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for env.Committed(t, cfg.GroupID, topic)[0] < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the 2 records were not committed within 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cluster.Close()
	deadline = time.Now().Add(30 * time.Second)
	for src.Ready() == nil { // the group session ends: heartbeats fail
		if time.Now().After(deadline) {
			t.Fatal("the group session did not end within 30 s of the broker going")
		}
		time.Sleep(20 * time.Millisecond)
	}

	start := time.Now()
	src.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := src.Commit(ctx); err != nil {
		t.Errorf("final commit with nothing left to commit: %v", err)
	}
	closed := make(chan error, 1)
	go func() { closed <- src.Close() }()
	select {
	case <-closed:
	case <-time.After(closeWait + 5*time.Second):
		t.Fatalf("Close had not returned %s after the stop", time.Since(start).Round(time.Second))
	}
	t.Logf("stop, commit and close took %s", time.Since(start).Round(time.Millisecond))
}
