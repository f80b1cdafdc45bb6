package flow_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// idleOrder is an order of country DE at event time ms.
func idleOrder(id string, partition int32, ms int64) kafkatest.Msg {
	return kafkatest.Msg{Partition: partition, Key: []byte(id),
		Value: []byte(fmt.Sprintf(`{"order_id":%q,"country":"DE","amount":1,"ts":%d}`, id, ms))}
}

// TestIntegrationIdlePartitionClosesWindowsWithoutBatches: behind a
// repartition with idle_timeout_ms = 1000, partition 0 stops after one
// order while partition 1 goes past the window's end with one more order,
// then nothing arrives at all. Partition 0 had sent its order just before,
// so it is not idle when that last batch is read: the window [0, 10 s)
// must close by the wall clock, within about idle_timeout_ms, with both of
// its orders, and nothing else is emitted (the window partition 1 opened
// stays open: its watermark is its own order).
func TestIntegrationIdlePartitionClosesWindowsWithoutBatches(t *testing.T) {
	env := kafkatest.Start(t)
	in, out, dlq, group := kafkatest.Name("orders"), kafkatest.Name("windows"), kafkatest.Name("dlq"), kafkatest.Name("g")
	env.CreateTopic(t, in, 2)
	env.CreateTopic(t, out, 1)
	env.CreateTopic(t, dlq, 1)
	text := strings.Replace(windowPipeline(env, in, out, dlq, group, "max_messages = 0\nbatch_linger_ms = 1"), "grace_ms = 5000", "grace_ms = 5000\nidle_timeout_ms = 1000", 1)
	p, err := config.Load(writePipeline(t, t.TempDir(), text))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { _, err := flow.Execute(ctx, p); ran <- err }()
	waitMembers(t, env, group, 1)
	waitMembers(t, env, group+"-count-repartition", 1)
	env.Produce(t, in, []kafkatest.Msg{idleOrder("a", 0, 5000), idleOrder("b", 1, 6000)})
	time.Sleep(300 * time.Millisecond)
	env.Produce(t, in, []kafkatest.Msg{idleOrder("c", 1, 30000)}) // past [0, 10 s) + grace 5 s
	sent := time.Now()
	var got []string
	for time.Since(sent) < 20*time.Second && len(got) == 0 {
		got = windowRecords(t, env, out)
		select {
		case err := <-ran:
			t.Fatalf("the run ended early: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	took := time.Since(sent)
	if len(got) == 0 {
		t.Fatalf("no window %v after the last order, with idle_timeout_ms = 1000 and partition 0 silent", took.Round(time.Millisecond))
	}
	t.Logf("the window closed %v after the last order", took.Round(time.Millisecond))
	time.Sleep(500 * time.Millisecond)
	got = windowRecords(t, env, out)
	cancel()
	if err := <-ran; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("run: %v", err)
	}
	if len(got) != 1 || !strings.Contains(got[0], `"window_start":"1970-01-01T00:00:00Z"`) || !strings.Contains(got[0], `"orders":2`) {
		t.Errorf("windows %q, want the one of [0, 10 s) with 2 orders", got)
	}
}

// TestIntegrationIdleAfterTheWriterStops: two instances share the groups;
// each partition has an order in the window [0, 10 s); then one instance
// stops, so the marks of the input partitions it wrote stop, and the other
// takes them over. Partition 1 then goes past the window's end and
// partition 0 sends nothing more: the survivor, now writing partition 0,
// finds it silent and marks it idle after idle_timeout_ms, so the window
// is emitted with both orders instead of being held forever.
func TestIntegrationIdleAfterTheWriterStops(t *testing.T) {
	env := kafkatest.Start(t)
	in, out, dlq, group := kafkatest.Name("orders"), kafkatest.Name("windows"), kafkatest.Name("dlq"), kafkatest.Name("g")
	env.CreateTopic(t, in, 2)
	env.CreateTopic(t, out, 1)
	env.CreateTopic(t, dlq, 1)
	text := strings.Replace(windowPipeline(env, in, out, dlq, group, "max_messages = 0\nbatch_linger_ms = 1"), "grace_ms = 5000", "grace_ms = 5000\nidle_timeout_ms = 2000", 1)
	p, err := config.Load(writePipeline(t, t.TempDir(), text))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctx1, stop1 := context.WithCancel(ctx)
	ran := make(chan error, 2)
	go func() { _, err := flow.Execute(ctx1, p); ran <- err }()
	go func() { _, err := flow.Execute(ctx, p); ran <- err }()
	waitMembers(t, env, group, 2)
	waitMembers(t, env, group+"-count-repartition", 2)
	env.Produce(t, in, []kafkatest.Msg{idleOrder("a", 0, 5000), idleOrder("b", 1, 6000)})
	time.Sleep(time.Second) // both read, written and taken in
	stop1()
	if err := <-ran; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("the stopped instance: %v", err)
	}
	waitMembers(t, env, group, 1)
	waitMembers(t, env, group+"-count-repartition", 1)
	env.Produce(t, in, []kafkatest.Msg{idleOrder("c", 1, 30000)})
	sent := time.Now()
	var got []string
	for time.Since(sent) < 30*time.Second && len(got) == 0 {
		got = windowRecords(t, env, out)
		select {
		case err := <-ran:
			t.Fatalf("the surviving instance ended early: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if len(got) == 0 {
		t.Fatalf("no window %v after the last order, with idle_timeout_ms = 2000 and partition 0's writer stopped", time.Since(sent).Round(time.Millisecond))
	}
	t.Logf("the window closed %v after the last order", time.Since(sent).Round(time.Millisecond))
	time.Sleep(500 * time.Millisecond)
	got = windowRecords(t, env, out)
	cancel()
	if err := <-ran; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("run: %v", err)
	}
	if len(got) != 1 || !strings.Contains(got[0], `"window_start":"1970-01-01T00:00:00Z"`) || !strings.Contains(got[0], `"orders":2`) {
		t.Errorf("windows %q, want the one of [0, 10 s) with 2 orders, once", got)
	}
}
