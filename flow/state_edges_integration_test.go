package flow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// edgeOrders are n distinct orders, each sent twice, keyed by its id (so
// both copies are in one partition and dedupe.apply needs no repartition).
func edgeOrders(n int) []kafkatest.Msg {
	msgs := make([]kafkatest.Msg, 0, 2*n)
	for copy := range 2 {
		for i := range n {
			id := fmt.Sprintf("o-%04d", i)
			msgs = append(msgs, kafkatest.Msg{Partition: -1, Key: []byte(id), Value: []byte(fmt.Sprintf(`{"order_id":%q,"copy":%d}`, id, copy))})
		}
	}
	return msgs
}

func dedupeEdgePipeline(env kafkatest.Env, in, group, eh string) string {
	return fmt.Sprintf(`[pipeline]
name = "state-edge"
[[stages]]
id = "consume"
function = "kafka"
[stages.config]
brokers = %q
topic = %q
group_id = %q
max_messages = 0
batch_size = 20
drain_timeout_ms = 1000
session_timeout_ms = 6000
[[stages]]
id = "dedupe"
function = "dedupe.apply"
inputs = ["consume"]
[stages.config]
key = "order_id"
repartition = "never"
[[stages]]
id = "out"
function = "test.blocking"
inputs = ["dedupe"]
%s`, env.BrokerList(), in, group, eh)
}

// received is what a blockingPublisher took: per order id, the
// partition/offset of each record of it.
func received(t *testing.T, pub *blockingPublisher, env kafkatest.Env, in string) map[string][][2]int64 {
	t.Helper()
	out := map[string][][2]int64{}
	byOffset := map[[2]int64]string{}
	for _, m := range env.ReadAll(t, in) {
		var r struct {
			ID string `json:"order_id"`
		}
		if err := json.Unmarshal(m.Value, &r); err != nil {
			t.Fatal(err)
		}
		byOffset[[2]int64{int64(m.Partition), m.Offset}] = r.ID
	}
	pub.mu.Lock()
	defer pub.mu.Unlock()
	for part, offs := range pub.got {
		for off, times := range offs {
			for range times {
				id := byOffset[[2]int64{int64(part), off}]
				out[id] = append(out[id], [2]int64{int64(part), off})
			}
		}
	}
	return out
}

// TestIntegrationDedupeStopWhileSinkBlocked: a dedupe.apply whose sink is
// blocked is stopped (its writes cut off at drain_timeout_ms), under
// continue and under retry with a dead-letter file, then run again with
// a sink that takes everything. Nothing is lost (every distinct order
// reaches a sink, from the first run below the committed offsets or from
// the second), nothing is counted twice (no order the first run committed
// comes out again: its identity was restored from the changelog, and only
// up to what was committed, since what the cut-off batches did was never
// written to it), nothing is dead-lettered or counted failed.
func TestIntegrationDedupeStopWhileSinkBlocked(t *testing.T) {
	env := kafkatest.Start(t)
	for name := range cutOffStrategies("") {
		t.Run(name, func(t *testing.T) {
			const distinct = 300
			dlq := filepath.Join(t.TempDir(), "dead.jsonl")
			eh := cutOffStrategies(dlq)[name]
			in, group := kafkatest.Name("in"), kafkatest.Name("g")
			env.CreateTopic(t, in, 3)
			env.Produce(t, in, edgeOrders(distinct))
			p, err := config.Parse("edge.toml", []byte(dedupeEdgePipeline(env, in, group, eh)))
			if err != nil {
				t.Fatal(err)
			}
			// The first run: the sink blocks after 100 records; stopped.
			pub1 := newBlockingPublisher(100)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			var sum1 flow.Summary
			go func() {
				var err error
				sum1, err = flow.Execute(ctx, p, flow.WithRegistry(registerBlocking(t, pub1)))
				done <- err
			}()
			select {
			case <-pub1.blocked:
			case <-time.After(60 * time.Second):
				t.Fatal("the sink never blocked")
			}
			time.Sleep(300 * time.Millisecond) // more batches reach the blocked sink
			cancel()
			select {
			case err := <-done:
				t.Logf("first run: %v; %v", err, sum1)
			case <-time.After(60 * time.Second):
				t.Fatal("the first run did not stop")
			}
			checkCutOff(t, env, pub1, group, in, dlq, sum1)
			committed := env.Committed(t, group, in)

			// The second run takes everything.
			pub2 := newBlockingPublisher(1 << 30)
			ctx2, cancel2 := context.WithCancel(context.Background())
			defer cancel2()
			var sum2 flow.Summary
			go func() {
				var err error
				sum2, err = flow.Execute(ctx2, p, flow.WithRegistry(registerBlocking(t, pub2)))
				done <- err
			}()
			deadline := time.Now().Add(60 * time.Second)
			ends := env.EndOffsets(t, in)
			for {
				c := env.Committed(t, group, in)
				caught := true
				for part, end := range ends {
					caught = caught && c[part] >= end
				}
				if caught {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the second run committed %v of %v in 60 s", c, ends)
				}
				time.Sleep(100 * time.Millisecond)
			}
			cancel2()
			if err := <-done; err != nil && !strings.Contains(err.Error(), "context canceled") {
				t.Errorf("second run: %v", err)
			}
			if sum2.Failed != 0 || sum2.DeadLettered != 0 {
				t.Errorf("second run counted failed=%d dead_lettered=%d", sum2.Failed, sum2.DeadLettered)
			}
			if b, err := os.ReadFile(dlq); err == nil && len(b) > 0 {
				t.Errorf("dead letters: %s", b)
			}

			first, second := received(t, pub1, env, in), received(t, pub2, env, in)
			kept := map[string]int{} // the first run's outputs below its commits, then the second's
			for id, at := range first {
				for _, a := range at {
					if a[1] < committed[int32(a[0])] {
						kept[id]++
					}
				}
			}
			t.Logf("first run: %d distinct orders out below its commits %v; second run: %d", len(kept), committed, len(second))
			outs := kept
			for id, at := range second {
				outs[id] += len(at)
			}
			checkDedupeOut(t, distinct, outs)
			if len(second) == 0 || len(second) == distinct {
				t.Errorf("the second run put out %d of %d orders: the test did not stop the first run halfway", len(second), distinct)
			}
		})
	}
}

