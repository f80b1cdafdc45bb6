package flow_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/internal/kafkatest"
	"github.com/conveyor-etl/conveyor/internal/kafkautil"
)

// The TestFault... tests stop, restart and kill real Kafka brokers through
// scripts/kafka.sh, so they run only when KAFKA_FAULTS says which brokers
// that script started (.ci/run does both):
//
//	broker:  scripts/kafka.sh up          (one node on 127.0.0.1:9092)
//	cluster: scripts/kafka.sh cluster up  (three nodes on 9092/9094/9096)
var faultHowTo = map[string]string{
	"broker":  "scripts/kafka.sh up && KAFKA_BROKERS=127.0.0.1:9092 KAFKA_FAULTS=broker go test -count=1 -v -run 'TestFault' -skip Cluster ./flow",
	"cluster": "scripts/kafka.sh cluster up && KAFKA_BROKERS=127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096 KAFKA_REPLICATION=3 KAFKA_FAULTS=cluster go test -count=1 -v -run 'TestFaultCluster' ./flow",
}

// faultBroker returns the real brokers a fault test may break, or skips
// the test loudly, saying how to run it.
func faultBroker(t *testing.T, mode string) kafkatest.Env {
	t.Helper()
	if os.Getenv("KAFKA_FAULTS") != mode || os.Getenv("KAFKA_BROKERS") == "" {
		t.Skipf("\n*** SKIPPED: %s stops and kills real Kafka brokers (KAFKA_FAULTS=%s is not set).\n*** Run it with:\n***   %s", t.Name(), mode, faultHowTo[mode])
	}
	return kafkatest.Start(t)
}

// kafkaSh runs scripts/kafka.sh and fails the test if it fails.
func kafkaSh(t *testing.T, args ...string) {
	t.Helper()
	start := time.Now()
	out, err := exec.Command("../scripts/kafka.sh", args...).CombinedOutput()
	t.Logf("scripts/kafka.sh %s (%s): %s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond), bytes.TrimSpace(out))
	if err != nil {
		t.Fatalf("scripts/kafka.sh %s: %v", strings.Join(args, " "), err)
	}
}

// proc is a pipeline running in a child process (see TestMain).
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// startProc runs the pipeline in this test binary (see TestMain), which
// also knows the test-only functions.
func startProc(t *testing.T, name, path string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CONVEYOR_CHILD_PIPELINE="+path, "CONVEYOR_MEMBER="+name)
	childLogs(t, cmd, name)
	return start(t, name, cmd)
}

var conveyorBin = struct {
	once sync.Once
	path string
	err  error
}{}

// startConveyor runs `conveyor run --log-level info path` with the real
// binary, built once per test run.
func startConveyor(t *testing.T, name, path string) *proc {
	t.Helper()
	cmd := exec.Command(buildConveyor(t), "run", "--log-level", "info", path)
	cmd.Env = os.Environ()
	childLogs(t, cmd, name)
	return start(t, name, cmd)
}

// buildConveyor returns the conveyor binary, built on the first call of the
// test run (which can take minutes on a loaded machine: a test that times
// its input against its runs builds it before it starts the input).
func buildConveyor(t *testing.T) string {
	t.Helper()
	conveyorBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "conveyor-bin-")
		if err != nil {
			conveyorBin.err = err
			return
		}
		conveyorBin.path = filepath.Join(dir, "conveyor")
		out, err := exec.Command("go", "build", "-o", conveyorBin.path, "../cmd/conveyor").CombinedOutput()
		if err != nil {
			conveyorBin.err = fmt.Errorf("go build ./cmd/conveyor: %v\n%s", err, out)
		}
	})
	if conveyorBin.err != nil {
		t.Fatal(conveyorBin.err)
	}
	return conveyorBin.path
}

func start(t *testing.T, name string, cmd *exec.Cmd) *proc {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		if !p.exited() {
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill is kill -9.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and returns the exit error, or an error if the process
// has not exited after limit.
func (p *proc) stop(limit time.Duration) (time.Duration, error) {
	start := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return time.Since(start), p.err
	case <-time.After(limit):
		_ = p.cmd.Process.Kill()
		<-p.done
		return time.Since(start), fmt.Errorf("%s still running %s after SIGTERM", p.name, limit)
	}
}

// feed produces msgs in 40 chunks spread over d, in the background,
// retrying a chunk until the broker takes it (brokers go away in these
// tests); the channel closes when all are acked. A retried chunk can land
// twice, so the tests take their expected output from the input topic.
func feed(t *testing.T, env kafkatest.Env, topic string, msgs []kafkatest.Msg, d time.Duration) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		const chunks = 40
		step := (len(msgs) + chunks - 1) / chunks
		for i := 0; i < len(msgs); i += step {
			deadline := time.Now().Add(3 * time.Minute)
			for {
				err := kafkautil.Produce(env.Brokers, topic, msgs[i:min(i+step, len(msgs))])
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("feeding %s: %v", topic, err)
					return
				}
				time.Sleep(500 * time.Millisecond)
			}
			time.Sleep(d / chunks)
		}
	}()
	return done
}

