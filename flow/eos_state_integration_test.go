package flow_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/connectors/kafka"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
	"github.com/conveyor-etl/conveyor/internal/kafkautil"
	"github.com/conveyor-etl/conveyor/internal/window/ordergen"
)

// The exactly-once state tests (issue 17's must-shows) run stateful
// stages under guarantee = "exactly-once" in child processes killed with
// kill -9, and read the output as a read_committed consumer does: every
// window equal to the reference, none twice; every distinct record once.
// They run on the embedded broker by default and on real Kafka with
// KAFKA_BROKERS; STATE_RECORDS, STATE_KILLS, DEDUPE_RECORDS and
// DEDUPE_KILLS size them (defaults 30,000, 5, 20,000 and 3; the issue's
// dedupe figure is DEDUPE_RECORDS=1000000). They skip under -race (see
// noRaceChaos).

// eosWindows is windowPipeline under exactly-once; instance is the
// group_instance_id ("${CONVEYOR_MEMBER}": the process's name).
func eosWindows(env kafkatest.Env, w windowRun, instance, extra string) string {
	return fmt.Sprintf("[pipeline]\nname = %q\nguarantee = \"exactly-once\"\n", w.group) +
		unrepartitioned(windowPipeline(env, w.in, w.out, w.dlq, w.group, fmt.Sprintf("group_instance_id = %q\nmax_messages = 0\nsession_timeout_ms = 6000\n%s", instance, extra)))
}

// unrepartitioned makes windowPipeline's stage count each input partition's
// windows where they are (repartition = "never"; checkWindows adds them up):
// these tests are about state across crashes (the repartitioned run is
// TestFaultExactlyOnceRepartitionKill9). The streaming run's end is the
// source's commits, which a repartition would leave ahead of the windows.
func unrepartitioned(pipeline string) string {
	return strings.Replace(pipeline, "group_by = [\"country\"]\n", "group_by = [\"country\"]\nrepartition = \"never\"\n", 1)
}

// windowRun is a windowed run's topics (6 partitions), group, expected
// windows and the feed of its orders.
type windowRun struct {
	in, out, dlq, group string
	orders              int
	exp                 ordergen.Expected
	fed                 <-chan struct{}
}

// newWindowRun generates records orders (seed) and feeds them, each
// partition in order, in 20 chunks over feedFor, closing every window at
// the end (see produceOrders).
func newWindowRun(t *testing.T, env kafkatest.Env, records int, seed uint64, feedFor time.Duration) windowRun {
	t.Helper()
	w := windowRun{in: kafkatest.Name("orders"), out: kafkatest.Name("windows"), dlq: kafkatest.Name("dlq"), group: kafkatest.Name("g"), orders: records}
	env.CreateTopic(t, w.in, 6)
	env.CreateTopic(t, w.out, 6)
	env.CreateTopic(t, w.dlq, 1)
	cfg := ordergen.Config{Records: records, Partitions: 6, Seed: seed, Size: 10000, Grace: 5000}
	evs := ordergen.Generate(cfg)
	w.exp = ordergen.Reference(evs, cfg.Size, cfg.Grace)
	w.fed = feedInOrder(t, env, w.in, orderMsgs(evs, 6), feedFor)
	return w
}

// feedInOrder produces msgs in 20 chunks over d, in the background; unlike
// feed it never retries a chunk (a chunk written twice would change what
// the reference expects): the broker stays up in these tests.
func feedInOrder(t *testing.T, env kafkatest.Env, topic string, msgs []kafkatest.Msg, d time.Duration) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		const chunks = 20
		step := (len(msgs) + chunks - 1) / chunks
		for i := 0; i < len(msgs); i += step {
			if err := kafkautil.Produce(env.Brokers, topic, msgs[i:min(i+step, len(msgs))]); err != nil {
				t.Errorf("feeding %s: %v", topic, err)
				return
			}
			time.Sleep(d / chunks)
		}
	}()
	return done
}

