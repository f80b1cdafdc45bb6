package flow_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/connectors/kafka"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
	"github.com/conveyor-etl/conveyor/internal/kafkautil"
	"github.com/conveyor-etl/conveyor/internal/window/ordergen"
)

// A repartition under guarantee = "exactly-once" (issue 17): the writer's
// records and marks go into the run's transaction with the input offsets
// that caused them; the reader reads the repartition topic read_committed
// and its group's offsets commit in the same transaction as the stage's
// changelog and output. Each test reads the output as a read_committed
// consumer does and wants every window (or distinct record) exactly once.

// eosRepartitioned is windowPipeline under exactly-once, repartitioning
// (the orders are keyed by order id, counted by country).
func eosRepartitioned(env kafkatest.Env, in, out, dlq, group, instance, extra string) string {
	return fmt.Sprintf("[pipeline]\nname = %q\nguarantee = \"exactly-once\"\n", group) +
		windowPipeline(env, in, out, dlq, group, fmt.Sprintf("group_instance_id = %q\n%s", instance, extra))
}

// readerDrained reports whether group has committed topic (a transactional
// repartition topic) up to its end: what lies after each committed offset
// is only what a read_committed consumer is never handed (commit markers,
// aborted records).
func readerDrained(t *testing.T, env kafkatest.Env, group, topic string) bool {
	t.Helper()
	client, err := sarama.NewClient(env.Brokers, sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	committed := env.Committed(t, group, topic)
	for p, end := range env.EndOffsets(t, topic) {
		c, ok := committed[p]
		if !ok || c < 0 {
			c = 0
		}
		span, err := kafkautil.Deliverable(client, topic, p, c, end, sarama.ReadCommitted, true)
		if err != nil {
			t.Fatalf("%s/%d: %v", topic, p, err)
		}
		if span.Records > 0 || !span.Complete {
			return false
		}
	}
	return true
}

// writtenInTransactions checks that topic holds committed records and
// transaction markers among them.
func writtenInTransactions(t *testing.T, env kafkatest.Env, topic string) {
	t.Helper()
	records := len(readCommitted(t, env, topic))
	offsets := totalOf(env.EndOffsets(t, topic))
	if records == 0 || offsets <= int64(records) {
		t.Errorf("%s: %d committed records in %d offsets: not written in transactions", topic, records, offsets)
	}
}

// A backlog counted by country under exactly-once, through the repartition
// topic: the windows read read_committed are the reference's, each once;
// exactly the late orders are dead-lettered, once; both groups commit to
// the end, the reader's past the commit markers that end its topic (the
// bounded run ends, Drained).
func TestIntegrationExactlyOnceRepartitionWindows(t *testing.T) {
	env := kafkatest.Start(t)
	parallelOnRealBroker(t, env)
	cfg := ordergen.Config{Records: raceScaled(20000), Partitions: 6, Seed: 21, Size: 10000, Grace: 5000}
	evs := ordergen.Generate(cfg)
	exp := ordergen.Reference(evs, cfg.Size, cfg.Grace)
	in, out, dlq, group := kafkatest.Name("orders"), kafkatest.Name("windows"), kafkatest.Name("dlq"), kafkatest.Name("g")
	env.CreateTopic(t, in, 6)
	env.CreateTopic(t, out, 6)
	env.CreateTopic(t, dlq, 1)
	msgs := ordersByID(evs, 6)
	env.Produce(t, in, msgs)
	sum := runFile(t, writePipeline(t, t.TempDir(), eosRepartitioned(env, in, out, dlq, group, "solo",
		"batch_size = 200\nuntil = \"end\"\ntimeout_ms = 60000")))

	windows := readCommitted(t, env, out)
	if len(windows) != len(exp.Windows) {
		t.Errorf("%d window records read_committed, want each of the %d windows once", len(windows), len(exp.Windows))
	}
	checkWindows(t, env, out, exp, false)
	checkLate(t, env, dlq, exp)
	if letters := len(readCommitted(t, env, dlq)); letters != len(exp.Late) {
		t.Errorf("%d dead letters read_committed, want the %d late orders once each", letters, len(exp.Late))
	}
	if sum.In != int64(len(msgs)) {
		t.Errorf("summary: in=%d, want the %d records of the source topic", sum.In, len(msgs))
	}
	rp := kafka.RepartitionTopic(group, "count")
	assertCommittedToEnd(t, env, group, in)
	if !readerDrained(t, env, rp, rp) {
		t.Errorf("the reader's group %s did not commit its topic to the end: committed %v, end %v", rp, env.Committed(t, rp, rp), env.EndOffsets(t, rp))
	}
	writtenInTransactions(t, env, rp)
	writtenInTransactions(t, env, kafka.ChangelogTopic(group, "count"))
}

// dedupe.apply repartitions by its key under exactly-once: copies written
// to another partition than their original still meet in one lane, and
// read_committed exactly the distinct orders come out, each once.
func TestIntegrationExactlyOnceDedupeRepartitions(t *testing.T) {
	env := kafkatest.Start(t)
	distinct := raceScaled(3000)
	var msgs []kafkatest.Msg
	for i := range distinct {
		v := fmt.Appendf(nil, `{"order_id":"o-%d","ts":%d}`, i, 1_700_000_000_000+int64(i))
		msgs = append(msgs, kafkatest.Msg{Partition: int32(i % 3), Value: v})
		if i%5 == 0 { // a copy in the next partition
			msgs = append(msgs, kafkatest.Msg{Partition: int32((i + 1) % 3), Value: v})
		}
	}
	in, out, group := kafkatest.Name("orders"), kafkatest.Name("distinct"), kafkatest.Name("g")
	env.CreateTopic(t, in, 3)
	env.CreateTopic(t, out, 3)
	env.Produce(t, in, msgs)
	runFile(t, writePipeline(t, t.TempDir(), eosDedupe(env, in, out, group, "solo", "until = \"end\"\ntimeout_ms = 60000")))
	seen, dups := distinctOut(t, env, out)
	if len(seen) != distinct || dups != 0 {
		t.Errorf("%d distinct orders out read_committed, %d repeated; want %d, none repeated", len(seen), dups, distinct)
	}
	rp := kafka.RepartitionTopic(group, "dedupe")
	assertCommittedToEnd(t, env, group, in)
	if !readerDrained(t, env, rp, rp) {
		t.Errorf("the reader's group %s did not commit its topic to the end", rp)
	}
	writtenInTransactions(t, env, rp)
}

// eosDedupe is kafka → dedupe.apply (repartitioning by order_id) → kafka
// under exactly-once.
func eosDedupe(env kafkatest.Env, in, out, group, instance, extra string) string {
	return fmt.Sprintf(`
[pipeline]
name = %[3]q
guarantee = "exactly-once"

[[stages]]
id = "orders"
function = "kafka"
[stages.config]
brokers = %[1]q
topic = %[2]q
group_id = %[3]q
group_instance_id = %[5]q
session_timeout_ms = 6000
batch_size = 100
%[6]s

[[stages]]
id = "dedupe"
function = "dedupe.apply"
inputs = ["orders"]
[stages.config]
key = "order_id"
time_field = "ts"
ttl_ms = 86400000

[[stages]]
id = "produce"
function = "kafka"
inputs = ["dedupe"]
[stages.config]
brokers = %[1]q
topic = %[4]q
`, env.BrokerList(), in, group, out, instance, extra)
}

// distinctOut counts the order ids written to out, read_committed, and
// how many of the records repeat one.
func distinctOut(t *testing.T, env kafkatest.Env, out string) (map[string]int, int) {
	t.Helper()
	seen, dups := map[string]int{}, 0
	for _, m := range readCommitted(t, env, out) {
		var o struct {
			OrderID string `json:"order_id"`
		}
		if err := json.Unmarshal(m.Value, &o); err != nil {
			t.Fatal(err)
		}
		if seen[o.OrderID]++; seen[o.OrderID] > 1 {
			dups++
		}
	}
	return seen, dups
}

// Must show (issue 17, with a repartition): kill -9 the pipeline several
// times at random moments while it counts orders keyed by order id by
// country under exactly-once (so through the repartition topic), then let
// a last instance finish: read_committed, every window equals the
// reference, none is written twice, none is missing, and the late orders
// are dead-lettered exactly once each. REPART_RECORDS and REPART_KILLS
// size it (defaults 12,000 and 4).
func TestFaultExactlyOnceRepartitionKill9(t *testing.T) {
	noRaceChaos(t)
	env := kafkatest.Start(t)
	parallelOnRealBroker(t, env)
	kills := envInt("REPART_KILLS", 4)
	w := windowRun{in: kafkatest.Name("orders"), out: kafkatest.Name("windows"), dlq: kafkatest.Name("dlq"), group: kafkatest.Name("g"), orders: envInt("REPART_RECORDS", 12000)}
	env.CreateTopic(t, w.in, 6)
	env.CreateTopic(t, w.out, 6)
	env.CreateTopic(t, w.dlq, 1)
	cfg := ordergen.Config{Records: w.orders, Partitions: 6, Seed: 24, Size: 10000, Grace: 5000}
	evs := ordergen.Generate(cfg)
	w.exp = ordergen.Reference(evs, cfg.Size, cfg.Grace)
	w.fed = feedInOrder(t, env, w.in, ordersByID(evs, 6), time.Second)
	path := writePipeline(t, t.TempDir(), eosRepartitioned(env, w.in, w.out, w.dlq, w.group, "solo", "max_messages = 0\nsession_timeout_ms = 6000\nbatch_size = 25"))
	done := killLoop(t, env, path, w.group, w.in, w.fed, kills)
	finishRepartitioned(t, env, w, path)
	windowsReport(t, env, "kill -9 during window.aggregate through a repartition (exactly-once, 6 partitions)", done, w, true)
	if got := len(readCommitted(t, env, w.out)); got != len(w.exp.Windows) {
		t.Errorf("%d window records read_committed, want each of the %d windows once", got, len(w.exp.Windows))
	}
	changelogHolds(t, env, w.group, "count")
	writtenInTransactions(t, env, kafka.RepartitionTopic(w.group, "count"))
}

// finishRepartitioned runs a last instance of path until the source's
// group committed the whole input and the reader's group its repartition
// topic, then stops it with SIGTERM.
func finishRepartitioned(t *testing.T, env kafkatest.Env, w windowRun, path string) {
	t.Helper()
	<-w.fed
	p := startProc(t, "final", path)
	rp := kafka.RepartitionTopic(w.group, "count")
	deadline := time.Now().Add(3 * time.Minute)
	for !committedToEnd(t, env, w.group, w.in) || !readerDrained(t, env, rp, rp) {
		if p.exited() {
			t.Fatalf("the last instance exited before the input was done: %v", p.err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the input and the repartition topic were not committed in 3 minutes: source %v of %v, reader %v of %v",
				env.Committed(t, w.group, w.in), env.EndOffsets(t, w.in), env.Committed(t, rp, rp), env.EndOffsets(t, rp))
		}
		time.Sleep(250 * time.Millisecond)
	}
	took, err := p.stop(60 * time.Second)
	if err != nil {
		t.Errorf("final: SIGTERM: %v, want exit 0", err)
	}
	t.Logf("final stopped %s after SIGTERM", took.Round(time.Millisecond))
}