// spread puts msgs round-robin on n partitions.
func spread(msgs []kafkatest.Msg, n int32) []kafkatest.Msg {
	for i := range msgs {
		msgs[i].Partition = int32(i) % n
	}
	return msgs
}

// faultReport checks that every record of the input topic that passes the
// filter is in the output topic and that duplicates stay within maxDup
// (maxDup < 0: any number), and logs a row of the fault table.
func faultReport(t *testing.T, env kafkatest.Env, fault string, times int, in, out string, maxDup int) {
	t.Helper()
	inputs := env.ReadAll(t, in)
	st := outputStats(t, env, out, inputs)
	allowed := "any"
	if maxDup >= 0 {
		allowed = fmt.Sprint(maxDup)
	}
	t.Logf("FAULT-TABLE | %s | %d | in %d (%d pass the filter) | out %d | missing %d | duplicates %d (allowed %s)",
		fault, times, len(inputs), st.want, st.out, st.missing, st.dups, allowed)
	if st.missing > 0 {
		t.Errorf("%d records missing from the output", st.missing)
	}
	if maxDup >= 0 && st.dups > maxDup {
		t.Errorf("%d duplicates, want at most %d", st.dups, maxDup)
	}
}

// runUntilCommitted waits for the feed, then for the group to commit the
// whole input while every process stays up, then stops them all with
// SIGTERM, which must exit 0 within 60 s.
func runUntilCommitted(t *testing.T, env kafkatest.Env, group, in string, fed <-chan struct{}, procs ...*proc) {
	t.Helper()
	<-fed
	deadline := time.Now().Add(3 * time.Minute)
	for !committedToEnd(t, env, group, in) {
		for _, p := range procs {
			if p.exited() {
				t.Fatalf("%s exited before the input was done: %v", p.name, p.err)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the group did not commit the whole input in 3 minutes: committed %v, end %v", env.Committed(t, group, in), env.EndOffsets(t, in))
		}
		time.Sleep(250 * time.Millisecond)
	}
	for _, p := range procs {
		took, err := p.stop(60 * time.Second)
		if err != nil {
			t.Errorf("%s: SIGTERM: %v, want exit 0", p.name, err)
		}
		t.Logf("%s stopped %s after SIGTERM", p.name, took.Round(time.Millisecond))
	}
}

func committedToEnd(t *testing.T, env kafkatest.Env, group, topic string) bool {
	c := env.Committed(t, group, topic)
	for p, end := range env.EndOffsets(t, topic) {
		if c[p] != end {
			return false
		}
	}
	return true
}

// Stop the one-node broker (SIGTERM) and later kill it (-9) while a
// streaming pipeline runs; each time it comes back the pipeline reconnects
// by itself, and it finishes with nothing missing.
func TestFaultBrokerRestart(t *testing.T) {
	env := faultBroker(t, "broker")
	in, out, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("g")
	env.CreateTopic(t, in, 3)
	env.CreateTopic(t, out, 3)
	msgs, _ := events(100000)
	fed := feed(t, env, in, msgs, 30*time.Second)
	path := writePipeline(t, t.TempDir(), etl(env, in, out, group, "max_messages = 0\nsession_timeout_ms = 6000"))
	p := startConveyor(t, "conveyor", path)
	for i, how := range []string{"stop", "kill"} {
		if !waitProgress(t, env, group, in, env.Committed(t, group, in), 60*time.Second) {
			t.Fatalf("restart %d: no progress before stopping the broker", i+1)
		}
		kafkaSh(t, "node", how, "1")
		time.Sleep(3 * time.Second) // down for a while: fetches, produces and commits fail
		kafkaSh(t, "node", "start", "1")
		if p.exited() {
			t.Fatalf("the pipeline exited when the broker went away: %v", p.err)
		}
	}
	runUntilCommitted(t, env, group, in, fed, p)
	faultReport(t, env, "broker stop/start and kill -9/start, one node", 2, in, out, -1)
}

// A streaming run whose every record was written and committed, then the
// broker stopped, then SIGTERM: the run ends within drain_timeout_ms and a
// few seconds, and exits 0 (there was nothing left to commit). It took
// about four minutes, and exited 1, when closing the consumer group waited
// for the coordinator.
func TestFaultBrokerGoneStopIsBounded(t *testing.T) {
	env := faultBroker(t, "broker")
	in, out, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("g")
	env.CreateTopic(t, in, 3)
	env.CreateTopic(t, out, 3)
	msgs, _ := events(1000)
	env.Produce(t, in, msgs)
	path := writePipeline(t, t.TempDir(), etl(env, in, out, group, "max_messages = 0\nsession_timeout_ms = 6000\ndrain_timeout_ms = 5000"))
	p := startConveyor(t, "conveyor", path)
	deadline := time.Now().Add(time.Minute)
	for sum := int64(0); sum < int64(len(msgs)); {
		if time.Now().After(deadline) {
			t.Fatalf("committed %d of %d records within a minute", sum, len(msgs))
		}
		time.Sleep(100 * time.Millisecond)
		sum = 0
		for _, o := range env.Committed(t, group, in) {
			sum += o
		}
	}
	kafkaSh(t, "node", "stop", "1")
	t.Cleanup(func() { kafkaSh(t, "node", "start", "1") })
	time.Sleep(10 * time.Second) // the group session ends: heartbeats fail
	took, err := p.stop(2 * time.Minute)
	t.Logf("SIGTERM to exit with the broker gone: %s (drain_timeout_ms = 5000), exit: %v", took.Round(time.Millisecond), err)
	if err != nil {
		t.Errorf("exit: %v; want 0: every record was committed before the broker went", err)
	}
	if took > 5*time.Second+5*time.Second {
		t.Errorf("the stop took %s; want at most drain_timeout_ms (5 s) + 5 s", took.Round(time.Millisecond))
	}
}

// kill -9 the broker leading the input's partitions in a three-node
// cluster (RF 3, min.insync.replicas 2) mid-stream and bring it back:
// leadership moves, the pipeline follows it, nothing is missing.
func TestFaultClusterLeaderKill(t *testing.T) {
	env := faultBroker(t, "cluster")
	in, out, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("g")
	env.CreateTopic(t, in, 6)
	env.CreateTopic(t, out, 6)
	msgs, _ := events(100000)
	fed := feed(t, env, in, spread(msgs, 6), 30*time.Second)
	path := writePipeline(t, t.TempDir(), etl(env, in, out, group, "max_messages = 0\nsession_timeout_ms = 6000"))
	p := startConveyor(t, "conveyor", path)
	if !waitProgress(t, env, group, in, env.Committed(t, group, in), 60*time.Second) {
		t.Fatal("no progress before the kill")
	}
	node, led := leaderOfMost(t, env, in)
	_, ledOut := leaders(t, env, out)
	t.Logf("killing node %d: it leads %d of 6 input partitions and %d of 6 output partitions", node, led, ledOut[node])
	kafkaSh(t, "node", "kill", fmt.Sprint(node))
	time.Sleep(5 * time.Second)
	if p.exited() {
		t.Fatalf("the pipeline exited when the leader died: %v", p.err)
	}
	kafkaSh(t, "node", "start", fmt.Sprint(node))
	runUntilCommitted(t, env, group, in, fed, p)
	faultReport(t, env, "kill -9 the partition leaders' broker, 3 nodes", 1, in, out, -1)
}

// leaders counts, per broker id, the partitions of topic it leads.
func leaders(t *testing.T, env kafkatest.Env, topic string) (map[int32]int32, map[int32]int) {
	t.Helper()
	client, err := sarama.NewClient(env.Brokers, kafkautil.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	parts, err := client.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	byPart, count := map[int32]int32{}, map[int32]int{}
	for _, p := range parts {
		b, err := client.Leader(topic, p)
		if err != nil {
			t.Fatal(err)
		}
		byPart[p] = b.ID()
		count[b.ID()]++
	}
	return byPart, count
}

// leaderOfMost is the broker leading the most partitions of topic.
func leaderOfMost(t *testing.T, env kafkatest.Env, topic string) (int32, int) {
	_, count := leaders(t, env, topic)
	best, n := int32(-1), -1
	for id, c := range count {
		if c > n || (c == n && id < best) {
			best, n = id, c
		}
	}
	return best, n
}

// Five kill -9s at random moments over 200,000 records, with a restart
// after each: nothing missing. With window = 1 a crash can replay at most
// the one batch per partition that was written but not yet committed, so
// duplicates stay within kills × partitions × batch_size; with the default
// window of 4, within window times that.
func TestFaultCrashLoop(t *testing.T) {
	env := faultBroker(t, "broker")
	parallelOnRealBroker(t, env)
	for _, tc := range []struct {
		name          string
		window, batch int
	}{{"window=1", 1, 1000}, {"defaults", 4, 1000}} {
		t.Run(tc.name, func(t *testing.T) {
			parallelOnRealBroker(t, env)
			crashLoop(t, env, 200000, 5, tc.window, tc.batch)
		})
	}
}

func crashLoop(t *testing.T, env kafkatest.Env, records, kills, window, batch int) {
	in, out, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("g")
	const parts = 3
	env.CreateTopic(t, in, parts)
	env.CreateTopic(t, out, parts)
	msgs, _ := events(records)
	fed := feed(t, env, in, msgs, time.Duration(kills)*8*time.Second)
	path := writePipeline(t, t.TempDir(), etl(env, in, out, group,
		fmt.Sprintf("max_messages = 0\nbatch_size = %d\nwindow = %d\nsession_timeout_ms = 6000", batch, window)))
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2)) //nolint:gosec
	for i := 0; i < kills; i++ {
		before := env.Committed(t, group, in)
		p := startConveyor(t, fmt.Sprintf("run-%d", i+1), path)
		if !waitProgress(t, env, group, in, before, 60*time.Second) {
			t.Fatalf("kill %d: the restarted pipeline made no progress", i+1)
		}
		time.Sleep(time.Duration(r.IntN(250)) * time.Millisecond) // while it catches up on the backlog
		p.kill()
		t.Logf("kill %d: committed %v", i+1, env.Committed(t, group, in))
	}
	runUntilCommitted(t, env, group, in, fed, startConveyor(t, "final", path))
	bound := kills * parts * window * batch
	faultReport(t, env, fmt.Sprintf("kill -9 the pipeline (window %d, batch_size %d)", window, batch), kills, in, out, bound)
}