// windowsReport checks the windows (read_committed) against the reference
// and the dead letters against the late orders, and logs a row of the
// fault table. Exactly-once allows no repeat.
func windowsReport(t *testing.T, env kafkatest.Env, fault string, times int, w windowRun, exactlyOnce bool) {
	t.Helper()
	if exactlyOnce { // a killed instance's open transaction holds read_committed readers until it times out
		for _, topic := range []string{w.out, w.dlq} {
			if waited := env.WaitStable(t, topic, 90*time.Second); waited > time.Second {
				t.Logf("topic %s: waited %s for open transactions to end before reading it", topic, waited.Round(time.Millisecond))
			}
		}
	}
	dups, wrong := checkWindows(t, env, w.out, w.exp, !exactlyOnce)
	late := lateIDs(t, env, w.dlq, !exactlyOnce)
	letters := len(readCommitted(t, env, w.dlq))
	missingLate := 0
	for id := range w.exp.Late {
		if !late[id] {
			missingLate++
		}
	}
	allowed := "0"
	if !exactlyOnce {
		allowed = "any identical"
	}
	t.Logf("FAULT-TABLE | %s | %d | in %d orders (%d windows, %d late) | windows wrong or missing %d, dead letters missing %d | windows repeated %d, dead letters repeated %d (allowed %s)",
		fault, times, w.orders, len(w.exp.Windows), len(w.exp.Late), wrong, missingLate, dups, letters-len(late), allowed)
	if missingLate > 0 || len(late) != len(w.exp.Late) {
		t.Errorf("%d orders dead-lettered, want the %d late (%d of them missing)", len(late), len(w.exp.Late), missingLate)
	}
	if exactlyOnce && letters != len(late) {
		t.Errorf("%d dead letters for %d late orders: repeated under exactly-once", letters, len(late))
	}
}

// killLoop starts path in a child process kills times, each time waiting
// until the group committed the next share of the input (the i-th kill
// after i/(kills+1) of it, so that each restart restores more state), then
// killing it (kill -9) at a random moment; it returns the kills done
// (fewer when the whole input was committed first).
func killLoop(t *testing.T, env kafkatest.Env, path, group, in string, fed <-chan struct{}, kills int) int {
	t.Helper()
	<-fed
	total := totalOf(env.EndOffsets(t, in))
	rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 17)) //nolint:gosec
	for done := range kills {
		if committedToEnd(t, env, group, in) {
			t.Logf("the whole input is committed after %d kills: no backlog left for the other %d", done, kills-done)
			return done
		}
		name := fmt.Sprintf("run-%d", done+1)
		p := startProc(t, name, path)
		target := total * int64(done+1) / int64(kills+1)
		deadline := time.Now().Add(3 * time.Minute)
		for totalOf(env.Committed(t, group, in)) < target {
			if p.exited() || time.Now().After(deadline) {
				t.Fatalf("kill %d: %s did not commit %d of the %d records of %s (committed %v, exited: %v)", done+1, name, target, total, in, env.Committed(t, group, in), p.exited())
			}
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(time.Duration(rnd.IntN(400)) * time.Millisecond)
		p.kill()
		t.Logf("kill -9 #%d: committed %v", done+1, env.Committed(t, group, in))
	}
	return kills
}

func totalOf(offsets map[int32]int64) (n int64) {
	for _, o := range offsets {
		n += o
	}
	return n
}

// finish runs a last instance of path until the group committed the whole
// input, then stops it with SIGTERM. It gives the process a second to set
// up its signal handling first: the input may be committed already.
func finish(t *testing.T, env kafkatest.Env, group, in string, fed <-chan struct{}, path string) {
	t.Helper()
	p := startProc(t, "final", path)
	time.Sleep(time.Second)
	runUntilCommitted(t, env, group, in, fed, p)
}

