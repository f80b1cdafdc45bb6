package flow_test

// Offset and delivery tests that inject faults into the in-process broker
// (kfake control functions): refused commits and failed produce requests.
// They need the embedded broker, so they run in the unit suite only (their
// names do not start with TestIntegration).

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// refuseCommits makes the broker refuse every OffsetCommit (of group, or
// of every group when group is "") with code while refuse is true, and
// counts the refusals.
func refuseCommits(c *kfake.Cluster, group string, code int16, refuse *atomic.Bool, refused *atomic.Int64) {
	c.ControlKey(int16(kmsg.OffsetCommit), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.OffsetCommitRequest)
		if !refuse.Load() || (group != "" && req.Group != group) {
			return nil, nil, false
		}
		resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		refused.Add(1)
		return resp, nil, true
	})
}

// startRun runs text in process until ctx ends; the returned channel gets
// the run's summary and error.
type result struct {
	sum flow.Summary
	err error
}

func startRun(t *testing.T, ctx context.Context, text string) <-chan result {
	t.Helper()
	p, err := config.Parse("offsets.toml", []byte(text))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	done := make(chan result, 1)
	go func() {
		sum, err := flow.Execute(ctx, p, flow.WithLogger(zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))))
		done <- result{sum, err}
	}()
	return done
}

// A commit the coordinator refuses must not free window slots: while
// commits are refused the source reads at most window × batch_size records
// per partition past the last confirmed commit, and once commits succeed
// again everything arrives and is committed. (sarama's session.Commit
// drops COORDINATOR_LOAD_IN_PROGRESS refusals silently, so slots used to be
// freed and the replay bound of the README did not hold.)
func TestRefusedCommitsHoldTheWindow(t *testing.T) {
	env, cluster := kafkatest.StartEmbedded(t)
	in, out, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("g")
	env.CreateTopic(t, in, 1)
	env.CreateTopic(t, out, 1)
	msgs, _ := events(3000)
	for i := range msgs {
		msgs[i].Partition = 0
		// every record passes the filter, so the output counts what was read
		msgs[i].Value = []byte(fmt.Sprintf(`{"event_id":"e-%06d","user_id":%d,"amount":%d}`, i, i%7, 100+i%100))
	}
	env.Produce(t, in, msgs)
	var refuse atomic.Bool
	var refused atomic.Int64
	refuse.Store(true)
	refuseCommits(cluster, "", kerr.CoordinatorLoadInProgress.Code, &refuse, &refused)

	const batch, window = 10, 2
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := startRun(t, ctx, etl(env, in, out, group, fmt.Sprintf("max_messages = 0\nbatch_size = %d\nwindow = %d", batch, window)))
	deadline := time.Now().Add(10 * time.Second)
	for refused.Load() < 5 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // time to read on, were slots freed
	passed := len(env.ReadAll(t, out))
	if refused.Load() < 5 {
		t.Fatalf("only %d commits were refused in 10 s", refused.Load())
	}
	if limit := window * batch; passed > limit {
		t.Fatalf("while every commit was refused (%d so far) %d records reached the output; window %d × batch_size %d allows at most %d",
			refused.Load(), passed, window, batch, limit)
	}
	t.Logf("while %d commits were refused: %d records out (bound %d)", refused.Load(), passed, window*batch)
	refuse.Store(false)
	if !waitCommitted(t, env, group, in, 60*time.Second) {
		t.Fatalf("after commits were accepted again the run did not commit the input: %v", env.Committed(t, group, in))
	}
	cancel()
	if r := <-done; r.err != nil {
		t.Fatalf("run: %v", r.err)
	}
	assertOutput(t, env, out, msgs, window*batch)
}

// A refusal that retrying cannot fix stops the run with an error that
// names the partitions, instead of being logged and forgotten; with more
// records than the window holds, the reader is waiting for a slot when the
// commit loop gives up (that wait used to hang the run for good).
func TestCommitRefusedForGoodStopsTheRun(t *testing.T) {
	env, cluster := kafkatest.StartEmbedded(t)
	in, out, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("g")
	env.CreateTopic(t, in, 2)
	env.CreateTopic(t, out, 2)
	msgs, _ := events(2000)
	for i := range msgs {
		msgs[i].Partition = int32(i % 2)
	}
	env.Produce(t, in, msgs)
	var refuse atomic.Bool
	var refused atomic.Int64
	refuse.Store(true)
	refuseCommits(cluster, "", kerr.GroupAuthorizationFailed.Code, &refuse, &refused)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	r := <-startRun(t, ctx, etl(env, in, out, group, "max_messages = 0\nbatch_size = 50\nwindow = 2"))
	if r.err == nil {
		t.Fatalf("a run whose commits are all refused (GROUP_AUTHORIZATION_FAILED) ended without error after %s", time.Since(start))
	}
	msg := r.err.Error()
	for _, want := range []string{`kafka source "consume"`, "offset commit", "partition", "authoriz"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the run took %s to stop on a permanent commit refusal", took)
	}
	if c := env.Committed(t, group, in); len(c) > 0 {
		for p, off := range c {
			if off > 0 {
				t.Errorf("partition %d committed at %d although every commit was refused", p, off)
			}
		}
	}
}

// failProduces makes the broker fail every nth produce request with
// NOT_LEADER_OR_FOLLOWER (which producers retry), and counts the failures.
func failProduces(c *kfake.Cluster, nth int64, failed *atomic.Int64) {
	var seen atomic.Int64
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if seen.Add(1)%nth != 0 {
			return nil, nil, false
		}
		failed.Add(1)
		return produceError(kreq, kerr.NotLeaderForPartition), nil, true
	})
}

