package flow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
	"github.com/conveyor-etl/conveyor/plugin"
)

// blockingPublisher is a foreign Watermill Publisher: it takes whole
// Publish calls until it holds limit records, then blocks each call until
// its messages' context ends (and fails it with the context's error) or
// release is closed. It remembers the offsets it received per partition.
type blockingPublisher struct {
	limit   int
	release chan struct{}
	blocked chan struct{} // closed when a call first blocks
	ignore  bool          // block even past the context's end, until release

	mu       sync.Mutex
	n        int
	got      map[int32]map[int64]int // times each offset was received
	blockOne sync.Once
	cut      int // calls that returned because their context ended
}

func newBlockingPublisher(limit int) *blockingPublisher {
	return &blockingPublisher{limit: limit, release: make(chan struct{}), blocked: make(chan struct{}), got: map[int32]map[int64]int{}}
}

func (p *blockingPublisher) Publish(_ string, msgs ...*message.Message) error {
	p.mu.Lock()
	full := p.n >= p.limit
	p.mu.Unlock()
	if full {
		p.blockOne.Do(func() { close(p.blocked) })
		done := msgs[0].Context().Done()
		if p.ignore {
			done = nil
		}
		select {
		case <-p.release:
		case <-done:
			p.mu.Lock()
			p.cut++
			p.mu.Unlock()
			return msgs[0].Context().Err()
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range msgs {
		var r struct {
			P int32 `json:"_kafka_partition"`
			O int64 `json:"_kafka_offset"`
		}
		if err := json.Unmarshal(m.Payload, &r); err != nil {
			return err
		}
		if p.got[r.P] == nil {
			p.got[r.P] = map[int64]int{}
		}
		p.got[r.P][r.O]++
		p.n++
	}
	return nil
}

func (p *blockingPublisher) Close() error { return nil }

// covers counts the offsets of partition part below end the publisher
// never received, and names the first.
func (p *blockingPublisher) covers(part int32, end int64) (missing int64, first int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	first = -1
	for o := range end {
		if p.got[part][o] == 0 {
			if first < 0 {
				first = o
			}
			missing++
		}
	}
	return missing, first
}

// registerBlocking registers test.blocking, a sink over pub through
// plugin.PublisherSink.
func registerBlocking(t testing.TB, pub *blockingPublisher) *plugin.Registry {
	t.Helper()
	reg := plugin.Default().Clone()
	if err := reg.Register(&plugin.Spec{Name: "test.blocking", Plugin: "test", Sink: plugin.PublisherSink(
		func() *struct{} { return &struct{}{} },
		func(context.Context, *struct{}, plugin.Env) (plugin.ForeignPublisher, error) {
			return plugin.ForeignPublisher{Publisher: pub, Topic: "t", KeepOpen: true}, nil
		})}); err != nil {
		t.Fatal(err)
	}
	return reg
}

// cutOffStrategies are the error strategies that skip or divert records:
// a write cut off must reach neither.
func cutOffStrategies(dlq string) map[string]string {
	return map[string]string{
		"continue":  "[error_handling]\nstrategy = \"continue\"\n",
		"retry+dlq": fmt.Sprintf("[error_handling]\nstrategy = \"retry\"\nmax_retries = 100\nretry_delay_seconds = 0.05\ndead_letter_queue = { path = %q }\n", dlq),
	}
}

func cutOffPipeline(env kafkatest.Env, in, group, eh string) string {
	return fmt.Sprintf(`[pipeline]
name = "cutoff"
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
id = "out"
function = "test.blocking"
inputs = ["consume"]
%s`, env.BrokerList(), in, group, eh)
}

// checkCutOff asserts what a cut-off must never do: commit past a record
// the publisher did not receive, dead-letter, or count a failure.
func checkCutOff(t *testing.T, env kafkatest.Env, pub *blockingPublisher, group, in, dlq string, sum flow.Summary) {
	t.Helper()
	for part, off := range env.Committed(t, group, in) {
		if missing, first := pub.covers(part, off); missing > 0 {
			t.Errorf("partition %d committed at %d, but %d record(s) below it never reached the sink (first at offset %d)", part, off, missing, first)
		}
	}
	if b, err := os.ReadFile(dlq); err == nil && len(b) > 0 {
		t.Errorf("a cut-off write was dead-lettered: %d line(s), first %s", strings.Count(string(b), "\n"), strings.SplitN(string(b), "\n", 2)[0])
	}
	if sum.Failed != 0 || sum.DeadLettered != 0 {
		t.Errorf("cut-off writes were counted: failed=%d dead_lettered=%d", sum.Failed, sum.DeadLettered)
	}
}

// A stop whose drain times out while a foreign Publisher holds writes
// cuts those writes off: under continue they used to be skipped and their
// offsets committed, under retry they were dead-lettered after one try.
// Now they are simply not committed and are read again.
func TestIntegrationStopCutsOffWritesUnderEveryStrategy(t *testing.T) {
	env := kafkatest.Start(t)
	for name := range cutOffStrategies("") {
		t.Run(name, func(t *testing.T) {
			dlq := filepath.Join(t.TempDir(), "dead.jsonl")
			eh := cutOffStrategies(dlq)[name]
			in, group := kafkatest.Name("in"), kafkatest.Name("g")
			env.CreateTopic(t, in, 3)
			msgs, _ := events(600)
			env.Produce(t, in, msgs)
			pub := newBlockingPublisher(200)
			p, err := config.Parse("cutoff.toml", []byte(cutOffPipeline(env, in, group, eh)))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			type result struct {
				sum flow.Summary
				err error
			}
			done := make(chan result, 1)
			go func() {
				sum, err := flow.Execute(ctx, p, flow.WithRegistry(registerBlocking(t, pub)))
				done <- result{sum, err}
			}()
			select {
			case <-pub.blocked:
			case <-time.After(60 * time.Second):
				t.Fatal("the publisher never blocked")
			}
			time.Sleep(200 * time.Millisecond) // more batches reach the blocked publisher
			cancel()
			var res result
			select {
			case res = <-done:
			case <-time.After(60 * time.Second):
				t.Fatal("the run did not stop")
			}
			t.Logf("run: %v; summary %v", res.err, res.sum)
			if res.err == nil || !strings.Contains(res.err.Error(), `"out"`) {
				t.Errorf("a stop that cut writes off returned %v, not an error naming the stage", res.err)
			}
			checkCutOff(t, env, pub, group, in, dlq, res.sum)
		})
	}
}

// A rebalance gives up the batches of the partitions it moves once the
// drain timeout passes: their writes are cut off. They must not be counted
// failed, dead-lettered or skipped, nor fail the run.
func TestIntegrationRebalanceCutsOffWritesUnderEveryStrategy(t *testing.T) {
	env := kafkatest.Start(t)
	for name := range cutOffStrategies("") {
		t.Run(name, func(t *testing.T) {
			dlq := filepath.Join(t.TempDir(), "dead.jsonl")
			eh := cutOffStrategies(dlq)[name]
			in, group := kafkatest.Name("in"), kafkatest.Name("g")
			env.CreateTopic(t, in, 4)
			msgs, _ := events(400)
			for i := range msgs {
				msgs[i].Partition = int32(i % 4)
			}
			env.Produce(t, in, msgs)
			pub := newBlockingPublisher(100)
			p, err := config.Parse("cutoff.toml", []byte(cutOffPipeline(env, in, group, eh)))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			type result struct {
				sum flow.Summary
				err error
			}
			done := make(chan result, 1)
			go func() {
				sum, err := flow.Execute(ctx, p, flow.WithRegistry(registerBlocking(t, pub)))
				done <- result{sum, err}
			}()
			select {
			case <-pub.blocked:
			case <-time.After(60 * time.Second):
				t.Fatal("the publisher never blocked")
			}
			idle := startIdleMember(t, env, group, in, "sarama")
			var theirs []int32
			select {
			case theirs = <-idle.assigned:
			case <-time.After(60 * time.Second):
				t.Fatal("the second member was never assigned partitions")
			}
			// The rebalance ends every claim of the session; each gives its
			// blocked batches up after drain_timeout_ms.
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
			ends := env.EndOffsets(t, in)
			mine := func(part int32) bool { return !slices.Contains(theirs, part) }
			// The partitions kept are read again from their last commit and
			// reach the publisher in full.
			deadline = time.Now().Add(60 * time.Second)
			for part, end := range ends {
				for mine(part) {
					if missing, _ := pub.covers(part, end); missing == 0 {
						break
					}
					if time.Now().After(deadline) {
						missing, first := pub.covers(part, end)
						t.Fatalf("partition %d kept by the run: %d record(s) never reached the sink (first %d)", part, missing, first)
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
			time.Sleep(500 * time.Millisecond) // the last commits land
			cancel()
			var res result
			select {
			case res = <-done:
			case <-time.After(60 * time.Second):
				t.Fatal("the run did not stop")
			}
			t.Logf("run: %v; summary %v; the idle member held %v", res.err, res.sum, theirs)
			if res.err != nil {
				t.Errorf("a rebalance that cut writes off failed the run: %v", res.err)
			}
			checkCutOff(t, env, pub, group, in, dlq, res.sum)
			committed := env.Committed(t, group, in)
			for part, end := range ends {
				if mine(part) && committed[part] != end {
					t.Errorf("partition %d kept by the run committed at %d of %d", part, committed[part], end)
				}
			}
		})
	}
}