// Must show (issue 17): kill -9 five times during the windowed run with
// guarantee = "exactly-once", then let a last instance finish: read
// read_committed, every window equals the reference, none is written
// twice, and the late orders are dead-lettered exactly once each.
func TestFaultExactlyOnceWindowsKill9(t *testing.T) {
	noRaceChaos(t)
	env := kafkatest.Start(t)
	parallelOnRealBroker(t, env)
	kills := envInt("STATE_KILLS", 5)
	w := newWindowRun(t, env, envInt("STATE_RECORDS", 30000), 21, time.Second)
	path := writePipeline(t, t.TempDir(), eosWindows(env, w, "solo", "batch_size = 25"))
	done := killLoop(t, env, path, w.group, w.in, w.fed, kills)
	finish(t, env, w.group, w.in, w.fed, path)
	windowsReport(t, env, "kill -9 during window.aggregate (exactly-once, 6 partitions)", done, w, true)
	changelogHolds(t, env, w.group, "count")
}

// The same run at-least-once, for the fault table: what a crash repeats
// is a window whose output was durable before its state change reached
// the changelog (the same record again), and the dead letters of the
// batches read again; no window is missing or miscounted.
func TestFaultAtLeastOnceWindowsKill9(t *testing.T) {
	noRaceChaos(t)
	env := kafkatest.Start(t)
	parallelOnRealBroker(t, env)
	kills := envInt("STATE_KILLS", 5)
	// at-least-once runs about twice as fast: twice the orders, so that
	// every kill lands in a backlog
	w := newWindowRun(t, env, 2*envInt("STATE_RECORDS", 30000), 21, time.Second)
	path := writePipeline(t, t.TempDir(), unrepartitioned(windowPipeline(env, w.in, w.out, w.dlq, w.group,
		fmt.Sprintf("group_instance_id = %q\nmax_messages = 0\nsession_timeout_ms = 6000\nbatch_size = 25", w.group+"-1"))))
	done := killLoop(t, env, path, w.group, w.in, w.fed, kills)
	finish(t, env, w.group, w.in, w.fed, path)
	windowsReport(t, env, "kill -9 during window.aggregate (at-least-once, 6 partitions)", done, w, false)
}

// Must show (issue 17): three instances share the group; one is killed
// (kill -9) and one added while orders keep coming. The dead instance's
// partitions, and then some of everyone's, move: their state is restored
// from the changelog by the new owner, and every window is still exact.
func TestFaultExactlyOnceWindowsScale(t *testing.T) {
	noRaceChaos(t)
	// sequential: in CI run 02:36 it lost 89 of 101 dead letters when run
	// alongside the other parallel fault tests (alone it passes); see
	// the h-ci report
	env := kafkatest.Start(t)
	w := newWindowRun(t, env, envInt("STATE_RECORDS", 30000), 22, 25*time.Second)
	path := writePipeline(t, t.TempDir(), eosWindows(env, w, "${CONVEYOR_MEMBER}", "batch_size = 50"))
	a, b, c := startProc(t, "a", path), startProc(t, "b", path), startProc(t, "c", path)
	w.progress(t, env, "with three instances")
	time.Sleep(2 * time.Second)
	b.kill()
	t.Logf("kill -9 b: committed %v", env.Committed(t, w.group, w.in))
	env.WaitStable(t, w.dlq, 0) // logs when b's open transaction holds the dead letters back
	w.progress(t, env, "after b was killed")
	d := startProc(t, "d", path)
	w.progress(t, env, "after d was added")
	t.Logf("d added: committed %v", env.Committed(t, w.group, w.in))
	runUntilCommitted(t, env, w.group, w.in, w.fed, a, c, d)
	windowsReport(t, env, "3 instances, kill -9 one, add one (exactly-once)", 1, w, true)
	changelogHolds(t, env, w.group, "count")
}

// progress waits up to a minute for the group to commit more of the input.
func (w windowRun) progress(t *testing.T, env kafkatest.Env, what string) {
	t.Helper()
	if !waitProgress(t, env, w.group, w.in, env.Committed(t, w.group, w.in), 60*time.Second) {
		t.Fatalf("no progress %s", what)
	}
}