// produceError answers a produce request with kerr for every partition
// in it.
func produceError(kreq kmsg.Request, code *kerr.Error) *kmsg.ProduceResponse {
	req := kreq.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = code.Code
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// Output keeps each input partition's order with several batches in flight
// (window 4, small batches) while produce requests fail and are retried,
// with and without the idempotent producer. Without it, several requests
// in flight let a retried request land behind the next one; the sink now
// keeps one request in flight per broker either way.
func TestOrderKeptWhileSendsFailAndRetry(t *testing.T) {
	for _, tc := range []struct {
		name string
		sink string // extra kafka sink settings
		eh   string
		// unordered: a record the engine retries can land after records
		// of later batches of its partition (README, "Error handling");
		// the test then checks that nothing is lost or duplicated, and
		// that the engine's retry path was taken.
		unordered bool
	}{
		{"idempotent=true", "idempotent = true\nlinger_ms = 1\nretry_backoff_ms = 5\n", "", false},
		{"idempotent=false", "idempotent = false\nlinger_ms = 1\nretry_backoff_ms = 5\n", "", false},
		// With no producer retries the failures reach the engine's retry
		// path ([error_handling] strategy = "retry").
		{"engine-retry", "idempotent = false\nlinger_ms = 1\nretries = 0\n", "[error_handling]\nstrategy = \"retry\"\nmax_retries = 50\nretry_delay_seconds = 0.01\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, cluster := kafkatest.StartEmbedded(t)
			in, out, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("g")
			env.CreateTopic(t, in, 3)
			env.CreateTopic(t, out, 3)
			msgs, _ := events(6000)
			env.Produce(t, in, msgs)
			var failed atomic.Int64
			failProduces(cluster, 4, &failed)
			text := etl(env, in, out, group, "max_messages = 6000\nbatch_size = 25\nwindow = 4\nbatch_linger_ms = 1")
			text += tc.sink + tc.eh
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			p, err := config.Parse("offsets.toml", []byte(text))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			core, logs := observer.New(zap.WarnLevel)
			if _, err := flow.Execute(ctx, p, flow.WithLogger(zap.New(core))); err != nil {
				t.Fatalf("run: %v", err)
			}
			if failed.Load() == 0 {
				t.Fatal("no produce request was failed: the test did not test anything")
			}
			retried := logs.FilterMessage("sink write failed, retrying").Len()
			if tc.eh != "" && retried == 0 {
				t.Fatal("no write reached the engine's retry path: the test did not test it")
			}
			got := env.ReadAll(t, out)
			assertOutput(t, env, out, msgs, 0)
			// per output partition, each input partition's offsets must rise
			last := map[[2]int32]int64{}
			for _, m := range got {
				if tc.unordered {
					break
				}
				d := decode(t, m.Value)
				k := [2]int32{m.Partition, d.KafkaPartition}
				if prev, ok := last[k]; ok && d.KafkaOffset <= prev {
					t.Fatalf("output partition %d: input %d/%d came after %d/%d", m.Partition, d.KafkaPartition, d.KafkaOffset, d.KafkaPartition, prev)
				}
				last[k] = d.KafkaOffset
			}
			t.Logf("%d produce requests failed, %d engine retries; %d records, unordered allowed: %v", failed.Load(), retried, len(got), tc.unordered)
		})
	}
}

// A source that fails stops the whole run, not only itself: with two
// sources, one whose commits are refused for good, a streaming run used to
// go on with the other and report the failure only when stopped.
func TestFailedSourceStopsTheRun(t *testing.T) {
	env, cluster := kafkatest.StartEmbedded(t)
	a, b, out, ga, gb := kafkatest.Name("a"), kafkatest.Name("b"), kafkatest.Name("out"), kafkatest.Name("ga"), kafkatest.Name("gb")
	for _, tp := range []string{a, b, out} {
		env.CreateTopic(t, tp, 1)
	}
	msgs, _ := events(300)
	for i := range msgs {
		msgs[i].Partition = 0
	}
	env.Produce(t, a, msgs)
	env.Produce(t, b, msgs)
	var refuse atomic.Bool
	var refused atomic.Int64
	refuse.Store(true)
	refuseCommits(cluster, ga, kerr.GroupAuthorizationFailed.Code, &refuse, &refused)
	text := fmt.Sprintf(`
[[stages]]
id = "a"
function = "kafka"
[stages.config]
brokers = %[1]q
topic = %[2]q
group_id = %[4]q
max_messages = 0
[[stages]]
id = "b"
function = "kafka"
[stages.config]
brokers = %[1]q
topic = %[3]q
group_id = %[5]q
max_messages = 0
[[stages]]
id = "out"
function = "kafka"
inputs = ["a", "b"]
[stages.config]
brokers = %[1]q
topic = %[6]q
`, env.BrokerList(), a, b, ga, gb, out)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	r := <-startRun(t, ctx, text)
	if r.err == nil || ctx.Err() != nil {
		t.Fatalf("a run one of whose sources failed went on until stopped after %s (err %v)", time.Since(start), r.err)
	}
	if !strings.Contains(r.err.Error(), `kafka source "a"`) {
		t.Errorf("error %q does not name the failed source", r.err)
	}
	t.Logf("stopped after %s: %v", time.Since(start), r.err)
}