// checkDedupeOut fails the test unless each of the distinct orders came
// out exactly once (outs: times out, by order id).
func checkDedupeOut(t *testing.T, distinct int, outs map[string]int) {
	t.Helper()
	var lost, twice []string
	for i := range distinct {
		id := fmt.Sprintf("o-%04d", i)
		switch n := outs[id]; {
		case n == 0:
			lost = append(lost, id)
		case n > 1:
			twice = append(twice, fmt.Sprintf("%s (%d times)", id, n))
		}
	}
	if len(lost) > 0 || len(twice) > 0 {
		t.Errorf("%d order(s) lost %v; %d out more than once %v", len(lost), first10(lost), len(twice), first10(twice))
	}
}

func first10(s []string) []string { return s[:min(len(s), 10)] }

// TestIntegrationDedupeRebalanceWhileSinkBlocked: while a dedupe.apply's
// sink is blocked, another member joins the group, so the run's claims
// end and their blocked writes are cut off at drain_timeout_ms; the sink
// is released, and the member leaves, so the run gets every partition
// back and reads on. Under continue and under retry with a dead-letter
// file, each distinct order comes out once: the partitions whose claims
// ended are restored from the changelog, which holds only what was
// committed, so the cut-off batches are processed again, and what was
// committed is not.
func TestIntegrationDedupeRebalanceWhileSinkBlocked(t *testing.T) {
	env := kafkatest.Start(t)
	for name := range cutOffStrategies("") {
		t.Run(name, func(t *testing.T) {
			const distinct = 300
			dlq := filepath.Join(t.TempDir(), "dead.jsonl")
			eh := cutOffStrategies(dlq)[name]
			in, group := kafkatest.Name("in"), kafkatest.Name("g")
			env.CreateTopic(t, in, 4)
			env.Produce(t, in, edgeOrders(distinct))
			p, err := config.Parse("edge.toml", []byte(dedupeEdgePipeline(env, in, group, eh)))
			if err != nil {
				t.Fatal(err)
			}
			pub := newBlockingPublisher(100)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			var sum flow.Summary
			go func() {
				var err error
				sum, err = flow.Execute(ctx, p, flow.WithRegistry(registerBlocking(t, pub)))
				done <- err
			}()
			select {
			case <-pub.blocked:
			case <-time.After(60 * time.Second):
				t.Fatal("the sink never blocked")
			}
			idle, leave := startIdleMemberStop(t, env, group, in, "sarama")
			select {
			case <-idle.assigned:
			case <-time.After(60 * time.Second):
				t.Fatal("the second member was never assigned partitions")
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				pub.mu.Lock()
				cut := pub.cut
				pub.mu.Unlock()
				if cut > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("no blocked write was cut off by the rebalance")
				}
				time.Sleep(50 * time.Millisecond)
			}
			close(pub.release)
			leave()
			ends := env.EndOffsets(t, in)
			deadline = time.Now().Add(90 * time.Second)
			for {
				c := env.Committed(t, group, in)
				caught := true
				for part, end := range ends {
					caught = caught && c[part] >= end
				}
				if caught {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the run committed %v of %v in 90 s", c, ends)
				}
				time.Sleep(100 * time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil && !strings.Contains(err.Error(), "context canceled") {
				t.Errorf("run: %v", err)
			}
			t.Logf("run: %v", sum)
			if sum.Failed != 0 || sum.DeadLettered != 0 {
				t.Errorf("counted failed=%d dead_lettered=%d", sum.Failed, sum.DeadLettered)
			}
			if b, err := os.ReadFile(dlq); err == nil && len(b) > 0 {
				t.Errorf("dead letters: %s", b)
			}
			outs := map[string]int{}
			for id, at := range received(t, pub, env, in) {
				outs[id] = len(at)
			}
			checkDedupeOut(t, distinct, outs)
		})
	}
}