// Three processes in one group over six partitions; one is killed and one
// added mid-stream. Nothing is missing, and no partition is ever processed
// by two members at once: ordered by processing time, a partition's records
// change hands only at a rebalance, never back and forth.
func TestIntegrationScaleOutIn(t *testing.T) {
	noRaceChaos(t)
	env := kafkatest.Start(t)
	parallelOnRealBroker(t, env)
	in, out, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("g")
	env.CreateTopic(t, in, 6)
	env.CreateTopic(t, out, 6)
	n := 120000
	if !env.Real {
		n = 60000 // the in-process broker shares the test's CPU with four race-instrumented processes
	}
	msgs, _ := events(n)
	fed := feed(t, env, in, spread(msgs, 6), 24*time.Second)
	text := strings.Replace(etl(env, in, out, group, "max_messages = 0\nsession_timeout_ms = 6000\nbatch_size = 500"),
		`inputs = ["filter"]`, `inputs = ["member"]`, 1) + `
[[stages]]
id = "member"
function = "test.member"
inputs = ["filter"]
[stages.config]
member = "${CONVEYOR_MEMBER}"
`
	path := writePipeline(t, t.TempDir(), text)
	a, b, c := startProc(t, "A", path), startProc(t, "B", path), startProc(t, "C", path)
	time.Sleep(8 * time.Second) // all three joined and working
	if !waitProgress(t, env, group, in, env.Committed(t, group, in), 60*time.Second) {
		t.Fatal("no progress with three members")
	}
	a.kill()
	t.Log("killed A (kill -9)")
	time.Sleep(4 * time.Second)
	d := startProc(t, "D", path)
	t.Log("started D")
	runUntilCommitted(t, env, group, in, fed, b, c, d)
	faultReport(t, env, "scale: 3 members, kill one, add one (6 partitions)", 1, in, out, -1)
	checkOwnership(t, env.ReadAll(t, out))
}

