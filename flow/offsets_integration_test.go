package flow_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
	"github.com/conveyor-etl/conveyor/plugin"
)

// Example 1 with delivery = "per-message": the stock subscriber commits each
// acked offset while json.write makes records durable only at the end, so a
// crash lost every committed record. The run is now refused before it
// consumes anything, naming the file, line, stage and key.
func TestIntegrationPerMessageRefusesFileSink(t *testing.T) {
	env := kafkatest.Start(t)
	topic, group := kafkatest.Name("events"), kafkatest.Name("g")
	env.CreateTopic(t, topic, 3)
	msgs, _ := events(300)
	env.Produce(t, topic, msgs)
	dir := t.TempDir()
	text := example(t, "kafka-consumer-example.toml", env, `"events"`, fmt.Sprintf("%q", topic), `"conveyor-consumer"`, fmt.Sprintf("%q", group))
	text = strings.Replace(text, `group_id = `, "delivery = \"per-message\"\nmax_messages = 0\ncommit_interval_ms = 200\ngroup_id = ", 1)
	path := writePipeline(t, dir, text)
	p, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = flow.Run(ctx, p)
	if err == nil {
		t.Fatal("per-message delivery into json.write ran; it must be refused")
	}
	for _, want := range []string{path + ":", `stage "consume"`, "delivery", "per-message", "json.write", `delivery = "batch"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if c := env.Committed(t, group, topic); len(c) > 0 {
		t.Errorf("a refused run committed offsets %v", c)
	}
	if _, err := os.Stat(filepath.Join(dir, "output", "events.json")); err == nil {
		t.Error("a refused run wrote output/events.json")
	}
}

// Per-message delivery into Kafka (durable on ack) under kill -9: nothing
// that passes the filter is lost.
func TestIntegrationPerMessageAtLeastOnceAcrossKill(t *testing.T) {
	noRaceChaos(t)
	env := kafkatest.Start(t)
	parallelOnRealBroker(t, env)
	in, out, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("g")
	env.CreateTopic(t, in, 3)
	env.CreateTopic(t, out, 3)
	msgs, _ := events(3000)
	env.Produce(t, in, msgs)
	path := writePipeline(t, t.TempDir(), etl(env, in, out, group, "max_messages = 0\ndelivery = \"per-message\"\nsession_timeout_ms = 6000"))
	cmd := startChild(t, path)
	if !waitProgress(t, env, group, in, nil, 60*time.Second) {
		t.Log("no commit seen before the kill")
	}
	time.Sleep(300 * time.Millisecond)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	killedAt := env.Committed(t, group, in)
	cmd = startChild(t, path)
	if !waitCommitted(t, env, group, in, 120*time.Second) {
		_ = cmd.Process.Kill()
		t.Fatalf("the restarted run did not commit the whole input: %v", env.Committed(t, group, in))
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("graceful stop: %v", err)
	}
	dups := assertOutput(t, env, out, msgs, 3000)
	t.Logf("committed at the kill: %v; duplicates after restart: %d", killedAt, dups)
}

// A bounded run right after a kill -9 used to end with in=0 and exit 0: its
// timeout_ms ran out while the group waited for the dead member's session
// to expire. The clock now starts when partitions are assigned. With
// group_instance_id the restarted run gets them back at once.
func TestIntegrationRerunAfterKillReadsRecords(t *testing.T) {
	for _, static := range []bool{false, true} {
		t.Run(fmt.Sprintf("static=%v", static), func(t *testing.T) {
			env := kafkatest.Start(t)
			in, out, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("g")
			env.CreateTopic(t, in, 3)
			env.CreateTopic(t, out, 3)
			msgs, _ := events(600)
			env.Produce(t, in, msgs[:300])
			extra := "max_messages = 0\nsession_timeout_ms = 10000"
			if static {
				extra += "\ngroup_instance_id = \"etl-1\""
			}
			path := writePipeline(t, t.TempDir(), etl(env, in, out, group, extra))
			cmd := startChild(t, path)
			if !waitCommitted(t, env, group, in, 60*time.Second) {
				t.Fatalf("the first run did not commit its input")
			}
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
			env.Produce(t, in, msgs[300:])
			rerun := etl(env, in, out, group, strings.Replace(extra, "max_messages = 0", "max_messages = 100000\ntimeout_ms = 2000", 1))
			start := time.Now()
			sum := runFile(t, writePipeline(t, t.TempDir(), rerun))
			took := time.Since(start)
			if sum.In != 300 {
				t.Errorf("the rerun after kill -9 read %d records, want the 300 produced since (took %s)", sum.In, took)
			}
			if static && took > 8*time.Second {
				t.Errorf("with group_instance_id the rerun took %s; it should get its partitions back without waiting session_timeout_ms", took)
			}
			t.Logf("rerun: in=%d in %s", sum.In, took)
		})
	}
}

// A stop is bounded by drain_timeout_ms as documented: waiting for the
// in-flight batches, the flush and the final commit together, plus a
// bounded margin when a stage ignores its context (a Watermill Publisher's
// Publish takes none; such a run used to never return). The error names
// the stage, and nothing of the stuck batches is committed, under every
// strategy.
func TestIntegrationStopIsBoundedByDrainTimeout(t *testing.T) {
	env := kafkatest.Start(t)
	for _, tc := range []struct {
		name, strategy string
		deaf, file     bool
	}{
		{"honours-context/stop", "stop", false, false},
		{"ignores-context/stop", "stop", true, false},
		{"ignores-context/continue", "continue", true, false},
		{"honours-context/continue", "continue", false, false},
		{"json.read/ignores-context/continue", "continue", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, group := kafkatest.Name("in"), kafkatest.Name("g")
			env.CreateTopic(t, in, 3)
			msgs, _ := events(300)
			env.Produce(t, in, msgs)
			pub := newBlockingPublisher(0)
			pub.ignore = tc.deaf
			t.Cleanup(func() { close(pub.release) })
			text := strings.Replace(cutOffPipeline(env, in, group,
				fmt.Sprintf("[error_handling]\nstrategy = %q\n", tc.strategy)), "drain_timeout_ms = 1000", "drain_timeout_ms = 2000", 1)
			var opts []flow.Option
			if tc.file {
				path := filepath.Join(t.TempDir(), "in.jsonl")
				var b strings.Builder
				for i := range 300 {
					fmt.Fprintf(&b, "{\"_kafka_partition\":0,\"_kafka_offset\":%d}\n", i)
				}
				if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
					t.Fatal(err)
				}
				text = fmt.Sprintf("[[stages]]\nid = \"consume\"\nfunction = \"json.read\"\n[stages.config]\npath = %q\n"+
					"[[stages]]\nid = \"out\"\nfunction = \"test.blocking\"\ninputs = [\"consume\"]\n[error_handling]\nstrategy = %q\n", path, tc.strategy)
				opts = append(opts, flow.WithDrainTimeout(2*time.Second))
			}
			p, err := config.Parse("stuck.toml", []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- flow.Run(ctx, p, append(opts, flow.WithRegistry(registerBlocking(t, pub)))...) }()
			select {
			case <-pub.blocked:
			case <-time.After(30 * time.Second):
				t.Fatal("no batch reached the sink")
			}
			start := time.Now()
			cancel()
			select {
			case err := <-done:
				took := time.Since(start)
				// drain_timeout_ms plus the stop's margin (1 s) and the
				// last waits' floor; a little slack for a loaded machine.
				if took > 3600*time.Millisecond {
					t.Errorf("stopping took %s with drain_timeout_ms = 2000", took)
				}
				if err == nil || !strings.Contains(err.Error(), `stage "out"`) {
					t.Errorf("a stop that cut a stuck write off returned %v, not an error naming the stage", err)
				}
				t.Logf("stopped in %s: %v", took, err)
			case <-time.After(30 * time.Second):
				t.Fatal("the run did not stop within 30 s of being cancelled")
			}
			for part, off := range env.Committed(t, group, in) {
				if off > 0 {
					t.Errorf("partition %d committed at %d though no write finished", part, off)
				}
			}
		})
	}
}

// holdSink keeps every write pending until released, and records the most
// record bytes it held at once.
type holdSink struct {
	mu       sync.Mutex
	held     int64
	peak     int64
	release  chan struct{}
	received atomic.Int64
}

func (s *holdSink) Send(_ context.Context, recs []plugin.Record) plugin.Pending {
	n := int64(0)
	for _, r := range recs {
		n += int64(len(r.Value))
	}
	s.mu.Lock()
	s.held += n
	s.peak = max(s.peak, s.held)
	s.mu.Unlock()
	s.received.Add(int64(len(recs)))
	return pendingFunc(func(ctx context.Context) error {
		select {
		case <-s.release:
		case <-ctx.Done():
			return ctx.Err()
		}
		s.mu.Lock()
		s.held -= n
		s.mu.Unlock()
		return nil
	})
}
func (s *holdSink) Publish(_ string, msgs ...*message.Message) error {
	return plugin.PublishBySend(s, msgs)
}
func (s *holdSink) Close() error { return nil }

// [global] max_inflight_mb bounds the record bytes a run holds in flight
// across all partitions: with writes held back, 12 partitions × window 4 ×
// 100 records of about 1 KB would be 4.8 MB in flight; a 1 MiB budget stops
// fetching at 1 MiB (plus one batch that takes what is left).
func TestIntegrationInflightBudgetBoundsMemory(t *testing.T) {
	env := kafkatest.Start(t)
	in, group := kafkatest.Name("in"), kafkatest.Name("g")
	const parts = 12
	env.CreateTopic(t, in, parts)
	pad := strings.Repeat("x", 1000)
	msgs := make([]kafkatest.Msg, 12000)
	for i := range msgs {
		msgs[i] = kafkatest.Msg{Partition: int32(i % parts), Value: []byte(fmt.Sprintf(`{"i":%d,"pad":%q}`, i, pad))}
	}
	env.Produce(t, in, msgs)
	reg := plugin.Default().Clone()
	sink := &holdSink{release: make(chan struct{})}
	if err := reg.Register(&plugin.Spec{Name: "test.hold", Plugin: "test", Sink: plugin.NewFactory(
		func() *struct{} { return &struct{}{} },
		func(context.Context, *struct{}, plugin.Env) (plugin.Sink, error) { return sink, nil })}); err != nil {
		t.Fatal(err)
	}
	p, err := config.Parse("budget.toml", []byte(fmt.Sprintf(`
[global]
max_inflight_mb = 1
[[stages]]
id = "consume"
function = "kafka"
[stages.config]
brokers = %q
topic = %q
group_id = %q
max_messages = 12000
batch_size = 100
window = 4
[[stages]]
id = "hold"
function = "test.hold"
inputs = ["consume"]
`, env.BrokerList(), in, group)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := flow.Execute(context.Background(), p, flow.WithRegistry(reg))
		done <- err
	}()
	// wait until the source is blocked: nothing new arrives for a while
	// (a source that never stops reading fails here instead of hanging).
	last, still := int64(-1), 0
	for deadline := time.Now().Add(60 * time.Second); still < 10; {
		if time.Now().After(deadline) {
			t.Fatalf("the source never blocked: the sink holds %d records after 60 s, still growing", sink.received.Load())
		}
		time.Sleep(100 * time.Millisecond)
		if n := sink.received.Load(); n == last && n > 0 {
			still++
		} else {
			last, still = n, 0
		}
	}
	sink.mu.Lock()
	peak := sink.peak
	sink.mu.Unlock()
	const limit = 1<<20 + 100*1100 // the budget, plus one batch that may take what is left
	if peak > limit {
		t.Errorf("with max_inflight_mb = 1 the sink held %d bytes of records at once (limit %d)", peak, limit)
	}
	t.Logf("held at most %d bytes (%d records) before the budget stopped fetching", peak, last)
	close(sink.release)
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if got := sink.received.Load(); got != 12000 {
		t.Errorf("the sink received %d records, want 12000", got)
	}
}

// gateSink is durable only at Flush, which waits until the test opens the
// gate: the window in which a stopped source waits for its final commit.
type gateSink struct {
	flushing chan struct{}
	gate     chan struct{}
}

func (s *gateSink) Send(context.Context, []plugin.Record) plugin.Pending { return plugin.Done{} }
func (s *gateSink) Publish(_ string, msgs ...*message.Message) error {
	return plugin.PublishBySend(s, msgs)
}
func (s *gateSink) Flush(ctx context.Context) error {
	close(s.flushing)
	select {
	case <-s.gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (s *gateSink) Close() error { return nil }

// idleMember joins a group and holds what it is given without reading.
type idleMember struct{ assigned chan []int32 }

// startIdleMember joins group (on topic, as clientID) with an idleMember
// until the test ends, rejoining after each rebalance as a member does.
func startIdleMember(t *testing.T, env kafkatest.Env, group, topic, clientID string) idleMember {
	t.Helper()
	idle, _ := startIdleMemberStop(t, env, group, topic, clientID)
	return idle
}

// startIdleMemberStop is startIdleMember that also returns a func that
// makes the member leave the group (also called at the test's end).
func startIdleMemberStop(t *testing.T, env kafkatest.Env, group, topic, clientID string) (idleMember, func()) {
	t.Helper()
	sc := sarama.NewConfig()
	sc.Version = sarama.V3_0_0_0
	sc.ClientID = clientID
	sc.Consumer.Group.Session.Timeout = 6 * time.Second
	member, err := sarama.NewConsumerGroup(env.Brokers, group, sc)
	if err != nil {
		t.Fatal(err)
	}
	idle := idleMember{assigned: make(chan []int32, 4)}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for ctx.Err() == nil {
			_ = member.Consume(ctx, []string{topic}, idle)
		}
	}()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-stopped; member.Close() }) }
	t.Cleanup(stop)
	return idle, stop
}

func (m idleMember) Setup(sess sarama.ConsumerGroupSession) error {
	for _, parts := range sess.Claims() {
		m.assigned <- parts
	}
	return nil
}
func (idleMember) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (idleMember) ConsumeClaim(sess sarama.ConsumerGroupSession, _ sarama.ConsumerGroupClaim) error {
	<-sess.Context().Done()
	return nil
}

// A source that has stopped and waits for its sink's flush loses its group
// session when another member joins. It used to rejoin, reset its marks and
// report a final commit that committed nothing. Now it keeps its marks,
// rejoins only to commit, commits the partitions it gets back and names the
// ones it could not commit.
func TestIntegrationStoppedSourceKeepsMarksAcrossRebalance(t *testing.T) {
	env := kafkatest.Start(t)
	in, group := kafkatest.Name("in"), kafkatest.Name("g")
	env.CreateTopic(t, in, 2)
	msgs, _ := events(200)
	for i := range msgs {
		msgs[i].Partition = int32(i % 2)
	}
	env.Produce(t, in, msgs)
	reg := plugin.Default().Clone()
	sink := &gateSink{flushing: make(chan struct{}), gate: make(chan struct{})}
	if err := reg.Register(&plugin.Spec{Name: "test.gate", Plugin: "test", Sink: plugin.NewFactory(
		func() *struct{} { return &struct{}{} },
		func(context.Context, *struct{}, plugin.Env) (plugin.Sink, error) { return sink, nil })}); err != nil {
		t.Fatal(err)
	}
	p, err := config.Parse("gate.toml", []byte(fmt.Sprintf(`
[[stages]]
id = "consume"
function = "kafka"
[stages.config]
brokers = %q
topic = %q
group_id = %q
max_messages = 200
session_timeout_ms = 6000
[[stages]]
id = "gate"
function = "test.gate"
inputs = ["consume"]
`, env.BrokerList(), in, group)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- flow.Run(context.Background(), p, flow.WithRegistry(reg)) }()
	select {
	case <-sink.flushing:
	case <-time.After(60 * time.Second):
		t.Fatal("the run never reached its flush")
	}
	idle := startIdleMember(t, env, group, in, "sarama")
	var theirs []int32
	select {
	case theirs = <-idle.assigned:
	case <-time.After(60 * time.Second):
		t.Fatal("the second member was never assigned partitions")
	}
	t.Logf("the second member holds partitions %v", theirs)
	close(sink.gate)
	err = <-done
	committed, ends := env.Committed(t, group, in), env.EndOffsets(t, in)
	t.Logf("run: %v; committed %v of %v", err, committed, ends)
	// Both cases below must be seen: a partition that came back and one
	// that stayed with the other member.
	if len(theirs) == 0 || len(theirs) >= len(ends) {
		t.Fatalf("the second member holds %v of %d partitions: the test needs one partition on each side", theirs, len(ends))
	}
	for part, end := range ends {
		mine := !slices.Contains(theirs, part)
		switch {
		case mine && committed[part] != end:
			t.Errorf("partition %d came back to the stopped source but was not committed (%d of %d)", part, committed[part], end)
		case !mine && (err == nil || !strings.Contains(err.Error(), fmt.Sprint(part))):
			t.Errorf("partition %d went to another member uncommitted, and the run's error %v does not say so", part, err)
		}
	}
}

// A bounded run whose partitions another member keeps fails, saying why,
// once a crashed member's session would have expired, instead of ending
// with in=0 and exit 0.
func TestIntegrationBoundedRunWithoutPartitionsSaysWhy(t *testing.T) {
	env := kafkatest.Start(t)
	parallelOnRealBroker(t, env)
	in, out, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("g")
	env.CreateTopic(t, in, 1)
	env.CreateTopic(t, out, 1)
	// The range strategy gives a lone partition to the member whose id sorts
	// first: "a-idle-…" before "conveyor-…".
	idle := startIdleMember(t, env, group, in, "a-idle")
	select {
	case <-idle.assigned:
	case <-time.After(60 * time.Second):
		t.Fatal("the idle member was never assigned the partition")
	}
	start := time.Now()
	_, err := runText(t, etl(env, in, out, group, "max_messages = 100\ntimeout_ms = 2000\nsession_timeout_ms = 6000\ndrain_timeout_ms = 1000"), 2*time.Minute)
	took := time.Since(start)
	if err == nil {
		t.Fatalf("a bounded run that never got a partition ended without error after %s", took)
	}
	for _, want := range []string{`kafka source "consume"`, "waiting for partitions", "group_instance_id"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if took > 40*time.Second {
		t.Errorf("it took %s to give up (session 6 s + drain 1 s + 15 s expected)", took)
	}
	t.Logf("gave up after %s: %v", took, err)
}

type pendingFunc func(context.Context) error

func (f pendingFunc) Wait(ctx context.Context) error { return f(ctx) }