// changelogHolds checks that stage's changelog was written in
// transactions: committed changes, and transaction markers among them.
func changelogHolds(t *testing.T, env kafkatest.Env, group, stage string) {
	t.Helper()
	topic := kafka.ChangelogTopic(group, stage)
	changes := len(readCommitted(t, env, topic))
	offsets := totalOf(env.EndOffsets(t, topic))
	t.Logf("changelog %s: %d committed changes, %d offsets", topic, changes, offsets)
	if changes == 0 || offsets <= int64(changes) {
		t.Errorf("changelog %s: %d committed changes in %d offsets: not written in transactions", topic, changes, offsets)
	}
}

// Must show (issue 17): dedupe.apply over records with 10 % duplicates
// (each a copy of an earlier record of its partition), across a kill -9,
// with exactly-once: read_committed, exactly the distinct records come out,
// each once.
func TestFaultExactlyOnceDedupeKill9(t *testing.T) {
	noRaceChaos(t)
	env := kafkatest.Start(t)
	parallelOnRealBroker(t, env)
	in, out, group := kafkatest.Name("orders"), kafkatest.Name("distinct"), kafkatest.Name("g")
	env.CreateTopic(t, in, 3)
	env.CreateTopic(t, out, 3)
	records := envInt("DEDUPE_RECORDS", 20000)
	msgs, distinct := withDuplicates(records, 3)
	fed := feedInOrder(t, env, in, msgs, time.Second)
	path := writePipeline(t, t.TempDir(), fmt.Sprintf(`
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
group_instance_id = "solo"
max_messages = 0
session_timeout_ms = 6000
batch_size = 100

[[stages]]
id = "dedupe"
function = "dedupe.apply"
inputs = ["orders"]
[stages.config]
key = "order_id"
time_field = "ts"
ttl_ms = 86400000
repartition = "never" # a copy is fed to its original's partition (TestIntegrationExactlyOnceDedupeRepartitions repartitions)

[[stages]]
id = "produce"
function = "kafka"
inputs = ["dedupe"]
[stages.config]
brokers = %[1]q
topic = %[4]q
`, env.BrokerList(), in, group, out))
	done := killLoop(t, env, path, group, in, fed, envInt("DEDUPE_KILLS", 3))
	finish(t, env, group, in, fed, path)
	seen := map[string]int{}
	dups := 0
	outputs := readCommitted(t, env, out)
	for _, m := range outputs {
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
	missing := distinct - len(seen)
	t.Logf("FAULT-TABLE | kill -9 during dedupe.apply (exactly-once, 3 partitions) | %d | in %d (%d distinct, %d duplicates) | out %d (read_committed) | missing %d | duplicates %d (allowed 0)",
		done, len(msgs), distinct, len(msgs)-distinct, len(outputs), missing, dups)
	if missing != 0 || dups != 0 || len(outputs) != distinct {
		t.Errorf("exactly-once dedupe broken: %d out, want the %d distinct (%d missing, %d repeated)", len(outputs), distinct, missing, dups)
	}
	changelogHolds(t, env, group, "dedupe")
}

// withDuplicates makes n order records on parts partitions, about 10 % of
// them a copy of an earlier record of the same partition, with rising
// event times; it returns them and the number of distinct orders.
func withDuplicates(n, parts int) ([]kafkatest.Msg, int) {
	r := rand.New(rand.NewPCG(23, 23))
	msgs := make([]kafkatest.Msg, 0, n)
	byPart := make([][]int, parts) // indexes of each partition's originals
	distinct := 0
	for i := range n {
		p := i % parts
		if len(byPart[p]) > 0 && r.IntN(10) == 0 {
			msgs = append(msgs, msgs[byPart[p][r.IntN(len(byPart[p]))]])
			continue
		}
		id := fmt.Sprintf("o-%08d", distinct)
		distinct++
		byPart[p] = append(byPart[p], len(msgs))
		msgs = append(msgs, kafkatest.Msg{Partition: int32(p), Key: []byte(id), Value: fmt.Appendf(nil, `{"order_id":%q,"ts":%d}`, id, 1_700_000_000_000+int64(i))})
	}
	return msgs, distinct
}