// checkOwnership fails if a partition's records, ordered by the time a
// member processed them, go back and forth between members more often than
// the rebalances in the test can explain.
func checkOwnership(t *testing.T, outputs []kafkatest.Msg) {
	t.Helper()
	type tagged struct {
		decoded
		Member string `json:"_member"`
		At     int64  `json:"_at"`
	}
	byPart := map[int32][]tagged{}
	for _, m := range outputs {
		var r tagged
		if err := json.Unmarshal(m.Value, &r); err != nil || r.Member == "" {
			t.Fatalf("output %s has no _member tag", m.Value)
		}
		byPart[r.KafkaPartition] = append(byPart[r.KafkaPartition], r)
	}
	for p := int32(0); p < 6; p++ {
		recs := byPart[p]
		sort.Slice(recs, func(i, j int) bool {
			if recs[i].At != recs[j].At {
				return recs[i].At < recs[j].At
			}
			return recs[i].KafkaOffset < recs[j].KafkaOffset
		})
		var history []string
		for i, r := range recs {
			if i == 0 || r.Member != recs[i-1].Member {
				history = append(history, fmt.Sprintf("%s@%d", r.Member, r.KafkaOffset))
			}
		}
		t.Logf("partition %d (%d records): %s", p, len(recs), strings.Join(history, " -> "))
		// Joins of A, B, C, the kill of A and the join of D: at most five
		// rebalances, so at most five hand-overs. Two members working one
		// partition at once would alternate at nearly every batch.
		if len(history) > 6 {
			t.Errorf("partition %d changed hands %d times: processed by two members at once?", p, len(history)-1)
		}
	}
}
